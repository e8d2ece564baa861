"""Kill in each state with real workers; a killed request never runs again."""
import time

import pytest

from dashboard.requests import actions
from tests.support.db import attempts, fetch, wait_status
from tests.support.http import submit
from tests.support.procs import (ExitWatch, is_dead, parent_pid, pool_pid, process_state,
                                 task_log_line, wait_for, wait_offline)

HANG = {"hang": True}
QUICK = {"min_seconds": 0, "max_seconds": 0}
KILL_BOUND_S = 1.0


def kill(api, request_id):
    """POST the kill; returns (status code, JSON body)."""
    response = api.post(f"/api/requests/{request_id}/kill")
    return response.status_code, response.get_json()


@pytest.fixture
def revokes(monkeypatch, celery_app):
    """Record every revoke the dashboard sends (and still send it)."""
    calls = []
    original = celery_app.control.revoke

    def spy(task_id, **kw):
        calls.append((task_id, kw))
        return original(task_id, **kw)
    monkeypatch.setattr(celery_app.control, "revoke", spy)
    return calls


def test_kill_unassigned_never_runs(app, stack, api, revokes):
    """unassigned -> killed at once: no task id, never dispatched, even once the dispatcher runs."""
    stack.stop_dispatcher()
    request_id = submit(api, QUICK)
    status, body = kill(api, request_id)
    assert status == 202 and body["status"] == "killed"
    assert body["error"] == "killed by api-operator"
    assert revokes == []
    stack.start_dispatcher()
    later = submit(api, QUICK)
    wait_status(app, later, "success", timeout=60)
    row = fetch(app, request_id)
    assert (row["status"], row["task_id"], row["queued_at"], row["started_at"]) == (
        "killed", None, None, None)
    [attempt] = attempts(app, request_id)
    assert attempt["status"] == "killed" and attempt["task_id"] is None
    assert attempt["started_at"] is None and attempt["worker"] is None


def test_kill_pending_revokes_without_terminate(app, solo, api, celery_app, revokes):
    """pending -> killed + revoke(task_id): the worker lists it revoked and never starts it."""
    busy = [submit(api, HANG) for _ in range(2)]  # worker1's two pool processes
    for request_id in busy:
        wait_status(app, request_id, "running", timeout=60)
    request_id = submit(api, QUICK)
    row = wait_status(app, request_id, "pending", timeout=60)
    status, body = kill(api, request_id)
    assert status == 202 and body["status"] == "killed"
    assert revokes == [(row["task_id"], {})]
    revoked = celery_app.control.inspect(["worker1@test"], timeout=2).revoked() or {}
    assert row["task_id"] in revoked.get("worker1@test", [])
    for other in busy:  # free the pool: the worker now receives the killed task's message
        assert kill(api, other)[0] == 202
    needle = f"Discarding revoked task: dashboard.run_request[{row['task_id']}]"
    wait_for(lambda: needle in solo.log(), 60, what="the worker discarding the revoked task")
    after = submit(api, QUICK)
    wait_status(app, after, "success", timeout=60)
    row = fetch(app, request_id)
    assert row["status"] == "killed" and row["started_at"] is None and row["worker"] is None
    assert attempts(app, request_id)[0]["started_at"] is None


def test_kill_running_hang_ends_its_process_within_a_second(app, solo, api, celery_app, revokes):
    """running -> killed + revoke(terminate, SIGKILL): the pool process is gone within 1 s."""
    request_id = submit(api, HANG)
    row = wait_status(app, request_id, "running", timeout=60)
    assert row["worker"] == "worker1@test"
    pid = pool_pid(celery_app, row)
    assert parent_pid(pid) == solo.pid and not is_dead(pid)
    watch = ExitWatch(pid)
    try:
        clicked = time.monotonic()
        status, body = kill(api, request_id)
        elapsed = watch.wait(timeout=10, since=clicked)
    finally:
        watch.close()
    assert status == 202 and body["status"] == "killed"
    assert elapsed is not None, f"pool process {pid} still {process_state(pid)} after 10 s"
    assert elapsed <= KILL_BOUND_S, f"pool process {pid} took {elapsed:.3f} s to die"
    assert revokes == [(row["task_id"], {"terminate": True, "signal": "SIGKILL"})]
    row = fetch(app, request_id)
    assert row["status"] == "killed" and row["error"] == "killed by api-operator"
    [attempt] = attempts(app, request_id)
    assert attempt["status"] == "killed" and attempt["finished_at"] is not None
    # The worker replaces the pool process and keeps serving.
    after = submit(api, QUICK)
    done = wait_status(app, after, "success", timeout=60)
    assert done["worker"] == "worker1@test"
    assert solo.alive()
    assert fetch(app, request_id)["status"] == "killed"


