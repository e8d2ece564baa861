"""The overview at the top of the list: tiles and SVG charts, polled, 204 while unchanged.

Every viewer polls it (200 viewers every 2 s: 100 a second), so one web process computes
it at most once per OVERVIEW_CACHE_S and its threads share that while no request
changed: stats.changes() (the newest status-count and finish-stat rows, two primary-key
lookups) must still match, and the minute (the charts' slots) must be the same.
"""
import hashlib
import json
import threading
import time

from flask import Blueprint, current_app, make_response, render_template, request

from dashboard.overview import charts, stats
from dashboard.web import htmx
from dashboard.web.auth import require_role
from dashboard.web.humanize import duration_text

bp = Blueprint("overview", __name__)


_shared = {"key": None, "at": 0.0, "value": None}
_lock = threading.Lock()


def overview():
    """What _overview.html draws, plus a digest of it (the poll's `since`); shared by this
    process's threads for OVERVIEW_CACHE_S while nothing changed (see the docstring)."""
    key = (id(current_app._get_current_object()), stats.changes(), int(time.time() // 60))
    ttl = current_app.config["OVERVIEW_CACHE_S"]
    with _lock:   # one computation at a time; the threads waiting reuse its answer
        if _shared["key"] == key and time.monotonic() - _shared["at"] < ttl:
            return _shared["value"]
        value = _compute()
        _shared.update(key=key, at=time.monotonic(), value=value)
        return value


def _compute():
    """The overview's numbers and charts, from stats.summary."""
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
        return htmx.no_store(make_response("", 204), vary=False)
    return htmx.no_store(make_response(render_template("requests/_overview.html",
                                                       overview=numbers)), vary=False)


@bp.app_context_processor
def _overview_global():
    return {"overview_numbers": overview}
