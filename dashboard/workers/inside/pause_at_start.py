"""Worker side of a stored pause: a worker that starts while paused does not consume `requests`.

Connected to Celery's `worker_init` signal, sent after the worker has chosen
its queues and before any consumer starts. When dashboard.workers.pauses says this
worker (or everyone) is paused, the `requests` queue is deselected: the worker
starts, answers inspection and control commands (the workers page shows it
paused) and takes no request until an operator resumes it, which adds the
queue back (Celery's add_consumer).

When PostgreSQL cannot be read at start, the worker starts paused (the safe
side of "stop the line") and a thread keeps reading; once it can, a worker
with no stored pause resumes itself through the same add_consumer command.
"""
import logging
import threading

from celery import signals

from dashboard.extensions import db
from dashboard.workers import pauses
from dashboard.workers.inspection import QUEUE

log = logging.getLogger(__name__)
RECHECK_S = 5.0


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
            log.warning("no stored pause for %s: consuming %s", name, QUEUE)
            celery_app.control.add_consumer(QUEUE, destination=[name], reply=False)
        else:
            log.warning("%s stays paused: stored by %s", name, pause["by"])
        return


@signals.worker_init.connect
def _apply_stored_pause(sender=None, **_):
    """Deselect the requests queue before the consumer starts when this worker is paused."""
    name, celery_app = sender.hostname, sender.app
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
    celery_app.amqp.queues.deselect([QUEUE])
    log.warning("%s starts paused (%s by %s): not consuming %s until resumed", name,
                "pause everything" if pause["everyone"] else "paused", pause["by"], QUEUE)