def test_kill_running_job_that_ignores_soft_limits(app, solo, api, celery_app):
    """SIGKILL cannot be swallowed: a job ignoring the soft limit dies on kill too."""
    request_id = submit(api, {"hang": True, "ignore_soft_limit": True})
    row = wait_status(app, request_id, "running", timeout=60)
    pid = pool_pid(celery_app, row)
    watch = ExitWatch(pid)
    try:
        assert kill(api, request_id)[0] == 202
        assert watch.wait(timeout=10) is not None
    finally:
        watch.close()
    assert fetch(app, request_id)["status"] == "killed"


@pytest.mark.parametrize("params, terminal", [
    (QUICK, "success"),
    ({**QUICK, "fail_rate": 1}, "failure"),
    ({"hang": True, "timeout_seconds": 1}, "timeout"),
])
def test_kill_of_a_finished_request_is_409(app, stack, api, params, terminal):
    """Kill of success, failure or timeout answers 409 with the reason and changes nothing."""
    request_id = submit(api, params)
    before = wait_status(app, request_id, ("success", "failure", "timeout", "killed"), timeout=60)
    assert before["status"] == terminal
    status, body = kill(api, request_id)
    assert status == 409 and body["error"] == f"request {request_id} is already {terminal}"
    after = fetch(app, request_id)
    assert (after["status"], after["version"]) == (terminal, before["version"])


def test_kill_twice_is_409_the_second_time(app, stack, api):
    """The second kill finds the request killed: 409, and the first kill's record stands."""
    stack.stop_dispatcher()
    request_id = submit(api, QUICK)
    assert kill(api, request_id)[0] == 202
    status, body = kill(api, request_id)
    assert status == 409 and "already killed" in body["error"]


def test_kill_unknown_request_is_404(api, clean_db):
    """Kill of a request that does not exist is 404."""
    assert kill(api, 424242)[0] == 404


def test_kill_while_no_worker_runs_then_a_worker_starts(app, stack, api, celery_app):
    """Killed while pending with no worker online: a worker started later never runs it."""
    stack.stop_workers()
    request_id = submit(api, QUICK)
    row = wait_status(app, request_id, "pending", timeout=60)
    status, body = kill(api, request_id)
    assert status == 202 and body["status"] == "killed"
    worker = stack.start_worker("worker1")
    task_log_line(worker, row["task_id"], "received")
    task_log_line(worker, row["task_id"], "succeeded")  # returned at once, without running
    assert f"stale or illegal start on request {request_id} ignored" in worker.log()
    row = fetch(app, request_id)
    assert (row["status"], row["started_at"], row["worker"], row["progress"]) == (
        "killed", None, None, 0)
    [attempt] = attempts(app, request_id)
    assert attempt["status"] == "killed" and attempt["started_at"] is None
    assert attempt["worker"] is None


def test_kill_running_while_its_worker_is_dead_is_not_redelivered(app, solo, api, stack,
                                                                 celery_app):
    """Killed while its worker is down: the redelivered message is refused by the row check."""
    request_id = submit(api, {"min_seconds": 30, "max_seconds": 30})
    row = wait_status(app, request_id, "running", timeout=60)
    solo.kill9()
    stack.workers.pop("worker1", None)
    wait_offline(celery_app, "worker1@test")
    status, body = kill(api, request_id)
    assert status == 202 and body["status"] == "killed"
    worker = stack.start_worker("worker2")
    task_log_line(worker, row["task_id"], "received")
    task_log_line(worker, row["task_id"], "succeeded")
    row = fetch(app, request_id)
    assert row["status"] == "killed" and row["worker"] == "worker1@test"
    [attempt] = attempts(app, request_id)
    assert attempt["status"] == "killed" and attempt["worker"] == "worker1@test"


def test_actions_kill_records_and_audits(app, stack, ctx):
    """actions.kill returns the old row for an active request and audits both outcomes."""
    from tests.support.db import audit_rows
    from dashboard import lifecycle
    from dashboard.extensions import db
    stack.stop_dispatcher()
    request_id = lifecycle.submit("simulate", '{"min_seconds": 0, "max_seconds": 0}', None, "t")
    db.session.commit()
    assert actions.kill(request_id, "tester")["status"] == "unassigned"
    assert actions.kill(request_id, "tester") is None
    assert [e["outcome"] for e in audit_rows(app, "kill", request_id)] == ["ok", "refused"]
