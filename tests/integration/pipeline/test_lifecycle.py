"""dashboard.lifecycle: the allowed and refused transitions, fenced by the attempt's task id.

Each test runs the lifecycle functions directly in one transaction that is
rolled back at the end, so no dispatcher or worker ever sees these rows.
A refused write (illegal or stale) must change nothing at all: not the row,
not its `version`, not the attempts table (invariants 1, 4 and 6 in docs/architecture.md).
"""
import json

import pytest
from sqlalchemy import text

from dashboard import lifecycle
from dashboard.extensions import db
from dashboard.lifecycle import Status

STATES = [s.value for s in Status]


@pytest.fixture
def tx(app, clean_db):
    """An app context whose transaction is rolled back after the test."""
    with app.app_context():
        yield
        db.session.rollback()


def row(request_id):
    """The request's row as a dict."""
    return dict(db.session.execute(text("SELECT * FROM requests WHERE id = :id"),
                                   {"id": request_id}).mappings().one())


def attempts(request_id):
    """The request's attempts rows, oldest first, as dicts."""
    return [dict(a) for a in db.session.execute(text(
        "SELECT number, task_id, status, worker, triggered_by, queued_at, started_at,"
        " finished_at, error, traceback FROM attempts WHERE request_id = :id ORDER BY number"),
        {"id": request_id}).mappings()]


def submit(by="alice", job_type="simulate"):
    """A new unassigned request; returns its id."""
    return lifecycle.submit(job_type, json.dumps({"min_seconds": 0}), None, by)


def claim_one(request_id):
    """Claim the request (it must be the only unassigned one); returns its new task id."""
    claimed = lifecycle.claim(10)
    assert [c["id"] for c in claimed] == [request_id]
    return claimed[0]["task_id"]


def make(status, by="alice", job_type="simulate"):
    """A request driven through the lifecycle into `status`; returns its id."""
    request_id = submit(by, job_type)
    if status == "unassigned":
        return request_id
    task_id = claim_one(request_id)
    if status == "pending":
        return request_id
    if status == "killed":
        assert lifecycle.kill(request_id, "op") is not None
        return request_id
    assert lifecycle.start(request_id, task_id, "w1@test") is not None
    if status in ("success", "failure", "timeout"):
        assert lifecycle.finish(request_id, task_id, status, error=f"{status}!") is not None
    assert row(request_id)["status"] == status
    return request_id


def _claim(request_id, task_id):
    return bool(lifecycle.claim(10))


def _start(request_id, task_id):
    return lifecycle.start(request_id, task_id, "w2@test") is not None


def _finish(status):
    def op(request_id, task_id):
        return lifecycle.finish(request_id, task_id, status, json.dumps({"n": 1})) is not None
    return op


def _kill(request_id, task_id):
    return lifecycle.kill(request_id, "op") is not None


def _retry(request_id, task_id):
    return lifecycle.retry(request_id, "op")


# operation -> (function, {allowed source state: resulting state})
TRANSITIONS = {
    "claim": (_claim, {"unassigned": "pending"}),
    "start": (_start, {"pending": "running"}),
    "finish-success": (_finish("success"), {"pending": "success", "running": "success"}),
    "finish-failure": (_finish("failure"), {"pending": "failure", "running": "failure"}),
    "finish-timeout": (_finish("timeout"), {"pending": "timeout", "running": "timeout"}),
    "kill": (_kill, {"unassigned": "killed", "pending": "killed", "running": "killed"}),
    "retry": (_retry, {"failure": "unassigned", "timeout": "unassigned", "killed": "unassigned"}),
}


@pytest.mark.parametrize("source", STATES)
@pytest.mark.parametrize("operation", list(TRANSITIONS))
def test_transition_table(tx, operation, source):
    """Each operation moves exactly its allowed source states; from any other it changes nothing."""
    op, allowed = TRANSITIONS[operation]
    request_id = make(source)
    before, before_attempts = row(request_id), attempts(request_id)

    done = op(request_id, before["task_id"])

    after = row(request_id)
    if source in allowed:
        assert done, f"{operation} refused from {source}"
        assert after["status"] == allowed[source]
        assert after["version"] > before["version"]
        current = attempts(request_id)[-1]
        assert current["number"] == after["attempt"]
        assert current["status"] == after["status"]
        assert current["task_id"] == after["task_id"]
    else:
        assert not done, f"{operation} allowed from {source}"
        assert after == before
        assert attempts(request_id) == before_attempts


