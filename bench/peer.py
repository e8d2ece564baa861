"""The peers the pipeline is measured against: raw Celery (two ways), and Celery with its DB backend.

`celery -A bench.peer worker` with BENCH_PEER=raw|rawconfirm|dbbackend. Each
takes the dashboard's own Celery settings (acks_late, the same prefetch and
worker flags) and changes only what defines the peer: its queue; for `raw`,
publishing as Celery does by default (a plain `apply_async` loop without
publisher confirms, no task-sent event); for `rawconfirm`, one confirmed
publish at a time (the dashboard's transport options); for `dbbackend`, the
PostgreSQL result backend with track_started. The trivial task appends its
finish time to BENCH_DONE_FILE (one O_APPEND write), so the bench sees the
last completion without consuming events or results.
"""
import os
import time

from celery import Celery

from dashboard import celery_settings, config as settings

TASK = "bench.noop"
LINE = 18                                  # bytes per line of the done file: "%017.6f\n"
_fd = {}


def peer_settings(variant, config):
    """The dashboard's Celery settings, adapted for one peer."""
    conf = dict(celery_settings(config))
    conf.update(imports=(), beat_schedule={}, task_default_queue=f"bench_{variant}")
    if variant == "raw":
        conf.update(broker_transport_options={}, task_send_sent_event=False)
    elif variant == "dbbackend":
        conf.update(result_backend="db+" + config["SQLALCHEMY_DATABASE_URI"],
                    task_ignore_result=False, task_track_started=True)
    elif variant == "rawconfirm":   # as measured before: each publish (and its sent event) confirmed
        conf.update(broker_transport_options={"confirm_publish": True}, task_send_sent_event=True)
    else:
        raise ValueError(f"unknown peer {variant!r}")
    return conf


def done_file(variant):
    """Where the peer's tasks record their finish times."""
    from .stack import LOG_DIR
    return os.path.join(LOG_DIR, f"{variant}.done")


def _record_done():
    """Append this task's finish time (atomic: one short O_APPEND write)."""
    path = os.environ.get("BENCH_DONE_FILE")
    if path:
        if path not in _fd:
            _fd[path] = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        os.write(_fd[path], b"%017.6f\n" % time.time())


def make_app(variant):
    """A Celery app for the peer, with its trivial task."""
    app = Celery(f"bench_{variant}", set_as_current=False)
    app.config_from_object(peer_settings(variant, settings.load()))

    @app.task(name=TASK, shared=False)
    def noop(i):
        """The trivial task: note the time, return the argument."""
        _record_done()
        return i

    return app


app = make_app(os.environ.get("BENCH_PEER", "raw"))
