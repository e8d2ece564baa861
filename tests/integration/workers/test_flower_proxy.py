"""/flower/...: Flower behind the dashboard's sign-in.

A real Flower process (tests/support/flower.py: a free loopback port, --url_prefix=flower) is
reached only through the proxy: signed out -> sign-in page or 401; signed in -> Flower's
pages, static files and API (its task table's POST too); its task and worker links from the
dashboard work. Nothing that changes anything reaches Flower: its worker changes that are
dashboard actions are performed as those actions (same roles, same audit), with a
same-origin request; every other change is refused with the reason. A small echo server checks what
the proxy forwards and strips.
"""
import configparser
import gc
import http.client
import json
import os
import stat
import subprocess
import threading
import time
import warnings
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from dashboard.web.security import FLOWER_CSP
from tests.support.db import audit_rows, fetch, wait_status
from tests.support.flower import flower_socket, flower_url, flower_web  # noqa: F401
from tests.support.html import Page
from tests.support.procs import free_port, wait_for


@pytest.fixture
def flower(app, flower_url, monkeypatch):
    """The app's FLOWER_UPSTREAM pointed at the test Flower."""
    monkeypatch.setitem(app.config, "FLOWER_UPSTREAM", flower_url)
    return flower_url


SAME_ORIGIN = {"Sec-Fetch-Site": "same-origin"}


def test_flower_is_refused_without_sign_in(client, flower, clean_db):
    """Signed out: pages and static files go to sign-in, Flower's API answers 401 JSON."""
    for path in ("/flower/", "/flower/workers", "/flower/task/abc", "/flower/worker/w@h",
                 "/flower/static/js/flower.js", "/flower/tasks/datatable"):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response.headers["Location"].startswith("/login?next=/flower/")
    api = client.get("/flower/api/workers")
    assert api.status_code == 401 and "authentication required" in api.get_json()["error"]
    post = client.post("/flower/api/worker/shutdown/worker1@test")
    assert post.status_code == 401


def test_signed_in_user_gets_flower_pages_static_and_api(flower, signed_in):
    """A viewer reads Flower's page; every script and stylesheet it names loads through us."""
    client, _, _ = signed_in("viewer")
    assert client.get("/flower").headers["Location"] == "/flower/"
    page = client.get("/flower/")
    assert page.status_code == 200 and page.headers["Content-Security-Policy"] == FLOWER_CSP
    html = page.get_data(as_text=True)
    assert "<title>Workers · Flower</title>" in html, "Flower's own workers page"
    parsed = Page(html)
    assets = [a["src"] for a in parsed.find("script") if a.get("src")] + \
        [a["href"] for a in parsed.find("link") if a.get("rel") == "stylesheet"]
    assert len(assets) >= 5 and all(a.startswith("/flower/static/") for a in assets)
    for asset in assets:
        answer = client.get(asset)
        assert answer.status_code == 200, asset
        assert answer.content_type.split(";")[0] in ("application/javascript", "text/css",
                                                     "text/javascript"), asset
        answer.close()
    workers = client.get("/flower/api/workers")
    assert workers.status_code == 200 and isinstance(workers.get_json(), dict)


def test_task_and_worker_links_work(app, stack, flower, signed_in, api):
    """The request's flower_task_url and its worker link open Flower's task and worker pages."""
    request_id = api.post("/api/requests", data={
        "job_type": "simulate", "params": '{"min_seconds": 0, "max_seconds": 0}'}).get_json()["id"]
    wait_status(app, request_id, "success")
    client, _, _ = signed_in("viewer")
    one = client.get(f"/api/requests/{request_id}").get_json()
    task_url = one["flower_task_url"]
    assert task_url == f"/flower/task/{one['task_id']}"

    def task_page():
        """True once Flower shows the task."""
        answer = client.get(task_url)
        return answer.status_code == 200 and one["task_id"] in answer.get_data(as_text=True)
    wait_for(task_page, 30, 0.3, what="Flower's task page for the request")
    detail = Page(client.get(f"/requests/{request_id}").get_data(as_text=True))
    worker_links = [a["href"] for a in detail.find("a") if "/flower/worker/" in a.get("href", "")]
    assert worker_links, "the request page links to the worker in Flower"

    def worker_page():
        """True once Flower shows the worker."""
        answer = client.get(worker_links[0])
        return answer.status_code == 200 and one["worker"] in answer.get_data(as_text=True)
    wait_for(worker_page, 30, 0.3, what="Flower's worker page")


