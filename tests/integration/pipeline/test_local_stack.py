"""The whole local stack as `make run` starts it, in a copy of the checkout on a port of its own.

The copy's `.env` comes from the real `python3 deploy/services.py start`, told to use the
test database and broker as existing servers; then `make run WEB_PORT=<free port>` runs
there with its output piped into tee, as `make run | tee run.log` would: nginx on the
public port in front of gunicorn's unix socket, the dispatcher, both workers, beat and
Flower under the copy's own supervisord (its sockets and logs in the copy's var/).
"""
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
import xmlrpc.client

import pytest
import requests
from supervisor.xmlrpc import SupervisorTransport

from deploy import stack as procs
from tests.support.db import audit_rows
from tests.support.env import ROOT
from tests.support.http import Browserless
from tests.support.procs import free_port, wait_for

BARE_ENV = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "LC_ALL", "TZ")}
SYSTEM_PYTHON = shutil.which("python3", path=os.defpath) or sys.executable
KEEP_OUT = shutil.ignore_patterns(".git", ".venv", "var", ".env", "__pycache__", ".pytest_cache",
                                  "node_modules")
PROGRAMS = {"web", "nginx", "dispatcher", "worker1", "worker2", "beat", "flower"}
SPOOFED = "203.0.113.66"


def copy_checkout(root):
    """The tree without var/ and .env; .venv shared; .env from the service manager."""
    shutil.copytree(ROOT, root, ignore=KEEP_OUT)
    os.symlink(os.path.join(ROOT, ".venv"), root / ".venv")
    done = subprocess.run([SYSTEM_PYTHON, "deploy/services.py", "start"], cwd=root,
                          capture_output=True, text=True, timeout=300, env=services_env())
    assert done.returncode == 0, done.stdout + done.stderr


def services_env():
    """Other ports: the test servers count as existing servers, so nothing is started."""
    return {**BARE_ENV, "PG_PORT": "1", "AMQP_PORT": "1",
            "DATABASE_URL": os.environ["TEST_DATABASE_URL"],
            "CELERY_BROKER_URL": os.environ["TEST_BROKER_URL"]}


class MakeRun:
    """`make run WEB_PORT=port | tee run.log` in the copy, in a session of its own (the
    terminal's foreground process group): interrupt() is Ctrl-C, which ends tee too, so
    make's output pipe closes while the stack shuts down."""

    def __init__(self, root, port, env=None):
        self.root, self.port = root, port
        self.url = f"http://127.0.0.1:{port}"
        self.out = open(root / "make-run.out", "wb")
        self.popen = subprocess.Popen(
            # -o: the copy shares this checkout's .venv as it is (never rebuilt from here).
            ["bash", "-c", f"make -o .venv/.stamp run WEB_PORT={port} | tee run.log"],
            cwd=root, env={**services_env(), **(env or {})},
            stdin=subprocess.DEVNULL, stdout=self.out, stderr=subprocess.STDOUT,
            start_new_session=True)

    def output(self):
        return (self.root / "make-run.out").read_text(errors="replace")

    def password(self):
        return (self.root / "var" / "secrets" / "supervisor_password").read_text().strip()

    def call(self, method, *args):
        transport = SupervisorTransport("dashboard", self.password(),
                                        f"unix://{self.root}/var/run/supervisor.sock")
        try:
            proxy = xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport)
            return getattr(proxy.supervisor, method)(*args)
        finally:
            transport.close()

    def states(self):
        try:
            return {p["name"]: p["statename"] for p in self.call("getAllProcessInfo")}
        except (OSError, xmlrpc.client.Error):
            return {}

    def wait_running(self, timeout=240):
        def up():
            assert self.popen.poll() is None, f"make run ended:\n{self.output()}"
            return self.states() == dict.fromkeys(PROGRAMS, "RUNNING")
        wait_for(lambda: up()
                 and procs.answers(f"{self.url}/healthz", timeout=1), timeout, interval=0.5,
                 what=f"every program RUNNING and /healthz through nginx\n{self.output()}")

    def interrupt(self):
        """SIGINT to make's process group, as Ctrl-C in the terminal sends it."""
        os.killpg(self.popen.pid, signal.SIGINT)

    def left(self):
        """Pids of processes still running in the copy (its programs run from there)."""
        found = []
        for entry in os.listdir("/proc"):
            if entry.isdigit() and not procs.gone(int(entry)):
                try:
                    if os.readlink(f"/proc/{entry}/cwd") == str(self.root):
                        found.append(int(entry))
                except OSError:
                    pass
        return found

    def stop(self):
        """Ctrl-C, then whatever is still there is killed (so a failure leaves nothing behind)."""
        if self.popen.poll() is None:
            self.interrupt()
            try:
                self.popen.wait(90)
            except subprocess.TimeoutExpired:
                pass
        for pid in self.left():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(10)
        self.out.close()


