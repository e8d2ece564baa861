"""Thin Celery tasks: the attempt runner, its errback and link, and the periodic ones."""
import logging
import os
import time
import traceback as tracebacks
from datetime import datetime, timezone

from celery import shared_task
from celery.exceptions import (
    Reject,
    SoftTimeLimitExceeded,
    TaskRevokedError,
    TimeLimitExceeded,
)
from flask import current_app
from sqlalchemy import text
from sqlalchemy.exc import InterfaceError, OperationalError, StatementError

from dashboard import batch_watch, joblog, jobs, lifecycle, recovery
from dashboard.extensions import READS, db
from dashboard.jobs.context import JobContext
from dashboard.lifecycle import Status
from dashboard.overview import stats
from dashboard.requests import notify as notifications
from dashboard.requests import retention as retention_policy
from dashboard.schedules import builtin

log = logging.getLogger(__name__)


@shared_task(bind=True, name="dashboard.run_request")
def run_request(self, request_id):
    """Run one attempt of a request, unless its row says it must not run."""
    try:
        return _run_attempt(self.request, request_id)
    except (OperationalError, InterfaceError) as exc:
        # PostgreSQL is away: put the message back so the attempt is not lost.
        db.session.rollback()
        time.sleep(1)
        raise Reject(f"database unavailable: {exc.__class__.__name__}", requeue=True)


def _run_attempt(task_request, request_id):
    """start -> job.run -> finish(success, artifacts), each fenced by the attempt's task id.

    The start and (without artifacts) the success are each one statement in a
    transaction of its own: one round trip to PostgreSQL apiece.
    """
    task_id = task_request.id
    redelivered = bool((task_request.delivery_info or {}).get("redelivered"))
    row = lifecycle.start(request_id, task_id, task_request.hostname, redelivered,
                          pid=os.getpid(), own_transaction=True)
    if row is None:
        return None
    config = current_app.config
    with joblog.AttemptLog(db.engines[READS], request_id, row["attempt"],
                           config["LOG_LINES_PER_ATTEMPT"], config["LOG_FLUSH_S"]) as lines:
        ctx = JobContext(request_id, task_id, row, lines)
        result = jobs.REGISTRY[row["job_type"]].run(ctx)
        last_lines, done = lines.take(), None
        if not ctx.artifacts:
            _commit_open()   # nothing of the job's own session left open to wait on
        try:
            done = lifecycle.finish(request_id, task_id, Status.SUCCESS, jobs.result_json(result),
                                    artifacts=ctx.artifacts, log_lines=last_lines,
                                    own_transaction=not ctx.artifacts)
        finally:
            if done is None:   # stale, or the database refused: the final flush writes them
                lines.give_back(last_lines)
    if done is None:
        db.session.rollback()
        return None
    _commit_open()
    return request_id


@shared_task(bind=True, name="dashboard.run_batch")
def run_batch(self, items):
    """Run a batch of short requests' attempts in turn: `items` are [request id, task id]."""
    try:
        return _run_batch(self.request, [tuple(item) for item in items])
    except (OperationalError, InterfaceError) as exc:
        # As for one request: the message goes back, redelivered, and the batch runs again
        # (requests it had recorded are not run twice: their rows say they ended).
        db.session.rollback()
        time.sleep(1)
        raise Reject(f"database unavailable: {exc.__class__.__name__}", requeue=True)


# Between two jobs of a batch, when its last word with PostgreSQL is older than this: record
# what it finished so far and read which of its requests are still its to run.
BATCH_CHECK_S = 0.02


