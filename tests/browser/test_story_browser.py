"""In Chromium: a request's story: the timeline names the operator who killed it, the log
tails live without a reload, the re-run form lands on the child with its parent link."""
import json
import re

import pytest
import requests

from tests.support.browser import browser_sign_in
from tests.support.db import wait_status

pytestmark = pytest.mark.browser


@pytest.fixture
def operator_page(page, live_server, make_user):
    """A page signed in as a new operator, failing the test on any page error or CSP violation:
    (page, username, API token)."""
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    username, password, token = make_user("operator")
    browser_sign_in(page, live_server, username, password)
    yield page, username, token
    assert errors == []


def api_submit(live_server, token, params):
    response = requests.post(f"{live_server}/api/requests", timeout=10,
                             headers={"Authorization": f"Bearer {token}"},
                             data={"job_type": "simulate", "params": json.dumps(params)})
    assert response.status_code == 201, response.text
    return response.json()["id"]


def test_timeline_of_a_killed_request_names_the_operator(app, live_server, stack, operator_page):
    page, username, token = operator_page
    request_id = api_submit(live_server, token, {"hang": True})
    wait_status(app, request_id, "running", timeout=60)
    page.goto(f"{live_server}/requests/{request_id}")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#request-detail [data-action=kill]")
    page.wait_for_selector('#request-detail[data-status="killed"]', timeout=30_000)
    killed = page.locator('#timeline li[data-kind="killed"]')
    killed.wait_for(timeout=10_000)
    assert f"killed by {username}" in killed.inner_text()
    kinds = page.eval_on_selector_all("#timeline li", "els => els.map(e => e.dataset.kind)")
    assert kinds.index("submitted") < kinds.index("started") < kinds.index("killed")


def test_a_running_jobs_log_lines_appear_without_a_reload(app, live_server, stack, operator_page):
    page, _, token = operator_page
    request_id = api_submit(live_server, token, {"min_seconds": 5, "max_seconds": 5})
    wait_status(app, request_id, "running", timeout=60)
    page.goto(f"{live_server}/requests/{request_id}")
    page.evaluate("window.__marker = 1")
    page.wait_for_selector("#log-lines .log-line >> text=slept 3 s of 5.00", timeout=20_000)
    assert page.evaluate("window.__marker") == 1, "the page was reloaded"
    page.wait_for_selector('#request-detail[data-status="success"]', timeout=30_000)
    page.wait_for_selector("#log-lines .log-line >> text=done after 5.00 s", timeout=10_000)
    page.wait_for_selector("#log-tail >> text=end of log", timeout=10_000)
    messages = page.eval_on_selector_all("#log-lines .log-message",
                                         "els => els.map(e => e.textContent)")
    assert len(messages) == len(set(messages)), "a line was sent twice"
    assert page.evaluate("window.__marker") == 1
    page.select_option("#log-controls select[name=level]", "WARNING")
    page.wait_for_selector("#log-tail >> text=no log lines", timeout=10_000)
    assert page.locator("#log-lines .log-line").count() == 0


def test_rerun_form_lands_on_the_child_with_its_parent_link(app, live_server, stack,
                                                              operator_page):
    page, _, token = operator_page
    parent = api_submit(live_server, token, {"min_seconds": 0, "max_seconds": 0.2})
    wait_status(app, parent, "success", timeout=60)
    page.goto(f"{live_server}/requests/{parent}")
    page.click("#rerun-link")
    page.wait_for_url(f"{live_server}/requests/{parent}/rerun")
    assert json.loads(page.input_value("#params"))["max_seconds"] == 0.2
    page.fill("#params", json.dumps({"min_seconds": 0.1, "max_seconds": 0.3}))
    page.click("#rerun-form button[type=submit]")
    page.wait_for_url(re.compile(re.escape(live_server) + r"/requests/\d+$"))
    child = int(page.url.rsplit("/", 1)[1])
    assert child != parent
    assert page.get_attribute("#parent-link", "href") == f"/requests/{parent}"
    changed = page.eval_on_selector_all("#params-changed tr[data-param]",
                                        "rows => rows.map(r => [r.dataset.param,"
                                        " r.cells[1].textContent, r.cells[2].textContent])")
    assert changed == [["max_seconds", "0.2", "0.3"], ["min_seconds", "0", "0.1"]]
    page.goto(f"{live_server}/requests/{parent}")
    assert page.locator("#reruns").inner_text().startswith(f"#{child}")
