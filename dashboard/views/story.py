"""A request's whole story over HTTP: timeline, live logs, re-run, bulk actions, its file.

JSON routes join the `api` blueprint (bearer or session, CSRF for sessions);
page routes join `requests`. Thin: the work is in timeline, joblog, bulk and
submission.
"""
import re
import tempfile

from flask import (abort, current_app, flash, jsonify, make_response, redirect,
                   render_template, request, send_file, url_for)
from flask_login import current_user, login_required

from .. import bulk, joblog, jobs, limits, queries, submission, timeline, uploads
from ..auth import require_role
from ..jobs import InvalidInput
from ..lifecycle import ACTIVE, TERMINAL
from . import api
from .api import FORM_TYPES, error
from .requests import bp as pages, _no_store

_NUMBER = re.compile(r"^[0-9]{1,18}$")


def _int_arg(name, default, low, high):
    """An integer query argument in [low, high], or ValueError naming it."""
    raw = request.args.get(name, "")
    if raw == "":
        return default
    if not _NUMBER.match(raw) or not low <= int(raw) <= high:
        raise ValueError(f"{name}: must be an integer from {low} to {high}")
    return int(raw)


def _log_query():
    """(attempt, after, level, limit) from the query, or ValueError naming the field."""
    attempt = _int_arg("attempt", None, 1, 2 ** 31 - 1)
    after = _int_arg("after", 0, 0, 10 ** 18 - 1)
    limit = _int_arg("limit", 500, 1, 1000)
    level = (request.args.get("level") or "DEBUG").upper()
    if level not in joblog.LEVELS:
        raise ValueError(f"level: must be one of {', '.join(joblog.LEVELS)}")
    return attempt, after, level, limit


def _line_dict(line):
    return {"at": line["at"].isoformat().replace("+00:00", "Z"), "level": line["level"],
            "attempt": line["attempt"], "message": line["message"]}


@api.bp.route("/requests/<int:request_id>/timeline", methods=["GET"])
@require_role("viewer")
def timeline_json(request_id):
    """Every step of every attempt and every audit entry about the request, in time order."""
    items = timeline.build(request_id)
    if items is None:
        return error(f"request {request_id} not found", 404)
    return jsonify(items=items)


@api.bp.route("/requests/<int:request_id>/logs", methods=["GET"])
@require_role("viewer")
def logs_json(request_id):
    """The job's log lines after the cursor: attempt, after, level (minimum), limit."""
    try:
        attempt, after, level, limit = _log_query()
    except ValueError as exc:
        return error(str(exc), 422)
    if queries.get_request(request_id) is None:
        return error(f"request {request_id} not found", 404)
    lines, cursor = joblog.lines(request_id, attempt, after, level, limit)
    return jsonify(items=[_line_dict(line) for line in lines], next=str(cursor))


@api.bp.route("/requests/bulk", methods=["POST"])
@require_role("operator")
def bulk_json():
    """Retry or kill many requests: {"action", "ids"} -> {"done", "refused"}."""
    try:
        action, ids = bulk.parse(request.get_json(silent=True))
    except bulk.BulkError as exc:
        return error(exc.message, exc.status)
    return jsonify(bulk.run(action, ids, current_user.username))


def _rerun_input():
    """(params dict-or-text-or-None, file) from a JSON or multipart body, or InvalidInput."""
    if request.is_json:
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            raise InvalidInput("body: send a JSON object {\"params\": {...}}", 400)
        params = body.get("params")
        if params is not None and not isinstance(params, dict):
            raise InvalidInput("params: must be a JSON object")
        return params, None
    if request.mimetype in FORM_TYPES:
        return request.form.get("params"), request.files.get("file")
    raise InvalidInput("body: send JSON {\"params\": {...}} or multipart params (+ file);"
                       f" got {request.mimetype or 'no Content-Type'}", 400)


def _rerun(parent):
    """The new request's id, or InvalidInput (audited as a refused submission)."""
    params, file = _rerun_input()
    if params is None or (isinstance(params, str) and not params.strip()):
        params = dict(parent["params"] or {})
    try:
        return submission.rerun(parent, params, file, current_user.username,
                                current_app.config["MAX_UPLOAD_MB"] * 1024 * 1024)
    except InvalidInput as exc:
        submission.refused(exc.message, parent["job_type"])
        raise


