"""Worker side of `last_heartbeat`: the time of this worker's latest heartbeat, in its stats.

A worker started with events (`-E`) sends a heartbeat event every few seconds;
Celery's `heartbeat_sent` signal fires in the worker's main process each time,
and we keep its time. `HeartbeatInfo`, a consumer bootstep, adds that time to
the worker's answer to `inspect stats` (Celery merges every step's `info()`
into it), so the dashboard shows each worker's own heartbeat with no extra
broadcast. A worker without events has none (null).
"""
import time

from celery import bootsteps, signals

_last = {"at": None}


@signals.heartbeat_sent.connect
def _heard(sender=None, **kwargs):
    _last["at"] = time.time()


class HeartbeatInfo(bootsteps.StartStopStep):
    """Adds `last_heartbeat` (epoch seconds, or None) to the worker's stats.

    A start-stop step (with nothing to start) because only those are asked for `info()`.
    """

    requires = ("celery.worker.consumer.events:Events",)

    def info(self, consumer):
        return {"last_heartbeat": _last["at"]}


def install(celery_app):
    """Register the bootstep with the app's worker consumer."""
    celery_app.steps["consumer"].add(HeartbeatInfo)
