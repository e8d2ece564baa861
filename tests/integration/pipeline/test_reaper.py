"""Nothing stays `running` forever: attempts no worker holds any more end as failure."""
import json

from sqlalchemy import text

from dashboard import lifecycle, recovery
from dashboard.extensions import db
from tests.support.db import fetch, wait_status


def _orphan(app, worker):
    """A request `running` on `worker` whose message no worker holds (its failure was lost)."""
    with app.app_context():
        request_id = lifecycle.submit("simulate", json.dumps({"min_seconds": 0, "max_seconds": 0}),
                                      None, "tester")
        db.session.commit()
        # Claim it here (no message is published) and start it as that worker would have.
        claimed = [r for r in lifecycle.claim(1000) if r["id"] == request_id][0]
        db.session.commit()
        assert lifecycle.start(request_id, claimed["task_id"], worker) is not None
        db.session.execute(text("UPDATE requests SET started_at = now() - interval '2 minutes'"
                                " WHERE id = :id"), {"id": request_id})
        db.session.commit()
    return request_id


def test_lost_running_attempt_ends_as_failure(app, stack):
    """A running row whose answering worker does not hold its task is recorded as failure."""
    stack.stop_dispatcher()
    request_id = _orphan(app, "worker1@test")
    with app.app_context():
        assert recovery.reap_lost(grace_s=30) == 1
    row = fetch(app, request_id)
    assert row["status"] == "failure"
    assert row["error"] == "lost: worker1@test no longer runs this attempt"


def test_running_task_is_not_reaped(app, stack, api):
    """An attempt a worker really runs stays running, however old the grace allows."""
    request_id = api.post("/api/requests", data={
        "job_type": "simulate", "params": json.dumps({"hang": True})}).get_json()["id"]
    wait_status(app, request_id, "running")
    with app.app_context():
        assert recovery.reap_lost(grace_s=0) == 0
    assert fetch(app, request_id)["status"] == "running"


def test_attempt_of_silent_worker_is_left_alone(app, stack):
    """A worker that does not answer may still run it (or its message is redelivered): no reaping."""
    stack.stop_dispatcher()
    request_id = _orphan(app, "gone@nowhere")
    with app.app_context():
        assert recovery.reap_lost(grace_s=30) == 0
    assert fetch(app, request_id)["status"] == "running"
