"""In Chromium: the list's filters narrow it and survive a reload through the URL; the
sort orders it; a poll merges only the row that changed (other rows keep their DOM
nodes), highlights it, and keeps the selection and the scroll position; the page says
when the web server is stopped and when it is back."""
import signal
from datetime import datetime, timedelta, timezone
from urllib.parse import urlencode

import pytest

from deploy.stack import answers, web_argv
from tests.support.browser import browser_sign_in
from tests.support.db import sql
from tests.support.list_seed import NEWEST_FIRST, seed_filter_rows, seed_many
from tests.support.procs import Proc, free_port, wait_for

pytestmark = pytest.mark.browser


def shown(page, rows):
    """The seeded rows the list shows, by name, top to bottom."""
    by_id = {str(v): k for k, v in rows.items()}
    return [by_id[i] for i in page.eval_on_selector_all(
        "#requests tbody tr[data-id]", "trs => trs.map(tr => tr.dataset.id)")]


def test_each_filter_narrows_the_list_and_survives_a_reload(app, page, live_server,
                                                             make_user, clean_db):
    rows = seed_filter_rows(app)
    username, password, _ = make_user("viewer")
    browser_sign_in(page, live_server, username, password)
    assert shown(page, rows) == NEWEST_FIRST

    # Through the form, by keyboard: the worker field offers recent workers.
    assert page.eval_on_selector_all("#recent-workers option", "os => os.map(o => o.value)") \
        == ["worker1@host-a", "worker2@host-b"]
    page.get_by_label("Worker").fill("worker2@host-b")
    page.get_by_label("Worker").press("Enter")
    page.wait_for_url("**worker=worker2%40host-b**")
    assert shown(page, rows) == ["long_success", "shape_failure"]
    page.reload()
    assert shown(page, rows) == ["long_success", "shape_failure"]
    assert page.get_by_label("Worker").input_value() == "worker2@host-b"

    now = datetime.now(timezone.utc)
    day_ago = (now - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S")
    twenty_min_ago = (now - timedelta(minutes=20)).strftime("%Y-%m-%dT%H:%M:%S")
    cases = [
        ({"submitted_by": "alice"}, ["long_success", "disk_failure", "old_success"]),
        ({"created_after": day_ago, "created_before": twenty_min_ago},
         ["timeout", "shape_failure", "disk_failure"]),
        ({"error": "BAD SHAPE"}, ["shape_failure"]),
        ({"sort": "oldest"}, list(reversed(NEWEST_FIRST))),
        ({"sort": "longest"}, ["long_success", "timeout", "old_success", "disk_failure",
                               "shape_failure"]),
    ]
    for args, expected in cases:
        page.goto(f"{live_server}/?{urlencode(args)}")
        assert shown(page, rows) == expected, args
        page.reload()
        assert shown(page, rows) == expected, f"{args} after a reload"
        for name, value in args.items():
            field = page.locator(f"form[data-filters] [name={name}]")
            assert field.input_value() == value, name

    # The form keeps the sort with a filter; "Clear filters" goes back to everything.
    page.get_by_label("Submitted by").fill("bob")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**submitted_by=bob**sort=longest**")
    assert shown(page, rows) == ["shape_failure"]  # bob's running request has no duration
    page.get_by_role("link", name="Clear filters").click()
    page.wait_for_url(f"{live_server}/")
    assert shown(page, rows) == NEWEST_FIRST


def test_a_bad_filter_value_is_refused_on_the_page(app, page, live_server, make_user,
                                                   clean_db):
    seed_filter_rows(app)
    username, password, _ = make_user("viewer")
    browser_sign_in(page, live_server, username, password)
    answer = page.goto(f"{live_server}/?created_after=last+tuesday")
    assert answer.status == 422
    notice = page.locator("#requests p.notice.error")
    assert "created_after: not a date and time 'last tuesday'" in notice.inner_text()
    assert page.locator("#requests tbody tr[data-id]").count() == 0
    assert page.get_by_role("link", name="Clear filters").is_visible()


MARK = "() => document.querySelectorAll('#requests tbody tr').forEach(tr => tr._kept = true)"
KEPT = """() => [...document.querySelectorAll('#requests tbody tr')]
  .filter(tr => !tr._kept).map(tr => tr.dataset.id)"""


def test_a_poll_updates_only_the_row_that_changed(app, page, live_server, make_user, clean_db):
    older = seed_many(app, 30)
    [running] = seed_many(app, 1, status="running")
    newer = seed_many(app, 19)
    username, password, _ = make_user("operator")
    browser_sign_in(page, live_server, username, password)
    row = page.locator(f'#requests tr[data-id="{running}"]')
    assert row.get_attribute("data-status") == "running"
    page.evaluate(MARK)
    page.evaluate("() => { document.getElementById('requests')._kept = true; }")
    picked = page.locator(f"#pick-{older[-1]}")
    picked.check()
    page.locator(f"#pick-{newer[0]}").focus()
    page.evaluate("() => window.scrollTo(0, 700)")
    scrolled = page.evaluate("() => window.scrollY")
    assert scrolled > 300, "the list should be longer than the window"

    sql(app, "UPDATE requests SET status = 'success', progress = 100, finished_at = now()"
             " WHERE id = :id", id=running)
    page.wait_for_selector(f'#requests tr[data-id="{running}"][data-status="success"]')

    assert page.evaluate(KEPT) == [], "rows were replaced, not merged"
    assert page.evaluate("() => document.getElementById('requests')._kept") is True
    assert "changed" in row.get_attribute("class").split()
    assert page.locator("#requests tr.changed").count() == 1
    assert "success" in row.locator("td.status").inner_text()
    assert picked.is_checked()
    assert page.locator("#bulk-count").inner_text() == "1"
    assert page.evaluate("() => document.activeElement.id") == f"pick-{newer[0]}"
    assert page.evaluate("() => window.scrollY") == scrolled
    # The highlight goes by itself; with reduced motion it does not animate.
    page.wait_for_function(
        f"() => !document.querySelector('#request-{running}').classList.contains('changed')",
        timeout=10_000)
    page.emulate_media(reduced_motion="reduce")
    sql(app, "UPDATE requests SET status = 'failure', error = 'x' WHERE id = :id", id=running)
    page.wait_for_selector(f'#requests tr.changed[data-id="{running}"]')
    assert row.evaluate("tr => getComputedStyle(tr).animationName") == "none"
    assert page.evaluate(KEPT) == []


def test_the_page_says_when_the_web_server_is_stopped_and_back(app, page, make_user,
                                                               clean_db, _stack):
    """The gunicorn serving the page is stopped (SIGINT: quick shutdown, not waiting for the
    browser's keep-alive connection) and started again on its port."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"

    def start():
        proc = Proc("web-restarted", web_argv(port, workers=1, threads=2)).start()
        wait_for(lambda: answers(f"{url}/healthz", timeout=1.0), 60, 0.2, what="web up")
        return proc

    proc = start()
    try:
        username, password, _ = make_user("viewer")
        browser_sign_in(page, url, username, password)
        assert page.locator("#connection").is_hidden()
        proc.stop(signal.SIGINT)
        page.wait_for_selector("#connection:has-text('The server cannot be reached')",
                               timeout=15_000)
        proc = start()
        page.wait_for_selector("#connection:has-text('Connection to the server is back')",
                               timeout=15_000)
        assert page.locator("section#requests").count() == 1
    finally:
        proc.stop(signal.SIGINT)
