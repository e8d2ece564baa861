"""Dispatch latency on an idle stack: committed `unassigned` -> `running`.

Sequential zero-duration requests, each committed only when the previous one
finished. Primary figure: started_at - created_at from the rows (PostgreSQL's
clock at both ends). Also the wall clock from the submitting commit's return to
seeing the row running (polled every millisecond, so it carries up to ~1 ms of
polling granularity), and the split at queued_at (dispatcher vs broker + worker).
"""
import json
import time

import psycopg2
from sqlalchemy import text

from dashboard import jobs, lifecycle
from dashboard.dispatcher import libpq_dsn
from dashboard.extensions import db

from . import stack
from .report import percentile

POLL_S = 0.001


def _sample(app, conn, params):
    """One request: (db latency ms, wall latency ms, dispatch ms, broker+worker ms)."""
    with app.app_context():
        request_id = lifecycle.submit("simulate", params, None, "bench")
        db.session.commit()
    committed = time.perf_counter()
    cur = conn.cursor()
    deadline = committed + 30
    while True:
        cur.execute("SELECT status, started_at IS NOT NULL FROM requests WHERE id = %s",
                    (request_id,))
        status, started = cur.fetchone()
        if started:
            seen = time.perf_counter()
            break
        if time.perf_counter() > deadline:
            raise RuntimeError(f"request {request_id} not running after 30 s ({status})")
        time.sleep(POLL_S)
    while status not in ("success", "failure", "timeout", "killed"):
        time.sleep(0.005)
        cur.execute("SELECT status FROM requests WHERE id = %s", (request_id,))
        status = cur.fetchone()[0]
        if time.perf_counter() > deadline:
            raise RuntimeError(f"request {request_id} still {status} after 30 s")
    cur.execute(
        "SELECT 1000 * extract(epoch FROM started_at - created_at),"
        " 1000 * extract(epoch FROM queued_at - created_at),"
        " 1000 * extract(epoch FROM started_at - queued_at) FROM requests WHERE id = %s",
        (request_id,))
    total, dispatch, worker = (float(v) for v in cur.fetchone())
    return total, 1000 * (seen - committed), dispatch, worker


def run(app, opts):
    """Idle pipeline stack (one worker, the dispatcher); `opts.samples` sequential requests."""
    celery = app.extensions["celery"]
    params = json.dumps(jobs.get("simulate").validate({"min_seconds": 0, "max_seconds": 0}, None))
    worker = stack.worker("pipe", concurrency=opts.concurrency).start()
    dispatcher = stack.dispatcher().start()
    conn = psycopg2.connect(libpq_dsn(app.config["SQLALCHEMY_DATABASE_URI"]))
    conn.autocommit = True
    try:
        stack.wait_online(celery, ["pipe@bench"])
        with app.app_context():
            stack.wait_dispatcher(dispatcher)
            db.session.execute(text(
                "TRUNCATE requests, attempts, status_counts RESTART IDENTITY CASCADE"))
            db.session.commit()
        for _ in range(10):                       # warm-up: pool processes connected
            _sample(app, conn, params)
        time.sleep(1)
        samples = [_sample(app, conn, params) for _ in range(opts.samples)]
    finally:
        conn.close()
        dispatcher.stop()
        worker.stop()
    total, wall, dispatch, broker = (list(col) for col in zip(*samples))
    metrics = [
        {"name": "dispatch latency p50 (rows)", "value": percentile(total, 50), "unit": "ms",
         "goal": 15, "cmp": "<="},
        {"name": "dispatch latency p99 (rows)", "value": percentile(total, 99), "unit": "ms",
         "goal": 100, "cmp": "<="},
        {"name": "  wall clock p50 / p99", "value": f"{percentile(wall, 50):.1f} / "
         f"{percentile(wall, 99):.1f}", "unit": "ms"},
        {"name": "  created -> queued (dispatcher) p50", "value": percentile(dispatch, 50),
         "unit": "ms"},
        {"name": "  queued -> started (broker, worker) p50", "value": percentile(broker, 50),
         "unit": "ms"},
    ]
    details = {"samples": len(samples), "max_ms": max(total),
               "rows_ms": total, "wall_ms": wall, "dispatch_ms": dispatch, "broker_ms": broker}
    return metrics, details
