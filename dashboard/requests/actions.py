"""Operator actions on requests: retry, kill, and retry of every failure a filter matches.

Each action changes the row through `lifecycle`, writes its audit entry in the
same transaction and commits; kill then revokes the task through Celery.
"""
import logging

from flask import current_app

from dashboard import audit, lifecycle
from dashboard.extensions import db
from dashboard.lifecycle import Status

log = logging.getLogger(__name__)


def kill(request_id, by):
    """Kill a request: record `killed` first, then revoke its task; None when not killable."""
    old = lifecycle.kill(request_id, by)
    audit.record("kill", "ok" if old else "refused", request_id=request_id)
    db.session.commit()
    if old is None:
        return None
    revoke(old)
    return old


def revoke(*olds):
    """Stop the tasks of requests just recorded as killed (their old rows: status, task_id).

    One broadcast for the pending ones, one (terminating) for the running ones.
    """
    control = current_app.extensions["celery"].control
    pending = [o["task_id"] for o in olds if o["status"] == Status.PENDING and o["task_id"]]
    running = [o["task_id"] for o in olds if o["status"] == Status.RUNNING and o["task_id"]]
    try:
        if pending:
            control.revoke(pending if len(pending) > 1 else pending[0])
        if running:
            control.revoke(running if len(running) > 1 else running[0], terminate=True,
                           signal="SIGKILL")
    except Exception as exc:  # broker away: the row says killed, so the task will not start
        log.error("revoke of requests %s (tasks %s) failed: %s: %s", [o["id"] for o in olds],
                  pending + running, exc.__class__.__name__, exc)


def retry(request_id, by):
    """Retry a failure/timeout/killed request as a new attempt; False when not retryable."""
    ok = lifecycle.retry(request_id, by)
    audit.record("retry", "ok" if ok else "refused", request_id=request_id)
    db.session.commit()
    return ok


def retry_failed(by, filters):
    """Retry every failed request matching the list's filters (queries.Filters); returns
    how many.

    The audit entry keeps the filters as the list's URL gives them.
    """
    n = lifecycle.retry_failed(by, **filters.values())
    audit.record("retry_failed", f"retried {n}", detail=filters.args())
    db.session.commit()
    return n
