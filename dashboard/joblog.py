"""An attempt's log lines: captured in the worker's pool process, written to PostgreSQL in batches.

While an attempt runs, what the job logs through Python `logging` (the
`dashboard.jobs` loggers at INFO and up, anything else at the worker's level)
and through `ctx.log` goes into a buffer. A writer thread (one per process,
started once, shared by the attempts that run there) flushes the buffer
every `LOG_FLUSH_S` (0.5 s) and once more at the end, each flush ONE multi-row
INSERT on its own autocommit connection, so the lines of an attempt that is
killed or times out are kept up to the moment it died: a soft time limit ends
through the final flush; a SIGKILL (kill, hard time limit, a dying worker)
loses at most the lines of the last flush period. At most
`LOG_LINES_PER_ATTEMPT` lines an attempt, then one "truncated" line. The
worker's own steps are lines too, marked with an `event` the timeline reads
(progress milestones here; `started`/`redelivered` are written by
`lifecycle.start` in the start's own statement); they do not count against the cap.
When the job returns, its last lines (`take()`) go into the success's own
statement instead (`lifecycle.finish(log_lines=...)`): a short job's log costs
no connection and no transaction of its own.
"""
import contextlib
import json
import logging
import os
import threading
import time
from datetime import datetime, timezone

from psycopg2.extras import execute_values
from sqlalchemy import text

from dashboard.extensions import db
from dashboard.recorder import Recorder

log = logging.getLogger(__name__)
JOB_LOGGERS = "dashboard.jobs"
_IGNORED = ("celery", "kombu", "amqp", __name__)
INSERT_SQL = ("INSERT INTO attempt_logs (request_id, attempt, at, level, message, event, detail)"
              " VALUES %s")
_recorder = Recorder()
recording = _recorder.recording  # within the block, each statement a log writer of this process sends


class _Capture(logging.Handler):
    """Feeds log records of the attempt's process into its AttemptLog."""

    def __init__(self, sink):
        super().__init__(logging.DEBUG)
        self.sink = sink
        self.setFormatter(logging.Formatter("%(name)s: %(message)s"))

    def emit(self, record):
        if record.name.startswith(_IGNORED):
            return
        try:
            self.sink.add(record.levelname, self.format(record))
        except Exception:  # a log line must never break the job
            self.handleError(record)


class _Writer:
    """The process's writer thread: every flush period it flushes each open AttemptLog.

    One thread per process, started by the first attempt (again in a forked
    child, which does not inherit it), instead of a thread per attempt. It wakes
    every period whether or not an attempt is open: registering an attempt is then
    a set insertion, with no condition to notify (that wake-up was 7 % of a pool
    process's CPU on zero-duration jobs).
    """

    def __init__(self):
        self._open, self._lock = set(), threading.Lock()
        self._pid, self._period = None, None

    def register(self, attempt_log):
        with self._lock:
            self._open.add(attempt_log)
            if self._period is None or attempt_log.flush_s < self._period:
                self._period = attempt_log.flush_s
            if self._pid != os.getpid():
                self._pid = os.getpid()
                threading.Thread(target=self._loop, name="attempt-log", daemon=True).start()

    def unregister(self, attempt_log):
        with self._lock:
            self._open.discard(attempt_log)

    def _loop(self):
        while True:
            time.sleep(self._period)
            with self._lock:
                due = list(self._open)
            for attempt_log in due:
                attempt_log.flush(only_if_open=True)


_writer = _Writer()


