"""GET /api/stats: buckets and percentiles match rows seeded in the database, both windows."""
import pytest

from dashboard.overview import stats
from tests.support.db import sql
from tests.support.seed import by_t, finish

# (minutes before now it finished, status, run seconds, how many)
FINISHED = [(5, "success", 1.0, 3), (5, "failure", 2.0, 2), (30, "timeout", 30.0, 1),
            (180, "success", 10.0, 4), (180, "killed", None, 1), (26 * 60, "success", 1.0, 5)]


@pytest.fixture
def quiet(stack):
    """Workers up, dispatcher stopped: seeded rows stay as written."""
    stack.stop_dispatcher()


def seed(app):
    minutes = {}
    for ago, status, run_s, n in FINISHED:
        for i in range(n):
            minutes[ago] = finish(app, ago, status, run_s, via_update=i % 2 == 1)
    return minutes


def test_hour_window_counts_each_minute(app, api, quiet):
    minutes = seed(app)
    body = api.get("/api/stats?window=1h").get_json()
    assert len(body["buckets"]) == 60
    found = by_t(body)
    assert found[minutes[5].isoformat()] == {"success": 3, "failure": 2, "timeout": 0, "killed": 0}
    assert found[minutes[30].isoformat()] == {"success": 0, "failure": 0, "timeout": 1, "killed": 0}
    assert sum(sum(b.values()) for b in found.values()) == 6  # 3 h and 26 h ago are outside
    p = body["durations"]["simulate"]
    assert p["count"] == 6
    assert p["p50"] == pytest.approx(1.0, rel=0.1)    # 3 of 6 ran 1 s
    assert p["p95"] == pytest.approx(30.0, rel=0.1)   # the slowest ran 30 s


def test_day_window_counts_each_hour(app, api, quiet):
    minutes = seed(app)
    body = api.get("/api/stats?window=24h").get_json()
    assert len(body["buckets"]) == 24
    found = by_t(body)
    hour = minutes[180].replace(minute=0).isoformat()
    assert found[hour] == {"success": 4, "failure": 0, "timeout": 0, "killed": 1}
    totals = {o: sum(b[o] for b in found.values()) for o in stats.OUTCOMES}
    assert totals == {"success": 7, "failure": 2, "timeout": 1, "killed": 1}
    assert body["durations"]["simulate"]["count"] == 10  # the killed one never ran


def test_waiting_running_and_compaction(app, api, quiet):
    seed(app)
    sql(app, "INSERT INTO requests (job_type, status, created_at) VALUES"
             " ('simulate', 'unassigned', now() - interval '90 seconds'),"
             " ('simulate', 'pending', now() - interval '10 seconds'),"
             " ('simulate', 'running', now())")
    before = api.get("/api/stats?window=24h").get_json()
    assert before["running"] == 1 and before["queue_depth"] == 2
    assert 90 <= before["oldest_waiting_s"] < 150
    assert before["workers_online"] >= 1
    rows = sql(app, "SELECT count(*) AS n FROM finish_stats")[0]["n"]
    with app.app_context():
        stats.compact()
    after_rows = sql(app, "SELECT count(*) AS n FROM finish_stats")[0]["n"]
    assert after_rows < rows
    after = api.get("/api/stats?window=24h").get_json()
    assert after["buckets"] == before["buckets"] and after["durations"] == before["durations"]
    assert sql(app, "SELECT count(*) AS n FROM finish_stats WHERE minute < now() - interval"
                    " '25 hours'")[0]["n"] == 0


def test_bad_window_is_a_422_naming_it(api, quiet):
    response = api.get("/api/stats?window=7d")
    assert response.status_code == 422
    assert response.get_json() == {"error": "window: must be 1h or 24h"}
