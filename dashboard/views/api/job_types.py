"""Job types over the API: each type's declaration, limits, counts, run times and consumers;
an admin's change to its limits."""
from flask import jsonify
from flask_login import current_user

from dashboard.errors import Refused
from dashboard.jobs import catalog, limit_changes
from dashboard.views.api import bp, error, json_body
from dashboard.web.auth import require_role

EXAMPLE = '{"max_running": 4}'


@bp.route("/job-types", methods=["GET"])
@require_role("viewer")
def job_types():
    """Every job type: declaration, declared and current limits, counts, run times, workers."""
    return jsonify(catalog.entries())


@bp.route("/job-types/<name>", methods=["GET"])
@require_role("viewer")
def job_type(name):
    """One job type, or 404."""
    found = catalog.entry(name)
    if found is None:
        return error(f"job type {name!r} not found", 404)
    return jsonify(found)


@bp.route("/job-types/<name>", methods=["PATCH"])
@require_role("admin")
def job_type_change(name):
    """Change a job type's limits {priority?, max_running?, rate_per_min?, paused?}; null
    returns a key to the declared value. 200 with the job type."""
    try:
        limit_changes.change(name, json_body(EXAMPLE), current_user.username)
    except Refused as exc:
        return error(exc.message, exc.status)
    return jsonify(catalog.entry(name))
