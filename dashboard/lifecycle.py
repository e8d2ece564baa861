"""Request states, the allowed transitions, and the only code that writes `status`.

Every write is a compare-and-set: an UPDATE whose WHERE names the allowed
source states and, for anything a worker writes, the attempt's task id. Zero
rows updated means the write is stale or illegal: it is logged and nothing
changes. The request row and its `attempts` row change in the same statement.
A trigger bumps `version` on every update (invariant 6). Callers commit.
Each statement is a fixed text in psycopg2's own `%(name)s` style that takes
values only; `recording()` lets tests see which statements a transition ran.
"""
import enum
import logging
import os
import re
import threading
from dataclasses import dataclass
from datetime import datetime

import psycopg2
from psycopg2.extras import RealDictCursor
from sqlalchemy.exc import DBAPIError

from dashboard.extensions import READS, db
from dashboard.recorder import Recorder

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


def sql_list(states):
    """SQL literal list for a tuple of states."""
    return "(" + ", ".join(f"'{s.value}'" for s in states) + ")"


_recorder = Recorder()  # tests look at the statements run: `with lifecycle.recording() as ran:`


# Within the block, every transition statement this process runs is added to the list, as
# sent to the driver (psycopg2's `%(name)s` parameters), from any thread.
recording = _recorder.recording


class Prepared:
    """A hot-path statement that PostgreSQL plans once per connection: PREPARE, then EXECUTE.

    Planning was a third of these statements' time in PostgreSQL (pg_stat_statements
    over 4,000 requests: 0.33 ms to plan the success, 0.24 ms the start, 0.14 ms
    its row lock, each time). `sql` is the fixed text in `%(name)s` style; each of
    its statements but a `SET` becomes one prepared statement, named `name_N`;
    `types` names the type of a parameter used where PostgreSQL would deduce two
    (a varchar column and a text expression), the others are deduced.
    What one call sends is `text`: the SETs and the EXECUTEs, one round trip; the
    PREPAREs go once, before the first call on each connection (a reconnected
    connection starts without them). The dispatcher's claim, the worker's start,
    progress and success are prepared; statements the dashboard runs with a
    filter of optional values are not (their plans rely on seeing the values).
    """

    def __init__(self, name, sql, types=None):
        assert "%%" not in sql, "a literal % would reach PREPARE doubled"
        types = types or {}
        self.name, self.sql, self.prepare, parts = name, sql, [], []
        for i, statement in enumerate(p.strip() for p in sql.split(";\n") if p.strip()):
            if statement.upper().startswith("SET "):
                parts.append(statement)
                continue
            names = list(dict.fromkeys(re.findall(r"%\((\w+)\)s", statement)))
            body = re.sub(r"%\((\w+)\)s", lambda m: f"${names.index(m.group(1)) + 1}",
                          statement)
            declared = ", ".join(types.get(n, "unknown") for n in names)
            self.prepare.append(f"PREPARE {name}_{i}({declared}) AS {body}" if names
                                else f"PREPARE {name}_{i} AS {body}")
            args = ", ".join(f"%({n})s" for n in names)
            parts.append(f"EXECUTE {name}_{i}({args})" if names else f"EXECUTE {name}_{i}")
        self.text = ";\n".join(parts)

    def __str__(self):
        return self.sql


def _execute(cursor, connection, statement, params):
    """Run a statement text or a Prepared one on a pool connection's cursor."""
    if not isinstance(statement, Prepared):
        cursor.execute(statement, params)
        return
    prepared = connection.connection.info.setdefault("dashboard_prepared", set())
    if statement.name not in prepared:
        cursor.execute(";\n".join(statement.prepare))
        prepared.add(statement.name)
    cursor.execute(statement.text, params)


_held = {}  # (pid, thread, engine) -> the autocommit Connection own-transaction writes keep


def own_connection():
    """This thread's autocommit connection for own-transaction writes, kept between them.

    A pool checkout and checkin around every start and success were a tenth of a
    pool process's CPU (py-spy). Keyed by process too: a forked child never
    touches (nor closes) a connection its parent held; a dropped one is replaced.
    """
    engine = db.engines[READS]
    key = (os.getpid(), threading.get_ident(), id(engine))
    held = _held.get(key)
    if held is None or held[0] is not engine or held[1].invalidated or held[1].closed:
        held = _held[key] = (engine, engine.connect())
    return held[1]


