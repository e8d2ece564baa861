"""In Chromium: Kill (confirmed) and Retry on the request page and in the list, live, no reload."""
import time

import pytest

from tests.support.browser import browser_sign_in
from tests.support.db import attempts, fetch, wait_status
from tests.support.http import submit
from tests.support.procs import ExitWatch, pool_pid

pytestmark = pytest.mark.browser
HANG = {"hang": True}
KILL_BOUND_S = 1.0


@pytest.fixture
def operator_page(page, live_server, make_user):
    """Chromium signed in as an operator; logs every POST the page sends."""
    username, password, _ = make_user("operator")
    browser_sign_in(page, live_server, username, password)
    page.posts = []
    page.on("request", lambda r: page.posts.append(r.url) if r.method == "POST" else None)
    page.username = username
    return page


def mark_page(page):
    """Tag the loaded document: the tag disappears if the page reloads or navigates."""
    page.evaluate("window.__sameDocument = true")


def same_document(page):
    """True when no reload or navigation happened since mark_page."""
    return page.evaluate("window.__sameDocument === true")


def test_kill_then_retry_on_the_request_page(app, stack, api, celery_app, live_server,
                                             operator_page):
    """Kill asks first (dismiss: nothing sent), kills on accept; Retry starts attempt 2; live."""
    page = operator_page
    request_id = submit(api, HANG)
    row = wait_status(app, request_id, "running", timeout=60)
    page.goto(f"{live_server}/requests/{request_id}")
    page.wait_for_selector('#request-detail[data-status="running"]')
    mark_page(page)
    pid = pool_pid(celery_app, row)

    page.once("dialog", lambda dialog: dialog.dismiss())
    page.click('#request-detail button[data-action="kill"]')
    assert fetch(app, request_id)["status"] == "running"

    watch = ExitWatch(pid)
    try:
        messages = []

        def accept(dialog):
            messages.append(dialog.message)
            dialog.accept()
        page.once("dialog", accept)
        clicked = time.monotonic()
        page.click('#request-detail button[data-action="kill"]')
        elapsed = watch.wait(timeout=10, since=clicked)
    finally:
        watch.close()
    assert messages == [f"Kill request #{request_id}?"]
    assert elapsed is not None and elapsed <= KILL_BOUND_S, elapsed
    page.wait_for_selector('#request-detail[data-status="killed"]', timeout=10_000)
    assert page.locator('#request-detail tr[data-attempt="1"]').get_attribute(
        "data-status") == "killed"
    assert [u for u in page.posts if u.endswith("/kill")] == [
        f"{live_server}/requests/{request_id}/kill"]
    assert fetch(app, request_id)["status"] == "killed"

    page.click('#request-detail button[data-action="retry"]')
    page.wait_for_selector('#request-detail tr[data-attempt="2"]', timeout=15_000)
    page.wait_for_selector('#request-detail[data-status="running"]', timeout=30_000)
    assert page.locator('#request-detail tr[data-attempt="1"]').get_attribute(
        "data-status") == "killed"
    assert page.locator('#request-detail button[data-action="kill"]').is_visible()
    assert same_document(page)
    second = attempts(app, request_id)[1]
    assert (second["number"], second["triggered_by"], second["status"]) == (
        2, page.username, "running")


def test_kill_then_retry_in_the_list(app, stack, api, live_server, operator_page):
    """The list's row buttons: Kill (confirmed) then Retry, the row updating in place."""
    page = operator_page
    request_id = submit(api, HANG)
    wait_status(app, request_id, "running", timeout=60)
    page.goto(f"{live_server}/")
    row = f'#requests tr[data-id="{request_id}"]'
    page.wait_for_selector(f'{row}[data-status="running"]')
    mark_page(page)
    page.once("dialog", lambda dialog: dialog.accept())
    page.click(f'{row} button[data-action="kill"]')
    page.wait_for_selector(f'{row}[data-status="killed"]', timeout=10_000)
    page.click(f'{row} button[data-action="retry"]')
    page.wait_for_selector(f'{row}[data-status="running"]', timeout=30_000)
    assert same_document(page)
    assert [a["status"] for a in attempts(app, request_id)] == ["killed", "running"]
