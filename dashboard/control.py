"""Operator actions on requests (retry, kill) and the reaper of lost attempts.

Worker inspection and the queue depth live in dashboard.inspection."""
import logging

from flask import current_app
from sqlalchemy import text

from . import audit, lifecycle
from .extensions import db
from .lifecycle import Status

log = logging.getLogger(__name__)
QUEUE = "requests"


def _celery():
    return current_app.extensions["celery"]


def kill(request_id, by):
    """Kill a request: record `killed` first, then revoke its task; None when not killable."""
    old = lifecycle.kill(request_id, by)
    audit.record("kill", "ok" if old else "refused", request_id=request_id)
    db.session.commit()
    if old is None:
        return None
    try:
        if old["status"] == Status.PENDING:
            _celery().control.revoke(old["task_id"])
        elif old["status"] == Status.RUNNING:
            _celery().control.revoke(old["task_id"], terminate=True, signal="SIGKILL")
    except Exception as exc:  # broker away: the row says killed, so the task will not start
        log.error("revoke of request %s (task %s) failed: %s: %s", request_id, old["task_id"],
                  exc.__class__.__name__, exc)
    return old


def retry(request_id, by):
    """Retry a failure/timeout/killed request as a new attempt; False when not retryable."""
    ok = lifecycle.retry(request_id, by)
    audit.record("retry", "ok" if ok else "refused", request_id=request_id)
    db.session.commit()
    return ok


def retry_failed(by, where="true", **params):
    """Retry every failed request matching a filter; returns how many."""
    n = lifecycle.retry_failed(by, where, **params)
    audit.record("retry_failed", f"retried {n}", detail={"where": where, **params})
    db.session.commit()
    return n


LOST_SQL = """
SELECT id, task_id, worker FROM requests
WHERE status = 'running' AND started_at < now() - make_interval(secs => :grace)
ORDER BY id LIMIT 1000
"""


def reap_lost(grace_s=30.0, timeout=1.0):
    """End as `failure` running attempts that their (answering) worker no longer holds.

    That happens when a job failed while PostgreSQL was away: the failure could
    not be written and the message was acknowledged. Workers are asked first,
    then the rows, and only attempts started `grace_s` before are considered, so
    a task that is just starting is never taken for lost. Returns how many.
    """
    inspect = _celery().control.inspect(timeout=timeout)
    active, reserved = inspect.active() or {}, inspect.reserved() or {}
    answered = set(active) & set(reserved)
    held = {task.get("id") for replies in (active, reserved)
            for tasks in replies.values() for task in tasks or []}
    lost = 0
    for row in db.session.execute(text(LOST_SQL), {"grace": float(grace_s)}).mappings().all():
        if row["worker"] in answered and row["task_id"] not in held:
            if lifecycle.finish(row["id"], row["task_id"], Status.FAILURE,
                                error=f"lost: {row['worker']} no longer runs this attempt"):
                lost += 1
                log.warning("request %s: running attempt lost by %s, recorded as failure",
                            row["id"], row["worker"])
    db.session.commit()
    return lost
