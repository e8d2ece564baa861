"""The JSON API for scripts: bearer token or browser session (sessions also send CSRF).

One blueprint, `api` under /api. Its routes live by area: `requests` (and a
request's story), `workers` (and processes, "why"), `schedules`, `overview`.
This module holds what they share: the error answer, the request object, the reader of
integer query arguments, and (from dashboard.web.json_body) the one reader of JSON bodies."""
import re

from flask import Blueprint, jsonify, request

from dashboard.errors import Refused
from dashboard.requests import listing
from dashboard.serializers import request_dict
from dashboard.web import openapi
from dashboard.web.json_body import json_body  # noqa: F401  (every API body is read by it)

bp = Blueprint("api", __name__, url_prefix="/api")


FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")
DIGITS = re.compile(r"^[0-9]{1,18}$")  # a non-negative integer as text: an id, a cursor, a limit


def int_arg(name, default, low, high):
    """An integer query argument in [low, high]; empty or absent is `default`; else Refused
    naming it (every list's rule: an empty value is the same as leaving it out)."""
    raw = request.args.get(name, "")
    if raw == "":
        return default
    if not DIGITS.match(raw) or not low <= int(raw) <= high:
        raise Refused(f"{name}: must be an integer from {low} to {high}")
    return int(raw)


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
