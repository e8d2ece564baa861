"""Short requests share messages (tasks.run_batch); each keeps its own outcome, story and fence.

Real prefork workers and the dispatcher (BATCH_SIZE 32, BATCH_MAX_S 1 s: the defaults).
"""
import os
import re
import signal
import time

from dashboard import lifecycle, tasks
from dashboard.extensions import db
from tests.support.db import attempts, batches_of, fetch, insert_requests, sql, wait_status
from tests.support.procs import ExitWatch, wait_for

ZERO = {"min_seconds": 0, "max_seconds": 0}
TERMINAL = ("success", "failure", "timeout", "killed")


def wait_all(app, ids, timeout=60):
    """Wait until every request is terminal; {id: row}."""
    def done():
        rows = sql(app, "SELECT * FROM requests WHERE id = ANY(:ids)", ids=ids)
        return rows if all(r["status"] in TERMINAL for r in rows) else None
    return {r["id"]: r for r in wait_for(done, timeout, what=f"{len(ids)} requests terminal")}


def story(app, request_id):
    """The request's log lines, oldest first."""
    return sql(app, "SELECT level, message, event, detail FROM attempt_logs"
                    " WHERE request_id = :id ORDER BY id", id=request_id)


def batch_of(app, request_id):
    """The batch id its latest start names (None: it ran in a message of its own)."""
    starts = batches_of(app, request_id)
    assert starts, f"request {request_id} never started"
    return starts[-1]


def test_short_requests_share_messages_and_each_keeps_its_own_outcome(app, stack, api,
                                                                      signed_in):
    """70 zero-length requests and one of 1.5 s, committed together: the short ones run in
    batches of at most 32, the long one alone; each has its own result, times and log."""
    ids = insert_requests(app, [ZERO] * 70 + [{"min_seconds": 1.5, "max_seconds": 1.5}])
    rows = wait_all(app, ids)
    assert {r["status"] for r in rows.values()} == {"success"}
    short, long_one = ids[:-1], ids[-1]
    batches = {i: batch_of(app, i) for i in short}
    sizes = {b: list(batches.values()).count(b) for b in set(batches.values())}
    assert None not in sizes, "every short request ran in a batch"
    assert len(sizes) >= 3 and max(sizes.values()) <= 32, sizes
    assert batch_of(app, long_one) is None
    assert rows[long_one]["result"] == {"slept_seconds": 1.5}
    for i in short:
        row = rows[i]
        assert row["result"] == {"slept_seconds": 0.0} and row["progress"] == 100
        assert row["started_at"] <= row["finished_at"]
        [attempt] = attempts(app, i)
        assert (attempt["status"], attempt["task_id"]) == ("success", row["task_id"])
        assert attempt["started_at"] == row["started_at"]
        messages = [line["message"] for line in story(app, i)]
        assert re.match(rf"started: running on worker[12]@test \(pid \d+, one of "
                        rf"{sizes[batches[i]]} in batch {batches[i]}\)", messages[0]), messages
        assert messages[1:] == ["sleeping 0.00 s", "done after 0.00 s"], messages
    assert len({rows[i]["task_id"] for i in short}) == len(short)   # each attempt its own fence

    viewer, _, _ = signed_in("viewer")
    page = viewer.get(f"/requests/{short[0]}").get_data(as_text=True)
    assert f'href="/flower/task/{batches[short[0]]}"' in page
    assert f"in batch <code>{batches[short[0]][:8]}" in page
    assert api.get(f"/api/requests/{short[0]}").get_json()["status"] == "success"


def test_a_failing_request_fails_alone_in_its_batch(app, stack):
    """Failures and successes interleaved in one batch: each ends as its own job did."""
    failing = {"min_seconds": 0, "max_seconds": 0, "fail_rate": 1}
    ids = insert_requests(app, [ZERO, failing] * 5)
    rows = wait_all(app, ids)
    for k, i in enumerate(ids):
        row = rows[i]
        if k % 2:
            assert row["status"] == "failure", row
            assert row["error"] == "SimulatedFailure: simulated failure (fail_rate=1)"
            assert "raise SimulatedFailure" in row["traceback"]
            assert attempts(app, i)[0]["error"] == row["error"]
        else:
            assert (row["status"], row["error"]) == ("success", None), row
    assert batch_of(app, ids[0]) == batch_of(app, ids[1]) is not None


