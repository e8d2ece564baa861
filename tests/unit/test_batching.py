"""Which claimed rows share a message (tasks.batches), and what a worker says it holds."""
import dataclasses

from dashboard import jobs
from dashboard.workers.inspection import attempts_of
from dashboard.tasks import batches, queue_of


def row(i, **params):
    full = {"min_seconds": 0, "max_seconds": 0, "fail_rate": 0, "hang": False,
            "ignore_soft_limit": False, **params}
    return {"id": i, "task_id": f"t{i}", "job_type": "simulate", "params": full}


def ids(groups):
    return [[r["id"] for r in g] for g in groups]


def test_short_rows_fill_batches_up_to_the_size():
    assert ids(batches([row(i) for i in range(1, 8)], size=3, max_s=1.0)) == [
        [1, 2, 3], [4, 5, 6], [7]]


def test_the_expected_run_time_of_a_batch_stays_within_max_s():
    rows = [row(i, max_seconds=0.4) for i in range(1, 6)]
    assert ids(batches(rows, size=32, max_s=1.0)) == [[1, 2], [3, 4], [5]]


def test_long_unknown_or_tightly_limited_rows_go_alone():
    rows = [row(1), row(2, min_seconds=2, max_seconds=2), row(3), row(4, hang=True),
            row(5, timeout_seconds=1.5), row(6, log_lines=500), row(7)]
    assert ids(batches(rows, size=32, max_s=1.0)) == [[2], [4], [5], [6], [1, 3, 7]]


def test_size_one_turns_batching_off():
    assert ids(batches([row(1), row(2)], size=1, max_s=1.0)) == [[1], [2]]


def test_a_job_type_that_cannot_tell_its_length_is_never_batched():
    rows = [{"id": i, "task_id": f"t{i}", "job_type": "load_array", "params": {}}
            for i in (1, 2)]
    assert ids(batches(rows, size=32, max_s=1.0)) == [[1], [2]]


def test_a_batch_holds_requests_of_one_queue_only(monkeypatch):
    other = dataclasses.replace(jobs.REGISTRY["simulate"], name="simulate_volumes",
                                queue="volumes-test")
    monkeypatch.setitem(jobs.REGISTRY, other.name, other)
    rows = [row(i) for i in range(1, 8)]
    for r in rows[1::2]:
        r["job_type"] = other.name
    groups = batches(rows, size=2, max_s=1.0)
    assert ids(groups) == [[1, 3], [2, 4], [5, 7], [6]]
    assert [{queue_of(r) for r in g} for g in groups] == [
        {"requests"}, {"volumes-test"}, {"requests"}, {"volumes-test"}]


def test_attempts_of_a_single_task_a_batch_and_another_task():
    assert attempts_of({"name": "dashboard.run_request", "id": "abc", "args": [7]}) == [(7, "abc")]
    batch = {"name": "dashboard.run_batch", "id": "b1", "args": [[[7, "t7"], [8, "t8"]]]}
    assert attempts_of(batch) == [(7, "t7"), (8, "t8")]
    assert attempts_of({"name": "dashboard.notify", "id": "n", "args": [7]}) == []
    assert attempts_of({"name": "dashboard.run_batch", "id": "b", "args": [["junk"]]}) == []
