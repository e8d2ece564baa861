"""`make screenshots`: the product as the README shows it, taken by the test browser from
the running product with seeded data, written to docs/screenshots/*.png.

Marked `screenshots` and skipped unless SCREENSHOTS=1 (the make target sets it), so
the normal suite does not rewrite the committed pictures.
"""
import os
from pathlib import Path

import pytest

from tests.support.browser import browser_sign_in
from tests.support.seed import seed_requests, seed_upload_name

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(os.environ.get("SCREENSHOTS") != "1",
                                 reason="set SCREENSHOTS=1 (make screenshots)")]
OUT = Path(__file__).resolve().parent.parent / "docs" / "screenshots"


def _refused(page):
    """The new-request form after a refused submit: the error next to its field."""
    page.fill("#p-max_seconds", "2")
    page.fill("#p-fail_rate", "1.5")
    page.eval_on_selector("#new-request", "f => f.noValidate = true")
    page.click("#new-request button[type=submit]")
    page.wait_for_selector("#p-fail_rate-error")


def _batched(app, wait_status):
    """Ten short requests committed together (so they share a batch message); one of them."""
    from tests.support.db import insert_requests
    ids = insert_requests(app, [{"min_seconds": 0, "max_seconds": 0.05}] * 10, "operator")
    for request_id in ids:
        wait_status(app, request_id, "success", timeout=60)
    return ids[4]


def test_take_screenshots(app, browser, live_server, make_user, stack):
    from tests.support.db import wait_status
    from tests.support.seed import seed_volume
    username, password, token = make_user("admin", username="operator")
    volume = seed_volume(app, token, wait_status)
    batched = _batched(app, wait_status)
    stack.stop_dispatcher()
    ids = seed_requests(app)
    seed_upload_name(app, ids["success"])
    OUT.mkdir(parents=True, exist_ok=True)
    shots = [("list", "/", "light", None), ("list-dark", "/", "dark", None),
             ("request-failed", f"/requests/{ids['failure']}", "light", None),
             ("request-batched", f"/requests/{batched}", "light", None),
             ("request-batched-dark", f"/requests/{batched}", "dark", None),
             ("volume", f"/requests/{volume}", "light", "#volume-viewer"),
             ("new-request", "/requests/new", "light", None),
             ("new-request-dark", "/requests/new?job_type=load_array", "dark", None),
             ("new-request-error", "/requests/new", "light", _refused),
             ("new-request-error-dark", "/requests/new", "dark", _refused),
             ("workers", "/workers", "light", None),
             ("schedules", "/schedules", "light", None)]
    for name, path, scheme, action in shots:
        context = browser.new_context(viewport={"width": 1400, "height": 1000},
                                      color_scheme=scheme)
        page = context.new_page()
        browser_sign_in(page, live_server, username, password)
        page.goto(live_server + path)
        if isinstance(action, str):   # only this part of the page
            page.wait_for_function("() => [...document.querySelectorAll('img.slice')]"
                                   ".every(i => i.complete && i.naturalWidth > 0)")
            page.wait_for_timeout(500)
            page.locator(action).screenshot(path=str(OUT / f"{name}.png"))
            context.close()
            continue
        if action:
            action(page)
        page.wait_for_timeout(500)
        page.screenshot(path=str(OUT / f"{name}.png"), full_page=True)
        context.close()
    assert sorted(p.stem for p in OUT.glob("*.png")) >= sorted(n for n, *_ in shots)
