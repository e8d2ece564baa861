"""How the system is doing: finished requests per minute/hour by outcome, what runs and
waits now, workers online, run-time percentiles per job type (GET /api/stats, the charts).

Everything comes from aggregates: `finish_stats` (kept by a trigger, folded by the
beat task `compact`, see the finish_stats trigger in the baseline migration), `status_counts`, and the oldest waiting
row found through the (status, id) index. No scan of `requests`.
"""
import math
from datetime import datetime, timedelta, timezone

from sqlalchemy import text

from dashboard.extensions import db, standby_reads
from dashboard.requests import listing
from dashboard.workers import inspection

OUTCOMES = ("success", "failure", "timeout", "killed")
WINDOWS = {"1h": ("minute", 60, timedelta(minutes=1)), "24h": ("hour", 24, timedelta(hours=1))}
KEEP = timedelta(hours=25)

BUCKETS_SQL = """
SELECT date_trunc(:unit, minute) AS t, status, sum(n)::bigint AS n
FROM finish_stats WHERE minute >= :start GROUP BY 1, 2
"""
DURATIONS_SQL = """
SELECT job_type, run_bucket, sum(n)::bigint AS n
FROM finish_stats WHERE minute >= :start AND run_bucket IS NOT NULL
GROUP BY 1, 2 ORDER BY 1, 2
"""
OLDEST_WAITING_SQL = """
SELECT min(created_at) FROM (
  (SELECT created_at FROM requests WHERE status = 'unassigned' ORDER BY id LIMIT 1)
  UNION ALL
  (SELECT created_at FROM requests WHERE status = 'pending' ORDER BY id LIMIT 1)
) oldest
"""
CHANGES_SQL = """
SELECT (SELECT max(id) FROM status_counts), (SELECT max(id) FROM finish_stats)
"""
# Minutes older than the 1 h window are folded into their hour: the 24 h window reads one
# row per hour and key instead of 60 (76,532 rows and 120 ms at 10M requests, 4 per second,
# before; see docs/benchmarks.md), and the 1 h window never reaches them.
COMPACT_SQL = """
WITH gone AS (DELETE FROM finish_stats RETURNING minute, job_type, status, run_bucket, n)
INSERT INTO finish_stats (minute, job_type, status, run_bucket, n)
SELECT CASE WHEN minute < :fold_before THEN date_trunc('hour', minute) ELSE minute END,
       job_type, status, run_bucket, sum(n) FROM gone
WHERE minute >= :keep_from GROUP BY 1, 2, 3, 4
"""


def bucket_mid_s(bucket):
    """The middle (geometric) of run-time bucket `bucket` in seconds: within 10 % of any run
    time counted in it (see the finish_stats trigger in the baseline migration)."""
    return 2 ** ((bucket - 0.5) / 4) / 1000


def percentile(histogram, q):
    """The q-th percentile (0..1) of [(bucket, n), ...] sorted by bucket: its bucket's middle."""
    total = sum(n for _, n in histogram)
    if not total:
        return None
    rank = max(1, math.ceil(q * total))
    seen = 0
    for bucket, n in histogram:
        seen += n
        if seen >= rank:
            return round(bucket_mid_s(bucket), 3)
    return None


def window_slots(window, now=None):
    """(unit, [slot start, ...]) for a window: 60 minutes or 24 hours ending with the current one."""
    unit, count, step = WINDOWS[window]
    now = now or datetime.now(timezone.utc)
    last = now.replace(second=0, microsecond=0)
    if unit == "hour":
        last = last.replace(minute=0)
    return unit, [last - step * (count - 1 - i) for i in range(count)]


def summary(window="1h", now=None):
    """The numbers GET /api/stats answers and the charts draw, as plain values."""
    unit, slots = window_slots(window, now)
    found = {}
    reads = standby_reads()   # READ_DATABASE_URL's standby when set
    for t, status, n in db.session.execute(text(BUCKETS_SQL), {"unit": unit, "start": slots[0]},
                                           bind_arguments=reads):
        found.setdefault(t, {})[status] = int(n)
    buckets = [{"t": t, **{o: found.get(t, {}).get(o, 0) for o in OUTCOMES}} for t in slots]
    histograms = {}
    for job_type, bucket, n in db.session.execute(text(DURATIONS_SQL), {"start": slots[0]},
                                                  bind_arguments=reads):
        histograms.setdefault(job_type, []).append((bucket, int(n)))
    durations = {job_type: {"p50": percentile(h, 0.5), "p95": percentile(h, 0.95),
                            "count": sum(n for _, n in h)}
                 for job_type, h in histograms.items()}
    counts = listing.counts()
    oldest = db.session.execute(text(OLDEST_WAITING_SQL), bind_arguments=reads).scalar()
    now = now or datetime.now(timezone.utc)
    return {
        "window": window,
        "buckets": buckets,
        "running": counts["running"],
        "queue_depth": counts["unassigned"] + counts["pending"],
        "workers_online": workers_online(),
        "oldest_waiting_s": round((now - oldest).total_seconds(), 1) if oldest else None,
        "durations": durations,
    }


def changes():
    """(newest status_counts id, newest finish_stats id): both move whenever a request is
    added, changes status or finishes (their triggers append a row), so a summary
    computed under the same pair has the same counts and buckets."""
    return tuple(db.session.execute(text(CHANGES_SQL)).one())


def workers_online():
    """Workers answering the last inspection (cached, so a poll rarely waits for it)."""
    return sum(1 for w in inspection.workers(ttl=10.0) if w.get("online"))


def as_json(numbers):
    """The summary with times as ISO 8601 strings."""
    return {**numbers, "buckets": [{**b, "t": b["t"].isoformat()} for b in numbers["buckets"]]}


def compact(now=None):
    """Fold finish_stats deltas into one row per key (per hour before the 1 h window's first
    minute); drop what the 24 h window no longer shows."""
    now = now or datetime.now(timezone.utc)
    fold_before = window_slots("1h", now)[1][0]
    db.session.execute(text(COMPACT_SQL), {"keep_from": now - KEEP, "fold_before": fold_before})
    db.session.commit()
