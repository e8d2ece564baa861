"""In Chromium: list rows read well: relative times with exact UTC on hover, long names
cut with an ellipsis and whole on hover, durations in hours and minutes."""
import pytest

from tests.support.browser import browser_sign_in
from tests.support.db import sql
from tests.support.seed import LONG_NAME

pytestmark = pytest.mark.browser


def test_rows_show_relative_times_ellipses_and_durations(app, page, live_server, make_user,
                                                        seeded_pages):
    username, password, _ = make_user("viewer")
    browser_sign_in(page, live_server, username, password)
    failure = page.locator(f'#requests tr[data-id="{seeded_pages["failure"]}"]')
    created = sql(app, "SELECT created_at FROM requests WHERE id = :id",
                  id=seeded_pages["failure"])[0]["created_at"]
    time = failure.locator("time")
    assert time.inner_text() == "1 h ago"  # seeded_pages 75 minutes ago
    assert time.get_attribute("title") == created.strftime("%Y-%m-%d %H:%M:%S UTC")
    assert page.locator(f'#requests tr[data-id="{seeded_pages["running"]}"] time').inner_text() \
        == "3 min ago"

    success = page.locator(f'#requests tr[data-id="{seeded_pages["success"]}"]')
    name = success.locator("td.file .cut")
    assert name.get_attribute("title") == LONG_NAME
    assert name.evaluate("e => e.scrollWidth > e.clientWidth"), "the long name is not cut"
    assert name.evaluate("e => getComputedStyle(e).textOverflow") == "ellipsis"
    assert success.locator("td.progress").inner_text() == "took 1 h 2 min"
    assert failure.locator("td.progress").inner_text() == "took 4.2 s"
