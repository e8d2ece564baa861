"""Requests over the API: submit, list, read, retry, kill; a request's timeline, logs, re-run; bulk."""
from flask import current_app, jsonify, request, url_for
from flask_login import current_user

from dashboard import idempotency, joblog, jobs, submission
from dashboard.errors import Refused
from dashboard.lifecycle import TERMINAL
from dashboard.requests import actions, bulk, listing, timeline
from dashboard.serializers import request_dict
from dashboard.views.api import DIGITS, FORM_TYPES, bp, error, int_arg, json_body, one
from dashboard.web import body_caps
from dashboard.web.auth import require_role


@bp.route("/requests", methods=["POST"])
@body_caps.accepts_upload
@require_role("operator")
def create():
    """Submit a request: multipart job_type, params (JSON text), file, priority; with an
    Idempotency-Key header, a repeat answers 200 with the request the key created."""
    if request.mimetype not in FORM_TYPES:
        return error("body: send multipart/form-data (job_type, params as JSON text, file);"
                     f" got {request.mimetype or 'no Content-Type'}", 400)
    job_type = request.form.get("job_type")
    if not request.form and not request.files:
        return error("job_type: is required (no form field could be read from the body;"
                     " send multipart/form-data or UTF-8 urlencoded fields)", 400)
    if not job_type:
        return error("job_type: is required", 422)
    key = request.headers.get(idempotency.HEADER)
    args = (job_type, request.form.get("params", ""), request.files.get("file"),
            current_user.username, current_app.config["MAX_UPLOAD_MB"] * 1024 * 1024)
    try:
        priority = submission.parse_priority(request.form.get("priority"))
        if key is None:
            request_id, created = submission.submit(*args, priority=priority), True
        else:
            request_id, created = submission.submit_once(
                key, current_app.config["IDEMPOTENCY_TTL_H"], *args, priority=priority)
    except Refused as exc:
        submission.refused(exc.message, job_type)
        return error(exc.message, exc.status)
    if not created:  # a repeat of the key's submit: the request it created
        return one(request_id, 200)
    response, status = one(request_id, 201)
    response.headers["Location"] = url_for("api.show", request_id=request_id)
    return response, status


@bp.route("/requests", methods=["GET"])
@require_role("viewer")
def index():
    """List requests: the list's filters and sort (listing.Filters.PARAMS), limit, after
    (an empty value is the same as leaving it out)."""
    filters = listing.Filters(request.args, jobs.REGISTRY)
    if filters.errors:
        return error("; ".join(filters.errors), 422)
    try:
        limit = int_arg("limit", 50, 1, 500)
    except Refused as exc:
        return error(exc.message, exc.status)
    after = request.args.get("after", "")
    if after and not ID_PATTERN.match(after):
        return error("after: must be a request id (the previous page's `next`)", 422)
    rows, next_cursor = listing.list_requests(filters, limit, int(after) if after else None)
    return jsonify(items=[request_dict(r) for r in rows],
                   next=str(next_cursor) if next_cursor else None)


@bp.route("/requests/<int:request_id>", methods=["GET"])
@require_role("viewer")
def show(request_id):
    """One request with its attempts."""
    return one(request_id, with_attempts=True)


@bp.route("/requests/<int:request_id>/retry", methods=["POST"])
@require_role("operator")
def retry(request_id):
    """Retry: 202 with the request, 409 when it is not failure/timeout/killed."""
    if listing.get_request(request_id) is None:
        return error(f"request {request_id} not found", 404)
    if not actions.retry(request_id, current_user.username):
        row = listing.get_request(request_id)
        return error(f"request {request_id} is {row['status']}: only failure, timeout and"
                     " killed requests can be retried", 409)
    return one(request_id, 202)


@bp.route("/requests/<int:request_id>/kill", methods=["POST"])
@require_role("operator")
def kill(request_id):
    """Kill: 202 with the request, 409 when it is already terminal."""
    if listing.get_request(request_id) is None:
        return error(f"request {request_id} not found", 404)
    if actions.kill(request_id, current_user.username) is None:
        row = listing.get_request(request_id)
        return error(f"request {request_id} is already {row['status']}", 409)
    return one(request_id, 202)


@bp.route("/requests/retry-failed", methods=["POST"])
@require_role("operator")
def retry_failed():
    """Retry every failed request matching the list's filters (form or query args)."""
    filters = listing.Filters(request.values, jobs.REGISTRY)
    if filters.errors:
        return error("; ".join(filters.errors), 422)
    return jsonify(retried=actions.retry_failed(current_user.username, filters))


ID_PATTERN = DIGITS  # a request id or a log cursor, as text


