"""Sign-in sessions kept in PostgreSQL, so signing out and account changes end them.

The signed session cookie carries a random session id; `user_sessions` keeps its
SHA-256. A session counts while its row exists and is younger than Flask's
PERMANENT_SESSION_LIFETIME. Sign-out deletes the row; a trigger (in the baseline migration)
deletes every row of a user whose password, role or active flag changes, so a saved
cookie replayed afterwards signs nobody in.
"""
import hashlib
import secrets
from datetime import datetime, timezone

from flask import current_app, g, request, session
from flask_login import login_user, logout_user
from sqlalchemy import delete, literal_column, select

from dashboard.extensions import db, outside_transaction
from dashboard.models import User, UserSession
from dashboard.requests.listing import POLL_STATE_SQL

SESSION_KEY = "_sid"


def _digest(session_id):
    """What the table keeps of a session id."""
    return hashlib.sha256(session_id.encode("ascii", "replace")).hexdigest()


def start(user):
    """A fresh session for `user` (no fixation); the caller commits."""
    session.clear()
    login_user(user)
    session_id = secrets.token_urlsafe(32)
    session[SESSION_KEY] = session_id
    oldest = datetime.now(timezone.utc) - current_app.permanent_session_lifetime
    db.session.execute(delete(UserSession).where(UserSession.created_at < oldest))
    db.session.add(UserSession(id_hash=_digest(session_id), user_id=user.id,
                               address=(request.remote_addr or "")[:64] or None))


def end():
    """Sign out this browser: its row is deleted (the caller commits) and the cookie emptied."""
    session_id = session.get(SESSION_KEY)
    if isinstance(session_id, str):
        db.session.execute(delete(UserSession).where(UserSession.id_hash == _digest(session_id)))
    logout_user()
    session.clear()


def load_user(user_id):
    """The active user whose session row this cookie names, or None.

    One round trip, which also reads what the live poll compares (queries.poll_state).
    """
    session_id, user_id = session.get(SESSION_KEY), str(user_id)
    if not (isinstance(session_id, str) and user_id.isascii() and user_id.isdecimal()
            and len(user_id) < 10):
        return None
    oldest = datetime.now(timezone.utc) - current_app.permanent_session_lifetime
    row = db.session.execute(
        select(User, literal_column(f"({POLL_STATE_SQL})"))
        .join(UserSession, UserSession.user_id == User.id)
        .where(User.id == int(user_id), UserSession.id_hash == _digest(session_id),
               UserSession.created_at >= oldest),
        bind_arguments=outside_transaction()).first()
    if row is None or not row[0].active:
        return None
    g.poll_state = row[1]
    return row[0]