@pytest.fixture(scope="module")
def checkout(tmp_path_factory, app):
    root = tmp_path_factory.mktemp("stack") / "checkout"
    copy_checkout(root)
    return root


@pytest.fixture(scope="module")
def running(checkout):
    """The copy's stack, started once for the module (MAX_UPLOAD_MB=5 for the upload caps)."""
    run = MakeRun(checkout, free_port(), env={"MAX_UPLOAD_MB": "5"})
    try:
        run.wait_running()
        yield run
    finally:
        run.stop()


@pytest.fixture
def admin(make_user):
    username, password, token = make_user("admin")
    return username, password, {"Authorization": f"Bearer {token}"}


def test_supervisord_says_nothing_critical(running):
    """The programs run as a stated user and the socket asks for a password: no CRIT line."""
    log = (running.root / "var" / "log" / "supervisord.log").read_text()
    assert "success: web entered RUNNING state" in log
    assert [line for line in log.splitlines() if " CRIT " in line] == []
    body = xmlrpc.client.dumps((), "supervisor.getAllProcessInfo").encode()
    with socket.socket(socket.AF_UNIX) as conn:  # no credentials: refused
        conn.connect(str(running.root / "var" / "run" / "supervisor.sock"))
        conn.sendall(b"POST /RPC2 HTTP/1.0\r\nContent-Type: text/xml\r\n"
                     b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        assert conn.recv(64).split()[1] == b"401"


def test_a_hundred_slowloris_connections_do_not_stop_the_dashboard(running):
    """100 connections that send half a request header and wait: /healthz and /login still
    answer within two seconds each (nginx holds them, not gunicorn's 16 threads)."""
    held = []
    try:
        for _ in range(100):
            conn = socket.create_connection(("127.0.0.1", running.port), timeout=5)
            conn.sendall(b"GET /login HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            held.append(conn)
        time.sleep(1)
        for path in ("/healthz", "/login", "/healthz"):
            started = time.monotonic()
            answer = requests.get(f"{running.url}{path}", timeout=5)
            assert answer.status_code == 200
            assert time.monotonic() - started < 2, f"{path} took {time.monotonic() - started} s"
    finally:
        for conn in held:
            conn.close()


def test_gunicorn_answers_only_through_nginx_and_the_client_address_is_not_spoofed(
        running, app, make_user):
    """gunicorn's socket is its owner's only; an address a client puts in X-Forwarded-For
    is not the one the audit records; the public port is nginx's."""
    mode = os.stat(running.root / "var" / "run" / "web.sock").st_mode
    assert stat.S_ISSOCK(mode) and mode & 0o077 == 0
    answer = requests.get(f"{running.url}/login", timeout=10)
    assert answer.headers.get("Server", "").startswith("nginx")
    session = requests.Session()
    page = session.get(f"{running.url}/login", timeout=10).text
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    session.post(f"{running.url}/login", timeout=10, allow_redirects=False,
                 data={"username": "nobody", "password": "wrong", "csrf_token": token},
                 headers={"X-Forwarded-For": SPOOFED})
    [row] = [r for r in audit_rows(app, "sign_in") if r["outcome"] == "failed"]
    assert row["address"] == "127.0.0.1"


def test_uploads_stream_through_nginx_and_the_app_still_refuses_too_large(running, admin,
                                                                          tmp_path):
    """A 4 MB file goes through to a 201; a 6 MB one gets the app's own 413 (MAX_UPLOAD_MB=5)."""
    for size, status in ((4, 201), (6, 413)):
        path = tmp_path / f"{size}.raw"
        path.write_bytes(os.urandom(size * 1024 * 1024))
        answer = procs.post_file(running.url, admin[2]["Authorization"].split()[1], str(path),
                                 "simulate", '{"hang": false}', timeout=60)
        assert answer.status_code == status, answer.text[:300]
        if status == 413:
            assert "error" in answer.json()


def test_restarting_web_from_the_panel_reloads_it_without_an_outage(running, app, admin,
                                                                     monkeypatch):
    """POST /api/processes/web/restart through the stack it restarts: gunicorn reloads its
    workers (same master, new workers) and no request in between fails; Stop is refused."""
    headers = admin[2]
    before = running.call("getProcessInfo", "web:web")["pid"]
    old_workers = set(procs.children(before))
    assert old_workers
    failures, answered, done = [], [], threading.Event()

    def poll():
        while not done.is_set():
            try:
                status = requests.get(f"{running.url}/healthz", timeout=5).status_code
                (answered if status == 200 else failures).append(status)
            except requests.RequestException as exc:
                failures.append(repr(exc))
            time.sleep(0.02)
    poller = threading.Thread(target=poll)
    poller.start()
    try:
        restarted = requests.post(f"{running.url}/api/processes/web/restart", headers=headers,
                                  timeout=30)
        assert restarted.status_code == 202, restarted.text
        assert restarted.json()["state"] == "RUNNING"
        wait_for(lambda: procs.children(before) and not old_workers & set(procs.children(before)),
                 60, interval=0.2, what="gunicorn's workers replaced")
        time.sleep(1)
    finally:
        done.set()
        poller.join()
    assert failures == [] and len(answered) > 10
    info = running.call("getProcessInfo", "web:web")
    assert (info["statename"], info["pid"]) == ("RUNNING", before)
    for name in ("web", "nginx"):
        stopped = requests.post(f"{running.url}/api/processes/{name}/stop", headers=headers,
                                timeout=30)
        assert stopped.status_code == 409
        assert "serves this dashboard" in stopped.json()["error"]
    assert running.states() == dict.fromkeys(PROGRAMS, "RUNNING")
    assert [r["outcome"] for r in audit_rows(app, "process_restart")] == ["ok"]
    assert [r["outcome"] for r in audit_rows(app, "process_stop")] == ["refused", "refused"]
    # The panel offers no Stop for them, and says why.
    monkeypatch.setitem(app.config, "SUPERVISOR_SOCKET", f"{running.root}/var/run/supervisor.sock")
    monkeypatch.setitem(app.config, "SUPERVISOR_PASSWORD", running.password())
    html = Browserless(app, admin[0], admin[1]).get("/processes").get_data(as_text=True)
    for name in ("web", "nginx"):
        row = re.search(rf'<tr data-process="{name}".*?</tr>', html, re.S).group(0)
        assert "/stop" not in row and re.search(r'data-action="stop" disabled', row)
        assert f"/processes/{name}/restart" in row
    beat = re.search(r'<tr data-process="beat".*?</tr>', html, re.S).group(0)
    assert "/processes/beat/stop" in beat
    assert 'id="serving-note"' in html


def test_ctrl_c_stops_everything_when_the_output_is_piped(checkout, running):
    """`make run | tee run.log`, then Ctrl-C (tee goes, the pipe closes): within a minute
    nothing of the stack is left (supervisord, the programs, their pool processes, nginx's
    workers, make itself)."""
    running.stop()
    assert running.left() == []
    run = MakeRun(checkout, free_port())
    try:
        run.wait_running()
        assert len(run.left()) >= 10
        run.interrupt()
        wait_for(lambda: run.left() == [], 60, interval=0.5,
                 what=f"every process of the stack gone: {run.left()}")
        run.popen.wait(30)
    finally:
        run.stop()
