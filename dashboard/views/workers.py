"""The workers page: online and recently seen workers, their tasks, stored pauses, the queue depth; live."""
from flask import Blueprint, make_response, render_template, request

from .. import inspection, pauses
from ..auth import require_role

bp = Blueprint("workers", __name__)
REFRESH_S = 5


@bp.route("/workers")
@require_role("viewer")
def index():
    """The page, or (for htmx polls) only its live part."""
    partial = request.headers.get("HX-Request") == "true"
    response = make_response(render_template(
        "_workers.html" if partial else "workers.html", workers=pauses.annotate(inspection.workers()),
        everything_paused=pauses.everything_paused(),
        queue_depth=inspection.queue_depth(), refresh_s=REFRESH_S))
    response.headers["Cache-Control"] = "no-store"
    response.headers["Vary"] = "HX-Request"
    return response