def _run(sql, own_transaction=False, **params):
    """Execute transition SQL (`%(name)s` parameters) in the session's transaction; rows as dicts.

    It goes straight to the session's psycopg2 connection: these statements run
    on every task, and SQLAlchemy's per-statement overhead was most of their
    cost. Driver errors are raised as SQLAlchemy's (OperationalError, ...), and
    a dropped connection is invalidated, exactly as SQLAlchemy itself would.

    `own_transaction`: run it instead as a transaction of its own, committed
    when this returns, on an autocommit connection (kept by the thread): PostgreSQL runs the
    statements of one query string as one implicit transaction, so the write
    costs one round trip (no BEGIN, no COMMIT), outside the session's transaction.
    """
    statement, sql = sql, str(sql)
    _recorder.record(sql)
    connection = own_connection() if own_transaction else db.session.connection()
    try:
        with connection.connection.cursor(cursor_factory=RealDictCursor) as cursor:
            _execute(cursor, connection, statement, params)
            return cursor.fetchall() if cursor.description else []
    except psycopg2.Error as exc:
        lost = isinstance(exc, (psycopg2.OperationalError, psycopg2.InterfaceError))
        if lost:
            connection.invalidate(exc)
        raise DBAPIError.instance(sql, params, exc, psycopg2.Error,
                                  connection_invalidated=lost) from exc


# A write that may be lost in a crash without losing work: a lost claim leaves
# the row unassigned (its message is refused as stale, the row is claimed again);
# a lost start or progress leaves the row pending/running for the same attempt.
ASYNC_COMMIT = "SET LOCAL synchronous_commit = off;\n"


def _columns(rows, width):
    """The columns of equal-length tuples as lists (`width` empty ones when there are none):
    how a set of values goes to one statement as arrays (`unnest`)."""
    return [list(c) for c in zip(*rows)] if rows else [[] for _ in range(width)]


def _stale(what, request_id, **why):
    """Log a compare-and-set that matched nothing."""
    log.info("stale or illegal %s on request %s ignored (%s)", what, request_id, why)


# A request's priority: the one given, else its job type's current one (a stored override,
# else the declared value).
PRIORITY_SQL = """coalesce(CAST(%(priority)s AS smallint),
         (SELECT s.priority FROM job_type_settings s WHERE s.name = %(job_type)s),
         CAST(%(declared)s AS smallint))"""

SUBMIT_SQL = """
WITH r AS (
  INSERT INTO requests (job_type, params, upload_id, submitted_by, parent_id, priority)
  VALUES (%(job_type)s, CAST(%(params)s AS jsonb), %(upload_id)s, %(submitted_by)s,
          %(parent_id)s, """ + PRIORITY_SQL + """)
  RETURNING id
)
INSERT INTO attempts (request_id, number, status, triggered_by)
SELECT id, 1, 'unassigned', %(submitted_by)s FROM r
RETURNING request_id
"""


def submit(job_type, params_json, upload_id, submitted_by, parent_id=None, priority=None):
    """Insert a new request as `unassigned` with its first attempt; returns its id.

    `parent_id`: the request this one is a re-run of. `priority` (-10..10): None for the
    job type's current one.
    """
    return _run(SUBMIT_SQL, job_type=job_type, params=params_json, upload_id=upload_id,
                submitted_by=submitted_by, parent_id=parent_id, priority=priority,
                declared=_declared_priority(job_type))[0]["request_id"]


def _declared_priority(job_type):
    """The priority `job_type` declares (0 for a type no longer registered)."""
    from dashboard import jobs
    job = jobs.REGISTRY.get(job_type)
    return job.priority if job else 0


# Many requests in one statement: each row's id is drawn in the input's order and the ids
# come back by that order (not by RETURNING's, which PostgreSQL does not promise). The
# insert trigger's notifications are all delivered at the commit, together.
SUBMIT_MANY_SQL = """
WITH input AS (
  SELECT nextval(pg_get_serial_sequence('requests', 'id')) AS id, u.job_type, u.params, u.n,
         u.priority, u.declared
  FROM unnest(CAST(%(job_types)s AS text[]), CAST(%(params)s AS text[]),
              CAST(%(priorities)s AS smallint[]), CAST(%(declared)s AS smallint[]))
       WITH ORDINALITY AS u(job_type, params, priority, declared, n)
), r AS (
  INSERT INTO requests (id, job_type, params, submitted_by, priority)
  SELECT i.id, i.job_type, CAST(i.params AS jsonb), %(submitted_by)s,
         coalesce(i.priority,
                  (SELECT s.priority FROM job_type_settings s WHERE s.name = i.job_type),
                  i.declared)
  FROM input i ORDER BY i.n
  RETURNING id
), a AS (
  INSERT INTO attempts (request_id, number, status, triggered_by)
  SELECT id, 1, 'unassigned', %(submitted_by)s FROM r
)
SELECT id FROM input ORDER BY n
"""


