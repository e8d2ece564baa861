"""In Chromium: pause, resume, grow, shrink from the workers page, confirmed, updating by itself."""
import pytest

from tests.support.browser import browser_sign_in
from tests.support.db import audit_rows
from dashboard.workers import inspection

pytestmark = pytest.mark.browser
ROW = 'tr[data-worker="worker1@test"]'


@pytest.fixture
def operator_page(page, live_server, make_user, celery_app):
    username, password, _ = make_user("operator")
    browser_sign_in(page, live_server, username, password)
    page.posts = []
    page.on("request", lambda r: page.posts.append(r.url) if r.method == "POST" else None)
    yield page
    celery_app.control.add_consumer("requests", reply=True, timeout=1)
    inspection.clear_worker_cache()


def queues(celery_app, name):
    replies = celery_app.control.inspect([name], timeout=1.0).active_queues() or {}
    return [q["name"] for q in replies.get(name, [])]


def accept_next(page, messages):
    def accept(dialog):
        messages.append(dialog.message)
        dialog.accept()
    page.once("dialog", accept)


def test_pause_resume_grow_from_the_workers_page(app, stack, live_server, operator_page,
                                                celery_app):
    page = operator_page
    page.goto(f"{live_server}/workers")
    page.wait_for_selector(f'{ROW}[data-state="online"]')
    page.evaluate("window.__sameDocument = true")

    page.once("dialog", lambda dialog: dialog.dismiss())
    page.click(f'{ROW} button[data-action="pause"]')
    page.wait_for_timeout(500)
    assert page.posts == [] and queues(celery_app, "worker1@test") == ["requests"]

    messages = []
    accept_next(page, messages)
    page.click(f'{ROW} button[data-action="pause"]')
    page.wait_for_selector(f'{ROW}[data-state="paused"]', timeout=20_000)
    assert messages[0].startswith("Pause worker1@test?")
    assert queues(celery_app, "worker1@test") == []

    accept_next(page, messages)
    page.click(f'{ROW} button[data-action="resume"]')
    page.wait_for_selector(f'{ROW}[data-state="online"]', timeout=20_000)
    assert queues(celery_app, "worker1@test") == ["requests"]

    accept_next(page, messages)
    page.click(f'{ROW} button[data-action="grow"]')
    page.wait_for_selector(f'{ROW}[data-concurrency="3"]', timeout=30_000)
    accept_next(page, messages)
    page.click(f'{ROW} button[data-action="shrink"]')
    page.wait_for_selector(f'{ROW}[data-concurrency="2"]', timeout=30_000)

    accept_next(page, messages)
    page.click('button[data-action="pause-all"]')
    page.wait_for_selector('#workers[data-paused="2"]', timeout=20_000)
    assert messages[-1].startswith("Pause every worker?")
    accept_next(page, messages)
    page.click('button[data-action="resume-all"]')
    page.wait_for_selector('#workers[data-paused="0"]', timeout=20_000)
    assert page.evaluate("window.__sameDocument === true")
    assert [p.rsplit("/", 1)[-1] for p in page.posts] == [
        "pause", "resume", "grow", "shrink", "pause-all", "resume-all"]
    assert [r["outcome"] for r in audit_rows(app, "worker_grow")] == ["ok"]


def test_viewer_sees_no_action_buttons(app, stack, live_server, page, make_user):
    username, password, _ = make_user("viewer")
    browser_sign_in(page, live_server, username, password)
    page.goto(f"{live_server}/workers")
    page.wait_for_selector(f'{ROW}[data-state="online"]')
    assert page.locator(f"{ROW} button").count() == 0
    assert page.locator('button[data-action="pause-all"]').count() == 0


def test_request_page_explains_the_wait_and_updates(app, stack, api, live_server, page,
                                                    make_user):
    """Dispatcher stopped: the request page says so by itself; started: the box goes, it runs."""
    from tests.support.http import submit
    username, password, _ = make_user("viewer")
    browser_sign_in(page, live_server, username, password)
    stack.stop_dispatcher()
    request_id = submit(api, {"min_seconds": 0, "max_seconds": 0})
    page.goto(f"{live_server}/requests/{request_id}")
    page.wait_for_selector('#why li[data-code="dispatcher_down"]', timeout=20_000)
    # "No dispatcher is running", or "last heartbeat was N s ago" after a killed one's row
    assert "dispatcher down:" in page.locator("#why").inner_text()
    page.evaluate("window.__sameDocument = true")
    stack.start_dispatcher()
    page.wait_for_selector('#request-detail[data-status="success"]', timeout=60_000)
    assert page.locator("#why").count() == 0
    assert page.evaluate("window.__sameDocument === true")