def celery_pool_size(celery_app, name):
    """Pool processes as the worker's own stats list them."""
    stats = celery_app.control.inspect([name], timeout=1.0).stats() or {}
    return len(stats[name]["pool"]["processes"]) if name in stats else None


def celery_queues(celery_app, name):
    """The queues the worker consumes, as it says itself."""
    replies = celery_app.control.inspect([name], timeout=1.0).active_queues() or {}
    return [q["name"] for q in replies.get(name, [])]


@pytest.fixture
def consuming(celery_app):
    """Whatever a test paused, every worker consumes the requests queue again afterwards."""
    yield
    celery_app.control.add_consumer("requests", reply=True, timeout=1)


def test_flower_worker_changes_are_the_dashboards_actions(app, stack, flower, signed_in,
                                                          celery_app, fresh, consuming):
    """Grow, shrink, cancel/add consumer and shutdown through Flower's API are the dashboard's
    grow, shrink, pause, resume and shutdown: same roles (viewer 403, operator 403 on
    shutdown), same audit entries, the pause stored; the worker really changes (and exits)."""
    viewer, _, _ = signed_in("viewer")
    operator, operator_name, _ = signed_in("operator")
    admin, admin_name, _ = signed_in("admin")
    base = "/flower/api/worker"
    grow, shrink = f"{base}/pool/grow/worker1@test?n=1", f"{base}/pool/shrink/worker1@test?n=1"
    cancel, add = f"{base}/queue/cancel-consumer/worker1@test", \
        f"{base}/queue/add-consumer/worker1@test"
    shutdown = f"{base}/shutdown/worker2@test"
    for path in (grow, shrink, cancel, add, shutdown):
        answer = viewer.post(path, headers=SAME_ORIGIN, data={"queue": "requests"})
        assert answer.status_code == 403, path
        assert "needs the operator role" in answer.get_json()["error"], path
    assert operator.post(grow).status_code == 403, "no origin: not a same-origin request"
    assert operator.post(grow, headers={"Origin": "https://evil.example"}).status_code == 403
    assert operator.post(grow, headers={"Sec-Fetch-Site": "cross-site"}).status_code == 403

    grown = operator.post(grow, headers=SAME_ORIGIN)
    assert grown.status_code == 200, grown.get_json()
    assert grown.get_json()["message"] == "worker1@test: grow done"
    assert grown.get_json()["worker"]["pool_target"] == 3
    wait_for(lambda: celery_pool_size(celery_app, "worker1@test") == 3, 20, 0.5,
             what="3 pool processes")
    too_far = operator.post(f"{base}/pool/grow/worker1@test?n=500", headers=SAME_ORIGIN)
    assert too_far.status_code == 422 and too_far.get_json()["error"].startswith("n:")
    shrunk = operator.post(shrink, headers={"Origin": "http://localhost"})
    assert shrunk.status_code == 200, shrunk.get_json()
    wait_for(lambda: celery_pool_size(celery_app, "worker1@test") == 2, 20, 0.5,
             what="2 pool processes")

    paused = operator.post(cancel, headers=SAME_ORIGIN, data={"workername": "worker1@test",
                                                                "queue": "requests"})
    assert paused.status_code == 200, paused.get_json()
    assert celery_queues(celery_app, "worker1@test") == []
    listed = {w["name"]: w for w in operator.get("/api/workers").get_json()}
    assert listed["worker1@test"]["pause"]["by"] == operator_name, "the pause is stored"
    again = operator.post(cancel + "?queue=requests", headers=SAME_ORIGIN)
    assert again.status_code == 409 and "already paused" in again.get_json()["error"]
    resumed = operator.post(add + "?queue=requests", headers=SAME_ORIGIN)
    assert resumed.status_code == 200, resumed.get_json()
    assert celery_queues(celery_app, "worker1@test") == ["requests"]

    refused = operator.post(shutdown, headers=SAME_ORIGIN)
    assert refused.status_code == 403 and "admin" in refused.get_json()["error"]
    assert stack.workers["worker2"].alive()
    done = admin.post(shutdown, headers=SAME_ORIGIN)
    assert done.status_code == 200, done.get_json()
    wait_for(lambda: not stack.workers["worker2"].alive(), 60, 0.2, what="worker2 exiting")

    def outcomes(action):
        return [(r["outcome"], r["username"]) for r in audit_rows(app, action)]
    assert outcomes("worker_grow") == [("forbidden", _viewer_name(app)), ("ok", operator_name),
                                       ("refused", operator_name)]
    assert outcomes("worker_shrink")[-1] == ("ok", operator_name)
    assert outcomes("worker_pause")[-2:] == [("ok", operator_name), ("refused", operator_name)]
    assert outcomes("worker_resume")[-1] == ("ok", operator_name)
    assert outcomes("worker_shutdown")[-2:] == [("forbidden", operator_name), ("ok", admin_name)]
    shut = audit_rows(app, "worker_shutdown")[-1]
    assert shut["detail"]["http"] == "POST /flower/api/worker/shutdown/worker2@test"
    assert ("cross_site", operator_name) in outcomes("flower")


