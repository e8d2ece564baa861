"""Operator actions on workers: pause/resume consuming, grow/shrink the pool, restart, shut down.

Everything goes through Celery's control commands (so it reaches workers on
other hosts). Pause stops every queue the worker consumes; resume consumes again the
queues it was started with (dashboard.workers.inside.pause_at_start). A pause is also stored in PostgreSQL (dashboard.workers.pauses), so a
worker that restarts, or starts later under "pause everything", comes back
paused; resume clears it. A shutdown of a worker run by this host's supervisord stops its
program there, so it stays down until started. Each action checks the worker's
state first, inspected fresh, under a PostgreSQL advisory lock per worker. An
action that finds another one in progress on the same worker answers 409 at
once ("another action on worker X is in progress") rather than hold a web
thread while it waits; one that comes after sees what the first did (e.g.
"already paused" answers 409). A worker name with control characters (NUL
included) names no worker: 404. Every click and every refusal is audited.
"""
import logging
import re
import socket
import time

from flask import current_app
from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import text

from dashboard import audit
from dashboard.errors import Refused
from dashboard.extensions import db
from dashboard.workers import inspection, pauses, supervisor

log = logging.getLogger(__name__)
QUEUE = inspection.QUEUE
ACTIONS = ("pause", "resume", "grow", "shrink", "restart", "shutdown")
ADMIN_ACTIONS = ("restart", "shutdown")
MAX_STEP = 64
LOCK_SQL = "SELECT pg_try_advisory_xact_lock(hashtext('worker:' || :name))"
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# QUEUE_TYPE=quorum: what the workers page says, and why grow/shrink are refused.
QUORUM_NOTE = ("the queues are RabbitMQ quorum queues, which have no global QoS: a worker's"
               " prefetch count is fixed when it starts, so a pool grown or shrunk (or"
               " autoscaled) would not take more or fewer requests; restart the worker with"
               " another concurrency instead")


def name_problem(name):
    """Why `name` cannot be a worker's name (control characters, NUL included), or None."""
    if CONTROL_CHARACTERS.search(name):
        return (f"no worker {name!r}: a worker name has no control characters"
                " (NUL, tabs, line breaks)")
    return None


def _celery():
    return current_app.extensions["celery"]


def _reply(replies, name):
    """The worker's answer to a control command ({'ok': ...} or {'error': ...}); None if silent."""
    for reply in replies or []:
        if name in reply:
            return reply[name]
    return None


def _checked(replies, name, action):
    answer = _reply(replies, name)
    if answer is None:
        raise Refused(_("worker %(name)s did not answer the %(action)s command in time",
                         name=name, action=action), 409)
    if "error" in answer:
        raise Refused(_("worker %(name)s refused %(action)s: %(error)s", name=name, action=action,
                         error=answer['error']), 409)
    return answer.get("ok")


def parse_step(body):
    """`n` of a grow/shrink body: an integer from 1 to MAX_STEP, default 1."""
    n = (body or {}).get("n", 1)
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_STEP:
        raise Refused(_("n: must be an integer from 1 to %(max_step)s", max_step=MAX_STEP), 422)
    return n


def act(name, action, by, n=1):
    """Do `action` on worker `name`; returns the worker as inspected afterwards."""
    detail = {"worker": name, **({"n": n} if action in ("grow", "shrink") else {})}
    try:
        if action not in ACTIONS:
            raise Refused(_("action: must be one of %(actions)s", actions=", ".join(ACTIONS)),
                          404)
        if name_problem(name):
            raise Refused(name_problem(name), 404)
        if not db.session.execute(text(LOCK_SQL), {"name": name}).scalar():
            # the lock is held until the audit commit
            raise Refused(_("another action on worker %(name)s is in progress: try again when "
                             "it is done", name=name), 409)
        worker = inspection.worker(name)
        if worker is None:
            raise Refused(_("no worker %(name)r (not answering and not seen recently)",
                             name=name), 404)
        if worker["state"] == "offline":
            raise Refused(_("worker %(name)s is offline: it does not answer", name=name), 409)
        outcome = HANDLERS[action](worker, n, by)
    except Refused as exc:
        db.session.rollback()  # nothing half-done is kept (e.g. a stored pause)
        audit.record(f"worker_{action}", "refused", username=by,
                     detail={**detail, "reason": exc.message})
        db.session.commit()
        raise
    audit.record(f"worker_{action}", "ok", username=by, detail={**detail, "result": outcome})
    db.session.commit()
    inspection.clear_worker_cache()
    return pauses.annotate([inspection.worker(name) or worker])[0]


