"""Dashboard pages: the live requests list, the submit form, a request's page, actions."""
import time

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_required

from dashboard import audit, jobs, submission
from dashboard.errors import Refused
from dashboard.extensions import db
from dashboard.lifecycle import ACTIVE, KILLABLE, RETRYABLE
from dashboard.models import Artifact
from dashboard.requests import actions, export, listing, timeline
from dashboard.volumes import viewer
from dashboard.web import body_caps, htmx, param_form
from dashboard.web.auth import require_role
from dashboard.web.redirects import safe_next
from dashboard.web.words import status_label

bp = Blueprint("requests", __name__)


def _poll_token(version, in_flight=frozenset()):
    """The token a partial embeds: the version it shows, when it was rendered and the
    transactions still in progress then ("V-T" or "V-T-xid.xid"); their changes may be
    missing from the page, so the poll after any of them ends renders again."""
    token = f"{version}-{int(time.time())}"
    if len(in_flight) > listing.MAX_IN_FLIGHT:
        return f"0-{int(time.time())}"  # too many to list: the next poll renders again
    return token + ("-" + ".".join(str(x) for x in sorted(in_flight)) if in_flight else "")


def _unchanged(version, state=None):
    """True when the poll's token still matches (and is recent): answer 204, no body.

    For the list, `state` (listing.poll_state) says which transactions are running now:
    every one the token lists must still be, or a change its page could not show may have
    committed since.
    """
    seen, _, rest = request.args.get("since", "").partition("-")
    at, _, listed = rest.partition("-")
    if not (seen + at + listed.replace(".", "")).isascii() or not seen.isdigit() \
            or not at.isdigit() or not all(x.isdigit() for x in listed.split(".") if listed):
        return False
    listed = {int(x) for x in listed.split(".")} if listed else set()
    fresh = time.time() - int(at) < 10 * current_app.config["POLL_INTERVAL_S"]
    still_running = not listed or (state is not None and all(map(state.running, listed)))
    return int(seen) == version and fresh and still_running


@bp.route("/")
@login_required
def index():
    """The requests list, live."""
    filters = listing.Filters(request.args, jobs.REGISTRY)
    after = request.args.get("after", "")
    after = int(after) if after.isascii() and after.isdigit() else None
    state = listing.poll_state()
    if htmx.is_htmx() and _unchanged(state.version, state):
        return htmx.unchanged()
    in_flight = listing.in_flight()  # read before the rows: see listing.in_flight
    if filters.errors:
        rows, next_cursor = [], None
    else:
        rows, next_cursor = listing.list_requests(filters, after=after)
    response = htmx.page_or_partial(
        "requests/index.html", "requests/_list.html", rows=rows, filters=filters,
        counts=listing.counts(), next_cursor=next_cursor, after=after,
        token=_poll_token(state.version, in_flight), job_types=jobs.REGISTRY,
        workers=[] if htmx.is_htmx() else listing.recent_workers(),
        export_max_rows=current_app.config.get("EXPORT_MAX_ROWS", export.MAX_ROWS),
        polling=not filters.errors and (after is None or any(r["status"] in ACTIVE
                                                             for r in rows)))
    if filters.errors:
        response.status_code = 422  # the page says which field, above the empty table
    return response


@bp.route("/requests.csv")
@login_required
def export_csv():
    """The rows the list's filter shows, as CSV, streamed in the list's order (capped)."""
    filters = listing.Filters(request.args, jobs.REGISTRY)
    if filters.errors:
        return Response("; ".join(filters.errors) + "\n", 422, mimetype="text/plain")
    max_rows = current_app.config.get("EXPORT_MAX_ROWS", export.MAX_ROWS)
    audit.record("export_csv", "ok", detail={"filters": filters.args(), "max_rows": max_rows})
    db.session.commit()
    name = f"requests-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}.csv"
    return Response(export.csv_chunks(current_app._get_current_object(), filters, max_rows),
                    mimetype="text/csv", headers={
                        "Content-Disposition": f'attachment; filename="{name}"',
                        "X-Export-Max-Rows": str(max_rows), "Cache-Control": "no-store"})


@bp.route("/requests/new", methods=["GET", "POST"])
@body_caps.accepts_upload
@require_role("operator")
def new():
    """The submit form (fields from the job type's schema); POST stores the request and
    goes to its page, or shows the form again with the error next to its field."""
    values = request.form if request.method == "POST" else request.args
    job_type = values.get("job_type", "simulate")
    if request.method == "POST":
        raw = request.form.get("params", "")
        try:
            job = jobs.get(job_type)
            params = raw if raw.strip() else param_form.params_from_form(job, request.form)
            request_id = submission.submit(
                job_type, params, request.files.get("file"),
                current_user.username, current_app.config["MAX_UPLOAD_MB"] * 1024 * 1024,
                priority=submission.parse_priority(request.form.get("priority")))
        except Refused as exc:
            submission.refused(exc.message)
            return _new_form(job_type, request.form, exc.message, raw=bool(raw.strip())), \
                exc.status
        flash(_("Request #%(request_id)s submitted.", request_id=request_id), "info")
        page = url_for("requests.detail", request_id=request_id)
        if request.headers.get("X-Requested-With") == "XMLHttpRequest":  # static/upload.js
            return jsonify(id=request_id, url=page), 201
        return redirect(page)
    return _new_form(job_type, None, None)


