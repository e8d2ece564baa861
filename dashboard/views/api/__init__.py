"""The JSON API for scripts: bearer token or browser session (sessions also send CSRF).

One blueprint, `api` under /api. Its routes live by area: `requests` (and a
request's story), `workers` (and processes, "why"), `schedules`, `overview`.
This module holds what they share: the error answer and the request object."""
from flask import Blueprint, jsonify

from dashboard.requests import listing
from dashboard.serializers import request_dict
from dashboard.web import openapi

bp = Blueprint("api", __name__, url_prefix="/api")


FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")


def error(message, status):
    """Every API error: JSON {"error": ...} with the status."""
    return jsonify(error=message), status


def one(request_id, status=200, with_attempts=False):
    """A request object, or 404."""
    row = listing.get_request(request_id)
    if row is None:
        return error(f"request {request_id} not found", 404)
    attempts = listing.attempts(request_id) if with_attempts else None
    return jsonify(request_dict(row, attempts)), status


@bp.route("/openapi.json", methods=["GET"])
def openapi_json():
    """The OpenAPI 3.1 description of this API (public: it holds no data)."""
    return jsonify(openapi.spec())
