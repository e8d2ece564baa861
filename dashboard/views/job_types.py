"""The job types page: each type's declaration, limits, counts, run times and the workers
consuming its queue, a "New request" link, and for admins a form to change its limits."""
import re

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from dashboard.errors import Refused
from dashboard.jobs import catalog, limit_changes
from dashboard.views.navigation import nav
from dashboard.web.auth import require_role

bp = Blueprint("job_types", __name__)
nav("job_types.index", "Job types")

INTEGER = re.compile(r"^-?[0-9]{1,12}$")
PAUSED = {"": None, "yes": True, "no": False}


def _page(status=200, error=None, failed=None, form=None):
    """The page; `error` shown next to the form of job type `failed`."""
    return render_template("job_types.html", types=catalog.entries(), error=error,
                           failed=failed, form=form or {}, stored=limit_changes.stored_all()), \
        status, {"Cache-Control": "no-store"}


def _from_form(form):
    """The form's fields as a change: an empty field is the declared value (None), a
    whole number is a number; anything else goes on as typed, for change() to refuse."""
    changes = {}
    for key in ("priority", "max_running", "rate_per_min"):
        raw = (form.get(key) or "").strip()
        changes[key] = None if raw == "" else int(raw) if INTEGER.match(raw) else raw
    raw = form.get("paused") or ""
    changes["paused"] = PAUSED.get(raw, raw)
    return changes


@bp.route("/job-types")
@require_role("viewer")
def index():
    """Every job type with its limits and numbers."""
    return _page()


@bp.route("/job-types/<name>", methods=["POST"])
@require_role("admin")
def job_type_change(name):
    """Store the form's limits for job type `name` (an empty field: the declared value)."""
    try:
        limit_changes.change(name, _from_form(request.form), current_user.username)
    except Refused as exc:
        if exc.status == 404:
            abort(404, description=exc.message)
        return _page(exc.status, error=exc.message, failed=name, form=request.form)
    flash(_("Limits of %(name)s saved.", name=name), "info")
    return redirect(url_for("job_types.index", _anchor=f"type-{name}"), 303)
