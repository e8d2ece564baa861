"""The built-in periodic tasks' own record: last run, duration and outcome, one row per task.

Each beat task is wrapped in `recorded(name)`; the Schedules page and
`GET /api/schedules` list these read-only next to the operators' schedules.
"""
import functools
import logging
import time
from datetime import datetime, timedelta, timezone

from celery.schedules import crontab
from celery.schedules import schedule as interval
from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import text

from dashboard.extensions import db
from dashboard.serializers import iso

log = logging.getLogger(__name__)

# What each built-in periodic task does, in the operator's words (beat_schedule key: text);
# a task missing here shows the first line of its docstring.
WHAT_IT_DOES = {
    "auto-retry": _l("Queues failed requests again when their job type retries on its own,"
                     " waiting longer after each attempt (the job type's retry policy)."),
    "compact-status-counts": _l("Folds the counters of requests per status into one row per"
                                " status, so the list's counts and /metrics stay quick."),
    "compact-finish-stats": _l("Folds the statistics of finished requests into one row per"
                               " minute (per hour after the first hour) for the charts, and"
                               " drops those older than 25 hours."),
    "reap-lost-attempts": _l("Ends as failures the running requests no worker holds any more"
                             " (a worker died or lost its connection), so they can be retried."),
    "retention": _l("Deletes finished requests older than RETENTION_DAYS days (0 keeps them)"
                    " and the uploaded files no request needs any more."),
}

UPSERT_SQL = """
INSERT INTO periodic_runs (name, last_run_at, duration_s, outcome, ok)
VALUES (:name, clock_timestamp(), :duration, :outcome, :ok)
ON CONFLICT (name) DO UPDATE SET last_run_at = EXCLUDED.last_run_at,
  duration_s = EXCLUDED.duration_s, outcome = EXCLUDED.outcome, ok = EXCLUDED.ok
"""


def record_quietly(name, duration_s, outcome, ok=True):
    """Upsert the task's row in its own transaction; errors are logged, never raised."""
    try:
        db.session.rollback()
        db.session.execute(text(UPSERT_SQL), {"name": name, "duration": float(duration_s),
                                              "outcome": str(outcome)[:400], "ok": ok})
        db.session.commit()
    except Exception:
        db.session.rollback()
        log.exception("could not record the run of %s", name)


def _outcome(result):
    if result is None:
        return "ok"
    if isinstance(result, dict):
        return ", ".join(f"{k} {v}" for k, v in result.items()) or "ok"
    return f"ok: {result}"


def recorded(name):
    """Decorator: record each run of a periodic task (its return value, or its exception)."""
    def wrap(fn):
        @functools.wraps(fn)
        def run(*args, **kwargs):
            started = time.monotonic()
            try:
                result = fn(*args, **kwargs)
            except Exception as exc:
                record_quietly(name, time.monotonic() - started,
                               f"error: {exc.__class__.__name__}: {exc}", ok=False)
                raise
            record_quietly(name, time.monotonic() - started, _outcome(result))
            return result
        return run
    return wrap


def runs():
    """Each recorded task's last run, by name."""
    rows = db.session.execute(text("SELECT * FROM periodic_runs")).mappings().all()
    return {r["name"]: dict(r) for r in rows}


def _every_s(every):
    """A beat entry's period in seconds (None for a crontab)."""
    if isinstance(every, (int, float)):
        return float(every)
    if isinstance(every, crontab):
        return None
    if isinstance(every, interval):
        return every.run_every.total_seconds()
    return None


def names():
    """The built-in periodic tasks' names (beat_schedule keys)."""
    return set(current_app.extensions["celery"].conf.beat_schedule)


def describe(name, task):
    """What a built-in task does: its WHAT_IT_DOES text, else its docstring's first line."""
    if name in WHAT_IT_DOES:
        return str(WHAT_IT_DOES[name])
    return ((task.__doc__ or "").strip().splitlines() or [""])[0] if task else ""


def entries():
    """The built-in periodic tasks, shaped like schedules (read-only: `builtin` true)."""
    celery, recorded_runs = current_app.extensions["celery"], runs()
    out = []
    for name, entry in sorted(celery.conf.beat_schedule.items()):
        task = celery.tasks.get(entry["task"])
        every, run = _every_s(entry["schedule"]), recorded_runs.get(name) or {}
        last = run.get("last_run_at")
        base = last or datetime.now(timezone.utc)
        upcoming = [base + timedelta(seconds=every * k) for k in range(1, 6)] if every else []
        out.append({
            "id": name, "name": name, "builtin": True, "task": entry["task"],
            "description": describe(name, task),
            "job_type": None, "params": None, "cron": None,
            "every_s": every, "timezone": "UTC", "enabled": True, "catch_up": None,
            "words": _("every %(n)s s", n=f"{every:g}") if every else str(entry["schedule"]),
            "next_runs": [iso(t) for t in upcoming],
            "last_run_at": iso(last), "duration_s": run.get("duration_s"),
            "outcome": run.get("outcome"), "ok": run.get("ok"),
            "last_request_id": None, "last_status": None,
            "created_by": "system", "updated_by": None,
        })
    return out
