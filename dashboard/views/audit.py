"""The audit page: who did what, filtered by action, user, request and outcome."""
import re

from flask import Blueprint, render_template, request
from flask_babel import gettext as _

from dashboard import audit
from dashboard.views.navigation import nav
from dashboard.web.auth import require_role

bp = Blueprint("audit", __name__)
nav("audit.index", "Audit", "operator")
PAGE = 100
_ID = re.compile(r"^[0-9]{1,18}$")


def _filters():
    """(filters for audit.entries, the args to keep in links, errors)."""
    args, errors, found = request.args, [], {}
    for key in ("action", "user", "outcome"):
        value = (args.get(key) or "").replace("\x00", "").strip()[:80]
        if value:
            found[key] = value
    for key in ("request_id", "before"):
        value = (args.get(key) or "").strip()
        if value and not _ID.match(value):
            errors.append(_("%(key)s: must be a number", key=key))
        elif value:
            found[key] = value
    return found, errors


@bp.route("/audit")
@require_role("operator")
def index():
    """The newest entries first, 100 a page."""
    found, errors = _filters()
    rows = [] if errors else audit.entries(
        action=found.get("action"), username=found.get("user"), outcome=found.get("outcome"),
        request_id=int(found["request_id"]) if "request_id" in found else None,
        before=int(found["before"]) if "before" in found else None, limit=PAGE + 1)
    more = len(rows) > PAGE
    rows = rows[:PAGE]
    keep = {k: v for k, v in found.items() if k != "before"}
    return render_template("audit.html", rows=rows, filters=found, keep=keep, errors=errors,
                           actions=audit.ACTIONS, older=rows[-1].id if more else None)
