"""QUEUE_TYPE=quorum: every queue the service uses is a RabbitMQ quorum queue, requests run
end to end on them, and the pool size actions that need global QoS are refused with the reason.

A vhost of its own (<test vhost>_quorum on the local RabbitMQ): the suite's vhost holds
classic queues of the same names, and RabbitMQ refuses to redeclare a queue with another
type. This module's dispatcher and worker use it; the suite's dispatcher is stopped meanwhile.
"""
import signal
import time

import pytest
from kombu import Connection

from deploy import services
from tests.support.apps import extra_app
from tests.support.db import audit_rows, fetch, wait_status
from tests.support.env import RUN_NAME
from tests.support.http import TokenClient, submit
from tests.support.procs import dispatcher_proc, wait_for, worker_proc
from tests.support.seed import create_user

VHOST = f"{RUN_NAME}_quorum"


def _rabbit():
    return services.local_rabbit(services.secret("rabbitmq_password"))


def queue_types(vhost):
    """{queue: type} of the durable, not auto-deleted queues of `vhost` (rabbitmqctl's view)."""
    out = _rabbit().ctl("list_queues", "-p", vhost, "--no-table-headers", "name", "type",
                        "durable", "auto_delete").stdout
    rows = [line.split("\t") for line in out.splitlines() if line.strip()]
    return {r[0]: r[1] for r in rows if len(r) == 4 and r[2] == "true" and r[3] == "false"}


@pytest.fixture
def quorum_env(stack):
    """A fresh vhost, and a dispatcher and a worker on it with QUEUE_TYPE=quorum."""
    rabbit = _rabbit()
    rabbit.ctl("delete_vhost", VHOST, check=False)
    rabbit.ctl("add_vhost", VHOST)
    rabbit.ctl("set_permissions", "-p", VHOST, "dashboard", ".*", ".*", ".*")
    url = stack.celery_app.conf.broker_url.rsplit("/", 1)[0] + "/" + VHOST
    env = {"CELERY_BROKER_URL": url, "QUEUE_TYPE": "quorum"}
    stack.stop_dispatcher()
    procs = []
    try:
        dispatcher = dispatcher_proc("quorum-dispatcher")
        dispatcher.env.update(env)
        procs.append(dispatcher.start())
        worker = worker_proc("quorum1")
        worker.env.update(env)
        procs.append(worker.start())
        wait_for(lambda: _consumers(url) >= 1, 60, interval=0.5, what="quorum worker consuming")
        yield url, procs
    finally:
        for proc in procs:
            proc.stop(signal.SIGTERM)
        rabbit.ctl("delete_vhost", VHOST, check=False)


def _consumers(url):
    try:
        with Connection(url, connect_timeout=2) as conn:
            return conn.default_channel.queue_declare(queue="requests", passive=True).consumer_count
    except Exception:   # not declared yet
        return 0


def test_queues_are_quorum_and_requests_run(app, api, quorum_env):
    """The dispatcher and the worker declare quorum queues; requests (alone and sharing a
    batch message) succeed through them."""
    _, (dispatcher, worker) = quorum_env
    ids = [submit(api, {"min_seconds": 0, "max_seconds": 0.05}) for _ in range(5)]
    for request_id in ids:
        wait_status(app, request_id, ("success",), timeout=60)
        assert fetch(app, request_id)["worker"] == "quorum1@test"
    types = queue_types(VHOST)
    assert types.get("requests") == "quorum", types
    assert types and set(types.values()) == {"quorum"}, f"a queue is not quorum: {types}"
    assert "Global QoS is disabled" in worker.log()


def test_pause_and_resume_on_quorum_queues(app, api, quorum_env, fresh, monkeypatch):
    """Pause cancels the worker's consumer of the quorum queue, resume declares and consumes
    it again (same queue type): a request waits while paused and runs once resumed."""
    url, _ = quorum_env
    token = create_user(app, "operator", "quorum-operator")
    # Celery prefers CELERY_BROKER_URL from the environment to its configuration.
    with monkeypatch.context() as env, extra_app({"BROKER_URL": url, "QUEUE_TYPE": "quorum",
                                                  "TESTING": True}) as other:
        env.setenv("CELERY_BROKER_URL", url)
        operator = TokenClient(other, token)
        paused = operator.post("/api/workers/quorum1@test/pause")
        assert paused.status_code == 202, paused.get_json()
        wait_for(lambda: _consumers(url) == 0, 10, what="no consumer while paused")
        waiting = submit(api, {"min_seconds": 0, "max_seconds": 0})
        time.sleep(2)
        assert fetch(app, waiting)["status"] == "pending"
        resumed = operator.post("/api/workers/quorum1@test/resume")
        assert resumed.status_code == 202, resumed.get_json()
        wait_status(app, waiting, ("success",), timeout=30)
    assert queue_types(VHOST)["requests"] == "quorum"


def test_pool_resize_refused_and_workers_page_says_why(app, stack, api, signed_in, fresh,
                                                       monkeypatch):
    """With QUEUE_TYPE=quorum grow and shrink answer 409 with the reason (audited), and the
    workers page says what quorum queues change, without the +1/−1 buttons."""
    monkeypatch.setitem(app.config, "QUEUE_TYPE", "quorum")
    for action in ("grow", "shrink"):
        answer = api.post(f"/api/workers/worker1@test/{action}", json={"n": 1})
        assert answer.status_code == 409, answer.get_json()
        assert "quorum queues" in answer.get_json()["error"]
        assert "no global QoS" in answer.get_json()["error"]
    refused = [(r["action"], r["outcome"]) for r in audit_rows(app, "worker_grow")
               + audit_rows(app, "worker_shrink")]
    assert refused == [("worker_grow", "refused"), ("worker_shrink", "refused")]
    client, _, _ = signed_in("operator")
    page = client.get("/workers").get_data(as_text=True)
    assert 'id="quorum-queues"' in page and "no global QoS" in page
    assert 'data-action="grow"' not in page and 'data-action="shrink"' not in page
    monkeypatch.setitem(app.config, "QUEUE_TYPE", "classic")
    assert 'id="quorum-queues"' not in client.get("/workers").get_data(as_text=True)
