"""Worker side of a pause: every queue the worker consumes stops; resume brings back its own.

Connected to Celery's `worker_init` signal, sent after the worker has chosen
its queues (`-Q requests,volumes`; `requests` without -Q) and before any consumer
starts: those are the queues it was started with. When dashboard.workers.pauses says
this worker (or everyone) is paused, all of them are deselected: the worker
starts, answers inspection and control commands (the workers page shows it
paused) and takes no request until an operator resumes it.

Two control commands do the operators' pause and resume: `dashboard_pause` stops
consuming every queue the worker consumes now; `dashboard_resume` consumes again each
queue it was started with (a queue added by hand since, e.g. Celery's add_consumer
from Flower, is not added back).

When PostgreSQL cannot be read at start, the worker starts paused (the safe
side of "stop the line") and a thread keeps reading; once it can, a worker
with no stored pause resumes itself through the same `dashboard_resume` command.
"""
import logging
import threading

from celery import signals
from celery.worker.control import control_command

from dashboard.extensions import db
from dashboard.workers import pauses
from dashboard.workers.inspection import QUEUE

log = logging.getLogger(__name__)
RECHECK_S = 5.0
STARTED_WITH = []  # the queues this worker was started with (set at worker_init)


def _consuming(consumer):
    """The names of the queues the worker's task consumer consumes now."""
    task_consumer = getattr(consumer, "task_consumer", None)
    return sorted(q.name for q in getattr(task_consumer, "queues", None) or [])


@control_command()
def dashboard_pause(state, **_):
    """Stop consuming every queue this worker consumes (running tasks go on)."""
    names = _consuming(state.consumer)
    for name in names:
        state.consumer.call_soon(state.consumer.cancel_task_queue, name)
    return {"ok": f"no longer consuming from {', '.join(names) or 'any queue'}"}


@control_command()
def dashboard_resume(state, **_):
    """Consume again each queue this worker was started with."""
    started, now = STARTED_WITH or [QUEUE], set(_consuming(state.consumer))
    for name in started:
        if name not in now:
            state.consumer.call_soon(state.consumer.add_task_queue, name)
    return {"ok": f"consuming from {', '.join(started)}"}


def _stored(flask_app, name):
    """The stored pause of `name` (None: consume); raises when PostgreSQL does not answer."""
    with flask_app.app_context():
        try:
            return pauses.stored(name)
        finally:
            db.session.remove()


def _recheck(celery_app, name):
    """PostgreSQL was unreadable at start: resume once it says this worker is not paused."""
    stop = threading.Event()
    while not stop.wait(RECHECK_S):
        try:
            pause = _stored(celery_app.flask_app, name)
        except Exception as exc:
            log.warning("stored pause still unreadable (%s); %s stays paused",
                        exc.__class__.__name__, name)
            continue
        if pause is None:
            log.warning("no stored pause for %s: consuming %s", name, ", ".join(STARTED_WITH))
            celery_app.control.broadcast("dashboard_resume", destination=[name], reply=False)
        else:
            log.warning("%s stays paused: stored by %s", name, pause["by"])
        return


@signals.worker_init.connect
def _apply_stored_pause(sender=None, **_):
    """Deselect every queue before the consumer starts when this worker is paused."""
    name, celery_app = sender.hostname, sender.app
    STARTED_WITH[:] = sorted(celery_app.amqp.queues.consume_from)
    try:
        pause = _stored(celery_app.flask_app, name)
    except Exception as exc:  # PostgreSQL away: start paused, read again later
        log.error("cannot read the stored pause of %s (%s: %s): starting paused until it"
                  " can be read", name, exc.__class__.__name__, exc)
        pause = {"by": "unknown (PostgreSQL unreadable)", "everyone": False}
        threading.Thread(target=_recheck, args=(celery_app, name), name="pause-recheck",
                         daemon=True).start()
    if pause is None:
        return
    celery_app.amqp.queues.deselect(list(STARTED_WITH))
    log.warning("%s starts paused (%s by %s): not consuming %s until resumed", name,
                "pause everything" if pause["everyone"] else "paused", pause["by"],
                ", ".join(STARTED_WITH))
