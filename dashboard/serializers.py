"""One serializer per object (request, attempt), for the JSON API."""
from dashboard.schedules import fire_times
from dashboard.workers import flower_links


def iso(value):
    """ISO 8601 UTC, or None."""
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def request_dict(row, attempts=None):
    """A request as the API answers it."""
    out = {
        "id": row["id"],
        "job_type": row["job_type"],
        "status": row["status"],
        "attempt": row["attempt"],
        "task_id": row["task_id"],
        "worker": row["worker"],
        "params": row["params"],
        "filename": row["filename"],
        "progress": row["progress"],
        "priority": row.get("priority", 0),
        "result": row["result"],
        "error": row["error"],
        "created_at": iso(row["created_at"]),
        "started_at": iso(row["started_at"]),
        "finished_at": iso(row["finished_at"]),
        "flower_task_url": flower_links.task_url(row["task_id"]),
        "parent_id": row.get("parent_id"),
        # Made by a schedule: its name and fire time (null fire time: a manual run).
        "schedule": row.get("schedule"),
        "scheduled_for": iso(row.get("scheduled_for")),
    }
    if attempts is not None:
        out["attempts"] = [attempt_dict(a) for a in attempts]
    return out


def attempt_dict(row):
    """One attempt of a request."""
    return {
        "number": row["number"], "task_id": row["task_id"], "status": row["status"],
        "worker": row["worker"], "triggered_by": row["triggered_by"],
        "queued_at": iso(row["queued_at"]), "started_at": iso(row["started_at"]),
        "finished_at": iso(row["finished_at"]), "error": row["error"],
        "traceback": row["traceback"],
    }


def schedule_dict(row):
    """An operator's schedule as the API answers it."""
    return {
        "id": row["id"], "name": row["name"], "builtin": False,
        "job_type": row["job_type"], "params": row["params"],
        "cron": row["cron"], "every_s": row["every_s"], "timezone": row["timezone"],
        "enabled": row["enabled"], "catch_up": row["catch_up"],
        "words": fire_times.describe(row),
        "next_runs": [iso(t) for t in fire_times.next_runs(row)] if row["enabled"] else [],
        "last_run_at": iso(row["last_run_at"]), "last_request_id": row["last_request_id"],
        "last_status": row["last_status"],
        "created_by": row["created_by"], "updated_by": row["updated_by"],
        "created_at": iso(row["created_at"]), "updated_at": iso(row["updated_at"]),
    }
