"""Workers and beat under a private supervisord (its own config and unix socket in a tmp dir).

Restart under load, the stop timeout, shutdown that stays down, the processes
panel through XML-RPC, and the rolling restart of `make restart-workers`.
One supervisord serves the module (each test starts with every program RUNNING
and reads the logs from its own start). The stack's own workers are stopped
while it runs (they come back after the module), so the supervised sup1@test and
sup2@test take all the work.
"""
import os
import re
import subprocess
import sys
import time
import xmlrpc.client

import pytest

from dashboard.workers import inspection
from tests.support.db import attempts, audit_rows, batches_of, wait_status
from tests.support.env import ROOT
from tests.support.http import TokenClient, submit
from tests.support.procs import wait_for, wait_online
from tests.support.supervisord import Supervisord

STOP_TIMEOUT_S = 8
TERMINAL = ("success", "failure", "timeout", "killed")


@pytest.fixture(scope="module")
def supervised(app, _stack, celery_app, tmp_path_factory):
    """One supervisord for the module: sup1, sup2 (stop timeout 8 s) and beat. The stack's own
    workers stay stopped while it runs, and come back after it."""
    _stack.stop_workers()
    supervisord = Supervisord(tmp_path_factory.mktemp("supervisord"),
                              stop_timeout_s=STOP_TIMEOUT_S).start()
    try:
        yield supervisord
    finally:
        supervisord.stop()
        inspection.clear_worker_cache(forget=True)
        _stack.ensure_workers()


@pytest.fixture
def stack(_stack, clean_db, supervised):
    """Here the supervised workers take the work: only the dispatcher is (re)started."""
    _stack.start_dispatcher()
    yield _stack
    _stack.start_dispatcher()


@pytest.fixture
def sup(app, stack, supervised, monkeypatch, celery_app):
    """The module's supervisord with every program RUNNING, sup1 and sup2 online and consuming,
    the app talking to its socket; its logs read from this test's start on."""
    def running(program):
        """True when RUNNING; a stopped or given-up program is started (STARTING just waits)."""
        state = supervised.state(program)
        if state in ("STOPPED", "EXITED", "FATAL"):
            try:
                supervised.call("startProcess", f"{program}:{program}", False)
            except xmlrpc.client.Fault as fault:
                if "ALREADY_STARTED" not in fault.faultString:
                    raise
        return state == "RUNNING"
    wait_for(lambda: all([running(p) for p in ("sup1", "sup2", "beat")]), 90, interval=0.3,
             what="sup1, sup2 and beat RUNNING")
    wait_online(celery_app, ["sup1@test", "sup2@test"], timeout=90)
    celery_app.control.add_consumer(inspection.QUEUE, destination=["sup1@test", "sup2@test"],
                                    reply=True, timeout=2)  # undo a pause a failed test left
    supervised.mark_logs()
    monkeypatch.setitem(app.config, "SUPERVISOR_SOCKET", supervised.socket)
    monkeypatch.setitem(app.config, "SUPERVISOR_USERNAME", supervised.username)
    monkeypatch.setitem(app.config, "SUPERVISOR_PASSWORD", supervised.password)
    inspection.clear_worker_cache(forget=True)
    yield supervised
    inspection.clear_worker_cache(forget=True)


@pytest.fixture
def admin(app, make_user):
    return TokenClient(app, make_user("admin")[2])


def pid_of(app, name):
    with app.app_context():
        worker = inspection.worker(name)
    return worker["pid"] if worker and worker["state"] != "offline" else None


def received(sup, app, request_id, task_id):
    """How many times a worker took a message of this attempt (both workers' logs): its own
    message, and any batch message it ran in (short requests share one)."""
    needles = [f"dashboard.run_request[{task_id}] received"] + [
        f"dashboard.run_batch[{batch}] received" for batch in set(batches_of(app, request_id))
        if batch]
    return sum(sup.log(w).count(needle) for w in sup.workers for needle in needles)


