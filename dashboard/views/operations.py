"""Worker and process operations, and "why isn't it running?": JSON API and page actions.

The API routes join the `api` blueprint (bearer tokens; sessions with CSRF);
the page routes (forms with a confirmation, CSRF) live in `operations`.
Views are thin: dashboard.worker_control, dashboard.supervisor and
dashboard.why do the work.
"""
import json

from flask import (Blueprint, flash, jsonify, make_response, redirect, render_template,
                   request, url_for)
from flask_login import current_user

from .. import audit, supervisor, why, worker_control
from ..auth import require_role
from ..extensions import db
from . import nav
from .api import bp as api_bp, error

bp = Blueprint("operations", __name__)
PROCESS_ACTIONS = ("start", "stop", "restart")
nav("operations.processes_page", "Processes", role="admin")


def _forbidden(action, detail, role="admin"):
    """403 for an operator asking for an admin action (audited)."""
    audit.record_now(action, "forbidden", detail={**detail, "needs": role})
    return f"forbidden: this needs the {role} role"


def _worker_action(name, action, body):
    """(payload, status) of one worker action, for both the API and the pages."""
    if action in worker_control.ADMIN_ACTIONS and not current_user.has_role("admin"):
        return {"error": _forbidden(f"worker_{action}", {"worker": name})}, 403
    try:
        n = worker_control.parse_step(body) if action in ("grow", "shrink") else 1
        return worker_control.act(name, action, current_user.username, n), 202
    except worker_control.Refused as exc:
        if exc.status == 422:
            audit.record_now(f"worker_{action}", "refused",
                             detail={"worker": name, "reason": exc.message})
        return {"error": exc.message}, exc.status


def _process_action(name, action):
    """(payload, status) of start/stop/restart of a supervisord program (admin already checked)."""
    detail = {"process": name}
    if action not in PROCESS_ACTIONS:
        return {"error": f"action: must be one of {', '.join(PROCESS_ACTIONS)}"}, 404
    try:
        entry = getattr(supervisor, action)(name)
    except supervisor.NoSupervisor:
        audit.record_now(f"process_{action}", "refused",
                         detail={**detail, "reason": "no supervisor"})
        return {"error": "no process supervisor"}, 503
    except supervisor.Refused as exc:
        audit.record_now(f"process_{action}", "refused", detail={**detail, "reason": exc.message})
        return {"error": exc.message}, exc.status
    audit.record_now(f"process_{action}", "ok", detail={**detail, "state": entry["state"]})
    return entry, 202


# -- JSON API -----------------------------------------------------------------------------

@api_bp.route("/workers/<name>/<action>", methods=["POST"])
@require_role("operator")
def worker_action(name, action):
    """pause | resume | grow | shrink (body {"n": k}) | restart | shutdown (admin): 202 worker."""
    body = request.get_json(silent=True) if request.is_json else None
    if request.is_json and body is None and request.get_data():
        return error("body: must be a JSON object such as {\"n\": 1}", 422)
    if body is not None and not isinstance(body, dict):
        return error("body: must be a JSON object such as {\"n\": 1}", 422)
    payload, status = _worker_action(name, action, body or {})
    return jsonify(payload), status


@api_bp.route("/workers/pause-all", methods=["POST"])
@require_role("operator")
def pause_all():
    """Every worker stops consuming (requests keep being accepted and wait as pending)."""
    return jsonify(workers=worker_control.everyone("pause", current_user.username)), 202


@api_bp.route("/workers/resume-all", methods=["POST"])
@require_role("operator")
def resume_all():
    """Every worker consumes the requests queue again."""
    return jsonify(workers=worker_control.everyone("resume", current_user.username)), 202


@api_bp.route("/processes", methods=["GET"])
@require_role("admin")
def processes():
    """This host's supervisord programs: name, state, pid, uptime_s; 503 without supervisord."""
    try:
        return jsonify(supervisor.processes())
    except supervisor.NoSupervisor:
        return error("no process supervisor", 503)


@api_bp.route("/processes/<name>/<action>", methods=["POST"])
@require_role("admin")
def process_action(name, action):
    """start | stop | restart one supervisord program: 202 with it; 404; 409; 503."""
    payload, status = _process_action(name, action)
    return jsonify(payload), status


@api_bp.route("/requests/<int:request_id>/why", methods=["GET"])
@require_role("viewer")
def request_why(request_id):
    """Why a request is not running yet (reasons, queue), or where it runs."""
    answer = why.explain(request_id)
    db.session.rollback()
    if answer is None:
        return error(f"request {request_id} not found", 404)
    return jsonify(answer)


# -- pages --------------------------------------------------------------------------------

def _answer(payload, status, done):
    """htmx: 204 + refresh/notice events, or the reason as text; forms: flash and redirect."""
    ok = status < 400
    message = done if ok else payload.get("error", "refused")
    if request.headers.get("HX-Request") == "true":
        if not ok:
            response = make_response(message, status)
            response.headers["Content-Type"] = "text/plain; charset=utf-8"
            return response
        response = make_response("", 204)
        response.headers["HX-Trigger"] = json.dumps({"refresh": True, "notice": message})
        return response
    flash(message, "info" if ok else "error")
    return redirect(url_for("workers.index"), 303)


@bp.route("/workers/<name>/<action>", methods=["POST"])
@require_role("operator")
def worker_form(name, action):
    """A worker action from the workers page."""
    body = {"n": request.form["n"]} if request.form.get("n") else {}
    if body and body["n"].strip().isdigit():
        body["n"] = int(body["n"])
    payload, status = _worker_action(name, action, body)
    return _answer(payload, status, f"{name}: {action} done.")


@bp.route("/workers/pause-all", methods=["POST"])
@require_role("operator")
def pause_all_form():
    answers = worker_control.everyone("pause", current_user.username)
    return _answer({}, 202, f"Paused {len(answers)} worker{'s' if len(answers) != 1 else ''}:"
                   " requests wait as pending. The pause is stored: workers that restart or"
                   " start later stay paused until resumed.")


@bp.route("/workers/resume-all", methods=["POST"])
@require_role("operator")
def resume_all_form():
    answers = worker_control.everyone("resume", current_user.username)
    return _answer({}, 202, f"Resumed {len(answers)} worker{'s' if len(answers) != 1 else ''};"
                   " no pause is stored any more.")


@bp.route("/processes")
@require_role("admin")
def processes_page():
    """The processes panel (this host's supervisord), live."""
    try:
        rows, problem = supervisor.processes(), None
    except supervisor.NoSupervisor:
        rows, problem = [], "no process supervisor"
    partial = request.headers.get("HX-Request") == "true"
    response = make_response(render_template(
        "_processes.html" if partial else "processes.html", processes=rows, problem=problem,
        socket=supervisor.socket_path(), refresh_s=2))
    response.headers["Cache-Control"] = "no-store"
    response.headers["Vary"] = "HX-Request"
    return response


@bp.route("/processes/<name>/<action>", methods=["POST"])
@require_role("admin")
def process_form(name, action):
    payload, status = _process_action(name, action)
    response = _answer(payload, status, f"{name}: {action} sent.")
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
    response = make_response(render_template("requests/_why.html", why=answer,
                                             request_id=request_id))
    response.headers["Cache-Control"] = "no-store"
    return response
