"""Schedules over the API: list, create, read, change, delete, run now (built-in ones read-only)."""
from flask import jsonify, url_for
from flask_login import current_user

from dashboard import audit
from dashboard.errors import Refused
from dashboard.requests import listing
from dashboard.schedules import builtin, manage
from dashboard.serializers import request_dict, schedule_dict
from dashboard.views.api import bp, error, json_body
from dashboard.web.auth import require_role


def _body():
    """The JSON object sent, or Refused (400 none or malformed, 415 not JSON, 422 no object)."""
    return json_body('{"name": ..., "job_type": ..., "cron": ...}')


def _target(schedule_id):
    """(schedule row, None) or (None, error answer): 409 for a built-in, 404 for unknown."""
    if schedule_id in builtin.names():
        return None, error(f"{schedule_id}: a built-in periodic task is read-only", 409)
    if not (schedule_id.isascii() and schedule_id.isdigit() and len(schedule_id) < 19):
        return None, error(f"schedule {schedule_id[:40]!r} not found", 404)
    row = manage.get(int(schedule_id))
    if row is None:
        return None, error(f"schedule {schedule_id} not found", 404)
    return row, None


@bp.route("/schedules", methods=["GET"])
@require_role("viewer")
def schedule_list():
    """Every schedule (operators' ones by name, then the built-in periodic tasks)."""
    return jsonify([schedule_dict(r) for r in manage.all_schedules()]
                   + builtin.entries())


@bp.route("/schedules", methods=["POST"])
@require_role("operator")
def schedule_create():
    """Create a schedule: 201; 422 naming the field; 409 for a name in use."""
    try:
        schedule_id = manage.create(_body(), current_user.username)
    except Refused as exc:
        audit.refused("schedule_create", exc.message)
        return error(exc.message, exc.status)
    response = jsonify(schedule_dict(manage.get(schedule_id)))
    response.headers["Location"] = url_for("api.schedule_show", schedule_id=schedule_id)
    return response, 201


@bp.route("/schedules/<schedule_id>", methods=["GET"])
@require_role("viewer")
def schedule_show(schedule_id):
    """One schedule (a built-in one by its name)."""
    for entry in builtin.entries():
        if entry["id"] == schedule_id:
            return jsonify(entry)
    row, failed = _target(schedule_id)
    return failed or jsonify(schedule_dict(row))


@bp.route("/schedules/<schedule_id>", methods=["PATCH"])
@require_role("operator")
def schedule_update(schedule_id):
    """Change any of a schedule's fields: 200; 422/409 as for create."""
    row, failed = _target(schedule_id)
    if failed:
        return failed
    try:
        row = manage.update(row["id"], _body(), current_user.username)
    except Refused as exc:
        audit.refused("schedule_update", exc.message)
        return error(exc.message, exc.status)
    if row is None:
        return error(f"schedule {schedule_id} not found", 404)
    return jsonify(schedule_dict(row))


@bp.route("/schedules/<schedule_id>", methods=["DELETE"])
@require_role("operator")
def schedule_delete(schedule_id):
    """Delete a schedule: 204 (the requests it made stay)."""
    row, failed = _target(schedule_id)
    if failed:
        return failed
    manage.delete(row["id"], current_user.username)
    return "", 204


@bp.route("/schedules/<schedule_id>/run", methods=["POST"])
@require_role("operator")
def schedule_run(schedule_id):
    """Run now: 201 with the request it made (manual: no fire time)."""
    row, failed = _target(schedule_id)
    if failed:
        return failed
    request_id = manage.run_now(row["id"], current_user.username)
    if request_id is None:
        return error(f"schedule {schedule_id} not found", 404)
    response = jsonify(request_dict(listing.get_request(request_id)))
    response.headers["Location"] = url_for("api.show", request_id=request_id)
    return response, 201
