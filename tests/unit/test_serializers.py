"""The JSON API's request and attempt objects."""
from datetime import datetime, timedelta, timezone

from dashboard.serializers import attempt_dict, iso, request_dict

T0 = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=timezone.utc)
REQUEST_KEYS = {"id", "job_type", "status", "attempt", "task_id", "worker", "params", "filename",
                "progress", "result", "error", "created_at", "started_at", "finished_at",
                "flower_task_url", "schedule", "scheduled_for", "parent_id", "priority"}


def row(**changes):
    """A request row as queries.get_request returns it."""
    return {"id": 7, "job_type": "simulate", "status": "success", "attempt": 2,
            "task_id": "5d2c0ba5-91c4-4d8e-a3b0-2f3c4d5e6f70", "worker": "worker1@host",
            "params": {"min_seconds": 0}, "filename": "scan.raw", "progress": 100, "priority": 3,
            "result": {"slept_seconds": 0.1}, "error": None, "created_at": T0,
            "started_at": T0 + timedelta(seconds=1), "finished_at": T0 + timedelta(seconds=2),
            **changes}


def attempt(number, **changes):
    return {"number": number, "task_id": f"task-{number}", "status": "failure",
            "worker": "worker2@host", "triggered_by": "alice", "queued_at": T0,
            "started_at": None, "finished_at": None, "error": "RuntimeError: x",
            "traceback": "Traceback ...", **changes}


def test_iso_is_utc_with_z():
    assert iso(T0) == "2026-01-02T03:04:05.678000Z"
    assert iso(None) is None


def test_iso_of_another_zone_keeps_its_offset():
    assert iso(datetime(2026, 1, 2, 4, 4, 5, tzinfo=timezone(timedelta(hours=1)))) == \
        "2026-01-02T04:04:05+01:00"


def test_request_object_has_exactly_the_documented_fields(unit_ctx):
    out = request_dict(row())
    assert set(out) == REQUEST_KEYS
    assert out["created_at"] == "2026-01-02T03:04:05.678000Z"
    assert out["finished_at"] == "2026-01-02T03:04:07.678000Z"
    assert out["params"] == {"min_seconds": 0} and out["filename"] == "scan.raw"


def test_request_made_by_a_schedule_names_it_and_its_fire_time(unit_ctx):
    out = request_dict(row(schedule="nightly", scheduled_for=T0))
    assert (out["schedule"], out["scheduled_for"]) == ("nightly", "2026-01-02T03:04:05.678000Z")
    plain = request_dict(row())
    assert (plain["schedule"], plain["scheduled_for"]) == (None, None)


def test_request_links_its_task_in_flower(unit_ctx):
    out = request_dict(row())
    assert out["flower_task_url"] == "/flower/task/5d2c0ba5-91c4-4d8e-a3b0-2f3c4d5e6f70"
    assert request_dict(row(task_id=None, status="unassigned"))["flower_task_url"] is None


def test_request_with_attempts_lists_them_in_the_given_order(unit_ctx):
    out = request_dict(row(), attempts=[attempt(2), attempt(1, triggered_by="auto")])
    assert [a["number"] for a in out["attempts"]] == [2, 1]
    assert out["attempts"][1]["triggered_by"] == "auto"
    assert "attempts" not in request_dict(row())


def test_attempt_object():
    out = attempt_dict(attempt(1, started_at=T0))
    assert out == {"number": 1, "task_id": "task-1", "status": "failure", "worker": "worker2@host",
                   "triggered_by": "alice", "queued_at": "2026-01-02T03:04:05.678000Z",
                   "started_at": "2026-01-02T03:04:05.678000Z", "finished_at": None,
                   "error": "RuntimeError: x", "traceback": "Traceback ..."}