def _viewer_name(app):
    """The one viewer the test above signed in."""
    return next(r["username"] for r in audit_rows(app, "worker_grow")
                if r["outcome"] == "forbidden")


def test_other_changes_through_flower_are_refused(app, stack, flower, signed_in, celery_app,
                                                  fresh):
    """Pool restart, autoscale, other queues' consumers, task rate and time limits, PUT and
    DELETE: 403 with the reason even for an admin, audited; the worker is unchanged."""
    admin, username, _ = signed_in("admin")
    refusals = {
        "/flower/api/worker/pool/restart/worker1@test": "restart the worker",
        "/flower/api/worker/pool/autoscale/worker1@test?min=1&max=64": "autoscale",
        "/flower/api/worker/queue/cancel-consumer/worker1@test?queue=celery": "requests queue",
        "/flower/api/worker/queue/add-consumer/worker1@test?queue=other": "requests queue",
        "/flower/api/worker/queue/cancel-consumer/worker1@test": "requests queue",
        "/flower/api/task/rate-limit/dashboard.run_request?workername=worker1@test"
        "&ratelimit=1/h": "not offered through Flower",
        "/flower/api/task/timeout/dashboard.run_request?workername=worker1@test"
        "&soft=1": "not offered through Flower",
        "/flower/api/worker/Shutdown/worker1@test": "not offered through Flower",
        "/flower/workers": "not offered through Flower",
    }
    for path, reason in refusals.items():
        answer = admin.post(path, headers=SAME_ORIGIN)
        assert answer.status_code == 403, path
        assert reason in answer.get_data(as_text=True), (path, answer.get_data(as_text=True))
    for method in (admin.put, admin.delete):
        answer = method("/flower/api/worker/shutdown/worker1@test", headers=SAME_ORIGIN)
        assert answer.status_code == 403 and "Only reads" in answer.get_json()["error"]
    assert celery_pool_size(celery_app, "worker1@test") == 2
    assert celery_queues(celery_app, "worker1@test") == ["requests"]
    rows = audit_rows(app, "flower")
    assert len(rows) == len(refusals) + 2
    assert {(r["outcome"], r["username"]) for r in rows} == {("refused", username)}
    assert all(r["detail"]["reason"] for r in rows)


def test_task_control_outside_the_dashboard_is_blocked(flower, signed_in):
    """Flower's apply/send/revoke endpoints are refused even to admins (403 JSON)."""
    admin, _, _ = signed_in("admin")
    for path in ("/flower/api/task/async-apply/dashboard.run", "/flower/api/task/send-task/x",
                 "/flower/api/task/apply/x", "/flower/api/task/revoke/abc",
                 "/flower/api/task/abort/abc"):
        answer = admin.post(path, headers=SAME_ORIGIN)
        assert answer.status_code == 403, path
        assert "through the dashboard" in answer.get_json()["error"]


def _tcp_listeners(pid):
    """The TCP sockets process `pid` listens on (from /proc)."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    listening = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as fh:
            for line in fh.readlines()[1:]:
                fields = line.split()
                if fields[3] == "0A" and fields[9] in inodes:  # LISTEN
                    listening.append(fields[1])
    return listening


ANOTHER_USER = """
import socket, sys
try:
    sock = socket.socket(socket.AF_UNIX)
    sock.connect(sys.argv[1])
    sock.sendall(b"POST /flower/api/worker/shutdown/worker1@test HTTP/1.0\\r\\n"
                 b"Host: localhost\\r\\nContent-Length: 0\\r\\n\\r\\n")
    print(sock.recv(100))