def _run_batch(task_request, items):
    """One start for all, each job in turn, one finish for all, then the message is acked.

    Every outcome is durable before the ack (the last finish commits synchronously),
    as for a single request. Between two jobs, once BATCH_CHECK_S passed since the
    batch last spoke to PostgreSQL, the outcomes so far are recorded (an asynchronous
    commit: a lost pool process then costs the job it ran, and the redelivered batch
    runs only the requests not ended) and a request no longer the batch's to run
    (killed, retried since) is skipped; one killed while its job runs is stopped
    (`batch_watch`). A batch of jobs shorter than that check period speaks to
    PostgreSQL twice, as before. When the batch's soft time limit fires, the job
    running then ends as `timeout` and the ones after it go back to pending and
    are published again one per message. Returns the ids recorded as `success` (the
    batch's `link`, `notify_each`, tells their submitters).
    """
    redelivered = bool((task_request.delivery_info or {}).get("redelivered"))
    rows = lifecycle.start_many(items, task_request.hostname, task_request.id, redelivered,
                                pid=os.getpid())
    outcomes, stored, left, recorded, gone = [], [], [], {}, set()
    spoke, unflushed = time.monotonic(), False
    for k, row in enumerate(rows):
        if k and time.monotonic() - spoke >= BATCH_CHECK_S:
            if outcomes:
                recorded.update(_record(outcomes, synchronous=False))
                outcomes, unflushed = [], True
            rest = [(r["id"], r["task_id"]) for r in rows[k:]]
            gone |= {i for i, _ in rest} - lifecycle.ours(rest)
            spoke = time.monotonic()
        if row["id"] in gone:   # killed (and maybe retried) before its turn: it never starts
            continue
        outcome, stopped = _run_in_batch(task_request, row)
        if isinstance(outcome, lifecycle.Outcome):
            outcomes.append(outcome)
        elif outcome is not None:
            stored.append(outcome)
            spoke, unflushed = time.monotonic(), False   # its own statement was synchronous
        if stopped:
            left = rows[k + 1:]
            break
    last = _record(outcomes, synchronous=True)
    if unflushed and not last:
        lifecycle.durable()   # the asynchronous records, durable before the ack
    recorded.update(last)
    if left:
        republish(lifecycle.release([(r["id"], r["task_id"]) for r in left],
                                    "its batch reached its soft time limit"))
    _tell_if_final(*(i for i, status in recorded.items() if status != Status.SUCCESS.value))
    return stored + [i for i, status in recorded.items() if status == Status.SUCCESS.value]


def _record(outcomes, synchronous):
    """Record a batch's finished jobs: {id: status} of those recorded. The lines of one whose
    row is no longer its attempt's (killed meanwhile) are stored on their own."""
    if not outcomes:
        return {}
    recorded = {r["id"]: r["status"]
                for r in lifecycle.finish_many(outcomes, synchronous=synchronous)}
    for outcome in outcomes:
        if outcome.request_id not in recorded and outcome.log_lines:
            joblog.store(db.engines[READS], outcome.request_id, outcome.attempt,
                         outcome.log_lines)
    return recorded


def _run_in_batch(task_request, row):
    """One request of a batch: (its Outcome, stop the batch?). A success with artifacts is
    stored at once, in the session's transaction with them: then its id (None if stale).
    A job stopped because its request was killed while it ran: (None, False), its lines
    written as a killed single request's are."""
    config, started = current_app.config, datetime.now(timezone.utc)
    status, result, error, trace, stopped = Status.SUCCESS, None, None, None, False
    with joblog.AttemptLog(db.engines[READS], row["id"], row["attempt"],
                           config["LOG_LINES_PER_ATTEMPT"], config["LOG_FLUSH_S"]) as lines:
        ctx = JobContext(row["id"], row["task_id"], row, lines)
        try:
            with batch_watch.running(row["id"], row["task_id"]):
                result = jobs.result_json(jobs.REGISTRY[row["job_type"]].run(ctx))
        except batch_watch.Stopped:
            db.session.rollback()
            return None, False
        except (OperationalError, InterfaceError):
            raise   # PostgreSQL is away: the whole message goes back (run_batch)
        except SoftTimeLimitExceeded as exc:
            status, stopped = Status.TIMEOUT, True
            error, trace = describe(exc, task_request.timelimit), tracebacks.format_exc()
        except Exception as exc:
            status, error = Status.FAILURE, describe(exc, None)
            trace = shown_traceback(exc, tracebacks.format_exc())
            db.session.rollback()
        if ctx.artifacts and status is Status.SUCCESS:   # stored with the result, on its own
            done, last = None, lines.take()
            try:
                done = lifecycle.finish(row["id"], row["task_id"], Status.SUCCESS, result,
                                        artifacts=ctx.artifacts, log_lines=last)
            finally:
                if done is None:
                    lines.give_back(last)
            db.session.commit()
            return (row["id"] if done is not None else None), stopped
        _commit_open()
        return lifecycle.Outcome(row["id"], row["task_id"], row["attempt"], status, started,
                                 datetime.now(timezone.utc), result, error, trace,
                                 tuple(lines.take())), stopped