def test_submit_creates_unassigned_first_attempt(tx):
    """submit stores an unassigned request with attempt 1 and its attempts row."""
    request_id = submit(by="alice")
    r = row(request_id)
    assert (r["status"], r["attempt"], r["task_id"], r["progress"]) == ("unassigned", 1, None, 0)
    assert r["submitted_by"] == "alice" and r["params"] == {"min_seconds": 0}
    [a] = attempts(request_id)
    assert (a["number"], a["status"], a["task_id"], a["triggered_by"]) == (
        1, "unassigned", None, "alice")


def test_claim_gives_fresh_task_ids_oldest_first_up_to_limit(tx):
    """claim takes the oldest unassigned rows up to the limit, each with its own new task id."""
    ids = [submit() for _ in range(5)]
    first = lifecycle.claim(3)
    assert [c["id"] for c in first] == ids[:3]
    rest = lifecycle.claim(10)
    assert [c["id"] for c in rest] == ids[3:]
    assert lifecycle.claim(10) == []
    task_ids = [c["task_id"] for c in first + rest]
    assert len(set(task_ids)) == 5 and all(len(t) == 36 for t in task_ids)
    for request_id, task_id in zip(ids, task_ids):
        assert row(request_id)["status"] == "pending"
        assert row(request_id)["queued_at"] is not None
        assert attempts(request_id)[-1]["task_id"] == task_id


def test_start_needs_the_attempts_task_id(tx):
    """start with another task id is refused; with the right one the worker is recorded."""
    request_id = make("pending")
    task_id = row(request_id)["task_id"]
    before = row(request_id)
    assert lifecycle.start(request_id, "00000000-0000-0000-0000-000000000000", "w1@test") is None
    assert row(request_id) == before
    started = lifecycle.start(request_id, task_id, "w1@test")
    assert started["id"] == request_id and started["job_type"] == "simulate"
    r = row(request_id)
    assert (r["status"], r["worker"]) == ("running", "w1@test") and r["started_at"] is not None
    assert attempts(request_id)[-1]["worker"] == "w1@test"


def test_duplicate_start_refused_unless_redelivered(tx):
    """A second copy of the message may not run the attempt again; a redelivery may."""
    request_id = make("running")
    task_id = row(request_id)["task_id"]
    before = row(request_id)
    assert lifecycle.start(request_id, task_id, "w2@test") is None
    assert row(request_id) == before
    assert lifecycle.start(request_id, task_id, "w2@test", redelivered=True) is not None
    assert row(request_id)["worker"] == "w2@test"
    assert row(request_id)["status"] == "running"


def test_progress_only_for_the_running_attempt(tx):
    """Progress is written for the running attempt (clamped to 0..100), refused otherwise."""
    request_id = make("pending")
    task_id = row(request_id)["task_id"]
    assert lifecycle.report_progress(request_id, task_id, 50) is False
    lifecycle.start(request_id, task_id, "w1@test")
    assert lifecycle.report_progress(request_id, task_id, 42.7) is True
    assert row(request_id)["progress"] == 42
    assert lifecycle.report_progress(request_id, task_id, 250) is True
    assert row(request_id)["progress"] == 100
    assert lifecycle.report_progress(request_id, "not-the-task", 10) is False
    assert row(request_id)["progress"] == 100


def test_finish_records_one_terminal_result(tx):
    """After success, a late failure for the same attempt is ignored (invariant 4)."""
    request_id = make("running")
    task_id = row(request_id)["task_id"]
    assert lifecycle.finish(request_id, task_id, Status.SUCCESS, json.dumps({"x": 1}))
    done = row(request_id)
    assert (done["status"], done["progress"], done["result"]) == ("success", 100, {"x": 1})
    assert lifecycle.finish(request_id, task_id, Status.FAILURE, error="late") is None
    assert row(request_id) == done
    assert attempts(request_id)[-1]["status"] == "success"
    assert attempts(request_id)[-1]["error"] is None


