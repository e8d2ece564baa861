"""The audit log: who did what to which request, when, from where, with what outcome."""
from flask import has_request_context, request
from flask_login import current_user

from .extensions import db
from .models import AuditEntry


def record(action, outcome, request_id=None, username=None, detail=None):
    """Add an audit entry to the session (committed with the caller's transaction)."""
    address = None
    if has_request_context():
        address = request.remote_addr
        if username is None and current_user and current_user.is_authenticated:
            username = current_user.username
    db.session.add(AuditEntry(action=action, outcome=str(outcome)[:40], request_id=request_id,
                              username=username, address=address, detail=detail))
