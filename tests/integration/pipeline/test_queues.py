"""Each job type's requests go to its own broker queue; each worker consumes the queues it
is started with (`-Q`).

Real PostgreSQL, RabbitMQ, dispatcher and prefork workers. The job type
`simulate_volumes` (tests/support/queued_jobs.py, loaded through JOB_TYPE_MODULES by the
dispatcher and the workers this module starts) names the queue `volumes-test`, which the
suite's two workers (`-Q requests`, the default) do not consume.
"""
import signal
import time

import pytest

from dashboard import jobs
from dashboard.workers import inspection
from tests.support import queued_jobs
from tests.support.db import fetch, sql, wait_status
from tests.support.http import submit
from tests.support.procs import dispatcher_proc, wait_for, wait_online, worker_proc

QUICK = {"min_seconds": 0, "max_seconds": 0}
QUEUE = queued_jobs.QUEUE
MODULES = {"JOB_TYPE_MODULES": "tests.support.queued_jobs"}


def _delete_queue(celery_app):
    with celery_app.connection_for_write() as conn:
        conn.default_channel.queue_delete(QUEUE)


def _declared(celery_app):
    """(messages, consumers) of the queue by a passive declare: it raises if not declared."""
    with celery_app.connection_for_write() as conn:
        ok = conn.default_channel.queue_declare(queue=QUEUE, passive=True)
        return ok.message_count, ok.consumer_count


def _with_modules(proc):
    proc.env.update(MODULES)
    return proc


@pytest.fixture
def volumes(app, stack, celery_app, monkeypatch, fresh):
    """simulate_volumes known to this app and to a dispatcher started with it; the queue
    deleted before (the dispatcher declares it at start) and after; the workers this test
    starts stopped afterwards (returned: a function starting one)."""
    job = queued_jobs.JOB_TYPES[0]
    monkeypatch.setitem(jobs.REGISTRY, job.name, job)
    stack.stop_dispatcher()
    _delete_queue(celery_app)
    stack.dispatcher = _with_modules(dispatcher_proc()).start()
    wait_for(lambda: "dispatcher listening" in stack.dispatcher.log(), 20,
             what="dispatcher listening")
    started = []

    def start(name, queues):
        proc = _with_modules(worker_proc(name, 2, ["-Q", queues])).start()
        started.append(proc)
        wait_online(celery_app, [f"{name}@test"], timeout=60)
        return proc

    yield start
    for proc in started:
        proc.stop(signal.SIGTERM)
    stack.stop_dispatcher()   # the stack fixture starts its own again
    sql(app, "DELETE FROM worker_pauses")
    celery_app.control.broadcast("dashboard_resume", reply=True, timeout=1)
    _delete_queue(celery_app)


def _why(api, request_id):
    inspection.clear_worker_cache()
    return api.get(f"/api/requests/{request_id}/why").get_json()


def _workers(api):
    inspection.clear_worker_cache()
    return {w["name"]: w for w in api.get("/api/workers").get_json()}


def _queues(celery_app, name):
    replies = celery_app.control.inspect([name], timeout=1.0).active_queues() or {}
    return sorted(q["name"] for q in replies.get(name, []))


def test_a_request_waits_in_its_queue_until_a_worker_consumes_it(app, stack, api,
                                                                   celery_app, volumes):
    assert _declared(celery_app) == (0, 0)   # declared by the dispatcher at its start
    waiting = submit(api, QUICK, job_type="simulate_volumes")
    plain = submit(api, QUICK)
    assert wait_status(app, plain, "success", timeout=60)["worker"] in (
        "worker1@test", "worker2@test")
    wait_status(app, waiting, "pending", timeout=30)
    time.sleep(2)
    assert fetch(app, waiting)["status"] == "pending"
    assert _declared(celery_app) == (1, 0)
    why = _why(api, waiting)
    assert why["queue"] == {"name": QUEUE, "messages": 1, "consumers": 0}
    reason = next(r for r in why["reasons"] if r["code"] == "no_consumers")
    assert reason["queue"] == QUEUE and QUEUE in reason["message"]
    assert _why(api, plain)["reasons"] == []
    page = api.get("/metrics").get_data(as_text=True)
    assert f'dashboard_queue_messages{{queue="{QUEUE}"}} 1.0' in page
    assert 'dashboard_queue_consumers{queue="requests"} 2.0' in page
    with app.app_context():
        assert inspection.queue_depth() == 1

    volumes("worker-vol", QUEUE)
    assert wait_status(app, waiting, "success", timeout=60)["worker"] == "worker-vol@test"
    shown = _workers(api)["worker-vol@test"]
    assert shown["state"] == "online" and shown["queues"] == [QUEUE]

    # A batch of short requests of both queues: each request runs on a worker of its queue.
    items = [{"job_type": "simulate_volumes" if i % 2 else "simulate", "params": QUICK}
             for i in range(12)]
    answer = api.post("/api/requests/batch", json={"requests": items})
    assert answer.status_code == 201, answer.get_json()
    for item, request_id in zip(items, answer.get_json()["ids"]):
        worker = wait_status(app, request_id, "success", timeout=60)["worker"]
        if item["job_type"] == "simulate_volumes":
            assert worker == "worker-vol@test"
        else:
            assert worker in ("worker1@test", "worker2@test")


def test_pause_stops_every_queue_and_resume_restores_those_it_was_started_with(
        app, stack, api, celery_app, volumes):
    proc = volumes("worker-two", f"requests,{QUEUE}")
    name = "worker-two@test"
    assert _queues(celery_app, name) == ["requests", QUEUE]
    paused = api.post(f"/api/workers/{name}/pause")
    assert paused.status_code == 202, paused.get_json()
    assert paused.get_json()["state"] == "paused"
    assert _queues(celery_app, name) == []
    waiting = submit(api, QUICK, job_type="simulate_volumes")
    wait_status(app, waiting, "pending", timeout=30)
    time.sleep(2)
    assert fetch(app, waiting)["status"] == "pending"
    assert "no_consumers" in [r["code"] for r in _why(api, waiting)["reasons"]]

    # Restarted while paused: it starts consuming nothing, and resume brings both back.
    proc.stop(signal.SIGTERM)
    proc = volumes("worker-two", f"requests,{QUEUE}")
    assert _queues(celery_app, name) == []
    assert _workers(api)[name]["state"] == "paused"
    back = api.post(f"/api/workers/{name}/resume")
    assert back.status_code == 202, back.get_json()
    assert back.get_json()["state"] == "online"
    assert _queues(celery_app, name) == ["requests", QUEUE]
    assert wait_status(app, waiting, "success", timeout=60)["worker"] == name

    # Pause everything and resume everything: the same, on every worker.
    assert api.post("/api/workers/pause-all").status_code == 202
    wait_for(lambda: _queues(celery_app, name) == [], 10, what="worker-two paused")
    assert _queues(celery_app, "worker1@test") == []
    assert api.post("/api/workers/resume-all").status_code == 202
    wait_for(lambda: _queues(celery_app, name) == ["requests", QUEUE], 10,
             what="worker-two consuming both queues")
    assert _queues(celery_app, "worker1@test") == ["requests"]
