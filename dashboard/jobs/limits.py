"""A job type's limits in force: its declared values merged with an admin's overrides.

The declaration (`JobType.priority`, `max_running`, `rate_per_min`; a declared type is
never paused) is the default; a row of `job_type_settings` overrides each column that is
not NULL. `current(name)` and `current_all()` read them as the dispatcher and the API
use them: {priority, max_running, rate_per_min, paused}.
"""
from sqlalchemy import text

from dashboard import jobs
from dashboard.extensions import db

FIELDS = ("priority", "max_running", "rate_per_min", "paused")

_ALL_SQL = text("SELECT name, priority, max_running, rate_per_min, paused FROM job_type_settings")
_ONE_SQL = text("SELECT name, priority, max_running, rate_per_min, paused FROM job_type_settings"
                " WHERE name = :name")


def declared(job):
    """A job type's declared limits."""
    return {"priority": job.priority, "max_running": job.max_running,
            "rate_per_min": job.rate_per_min, "paused": False}


def _merged(job, row):
    values = declared(job)
    if row is not None:
        for field in FIELDS:
            if row[field] is not None:
                values[field] = row[field]
    return values


def current(name):
    """The limits in force for the job type `name` (Refused if unknown)."""
    job = jobs.get(name)
    row = db.session.execute(_ONE_SQL, {"name": name}).mappings().first()
    return _merged(job, row)


def current_all():
    """{name: limits in force} for every registered job type, in one query."""
    rows = {r["name"]: r for r in db.session.execute(_ALL_SQL).mappings()}
    return {name: _merged(job, rows.get(name)) for name, job in sorted(jobs.REGISTRY.items())}


def declared_all():
    """(name, max_running, rate_per_min) of each registered job type that declares a limit:
    what the dispatcher's claim merges with the stored overrides (lifecycle.claim)."""
    return [(name, job.max_running, job.rate_per_min)
            for name, job in sorted(jobs.REGISTRY.items())
            if job.max_running is not None or job.rate_per_min is not None]