def _commit_open():
    """Commit the session's transaction, if one is open (an empty commit still begins and
    ends one: two of them were 15 % of a pool process's CPU on zero-duration jobs)."""
    if db.session().in_transaction():
        db.session.commit()


def _seconds(value):
    """A limit for an error message: '2 s', '1.6 s', or '?' when unknown."""
    try:
        return f"{float(value):g} s"
    except (TypeError, ValueError):
        return "?"


def describe(exc, timelimit):
    """A one-line error for the request page; time limits name the limit that fired."""
    hard, soft = (tuple(timelimit or ()) + (None, None))[:2]
    if isinstance(exc, SoftTimeLimitExceeded):
        return f"timeout: soft time limit ({_seconds(soft)}) exceeded"
    if isinstance(exc, TimeLimitExceeded):
        limit = exc.args[0] if exc.args else hard
        return f"timeout: hard time limit ({_seconds(limit)}) exceeded"
    if isinstance(exc, StatementError):   # its text holds the statement and its parameters
        cause = str(getattr(exc, "orig", None) or "").strip()
        return f"{exc.__class__.__name__}: {cause.splitlines()[0] if cause else 'refused'}"[:500]
    return f"{exc.__class__.__name__}: {exc}"[:2000]


def shown_traceback(exc, text_):
    """The traceback to record: a database error's keeps its frames, not its message."""
    if not isinstance(exc, StatementError):
        return text_ or None
    frames = "".join(tracebacks.format_tb(exc.__traceback__))
    return f"Traceback (most recent call last):\n{frames}{describe(exc, None)}\n"


@shared_task(name="dashboard.record_failure")
def record_failure(request, exc, traceback):
    """link_error errback (request, exc, traceback): record failure or timeout."""
    if isinstance(exc, TaskRevokedError) or not request.args:
        return  # killed: the dashboard recorded it already
    timed_out = isinstance(exc, (SoftTimeLimitExceeded, TimeLimitExceeded))
    row = lifecycle.finish(request.args[0], request.id,
                           Status.TIMEOUT if timed_out else Status.FAILURE,
                           error=describe(exc, getattr(request, "timelimit", None)),
                           traceback=shown_traceback(exc, traceback))
    db.session.commit()
    if row is not None:
        _tell_if_final(request.args[0])


def _tell_if_final(*request_ids):
    """After recorded failures or timeouts: queue the emails (sent only if no auto-retry follows)."""
    if current_app.config["SMTP_HOST"]:
        for request_id in request_ids:
            notify_failed.delay(request_id)


@shared_task(name="dashboard.record_batch_failure")
def record_batch_failure(request, exc, traceback):
    """link_error errback of a batch (its hard time limit, a lost pool process, an error
    outside any job): which of its requests ran is unknown, so those not ended go back to
    pending and are published again one per message, each under its own time limits."""
    if isinstance(exc, TaskRevokedError) or not request.args:
        return
    why = describe(exc, getattr(request, "timelimit", None))
    republish(lifecycle.release([tuple(item) for item in request.args[0]],
                                f"its batch ended early ({why})"))


@shared_task(name="dashboard.notify_failed")
def notify_failed(request_id):
    """After a failure or timeout: tell the submitter when it is final."""
    notifications.request_failed(request_id)


@shared_task(name="dashboard.notify")
def notify(request_id):
    """link callback on success: tell the submitter (email when SMTP is configured)."""
    if request_id is not None:
        notifications.request_succeeded(request_id)


@shared_task(name="dashboard.notify_each")
def notify_each(request_ids):
    """link callback of a batch: tell each submitter whose request succeeded in it."""
    for request_id in request_ids or ():
        notifications.request_succeeded(request_id)


@shared_task(name="dashboard.auto_retry")
@builtin.recorded("auto-retry")
def auto_retry():
    """Beat: re-queue failures of job types with a retry policy, with backoff."""
    return recovery.auto_retry()


