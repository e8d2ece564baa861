"""The schedules page: what Celery beat runs periodically."""
from celery.schedules import crontab, schedule
from flask import Blueprint, current_app, render_template

from ..auth import require_role
from . import nav

bp = Blueprint("schedules", __name__)
nav("schedules.index", "Schedules")


def describe(every):
    """A schedule in words."""
    if isinstance(every, (int, float)):
        return f"every {every:g} s"
    if isinstance(every, crontab):
        return f"cron {every._orig_minute} {every._orig_hour} {every._orig_day_of_month} " \
               f"{every._orig_month_of_year} {every._orig_day_of_week}"
    if isinstance(every, schedule):
        return f"every {every.run_every.total_seconds():g} s"
    return str(every)


@bp.route("/schedules")
@require_role("viewer")
def index():
    """Beat's schedule, from the Celery configuration it runs with."""
    celery = current_app.extensions["celery"]
    entries = [{"name": name, "task": entry["task"], "every": describe(entry["schedule"]),
                "doc": (celery.tasks[entry["task"]].__doc__ or "").strip().splitlines()[0]
                if entry["task"] in celery.tasks else ""}
               for name, entry in sorted(celery.conf.beat_schedule.items())]
    return render_template("schedules.html", entries=entries)
