"""Worker side of the worker actions: a graceful stop with a stop timeout, and who supervises us.

Loaded by the Celery entry point (worker.py), so every worker answers:

- `dashboard_stop` (restart: bool): a warm shutdown (the worker stops taking
  work, running tasks finish), exiting 75 for a restart and 0 for a shutdown.
  A supervisor that restarts "unexpected" exits only (supervisord's
  `autorestart=unexpected`, `exitcodes=0`; systemd's `Restart=on-failure`)
  starts it again after a restart and leaves it down after a shutdown.
- `supervision`: whether a supervisor runs this worker (supervisord sets
  SUPERVISOR_ENABLED and SUPERVISOR_PROCESS_NAME; WORKER_SUPERVISED=1 says so
  for any other), its program name and its stop timeout.

Every warm shutdown (TERM or `dashboard_stop`) is bounded by WORKER_STOP_TIMEOUT_S:
when it passes, the pool processes still running a task are killed; with
acks_late and reject_on_worker_lost their messages go back to the queue and
another worker runs them. The worker then exits; a last fallback ends the
process outright so the broker redelivers whatever it still holds.
"""
import logging
import os
import signal
import socket
import threading

from celery import signals
from celery.exceptions import WorkerShutdown
from celery.worker.control import control_command, inspect_command

log = logging.getLogger(__name__)
EX_RESTART = 75  # EX_TEMPFAIL: "try again", so a supervisor starts the worker again
_armed = threading.Event()


def stop_timeout_s():
    """Seconds a warm shutdown may wait for running tasks (WORKER_STOP_TIMEOUT_S, default 60)."""
    try:
        return float(os.environ.get("WORKER_STOP_TIMEOUT_S") or 60)
    except ValueError:
        return 60.0


def supervision():
    """{supervised, supervisor, program, host, pid, stop_timeout_s} of this worker process."""
    if os.environ.get("SUPERVISOR_ENABLED"):
        supervisor = "supervisord"
    elif os.environ.get("WORKER_SUPERVISED") == "1":
        supervisor = "external"
    else:
        supervisor = None
    return {"supervised": supervisor is not None, "supervisor": supervisor,
            "program": os.environ.get("SUPERVISOR_PROCESS_NAME"),
            "host": socket.gethostname(), "pid": os.getpid(), "stop_timeout_s": stop_timeout_s()}


def _pool_children():
    """Pids of this process's pool processes."""
    import billiard.process
    return [p.pid for p in billiard.process.active_children() if p.pid]


def _expire(grace_s=10.0):
    """The stop timeout passed: kill the pool processes still running, then make sure we exit."""
    pids = _pool_children()
    log.warning("stop timeout (%.0f s) passed: killing pool processes %s; their tasks are"
                " redelivered", stop_timeout_s(), pids)
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    timer = threading.Timer(grace_s, lambda: os._exit(EX_RESTART if _restart["on"] else 0))
    timer.daemon = True
    timer.start()


_restart = {"on": False}


def arm(restart=False):
    """Start the stop-timeout clock once per process."""
    _restart["on"] = _restart["on"] or restart
    if _armed.is_set():
        return
    _armed.set()
    timer = threading.Timer(stop_timeout_s(), _expire)
    timer.daemon = True
    timer.start()


@signals.worker_shutting_down.connect
def _on_shutting_down(sig=None, how=None, **_):
    """TERM (supervisord's stop, systemd, a person): the same bounded warm shutdown."""
    if how == "Warm":
        arm()


@inspect_command()
def supervision_info(state):
    """Who supervises this worker (see supervision())."""
    return supervision()


@control_command(args=[("restart", int)], signature="[restart=0]")
def dashboard_stop(state, restart=0, **_):
    """Warm shutdown bounded by the stop timeout; exit 75 to be restarted, 0 to stay down."""
    log.warning("graceful %s requested from the dashboard (stop timeout %.0f s)",
                "restart" if restart else "shutdown", stop_timeout_s())
    arm(bool(restart))
    raise WorkerShutdown(EX_RESTART if restart else 0)


