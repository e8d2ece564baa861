"""Interrupt a batch's job whose request is no longer its to run (killed while it ran).

A batch runs its requests' jobs in turn in one pool process, so a kill cannot end
the process without ending the others' too, and Celery's revoke names the
batch's task, not the request's. Instead, while a job of a batch runs, a thread
of its pool process (one per process, started by the first batch, waking every
`POLL_S`) looks at the job's row once the job has run that long. When the row is
no longer `running` this attempt (killed, or retried after a kill), the thread
sends SIGUSR2 to the process's main thread; the handler raises `Stopped` in the
job if that job is still the one running. The batch then goes on with the next
request. A kill thus stops a batch's job within about `POLL_S`, and a job shorter
than that costs no read at all.
"""
import logging
import signal
import threading
import time
from contextlib import contextmanager

from flask import current_app

from dashboard import lifecycle

log = logging.getLogger(__name__)
POLL_S = 0.25
SIGNAL = signal.SIGUSR2


class Stopped(BaseException):
    """Raised inside a batch's job whose row says it must not run any more.

    A BaseException, as KeyboardInterrupt is, so a job's own `except Exception`
    does not swallow it.
    """


class _Watch:
    """The process's watcher: the job running now, and the thread that checks its row."""

    def __init__(self):
        self.current = None     # (request id, task id, since) of the job running now
        self.stop_for = None    # (request id, task id) the thread found no longer ours
        self._thread, self._main, self._app = None, None, None

    def _arm(self):
        """Install the handler and start the thread (once per process); False off the main thread."""
        if threading.current_thread() is not threading.main_thread():
            return False
        if self._thread is None or not self._thread.is_alive():
            signal.signal(SIGNAL, self._interrupt)
            self._main = threading.main_thread().ident
            self._app = current_app._get_current_object()
            self._thread = threading.Thread(target=self._loop, name="batch-watch", daemon=True)
            self._thread.start()
        return True

    @contextmanager
    def running(self, request_id, task_id):
        """Around one job of a batch: it may be interrupted with `Stopped` while inside."""
        armed = self._arm()
        if armed:
            self.current = (request_id, task_id, time.monotonic())
        try:
            yield
        finally:
            self.current = None

    def _interrupt(self, signum, frame):
        target, current = self.stop_for, self.current
        if target is not None and current is not None and current[:2] == target:
            self.stop_for = None
            raise Stopped(f"request {target[0]} is no longer this attempt's to run")

    def _loop(self):
        while True:
            time.sleep(POLL_S)
            current = self.current
            if current is None or time.monotonic() - current[2] < POLL_S:
                continue
            try:
                with self._app.app_context():
                    mine = lifecycle.ours([current[:2]])
            except Exception as exc:  # PostgreSQL away: the job goes on, the batch's end decides
                log.warning("batch watch: row of request %s not read: %s", current[0], exc)
                continue
            if current[0] not in mine and self.current is current:
                log.info("request %s was killed while its batch ran it: stopping its job",
                         current[0])
                self.stop_for = current[:2]
                signal.pthread_kill(self._main, SIGNAL)


_watch = _Watch()
running = _watch.running
