"""The overview at the top of the list: tiles and SVG charts, polled, 204 while unchanged."""
import hashlib
import json

from flask import Blueprint, make_response, render_template, request

from .. import charts, stats
from ..auth import require_role
from ..humanize import duration_text

bp = Blueprint("overview", __name__)


def overview():
    """What _overview.html draws, plus a digest of it (the poll's `since`)."""
    hour, day = stats.summary("1h"), stats.summary("24h")
    shown = {
        "running": hour["running"], "queue_depth": hour["queue_depth"],
        "workers_online": hour["workers_online"],
        "oldest_waiting": duration_text(hour["oldest_waiting_s"])
        if hour["oldest_waiting_s"] is not None else "none waiting",
        "per_minute": charts.stacked_bars(hour["buckets"], "minute"),
        "per_hour": charts.stacked_bars(day["buckets"], "hour"),
        "durations": charts.duration_bars(day["durations"]),
    }
    digest = hashlib.sha1(json.dumps(shown, sort_keys=True, default=str).encode()).hexdigest()
    return {**shown, "digest": digest[:16]}


@bp.route("/overview")
@require_role("viewer")
def partial():
    """The overview partial, or 204 with no body when its numbers did not change."""
    numbers = overview()
    if request.args.get("since") == numbers["digest"]:
        response = make_response("", 204)
    else:
        response = make_response(render_template("requests/_overview.html", overview=numbers))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.app_context_processor
def _overview_global():
    return {"overview_numbers": overview}
