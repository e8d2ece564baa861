""""Why isn't it running?": the reasons a request waits, from the row, the broker and the workers.

Codes: dispatcher_down, broker_down, no_consumers,
workers_paused, all_busy, backlog, retry_backoff, and for an unassigned request its job
type's limits: job_type_paused, concurrency_limit, rate_limit. A running request answers
where it runs (worker, pool process pid, since when); a finished one has no
reasons. The answer is a plain dict, the same for the API and the page.
"""
from datetime import timedelta

from flask import current_app
from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import text

from dashboard import dispatcher_heartbeat, jobs
from dashboard.extensions import db
from dashboard.jobs import limits
from dashboard.requests import listing
from dashboard.workers import inspection

AHEAD_SQL = """
SELECT count(*) FROM requests
WHERE status = 'pending' AND started_at IS NULL AND (queued_at, id) < (:queued_at, :id)
"""


ACTIVE_OF_TYPE_SQL = """
SELECT id FROM requests WHERE status IN ('pending', 'running') AND job_type = :job_type
ORDER BY id
"""
DISPATCHED_SQL = """
SELECT at, n FROM job_type_dispatches
WHERE name = :job_type AND at > now() - interval '60 seconds' ORDER BY at
"""
SHOWN_IDS = 50  # the ids a concurrency_limit reason lists at most


def _reason(code, message, **extra):
    return {"code": code, "message": message, **extra}


def _dispatcher():
    """dispatcher_down when no dispatcher beat within DISPATCHER_STALE_S."""
    stale_s = current_app.config.get("DISPATCHER_STALE_S", 10.0)
    beat = dispatcher_heartbeat.latest()
    if beat is None:
        return _reason("dispatcher_down", _("No dispatcher is running: nothing hands unassigned"
                       " requests to the broker (start the dispatcher process)."))
    if beat["age_s"] > stale_s:
        return _reason("dispatcher_down", _("The dispatcher's last heartbeat was %(s).0f s ago"
                       " (%(name)s): it is not running.", s=beat["age_s"], name=beat["name"]),
                       last_heartbeat=beat["beat_at"].isoformat())
    return None


def _backoff(row):
    """retry_backoff for a failure an auto-retry will pick up later."""
    job = jobs.REGISTRY.get(row["job_type"])
    if job is None or job.max_attempts <= 1 or row["attempt"] >= job.max_attempts:
        return None
    due = row["finished_at"] + timedelta(seconds=job.backoff_s * 2 ** (row["attempt"] - 1))
    return _reason("retry_backoff", _(
        "Attempt %(n)s failed; attempt %(next)s of %(max)s is queued automatically at %(at)s"
        " UTC (backoff).", n=row["attempt"], next=row["attempt"] + 1, max=job.max_attempts,
        at=due.strftime("%H:%M:%S")), due_at=due.isoformat())


def _workers(reasons, queue):
    """no_consumers, workers_paused, all_busy from the request's queue's consumers and the
    workers that consume it."""
    workers = [w for w in inspection.workers() if w["state"] != "offline"]
    paused = [w["name"] for w in workers if w["state"] == "paused"]
    consuming = [w for w in workers if w["state"] == "online" and queue["name"] in w["queues"]]
    if workers and len(paused) == len(workers):
        reasons.append(_reason("workers_paused", _("Every worker is paused (not consuming"
                               " %(queue)s): resume them on the workers page.",
                               queue=queue["name"]),
                               workers=paused))
    elif queue["consumers"] == 0:
        reasons.append(_reason("no_consumers", _("No worker consumes the %(queue)s queue:"
                               " start a worker with -Q %(queue)s.", queue=queue["name"]),
                               queue=queue["name"], workers=paused))
    elif not workers:
        reasons.append(_reason("no_consumers", _("No worker answers: start a worker.")))
    if consuming and all(w["concurrency"] and _busy(w) >= w["concurrency"] for w in consuming):
        holding = sorted(t["request_id"] for w in consuming for t in w["active"]
                         if t["request_id"] is not None)
        size = sum(w["concurrency"] for w in consuming)
        reasons.append(_reason("all_busy", _("All %(n)s pool processes are busy, running"
                               " requests %(ids)s.", n=size,
                               ids=", ".join(f"#{i}" for i in holding)),
                               requests=holding))


def _limits(job_type):
    """job_type_paused, concurrency_limit, rate_limit: what holds an unassigned request of
    `job_type` back (the limits in force, as the dispatcher's claim counts them)."""
    if job_type not in jobs.REGISTRY:
        return []
    now = limits.current(job_type)
    reasons = []
    if now["paused"]:
        reasons.append(_reason("job_type_paused", _(
            "Job type %(name)r is paused: its requests are accepted but none is started"
            " until an admin resumes it (job types page).", name=job_type)))
    if now["max_running"] is not None:
        ids = db.session.execute(text(ACTIVE_OF_TYPE_SQL), {"job_type": job_type}).scalars().all()
        if len(ids) >= now["max_running"]:
            reasons.append(_reason(
                "concurrency_limit", _("Running %(n)s of %(max)s: job type %(name)r may have"
                                       " %(max)s pending or running at once.", n=len(ids),
                                       max=now["max_running"], name=job_type),
                running=len(ids), max_running=now["max_running"], ids=ids[:SHOWN_IDS]))
    if now["rate_per_min"] is not None:
        rows = db.session.execute(text(DISPATCHED_SQL), {"job_type": job_type}).all()
        left = sum(n for _, n in rows)
        if left >= now["rate_per_min"]:
            slot = None
            for at, n in rows:  # the oldest dispatches leave the window first
                left -= n
                if left < now["rate_per_min"]:
                    slot = at + timedelta(seconds=60)
                    break
            when = (_("the next slot is at %(at)s UTC", at=slot.strftime("%H:%M:%S")) if slot
                    else _("none starts until an admin raises it"))
            reasons.append(_reason(
                "rate_limit", _("Job type %(name)r may start %(n)s a minute, all taken:"
                                " %(when)s.", name=job_type, n=now["rate_per_min"], when=when),
                rate_per_min=now["rate_per_min"],
                next_slot_at=slot.isoformat() if slot else None))
    return reasons


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
        reasons.append(_reason("broker_down", _("RabbitMQ does not answer: requests cannot be"
                                                " handed to workers until it is back.")))
    if status == "unassigned":
        if (reason := _dispatcher()) is not None:
            reasons.append(reason)
        reasons.extend(_limits(row["job_type"]))
    if queue is not None:
        _workers(reasons, queue)
    if status == "pending" and row["queued_at"] is not None:
        ahead = db.session.execute(
            text(AHEAD_SQL), {"queued_at": row["queued_at"], "id": row["id"]}).scalar()
        if ahead:
            reasons.append(_reason("backlog", ngettext(
                "%(num)d request queued before it waits too.",
                "%(num)d requests queued before it wait too.", ahead), ahead=ahead))
    return answer