def test_restart_under_load_loses_nothing_and_runs_nothing_twice(app, sup, api, admin,
                                                                celery_app, capsys):
    """Restart sup1 while it runs a 5 s request and others wait: all succeed, once each."""
    assert api.post("/api/workers/sup2@test/pause").status_code == 202
    long_id = submit(api, {"min_seconds": 5, "max_seconds": 5})
    long_row = wait_status(app, long_id, "running", timeout=60)
    assert long_row["worker"] == "sup1@test"
    assert api.post("/api/workers/sup2@test/resume").status_code == 202
    queued = [submit(api, {"min_seconds": 0.2, "max_seconds": 0.5}) for _ in range(30)]
    old_pid = pid_of(app, "sup1@test")
    restarted = admin.post("/api/workers/sup1@test/restart")
    assert restarted.status_code == 202, restarted.get_json()
    restarts = 1
    ids = [long_id] + queued
    # Each one's end, whatever it is: a lost or failed request is counted below, not waited on.
    rows = {i: wait_status(app, i, TERMINAL, timeout=120) for i in ids}
    wait_for(lambda: (pid_of(app, "sup1@test") or old_pid) != old_pid, 60, interval=0.5,
             what="sup1 back with a new pid")
    assert rows[long_id]["worker"] == "sup1@test"  # it finished where it ran, before the exit
    lost = [i for i in ids if rows[i]["status"] != "success"]
    twice = [i for i in ids
             if len(attempts(app, i)) != 1 or received(sup, app, i, rows[i]["task_id"]) != 1]
    assert "Warm shutdown" in sup.log("sup1") or "graceful restart" in sup.log("sup1")
    assert (lost, twice) == ([], [])
    assert [r["outcome"] for r in audit_rows(app, "worker_restart")] == ["ok"]
    with capsys.disabled():
        print(f"\nrestart under load: requests={len(ids)} restarts={restarts} lost={len(lost)}"
              f" run_twice={len(twice)}")


def test_past_the_stop_timeout_the_task_is_redelivered(app, sup, api, admin):
    """A 14 s request outlives sup1's 8 s stop timeout: killed, redelivered, succeeds on sup2."""
    assert api.post("/api/workers/sup2@test/pause").status_code == 202
    request_id = submit(api, {"min_seconds": 14, "max_seconds": 14})
    row = wait_status(app, request_id, "running", timeout=60)
    assert row["worker"] == "sup1@test"
    assert api.post("/api/workers/sup2@test/resume").status_code == 202
    started = time.monotonic()
    assert admin.post("/api/workers/sup1@test/restart").status_code == 202
    wait_for(lambda: "s) passed: killing pool processes" in sup.log("sup1"), 30, interval=0.2,
             what="sup1 killing its task at the stop timeout")
    assert time.monotonic() - started >= STOP_TIMEOUT_S - 1
    done = wait_status(app, request_id, "success", timeout=90)
    assert done["worker"] == "sup2@test"
    assert [a["number"] for a in attempts(app, request_id)] == [1]
    assert received(sup, app, request_id, row["task_id"]) == 2


def test_shutdown_stays_down_until_started(app, sup, api, admin, celery_app):
    """Shutdown stops the supervisord program (STOPPED, not restarted); start brings it back."""
    answer = admin.post("/api/workers/sup2@test/shutdown")
    assert answer.status_code == 202, answer.get_json()
    wait_for(lambda: sup.state("sup2") == "STOPPED", 60, interval=0.3, what="sup2 STOPPED")
    time.sleep(3)
    assert sup.state("sup2") == "STOPPED"
    assert pid_of(app, "sup2@test") is None
    request_id = submit(api, {"min_seconds": 0, "max_seconds": 0})
    assert wait_status(app, request_id, "success", timeout=60)["worker"] == "sup1@test"
    again = admin.post("/api/processes/sup2/start")
    assert again.status_code == 202, again.get_json()
    wait_online(celery_app, ["sup2@test"], timeout=60)


