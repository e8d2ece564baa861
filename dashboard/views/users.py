"""The users page (admins): create, change role, disable, reset password, API tokens."""
import secrets
from datetime import datetime, timezone

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from dashboard import audit
from dashboard.extensions import db
from dashboard.models import ROLES, ApiToken, User
from dashboard.views.navigation import nav
from dashboard.web.auth import (
    USERNAME_RE,
    hash_password,
    issue_token,
    password_problem,
    require_role,
    sign_in,
)
from dashboard.web.words import role_label

bp = Blueprint("users", __name__)
nav("users.index", "Users", "admin")


def _page(status=200, error=None, secret=None, form=None):
    """The users page; `secret` (a new token or password) is shown this once, never stored."""
    users = db.session.execute(select(User).order_by(User.username)).scalars().all()
    tokens = db.session.execute(select(ApiToken).order_by(ApiToken.id.desc())).scalars().all()
    by_user = {}
    for token in tokens:
        by_user.setdefault(token.user_id, []).append(token)
    response = render_template("users.html", users=users, tokens=by_user, roles=ROLES,
                               error=error, secret=secret, form=form or {})
    return response, status, {"Cache-Control": "no-store"}


def _user(user_id):
    """The user, or a 404 page."""
    user = db.session.get(User, user_id)
    if user is None:
        abort(404, description=_("There is no user #%(user_id)s.", user_id=user_id))
    return user


def _refuse(message, status=422, **audit_fields):
    """Show the page again with the reason; the refusal is audited."""
    db.session.rollback()
    if audit_fields:
        audit.record(audit_fields.pop("action"), "refused", detail={"error": message,
                                                                   **audit_fields})
        db.session.commit()
    return _page(status, error=message, form=request.form)


def _would_leave_no_admin(user):
    """True when `user` is the only active admin. The active admins' rows are locked until
    the commit, so two admins demoting or disabling each other at once are decided one
    after the other: the second sees the first's change and is refused."""
    admins = db.session.execute(select(User.id).where(
        User.role == "admin", User.active.is_(True)).order_by(User.id)
        .with_for_update()).scalars().all()
    return admins == [user.id]


def _new_password():
    """The typed password, or a generated one (returned with a flag saying so)."""
    typed = request.form.get("password") or ""
    if typed:
        return typed, False
    return secrets.token_urlsafe(12), True


@bp.route("/users")
@require_role("admin")
def index():
    """Users, their roles, state and API tokens."""
    return _page()


@bp.route("/users", methods=["POST"])
@require_role("admin")
def create():
    """Create a user; a blank password is generated and shown once."""
    username = (request.form.get("username") or "").strip()
    role = request.form.get("role", "")
    if not USERNAME_RE.match(username):
        return _refuse(_("username: 1 to 80 letters, digits or . _ @ -, starting with a "
                          "letter or digit"), action="user_create", user=username[:80])
    if role not in ROLES:
        return _refuse(_("role: must be one of %(roles)s", roles=", ".join(ROLES)),
                       action="user_create",
                       user=username)
    if db.session.execute(select(User).where(User.username == username)).scalar_one_or_none():
        return _refuse(_("username: %(username)s already exists", username=username), 409,
                       action="user_create",
                       user=username)
    password, generated = _new_password()
    problem = password_problem(password)
    if problem:
        return _refuse(problem, action="user_create", user=username)
    db.session.add(User(username=username, role=role, password_hash=hash_password(password)))
    audit.record("user_create", "ok", detail={"user": username, "role": role})
    db.session.commit()
    if generated:
        return _page(201, secret={"what": _("Password for %(name)s", name=username),
                                   "value": password})
    flash(_("User %(username)s (%(role)s) created.", username=username, role=role_label(role)),
          "info")
    return redirect(url_for("users.index"), 303)


@bp.route("/users/<int:user_id>/role", methods=["POST"])
@require_role("admin")
def change_role(user_id):
    """Change a user's role (the last active admin stays admin)."""
    user, role = _user(user_id), request.form.get("role", "")
    if role not in ROLES:
        return _refuse(_("role: must be one of %(roles)s", roles=", ".join(ROLES)),
                       action="user_role",
                       user=user.username)
    if role != "admin" and _would_leave_no_admin(user):
        return _refuse(_("role: the last active admin cannot lose the admin role"), 409,
                       action="user_role", user=user.username)
    old, user.role = user.role, role
    audit.record("user_role", "ok", detail={"user": user.username, "from": old, "to": role})
    db.session.commit()
    flash(_("%(username)s is now %(role)s.", username=user.username, role=role_label(role)),
          "info")
    return redirect(url_for("users.index"), 303)


@bp.route("/users/<int:user_id>/active", methods=["POST"])
@require_role("admin")
def set_active(user_id):
    """Disable (sessions end, tokens stop working) or enable a user."""
    user, active = _user(user_id), request.form.get("active") == "1"
    action = "user_enable" if active else "user_disable"
    if not active and _would_leave_no_admin(user):
        return _refuse(_("the last active admin cannot be disabled"), 409, action=action,
                       user=user.username)
    user.active = active
    audit.record(action, "ok", detail={"user": user.username})
    db.session.commit()
    flash(_("%(username)s enabled.", username=user.username) if active
          else _("%(username)s disabled.", username=user.username), "info")
    return redirect(url_for("users.index"), 303)


@bp.route("/users/<int:user_id>/password", methods=["POST"])
@require_role("admin")
def reset_password(user_id):
    """Set a new password (blank: generated, shown once); the user's sessions end."""
    user = _user(user_id)
    password, generated = _new_password()
    problem = password_problem(password)
    if problem:
        return _refuse(problem, action="user_password", user=user.username)
    user.password_hash = hash_password(password)
    audit.record("user_password", "ok", detail={"user": user.username})
    db.session.commit()
    if user.id == current_user.id:
        sign_in(user)  # an admin resetting their own password stays signed in (a new session)
        db.session.commit()
    if generated:
        return _page(200, secret={"what": _("New password for %(name)s", name=user.username),
                                  "value": password})
    flash(_("Password of %(username)s changed.", username=user.username), "info")
    return redirect(url_for("users.index"), 303)


@bp.route("/users/<int:user_id>/tokens", methods=["POST"])
@require_role("admin")
def create_token(user_id):
    """A new API token for the user, shown once (only its hash is kept)."""
    user = _user(user_id)
    name = " ".join((request.form.get("name") or "").split())[:80].replace("\x00", "")
    token = issue_token(user, name or "web")
    audit.record("token_create", "ok", detail={"user": user.username, "name": name or "web"})
    db.session.commit()
    return _page(201, secret={"what": _("API token for %(name)s", name=user.username),
                              "value": token})


@bp.route("/users/<int:user_id>/tokens/<int:token_id>/revoke", methods=["POST"])
@require_role("admin")
def revoke_token(user_id, token_id):
    """Revoke a token: calls with it answer 401 from now on."""
    user = _user(user_id)
    token = db.session.get(ApiToken, token_id)
    if token is None or token.user_id != user.id:
        abort(404, description=_("%(username)s has no token #%(token_id)s.",
                                  username=user.username, token_id=token_id))
    if token.revoked_at is None:
        token.revoked_at = datetime.now(timezone.utc)
        audit.record("token_revoke", "ok", detail={"user": user.username, "token": token.id,
                                                   "name": token.name})
        db.session.commit()
    flash(_("Token #%(token_id)s of %(username)s revoked.", token_id=token_id,
             username=user.username), "info")
    return redirect(url_for("users.index"), 303)
