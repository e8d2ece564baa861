"""dashboard.dispatcher: claims unassigned rows and publishes each attempt exactly once.

Real dispatcher processes (`flask --app wsgi dispatcher`), real RabbitMQ, real
workers. Where a test needs to see the messages themselves, the workers are
stopped and the `requests` queue is read directly with kombu.
"""
import json
import os
import re
import statistics

from celery.events.event import event_exchange
from kombu import Connection, Queue
from sqlalchemy import text

from dashboard import lifecycle
from dashboard.jobs.simulate import SIMULATE
from dashboard.extensions import db
from tests.support.db import fetch, insert_requests, wait_status
from tests.support.env import BIN, RUN_DIR
from tests.support.procs import Proc, wait_for

QUEUE = "requests"
ZERO_PARAMS = {"min_seconds": 0, "max_seconds": 0}
# What submission stores: the validated params with defaults filled in.
ZERO = json.dumps(SIMULATE.validate(ZERO_PARAMS, None))


def start_dispatcher(name, **env):
    """Start an extra dispatcher process with its own fresh log."""
    log_path = os.path.join(RUN_DIR, f"{name}.log")
    if os.path.exists(log_path):
        os.remove(log_path)
    proc = Proc(name, [os.path.join(BIN, "flask"), "--app", "wsgi", "dispatcher"],
                env={k: str(v) for k, v in env.items()}).start()
    return proc


def listening(proc):
    """True once the dispatcher logged that it listens."""
    return "dispatcher listening" in proc.log()


def insert(app, n):
    """Commit `n` new unassigned zero-length simulate requests in one transaction; their ids."""
    return insert_requests(app, [ZERO_PARAMS] * n)


def count_by_status(app):
    """{status: n} over all requests."""
    with app.app_context():
        rows = db.session.execute(text(
            "SELECT status, count(*) FROM requests GROUP BY status")).all()
        db.session.rollback()
    return dict(rows)


def drain_queue():
    """Consume every message in the `requests` queue; returns (request id, task id) pairs:
    a run_request's one, each item of a run_batch (short requests share a message)."""
    found = []
    with Connection(os.environ["TEST_BROKER_URL"]) as conn:
        queue = Queue(QUEUE, no_declare=True)(conn.default_channel)
        while (message := queue.get(no_ack=True, accept=["json"])) is not None:
            args, _kwargs, _embed = message.decode()
            if message.headers["task"] == "dashboard.run_batch":
                assert 1 < len(args[0]) <= 10, args   # DISPATCH_BATCH=10 claims at most 10
                found.extend((request_id, task_id) for request_id, task_id in args[0])
            else:
                assert message.headers["task"] == "dashboard.run_request"
                found.append((args[0], message.headers["id"]))
    return found


def test_two_dispatchers_publish_each_request_exactly_once(app, stack):
    """500 requests, two dispatchers racing: each request in exactly one message (alone or in
    a batch), with the task id its row holds."""
    stack.stop_dispatcher()
    stack.stop_workers()
    drain_queue()
    procs = [start_dispatcher(f"dispatcher-{x}", DISPATCH_BATCH=10, LOG_LEVEL="DEBUG")
             for x in "ab"]
    try:
        wait_for(lambda: all(listening(p) for p in procs), 60, what="both dispatchers listening")
        ids = insert(app, 500)  # one commit: both are woken by the same notifications
        wait_for(lambda: count_by_status(app) == {"pending": 500}, 60, what="500 pending")
    finally:
        for p in procs:
            p.stop()
    messages = []
    wait_for(lambda: messages.extend(drain_queue()) or len(messages) >= 500, 10,
             what="the 500 requests' messages in the queue")
    assert len(messages) == 500
    assert sorted(request_id for request_id, _ in messages) == ids
    with app.app_context():
        rows = dict(db.session.execute(text("SELECT id, task_id FROM requests")).all())
        attempt_tasks = dict(db.session.execute(text(
            "SELECT request_id, task_id FROM attempts WHERE status = 'pending'")).all())
        db.session.rollback()
    assert dict(messages) == rows == attempt_tasks
    assert len(set(rows.values())) == 500
    shares = [sum(map(int, re.findall(r"dispatched (\d+)", p.log()))) for p in procs]
    assert sum(shares) == 500, shares
    with app.app_context():  # their messages are gone: spare the cleanup 500 kills
        db.session.execute(text("TRUNCATE requests CASCADE"))
        db.session.commit()


