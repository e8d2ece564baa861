"""dashboard.recovery: a pending attempt whose message was lost is published again.

Real dispatcher processes, real RabbitMQ and workers. A lost message is made by
claiming a row here without publishing it (or by purging the queue); the
dispatcher's sweep must then publish that attempt again with the same task id,
but never while the queue still holds a ready message.
"""
import json

from sqlalchemy import text

from tests.support.db import fetch, wait_status
from dashboard import dispatcher, lifecycle, recovery
from dashboard.jobs.simulate import SIMULATE
from dashboard.extensions import db

# What submission stores: the validated params with defaults filled in.
QUICK = json.dumps(SIMULATE.validate({"min_seconds": 0, "max_seconds": 0}, None))


def _pending_without_message(app, publish=False):
    """A request claimed (pending) whose message is not in the queue; (id, task id).

    With `publish`, it is published (the message waits in the queue) instead.
    """
    with app.app_context():
        request_id = lifecycle.submit("simulate", QUICK, None, "tester")
        db.session.commit()
        if publish:
            assert dispatcher.dispatch_batch(10) == 1
            task_id = fetch(app, request_id)["task_id"]
        else:
            [claimed] = lifecycle.claim(10)
            db.session.commit()
            task_id = claimed["task_id"]
        db.session.execute(text("UPDATE requests SET queued_at = now() - interval '5 minutes'"
                                " WHERE id = :id"), {"id": request_id})
        db.session.commit()
    return request_id, task_id


def test_lost_message_is_published_again_and_runs_once(app, stack):
    """The dispatcher's sweep republishes a stale pending attempt; it runs, as that attempt."""
    stack.stop_dispatcher()
    request_id, task_id = _pending_without_message(app)
    assert fetch(app, request_id)["status"] == "pending"
    stack.start_dispatcher()
    row = wait_status(app, request_id, "success", timeout=60)
    assert (row["task_id"], row["attempt"]) == (task_id, 1)


def test_nothing_is_republished_while_the_queue_holds_messages(app, stack, celery_app):
    """A backlog explains a long wait: stale_pending hands nothing over until the queue is empty."""
    stack.stop_dispatcher()
    stack.stop_workers()
    request_id, task_id = _pending_without_message(app, publish=True)
    with app.app_context():
        assert recovery.stale_pending(60, 100) == []
        db.session.rollback()
        celery_app.control.purge()  # the message is lost
        again = recovery.stale_pending(60, 100)
        assert [(r["id"], r["task_id"]) for r in again] == [(request_id, task_id)]
        db.session.rollback()
