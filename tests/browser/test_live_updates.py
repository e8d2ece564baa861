"""In Chromium: polling pauses while the tab is hidden and resumes when shown; the page
says when the server cannot be reached and when it is back."""
import pytest

from tests.support.browser import browser_sign_in

pytestmark = pytest.mark.browser

HIDE = """hidden => { Object.defineProperty(document, "hidden", {configurable: true,
  get: () => hidden}); document.dispatchEvent(new Event("visibilitychange")); }"""


def polls_during(page, polls, seconds):
    before = len(polls)
    page.wait_for_timeout(seconds * 1000)  # Playwright delivers events while it waits
    return len(polls) - before


def polls_within(page, polls, wanted, seconds):
    """How many polls came (at most `seconds`), stopping as soon as there are `wanted`."""
    before = len(polls)
    for _ in range(int(seconds * 10)):
        if len(polls) - before >= wanted:
            break
        page.wait_for_timeout(100)
    return len(polls) - before


def test_polling_pauses_while_hidden_and_resumes(page, live_server, make_user, stack):
    username, password, _ = make_user("viewer")
    browser_sign_in(page, live_server, username, password)
    polls = []
    page.on("request", lambda r: polls.append(r.url) if "since=" in r.url else None)
    assert polls_within(page, polls, 2, 5) >= 2
    page.evaluate(HIDE, True)
    assert page.get_attribute("html", "data-polling") == "paused"
    page.wait_for_timeout(300)  # a request already on its way may land
    assert polls_during(page, polls, 4) == 0  # eight poll intervals (POLL_INTERVAL_S=0.5)
    page.evaluate(HIDE, False)
    assert page.get_attribute("html", "data-polling") == "live"
    assert polls_within(page, polls, 2, 5) >= 2


def test_page_says_when_the_server_is_unreachable_and_back(page, live_server, make_user, stack):
    username, password, _ = make_user("viewer")
    browser_sign_in(page, live_server, username, password)
    assert page.locator("#connection").is_hidden()
    page.context.set_offline(True)
    page.wait_for_selector("#connection:has-text('The server cannot be reached')",
                           timeout=15_000)
    page.context.set_offline(False)
    page.wait_for_selector("#connection:has-text('Connection to the server is back')",
                           timeout=15_000)
    assert page.locator("section#requests").count() == 1
