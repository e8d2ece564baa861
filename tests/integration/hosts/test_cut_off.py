"""A worker host cut off mid-request (its veth set down) loses nothing.

The broker misses the host's heartbeats (BROKER_HEARTBEAT_S=2 there), closes its
connection and puts the unacknowledged message back; a worker on this machine
runs it again as a redelivery of the same attempt. When the cable is back, the
host's own run ends too late to be recorded: the attempt ends once.
"""
import time

from sqlalchemy import text

from dashboard.extensions import db
from tests.support.db import attempts, wait_status
from tests.support.http import submit
from tests.support.procs import wait_for, wait_online

from .conftest import WORKERS

RUN_S = 12


def log_events(app, request_id):
    """(event, worker) of the request's log lines that have an event, oldest first."""
    with app.app_context():
        rows = db.session.execute(text(
            "SELECT event, detail->>'worker' AS worker FROM attempt_logs WHERE request_id = :id"
            " AND event IS NOT NULL ORDER BY id"), {"id": request_id}).all()
        db.session.rollback()
    return [tuple(r) for r in rows]


def test_a_host_cut_off_mid_request_loses_nothing(app, on_host, api, _stack, celery_app):
    request_id = submit(api, {"min_seconds": RUN_S, "max_seconds": RUN_S})
    row = wait_status(app, request_id, "running", timeout=30)
    assert row["worker"] in WORKERS
    started = time.monotonic()
    on_host.cut()
    try:
        _stack.ensure_workers()  # this machine's workers, to take the message back
        again = wait_for(lambda: ("redelivered" in [e for e, _ in log_events(app, request_id)]),
                         60, interval=0.2, what="the message redelivered")
        assert again
        redelivered_s = time.monotonic() - started
        done = wait_status(app, request_id, ("success", "failure", "timeout"), timeout=60)
    finally:
        on_host.mend()
    assert done["status"] == "success" and done["worker"].endswith("@test"), done
    # The host comes back and its own run ends (RUN_S after it began): not recorded.
    wait_online(celery_app, list(WORKERS), timeout=90)
    time.sleep(max(0.0, RUN_S + 3 - (time.monotonic() - started)))
    events = log_events(app, request_id)
    print(f"cut off: redelivered after {redelivered_s:.1f} s; events {events}")
    assert [a["status"] for a in attempts(app, request_id)] == ["success"]
    assert [e for e, _ in events].count("redelivered") == 1
    assert wait_status(app, request_id, "success")["finished_at"] == done["finished_at"]