def test_request_committed_while_dispatcher_down_runs_when_it_returns(app, stack, api):
    """A request submitted with no dispatcher running is dispatched by the next one's startup."""
    stack.stop_dispatcher()
    response = api.post("/api/requests", data={"job_type": "simulate",
                                                 "params": json.dumps(ZERO_PARAMS)})
    assert response.status_code == 201
    request_id = response.get_json()["id"]
    assert fetch(app, request_id)["status"] == "unassigned"
    stack.start_dispatcher()
    row = wait_status(app, request_id, "success", timeout=60)
    assert row["attempt"] == 1 and row["worker"].endswith("@test")


def test_missed_notification_is_picked_up_by_the_sweep(app, stack):
    """A row committed without a NOTIFY (trigger disabled) is still dispatched while it runs."""
    with app.app_context():
        db.session.execute(text("ALTER TABLE requests DISABLE TRIGGER requests_notify_insert"))
        request_id = lifecycle.submit("simulate", ZERO, None, "tester")
        db.session.execute(text("ALTER TABLE requests ENABLE TRIGGER requests_notify_insert"))
        db.session.commit()
    wait_status(app, request_id, "success", timeout=60)


def test_notification_wakes_the_dispatcher_at_once(app, stack):
    """On an idle stack a zero-length request is running well under the sweep period."""
    insert(app, 1)  # warm up: a first task pays for connections in the worker
    wait_for(lambda: count_by_status(app) == {"success": 1}, 60, what="warm-up request done")
    dispatch, running = [], []
    for _ in range(5):
        [request_id] = insert(app, 1)
        row = wait_status(app, request_id, ("running", "success"), timeout=30)
        dispatch.append((row["queued_at"] - row["created_at"]).total_seconds())
        running.append((row["started_at"] - row["created_at"]).total_seconds())
    # The dispatcher also polls every second; NOTIFY must beat that by far.
    assert statistics.median(dispatch) < 0.3, dispatch
    assert max(running) < 2.0, running


def test_dispatcher_killed_mid_batch_loses_nothing(app, stack):
    """SIGKILL a dispatcher while it is publishing: every request still reaches success once."""
    stack.stop_dispatcher()
    ids = insert(app, 300)
    victim = start_dispatcher("dispatcher-victim", DISPATCH_BATCH=1)
    try:
        wait_for(lambda: count_by_status(app).get("unassigned", 300) <= 270, 60,
                 interval=0.01, what="the victim dispatching")
    finally:
        victim.kill9()
    assert count_by_status(app).get("unassigned", 0) > 0, "killed too late to be mid-way"
    stack.start_dispatcher()
    wait_for(lambda: count_by_status(app) == {"success": 300}, 120, interval=0.2,
             what=f"all 300 success (now {count_by_status(app)})")
    with app.app_context():
        attempts = db.session.execute(text(
            "SELECT count(*), count(DISTINCT request_id), min(number), max(number)"
            " FROM attempts WHERE request_id = ANY(:ids)"), {"ids": ids}).one()
        db.session.rollback()
    assert tuple(attempts) == (300, 300, 1, 1)


def test_a_published_request_is_a_task_sent_event_before_a_worker_takes_it(app, stack):
    """While a request waits in RabbitMQ (no worker runs), an event listener (Flower, `celery
    events`) has already seen its task-sent event: its task id, its task and its request."""
    stack.stop_workers()
    with Connection(os.environ["TEST_BROKER_URL"]) as conn:
        events = Queue(f"test-task-sent-{os.getpid()}", exchange=event_exchange,
                       routing_key="task.#", exclusive=True, auto_delete=True)(conn.default_channel)
        events.declare()
        [request_id] = insert_requests(app, [ZERO_PARAMS])
        row = wait_status(app, request_id, "pending")

        def sent():
            message = events.get(no_ack=True)
            body = message and message.decode()
            return body if body and body["type"] == "task-sent" else None
        event = wait_for(sent, 10, what="a task-sent event")
    assert (event["uuid"], event["name"]) == (row["task_id"], "dashboard.run_request")
    assert event["args"] == f"({request_id},)" and event["queue"] == QUEUE
    assert fetch(app, request_id)["status"] == "pending"
