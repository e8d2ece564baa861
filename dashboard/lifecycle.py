"""Request states, the allowed transitions, and the only code that writes `status`.

Every write is a compare-and-set: an UPDATE whose WHERE names the allowed
source states and, for anything a worker writes, the attempt's task id. Zero
rows updated means the write is stale or illegal: it is logged and nothing
changes. The request row and its `attempts` row change in the same statement.
A trigger bumps `version` on every update (invariant 6). Callers commit.
"""
import enum
import functools
import logging
import re

import psycopg2
from psycopg2.extras import RealDictCursor
from sqlalchemy.exc import DBAPIError


from .extensions import db

log = logging.getLogger(__name__)


class Status(str, enum.Enum):
    UNASSIGNED = "unassigned"  # committed, not yet handed to the broker
    PENDING = "pending"        # claimed by a dispatcher, published with a fresh task id
    RUNNING = "running"        # a worker began the attempt
    SUCCESS = "success"        # terminal: the job returned
    FAILURE = "failure"        # terminal: the job raised
    TIMEOUT = "timeout"        # terminal: a soft or hard time limit ended it
    KILLED = "killed"          # terminal: an operator killed it

    def __str__(self):
        return self.value


ACTIVE = (Status.UNASSIGNED, Status.PENDING, Status.RUNNING)
TERMINAL = (Status.SUCCESS, Status.FAILURE, Status.TIMEOUT, Status.KILLED)
RETRYABLE = (Status.FAILURE, Status.TIMEOUT, Status.KILLED)
KILLABLE = ACTIVE
FINISHED_BY_WORKER = (Status.SUCCESS, Status.FAILURE, Status.TIMEOUT)


def _in(states):
    """SQL literal list for a tuple of states."""
    return "(" + ", ".join(f"'{s.value}'" for s in states) + ")"


_NAMED = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")


@functools.lru_cache(maxsize=256)
def _pyformat(sql):
    """`:name` parameters as psycopg2's `%(name)s` (literal % doubled)."""
    return _NAMED.sub(r"%(\1)s", sql.replace("%", "%%"))


def _run(sql, **params):
    """Execute transition SQL in the session's transaction; returns the rows as dicts.

    It goes straight to the session's psycopg2 connection: these statements run
    on every task, and SQLAlchemy's per-statement overhead was most of their
    cost. Driver errors are raised as SQLAlchemy's (OperationalError, ...), and
    a dropped connection is invalidated, exactly as SQLAlchemy itself would.
    """
    connection = db.session.connection()
    statement = _pyformat(sql)
    try:
        with connection.connection.cursor(cursor_factory=RealDictCursor) as cursor:
            cursor.execute(statement, params)
            return cursor.fetchall() if cursor.description else []
    except psycopg2.Error as exc:
        lost = isinstance(exc, (psycopg2.OperationalError, psycopg2.InterfaceError))
        if lost:
            connection.invalidate(exc)
        raise DBAPIError.instance(statement, params, exc, psycopg2.Error,
                                  connection_invalidated=lost) from exc


# A write that may be lost in a crash without losing work: a lost claim leaves
# the row unassigned (its message is refused as stale, the row is claimed again);
# a lost start or progress leaves the row pending/running for the same attempt.
ASYNC_COMMIT = "SET LOCAL synchronous_commit = off;\n"


def _stale(what, request_id, **why):
    """Log a compare-and-set that matched nothing."""
    log.info("stale or illegal %s on request %s ignored (%s)", what, request_id, why)


SUBMIT_SQL = """
WITH r AS (
  INSERT INTO requests (job_type, params, upload_id, submitted_by)
  VALUES (:job_type, CAST(:params AS jsonb), :upload_id, :submitted_by)
  RETURNING id
)
INSERT INTO attempts (request_id, number, status, triggered_by)
SELECT id, 1, 'unassigned', :submitted_by FROM r
RETURNING request_id
"""


def submit(job_type, params_json, upload_id, submitted_by):
    """Insert a new request as `unassigned` with its first attempt; returns its id."""
    return _run(SUBMIT_SQL, job_type=job_type, params=params_json, upload_id=upload_id,
                submitted_by=submitted_by)[0]["request_id"]


