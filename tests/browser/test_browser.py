"""In Chromium: sign in, submit through the form, watch the request finish without a reload.

The live server is gunicorn on the test database with the real dispatcher and
workers behind it. Every page also records console errors and CSP violations;
a test fails if there are any.
"""
import json
import re

import pytest
import requests

from tests.support.browser import Watch, browser_sign_in

pytestmark = pytest.mark.browser


@pytest.fixture
def watched(page):
    """The page, watched; the test fails on any unexpected error or CSP violation."""
    watch = Watch(page)
    yield watch
    assert watch.unexpected() == []
    assert watch.csp_violations() == []


def signed_in_page(watched, live_server, make_user, role):
    """The watched page, signed in through the form as a new user with `role`:
    (page, username, password, API token)."""
    username, password, token = make_user(role)
    browser_sign_in(watched.page, live_server, username, password)
    return watched.page, username, password, token


def test_submit_through_the_form_and_watch_it_succeed(live_server, stack, make_user, watched):
    """The form submits, the request page then reaches `success` by polling, same page object."""
    page, _, _, _ = signed_in_page(watched, live_server, make_user, "operator")

    page.click("nav >> text=New request")
    page.wait_for_url(f"{live_server}/requests/new")
    page.select_option("select[name=job_type]", "simulate")
    page.click("#new-request details.advanced summary")  # the raw JSON box
    page.fill("textarea[name=params]", json.dumps({"min_seconds": 1, "max_seconds": 2}))
    page.click("#new-request button[type=submit]")
    page.wait_for_url(re.compile(re.escape(live_server) + r"/requests/\d+$"))
    request_id = int(page.url.rsplit("/", 1)[1])
    assert page.locator(".notice").first.inner_text() == f"Request #{request_id} submitted."
    first_status = page.get_attribute("#request-detail", "data-status")
    assert first_status in ("unassigned", "pending", "running")
    page.evaluate("window.__marker = 1")

    page.wait_for_selector('#request-detail[data-status="success"]', timeout=60_000)
    assert page.evaluate("window.__marker") == 1, "the page was reloaded"
    assert page.locator("#request-detail h1 .badge").inner_text() == "success"
    assert page.locator("#request-detail progress").get_attribute("value") == "100"
    assert "slept_seconds" in page.locator("#result-table").inner_text()  # key/value table
    assert page.locator('#request-detail tr[data-attempt="1"]').get_attribute(
        "data-status") == "success"
    assert page.evaluate("window.__statuses")[-1] == "success"
    assert watched.csp_violations() == []


def test_list_shows_a_new_request_and_its_success(live_server, stack, make_user, watched):
    """On the open list, a request submitted elsewhere appears and turns `success` by itself."""
    page, _, _, token = signed_in_page(watched, live_server, make_user, "operator")
    page.wait_for_selector("section#requests")
    page.evaluate("window.__marker = 1")

    response = requests.post(f"{live_server}/api/requests", timeout=10,
                             headers={"Authorization": f"Bearer {token}"},
                             data={"job_type": "simulate",
                                   "params": json.dumps({"min_seconds": 1, "max_seconds": 2})})
    assert response.status_code == 201, response.text
    request_id = response.json()["id"]

    row = f'section#requests tr[data-id="{request_id}"]'
    page.wait_for_selector(row, timeout=30_000)
    page.wait_for_selector(f'{row}[data-status="success"]', timeout=60_000)
    assert page.evaluate("window.__marker") == 1, "the page was reloaded"
    assert page.locator(f"{row} .badge").inner_text() == "success"
    assert page.locator('[data-count="success"] b').inner_text() == "1"
    assert watched.csp_violations() == []


def test_form_refuses_bad_parameters_and_keeps_the_input(live_server, stack, make_user, watched):
    """A bad parameter answers with a message naming the field; the typed input is kept."""
    page, _, _, _ = signed_in_page(watched, live_server, make_user, "operator")
    page.goto(f"{live_server}/requests/new")
    bad = '{"min_seconds": 5, "max_seconds": 1}'
    page.click("#new-request details.advanced summary")  # the raw JSON box
    page.fill("textarea[name=params]", bad)
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.click("#new-request button[type=submit]")
    assert answer.value.status == 422
    watched.expect("422")  # Chromium logs the refused form's document as a failed load
    assert page.url == f"{live_server}/requests/new"
    assert page.locator("#form-error").inner_text().startswith("params.min_seconds")
    assert page.input_value("textarea[name=params]") == bad
    assert watched.csp_violations() == []


def test_polling_page_goes_to_sign_in_when_the_session_ends(live_server, stack, make_user,
                                                           watched):
    """When the session is gone, the next poll takes the whole tab to the sign-in page."""
    page, username, password, _ = signed_in_page(watched, live_server, make_user, "viewer")
    page.goto(f"{live_server}/?status=running")
    watched.expect("401")  # the poll's own answer, carrying the HX-Redirect
    page.context.clear_cookies()
    page.wait_for_url(re.compile(re.escape(live_server) + r"/login\?next="), timeout=30_000)
    assert page.locator("section#requests").count() == 0
    assert page.locator("input[name=username]").count() == 1
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server}/?status=running")