def submit_many(items, submitted_by):
    """Insert `items` ((job type, params JSON[, priority]) tuples; no priority or None: the
    job type's current one) as `unassigned` requests, each with its first attempt, in one
    statement; returns their ids in the items' order."""
    items = [(*item, None)[:3] for item in items]
    job_types, params, priorities = _columns(items, 3)
    declared = [_declared_priority(job_type) for job_type in job_types]
    return [row["id"] for row in _run(SUBMIT_MANY_SQL, job_types=job_types, params=params,
                                      priorities=priorities, declared=declared,
                                      submitted_by=submitted_by)]


SUBMIT_SCHEDULED_SQL = """
WITH r AS (
  INSERT INTO requests (job_type, params, submitted_by, schedule_id, scheduled_for, priority)
  VALUES (%(job_type)s, CAST(%(params)s AS jsonb), %(submitted_by)s, %(schedule_id)s,
          %(scheduled_for)s, """ + PRIORITY_SQL + """)
  ON CONFLICT ON CONSTRAINT requests_schedule_fire_key DO NOTHING
  RETURNING id
)
INSERT INTO attempts (request_id, number, status, triggered_by)
SELECT id, 1, 'unassigned', %(triggered_by)s FROM r
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
                scheduled_for=scheduled_for, triggered_by=triggered_by, priority=None,
                declared=_declared_priority(job_type))
    return rows[0]["request_id"] if rows else None


CLAIM_SQL = ASYNC_COMMIT + """
WITH picked AS (
  SELECT id FROM requests WHERE status = 'unassigned'
  ORDER BY priority DESC, id LIMIT %(limit)s FOR UPDATE SKIP LOCKED
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

# The advisory lock (this key, the job type's hashtext) a claim of a limited type holds.
CLAIM_LOCK_KEY = 0x64617368  # "dash"

# The job types with a limit in force (declared, given as arrays, merged with the stored
# overrides), each with this transaction's try of its claim lock (NULL: paused or no
# lock needed). A type another dispatcher is claiming right now is skipped this pass:
# that one claims what the limit allows. Empty: the plain claim runs.
CLAIM_LIMITS_SQL = """
SELECT l.name, l.max_running, l.rate_per_min, l.paused,
       CASE WHEN NOT l.paused THEN pg_try_advisory_xact_lock(%(lock_key)s, hashtext(l.name))
       END AS locked
FROM (
  SELECT coalesce(d.name, s.name) AS name,
         coalesce(s.max_running, d.max_running) AS max_running,
         coalesce(s.rate_per_min, d.rate_per_min) AS rate_per_min,
         coalesce(s.paused, false) AS paused
  FROM unnest(CAST(%(names)s AS text[]), CAST(%(max_running)s AS integer[]),
              CAST(%(rate_per_min)s AS integer[])) AS d(name, max_running, rate_per_min)
  FULL JOIN job_type_settings s ON s.name = d.name
) l
WHERE l.max_running IS NOT NULL OR l.rate_per_min IS NOT NULL OR l.paused
"""

# The claim with limits in force: `names` (every limited or paused type) are left to the
# second branch, which takes of each claimable type (its lock held, not paused) at most
# its room: max_running less its pending + running, rate_per_min less what the last 60
# seconds dispatched (job_type_dispatches). Counted in this statement's snapshot, taken
# after the lock: a claim that held the lock before has committed. Then the best
# `limit` of both by priority and age.
CLAIM_LIMITED_SQL = ASYNC_COMMIT + """
WITH lim AS (
  SELECT * FROM unnest(CAST(%(claimable)s AS text[]), CAST(%(max_running)s AS integer[]),
                       CAST(%(rate_per_min)s AS integer[])) AS l(name, max_running, rate_per_min)
), room AS (
  SELECT lim.name, greatest(0, least(
    lim.max_running - (SELECT count(*) FROM requests q WHERE q.status IN ('pending', 'running')
                       AND q.job_type = lim.name),
    lim.rate_per_min - (SELECT coalesce(sum(d.n), 0) FROM job_type_dispatches d
                        WHERE d.name = lim.name AND d.at > now() - interval '60 seconds'),
    %(limit)s)) AS room
  FROM lim
), free AS (
  SELECT id, priority FROM requests
  WHERE status = 'unassigned' AND job_type <> ALL(CAST(%(names)s AS text[]))
  ORDER BY priority DESC, id LIMIT %(limit)s FOR UPDATE SKIP LOCKED
), held AS (
  SELECT p.id, p.priority FROM room, LATERAL (
    SELECT id, priority FROM requests WHERE status = 'unassigned' AND job_type = room.name
    ORDER BY priority DESC, id LIMIT room.room FOR UPDATE SKIP LOCKED) p
), chosen AS (
  SELECT id FROM (SELECT * FROM free UNION ALL SELECT * FROM held) picked
  ORDER BY priority DESC, id LIMIT %(limit)s
), r AS (
  UPDATE requests SET status = 'pending', task_id = gen_random_uuid()::text,
         queued_at = now(), progress = 0, worker = NULL
  FROM chosen WHERE requests.id = chosen.id
  RETURNING requests.id, requests.task_id, requests.attempt, requests.job_type, requests.params
), a AS (
  UPDATE attempts SET status = 'pending', task_id = r.task_id, queued_at = now()
  FROM r WHERE attempts.request_id = r.id AND attempts.number = r.attempt
), counted AS (
  INSERT INTO job_type_dispatches (name, n)
  SELECT r.job_type, count(*) FROM r JOIN lim ON lim.name = r.job_type
  WHERE lim.rate_per_min IS NOT NULL GROUP BY r.job_type
), aged AS (
  DELETE FROM job_type_dispatches d USING lim
  WHERE d.name = lim.name AND d.at < now() - interval '120 seconds'
)
SELECT * FROM r ORDER BY id
"""


def claim(limit, declared=()):
    """Dispatcher: move up to `limit` unassigned rows to pending with fresh task ids, higher
    priority first, then oldest, within the job types' limits.

    `declared`: (name, max_running, rate_per_min) of the job types that declare a limit
    (dashboard.jobs.limits.declared_all); the stored overrides are merged in here. With no
    limit in force and no type paused, the plain claim runs. The rows stay locked until
    the caller commits, so a worker that receives the message early waits on the lock
    instead of seeing a stale row; so does a limited type's claim lock.
    """
    names, max_running, rate = _columns(declared, 3)
    found = _run(_CLAIM_LIMITS, names=names, max_running=max_running, rate_per_min=rate,
                 lock_key=CLAIM_LOCK_KEY)
    CLAIM_STATE["limited"] = bool(found)
    if not found:
        return _run(_CLAIM, limit=limit)
    claimable = [row for row in found if row["locked"]]
    return _run(_CLAIM_LIMITED, limit=limit, names=[row["name"] for row in found],
                claimable=[row["name"] for row in claimable],
                max_running=[row["max_running"] for row in claimable],
                rate_per_min=[row["rate_per_min"] for row in claimable])


# Whether the last claim of this process had a limit in force: the dispatcher then looks
# again soon, as a finished request of a limited type frees room without a notification.
CLAIM_STATE = {"limited": False}


# The row locks first, in id order (two batches never deadlock): they wait for the
# dispatcher's claim to commit (the claim holds them until the broker confirmed every
# message); the UPDATE, a separate statement, then takes a fresh snapshot that sees the
# claim. One round trip, for one request or a batch of them (tasks.run_batch).
START_SQL = ASYNC_COMMIT + """
SELECT id FROM requests WHERE id = ANY(CAST(%(ids)s AS bigint[])) ORDER BY id FOR UPDATE;
WITH s AS (
  SELECT * FROM unnest(CAST(%(ids)s AS bigint[]), CAST(%(task_ids)s AS text[])) AS s(id, task_id)
), r AS (
  UPDATE requests SET status = 'running', worker = %(worker)s, started_at = now(), progress = 0
  FROM s WHERE requests.id = s.id AND requests.task_id = s.task_id
    AND (requests.status = 'pending' OR (requests.status = 'running' AND %(redelivered)s))
  RETURNING requests.id, requests.task_id, requests.attempt, requests.job_type,
            requests.params, requests.upload_id
), a AS (
  UPDATE attempts SET status = 'running', worker = %(worker)s, started_at = now()
  FROM r WHERE attempts.request_id = r.id AND attempts.number = r.attempt
), step AS (
  INSERT INTO attempt_logs (request_id, attempt, at, level, message, event, detail)
  SELECT r.id, r.attempt, clock_timestamp(), 'INFO',
         %(step)s || ': running on ' || coalesce(%(worker)s, '?') || ' (pid '
           || coalesce(CAST(%(pid)s AS integer)::text, '?')
           || coalesce(', one of ' || CAST(%(size)s AS integer)::text || ' in batch '
                       || %(batch)s, '') || ')', %(step)s,
         jsonb_build_object('worker', CAST(%(worker)s AS text), 'pid', CAST(%(pid)s AS integer))
           || CASE WHEN %(batch)s IS NULL THEN '{}'::jsonb
                   ELSE jsonb_build_object('batch', CAST(%(batch)s AS text)) END
  FROM r
)
SELECT * FROM r ORDER BY id
"""


def _start(items, worker, batch, redelivered, pid, own_transaction):
    """The start of `items` ((request id, task id) pairs): the rows that may run."""
    ids, task_ids = _columns(items, 2)
    return _run(_START, own_transaction, ids=ids, task_ids=task_ids, worker=worker,
                batch=batch, size=len(ids), redelivered=bool(redelivered), pid=pid,
                step="redelivered" if redelivered else "started")


def start(request_id, task_id, worker, redelivered=False, pid=None, own_transaction=False):
    """Worker: pending -> running for this attempt; None when it must not run.

    `own_transaction`: committed by this call, in one round trip (see `_run`).

    A redelivered message of the same attempt (its worker died) may run again;
    a duplicate that was not redelivered, a killed row or an old attempt may not.
    The start is also the attempt's first log line (`started` or `redelivered`,
    with the worker and the pool process id `pid`), which the timeline reads.
    """
    rows = _start([(request_id, task_id)], worker, None, redelivered, pid, own_transaction)
    if not rows:
        _stale("start", request_id, task_id=task_id)
        return None
    return rows[0]


PROGRESS_SQL = ASYNC_COMMIT + """
UPDATE requests SET progress = %(p)s WHERE id = %(id)s
  AND task_id = %(task_id)s AND status = 'running' AND progress <> %(p)s RETURNING id
"""


def report_progress(request_id, task_id, percent):
    """Worker: record progress of a running attempt; False when stale."""
    rows = _run(_PROGRESS, p=max(0, min(100, int(percent))), id=request_id, task_id=task_id)
    return bool(rows)


# The terminal result must be durable before the message is acked: a synchronous
# commit, whatever a pooled connection was set to before.
FINISH_SQL = """
SET LOCAL synchronous_commit = on;
WITH r AS (
  UPDATE requests SET status = %(status)s, finished_at = now(),
         progress = CASE WHEN %(status)s = 'success' THEN 100 ELSE progress END,
         result = CAST(%(result)s AS jsonb), error = %(error)s, traceback = %(traceback)s
  WHERE id = %(id)s AND task_id = %(task_id)s AND status IN ('pending', 'running')
  RETURNING id, attempt
), a AS (
  UPDATE attempts SET status = %(status)s, finished_at = now(), error = %(error)s,
         traceback = %(traceback)s
  FROM r WHERE attempts.request_id = r.id AND attempts.number = r.attempt
), logs AS (
  INSERT INTO attempt_logs (request_id, attempt, at, level, message, event, detail)
  SELECT r.id, r.attempt, l.at, l.level, l.message, l.event, CAST(l.detail AS jsonb)
  FROM r, unnest(CAST(%(log_at)s AS timestamptz[]), CAST(%(log_level)s AS text[]),
                 CAST(%(log_message)s AS text[]), CAST(%(log_event)s AS text[]),
                 CAST(%(log_detail)s AS text[])) AS l(at, level, message, event, detail)
)
SELECT * FROM r
"""


# A batch of short requests (tasks.run_batch): one start (START_SQL, above) and one
# finish, each one statement for all of them.
# Each outcome's own status, result, error and times (the worker's clock: when its job
# began and ended inside the batch); rows no longer this attempt's simply do not match.
FINISH_MANY_SQL = """
SET LOCAL synchronous_commit = on;
WITH f AS (
  SELECT * FROM unnest(CAST(%(ids)s AS bigint[]), CAST(%(task_ids)s AS text[]),
                       CAST(%(statuses)s AS text[]), CAST(%(results)s AS text[]),
                       CAST(%(errors)s AS text[]), CAST(%(tracebacks)s AS text[]),
                       CAST(%(started)s AS timestamptz[]), CAST(%(finished)s AS timestamptz[]))
    AS f(id, task_id, status, result, error, traceback, started_at, finished_at)
), r AS (
  UPDATE requests SET status = f.status, started_at = f.started_at, finished_at = f.finished_at,
         progress = CASE WHEN f.status = 'success' THEN 100 ELSE requests.progress END,
         result = CAST(f.result AS jsonb), error = f.error, traceback = f.traceback
  FROM f WHERE requests.id = f.id AND requests.task_id = f.task_id
    AND requests.status IN ('pending', 'running')
  RETURNING requests.id, requests.attempt, requests.status
), a AS (
  UPDATE attempts SET status = f.status, started_at = f.started_at,
         finished_at = f.finished_at, error = f.error, traceback = f.traceback
  FROM r JOIN f USING (id) WHERE attempts.request_id = r.id AND attempts.number = r.attempt
), logs AS (
  INSERT INTO attempt_logs (request_id, attempt, at, level, message, event, detail)
  SELECT r.id, r.attempt, l.at, l.level, l.message, l.event, CAST(l.detail AS jsonb)
  FROM r JOIN unnest(CAST(%(log_id)s AS bigint[]), CAST(%(log_at)s AS timestamptz[]),
                     CAST(%(log_level)s AS text[]), CAST(%(log_message)s AS text[]),
                     CAST(%(log_event)s AS text[]), CAST(%(log_detail)s AS text[]))
    AS l(id, at, level, message, event, detail) USING (id)
)
SELECT * FROM r ORDER BY id
"""

# The same, committed asynchronously: what a batch finished, recorded between its jobs so a
# lost pool process costs only the job it was running. The batch's last record is
# synchronous, and flushes these with it (`durable` when it has nothing to record).
FINISH_MANY_ASYNC_SQL = FINISH_MANY_SQL.replace("SET LOCAL synchronous_commit = on;\n",
                                                ASYNC_COMMIT)
assert FINISH_MANY_ASYNC_SQL != FINISH_MANY_SQL

# Which of a batch's requests are still its to run: their row is `running` with this task id
# (not killed, not retried since).
OURS_SQL = """
SELECT requests.id FROM requests
JOIN unnest(CAST(%(ids)s AS bigint[]), CAST(%(task_ids)s AS text[])) AS s(id, task_id)
  ON requests.id = s.id AND requests.task_id = s.task_id
WHERE requests.status = 'running'
"""

# A write whose synchronous commit also makes every earlier asynchronous commit durable
# (the WAL is flushed up to it): a transaction id, and nothing else.
DURABLE_SQL = """
SET LOCAL synchronous_commit = on;
SELECT pg_current_xact_id() AS xid
"""

# Requests of a batch that stopped before they ran go back to pending (same attempt, same
# task id), to be published again one per message.
RELEASE_SQL = """
WITH s AS (
  SELECT * FROM unnest(CAST(%(ids)s AS bigint[]), CAST(%(task_ids)s AS text[])) AS s(id, task_id)
), r AS (
  UPDATE requests SET status = 'pending', worker = NULL, started_at = NULL, progress = 0,
         queued_at = now()
  FROM s WHERE requests.id = s.id AND requests.task_id = s.task_id
    AND requests.status = 'running'
  RETURNING requests.id, requests.task_id, requests.attempt, requests.job_type, requests.params
), a AS (
  UPDATE attempts SET status = 'pending', worker = NULL, started_at = NULL
  FROM r WHERE attempts.request_id = r.id AND attempts.number = r.attempt
), note AS (
  INSERT INTO attempt_logs (request_id, attempt, at, level, message)
  SELECT r.id, r.attempt, clock_timestamp(), 'WARNING',
         'returned to the queue before it ran: ' || %(why)s FROM r
)
SELECT * FROM r ORDER BY id
"""


# The worker's and the dispatcher's statements, planned once per connection.
_CLAIM = Prepared("dash_claim", CLAIM_SQL)
_CLAIM_LIMITS = Prepared("dash_claim_limits", CLAIM_LIMITS_SQL)
_CLAIM_LIMITED = Prepared("dash_claim_limited", CLAIM_LIMITED_SQL)
_START = Prepared("dash_start", START_SQL, {"worker": "text", "step": "text", "batch": "text"})
_PROGRESS = Prepared("dash_progress", PROGRESS_SQL)
_OURS = Prepared("dash_ours", OURS_SQL)
_FINISH = Prepared("dash_finish", FINISH_SQL,
                   {"status": "text", "error": "text", "traceback": "text"})
_FINISH_MANY = Prepared("dash_finish_many", FINISH_MANY_SQL)
_FINISH_MANY_ASYNC = Prepared("dash_finish_many_async", FINISH_MANY_ASYNC_SQL)


ARTIFACT_SQL = """
INSERT INTO artifacts (request_id, attempt, name, content_type, data)
VALUES (%(id)s, %(attempt)s, %(name)s, %(content_type)s, %(data)s)
"""


def finish(request_id, task_id, status, result_json=None, error=None, traceback=None,
           artifacts=(), log_lines=(), own_transaction=False):
    """Worker: record the attempt's one terminal result and its artifacts; None when stale.

    `artifacts` are (name, content_type, bytes) the job produced; they are
    stored, in the caller's transaction, only when the result is (invariant 4).
    `log_lines` (the attempt's last buffered lines, as `joblog.AttemptLog.take`
    gives them) are stored in the same statement, also only when the result is.
    `own_transaction` (no artifacts): committed by this call in one round trip.
    """
    status = Status(status)
    assert status in FINISHED_BY_WORKER, status
    assert not (own_transaction and artifacts), "artifacts need the caller's transaction"
    at, level, message, event, detail = _columns(log_lines, 5)
    rows = _run(_FINISH, own_transaction, status=status.value, result=result_json,
                error=error, traceback=traceback, id=request_id, task_id=task_id,
                log_at=at, log_level=level, log_message=message, log_event=event,
                log_detail=detail)
    if not rows:
        _stale("finish", request_id, task_id=task_id, status=status.value)
        return None
    for name, content_type, data in artifacts:
        _run(ARTIFACT_SQL, id=request_id, attempt=rows[0]["attempt"], name=name,
             content_type=content_type, data=data)
    return rows[0]


@dataclass
class Outcome:
    """How one request of a batch ended, as `finish_many` records it."""
    request_id: int
    task_id: str
    attempt: int
    status: Status
    started_at: datetime
    finished_at: datetime
    result_json: str = None
    error: str = None
    traceback: str = None
    log_lines: tuple = ()


def start_many(items, worker, batch, redelivered=False, pid=None):
    """Worker: pending -> running for a batch's attempts, in one own transaction.

    `items` are (request id, task id) pairs; returns the rows that may run (as
    `start` does, a killed row or an old attempt does not), in id order. Each
    one's first log line names the batch (its Celery task id).
    """
    rows = _start(items, worker, batch, redelivered, pid, own_transaction=True)
    if len(rows) < len(items):
        _stale("batch start", batch, ran=len(rows), of=len(items))
    return rows


def finish_many(outcomes, own_transaction=True, synchronous=True):
    """Worker: each outcome of a batch, in one statement; the rows that took theirs.

    `outcomes` are `Outcome`s. As `finish` does, one whose row is no longer its
    attempt's (killed meanwhile) is left out; only recorded rows get their log lines.
    `synchronous=False`: committed asynchronously (a later synchronous commit, before
    the message is acked, makes it durable).
    """
    lines = [(o.request_id, *line) for o in outcomes for line in o.log_lines]
    log_id, at, level, message, event, detail = _columns(lines, 6)
    rows = _run(_FINISH_MANY if synchronous else _FINISH_MANY_ASYNC, own_transaction,
                ids=[o.request_id for o in outcomes], task_ids=[o.task_id for o in outcomes],
                statuses=[Status(o.status).value for o in outcomes],
                results=[o.result_json for o in outcomes], errors=[o.error for o in outcomes],
                tracebacks=[o.traceback for o in outcomes],
                started=[o.started_at for o in outcomes],
                finished=[o.finished_at for o in outcomes], log_id=log_id, log_at=at,
                log_level=level, log_message=message, log_event=event, log_detail=detail)
    if len(rows) < len(outcomes):
        _stale("batch finish", [o.request_id for o in outcomes], recorded=len(rows))
    return rows


def ours(items):
    """Worker: the ids among `items` ((request id, task id) pairs) whose row is still running
    that attempt: the requests a batch may still run (one round trip, read only)."""
    ids, task_ids = _columns(items, 2)
    return {row["id"] for row in _run(_OURS, True, ids=ids, task_ids=task_ids)}


def durable():
    """Worker: wait until every commit made before this one, asynchronous ones too, is durable."""
    _run(DURABLE_SQL, True)


def release(items, why):
    """Worker: a batch's attempts that did not run go back to pending; the rows, to publish."""
    ids, task_ids = _columns(items, 2)
    return _run(RELEASE_SQL, True, ids=ids, task_ids=task_ids, why=why)


KILL_SQL = f"""
WITH old AS (
  SELECT id, status, task_id, worker, attempt FROM requests
  WHERE id = %(id)s AND status IN {sql_list(KILLABLE)} FOR UPDATE
), r AS (
  UPDATE requests SET status = 'killed', finished_at = now(), error = %(error)s
  FROM old WHERE requests.id = old.id
  RETURNING requests.id
), a AS (
  UPDATE attempts SET status = 'killed', finished_at = now(), error = %(error)s
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


# Bulk kill: the same compare-and-set for many ids in one statement. The row locks
# make two racing bulk kills take turns; the second sees the rows killed and skips them.
# The rows are locked in id order, so two bulk kills never deadlock.
KILL_MANY_SQL = KILL_SQL.replace(
    "WHERE id = %(id)s AND status IN " + sql_list(KILLABLE) + " FOR UPDATE",
    "WHERE id = ANY(CAST(%(ids)s AS bigint[])) AND status IN " + sql_list(KILLABLE)
    + " ORDER BY id FOR UPDATE")
assert KILL_MANY_SQL != KILL_SQL


def kill_many(request_ids, by):
    """Operator: kill every active request among the ids at once; the old rows that were killed."""
    return _run(KILL_MANY_SQL, ids=list(request_ids), error=f"killed by {by}")


def _retry_sql(where):
    """A retry statement: matching retryable rows -> unassigned, each with a new attempt."""
    return f"""
WITH r AS (
  UPDATE requests r SET status = 'unassigned', attempt = attempt + 1, task_id = NULL,
         worker = NULL, progress = 0, result = NULL, error = NULL, traceback = NULL,
         queued_at = NULL, started_at = NULL, finished_at = NULL
  WHERE ({where}) AND status IN {sql_list(RETRYABLE)}
  RETURNING id, attempt
)
INSERT INTO attempts (request_id, number, status, triggered_by)
SELECT id, attempt, 'unassigned', %(by)s FROM r
RETURNING request_id
"""


RETRY_SQL = _retry_sql("r.id = %(id)s")
RETRY_MANY_SQL = _retry_sql("r.id = ANY(CAST(%(ids)s AS bigint[]))")

# The list's filter as values: a NULL value matches everything (PostgreSQL folds
# `NULL IS NULL OR ...` away when it plans the statement, so no index is lost).
RETRY_FAILED_SQL = _retry_sql("""r.status = 'failure'
    AND (%(status)s IS NULL OR r.status = %(status)s)
    AND (%(job_type)s IS NULL OR r.job_type = %(job_type)s)
    AND (%(request_id)s IS NULL OR r.id = %(request_id)s)
    AND (%(task_id)s IS NULL OR r.task_id = %(task_id)s)
    AND (%(who_or_file)s IS NULL OR r.submitted_by = %(who_or_file)s
         OR r.upload_id IN (SELECT id FROM uploads WHERE filename ILIKE %(file_pattern)s))
    AND (%(worker)s::text IS NULL OR r.worker = %(worker)s)
    AND (%(submitted_by)s::text IS NULL OR r.submitted_by = %(submitted_by)s)
    AND (%(created_after)s::timestamptz IS NULL OR r.created_at >= %(created_after)s)
    AND (%(created_before)s::timestamptz IS NULL OR r.created_at < %(created_before)s)
    AND (%(error_pattern)s::text IS NULL OR r.error ILIKE %(error_pattern)s)
    AND (%(param_match)s::jsonb IS NULL OR r.params @> %(param_match)s::jsonb)""")

AUTO_RETRY_SQL = _retry_sql("""r.status = 'failure' AND r.job_type = %(job_type)s
    AND r.attempt < %(max_attempts)s
    AND r.finished_at <= now() - make_interval(secs => %(backoff)s * power(2, r.attempt - 1))""")


def retry(request_id, by):
    """Operator: failure | timeout | killed -> unassigned as a new attempt; False if not allowed."""
    rows = _run(RETRY_SQL, id=request_id, by=by)
    if not rows:
        _stale("retry", request_id)
    return bool(rows)


def retry_many(request_ids, by):
    """Operator: retry every retryable request among the ids in one statement; the ids retried."""
    return [row["request_id"] for row in _run(RETRY_MANY_SQL, ids=list(request_ids), by=by)]


def retry_failed(by, status=None, job_type=None, request_id=None, task_id=None,
                 who_or_file=None, file_pattern=None, worker=None, submitted_by=None,
                 created_after=None, created_before=None, error_pattern=None,
                 param_match=None):
    """Operator: retry every `failure` request matching the list's filter values
    (queries.Filters.values()), in one statement.

    Each value left None matches every request; `who_or_file` matches the
    submitter exactly or (as `file_pattern`, an ILIKE pattern) the file name;
    `error_pattern` is an ILIKE pattern on the error; the created range is
    [created_after, created_before); `param_match` is a JSON object the params must
    contain. Returns how many were retried.
    """
    return len(_run(RETRY_FAILED_SQL, by=by, status=status, job_type=job_type,
                    request_id=request_id, task_id=task_id, who_or_file=who_or_file,
                    file_pattern=file_pattern, worker=worker, submitted_by=submitted_by,
                    created_after=created_after, created_before=created_before,
                    error_pattern=error_pattern, param_match=param_match))


def auto_retry(job_type, max_attempts, backoff_s):
    """Beat: re-queue `failure` rows of a job type whose backoff has passed, as `auto` attempts."""
    return len(_run(AUTO_RETRY_SQL, by="auto", job_type=job_type, max_attempts=max_attempts,
                    backoff=float(backoff_s)))


REQUEUE_SQL = """
WITH picked AS (
  SELECT id FROM requests WHERE status = 'pending'
    AND queued_at < now() - make_interval(secs => %(s)s)
    AND job_type = ANY(CAST(%(job_types)s AS text[]))
  ORDER BY id LIMIT %(limit)s FOR UPDATE SKIP LOCKED
)
UPDATE requests SET queued_at = now() FROM picked WHERE requests.id = picked.id
RETURNING requests.id, requests.task_id, requests.attempt, requests.job_type, requests.params
"""


def requeue_stale_pending(older_than_s, limit, job_types):
    """Dispatcher: pending attempts of `job_types` not started for a while, to publish
    again (same task id).

    A duplicate message is harmless: `start` lets only one non-redelivered copy run.
    """
    return _run(REQUEUE_SQL, s=float(older_than_s), limit=limit, job_types=list(job_types))
