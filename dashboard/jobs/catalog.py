"""The job types as GET /api/job-types and the job types page show them.

Each entry: the declaration (name, title, description, params schema, file rule, queue),
the declared and the current limits (declared values with an admin's stored overrides on
top, see limits), the type's requests by status (one grouped query over the
(status, job_type, id) index), its run-time p50/p95 over the last 24 hours (the
finish_stats histograms the overview's charts read) and the workers consuming its queue
(the cached worker inspection).
"""
from datetime import datetime, timedelta, timezone

from sqlalchemy import text

from dashboard import jobs
from dashboard.extensions import db
from dashboard.jobs import limits
from dashboard.lifecycle import Status
from dashboard.overview import stats
from dashboard.workers import inspection

STATUSES = [s.value for s in Status]
RUN_TIME_WINDOW = timedelta(hours=24)

COUNTS_SQL = "SELECT job_type, status, count(*)::bigint AS n FROM requests GROUP BY 1, 2"
ONE_COUNTS_SQL = ("SELECT job_type, status, count(*)::bigint AS n FROM requests"
                  " WHERE job_type = :name GROUP BY 1, 2")


def _counts(name):
    """{job type: {status: n}} (every status, 0 when none); one type when `name` is given."""
    found = {}
    query = text(COUNTS_SQL) if name is None else text(ONE_COUNTS_SQL)
    for job_type, status, n in db.session.execute(query, {"name": name}):
        found.setdefault(job_type, {})[status] = int(n)
    return found


def _run_times(now):
    """{job type: {"p50": s, "p95": s, "count": n}} over the last 24 hours' finished runs."""
    histograms = {}
    start = now - RUN_TIME_WINDOW
    for job_type, bucket, n in db.session.execute(text(stats.DURATIONS_SQL), {"start": start}):
        histograms.setdefault(job_type, []).append((bucket, int(n)))
    return {job_type: {"p50": stats.percentile(h, 0.5), "p95": stats.percentile(h, 0.95),
                       "count": sum(n for _, n in h)} for job_type, h in histograms.items()}


def _consumers(queue, workers):
    """The workers consuming `queue` now: [{"name", "state"}] (online ones, paused too)."""
    return [{"name": w["name"], "state": w.get("state")} for w in workers
            if w.get("online") and queue in (w.get("queues") or [])]


def _entry(job, current, counts, run_times, workers):
    """One job type as the API answers it."""
    return {
        "name": job.name, "title": job.title, "description": job.description,
        "params": job.schema, "file": job.file, "queue": job.queue,
        "declared": limits.declared(job), "current": current,
        "counts": {s: counts.get(s, 0) for s in STATUSES},
        "run_time_24h": run_times.get(job.name, {"p50": None, "p95": None, "count": 0}),
        "workers": _consumers(job.queue, workers),
    }


def entries(now=None):
    """Every registered job type, by name."""
    now = now or datetime.now(timezone.utc)
    current, counts = limits.current_all(), _counts(None)
    run_times, workers = _run_times(now), inspection.workers()
    return [_entry(job, current[name], counts.get(name, {}), run_times, workers)
            for name, job in sorted(jobs.REGISTRY.items())]


def entry(name, now=None):
    """One job type, or None when it is not registered."""
    job = jobs.REGISTRY.get(name)
    if job is None:
        return None
    now = now or datetime.now(timezone.utc)
    return _entry(job, limits.current(name), _counts(name).get(name, {}),
                  _run_times(now), inspection.workers())
