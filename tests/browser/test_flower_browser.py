"""In Chromium: Flower's own pages through the dashboard's proxy on a real gunicorn (the
proxy itself is tested in tests/integration/workers/test_flower_proxy.py)."""
import re

import pytest

from tests.support.browser import browser_sign_in
from tests.support.flower import flower_socket, flower_url, flower_web  # noqa: F401


@pytest.mark.browser
def test_flower_works_in_chromium_through_gunicorn(flower_web, stack, page, make_user):
    """Signed in, Chromium gets Flower's page through the proxy; its scripts run, no CSP error."""
    problems = []
    page.on("console", lambda msg: msg.type == "error" and problems.append(msg.text))
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.goto(f"{flower_web}/flower/")
    page.wait_for_url(re.compile(re.escape(f"{flower_web}/login?next=/flower/")))
    username, password, _ = make_user("viewer")
    browser_sign_in(page, flower_web, username, password)
    page.goto(f"{flower_web}/flower/")
    assert page.evaluate("typeof window.jQuery") == "function", "Flower's static JS loaded"
    # A locator waits in Playwright's own world: a string predicate polled by
    # wait_for_function is eval'd in the page, which Flower's CSP rightly refuses.
    page.get_by_text("worker1@test").first.wait_for(state="visible", timeout=30_000)
    assert problems == []