def test_processes_panel_stops_and_starts_beat(app, sup, admin, make_user):
    """Admins list, stop, start, restart beat through XML-RPC; the page shows it; others refused."""
    listed = {p["name"]: p for p in admin.get("/api/processes").get_json()}
    assert set(listed) == {"sup1", "sup2", "beat"}
    assert listed["beat"]["state"] == "RUNNING" and listed["beat"]["pid"] > 0
    assert listed["beat"]["uptime_s"] >= 0
    stopped = admin.post("/api/processes/beat/stop")
    assert stopped.status_code == 202
    wait_for(lambda: sup.state("beat") == "STOPPED", 30, interval=0.2, what="beat STOPPED")
    assert admin.post("/api/processes/beat/stop").status_code == 409
    from tests.support.http import Browserless
    username, password, _ = make_user("admin")
    page = Browserless(app, username, password)
    html = page.get("/processes").get_data(as_text=True)
    assert re.search(r'data-process="beat" data-state="STOPPED"', html)
    assert page.action("/processes/beat/start").status_code == 204
    wait_for(lambda: sup.state("beat") == "RUNNING", 30, interval=0.2, what="beat RUNNING")
    started = admin.post("/api/processes/beat/start")
    assert started.status_code == 409 and "already" in started.get_json()["error"]
    assert admin.post("/api/processes/nonesuch/start").status_code == 404
    assert admin.post("/api/processes/beat/explode").status_code == 404
    for role in ("viewer", "operator"):
        other = TokenClient(app, make_user(role)[2])
        assert other.get("/api/processes").status_code == 403
        assert other.post("/api/processes/beat/stop").status_code == 403
    assert sup.state("beat") == "RUNNING"
    before = sup.call("getProcessInfo", "beat:beat")["pid"]
    assert admin.post("/api/processes/beat/restart").status_code == 202
    wait_for(lambda: sup.state("beat") == "RUNNING"
             and sup.call("getProcessInfo", "beat:beat")["pid"] != before, 60, interval=0.3,
             what="beat running again with a new pid")
    outcomes = [r["outcome"] for r in audit_rows(app, "process_stop")]
    assert outcomes == ["ok", "refused"]
    assert [r["outcome"] for r in audit_rows(app, "process_start")] == ["ok", "refused", "refused"]


def test_rolling_restart_one_at_a_time(app, sup):
    """`flask workers rolling-restart` (make restart-workers): each worker comes back, in turn."""
    before = {name: pid_of(app, f"{name}@test") for name in ("sup1", "sup2")}
    out = subprocess.run([os.path.join(os.path.dirname(sys.executable), "flask"), "--app", "wsgi",
                          "workers", "rolling-restart", "--timeout", "90"], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    lines = out.stdout.splitlines()
    order = [line.split(":")[0] for line in lines if "back online" in line]
    assert order == ["sup1@test", "sup2@test"], out.stdout
    restart_lines = [i for i, line in enumerate(lines) if "restarting" in line]
    back_lines = [i for i, line in enumerate(lines) if "back online" in line]
    assert restart_lines[0] < back_lines[0] < restart_lines[1] < back_lines[1]
    after = {name: pid_of(app, f"{name}@test") for name in ("sup1", "sup2")}
    assert all(after[n] and after[n] != before[n] for n in before), (before, after)


def test_no_supervisor_answers_503(app, stack, make_user, monkeypatch, tmp_path):
    """No supervisord on the socket: the API says 503 no process supervisor, the page says so."""
    monkeypatch.setitem(app.config, "SUPERVISOR_SOCKET", str(tmp_path / "absent.sock"))
    admin = TokenClient(app, make_user("admin")[2])
    listed = admin.get("/api/processes")
    assert (listed.status_code, listed.get_json()) == (503, {"error": "no process supervisor"})
    assert admin.post("/api/processes/beat/stop").status_code == 503
    from tests.support.http import Browserless
    username, password, _ = make_user("admin")
    html = Browserless(app, username, password).get("/processes").get_data(as_text=True)
    assert 'id="no-supervisor"' in html and "No process supervisor" in html


def test_wrong_credentials_are_named_not_taken_for_no_supervisor(app, sup, admin, make_user,
                                                                monkeypatch):
    """supervisord answers but refuses the password: 503 saying so, on the API and the page."""
    monkeypatch.setitem(app.config, "SUPERVISOR_PASSWORD", "not the password")
    listed = admin.get("/api/processes")
    assert listed.status_code == 503
    assert listed.get_json()["error"].startswith("supervisord refused the dashboard's credentials")
    assert admin.post("/api/processes/beat/stop").status_code == 503
    from tests.support.http import Browserless
    username, password, _ = make_user("admin")
    html = Browserless(app, username, password).get("/processes").get_data(as_text=True)
    assert "refuses the dashboard's" in html and "SUPERVISOR_PASSWORD" in html
    assert "No process supervisor" not in html
    assert sup.state("beat") == "RUNNING"


def test_a_name_with_a_nul_byte_is_no_such_process(app, sup, admin):
    """A NUL byte (or another control character) in a process name is a 404 naming the
    process, not "no process supervisor"; the supervisor still answers afterwards."""
    for name in ("be%00at", "beat%00", "be%07at"):
        for action in ("stop", "start", "restart"):
            answer = admin.post(f"/api/processes/{name}/{action}")
            assert answer.status_code == 404, (name, action, answer.get_json())
            assert answer.get_json()["error"].startswith("no process '")
    assert admin.get("/api/processes").status_code == 200
    assert sup.state("beat") == "RUNNING"
