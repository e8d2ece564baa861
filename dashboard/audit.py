"""The audit log: who did what to which request, when, from where, with what outcome."""
import logging
import math

from flask import g, has_request_context, request
from flask_login import current_user
from sqlalchemy import select

from dashboard.extensions import db
from dashboard.models import AuditEntry

log = logging.getLogger(__name__)
BIGINT_MAX = 2 ** 63 - 1
ACTIONS = ("sign_in", "sign_out", "submit", "retry", "retry_failed", "kill", "user_create",
           "user_role", "user_disable", "user_enable", "user_password", "token_create",
           "token_revoke", "csrf_failed", "forbidden", "flower", "notify", "schedule_create",
           "schedule_update", "schedule_delete", "schedule_run", "retention", "bulk_retry",
           "bulk_kill", "rerun", "submit_batch",
           "worker_pause", "worker_resume", "worker_grow", "worker_shrink", "worker_restart",
           "worker_shutdown", "workers_pause_all", "workers_resume_all", "process_start",
           "process_stop", "process_restart", "job_type_change", "export_csv",
           "alert_create", "alert_update", "alert_delete", "alert_ack", "alert_notify",
           "user_language")


def _clean(value):
    """Text PostgreSQL accepts (no NUL), recursively; long strings capped."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")[:2000]
    if isinstance(value, dict):
        return {_clean(str(k)): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def _who():
    """The signed-in user's name, or None."""
    try:
        return current_user.username if current_user and current_user.is_authenticated else None
    except Exception:  # no user loader reachable (e.g. the database is down)
        return None


def record(action, outcome, request_id=None, username=None, detail=None):
    """Add an audit entry to the session (committed with the caller's transaction)."""
    address, detail = None, dict(detail or {})
    if has_request_context():
        address = request.remote_addr
        username = username if username is not None else _who()
        detail.setdefault("http", f"{request.method} {request.path}"[:300])
        token = g.get("api_token")
        detail.setdefault("via", f"token {token.id}" if token is not None else "session")
    if request_id is not None and not 0 <= int(request_id) <= BIGINT_MAX:
        detail["request_id"], request_id = str(request_id)[:40], None
    db.session.add(AuditEntry(
        action=str(action)[:40], outcome=_clean(str(outcome))[:40], request_id=request_id,
        username=_clean(username)[:80] if username else None,
        address=(address or "")[:64] or None, detail=_clean(detail) or None))


def record_now(action, outcome, **kw):
    """Record and commit at once, in a fresh transaction (errors are logged, never raised)."""
    try:
        db.session.rollback()
        record(action, outcome, **kw)
        db.session.commit()
    except Exception:
        db.session.rollback()
        log.exception("could not write the audit entry %s/%s", action, outcome)


def refused(action, message, username=None):
    """Audit a refused change, after rolling back whatever the change had begun."""
    db.session.rollback()
    record(action, "refused", username=username, detail={"error": message[:500]})
    db.session.commit()


def entries(action=None, username=None, request_id=None, outcome=None, before=None, limit=100):
    """Newest entries first, filtered; `before` is an id cursor."""
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if action:
        query = query.where(AuditEntry.action == action)
    if username:
        query = query.where(AuditEntry.username == username)
    if request_id is not None:
        query = query.where(AuditEntry.request_id == request_id)
    if outcome:
        query = query.where(AuditEntry.outcome == outcome)
    if before is not None:
        query = query.where(AuditEntry.id < before)
    return db.session.execute(query).scalars().all()


def action_for(endpoint):
    """The audit action of a view (`api.kill` and `requests.kill` are both `kill`)."""
    name = (endpoint or "").rsplit(".", 1)[-1]
    return ({"create": "submit", "new": "submit", "batch_json": "submit_batch"}.get(name, name)
            or "unknown")
