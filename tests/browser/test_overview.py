"""In Chromium: the overview's tiles and SVG charts at the top of the list match the
rows seeded in the database, and refresh with the poll only when their numbers change."""
import pytest

from tests.support.browser import browser_sign_in
from tests.support.db import sql
from tests.support.seed import seed_requests

pytestmark = pytest.mark.browser


@pytest.fixture
def quiet(stack):
    stack.stop_dispatcher()


def sign_in(page, live_server, make_user):
    username, password, _ = make_user("viewer")
    browser_sign_in(page, live_server, username, password)


def drawn(page, chart):
    """{outcome: sum of the drawn segments' counts} in one chart."""
    return page.evaluate("""chart => {
      const out = {};
      document.querySelectorAll(`[data-chart="${chart}"] rect[data-outcome]`).forEach(r => {
        out[r.dataset.outcome] = (out[r.dataset.outcome] || 0) + Number(r.dataset.n); });
      return out; }""", chart)


def test_charts_match_the_seeded_rows(app, page, live_server, make_user, quiet):
    ids = seed_requests(app)
    sign_in(page, live_server, make_user)
    assert drawn(page, "per_hour") == {"success": 1, "failure": 1, "timeout": 1, "killed": 1}
    # the failure finished 75 min ago; the success (90 min ago, ran 1 h 2 min) 28 min ago
    assert drawn(page, "per_minute") == {"success": 1, "timeout": 1, "killed": 1}
    killed_minute = sql(app, "SELECT date_trunc('minute', finished_at) AS m FROM requests"
                             " WHERE id = :id", id=ids["killed"])[0]["m"]
    bar = page.locator(f'[data-chart="per_minute"] g.bar[data-t="{killed_minute.isoformat()}"]')
    assert bar.locator("rect").get_attribute("data-outcome") == "killed"
    assert bar.locator("title").text_content() == f"{killed_minute:%H:%M} UTC: 1 killed"
    assert page.locator('[data-chart="per_hour"] [data-total="failure"]').inner_text() == "1"
    assert "1 success, 1 failure, 1 timeout, 1 killed." in page.locator(
        "#per_hour-desc").text_content()
    assert page.locator('[data-tile="running"]').inner_text() == "1"
    assert page.locator('[data-tile="queue_depth"]').inner_text() == "2"
    assert page.locator('[data-tile="oldest_waiting"]').inner_text().startswith("1 min")  # the pending one
    durations = page.locator('[data-chart="durations"] g[data-job-type="load_array"] title')
    assert durations.text_content().startswith("load_array: p50 1 h ")  # ran 1 h 2 min


def test_charts_refresh_only_when_the_numbers_change(app, page, live_server, make_user, quiet):
    sql(app, "INSERT INTO requests (job_type, status, started_at, finished_at) VALUES"
             " ('simulate', 'success', now() - interval '3 seconds', now())")
    answers = []
    page.on("response", lambda r: answers.append(r.status) if "/overview" in r.url else None)
    sign_in(page, live_server, make_user)
    page.evaluate("window.__marker = 1")
    assert drawn(page, "per_minute") == {"success": 1}
    for _ in range(40):  # Playwright delivers the events while it waits, not during a sleep
        if answers.count(204) >= 2:
            break
        page.wait_for_timeout(500)
    assert answers.count(204) >= 2, answers
    assert 200 not in answers
    sql(app, "INSERT INTO requests (job_type, status, started_at, finished_at) VALUES"
             " ('simulate', 'failure', now() - interval '1 second', now())")
    page.wait_for_selector('[data-chart="per_minute"] rect[data-outcome="failure"]',
                           timeout=20_000)
    assert drawn(page, "per_minute") == {"success": 1, "failure": 1}
    assert page.evaluate("window.__marker") == 1, "the page was reloaded"