def _pause(worker, n, by):
    stored = pauses.stored(worker["name"])
    if worker["state"] == "paused" and stored is not None:
        raise Refused(_("worker %(name)s is already paused", name=worker['name']), 409)
    pauses.pause(worker["name"], by)
    if worker["state"] == "paused":
        return "already not consuming; pause stored"
    answer = _checked(_celery().control.broadcast(
        "dashboard_pause", destination=[worker["name"]], reply=True, timeout=2),
        worker["name"], "pause")
    _wait_state(worker["name"], "paused")
    return answer


def _resume(worker, n, by):
    stored = pauses.stored(worker["name"])
    if worker["state"] != "paused" and stored is None:
        raise Refused(_("worker %(name)s is not paused: it consumes %(value)s already",
                         name=worker['name'], value=', '.join(worker['queues']) or QUEUE), 409)
    pauses.resume(worker["name"], by)
    if worker["state"] != "paused":
        return "already consuming; stored pause cleared"
    answer = _checked(_celery().control.broadcast(
        "dashboard_resume", destination=[worker["name"]], reply=True, timeout=2),
        worker["name"], "resume")
    _wait_state(worker["name"], "online")
    return answer


def _wait_state(name, state, timeout=5.0):
    """The consumer changes soon after the reply (call_soon): wait until inspection shows it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        current = inspection.worker(name)
        if current and current["state"] == state:
            return current
        time.sleep(0.1)
    return None


def _refuse_on_quorum(worker, action):
    """Pool size changes need global QoS, which quorum queues do not have: refuse them."""
    if current_app.config.get("QUEUE_TYPE") == "quorum":
        raise Refused(_("cannot %(action)s the pool of %(name)s: %(quorum_note)s", action=action,
                         name=worker['name'], quorum_note=QUORUM_NOTE), 409)


def _grow(worker, n, by):
    _refuse_on_quorum(worker, "grow")
    if worker["autoscale"]:
        raise Refused(_("worker %(name)s autoscales %(autoscale)s: change its bounds instead "
                         "of growing the pool", name=worker['name'],
                         autoscale=worker['autoscale']), 409)
    answer = _checked(_celery().control.pool_grow(
        n, destination=[worker["name"]], reply=True, timeout=2), worker["name"], "grow")
    size = worker["pool_target"] or worker["concurrency"] or 0
    return f"{answer}: {size} -> {size + n}"


def _shrink(worker, n, by):
    _refuse_on_quorum(worker, "shrink")
    if worker["autoscale"]:
        raise Refused(_("worker %(name)s autoscales %(autoscale)s: change its bounds instead "
                         "of shrinking the pool", name=worker['name'],
                         autoscale=worker['autoscale']), 409)
    size = worker["pool_target"] or worker["concurrency"] or 0
    if size - n < 1:
        raise Refused(ngettext("worker %(name)s has %(num)d pool process: shrinking by %(n)s"
                               " would leave %(left)s; a pool keeps at least 1",
                               "worker %(name)s has %(num)d pool processes: shrinking by %(n)s"
                               " would leave %(left)s; a pool keeps at least 1", size,
                               name=worker["name"], n=n, left=size - n), 409)
    answer = _checked(_celery().control.pool_shrink(
        n, destination=[worker["name"]], reply=True, timeout=2), worker["name"], "shrink")
    return f"{answer}: {size} -> {size - n}"


def _supervision(name):
    """What the worker says about its supervisor (dashboard.workers.inside.commands)."""
    replies = _celery().control.inspect([name], timeout=2)._request("supervision_info") or {}
    info = replies.get(name)
    if info is None:
        raise Refused(_("worker %(name)s did not say who supervises it (is it running this "
                         "version of the code?)", name=name), 409)
    return info


def _restart(worker, n, by):
    info = _supervision(worker["name"])
    if not info["supervised"]:
        raise Refused(_("worker %(name)s runs without a process supervisor: nothing would "
                         "start it again after it exits; shut it down and start it by hand",
                         name=worker['name']), 409)
    _celery().control.broadcast("dashboard_stop", arguments={"restart": 1},
                                destination=[worker["name"]], reply=False)
    return (f"graceful restart under {info['supervisor']} (running tasks get"
            f" {info['stop_timeout_s']:.0f} s)")


def _shutdown(worker, n, by):
    info = _supervision(worker["name"])
    here = info.get("host") == socket.gethostname()   # another host's pids are not ours
    program = supervisor.program_of(worker["name"], info["pid"]) if here else None
    if program:  # this host's supervisord: stop the program, so it is not started again
        supervisor.stop(program)
        return f"supervisord program {program} stopping (TERM, warm shutdown)"
    _celery().control.broadcast("dashboard_stop", arguments={"restart": 0},
                                destination=[worker["name"]], reply=False)
    return f"warm shutdown (running tasks get {info['stop_timeout_s']:.0f} s), exit 0"


# What each action does to a worker: handler(worker, n, by) -> what the worker answered.
HANDLERS = {"pause": _pause, "resume": _resume, "grow": _grow, "shrink": _shrink,
            "restart": _restart, "shutdown": _shutdown}


def everyone(action, by):
    """Pause or resume every worker at once (broadcast); returns {worker: answer}.

    The pause is stored and committed before the broadcast, so workers that are
    down now, or start meanwhile or later, are paused too; resume clears every stored pause.
    """
    if action == "pause":
        pauses.pause_everyone(by)
    else:
        pauses.resume_everyone()
    db.session.commit()
    answers = {}
    for reply in _celery().control.broadcast(f"dashboard_{action}", reply=True,
                                             timeout=1.5) or []:
        for name, answer in reply.items():
            answers[name] = answer.get("ok") or answer.get("error")
    audit.record(f"workers_{action}_all", "ok" if answers else "refused", username=by,
                 detail={"workers": answers or "no worker answered", "stored": True})
    db.session.commit()
    inspection.clear_worker_cache()
    if action == "resume":
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(
                w["state"] == "paused" for w in inspection.workers(ttl=0)):
            time.sleep(0.1)
            inspection.clear_worker_cache()
    return answers


def rolling_restart(timeout_s=None, echo=print):
    """Restart every online worker in turn, each once the previous is back online (new pid)."""
    names = [w["name"] for w in inspection.workers(ttl=0, timeout=1.0) if w["state"] != "offline"]
    if not names:
        echo("no worker answers: nothing to restart")
        return []
    done = []
    for name in names:
        before = inspection.worker(name)
        info = _supervision(name)
        limit = timeout_s or info["stop_timeout_s"] + 60
        echo(f"{name}: restarting (pid {before['pid']}, waiting up to {limit:.0f} s)")
        act(name, "restart", "make restart-workers")
        deadline = time.monotonic() + limit
        while True:
            time.sleep(0.5)
            now = inspection.worker(name)
            if now and now["state"] != "offline" and now["pid"] and now["pid"] != before["pid"]:
                echo(f"{name}: back online (pid {now['pid']})")
                done.append(name)
                break
            if time.monotonic() > deadline:
                raise Refused(_("%(name)s did not come back online within %(limit).0f s; "
                                 "stopping the rolling restart", name=name, limit=limit), 409)
    return done
