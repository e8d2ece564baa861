"""A user's own settings (every role): the language the dashboard speaks to them."""
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import refresh
from flask_login import current_user

from dashboard import audit
from dashboard.extensions import db
from dashboard.i18n import LANGUAGES
from dashboard.web.auth import require_role

bp = Blueprint("account", __name__)
BROWSER = ""  # the form's value for "follow the browser's Accept-Language" (stored as NULL)


def _page(status=200, error=None):
    """The settings page, with the reason when a change was refused."""
    body = render_template("account.html", languages=LANGUAGES, browser=BROWSER, error=error)
    return body, status, {"Cache-Control": "no-store"}


@bp.route("/account")
@require_role("viewer")
def index():
    """The signed-in user's settings."""
    return _page()


@bp.route("/account/language", methods=["POST"])
@require_role("viewer")
def set_language():
    """Store the user's language ('en', 'ko', or '' for the browser's); audited."""
    chosen = request.form.get("locale", "")
    if chosen != BROWSER and chosen not in LANGUAGES:
        audit.record("user_language", "refused", detail={"locale": chosen[:16]})
        db.session.commit()
        return _page(422, error=_("locale: must be one of %(choices)s, or empty for the"
                                  " browser's language", choices=", ".join(LANGUAGES)))
    before = current_user.locale
    current_user.locale = chosen or None
    audit.record("user_language", "ok", detail={"user": current_user.username,
                                                "from": before, "to": chosen or None})
    db.session.commit()
    refresh()  # this response already speaks the new language
    flash(_("Language saved."), "info")
    return redirect(url_for("account.index"), 303)
