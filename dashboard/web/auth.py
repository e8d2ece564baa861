"""Who is asking: session sign-in (Flask-Login), API bearer tokens, roles."""
import functools
import hashlib
import re
import secrets
from datetime import datetime, timezone
from urllib.parse import urlsplit

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import abort, g, jsonify, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select, update

from dashboard import audit
from dashboard.extensions import csrf, db, login_manager
from dashboard.models import ApiToken
from dashboard.web import htmx, redirects, sessions

# argon2id with OWASP's recommended minimum (19 MiB, 2 passes): argon2-cffi's
# default of 64 MiB per hash took gunicorn workers past 1 GB when 50 people
# signed in at once. Older hashes keep their own parameters and still verify.
hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
# Verified when the username is unknown, so both paths cost the same.
_DUMMY_HASH = hasher.hash("no such user")
MIN_PASSWORD = 8
USERNAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,79}$")


def hash_password(password):
    """An argon2id hash of the password."""
    return hasher.hash(password)


def check_password(user, password):
    """True when `password` is the user's (constant work for unknown users)."""
    try:
        return hasher.verify(user.password_hash if user else _DUMMY_HASH, password) and bool(user)
    except (VerificationError, InvalidHashError):
        return False


def password_problem(password):
    """Why a new password is refused, or None."""
    if len(password) < MIN_PASSWORD:
        return _("password: must be at least %(n)s characters", n=MIN_PASSWORD)
    if len(password) > 1024 or "\x00" in password:
        return _("password: at most 1024 characters, no NUL")
    return None


def token_digest(token):
    """Tokens are stored as their SHA-256 (they are long random strings)."""
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def issue_token(user, name=""):
    """Create an API token for `user`; the plain token is returned once, only its hash kept."""
    token = "rq_" + secrets.token_urlsafe(32)
    db.session.add(ApiToken(user_id=user.id, token_hash=token_digest(token), name=name[:80]))
    return token


def sign_in(user):
    """Start a browser session for `user` (a fresh session: no fixation); the caller commits."""
    sessions.start(user)


def wants_json():
    """API paths answer JSON errors; pages answer HTML."""
    path = request.path
    return path.startswith("/api/") or path.startswith("/flower/api/") or path == "/metrics"


def bearer():
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
        """The session's user: active, with a session row that is still there."""
        if bearer() is not None:
            return None  # a request carrying a token is judged by the token alone
        return sessions.load_user(user_id)

    @login_manager.request_loader
    def load_from_token(req):
        """The user of an unrevoked API token (the user must be active)."""
        token = bearer()
        if not token or len(token) > 200:
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
        """401 JSON for API calls, the sign-in page for browsers."""
        if wants_json():
            return jsonify(error="authentication required: sign in or send"
                                 " 'Authorization: Bearer <token>'"), 401, \
                {"WWW-Authenticate": 'Bearer realm="dashboard"'}
        if htmx.is_htmx():
            # A poll after the session ended: htmx loads the sign-in page as a whole page
            # (a redirect would be followed and the sign-in page swapped into the fragment).
            page = urlsplit(request.headers.get("HX-Current-URL", ""))
            back = page.path + (f"?{page.query}" if page.query else "")
            return "", 401, {"HX-Redirect": url_for("auth.login", next=redirects.safe_next(back))}
        here = redirects.safe_next(request.full_path.rstrip("?"))
        return redirect(url_for("auth.login", next=here))

    @app.before_request
    def csrf_for_sessions():
        """Token-authenticated API calls skip CSRF; browser-session calls do not."""
        if request.method in ("GET", "HEAD", "OPTIONS") or request.blueprint != "api":
            return
        if bearer() is None and current_user.is_authenticated:
            csrf.protect()


def refuse(role):
    """403 for a signed-in user without `role` (JSON for the API, a page otherwise)."""
    if request.method not in ("GET", "HEAD"):
        audit.record_now(audit.action_for(request.endpoint), "forbidden",
                         request_id=(request.view_args or {}).get("request_id"),
                         detail={"needs": role})
    if wants_json():
        return jsonify(error=f"forbidden: this needs the {role} role"), 403
    abort(403, description=_("This needs the %(role)s role.", role=role))


def require_role(role):
    """View decorator: signed in (401/redirect) and at least `role` (403)."""

    def decorator(view):
        """Wrap `view`."""
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            """401/redirect, 403, or the view."""
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if not current_user.has_role(role):
                return refuse(role)
            return view(*args, **kwargs)
        return wrapped
    return decorator
