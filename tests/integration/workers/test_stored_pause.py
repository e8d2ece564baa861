"""A pause survives the worker's restart (issue 8): real prefork workers stopped and started again.

The pause is stored in PostgreSQL; a worker that starts reads it and does not
consume the requests queue. A request submitted meanwhile waits as pending
until an operator resumes, then runs.
"""
import contextlib
import os
import signal
import socket
import threading
import time

import pytest
from sqlalchemy.engine import make_url

from dashboard.workers import inspection
from tests.support.db import attempts, audit_rows, fetch, sql, wait_status
from tests.support.html import parse_table
from tests.support.http import Browserless, submit
from tests.support.procs import Proc, free_port, wait_for, wait_online, worker_proc

QUICK = {"min_seconds": 0, "max_seconds": 0}
WAIT_S = 4  # long enough for an idle, consuming worker to have started a QUICK request


@pytest.fixture
def unpaused(app, celery_app):
    """Whatever a test paused, nothing stays stored and every worker consumes afterwards."""
    yield
    sql(app, "DELETE FROM worker_pauses")
    celery_app.control.add_consumer("requests", reply=True, timeout=1)
    inspection.clear_worker_cache()


def workers(api):
    inspection.clear_worker_cache()
    answer = api.get("/api/workers")
    assert answer.status_code == 200
    return {w["name"]: w for w in answer.get_json()}


def celery_queues(celery_app, name):
    replies = celery_app.control.inspect([name], timeout=1.0).active_queues() or {}
    return [q["name"] for q in replies.get(name, [])]


def restart(stack, name, sig=signal.SIGTERM):
    """Stop the worker process with `sig` and start it again; returns the new process."""
    old = stack.workers[name].pid
    stack.stop_worker(name, sig)
    proc = stack.start_worker(name)
    assert proc.pid != old
    return proc


def still_waiting(app, request_id):
    """The request is pending, and no attempt of it has started."""
    time.sleep(WAIT_S)
    row = fetch(app, request_id)
    assert row["status"] == "pending", row
    assert [a["started_at"] for a in attempts(app, request_id)] == [None]


def test_a_paused_worker_stays_paused_after_a_restart(app, solo, stack, api, celery_app, fresh,
                                                     unpaused):
    """Pause, SIGTERM and start again: it consumes nothing until resumed; then the request runs."""
    assert api.post("/api/workers/worker1@test/pause").status_code == 202
    proc = restart(stack, "worker1")
    assert "worker1@test starts paused" in wait_for(
        lambda: "starts paused" in proc.log() and proc.log(), 10, what="'starts paused' logged")
    assert celery_queues(celery_app, "worker1@test") == []
    seen = workers(api)["worker1@test"]
    assert seen["state"] == "paused" and seen["pid"] == proc.pid
    assert seen["pause"]["by"] == "api-operator" and seen["pause"]["everyone"] is False
    request_id = submit(api, QUICK)
    wait_status(app, request_id, "pending", timeout=30)
    still_waiting(app, request_id)
    resumed = api.post("/api/workers/worker1@test/resume")
    assert resumed.status_code == 202, resumed.get_json()
    assert resumed.get_json()["state"] == "online" and resumed.get_json()["pause"] is None
    assert wait_status(app, request_id, "success", timeout=60)["worker"] == "worker1@test"
    assert celery_queues(celery_app, "worker1@test") == ["requests"]
    assert sql(app, "SELECT * FROM worker_pauses") == []
    restart(stack, "worker1")  # resumed is stored too: the next start consumes
    second = submit(api, QUICK)
    assert wait_status(app, second, "success", timeout=60)["worker"] == "worker1@test"
    outcomes = [(r["action"], r["outcome"], r["username"]) for r in
                audit_rows(app, "worker_pause") + audit_rows(app, "worker_resume")]
    assert outcomes == [("worker_pause", "ok", "api-operator"),
                        ("worker_resume", "ok", "api-operator")]


