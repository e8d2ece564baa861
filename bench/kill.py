"""Kill: operator click -> the pool process running the task is gone; the next poll shows it.

A `hang` request runs; its pool process pid comes from `inspect().active()`.
The click is the API kill call (the page's button calls the same
actions.kill); the pid is then polled every 2 ms until it is gone (or a
zombie). Then one poll of the request's live partial with the token the page
held before the click must answer 200 with status `killed`.
"""
import json
import re
import time

from sqlalchemy import text

from dashboard.extensions import db

from . import stack, users
from .report import percentile

TOKEN_RE = re.compile(r'hx-get="[^"]*since=([0-9]+-[0-9]+)"')
STATUS_RE = re.compile(r'<section id="request-detail" data-status="(\w+)"')


def _running_pid(celery, task_id, timeout=20):
    """The pid of the pool process executing `task_id`."""
    def find():
        active = celery.control.inspect(destination=["pipe@bench"], timeout=1).active() or {}
        for tasks in active.values():
            for task in tasks:
                if task["id"] == task_id:
                    return task["worker_pid"]
        return None
    return stack.wait_for(find, timeout, interval=0.1, what=f"task {task_id} active")


def _one_kill(app, client, headers):
    """Submit a hang, wait until it runs, kill it; returns the timings."""
    response = client.post("/api/requests", headers=headers, data={
        "job_type": "simulate", "params": json.dumps({"hang": True})})
    request_id = response.get_json()["id"]

    def running():
        with app.app_context():
            row = db.session.execute(text("SELECT status, task_id FROM requests WHERE id = :id"),
                                     {"id": request_id}).one()
            db.session.rollback()
        return row if row.status == "running" else None
    task_id = stack.wait_for(running, 30, what=f"request {request_id} running").task_id
    pid = _running_pid(app.extensions["celery"], task_id)
    hx = {**headers, "HX-Request": "true"}
    page = client.get(f"/requests/{request_id}", headers=hx).get_data(as_text=True)
    since = TOKEN_RE.search(page).group(1)

    clicked = time.perf_counter()
    answer = client.post(f"/api/requests/{request_id}/kill", headers=headers)
    answered = time.perf_counter()
    if answer.status_code != 202:
        raise RuntimeError(f"kill answered {answer.status_code}: {answer.get_data(as_text=True)}")
    stack.wait_for(lambda: stack.gone(pid), 10, interval=0.002, what=f"pid {pid} gone")
    gone_at = time.perf_counter()
    poll = client.get(f"/requests/{request_id}?since={since}", headers=hx)
    match = STATUS_RE.search(poll.get_data(as_text=True)) if poll.status_code == 200 else None
    return {"request_id": request_id, "pid": pid, "api_ms": 1000 * (answered - clicked),
            "gone_ms": 1000 * (gone_at - clicked), "poll_status": poll.status_code,
            "shown": bool(match and match.group(1) == "killed")}


def run(app, opts):
    """Pipeline worker + dispatcher; `opts.kills` kills of running hang requests."""
    celery = app.extensions["celery"]
    token = users.ensure_user(app, "bench-operator", "operator")
    headers = {"Authorization": f"Bearer {token}"}
    worker = stack.worker("pipe", concurrency=opts.concurrency).start()
    dispatcher = stack.dispatcher().start()
    try:
        stack.wait_online(celery, ["pipe@bench"])
        with app.app_context():
            stack.wait_dispatcher(dispatcher)
        client = app.test_client()
        samples = []
        for _ in range(opts.kills):
            samples.append(_one_kill(app, client, headers))
            time.sleep(0.5)   # let the pool replace the killed process
    finally:
        dispatcher.stop()
        worker.stop()
    gone = [s["gone_ms"] for s in samples]
    metrics = [
        {"name": "kill: click -> process gone (max)", "value": max(gone) / 1000, "unit": "s",
         "goal": 1.0, "cmp": "<="},
        {"name": "  click -> process gone p50", "value": percentile(gone, 50), "unit": "ms"},
        {"name": "  kill API answer p50", "value": percentile([s["api_ms"] for s in samples], 50),
         "unit": "ms"},
        {"name": "kill: next poll shows killed", "value": sum(s["shown"] for s in samples),
         "unit": f"of {len(samples)}", "goal": len(samples), "cmp": ">="},
    ]
    return metrics, {"samples": samples}