@api.bp.route("/requests/<int:request_id>/rerun", methods=["POST"])
@limits.accepts_upload
@require_role("operator")
def rerun_json(request_id):
    """Re-run a finished request with (changed) params: 201 the new request with parent_id."""
    parent = queries.get_request(request_id)
    if parent is None:
        return error(f"request {request_id} not found", 404)
    if parent["status"] not in TERMINAL:
        return error(f"request {request_id} is {parent['status']}: only finished requests"
                     " can be re-run", 409)
    try:
        child = _rerun(parent)
    except InvalidInput as exc:
        return error(exc.message, exc.status)
    response, status = api._one(child, 201)
    response.headers["Location"] = url_for("api.show", request_id=child)
    return response, status


# Pages ---------------------------------------------------------------------------------


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
        attempt, after, level, limit = _log_query()
    except ValueError as exc:
        abort(422, description=str(exc))
    row = queries.get_request(request_id)
    if row is None:
        abort(404, description=f"There is no request #{request_id}.")
    lines, cursor = joblog.lines(request_id, attempt, after, level, limit)
    live = row["status"] in ACTIVE or len(lines) == limit
    if not lines and live and not request.args.get("reset"):
        return _no_store(make_response("", 204))
    return _no_store(make_response(render_template(
        "requests/_log_lines.html", r=row, lines=lines, cursor=cursor, attempt=attempt,
        level=level, live=live)), vary=False)


@pages.route("/requests/<int:request_id>/rerun", methods=["GET", "POST"])
@limits.accepts_upload
@require_role("operator")
def rerun_page(request_id):
    """The re-run form, pre-filled with the request's params; POST lands on the new request."""
    parent = queries.get_request(request_id)
    if parent is None:
        abort(404, description=f"There is no request #{request_id}.")
    if parent["status"] not in TERMINAL:
        flash(f"Request #{request_id} is {parent['status']}: only finished requests can be"
              " re-run.", "error")
        return redirect(url_for("requests.detail", request_id=request_id), 303)
    if request.method == "POST":
        try:
            child = _rerun(parent)
        except InvalidInput as exc:
            return render_template("requests/rerun.html", r=parent, error=exc.message,
                                   params_text=request.form.get("params", "")), exc.status
        flash(f"Request #{child} submitted as a re-run of #{request_id}.", "info")
        return redirect(url_for("requests.detail", request_id=child), 303)
    return render_template("requests/rerun.html", r=parent, error=None,
                           params_text=None)


@pages.route("/requests/bulk", methods=["POST"])
@require_role("operator")
def bulk_page():
    """The list's bulk form: the ticked ids, or every request matching the filter (capped)."""
    action = request.form.get("action", "")
    if request.form.get("all_matching") == "1":
        ids = bulk.matching_ids(queries.Filters(request.form, jobs.REGISTRY))
    else:
        ids = [int(i) for i in request.form.getlist("ids") if _NUMBER.match(i)]
    try:
        action, ids = bulk.parse({"action": action, "ids": ids})
    except bulk.BulkError as exc:
        flash(exc.message, "error")
        return redirect(url_for("requests.index"), 303)
    outcome = bulk.run(action, ids, current_user.username)
    verb = "Retried" if action == "retry" else "Killed"
    message = f"{verb} {len(outcome['done'])} of {len(ids)} requests"
    if outcome["refused"]:
        message += f"; {len(outcome['refused'])} refused (" + ", ".join(
            f"#{r['id']} {r['reason']}" for r in outcome["refused"][:5]) + \
            (", …" if len(outcome["refused"]) > 5 else "") + ")"
    flash(message + ".", "info" if outcome["done"] else "error")
    target = request.form.get("next") or ""
    if not target.startswith("/") or target.startswith("//"):
        target = url_for("requests.index")
    return redirect(target, 303)


@pages.route("/requests/<int:request_id>/file")
@login_required
def download(request_id):
    """The request's uploaded file, for signed-in users, under its sanitized name."""
    row = queries.get_request(request_id)
    meta = uploads.meta(row["upload_id"]) if row is not None else None
    if meta is None:
        abort(404, description=f"Request #{request_id} has no file.")
    spool = tempfile.TemporaryFile()  # streamed from disk, not held in memory; closed by send_file
    uploads.copy_to(row["upload_id"], spool)
    spool.seek(0)
    response = send_file(spool, mimetype="application/octet-stream", as_attachment=True,
                         download_name=meta["safe_name"], conditional=False, etag=False)
    response.headers["Cache-Control"] = "private, no-store"
    return response
