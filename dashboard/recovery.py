"""Recovering lost work: what happens when a message, a worker or a write goes missing.

- `stale_pending`: pending attempts whose message seems lost (never started,
  queue empty), handed to the dispatcher to publish again with the same task id.
- `reap_lost`: running attempts their (answering) worker no longer holds end as
  `failure` (their failure could not be written, e.g. PostgreSQL was away).
- `auto_retry`: failures of job types with a retry policy run again, with backoff.

The dispatcher's sweep and the beat tasks call these; each writes through `lifecycle`.
"""
import logging

from flask import current_app
from sqlalchemy import text

from dashboard import jobs, lifecycle
from dashboard.extensions import db
from dashboard.lifecycle import Status
from dashboard.workers import inspection

log = logging.getLogger(__name__)


def stale_pending(older_than_s, limit):
    """Pending attempts not started for `older_than_s`, claimed to be published again.

    Only of job types whose queue holds no ready message: a backlog explains a long
    wait. The caller publishes the rows (same task ids) and commits; a duplicate
    message is harmless, `lifecycle.start` lets only one copy run.
    """
    depths = inspection.queue_depths()
    if depths is None:
        return []
    idle = [name for name, job in jobs.REGISTRY.items() if depths[job.queue]["messages"] == 0]
    if not idle:
        return []
    return lifecycle.requeue_stale_pending(older_than_s, limit, idle)


LOST_SQL = """
SELECT id, task_id, worker FROM requests
WHERE status = 'running' AND started_at < now() - make_interval(secs => :grace)
ORDER BY id LIMIT 1000
"""


def reap_lost(grace_s=30.0, timeout=1.0, on_lost=None):
    """End as `failure` running attempts that their (answering) worker no longer holds.

    That happens when a job failed while PostgreSQL was away: the failure could
    not be written and the message was acknowledged. Workers are asked first,
    then the rows, and only attempts started `grace_s` before are considered, so
    a task that is just starting is never taken for lost. Returns how many;
    `on_lost(request_id)` is called for each once they are committed.
    """
    inspect = current_app.extensions["celery"].control.inspect(timeout=timeout)
    active, reserved = inspect.active() or {}, inspect.reserved() or {}
    answered = set(active) & set(reserved)
    held = {task_id for replies in (active, reserved) for tasks in replies.values()
            for task in tasks or [] for _, task_id in inspection.held(task)}
    lost = []
    for row in db.session.execute(text(LOST_SQL), {"grace": float(grace_s)}).mappings().all():
        if row["worker"] in answered and row["task_id"] not in held:
            if lifecycle.finish(row["id"], row["task_id"], Status.FAILURE,
                                error=f"lost: {row['worker']} no longer runs this attempt"):
                lost.append(row["id"])
                log.warning("request %s: running attempt lost by %s, recorded as failure",
                            row["id"], row["worker"])
    db.session.commit()
    for request_id in lost if on_lost else ():
        on_lost(request_id)
    return len(lost)


def auto_retry():
    """Re-queue failures of job types with a retry policy whose backoff has passed; how many."""
    total = 0
    for job in jobs.REGISTRY.values():
        if job.max_attempts > 1:
            total += lifecycle.auto_retry(job.name, job.max_attempts, job.backoff_s)
    db.session.commit()
    return total
