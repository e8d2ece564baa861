"""What keeps the overview and /api/stats cheap at ten million requests still shows the
right numbers: compaction folds minutes before the 1 h window into their hour (the 24 h
window reads one row per hour and key), and the overview one web process shares
between its viewers follows a change at once."""
import re

import pytest

from dashboard.overview import stats
from tests.support.db import sql
from tests.support.seed import by_t, finish

DIGEST_RE = re.compile(r'data-digest="([0-9a-f]+)"')


@pytest.fixture
def quiet(stack):
    """Workers up, dispatcher stopped: seeded rows stay as written."""
    stack.stop_dispatcher()


def test_compaction_folds_old_minutes_into_hours(app, api, quiet):
    for ago in (5, 6, 70, 71, 95, 130, 131, 132):
        finish(app, ago, "success", 2.0)
        finish(app, ago, "failure", 2.0, via_update=True)
    before = {w: api.get(f"/api/stats?window={w}").get_json() for w in ("1h", "24h")}
    with app.app_context():
        stats.compact()
        fold_before = stats.window_slots("1h")[1][0]
    rows = sql(app, "SELECT minute, status, n FROM finish_stats ORDER BY minute, status")
    old = [r for r in rows if r["minute"] < fold_before]
    assert old and all(r["minute"].minute == 0 for r in old), old   # one row per hour
    assert len(old) == len({(r["minute"], r["status"]) for r in old})
    assert sum(r["n"] for r in old) == 12                           # 6 old finishes x 2
    recent = [r for r in rows if r["minute"] >= fold_before]
    assert sorted(r["n"] for r in recent) == [1, 1, 1, 1]           # minutes 5 and 6 kept
    after = {w: api.get(f"/api/stats?window={w}").get_json() for w in ("1h", "24h")}
    for window in ("1h", "24h"):
        assert by_t(after[window]) == by_t(before[window]), window
        assert after[window]["durations"] == before[window]["durations"], window
    assert sum(b["success"] + b["failure"] for b in after["24h"]["buckets"]) == 16
    assert sum(b["success"] + b["failure"] for b in after["1h"]["buckets"]) == 4


def test_overview_follows_a_change_at_once(app, signed_in, quiet):
    client, _, _ = signed_in("viewer")
    finish(app, 3, "success", 1.0)
    first = client.get("/overview").get_data(as_text=True)
    digest = DIGEST_RE.search(first).group(1)
    assert 'data-outcome="failure"' not in first
    for _ in range(3):   # the minute or the workers online may move between two polls
        unchanged = client.get(f"/overview?since={digest}")
        if unchanged.status_code == 204:
            break
        digest = DIGEST_RE.search(unchanged.get_data(as_text=True)).group(1)
    assert unchanged.status_code == 204
    finish(app, 2, "failure", 1.0, via_update=True)
    changed = client.get(f"/overview?since={digest}")   # well within OVERVIEW_CACHE_S
    assert changed.status_code == 200
    body = changed.get_data(as_text=True)
    assert 'data-outcome="failure"' in body and DIGEST_RE.search(body).group(1) != digest