SUBMIT_SCHEDULED_SQL = """
WITH r AS (
  INSERT INTO requests (job_type, params, submitted_by, schedule_id, scheduled_for)
  VALUES (:job_type, CAST(:params AS jsonb), :submitted_by, :schedule_id, :scheduled_for)
  ON CONFLICT ON CONSTRAINT requests_schedule_fire_key DO NOTHING
  RETURNING id
)
INSERT INTO attempts (request_id, number, status, triggered_by)
SELECT id, 1, 'unassigned', :triggered_by FROM r
RETURNING request_id
"""


def submit_scheduled(job_type, params_json, schedule_id, scheduled_for, submitted_by,
                     triggered_by):
    """A schedule's request as `unassigned`; None when its fire time already has one.

    The UNIQUE (schedule_id, scheduled_for) key makes each fire time one request,
    whatever beat runs it twice; a manual run (scheduled_for None) never conflicts.
    """
    rows = _run(SUBMIT_SCHEDULED_SQL, job_type=job_type, params=params_json,
                submitted_by=submitted_by, schedule_id=schedule_id,
                scheduled_for=scheduled_for, triggered_by=triggered_by)
    return rows[0]["request_id"] if rows else None


CLAIM_SQL = ASYNC_COMMIT + """
WITH picked AS (
  SELECT id FROM requests WHERE status = 'unassigned'
  ORDER BY id LIMIT :limit FOR UPDATE SKIP LOCKED
), r AS (
  UPDATE requests SET status = 'pending', task_id = gen_random_uuid()::text,
         queued_at = now(), progress = 0, worker = NULL
  FROM picked WHERE requests.id = picked.id
  RETURNING requests.id, requests.task_id, requests.attempt, requests.job_type, requests.params
), a AS (
  UPDATE attempts SET status = 'pending', task_id = r.task_id, queued_at = now()
  FROM r WHERE attempts.request_id = r.id AND attempts.number = r.attempt
)
SELECT * FROM r ORDER BY id
"""


def claim(limit):
    """Dispatcher: move up to `limit` unassigned rows to pending with fresh task ids.

    The rows stay locked until the caller commits, so a worker that receives
    the message early waits on the lock instead of seeing a stale row.
    """
    return _run(CLAIM_SQL, limit=limit)


# The row lock first: it waits for the dispatcher's claim to commit (the claim
# holds it until the broker confirmed every message); the UPDATE, a separate
# statement, then takes a fresh snapshot that sees the claim. One round trip.
START_SQL = ASYNC_COMMIT + """
SELECT id FROM requests WHERE id = :id FOR UPDATE;
WITH r AS (
  UPDATE requests SET status = 'running', worker = :worker, started_at = now(), progress = 0
  WHERE id = :id AND task_id = :task_id
    AND (status = 'pending' OR (status = 'running' AND :redelivered))
  RETURNING id, attempt, job_type, params, upload_id
), a AS (
  UPDATE attempts SET status = 'running', worker = :worker, started_at = now()
  FROM r WHERE attempts.request_id = r.id AND attempts.number = r.attempt
)
SELECT * FROM r
"""


def start(request_id, task_id, worker, redelivered=False):
    """Worker: pending -> running for this attempt; None when it must not run.

    A redelivered message of the same attempt (its worker died) may run again;
    a duplicate that was not redelivered, a killed row or an old attempt may not.
    """
    rows = _run(START_SQL, id=request_id, task_id=task_id, worker=worker,
                redelivered=bool(redelivered))
    if not rows:
        _stale("start", request_id, task_id=task_id)
        return None
    return rows[0]


def report_progress(request_id, task_id, percent):
    """Worker: record progress of a running attempt; False when stale."""
    rows = _run(
        ASYNC_COMMIT + "UPDATE requests SET progress = :p WHERE id = :id AND task_id = :task_id"
        " AND status = 'running' AND progress <> :p RETURNING id",
        p=max(0, min(100, int(percent))), id=request_id, task_id=task_id)
    return bool(rows)