def test_worker_writes_after_kill_are_ignored(tx):
    """Once killed, the attempt's start, progress and result change nothing (invariant 3)."""
    request_id = make("pending")
    task_id = row(request_id)["task_id"]
    old = lifecycle.kill(request_id, "op")
    assert (old["status"], old["task_id"]) == ("pending", task_id)
    killed = row(request_id)
    assert killed["status"] == "killed" and killed["error"] == "killed by op"
    assert lifecycle.start(request_id, task_id, "w1@test", redelivered=True) is None
    assert lifecycle.report_progress(request_id, task_id, 50) is False
    assert lifecycle.finish(request_id, task_id, Status.SUCCESS, "{}") is None
    assert lifecycle.finish(request_id, task_id, Status.FAILURE, error="boom") is None
    assert row(request_id) == killed
    assert [a["status"] for a in attempts(request_id)] == ["killed"]


def test_stale_attempt_cannot_touch_the_new_one(tx):
    """After a retry, every write carrying the old attempt's task id is ignored."""
    request_id = make("failure")
    old_task = row(request_id)["task_id"]
    assert lifecycle.retry(request_id, "bob")
    new_task = claim_one(request_id)
    assert new_task != old_task
    assert lifecycle.start(request_id, new_task, "w2@test")
    current, current_attempts = row(request_id), attempts(request_id)

    assert lifecycle.start(request_id, old_task, "w1@test", redelivered=True) is None
    assert lifecycle.report_progress(request_id, old_task, 99) is False
    assert lifecycle.finish(request_id, old_task, Status.SUCCESS, "{}") is None
    assert lifecycle.finish(request_id, old_task, Status.TIMEOUT, error="late") is None
    assert row(request_id) == current
    assert attempts(request_id) == current_attempts
    assert (current["status"], current["attempt"], current["task_id"]) == ("running", 2, new_task)


def test_retry_starts_a_clean_new_attempt(tx):
    """retry clears the last attempt's outcome and records who asked for the new attempt."""
    request_id = make("timeout")
    assert lifecycle.retry(request_id, "bob")
    r = row(request_id)
    assert (r["status"], r["attempt"], r["task_id"], r["worker"], r["progress"]) == (
        "unassigned", 2, None, None, 0)
    assert r["error"] is None and r["result"] is None and r["finished_at"] is None
    assert [(a["number"], a["status"], a["triggered_by"]) for a in attempts(request_id)] == [
        (1, "timeout", "alice"), (2, "unassigned", "bob")]


def test_retry_failed_takes_only_matching_failures(tx):
    """retry_failed re-queues `failure` rows matching the filter, and nothing else."""
    failed = [make("failure") for _ in range(2)]
    other_type = make("failure", job_type="simulate_flaky")
    others = [make(s) for s in ("timeout", "killed", "success", "running")]
    assert lifecycle.retry_failed("bob", job_type="simulate") == 2
    assert [row(i)["status"] for i in failed] == ["unassigned", "unassigned"]
    assert [row(i)["attempt"] for i in failed] == [2, 2]
    assert row(other_type)["status"] == "failure"
    assert [row(i)["status"] for i in others] == ["timeout", "killed", "success", "running"]
    assert lifecycle.retry_failed("bob") == 1
    assert row(other_type)["status"] == "unassigned"


def test_retry_failed_takes_filter_values_the_way_the_list_reads_them(tx):
    """The search values match as the list's search box does: id, submitter, file; status too."""
    from dashboard.requests.listing import search_terms
    mine, theirs = make("failure", by="carol"), make("failure", by="dave")
    assert lifecycle.retry_failed("bob", status="success") == 0
    assert lifecycle.retry_failed("bob", **search_terms("nobody")) == 0
    assert lifecycle.retry_failed("bob", **search_terms(str(theirs))) == 1
    assert (row(mine)["status"], row(theirs)["status"]) == ("failure", "unassigned")
    assert lifecycle.retry_failed("bob", status="failure", **search_terms("carol")) == 1
    assert row(mine)["status"] == "unassigned"


