"""The workers page: online and recently seen workers, their tasks, stored pauses, the queue depth; live."""
from flask import Blueprint, current_app

from dashboard.web import htmx
from dashboard.web.auth import require_role
from dashboard.workers import control, inspection, pauses

bp = Blueprint("workers", __name__)
REFRESH_S = 5


@bp.route("/workers")
@require_role("viewer")
def index():
    """The page, or (for htmx polls) only its live part."""
    return htmx.page_or_partial(
        "workers.html", "_workers.html", workers=pauses.annotate(inspection.workers()),
        everything_paused=pauses.everything_paused(),
        queues=inspection.queue_depths(), refresh_s=REFRESH_S,
        quorum_note=control.QUORUM_NOTE if current_app.config.get("QUEUE_TYPE") == "quorum" else None)
