"""Sign-in and sign-out pages."""
from datetime import datetime, timezone

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from dashboard import audit
from dashboard.extensions import db, limiter
from dashboard.models import User
from dashboard.web import sessions, throttle
from dashboard.web.auth import check_password, sign_in
from dashboard.web.redirects import safe_next

bp = Blueprint("auth", __name__)


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(throttle.per_address, methods=["POST"])
@limiter.limit(throttle.per_address_and_user, methods=["POST"],
               key_func=throttle.address_and_user_key, deduct_when=throttle.failed)
@limiter.limit(throttle.per_user, methods=["POST"], key_func=throttle.user_key,
               deduct_when=throttle.first_failure_from_address,
               exempt_when=throttle.known_device)
def login():
    """Show the sign-in form; sign in on POST."""
    if request.method == "POST":
        username = throttle.typed_username()
        password = request.form.get("password") or ""
        user = db.session.execute(
            select(User).where(User.username == username)).scalar_one_or_none() \
            if username else None
        if check_password(user, password[:1024]) and user.active:
            sign_in(user)
            user.last_login_at = datetime.now(timezone.utc)
            audit.record("sign_in", "ok", username=username)
            db.session.commit()
            return throttle.remember_device(redirect(
                safe_next(request.args.get("next"), url_for("requests.index"))), username)
        reason = ("unknown user" if user is None else
                  "disabled" if not user.active and check_password(user, password[:1024]) else
                  "wrong password")
        audit.record("sign_in", "failed", username=username or None, detail={"reason": reason})
        db.session.commit()
        flash(_("Wrong username or password."), "error")
        return render_template("login.html", username=username), 401
    return render_template("login.html", username="")


@bp.route("/logout", methods=["GET", "POST"])
def logout():
    """Sign out: POST (the top bar's button, with its CSRF token), or GET when typed/followed
    on this site or sent by a script; a GET another site triggers only gets a confirm page."""
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login"))
    fetched_by = request.headers.get("Sec-Fetch-Site", "none")
    if request.method == "GET" and fetched_by not in ("none", "same-origin"):
        return render_template("logout.html")
    audit.record("sign_out", "ok")
    sessions.end()
    db.session.commit()
    flash(_("Signed out."), "info")
    return redirect(url_for("auth.login"))