def test_pause_everything_survives_a_crash_and_a_restart(app, stack, api, celery_app, fresh,
                                                        unpaused):
    """Pause everything; worker1 is killed -9 and started, worker2 is TERMed and started: both
    start paused. Resuming worker2 alone is kept across its next restart; resume everything runs
    the rest."""
    answer = api.post("/api/workers/pause-all")
    assert answer.status_code == 202
    restart(stack, "worker1", signal.SIGKILL)
    restart(stack, "worker2")
    for name in ("worker1@test", "worker2@test"):
        assert celery_queues(celery_app, name) == []
        seen = workers(api)[name]
        assert seen["state"] == "paused" and seen["pause"]["everyone"] is True, seen
    ids = [submit(api, QUICK) for _ in range(3)]
    for request_id in ids:
        wait_status(app, request_id, "pending", timeout=30)
    still_waiting(app, ids[-1])
    assert api.post("/api/workers/worker2@test/resume").status_code == 202
    restart(stack, "worker2")
    for request_id in ids:  # worker2 alone, resumed before its restart, runs them
        assert wait_status(app, request_id, "success", timeout=60)["worker"] == "worker2@test"
    assert celery_queues(celery_app, "worker1@test") == []
    assert workers(api)["worker1@test"]["pause"]["everyone"] is True
    assert workers(api)["worker2@test"]["pause"] is None
    assert api.post("/api/workers/resume-all").status_code == 202
    assert celery_queues(celery_app, "worker1@test") == ["requests"]
    assert sql(app, "SELECT * FROM worker_pauses") == []
    assert [r["outcome"] for r in audit_rows(app, "workers_pause_all")] == ["ok"]
    assert [r["outcome"] for r in audit_rows(app, "workers_resume_all")] == ["ok"]


def test_the_workers_page_shows_the_stored_pause(app, stack, api, make_user, fresh, unpaused):
    """A viewer sees who paused everything and that it is kept across restarts (escaped)."""
    username, password, _ = make_user("viewer")
    viewer = Browserless(app, username, password)
    sql(app, "INSERT INTO worker_pauses (worker, paused, changed_by)"
             " VALUES ('*', true, '<b>mallory</b>')")
    inspection.clear_worker_cache()
    html = viewer.get("/workers").get_data(as_text=True)
    assert "Everything is paused (by &lt;b&gt;mallory&lt;/b&gt;" in html
    assert "<b>mallory</b>" not in html
    rows = {r["attrs"]["data-worker"]: r for r in parse_table(html, "workers")
            if "data-worker" in r["attrs"]}
    for name in ("worker1@test", "worker2@test"):
        assert rows[name]["attrs"]["data-state"] == "online"  # stored only: still consuming
        assert "pause everything by <b>mallory</b>, kept across restarts" in " ".join(
            cell["text"] for cell in rows[name]["cells"])
    assert viewer.action("/workers/worker1@test/resume").status_code == 403
    assert viewer.action("/workers/resume-all").status_code == 403
    assert sql(app, "SELECT changed_by FROM worker_pauses") == [{"changed_by": "<b>mallory</b>"}]


class Forwarder(threading.Thread):
    """A TCP forwarder from a loopback port to PostgreSQL: 'PostgreSQL is back' on demand."""

    def __init__(self, port, target):
        super().__init__(daemon=True)
        self.port, self.target = port, target
        self.server = socket.create_server(("127.0.0.1", port))

    def run(self):
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source, sink):
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    def close(self):
        self.server.close()


def test_a_worker_that_cannot_read_postgresql_starts_paused(app, stack, celery_app, fresh):
    """No answer from PostgreSQL at start: the safe side, not consuming; once PostgreSQL
    answers and stores no pause, the worker consumes by itself."""
    url = make_url(os.environ["DATABASE_URL"])
    port = free_port()
    argv = worker_proc("worker3", concurrency=1).argv
    proc = Proc("worker3", argv, env={
        "DATABASE_URL": url.set(host="127.0.0.1", port=port).render_as_string(
            hide_password=False)}).start()
    forwarder = None
    try:
        wait_online(celery_app, ["worker3@test"], timeout=30)
        wait_for(lambda: "starting paused until it can be read" in proc.log(), 10,
                 what="the unreadable pause logged")
        assert celery_queues(celery_app, "worker3@test") == []
        forwarder = Forwarder(port, (url.host, url.port))
        forwarder.start()
        wait_for(lambda: celery_queues(celery_app, "worker3@test") == ["requests"], 30,
                 interval=0.5, what="worker3 consuming once PostgreSQL answers")
        assert "no stored pause for worker3@test" in proc.log()
    finally:
        proc.stop()
        if forwarder is not None:
            forwarder.close()
