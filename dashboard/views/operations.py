"""Worker and process operations as pages: the action forms, the processes panel, the "why" box.

The JSON routes are in views/api/workers.py; both answer through its
worker_action_result and process_action_result."""
from flask import (
    Blueprint,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user

from dashboard.extensions import db
from dashboard.requests import why
from dashboard.views.api.workers import process_action_result, worker_action_result
from dashboard.views.navigation import nav
from dashboard.web import htmx
from dashboard.web.auth import require_role
from dashboard.web.words import action_label
from dashboard.workers import control, supervisor, supervisor_hosts

bp = Blueprint("operations", __name__)


nav("operations.processes_page", "Processes", role="admin")


def _answer(payload, status, done):
    """htmx: 204 + refresh/notice events, or the reason as text; forms: flash and redirect."""
    ok = status < 400
    message = done if ok else payload.get("error", "refused")
    if htmx.is_htmx():
        return htmx.done(message) if ok else htmx.text(message, status)
    flash(message, "info" if ok else "error")
    return redirect(url_for("workers.index"), 303)


@bp.route("/workers/<name>/<action>", methods=["POST"])
@require_role("operator")
def worker_form(name, action):
    """A worker action from the workers page."""
    body = {"n": request.form["n"]} if request.form.get("n") else {}
    if body and body["n"].strip().isdigit():
        body["n"] = int(body["n"])
    payload, status = worker_action_result(name, action, body)
    return _answer(payload, status, _("%(name)s: %(action)s done.", name=name,
                                              action=action_label(action)))


@bp.route("/workers/pause-all", methods=["POST"])
@require_role("operator")
def pause_all_form():
    answers = control.everyone("pause", current_user.username)
    return _answer({}, 202, ngettext(
        "Paused %(num)d worker: requests wait as pending. The pause is stored: workers that"
        " restart or start later stay paused until resumed.",
        "Paused %(num)d workers: requests wait as pending. The pause is stored: workers that"
        " restart or start later stay paused until resumed.", len(answers)))


@bp.route("/workers/resume-all", methods=["POST"])
@require_role("operator")
def resume_all_form():
    answers = control.everyone("resume", current_user.username)
    return _answer({}, 202, ngettext("Resumed %(num)d worker; no pause is stored any more.",
                                     "Resumed %(num)d workers; no pause is stored any more.",
                                     len(answers)))


@bp.route("/processes")
@require_role("admin")
def processes_page():
    """The processes panel (this host's supervisord, or every SUPERVISORS host), live."""
    hosts, rows, problem = supervisor_hosts.overview(), [], None
    if not hosts:
        try:
            rows = supervisor.processes()
        except supervisor.NoSupervisor as exc:
            problem = exc
    return htmx.page_or_partial(
        "processes.html", "_processes.html", processes=rows, problem=problem, hosts=hosts,
        socket=supervisor.socket_path(), serving=supervisor.FRONT_DOOR, refresh_s=2)


@bp.route("/processes/<name>/<action>", methods=["POST"])
@require_role("admin")
def process_form(name, action):
    payload, status = process_action_result(name, action, request.args.get("host"))
    response = _answer(payload, status, _("%(name)s: %(action)s sent.", name=name,
                                          action=action_label(action)))
    if response.status_code == 303:
        response.headers["Location"] = url_for("operations.processes_page")
    return response


@bp.route("/requests/<int:request_id>/why")
@require_role("viewer")
def why_partial(request_id):
    """The request page's "why isn't it running?" box (polled)."""
    answer = why.explain(request_id)
    db.session.rollback()
    if answer is None:
        return make_response("", 404)
    return htmx.no_store(make_response(render_template("requests/_why.html", why=answer,
                                                       request_id=request_id)), vary=False)