FINISH_SQL = """
WITH r AS (
  UPDATE requests SET status = :status, finished_at = now(),
         progress = CASE WHEN :status = 'success' THEN 100 ELSE progress END,
         result = CAST(:result AS jsonb), error = :error, traceback = :traceback
  WHERE id = :id AND task_id = :task_id AND status IN ('pending', 'running')
  RETURNING id, attempt
), a AS (
  UPDATE attempts SET status = :status, finished_at = now(), error = :error,
         traceback = :traceback
  FROM r WHERE attempts.request_id = r.id AND attempts.number = r.attempt
)
SELECT * FROM r
"""


def finish(request_id, task_id, status, result_json=None, error=None, traceback=None):
    """Worker: record the attempt's one terminal result; False when stale (invariant 4)."""
    status = Status(status)
    assert status in FINISHED_BY_WORKER, status
    rows = _run(FINISH_SQL, status=status.value, result=result_json, error=error,
                traceback=traceback, id=request_id, task_id=task_id)
    if not rows:
        _stale("finish", request_id, task_id=task_id, status=status.value)
    return rows[0] if rows else None


KILL_SQL = f"""
WITH old AS (
  SELECT id, status, task_id, worker, attempt FROM requests
  WHERE id = :id AND status IN {_in(KILLABLE)} FOR UPDATE
), r AS (
  UPDATE requests SET status = 'killed', finished_at = now(), error = :error
  FROM old WHERE requests.id = old.id
  RETURNING requests.id
), a AS (
  UPDATE attempts SET status = 'killed', finished_at = now(), error = :error
  FROM old WHERE attempts.request_id = old.id AND attempts.number = old.attempt
)
SELECT old.* FROM old JOIN r USING (id)
"""


def kill(request_id, by):
    """Operator: any active state -> killed; returns the old row (status, task_id) or None."""
    rows = _run(KILL_SQL, id=request_id, error=f"killed by {by}")
    if not rows:
        _stale("kill", request_id)
        return None
    return rows[0]


RETRY_SQL = f"""
WITH r AS (
  UPDATE requests r SET status = 'unassigned', attempt = attempt + 1, task_id = NULL,
         worker = NULL, progress = 0, result = NULL, error = NULL, traceback = NULL,
         queued_at = NULL, started_at = NULL, finished_at = NULL
  WHERE {{where}} AND status IN {_in(RETRYABLE)}
  RETURNING id, attempt
)
INSERT INTO attempts (request_id, number, status, triggered_by)
SELECT id, attempt, 'unassigned', :by FROM r
RETURNING request_id
"""


def retry(request_id, by):
    """Operator: failure | timeout | killed -> unassigned as a new attempt; False if not allowed."""
    rows = _run(RETRY_SQL.format(where="r.id = :id"), id=request_id, by=by)
    if not rows:
        _stale("retry", request_id)
    return bool(rows)


def retry_failed(by, where="true", **params):
    """Operator: retry every `failure` request matching a filter (on alias `r`), in one statement."""
    where = f"status = 'failure' AND ({where})"
    return len(_run(RETRY_SQL.format(where=where), by=by, **params))


def auto_retry(job_type, max_attempts, backoff_s):
    """Beat: re-queue `failure` rows of a job type whose backoff has passed, as `auto` attempts."""
    where = ("status = 'failure' AND job_type = :job_type AND attempt < :max_attempts"
             " AND finished_at <= now() - make_interval(secs => :backoff * power(2, attempt - 1))")
    return len(_run(RETRY_SQL.format(where=where), by="auto", job_type=job_type,
                    max_attempts=max_attempts, backoff=float(backoff_s)))


REQUEUE_SQL = """
WITH picked AS (
  SELECT id FROM requests WHERE status = 'pending'
    AND queued_at < now() - make_interval(secs => :s)
  ORDER BY id LIMIT :limit FOR UPDATE SKIP LOCKED
)
UPDATE requests SET queued_at = now() FROM picked WHERE requests.id = picked.id
RETURNING requests.id, requests.task_id, requests.attempt, requests.job_type, requests.params
"""


def requeue_stale_pending(older_than_s, limit):
    """Dispatcher: pending attempts not started for a while, to publish again (same task id).

    A duplicate message is harmless: `start` lets only one non-redelivered copy run.
    """
    return _run(REQUEUE_SQL, s=float(older_than_s), limit=limit)