except OSError as exc:
    print(type(exc).__name__)
"""


def test_only_the_dashboard_reaches_flower(app, stack, flower_socket, flower, signed_in,
                                           celery_app):
    """Flower listens on no TCP port (nothing on loopback to send a shutdown to), its socket's
    directory is the stack user's alone (another user's connect is refused), and the
    stack's configuration starts it so; through the dashboard its pages and API answer."""
    proc, path = flower_socket
    assert _tcp_listeners(proc.pid) == []
    assert stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode) == 0o700
    if os.geteuid() == 0:
        other = subprocess.run(["/usr/bin/python3", "-c", ANOTHER_USER, path], user=65534,
                               group=65534, extra_groups=[], capture_output=True, text=True,
                               timeout=30, cwd="/")
        assert other.stdout.strip() == "PermissionError", other.stdout + other.stderr
    viewer, _, _ = signed_in("viewer")
    assert viewer.get("/flower/").status_code == 200
    assert viewer.get("/flower/api/workers").status_code == 200
    assert celery_app.control.ping(["worker1@test"], timeout=2.0), "worker1 still runs"
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__)))))
    for conf, socket_path in (
            ("deploy/supervisord.conf", '"$PWD/var/run/flower/flower.sock"'),
            ("deploy/conf.d/flower.conf", "/srv/dashboard/var/run/flower/flower.sock")):
        parser = configparser.RawConfigParser()
        parser.read(os.path.join(root, conf))
        command = parser["program:flower"]["command"]
        assert f"--unix_socket={socket_path}" in command, conf
        assert "chmod 700 var/run/flower" in command and "--port" not in command, conf
    from dashboard import config
    assert config.load()["FLOWER_UPSTREAM"] == "unix:" + os.path.join(
        root, "var", "run", "flower", "flower.sock")


def test_flower_down_is_a_502(app, signed_in, monkeypatch, clean_db):
    """Flower not answering: a 502 page (or JSON for its API), not a 500."""
    monkeypatch.setitem(app.config, "FLOWER_UPSTREAM", f"http://127.0.0.1:{free_port()}")
    client, _, _ = signed_in("viewer")
    page = client.get("/flower/")
    assert page.status_code == 502
    assert "Flower is not answering" in page.get_data(as_text=True)
    api = client.get("/flower/api/workers")
    assert api.status_code == 502 and api.get_json()["error"].startswith("Flower is not")
    monkeypatch.setitem(app.config, "FLOWER_UPSTREAM", "unix:/nonexistent/flower.sock")
    gone = client.get("/flower/api/workers")
    assert gone.status_code == 502
    assert gone.get_json()["error"] == ("Flower is not answering (expected on"
                                        " /nonexistent/flower.sock).")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        gc.collect()
    assert not [w for w in caught if "socket" in str(w.message)], "no socket left open"


class _Echo(BaseHTTPRequestHandler):
    """Answers with what it received, plus headers a proxy must strip or rewrite."""

    def _answer(self):
        """One JSON answer describing the request."""
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("latin-1") if length else ""
        payload = json.dumps({"method": self.command, "path": self.path, "body": body,
                              "headers": dict(self.headers.items())}).encode()
        self.send_response(302 if self.path.startswith("/flower/go") else 200)
        if self.path.startswith("/flower/go"):
            self.send_header("Location", f"http://127.0.0.1:{self.server.server_port}/flower/x")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Keep-Alive", "timeout=5")
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("X-Frame-Options", "ALLOWALL")
        self.send_header("Set-Cookie", "_xsrf=abc; Path=/")
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = _answer

    def log_message(self, *args):
        """Quiet."""


