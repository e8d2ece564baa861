"""Service levels per job type: how long a request may wait to start (`max_wait_s`) and
run (`max_run_s`). Marks on the list and counts for /metrics.

A request is over its wait limit while it waits longer than `max_wait_s` (or when it
started later than that), and over its run limit while running, or having run,
longer than `max_run_s`. /metrics counts the requests over a limit right now.
"""
from datetime import datetime, timezone

from flask_babel import gettext as _
from sqlalchemy import text

from dashboard import jobs
from dashboard.extensions import db
from dashboard.lifecycle import ACTIVE
from dashboard.web.humanize import duration_text

WAITING = ("unassigned", "pending")
OVER_WAIT_SQL = """
SELECT count(*) FROM requests
WHERE status IN ('unassigned', 'pending') AND job_type = :job_type
  AND created_at < now() - make_interval(secs => :limit)
"""
OVER_RUN_SQL = """
SELECT count(*) FROM requests
WHERE status = 'running' AND job_type = :job_type
  AND started_at < now() - make_interval(secs => :limit)
"""


def marks(r, now=None):
    """What a request is over, in words: ["waited 3 min (limit 1 min)", ...]; [] if none."""
    job = jobs.REGISTRY.get(r["job_type"])
    if job is None or r["created_at"] is None:
        return []
    now = now or datetime.now(timezone.utc)
    found = []
    if job.max_wait_s is not None:
        started = r["started_at"] or (now if r["status"] in WAITING else None)
        if started and (started - r["created_at"]).total_seconds() > job.max_wait_s:
            times = {"time": duration_text((started - r["created_at"]).total_seconds()),
                     "limit": duration_text(job.max_wait_s)}
            found.append(_("waiting %(time)s (limit %(limit)s)", **times)
                         if r["status"] in WAITING else
                         _("waited %(time)s (limit %(limit)s)", **times))
    if job.max_run_s is not None and r["started_at"]:
        end = r["finished_at"] or (now if r["status"] in ACTIVE else None)
        if end and (end - r["started_at"]).total_seconds() > job.max_run_s:
            times = {"time": duration_text((end - r["started_at"]).total_seconds()),
                     "limit": duration_text(job.max_run_s)}
            found.append(_("running %(time)s (limit %(limit)s)", **times)
                         if r["status"] == "running" else
                         _("ran %(time)s (limit %(limit)s)", **times))
    return found


def breaches():
    """[(job_type, "wait" | "run", requests over that limit now)] for every job type with one."""
    result = []
    for name, job in sorted(jobs.REGISTRY.items()):
        for kind, limit, statement in (("wait", job.max_wait_s, OVER_WAIT_SQL),
                                       ("run", job.max_run_s, OVER_RUN_SQL)):
            if limit is not None:
                n = db.session.execute(text(statement),
                                       {"job_type": name, "limit": float(limit)}).scalar()
                result.append((name, kind, int(n)))
    return result


def init_app(app):
    app.jinja_env.globals.update(sla_marks=marks)