@bp.route("/requests/new/fields")
@require_role("operator")
def new_fields():
    """htmx: the parameter fields of the chosen job type (the form swaps them in)."""
    job = jobs.REGISTRY.get(request.args.get("job_type", ""))
    if job is None:
        abort(404, description=_("job_type: unknown job type"))
    return render_template("requests/_param_fields.html", job=job,
                           fields=param_form.fields(job))


def _new_form(job_type, form, error, raw=False):
    """The new-request page; `error` shown next to its field (or the raw JSON box/file)."""
    job = jobs.REGISTRY.get(job_type) or jobs.REGISTRY["simulate"]
    shown = param_form.fields(job, form)
    placed = None
    if error:
        field_name, _ = param_form.error_field(error)
        if raw and field_name is not None:
            placed = "params"
        elif param_form.with_error(shown, error):
            placed = "field"
        else:
            placed = error.split(":", 1)[0] if error.split(":", 1)[0] in (
                "file", "job_type", "priority") else "params"
    return render_template("requests/new.html", job_types=jobs.REGISTRY, job=job,
                           fields=shown, error=error, error_at=placed, form=form or {})


@bp.route("/requests/<int:request_id>")
@login_required
def detail(request_id):
    """A request's page, live until it is finished."""
    row = listing.get_request(request_id)
    if row is None:
        abort(404, description=_("There is no request #%(request_id)s.", request_id=request_id))
    if htmx.is_htmx() and _unchanged(row["version"]):
        return htmx.unchanged()
    return htmx.page_or_partial(
        "requests/detail.html", "requests/_detail.html", r=row,
        attempts=listing.attempts(request_id),
        artifacts=listing.artifacts(request_id, row["attempt"]),
        volume=viewer.describe(request_id) if row["status"] == "success" else None,
        token=_poll_token(row["version"]), polling=row["status"] in ACTIVE,
        **timeline.page_context(row))


def _exists(request_id):
    """404 (as the API answers) when there is no such request: a page, or for htmx the
    reason as plain text (shown as the notice, like a 409's)."""
    if listing.get_request(request_id) is None:
        message = _("There is no request #%(request_id)s.", request_id=request_id)
        if htmx.is_htmx():
            abort(htmx.text(message, 404))
        abort(404, description=message)


def _after_action(request_id, ok, done, refused):
    """Tell the browser what happened: htmx gets a refresh event, others a redirect."""
    message = done if ok else refused
    if htmx.is_htmx():
        return htmx.done(message) if ok else htmx.text(message, 409)
    flash(message, "info" if ok else "error")
    return redirect(safe_next(request.form.get("next"),
                              url_for("requests.detail", request_id=request_id)), 303)


@bp.route("/requests/<int:request_id>/retry", methods=["POST"])
@require_role("operator")
def retry(request_id):
    """Retry a failed, timed-out or killed request."""
    _exists(request_id)
    ok = actions.retry(request_id, current_user.username)
    return _after_action(request_id, ok, _("Request #%(request_id)s queued again.",
                                            request_id=request_id),
                         _("Request #%(request_id)s cannot be retried: only %(statuses)s"
                           " requests can.", request_id=request_id,
                           statuses=", ".join(status_label(s) for s in RETRYABLE)))


@bp.route("/requests/<int:request_id>/kill", methods=["POST"])
@require_role("operator")
def kill(request_id):
    """Kill an unassigned, pending or running request."""
    _exists(request_id)
    old = actions.kill(request_id, current_user.username)
    return _after_action(request_id, old is not None, _("Request #%(request_id)s killed.",
                                                         request_id=request_id),
                         _("Request #%(request_id)s cannot be killed: only %(statuses)s"
                           " requests can.", request_id=request_id,
                           statuses=", ".join(status_label(s) for s in KILLABLE)))


@bp.route("/requests/retry-failed", methods=["POST"])
@require_role("operator")
def retry_failed():
    """Retry every failed request matching the list's current filter."""
    filters = listing.Filters(request.form, jobs.REGISTRY)
    if filters.errors:
        flash("; ".join(filters.errors), "error")
        return redirect(url_for("requests.index"))
    n = actions.retry_failed(current_user.username, filters)
    message = ngettext("Retried %(num)d failed request.", "Retried %(num)d failed requests.", n)
    if htmx.is_htmx():
        return htmx.done(message)
    flash(message, "info")
    return redirect(url_for("requests.index", **filters.args()))


@bp.route("/artifacts/<int:artifact_id>")
@login_required
def artifact(artifact_id):
    """A file a job produced, for signed-in users."""
    item = db.session.get(Artifact, artifact_id)
    if item is None:
        abort(404)
    response = make_response(item.data)
    response.headers["Content-Type"] = item.content_type
    response.headers["Content-Disposition"] = f'inline; filename="artifact-{item.id}.png"'
    response.headers["Cache-Control"] = "private, max-age=3600"
    return response
