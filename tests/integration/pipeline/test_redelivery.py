"""Redelivery (acks_late + reject_on_worker_lost): a task whose worker dies runs again, never stuck."""
from tests.support.db import attempts, fetch, wait_status
from tests.support.http import submit
from tests.support.procs import kill_pool_process, wait_offline

SLOW = {"min_seconds": 4, "max_seconds": 4}
TERMINAL = ("success", "failure", "timeout", "killed")


def test_worker_killed_mid_task_is_redelivered_to_another_worker(app, stack, api, celery_app):
    """kill -9 of a whole worker (process group) mid-task: the other worker finishes the attempt."""
    request_id = submit(api, SLOW)
    first = wait_status(app, request_id, "running", timeout=60)
    name = first["worker"].split("@")[0]
    other = ({"worker1", "worker2"} - {name}).pop()
    stack.workers.pop(name).kill9()
    wait_offline(celery_app, first["worker"])
    row = wait_status(app, request_id, TERMINAL, timeout=90)
    assert row["status"] == "success", row
    assert row["worker"] == f"{other}@test"
    assert (row["attempt"], row["task_id"]) == (1, first["task_id"])
    assert row["started_at"] > first["started_at"]
    [attempt] = attempts(app, request_id)
    assert (attempt["status"], attempt["worker"]) == ("success", f"{other}@test")
    assert api.get(f"/api/requests/{request_id}").get_json()["status"] == "success"


def test_pool_process_killed_mid_task_is_redelivered(app, stack, api, celery_app):
    """kill -9 of the pool process running a task (worker stays up): the attempt runs again."""
    request_id = submit(api, SLOW)
    first = wait_status(app, request_id, "running", timeout=60)
    kill_pool_process(celery_app, first)
    row = wait_status(app, request_id, TERMINAL, timeout=90)
    assert row["status"] == "success", row
    assert (row["attempt"], row["task_id"]) == (1, first["task_id"])
    assert row["started_at"] > first["started_at"]
    assert row["result"]["slept_seconds"] == 4
    [attempt] = attempts(app, request_id)
    assert attempt["status"] == "success"
    assert all(p.alive() for p in stack.workers.values())


def test_every_request_ends_terminal_when_a_busy_worker_dies(app, stack, api, celery_app):
    """Several requests in flight when a worker is killed -9: all of them still finish."""
    ids = [submit(api, {"min_seconds": 1, "max_seconds": 2}) for _ in range(8)]
    wait_status(app, ids[0], "running", timeout=60)
    victim = fetch(app, ids[0])["worker"]
    stack.workers.pop(victim.split("@")[0]).kill9()
    for request_id in ids:
        assert wait_status(app, request_id, TERMINAL, timeout=120)["status"] == "success"
        assert [a["number"] for a in attempts(app, request_id)] == [1]