class AttemptLog:
    """The buffer and writer of one attempt's lines; use as a context manager around the run."""

    def __init__(self, engine, request_id, attempt, cap=10000, flush_s=0.5):
        self.engine, self.request_id, self.attempt = engine, request_id, attempt
        self.cap, self.flush_s = cap, flush_s
        self._buffer, self._lock = [], threading.Lock()
        self._kept, self._truncated = 0, False
        self._flushing = threading.Lock()   # one flush at a time on the connection
        self._closed = False
        self._handler = _Capture(self)
        self._connection = None
        self.flushes = 0

    def add(self, level, message, event=None, detail=None):
        """Buffer one line (capped unless it is a worker event)."""
        level = str(level or "INFO").upper()[:10]
        line = (self.request_id, self.attempt, datetime.now(timezone.utc), level,
                str(message).replace("\x00", "\ufffd")[:10000], event,
                json.dumps(detail) if detail is not None else None)
        with self._lock:
            if event is None:
                if self._kept >= self.cap:
                    if self._truncated:
                        return
                    self._truncated = True
                    line = line[:3] + ("WARNING", f"truncated: more than {self.cap} lines in"
                                       " this attempt; the rest were not kept", None, None)
                else:
                    self._kept += 1
            self._buffer.append(line)

    def flush(self, only_if_open=False):
        """Write what is buffered in one statement; False when the database refused it."""
        with self._flushing:
            if only_if_open and self._closed:
                return True
            return self._flush()

    def _flush(self):
        with self._lock:
            rows, self._buffer = self._buffer, []
        if not rows:
            return True
        _recorder.record(INSERT_SQL)
        try:
            if self._connection is None:
                self._connection = self.engine.raw_connection()
            with self._connection.cursor() as cursor:
                # Log lines may be lost in a crash: this statement's implicit transaction
                # alone commits asynchronously (LOCAL: the pooled connection, which a
                # success may use next, keeps durable commits).
                execute_values(cursor, "SET LOCAL synchronous_commit = off; " + INSERT_SQL,
                               rows, page_size=len(rows))
            self._connection.commit()
            self.flushes += 1
            return True
        except Exception as exc:  # the lines are lost, the job goes on
            log.warning("log lines of request %s attempt %s not written (%d lines): %s",
                        self.request_id, self.attempt, len(rows), exc)
            self._discard_connection()
            return False

    def take(self):
        """Stop the writer and hand over the lines not written yet: (at, level, message, event, detail).

        The caller stores them (in `lifecycle.finish`) or gives them back
        (`give_back`) for the final flush; lines logged later are flushed as usual.
        """
        _writer.unregister(self)
        with self._flushing:
            self._closed = True
            with self._lock:
                rows, self._buffer = self._buffer, []
        return [row[2:] for row in rows]

    def give_back(self, rows):
        """Lines `take()` handed over that were not stored: written by the final flush."""
        with self._lock:
            self._buffer[:0] = [(self.request_id, self.attempt, *row) for row in rows]

    def _discard_connection(self):
        if self._connection is not None:
            with contextlib.suppress(Exception):
                self._connection.invalidate()
            self._connection = None

    def __enter__(self):
        jobs_logger = logging.getLogger(JOB_LOGGERS)
        level = min(logging.INFO, logging.getLogger().level or logging.INFO)
        if jobs_logger.level != level:   # setLevel clears every logger's cache
            jobs_logger.setLevel(level)
        logging.getLogger().addHandler(self._handler)
        _writer.register(self)
        return self

    def __exit__(self, *exc):
        logging.getLogger().removeHandler(self._handler)
        _writer.unregister(self)
        with self._flushing:
            self._closed = True
            self._flush()
            if self._connection is not None:
                with contextlib.suppress(Exception):
                    self._connection.close()
                self._connection = None
        return False


def store(engine, request_id, attempt, rows):
    """Write lines `take()` handed over that nothing else stored (one statement)."""
    with AttemptLog(engine, request_id, attempt) as attempt_log:
        attempt_log.give_back(rows)


LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
LINES_SQL = text("""
SELECT id, at, level, attempt, message FROM attempt_logs
WHERE request_id = :id AND (CAST(:attempt AS integer) IS NULL OR attempt = :attempt)
  AND id > :after AND level = ANY(CAST(:levels AS text[]))
ORDER BY id LIMIT :limit
""")


def lines(request_id, attempt=None, after=0, min_level="DEBUG", limit=500):
    """(lines, cursor): the request's log lines after the cursor, oldest first.

    Each line {at, level, attempt, message}; `cursor` is the id of the last line
    returned (or `after` when there is none), for the next call.
    """
    levels = list(LEVELS[LEVELS.index(min_level if min_level in LEVELS else "DEBUG"):])
    rows = db.session.execute(LINES_SQL, {
        "id": request_id, "attempt": attempt, "after": after, "levels": levels,
        "limit": limit}).mappings().all()
    return [dict(r) for r in rows], (rows[-1]["id"] if rows else after)