def test_recording_shows_the_statements_a_transition_ran(tx):
    """lifecycle.recording() lists each statement run inside the block, in psycopg2's style."""
    request_id = make("failure")
    with lifecycle.recording() as statements:
        assert lifecycle.retry(request_id, "bob")
        assert lifecycle.retry(request_id, "bob") is False
    assert len(statements) == 2 and statements[0] == statements[1] == lifecycle.RETRY_SQL
    assert "%(id)s" in statements[0] and statements[0].count("UPDATE requests") == 1
    lifecycle.kill(submit(), "op")
    assert len(statements) == 2  # the block has ended: nothing more is recorded


def test_finish_stores_the_artifacts_with_the_result_only(tx):
    """Artifacts are written by the finish that records the result, for that attempt; a stale
    finish stores none."""
    request_id = submit()
    task_id = claim_one(request_id)
    assert lifecycle.start(request_id, task_id, "w1@test") is not None
    made = [("x.png", "image/png", b"\x89PNG x"), ("y.txt", "text/plain", b"y")]
    assert lifecycle.finish(request_id, "not-this-attempt", "success", "{}",
                            artifacts=made) is None
    assert lifecycle.finish(request_id, task_id, "success", "{}", artifacts=made) is not None
    assert lifecycle.finish(request_id, task_id, "success", "{}", artifacts=made) is None
    stored = db.session.execute(text(
        "SELECT attempt, name, content_type, data FROM artifacts WHERE request_id = :id"
        " ORDER BY id"), {"id": request_id}).all()
    assert [(a, n, c, bytes(d)) for a, n, c, d in stored] == [(1, *m) for m in made]


def test_every_change_bumps_a_global_version(tx):
    """Every write, on any request, takes a higher version from one sequence; refusals take none."""
    a, b = submit(), submit()
    seen = [row(a)["version"], row(b)["version"]]
    assert seen[1] > seen[0]

    def changed(request_id):
        version = row(request_id)["version"]
        assert version > max(seen), (version, seen)
        seen.append(version)

    claimed = {c["id"]: c["task_id"] for c in lifecycle.claim(10)}
    changed(b)  # one statement claimed both; each got its own version
    assert row(a)["version"] > seen[1] and row(a)["version"] != row(b)["version"]
    seen.append(row(a)["version"])
    lifecycle.start(a, claimed[a], "w1@test")
    changed(a)
    lifecycle.report_progress(a, claimed[a], 30)
    changed(a)
    lifecycle.start(b, claimed[b], "w2@test")
    changed(b)
    lifecycle.finish(a, claimed[a], Status.FAILURE, error="x")
    changed(a)
    lifecycle.retry(a, "bob")
    changed(a)
    lifecycle.kill(b, "op")
    changed(b)
    frozen = row(b)["version"]
    assert lifecycle.kill(b, "op") is None
    assert lifecycle.finish(b, claimed[b], Status.SUCCESS, "{}") is None
    assert lifecycle.report_progress(b, claimed[b], 80) is False
    assert row(b)["version"] == frozen
    lifecycle.retry(b, "op")
    changed(b)


def test_attempts_mirror_each_attempt(tx):
    """The attempts table keeps each attempt's task id, worker, outcome and trigger."""
    request_id = make("running")
    first_task = row(request_id)["task_id"]
    lifecycle.finish(request_id, first_task, Status.FAILURE, error="ValueError: no",
                     traceback="Traceback ...")
    lifecycle.retry(request_id, "bob")
    second_task = claim_one(request_id)
    lifecycle.start(request_id, second_task, "w2@test")
    lifecycle.finish(request_id, second_task, Status.SUCCESS, json.dumps({"ok": True}))

    first, second = attempts(request_id)
    assert (first["number"], first["task_id"], first["status"], first["worker"]) == (
        1, first_task, "failure", "w1@test")
    assert (first["error"], first["traceback"], first["triggered_by"]) == (
        "ValueError: no", "Traceback ...", "alice")
    assert (second["number"], second["task_id"], second["status"], second["worker"]) == (
        2, second_task, "success", "w2@test")
    assert second["triggered_by"] == "bob" and second["error"] is None
    for a in (first, second):
        assert a["queued_at"] and a["started_at"] and a["finished_at"]
    r = row(request_id)
    assert (r["attempt"], r["task_id"], r["status"], r["result"]) == (
        2, second_task, "success", {"ok": True})
