"""The Schedules pages: operators' schedules (create, edit, pause, delete, run now) and beat's own."""
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    abort,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user

from dashboard import audit, jobs
from dashboard.errors import Refused
from dashboard.schedules import builtin, fire_times, manage
from dashboard.views.navigation import nav
from dashboard.web import htmx, param_form, schedule_form
from dashboard.web.auth import require_role

bp = Blueprint("schedules", __name__)
nav("schedules.index", "Schedules")
FORM_FIELDS = ("name", "job_type", "params", "cron", "every_s", "timezone", "catch_up")


@bp.context_processor
def _helpers():
    """The timing in words and the timezone list, for these pages' templates."""
    return {"describe": fire_times.describe, "timezones": manage.timezone_names}


def _form_values():
    """(the fields manage.validate takes, the form as posted to show again): params from
    the JSON box when filled, else from the job type's fields; an unticked box is False."""
    data = {k: request.form.get(k, "") for k in FORM_FIELDS}
    data["enabled"] = "enabled" in request.form
    shown = {**request.form.to_dict(), **data}
    data["params"] = schedule_form.params_of(request.form)
    return data, shown


def _form_of(row):
    """A stored schedule as the form shows it (its params in the job type's fields)."""
    return {"name": row["name"], "job_type": row["job_type"], "params": "",
            **schedule_form.values_of(row["job_type"], row["params"]), "cron": row["cron"] or "",
            "every_s": row["every_s"] or "", "timezone": row["timezone"],
            "catch_up": row["catch_up"], "enabled": row["enabled"]}


def _form(form, error=None):
    """What the form's template takes: its values, the job type's fields, the error's place."""
    job = schedule_form.job_of(form.get("job_type"))
    shown = param_form.fields(job, form)
    raw = bool((form.get("params") or "").strip())
    return {"form": form, "job": job, "fields": shown, "error": error,
            "error_at": schedule_form.placed(error, shown, raw)}


def _go(message, target, kind="info"):
    """After an action: a redirect (htmx: HX-Redirect) with the message flashed."""
    flash(message, kind)
    if htmx.is_htmx():
        response = make_response("", 204)
        response.headers["HX-Redirect"] = target
        return response
    return redirect(target, 303)


def _page(**context):
    return render_template("schedules/index.html", rows=manage.all_schedules(),
                           builtins=builtin.entries(), job_types=jobs.REGISTRY,
                           next_run=_next_run, **context)


def _next_run(row):
    return fire_times.next_time(row, datetime.now(timezone.utc)) if row["enabled"] else None


@bp.route("/schedules")
@require_role("viewer")
def index():
    """Every schedule, the built-in periodic tasks, and (operators) the create form."""
    return _page(**_form({"job_type": "simulate", "timezone": "UTC", "enabled": True,
                          "catch_up": "skip", "every_s": "", "cron": "*/15 * * * *"}))


@bp.route("/schedules", methods=["POST"])
@require_role("operator")
def schedule_create():
    """Store a schedule from the form; 422/409 shows the form again with the reason."""
    data, shown = _form_values()
    try:
        schedule_id = manage.create(data, current_user.username)
    except Refused as exc:
        audit.refused("schedule_create", exc.message)
        return _page(**_form(shown, exc.message)), exc.status
    return _go(f"Schedule {data['name'].strip()!r} created.",
               url_for("schedules.detail", schedule_id=schedule_id))


@bp.route("/schedules/fields")
@require_role("operator")
def fields():
    """htmx: the chosen job type's parameter fields (the form swaps them in)."""
    job = jobs.REGISTRY.get(request.args.get("job_type", ""))
    if job is None or job.file == "required":
        abort(404, description=_("job_type: unknown job type, or one that needs a file"))
    return render_template("requests/_param_fields.html", job=job, fields=param_form.fields(job),
                           for_schedule=True)


