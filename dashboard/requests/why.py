""""Why isn't it running?": the reasons a request waits, from the row, the broker and the workers.

Codes: dispatcher_down, broker_down, no_consumers,
workers_paused, all_busy, backlog, retry_backoff. A running request answers
where it runs (worker, pool process pid, since when); a finished one has no
reasons. The answer is a plain dict, the same for the API and the page.
"""
from datetime import timedelta

from flask import current_app
from sqlalchemy import text

from dashboard import dispatcher_heartbeat, jobs
from dashboard.extensions import db
from dashboard.requests import listing
from dashboard.workers import inspection

AHEAD_SQL = """
SELECT count(*) FROM requests
WHERE status = 'pending' AND started_at IS NULL AND (queued_at, id) < (:queued_at, :id)
"""


def _reason(code, message, **extra):
    return {"code": code, "message": message, **extra}


def _dispatcher():
    """dispatcher_down when no dispatcher beat within DISPATCHER_STALE_S."""
    stale_s = current_app.config.get("DISPATCHER_STALE_S", 10.0)
    beat = dispatcher_heartbeat.latest()
    if beat is None:
        return _reason("dispatcher_down", "No dispatcher is running: nothing hands unassigned"
                       " requests to the broker (start the dispatcher process).")
    if beat["age_s"] > stale_s:
        return _reason("dispatcher_down", f"The dispatcher's last heartbeat was"
                       f" {beat['age_s']:.0f} s ago ({beat['name']}): it is not running.",
                       last_heartbeat=beat["beat_at"].isoformat())
    return None


def _backoff(row):
    """retry_backoff for a failure an auto-retry will pick up later."""
    job = jobs.REGISTRY.get(row["job_type"])
    if job is None or job.max_attempts <= 1 or row["attempt"] >= job.max_attempts:
        return None
    due = row["finished_at"] + timedelta(seconds=job.backoff_s * 2 ** (row["attempt"] - 1))
    return _reason("retry_backoff", f"Attempt {row['attempt']} failed; attempt"
                   f" {row['attempt'] + 1} of {job.max_attempts} is queued automatically at"
                   f" {due.strftime('%H:%M:%S')} UTC (backoff).", due_at=due.isoformat())


def _workers(reasons, queue):
    """no_consumers, workers_paused, all_busy from the request's queue's consumers and the
    workers that consume it."""
    workers = [w for w in inspection.workers() if w["state"] != "offline"]
    paused = [w["name"] for w in workers if w["state"] == "paused"]
    consuming = [w for w in workers if w["state"] == "online" and queue["name"] in w["queues"]]
    if workers and len(paused) == len(workers):
        reasons.append(_reason("workers_paused", "Every worker is paused (not consuming"
                               f" {queue['name']}): resume them on the workers page.",
                               workers=paused))
    elif queue["consumers"] == 0:
        reasons.append(_reason("no_consumers", f"No worker consumes the {queue['name']}"
                               f" queue: start a worker with -Q {queue['name']}.",
                               queue=queue["name"], workers=paused))
    elif not workers:
        reasons.append(_reason("no_consumers", "No worker answers: start a worker."))
    if consuming and all(w["concurrency"] and _busy(w) >= w["concurrency"] for w in consuming):
        holding = sorted(t["request_id"] for w in consuming for t in w["active"]
                         if t["request_id"] is not None)
        size = sum(w["concurrency"] for w in consuming)
        reasons.append(_reason("all_busy", f"All {size} pool processes are busy, running"
                               " requests " + ", ".join(f"#{i}" for i in holding) + ".",
                               requests=holding))


def _busy(worker):
    """Pool processes of a worker that hold a task (a batch's requests share one)."""
    return len({t["batch"] or t["task_id"] for t in worker["active"]})


def explain(request_id):
    """{request_id, status, reasons, queue, running} for one request; None when unknown.
    `queue`: {name, messages, consumers} of the request's job type's queue."""
    row = listing.get_request(request_id)
    if row is None:
        return None
    answer = {"request_id": row["id"], "status": row["status"], "reasons": [],
              "queue": None, "running": None}
    status = row["status"]
    if status == "running":
        pid = next((t["pid"] for w in inspection.workers() for t in w["active"]
                    if t["task_id"] == row["task_id"]), None)
        answer["running"] = {"worker": row["worker"], "pid": pid,
                             "since": row["started_at"].isoformat() if row["started_at"] else None}
        return answer
    if status == "failure":
        if (reason := _backoff(row)) is not None:
            answer["reasons"].append(reason)
        return answer
    if status not in ("unassigned", "pending"):
        return answer
    reasons = answer["reasons"]
    job = jobs.REGISTRY.get(row["job_type"])
    queue = inspection.queue_counts(job.queue if job is not None else inspection.QUEUE)
    answer["queue"] = queue
    if queue is None:
        reasons.append(_reason("broker_down", "RabbitMQ does not answer: requests cannot be"
                               " handed to workers until it is back."))
    if status == "unassigned":
        if (reason := _dispatcher()) is not None:
            reasons.append(reason)
    if queue is not None:
        _workers(reasons, queue)
    if status == "pending" and row["queued_at"] is not None:
        ahead = db.session.execute(
            text(AHEAD_SQL), {"queued_at": row["queued_at"], "id": row["id"]}).scalar()
        if ahead:
            reasons.append(_reason("backlog", f"{ahead} request{'s' if ahead != 1 else ''}"
                                   " queued before it wait too.", ahead=ahead))
    return answer
