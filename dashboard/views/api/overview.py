"""How the system is doing, over the API: finished requests by outcome, what runs and waits."""
from flask import jsonify, request

from dashboard.overview import stats
from dashboard.views.api import bp, error
from dashboard.web.auth import require_role


@bp.route("/stats", methods=["GET"])
@require_role("viewer")
def stats_json():
    """Finished requests per minute (1h) or hour (24h) by outcome, and what runs and waits now."""
    window = request.args.get("window") or "1h"  # empty: not given, as on every list
    if window not in stats.WINDOWS:
        return error("window: must be 1h or 24h", 422)
    return jsonify(stats.as_json(stats.summary(window)))
