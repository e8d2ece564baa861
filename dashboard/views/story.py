"""A request's story as pages: live log lines, the re-run form, bulk actions, its file.

The JSON routes are in views/api/requests.py; the page routes join the
`requests` blueprint."""
import tempfile

from flask import (
    abort,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required

from dashboard import joblog, jobs, uploads
from dashboard.errors import Refused
from dashboard.lifecycle import ACTIVE, TERMINAL
from dashboard.requests import bulk, listing
from dashboard.views.api.requests import ID_PATTERN, log_query, rerun
from dashboard.views.requests import bp as pages
from dashboard.web import body_caps, htmx
from dashboard.web.auth import require_role
from dashboard.web.redirects import safe_next
from dashboard.web.words import status_label


@pages.app_template_global()
def bulk_matching_count(filters):
    """How many requests "all matching this filter" would act on (at most bulk.MAX_IDS)."""
    return len(bulk.matching_ids(filters))


@pages.route("/requests/<int:request_id>/log-lines")
@login_required
def log_lines(request_id):
    """htmx: the log lines after the cursor (only the new ones), then the element that asks again.

    `reset=1` renders the list from the start (attempt or level changed).
    """
    try:
        attempt, after, level, limit = log_query()
    except ValueError as exc:
        abort(422, description=str(exc))
    row = listing.get_request(request_id)
    if row is None:
        abort(404, description=_("There is no request #%(request_id)s.", request_id=request_id))
    lines, cursor = joblog.lines(request_id, attempt, after, level, limit)
    live = row["status"] in ACTIVE or len(lines) == limit
    if not lines and live and not request.args.get("reset"):
        return htmx.unchanged()
    return htmx.no_store(make_response(render_template(
        "requests/_log_lines.html", r=row, lines=lines, cursor=cursor, attempt=attempt,
        level=level, live=live)), vary=False)


@pages.route("/requests/<int:request_id>/rerun", methods=["GET", "POST"])
@body_caps.accepts_upload
@require_role("operator")
def rerun_page(request_id):
    """The re-run form, pre-filled with the request's params; POST lands on the new request."""
    parent = listing.get_request(request_id)
    if parent is None:
        abort(404, description=_("There is no request #%(request_id)s.", request_id=request_id))
    if parent["status"] not in TERMINAL:
        flash(_("Request #%(request_id)s is %(status)s: only finished requests can be re-run.",
                 request_id=request_id, status=status_label(parent["status"])), "error")
        return redirect(url_for("requests.detail", request_id=request_id), 303)
    if request.method == "POST":
        try:
            child = rerun(parent)
        except Refused as exc:
            return render_template("requests/rerun.html", r=parent, error=exc.message,
                                   params_text=request.form.get("params", "")), exc.status
        flash(_("Request #%(child)s submitted as a re-run of #%(request_id)s.", child=child,
                 request_id=request_id), "info")
        return redirect(url_for("requests.detail", request_id=child), 303)
    return render_template("requests/rerun.html", r=parent, error=None,
                           params_text=None)


@pages.route("/requests/bulk", methods=["POST"])
@require_role("operator")
def bulk_page():
    """The list's bulk form: the ticked ids, or every request matching the filter (capped)."""
    action = request.form.get("action", "")
    if request.form.get("all_matching") == "1":
        ids = bulk.matching_ids(listing.Filters(request.form, jobs.REGISTRY))
    else:
        ids = [int(i) for i in request.form.getlist("ids") if ID_PATTERN.match(i)]
    try:
        action, ids = bulk.parse({"action": action, "ids": ids})
    except Refused as exc:
        flash(exc.message, "error")
        return redirect(url_for("requests.index"), 303)
    outcome = bulk.run(action, ids, current_user.username)
    counts = {"done": len(outcome["done"]), "n": len(ids)}
    message = (_("Retried %(done)s of %(n)s requests", **counts) if action == "retry" else
               _("Killed %(done)s of %(n)s requests", **counts))
    if outcome["refused"]:
        message += "; " + _("%(n)s refused (%(which)s)", n=len(outcome["refused"]), which=", ".join(
            f"#{r['id']} {r['reason']}" for r in outcome["refused"][:5])
            + (", …" if len(outcome["refused"]) > 5 else ""))
    flash(message + ".", "info" if outcome["done"] else "error")
    return redirect(safe_next(request.form.get("next"), url_for("requests.index")), 303)


@pages.route("/requests/<int:request_id>/file")
@login_required
def download(request_id):
    """The request's uploaded file, for signed-in users, under its sanitized name."""
    row = listing.get_request(request_id)
    meta = uploads.meta(row["upload_id"]) if row is not None else None
    if meta is None:
        abort(404, description=_("Request #%(request_id)s has no file.", request_id=request_id))
    spool = tempfile.TemporaryFile()  # streamed from disk, not held in memory; closed by send_file
    uploads.copy_to(row["upload_id"], spool)
    spool.seek(0)
    response = send_file(spool, mimetype="application/octet-stream", as_attachment=True,
                         download_name=meta["safe_name"], conditional=False, etag=False)
    response.headers["Cache-Control"] = "private, no-store"
    return response