@bp.route("/schedules/preview")
@require_role("viewer")
def preview():
    """htmx partial: the timing in words and its next five fire times (its timezone and UTC)."""
    timing, error = {}, None
    try:
        cron, every = request.args.get("cron", "").strip(), request.args.get("every_s", "").strip()
        if cron and every:
            raise Refused(_("cron: give either cron or every_s, not both"))
        if not cron and not every:
            raise Refused(_("cron: give a cron expression or every_s"))
        timing["timezone"] = manage.check_timezone(request.args.get("timezone", "").strip())
        if cron:
            timing["cron"] = manage.check_cron(cron)
        else:
            timing["every_s"] = manage.check_every(every)
    except Refused as exc:
        error = exc.message
    times = [] if error else fire_times.next_runs(timing)
    zone = ZoneInfo(timing.get("timezone") or "UTC")
    return htmx.no_store(make_response(render_template(
        "schedules/_preview.html", error=error, words=None if error else fire_times.describe(timing),
        times=[(t.astimezone(zone), t) for t in times], zone=timing.get("timezone"))), vary=False)


def _row_or_404(schedule_id):
    row = manage.get(schedule_id)
    if row is None:
        abort(404, description=_("There is no schedule #%(schedule_id)s.",
                                  schedule_id=schedule_id))
    return row


@bp.route("/schedules/<int:schedule_id>")
@require_role("viewer")
def detail(schedule_id):
    """A schedule: its settings, next runs, history (the requests it made, newest first)."""
    row = _row_or_404(schedule_id)
    return render_template("schedules/detail.html", s=row, **_form(_form_of(row)),
                           history=manage.history(schedule_id), job_types=jobs.REGISTRY,
                           next_runs=fire_times.next_runs(row) if row["enabled"] else [],
                           zone=ZoneInfo(row["timezone"]))


@bp.route("/schedules/<int:schedule_id>", methods=["POST"])
@require_role("operator")
def schedule_update(schedule_id):
    """Save the edit form."""
    row = _row_or_404(schedule_id)
    data, shown = _form_values()
    try:
        manage.update(schedule_id, data, current_user.username)
    except Refused as exc:
        audit.refused("schedule_update", exc.message)
        return render_template("schedules/detail.html", s=row, **_form(shown, exc.message),
                               history=manage.history(schedule_id), job_types=jobs.REGISTRY,
                               next_runs=[], zone=ZoneInfo(row["timezone"])), exc.status
    return _go("Schedule saved.", url_for("schedules.detail", schedule_id=schedule_id))


@bp.route("/schedules/<int:schedule_id>/<any(enable, disable):action>", methods=["POST"])
@require_role("operator")
def schedule_toggle(schedule_id, action):
    """Enable or disable (takes effect at beat's next tick)."""
    _row_or_404(schedule_id)
    target = url_for("schedules.detail", schedule_id=schedule_id)
    try:
        manage.update(schedule_id, {"enabled": action == "enable"}, current_user.username)
    except Refused as exc:  # e.g. params a changed job type no longer accepts: edit first
        audit.refused("schedule_update", exc.message)
        return _go(f"Cannot {action}: {exc.message}", target, "error")
    return _go(f"Schedule {action}d.", target)


@bp.route("/schedules/<int:schedule_id>/delete", methods=["POST"])
@require_role("operator")
def schedule_delete(schedule_id):
    """Delete a schedule (the requests it made stay)."""
    row = _row_or_404(schedule_id)
    manage.delete(schedule_id, current_user.username)
    return _go(f"Schedule {row['name']!r} deleted.", url_for("schedules.index"))


@bp.route("/schedules/<int:schedule_id>/run", methods=["POST"])
@require_role("operator")
def schedule_run(schedule_id):
    """Run now: one manual request at once."""
    _row_or_404(schedule_id)
    request_id = manage.run_now(schedule_id, current_user.username)
    return _go(f"Request #{request_id} made (manual run).",
               url_for("schedules.detail", schedule_id=schedule_id))


@bp.route("/schedules/<int:schedule_id>/history")
@require_role("viewer")
def history(schedule_id):
    """htmx partial, polled: the requests the schedule made, newest first."""
    _row_or_404(schedule_id)
    return htmx.no_store(make_response(render_template(
        "schedules/_history.html", history=manage.history(schedule_id))), vary=False)
