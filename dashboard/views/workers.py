"""The workers page."""
from flask import Blueprint, render_template

from .. import control
from ..auth import require_role

bp = Blueprint("workers", __name__)


@bp.route("/workers")
@require_role("viewer")
def index():
    """Workers online, their active tasks and concurrency, and the queue depth."""
    return render_template("workers.html", workers=control.workers(),
                           queue_depth=control.queue_depth())