@shared_task(name="dashboard.reap_lost")
@builtin.recorded("reap-lost-attempts")
def reap_lost():
    """Beat: running attempts no worker holds any more (failure not recorded) end as failure."""
    return recovery.reap_lost(on_lost=_tell_if_final)


@shared_task(name="dashboard.compact_counts")
@builtin.recorded("compact-status-counts")
def compact_counts():
    """Beat: fold the status count deltas into one row per status."""
    db.session.execute(text(
        "WITH gone AS (DELETE FROM status_counts RETURNING status, n)"
        " INSERT INTO status_counts (status, n)"
        " SELECT status, sum(n) FROM gone GROUP BY status HAVING sum(n) <> 0"))
    db.session.commit()


@shared_task(name="dashboard.retention")
@builtin.recorded("retention")
def retention():
    """Beat: delete finished requests older than RETENTION_DAYS (0 keeps them), orphaned uploads."""
    config = current_app.config
    return retention_policy.purge(config["RETENTION_DAYS"], config["RETENTION_BATCH"],
                                  orphan_grace_s=config["UPLOAD_ORPHAN_GRACE_S"])


@shared_task(name="dashboard.compact_finish_stats")
def compact_finish_stats():
    """Beat: fold the finish statistics into one row per minute and key; drop old minutes."""
    stats.compact()


def republish(rows):
    """Released pending attempts (`lifecycle.release`), published one per message (same task ids)."""
    for row in rows:
        publish(row)


def batches(rows, size, max_s):
    """Claimed rows as messages: short ones share them, up to `size` and `max_s` seconds of
    expected run time each, a batch holding requests of one queue only; any other row (or
    every row, with size 1) is a message alone.

    A request is short when its job type can tell it ends within `max_s` and its soft
    time limit leaves room for the whole batch before it (more than twice `max_s`).
    """
    groups, open_ = [], {}   # queue -> [its batch being filled, the batch's expected s]
    for row in rows:
        job, params = jobs.REGISTRY[row["job_type"]], row["params"] or {}
        expected = job.expected(params)
        if size <= 1 or expected is None or expected > max_s or job.limits(params)[0] <= 2 * max_s:
            groups.append([row])
            continue
        batch = open_.setdefault(job.queue, [[], 0.0])
        if batch[0] and (len(batch[0]) >= size or batch[1] + expected > max_s):
            groups.append(batch[0])
            batch[:] = [[], 0.0]
        batch[0].append(row)
        batch[1] += expected
    return groups + [batch for batch, _ in open_.values() if batch]


def queue_of(row):
    """The broker queue a claimed row's message goes to: its job type's."""
    return jobs.REGISTRY[row["job_type"]].queue


def publish_claimed(rows, producer=None, **send_options):
    """Send claimed attempts: short requests in batches (`batches`), the others one each."""
    config = current_app.config
    for group in batches(rows, config["BATCH_SIZE"], config["BATCH_MAX_S"]):
        if len(group) == 1:
            publish(group[0], producer, **send_options)
            continue
        limits = [jobs.REGISTRY[r["job_type"]].limits(r["params"] or {}) for r in group]
        options = {"link_error": record_batch_failure.s()}
        if config["NOTIFY_ON_SUCCESS"]:
            options["link"] = notify_each.s()
        run_batch.apply_async(([[r["id"], r["task_id"]] for r in group],),
                              soft_time_limit=min(s for s, _ in limits),
                              time_limit=min(h for _, h in limits), producer=producer,
                              queue=queue_of(group[0]), **options, **send_options)


def publish(row, producer=None, **send_options):
    """Send one claimed attempt to its job type's queue (callers hold the claim's transaction)."""
    job = jobs.REGISTRY[row["job_type"]]
    soft, hard = job.limits(row["params"] or {})
    options = {"link_error": record_failure.s()}
    if current_app.config["NOTIFY_ON_SUCCESS"]:
        options["link"] = notify.s()
    run_request.apply_async((row["id"],), task_id=row["task_id"], soft_time_limit=soft,
                            time_limit=hard, producer=producer, queue=job.queue, **options,
                            **send_options)