def test_a_request_killed_before_its_batch_starts_stays_killed(app, stack, api):
    """Killed while its batch waits in the queue: the batch runs the others, not it."""
    stack.stop_workers()
    ids = insert_requests(app, [ZERO] * 10)
    for i in ids:
        wait_status(app, i, "pending")
    assert api.post(f"/api/requests/{ids[3]}/kill").status_code == 202
    stack.ensure_workers()
    rows = wait_all(app, ids)
    assert rows[ids[3]]["status"] == "killed"
    assert not [line for line in story(app, ids[3]) if line["event"] == "started"]
    assert {rows[i]["status"] for i in ids if i != ids[3]} == {"success"}


def _claim_and_publish_batch(app, stack, params_list, soft, hard):
    """Claim rows here (the dispatcher stopped) and publish them as one batch message."""
    stack.stop_dispatcher()
    ids = insert_requests(app, params_list)
    with app.app_context():
        rows = lifecycle.claim(len(ids))
        db.session.commit()
        assert [r["id"] for r in rows] == ids
        tasks.run_batch.apply_async(([[r["id"], r["task_id"]] for r in rows],),
                                    soft_time_limit=soft, time_limit=hard,
                                    link_error=tasks.record_batch_failure.s())
    return ids


def test_soft_time_limit_ends_the_running_one_and_requeues_the_rest(app, stack):
    """The batch's soft limit fires during its first job: that one is a timeout, the two
    after it go back to pending and run one per message, same attempt, same fence."""
    ids = _claim_and_publish_batch(app, stack, [{"min_seconds": 0.9, "max_seconds": 0.9},
                                                ZERO, ZERO], soft=0.3, hard=10)
    rows = wait_all(app, ids)
    assert rows[ids[0]]["status"] == "timeout"
    assert rows[ids[0]]["error"] == "timeout: soft time limit (0.3 s) exceeded"
    for i in ids[1:]:
        assert rows[i]["status"] == "success" and rows[i]["attempt"] == 1
        lines = story(app, i)
        assert ("WARNING", "returned to the queue before it ran: its batch reached its soft"
                " time limit") in [(line["level"], line["message"]) for line in lines]
        assert [line["event"] for line in lines].count("started") == 2
        assert batch_of(app, i) is None     # its second start: a message of its own
        assert [a["status"] for a in attempts(app, i)] == ["success"]


def test_hard_time_limit_requeues_every_unfinished_one_to_run_alone(app, stack):
    """A job that ignores the soft limit: the hard limit kills the pool process; the batch's
    errback sends both requests back, each then runs under its own limits."""
    hang = {"hang": True, "ignore_soft_limit": True, "timeout_seconds": 2}
    ids = _claim_and_publish_batch(app, stack, [hang, ZERO], soft=0.3, hard=1)
    rows = wait_all(app, ids, timeout=90)
    assert rows[ids[0]]["status"] == "timeout"
    assert rows[ids[0]]["error"] == "timeout: hard time limit (2 s) exceeded"
    assert rows[ids[1]]["status"] == "success"
    released = [line["message"] for line in story(app, ids[1]) if line["level"] == "WARNING"]
    assert released == ["returned to the queue before it ran: its batch ended early"
                        " (timeout: hard time limit (1 s) exceeded)"]
    assert fetch(app, ids[1])["attempt"] == 1


def _running_batch(app, stack, first, rest=2):
    """A batch of `first` then `rest` zero-length requests, its first job begun; the ids."""
    ids = _claim_and_publish_batch(app, stack, [first] + [ZERO] * rest, soft=60, hard=70)
    wait_for(lambda: any(line["message"].startswith("sleeping") for line in story(app, ids[0])),
             30, what=f"request {ids[0]}'s job begun")
    assert {fetch(app, i)["status"] for i in ids} == {"running"}
    return ids


def job_lines(app, request_id, attempt=1):
    """The attempt's lines besides its start step: what its job logged (and its progress)."""
    return [line["message"] for line in sql(
        app, "SELECT message, event FROM attempt_logs WHERE request_id = :id"
             " AND attempt = :n ORDER BY id", id=request_id, n=attempt)
        if line["event"] not in ("started", "redelivered")]


def test_a_request_killed_while_its_batch_runs_another_job_never_starts(app, stack, api):
    """Killed while an earlier job of its batch runs: its own job never starts (no line, no
    result), and the batch runs the others."""
    ids = _running_batch(app, stack, {"min_seconds": 2, "max_seconds": 2})
    assert api.post(f"/api/requests/{ids[1]}/kill").status_code == 202
    rows = wait_all(app, ids)
    assert (rows[ids[1]]["status"], rows[ids[1]]["result"]) == ("killed", None)
    assert job_lines(app, ids[1]) == []
    assert rows[ids[0]]["status"] == rows[ids[2]]["status"] == "success"