def log_query():
    """(attempt, after, level, limit) from the query, or ValueError naming the field."""
    attempt = int_arg("attempt", None, 1, 2 ** 31 - 1)
    after = int_arg("after", 0, 0, 10 ** 18 - 1)
    limit = int_arg("limit", 500, 1, 1000)
    level = (request.args.get("level") or "DEBUG").upper()
    if level not in joblog.LEVELS:
        raise ValueError(f"level: must be one of {', '.join(joblog.LEVELS)}")
    return attempt, after, level, limit


def _line_dict(line):
    return {"at": line["at"].isoformat().replace("+00:00", "Z"), "level": line["level"],
            "attempt": line["attempt"], "message": line["message"]}


@bp.route("/requests/<int:request_id>/timeline", methods=["GET"])
@require_role("viewer")
def timeline_json(request_id):
    """Every step of every attempt and every audit entry about the request, in time order."""
    items = timeline.build(request_id)
    if items is None:
        return error(f"request {request_id} not found", 404)
    return jsonify(items=items)


@bp.route("/requests/<int:request_id>/logs", methods=["GET"])
@require_role("viewer")
def logs_json(request_id):
    """The job's log lines after the cursor: attempt, after, level (minimum), limit."""
    try:
        attempt, after, level, limit = log_query()
    except ValueError as exc:
        return error(str(exc), 422)
    if listing.get_request(request_id) is None:
        return error(f"request {request_id} not found", 404)
    lines, cursor = joblog.lines(request_id, attempt, after, level, limit)
    return jsonify(items=[_line_dict(line) for line in lines], next=str(cursor))


@bp.route("/requests/bulk", methods=["POST"])
@require_role("operator")
def bulk_json():
    """Retry or kill many requests: {"action", "ids"} -> {"done", "refused"}."""
    try:
        action, ids = bulk.parse(json_body('{"action": "retry", "ids": [1, 2]}'))
    except Refused as exc:
        return error(exc.message, exc.status)
    return jsonify(bulk.run(action, ids, current_user.username))


@bp.route("/requests/batch", methods=["POST"])
@require_role("operator")
def batch_json():
    """Submit many parameter-only requests at once: {"requests": [{job_type, params,
    priority}, ...]} -> 201 {"ids": [...]} in order; one bad item refuses them all. With an
    Idempotency-Key header, a repeat answers 200 with the ids the key's batch created."""
    key = request.headers.get(idempotency.HEADER)
    try:
        items = submission.parse_batch(json_body('{"requests": [{"job_type": "simulate",'
                                                 ' "params": {}}]}'))
        if key is None:
            ids, created = submission.submit_many(items, current_user.username), True
        else:
            ids, created = submission.submit_many_once(
                key, current_app.config["IDEMPOTENCY_TTL_H"], items, current_user.username)
    except Refused as exc:
        submission.refused_batch(exc.message)
        return error(exc.message, exc.status)
    return jsonify(ids=ids), 201 if created else 200


def _rerun_input():
    """(params dict-or-text-or-None, file) from a JSON or multipart body, or Refused.

    No body, `{}`, an empty form or empty params: the parent's params (and its file)."""
    if request.mimetype in FORM_TYPES:
        return request.form.get("params"), request.files.get("file")
    try:
        body = json_body('{"params": {...}}', empty={})
    except Refused as exc:
        if exc.status != 415:
            raise
        raise Refused("body: send JSON {\"params\": {...}} or multipart params (+ file);"
                      f" got {request.mimetype}", 415) from None
    params = body.get("params")
    if params is not None and not isinstance(params, dict):
        raise Refused("params: must be a JSON object")
    return params, None


def rerun(parent):
    """The new request's id, or Refused (audited as a refused submission)."""
    params, file = _rerun_input()
    if params is None or (isinstance(params, str) and not params.strip()):
        params = dict(parent["params"] or {})
    try:
        return submission.rerun(parent, params, file, current_user.username,
                                current_app.config["MAX_UPLOAD_MB"] * 1024 * 1024)
    except Refused as exc:
        submission.refused(exc.message, parent["job_type"])
        raise


@bp.route("/requests/<int:request_id>/rerun", methods=["POST"])
@body_caps.accepts_upload
@require_role("operator")
def rerun_json(request_id):
    """Re-run a finished request with (changed) params: 201 the new request with parent_id."""
    parent = listing.get_request(request_id)
    if parent is None:
        return error(f"request {request_id} not found", 404)
    if parent["status"] not in TERMINAL:
        return error(f"request {request_id} is {parent['status']}: only finished requests"
                     " can be re-run", 409)
    try:
        child = rerun(parent)
    except Refused as exc:
        return error(exc.message, exc.status)
    response, status = one(child, 201)
    response.headers["Location"] = url_for("api.show", request_id=child)
    return response, status