@pytest.fixture
def echo(app, monkeypatch):
    """An echo server as FLOWER_UPSTREAM."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setitem(app.config, "FLOWER_UPSTREAM", f"http://127.0.0.1:{server.server_port}")
    yield server
    server.shutdown()
    server.server_close()


def test_proxy_forwards_path_query_body_and_strips_our_credentials(echo, signed_in):
    """Path and query as sent, body and method forwarded; session cookie, token, CSRF not."""
    client, _, token = signed_in("operator")
    client.set_cookie("_xsrf", "flower-cookie")
    answer = client.post("/flower/tasks/datatable?n=2&x=%2F",
                         data=b"a=1&b=2", content_type="application/x-www-form-urlencoded",
                         headers={**SAME_ORIGIN, "X-CSRFToken": "secret", "Connection": "close"})
    seen = answer.get_json()
    assert (seen["method"], seen["path"], seen["body"]) == (
        "POST", "/flower/tasks/datatable?n=2&x=%2F", "a=1&b=2")
    got = client.get("/flower/api/worker/w%40h?n=2")
    assert got.get_json()["path"] == "/flower/api/worker/w@h?n=2"
    headers = {k.lower(): v for k, v in seen["headers"].items()}
    assert headers["cookie"] == "_xsrf=flower-cookie"
    assert "authorization" not in headers and "x-csrftoken" not in headers
    assert headers["x-forwarded-for"] == "127.0.0.1" and headers["x-forwarded-proto"] == "http"
    bearer = client.get("/flower/api/x", headers={"Authorization": f"Bearer {token}"})
    assert "authorization" not in {k.lower() for k in bearer.get_json()["headers"]}


def test_proxy_cleans_the_answer(echo, signed_in):
    """Hop-by-hop and CORS headers dropped, our CSP/framing rules applied, redirects local."""
    client, _, _ = signed_in("viewer")
    answer = client.get("/flower/anything")
    assert answer.status_code == 200
    assert "Keep-Alive" not in answer.headers
    assert "Access-Control-Allow-Origin" not in answer.headers
    assert answer.headers["X-Frame-Options"] == "DENY"
    assert answer.headers["Content-Security-Policy"] == FLOWER_CSP
    assert "_xsrf=abc" in answer.headers["Set-Cookie"]
    moved = client.get("/flower/go")
    assert moved.status_code == 302 and moved.headers["Location"] == "/flower/x"


def _raw(base_url, method, path, token):
    """One request with the path sent byte for byte as given (no client normalises it)."""
    host, port = base_url.split("//", 1)[1].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        conn.putheader("Authorization", f"Bearer {token}")
        conn.putheader("Content-Length", "0")
        conn.endheaders()
        answer = conn.getresponse()
        return answer.status, answer.read().decode("utf-8", "replace")
    finally:
        conn.close()


def test_task_control_cannot_be_reached_by_rewriting_the_path(app, flower_web, stack, api,
                                                              make_user):
    """Dot segments, %2E, //, encoded slashes: 400 (or 403), and the running request that a
    walked-around revoke would have terminated through Flower keeps running."""
    _, _, token = make_user("admin")
    request_id = api.post("/api/requests", data={
        "job_type": "simulate", "params": json.dumps({"hang": True})}).get_json()["id"]
    task_id = wait_status(app, request_id, "running")["task_id"]
    kill = f"{task_id}?terminate=true&signal=SIGKILL"
    variants = [
        f"/flower/api/task/./revoke/{kill}",
        f"/flower/api/task/%2E/revoke/{kill}",
        f"/flower/api/task/%2e/revoke/{kill}",
        f"/flower/api/task/x/%2e%2e/revoke/{kill}",
        f"/flower/api/task/x/../revoke/{kill}",
        f"/flower/api/x/../task/revoke/{kill}",
        f"/flower/./api/task/revoke/{kill}",
        f"/flower/api/task//revoke/{kill}",
        f"/flower/api//task/revoke/{kill}",
        f"/flower/api/task%2Frevoke/{kill}",
        f"/flower/api/task%2frevoke/{kill}",
        f"/flower/api/task/%5C../revoke/{kill}",
        f"/flower/api/task/REVOKE/{kill}",
        f"/flower/api/task/revoke/./{kill}",
        "/flower/api/task/./apply/dashboard.run_request",
        "/flower/api/task/%2E/async-apply/dashboard.run_request",
        "/flower/api/task/x/../send-task/dashboard.run_request",
    ]
    for path in variants:
        status, body = _raw(flower_web, "POST", path, token)
        assert status in (400, 403), (path, status, body[:200])
        assert "are not allowed" in body or "through the dashboard" in body, (path, body[:300])
    time.sleep(1.0)
    row = fetch(app, request_id)
    assert row["status"] == "running" and row["task_id"] == task_id, row["error"]
    status, body = _raw(flower_web, "GET", "/flower/api/task/./info/x", token)
    assert status == 400 and "dot segments" in json.loads(body)["error"]