def test_killing_the_job_a_batch_runs_stops_it_and_the_batch_goes_on(app, stack, api):
    """Killed while its job runs inside a batch: that job stops within a second or two (it
    would sleep 30 s), and the requests after it in the batch run and succeed."""
    ids = _running_batch(app, stack, {"min_seconds": 30, "max_seconds": 30})
    clicked = time.time()
    assert api.post(f"/api/requests/{ids[0]}/kill").status_code == 202
    rows = wait_all(app, ids, timeout=15)
    assert rows[ids[0]]["status"] == "killed"
    assert not [m for m in job_lines(app, ids[0]) if m.startswith("done")]
    for i in ids[1:]:
        assert rows[i]["status"] == "success", rows[i]
        assert rows[i]["finished_at"].timestamp() - clicked < 3, "the batch went on late"
        assert batch_of(app, i) == batch_of(app, ids[0])    # in the same batch, not resent
    assert all(p.alive() for p in stack.workers.values())


def test_a_request_killed_and_retried_is_not_run_again_by_its_old_batch(app, stack, api):
    """Killed inside a running batch, retried, and its retry succeeded: when the old batch
    reaches it, it does not run it again (attempt 1 has no line of its job)."""
    ids = _running_batch(app, stack, {"min_seconds": 8, "max_seconds": 8})
    assert api.post(f"/api/requests/{ids[1]}/kill").status_code == 202
    assert api.post(f"/api/requests/{ids[1]}/retry").status_code == 202
    stack.start_dispatcher()
    retried = wait_status(app, ids[1], "success", timeout=30)
    assert fetch(app, ids[0])["status"] == "running"    # the old batch has not reached it yet
    rows = wait_all(app, ids)
    assert rows[ids[1]]["attempt"] == 2
    assert (rows[ids[1]]["result"], rows[ids[1]]["finished_at"]) == (
        retried["result"], retried["finished_at"])
    assert job_lines(app, ids[1], attempt=1) == []
    assert job_lines(app, ids[1], attempt=2) == ["sleeping 0.00 s", "done after 0.00 s"]
    assert [a["status"] for a in attempts(app, ids[1])] == ["killed", "success"]


def test_a_pool_process_killed_mid_batch_costs_only_the_job_it_ran(app, stack):
    """SIGKILL to the pool process once some jobs of its batch finished: those keep their
    result, times and lines and do not run again; the redelivered batch runs the rest."""
    ids = _claim_and_publish_batch(app, stack, [{"min_seconds": 0.6, "max_seconds": 0.6}] * 6,
                                   soft=60, hard=70)

    def two_done():
        rows = sql(app, "SELECT * FROM requests WHERE id = ANY(:ids) AND status = 'success'",
                   ids=ids)
        return rows if len(rows) >= 2 else None
    done = {r["id"]: r for r in wait_for(two_done, 30, interval=0.02, what="two jobs recorded")}
    assert len(done) < len(ids), "nothing was recorded before the batch ended"
    lines_before = {i: job_lines(app, i) for i in done}
    [start] = sql(app, "SELECT detail FROM attempt_logs WHERE request_id = :id"
                       " AND event = 'started'", id=ids[0])
    pid = start["detail"]["pid"]
    watch = ExitWatch(pid)
    try:
        os.kill(pid, signal.SIGKILL)
        assert watch.wait(10) is not None
    finally:
        watch.close()
    rows = wait_all(app, ids, timeout=60)
    assert {r["status"] for r in rows.values()} == {"success"}
    for i in ids:
        events = [line["event"] for line in story(app, i) if line["event"]]
        [attempt] = attempts(app, i)
        assert attempt["status"] == "success"
        if i in done:   # finished before the kill: kept as it was, not run again
            assert events.count("redelivered") == 0, events
            assert (rows[i]["finished_at"], rows[i]["result"]) == (
                done[i]["finished_at"], done[i]["result"])
            assert job_lines(app, i) == lines_before[i]
            assert lines_before[i][0] == "sleeping 0.60 s"
            assert lines_before[i][-1] == "done after 0.60 s"
        else:
            assert events.count("redelivered") == 1, events
