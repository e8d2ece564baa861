"""Who is asking: session sign-in (Flask-Login), API bearer tokens, roles."""
import functools
import hashlib
import secrets
from datetime import datetime, timezone

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import abort, g, jsonify, request
from flask_login import current_user
from sqlalchemy import select, update

from .extensions import csrf, db, login_manager
from .models import ApiToken, User

hasher = PasswordHasher()
# Verified when the username is unknown, so both paths cost the same.
_DUMMY_HASH = hasher.hash("no such user")


def hash_password(password):
    """An argon2id hash of the password."""
    return hasher.hash(password)


def check_password(user, password):
    """True when `password` is the user's (constant work for unknown users)."""
    try:
        return hasher.verify(user.password_hash if user else _DUMMY_HASH, password) and bool(user)
    except (VerificationError, InvalidHashError):
        return False


def token_digest(token):
    """Tokens are stored as their SHA-256 (they are long random strings)."""
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(user, name=""):
    """Create an API token for `user`; the plain token is returned once, only its hash kept."""
    token = "rq_" + secrets.token_urlsafe(32)
    db.session.add(ApiToken(user_id=user.id, token_hash=token_digest(token), name=name[:80]))
    return token


def wants_json():
    """API paths answer JSON errors; pages answer HTML."""
    return request.path.startswith("/api/") or request.path in ("/metrics",)


def _bearer():
    """The bearer token in the Authorization header, or None."""
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip()
    return None


def init_app(app):
    """Loaders and the role/CSRF rules for API calls."""
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please sign in."
    login_manager.session_protection = "basic"

    @login_manager.user_loader
    def load_user(user_id):
        user = db.session.get(User, int(user_id)) if str(user_id).isdigit() else None
        return user if user and user.active else None

    @login_manager.request_loader
    def load_from_token(req):
        token = _bearer()
        if not token:
            return None
        row = db.session.execute(
            select(ApiToken).where(ApiToken.token_hash == token_digest(token),
                                   ApiToken.revoked_at.is_(None))).scalar_one_or_none()
        if row is None or not row.user.active:
            return None
        g.api_token = row
        db.session.execute(update(ApiToken).where(ApiToken.id == row.id)
                           .values(last_used_at=datetime.now(timezone.utc)))
        db.session.commit()
        return row.user

    @login_manager.unauthorized_handler
    def unauthorized():
        if wants_json():
            return jsonify(error="authentication required"), 401
        from flask import redirect, url_for
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))

    @app.before_request
    def csrf_for_sessions():
        """Token-authenticated API calls skip CSRF; browser-session calls do not."""
        if request.method in ("GET", "HEAD", "OPTIONS"):
            return
        if _bearer() is None and request.endpoint and request.blueprint == "api":
            csrf.protect()


def require_role(role):
    """View decorator: signed in (401/redirect) and at least `role` (403)."""

    def decorator(view):
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if not current_user.has_role(role):
                if wants_json():
                    return jsonify(error=f"forbidden: needs role {role}"), 403
                abort(403, description=f"This needs the {role} role.")
            return view(*args, **kwargs)
        return wrapped
    return decorator
