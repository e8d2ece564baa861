"""Sign-in and sign-out pages."""
from datetime import datetime, timezone
from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import login_required, login_user, logout_user
from sqlalchemy import select

from .. import audit
from ..auth import check_password
from ..extensions import db, limiter
from ..models import User

bp = Blueprint("auth", __name__)


def _safe_next(target):
    """Only same-site relative paths are followed after sign-in."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


def _username_key():
    """Rate-limit key: the username being tried."""
    return "user:" + (request.form.get("username", "") or "").strip().lower()[:80]


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], methods=["POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], methods=["POST"],
               key_func=_username_key)
def login():
    """Show the sign-in form; sign in on POST."""
    if request.method == "POST":
        username = (request.form.get("username") or "").strip()[:80]
        password = request.form.get("password") or ""
        user = db.session.execute(select(User).where(User.username == username)).scalar_one_or_none()
        if check_password(user, password) and user.active:
            login_user(user)
            user.last_login_at = datetime.now(timezone.utc)
            audit.record("sign_in", "ok", username=username)
            db.session.commit()
            return redirect(_safe_next(request.args.get("next")) or url_for("requests.index"))
        audit.record("sign_in", "failed", username=username)
        db.session.commit()
        flash("Wrong username or password.", "error")
        return render_template("login.html", username=username), 401
    return render_template("login.html", username="")


@bp.route("/logout", methods=["GET", "POST"])
@login_required
def logout():
    """Sign out and go to the sign-in page."""
    logout_user()
    flash("Signed out.", "info")
    return redirect(url_for("auth.login"))
