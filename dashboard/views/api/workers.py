"""Workers and processes over the API: the list, pause/resume/grow/shrink/restart/shutdown,
supervisord's programs, and why a request is not running yet."""
from flask import jsonify, request
from flask_login import current_user

from dashboard import audit
from dashboard.errors import Refused
from dashboard.extensions import db
from dashboard.requests import why
from dashboard.views.api import bp, error, json_body
from dashboard.web.auth import require_role
from dashboard.workers import control, inspection, pauses, supervisor, supervisor_hosts

PROCESS_ACTIONS = ("start", "stop", "restart")


def forbidden(action, detail, role="admin"):
    """403 for an operator asking for an admin action (audited)."""
    audit.record_now(action, "forbidden", detail={**detail, "needs": role})
    return f"forbidden: this needs the {role} role"


def worker_action_result(name, action, body):
    """(payload, status) of one worker action, for both the API and the pages."""
    if action in control.ADMIN_ACTIONS and not current_user.has_role("admin"):
        return {"error": forbidden(f"worker_{action}", {"worker": name})}, 403
    try:
        n = control.parse_step(body) if action in ("grow", "shrink") else 1
        return control.act(name, action, current_user.username, n), 202
    except Refused as exc:
        if exc.status == 422:
            audit.record_now(f"worker_{action}", "refused",
                             detail={"worker": name, "reason": exc.message})
        return {"error": exc.message}, exc.status


def process_action_result(name, action, host=None):
    """(payload, status) of start/stop/restart of a supervisord program (admin already checked);
    `host` names a SUPERVISORS entry (None: this host's supervisord)."""
    detail = {"process": name, **({"host": host} if host is not None else {})}
    if action not in PROCESS_ACTIONS:
        return {"error": f"action: must be one of {', '.join(PROCESS_ACTIONS)}"}, 404
    try:
        entry = getattr(supervisor, action)(name, host=host)
    except supervisor.NoSupervisor as exc:
        reason = f"{host}: {supervisor_hosts.problem(exc)}" if host is not None else exc.shown
        audit.record_now(f"process_{action}", "refused", detail={**detail, "reason": reason})
        return {"error": reason}, 503
    except Refused as exc:
        audit.record_now(f"process_{action}", "refused", detail={**detail, "reason": exc.message})
        return {"error": exc.message}, exc.status
    audit.record_now(f"process_{action}", "ok", detail={**detail, "state": entry["state"]})
    return entry, 202


@bp.route("/workers", methods=["GET"])
@require_role("viewer")
def workers():
    """Workers: name, state, pid, pool, queues, active requests, ..."""
    return jsonify(pauses.annotate(inspection.workers()))


@bp.route("/workers/<name>/<action>", methods=["POST"])
@require_role("operator")
def worker_action(name, action):
    """pause | resume | grow | shrink (body {"n": k}) | restart | shutdown (admin): 202 worker."""
    try:
        body = json_body('{"n": 1}', empty={})
    except Refused as exc:
        return error(exc.message, exc.status)
    payload, status = worker_action_result(name, action, body)
    return jsonify(payload), status


@bp.route("/workers/pause-all", methods=["POST"])
@require_role("operator")
def pause_all():
    """Every worker stops consuming (requests keep being accepted and wait as pending)."""
    return jsonify(workers=control.everyone("pause", current_user.username)), 202


@bp.route("/workers/resume-all", methods=["POST"])
@require_role("operator")
def resume_all():
    """Every worker consumes the requests queue again."""
    return jsonify(workers=control.everyone("resume", current_user.username)), 202


@bp.route("/processes", methods=["GET"])
@require_role("admin")
def processes():
    """This host's supervisord programs: name, state, pid, uptime_s; 503 without supervisord.
    With SUPERVISORS: [{host, where, processes, problem}] for every host listed."""
    hosts = supervisor_hosts.overview()
    if hosts:
        return jsonify(hosts)
    try:
        return jsonify(supervisor.processes())
    except supervisor.NoSupervisor as exc:
        return error(exc.shown, 503)


@bp.route("/processes/<name>/<action>", methods=["POST"])
@require_role("admin")
def process_action(name, action):
    """start | stop | restart one supervisord program (?host= a SUPERVISORS name): 202 with it;
    404; 409; 503."""
    payload, status = process_action_result(name, action, request.args.get("host"))
    return jsonify(payload), status


@bp.route("/requests/<int:request_id>/why", methods=["GET"])
@require_role("viewer")
def request_why(request_id):
    """Why a request is not running yet (reasons, queue), or where it runs."""
    answer = why.explain(request_id)
    db.session.rollback()
    if answer is None:
        return error(f"request {request_id} not found", 404)
    return jsonify(answer)
