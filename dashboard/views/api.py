"""The JSON API (DESIGN.md section 7): bearer token or browser session."""
import re

from flask import Blueprint, current_app, jsonify, request, url_for
from flask_login import current_user

from .. import actions, inspection, jobs, limits, openapi, pauses, queries, stats, submission
from ..auth import require_role
from ..jobs import InvalidInput
from ..serializers import request_dict

bp = Blueprint("api", __name__, url_prefix="/api")
FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")
_ID = re.compile(r"^[0-9]{1,18}$")


def error(message, status):
    """Every API error: JSON {"error": ...} with the status."""
    return jsonify(error=message), status


def _one(request_id, status=200, with_attempts=False):
    """A request object, or 404."""
    row = queries.get_request(request_id)
    if row is None:
        return error(f"request {request_id} not found", 404)
    attempts = queries.attempts(request_id) if with_attempts else None
    return jsonify(request_dict(row, attempts)), status


@bp.route("/requests", methods=["POST"])
@limits.accepts_upload
@require_role("operator")
def create():
    """Submit a request: multipart job_type, params (JSON text), file."""
    if request.mimetype not in FORM_TYPES:
        return error("body: send multipart/form-data (job_type, params as JSON text, file);"
                     f" got {request.mimetype or 'no Content-Type'}", 400)
    job_type = request.form.get("job_type")
    if not request.form and not request.files:
        return error("job_type: is required (no form field could be read from the body;"
                     " send multipart/form-data or UTF-8 urlencoded fields)", 400)
    if not job_type:
        return error("job_type: is required", 422)
    try:
        request_id = submission.submit(
            job_type, request.form.get("params", ""), request.files.get("file"),
            current_user.username, current_app.config["MAX_UPLOAD_MB"] * 1024 * 1024)
    except InvalidInput as exc:
        submission.refused(exc.message, job_type)
        return error(exc.message, exc.status)
    response, status = _one(request_id, 201)
    response.headers["Location"] = url_for("api.show", request_id=request_id)
    return response, status


@bp.route("/requests", methods=["GET"])
@require_role("viewer")
def index():
    """List requests: the list's filters and sort (queries.Filters.PARAMS), limit, after."""
    filters = queries.Filters(request.args, jobs.REGISTRY)
    if filters.errors:
        return error("; ".join(filters.errors), 422)
    limit, after = request.args.get("limit", "50"), request.args.get("after")
    if not _ID.match(limit) or not 1 <= int(limit) <= 500:
        return error("limit: must be an integer from 1 to 500", 422)
    if after is not None and not _ID.match(after):
        return error("after: must be a request id (the previous page's `next`)", 422)
    rows, next_cursor = queries.list_requests(filters, int(limit),
                                              int(after) if after else None)
    return jsonify(items=[request_dict(r) for r in rows],
                   next=str(next_cursor) if next_cursor else None)


@bp.route("/requests/<int:request_id>", methods=["GET"])
@require_role("viewer")
def show(request_id):
    """One request with its attempts."""
    return _one(request_id, with_attempts=True)


@bp.route("/requests/<int:request_id>/retry", methods=["POST"])
@require_role("operator")
def retry(request_id):
    """Retry: 202 with the request, 409 when it is not failure/timeout/killed."""
    if queries.get_request(request_id) is None:
        return error(f"request {request_id} not found", 404)
    if not actions.retry(request_id, current_user.username):
        row = queries.get_request(request_id)
        return error(f"request {request_id} is {row['status']}: only failure, timeout and"
                     " killed requests can be retried", 409)
    return _one(request_id, 202)


@bp.route("/requests/<int:request_id>/kill", methods=["POST"])
@require_role("operator")
def kill(request_id):
    """Kill: 202 with the request, 409 when it is already terminal."""
    if queries.get_request(request_id) is None:
        return error(f"request {request_id} not found", 404)
    if actions.kill(request_id, current_user.username) is None:
        row = queries.get_request(request_id)
        return error(f"request {request_id} is already {row['status']}", 409)
    return _one(request_id, 202)


@bp.route("/requests/retry-failed", methods=["POST"])
@require_role("operator")
def retry_failed():
    """Retry every failed request matching the list's filters (form or query args)."""
    filters = queries.Filters(request.values, jobs.REGISTRY)
    if filters.errors:
        return error("; ".join(filters.errors), 422)
    return jsonify(retried=actions.retry_failed(current_user.username, filters))


@bp.route("/workers", methods=["GET"])
@require_role("viewer")
def workers():
    """Workers (DESIGN.md section 11): name, state, pid, pool, queues, active requests, ..."""
    return jsonify(pauses.annotate(inspection.workers()))


@bp.route("/stats", methods=["GET"])
@require_role("viewer")
def stats_json():
    """Finished requests per minute (1h) or hour (24h) by outcome, and what runs and waits now."""
    window = request.args.get("window", "1h")
    if window not in stats.WINDOWS:
        return error("window: must be 1h or 24h", 422)
    return jsonify(stats.as_json(stats.summary(window)))


@bp.route("/openapi.json", methods=["GET"])
def openapi_json():
    """The OpenAPI 3.1 description of this API (public: it holds no data)."""
    return jsonify(openapi.spec())
