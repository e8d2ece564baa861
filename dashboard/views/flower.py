"""/flower/...: Flower behind the dashboard's sign-in.

Who may do what: every signed-in user may read Flower's pages and its read-only API (viewers
"see everything"); Flower's task table asks for its rows with a POST, which is a read too.
Nothing that changes anything is forwarded to Flower. A change Flower offers that is also a
dashboard worker action is performed here as that action (dashboard.workers.control), so it
needs the same role, is audited as that action and keeps the same bookkeeping and limits:

    POST /flower/api/worker/pool/grow/<worker>?n=k            grow (operator)
    POST /flower/api/worker/pool/shrink/<worker>?n=k          shrink (operator)
    POST /flower/api/worker/queue/cancel-consumer/<worker>?queue=requests   pause (operator)
    POST /flower/api/worker/queue/add-consumer/<worker>?queue=requests      resume (operator)
    POST /flower/api/worker/shutdown/<worker>                 shutdown (admin)

It needs a same-origin browser request (or a bearer token) and answers 200 with Flower's
`{"message": ...}` and the worker, or the action's refusal (403, 404, 409, 422). Every other
change is refused with 403 and the reason: pool restart, autoscale, consumers of other
queues, task rate and time limits, and task apply/send/revoke/abort (requests are submitted
and killed through the dashboard, which records them in PostgreSQL).

The decision is made on the path exactly as it goes to Flower: a path with dot segments
(`.`, `..`, also as `%2E`), an empty segment (`//`), a backslash or an encoded separator
(`%2F`, `%5C`) is refused with 400 before anything else, because an HTTP client or server
on the way would rewrite it into another path than the one checked.

Flower itself listens on a unix socket in a directory only the stack's user can enter
(FLOWER_UPSTREAM `unix:/path/flower.sock`, docs/security.md): no other local user or
process reaches its API; an `http://` upstream is still taken as given.
"""
import re
import socket
import threading
from urllib.parse import quote, unquote, urlsplit

import requests
from flask import Blueprint, Response, abort, current_app, jsonify, redirect, request
from flask_login import current_user
from requests.adapters import HTTPAdapter
from requests_unixsocket import UnixAdapter
from requests_unixsocket.adapters import UnixHTTPConnection, UnixHTTPConnectionPool
from urllib3.util.retry import Retry

from dashboard import audit
from dashboard.extensions import csrf, db, login_manager
from dashboard.views.api.workers import forbidden, worker_action_result
from dashboard.web.auth import bearer, wants_json
from dashboard.workers import control

bp = Blueprint("flower", __name__)
csrf.exempt(bp)  # Flower's own pages cannot send our token: see _same_origin()

HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
              "trailer", "trailers", "transfer-encoding", "upgrade", "proxy-connection"}
NOT_FORWARDED = HOP_BY_HOP | {"host", "cookie", "authorization", "content-length",
                              "x-csrftoken", "x-forwarded-for", "x-forwarded-proto",
                              "x-forwarded-host", "x-real-ip", "forwarded"}
NOT_RETURNED = HOP_BY_HOP | {"content-security-policy", "x-frame-options", "server",
                             "access-control-allow-origin", "access-control-allow-headers",
                             "access-control-allow-methods", "access-control-allow-credentials"}
# Flower's changes that are dashboard worker actions: its route -> the action.
WORKER_ACTIONS = {"pool/grow": "grow", "pool/shrink": "shrink", "shutdown": "shutdown",
                  "queue/cancel-consumer": "pause", "queue/add-consumer": "resume"}
WORKER_WRITE = re.compile(r"^/flower/api/worker/(shutdown|pool/[a-z]+|queue/[a-z-]+)/(.+)$")
# Flower's reads that are POSTs: the task table's rows.
POST_READS = ("/flower/tasks/datatable",)
# Work Flower would do outside the request lifecycle (no row in PostgreSQL).
TASK_CONTROL = re.compile(r"^/flower/api/task/(apply|async-apply|send-task|revoke|abort)(/|$)",
                          re.IGNORECASE)
REFUSALS = {
    "pool/restart": "Restarting a worker's pool is not offered here: restart the worker"
                    " (admin) on the dashboard's Workers page.",
    "pool/autoscale": "A worker's autoscale bounds are set where it is started, not changed"
                      " here: grow or shrink its pool instead.",
    "queue": "The workers consume only the requests queue: pause or resume that one.",
}
ENCODED_SEPARATOR = re.compile(r"%(2f|5c)", re.IGNORECASE)
READ_METHODS = ("GET", "HEAD", "OPTIONS")
# A kept-alive connection that Flower closed meanwhile fails when it is reused: a read is
# sent once more on a fresh connection (a read that timed out too, each try waiting
# FLOWER_TIMEOUT_S); a change (POST) is never sent twice.
RETRY_READS = Retry(total=1, connect=0, read=1, status=0, other=0, redirect=0,
                    allowed_methods=READ_METHODS, raise_on_redirect=False, raise_on_status=False)
_local = threading.local()


class _UnixConnection(UnixHTTPConnection):
    """requests-unixsocket's connection, but its socket is closed when the connect fails
    (Flower stopped, a stale socket file): the library's leaks it until garbage collection."""

    def connect(self):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(self.timeout)
            sock.connect(unquote(urlsplit(self.unix_socket_url).netloc))
        except BaseException:
            sock.close()
            raise
        self.sock = sock


class _UnixPool(UnixHTTPConnectionPool):
    def _new_conn(self):
        return _UnixConnection(self.socket_path, self.timeout)


class _UnixAdapter(UnixAdapter):
    """The library's adapter with the connection above."""

    def get_connection(self, url, proxies=None):
        with self.pools.lock:
            pool = self.pools.get(url)
            if pool is None:
                pool = self.pools[url] = _UnixPool(url, self.timeout)
        return pool


def _session():
    """One connection pool per thread (requests.Session is not shared across threads)."""
    if getattr(_local, "session", None) is None:
        _local.session = requests.Session()
        _local.session.trust_env = False  # never via an HTTP(S)_PROXY: Flower is local
        _local.session.mount("http://", HTTPAdapter(max_retries=RETRY_READS))
        _local.session.mount("http+unix://", _UnixAdapter(max_retries=RETRY_READS))
    return _local.session


def _upstream():
    """(base URL of Flower, where it is, for messages): `unix:/path` becomes http+unix://."""
    upstream = current_app.config["FLOWER_UPSTREAM"].rstrip("/")
    if upstream.startswith("unix:"):
        path = upstream[len("unix:"):]
        return "http+unix://" + quote(path, safe=""), path
    return upstream, urlsplit(upstream).netloc or upstream


def _same_origin():
    """True when a browser sent this from one of our own pages (fetch metadata, Origin, Referer)."""
    site = request.headers.get("Sec-Fetch-Site")
    if site:
        return site == "same-origin"
    ours = request.host_url.rstrip("/")
    origin = request.headers.get("Origin")
    if origin:
        return origin.rstrip("/") == ours
    referer = request.headers.get("Referer", "")
    return referer == ours or referer.startswith(ours + "/")


def _path_problem():
    """Why this path cannot be forwarded as it is (see the module docstring), or None."""
    path = request.path  # percent-decoded by the server
    raw = (request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI") or "")
    if "//" in path or "\\" in path or ENCODED_SEPARATOR.search(raw.partition("?")[0]) \
            or any(segment in (".", "..") for segment in path.split("/")):
        return ("path: dot segments (. and ..), empty segments (//), backslashes and encoded"
                " separators (%2F, %5C) are not allowed")
    return None


def _refused(status, message):
    """A refusal as JSON (Flower's API) or a page."""
    if wants_json():
        return jsonify(error=message), status
    abort(status, description=message)


def _upstream_headers():
    """The browser's headers minus ours (session cookie, token, CSRF) and the hop-by-hop ones."""
    headers = {k: v for k, v in request.headers.items() if k.lower() not in NOT_FORWARDED}
    ours = {current_app.config["SESSION_COOKIE_NAME"],
            current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token")}
    cookies = "; ".join(f"{k}={v}" for k, v in request.cookies.items() if k not in ours)
    if cookies:
        headers["Cookie"] = cookies
    headers["X-Forwarded-For"] = request.remote_addr or ""
    headers["X-Forwarded-Proto"] = request.scheme
    headers["X-Forwarded-Host"] = request.host
    return headers


def _answer(upstream):
    """Flower's answer streamed back as it comes, its own encoding kept."""
    base = _upstream()[0]
    headers = []
    for name, value in upstream.raw.headers.items():
        if name.lower() in NOT_RETURNED:
            continue
        if name.lower() == "location" and value.startswith(base):
            value = value[len(base):] or "/"
        headers.append((name, value))

    def body():
        """The upstream bytes, chunk by chunk; the connection closed at the end."""
        try:
            yield from upstream.raw.stream(64 * 1024, decode_content=False)
        finally:
            upstream.close()

    response = Response(body(), status=upstream.status_code, headers=headers,
                        direct_passthrough=True)
    response.call_on_close(upstream.close)
    return response


@bp.route("/flower", methods=READ_METHODS)
def root():
    """Flower's pages live under /flower/."""
    return redirect("/flower/", 308)


@bp.route("/flower/", defaults={"path": ""}, methods=READ_METHODS + ("POST", "PUT", "DELETE"))
@bp.route("/flower/<path:path>", methods=READ_METHODS + ("POST", "PUT", "DELETE"))
def proxy(path):
    """Forward reads to Flower for signed-in users; changes as dashboard actions, or refused."""
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    problem = _path_problem()
    reading = request.method in READ_METHODS or (request.method == "POST"
                                                 and request.path in POST_READS)
    if problem:
        if not reading:
            _audit_refusal(problem)
        return _refused(400, problem)
    if not reading:
        return _change()
    return _forward()


def _audit_refusal(reason):
    """A change through Flower that was not made, audited with what was asked."""
    audit.record_now("flower", "refused", detail={
        "flower": f"{request.method} {request.path}"[:300], "reason": reason})


def _worker_action():
    """(worker, dashboard action, body) of a Flower change that is one, or (None, refusal)."""
    if request.method != "POST":
        return None, "Only reads go through to Flower; changes are POSTs of its worker API."
    if TASK_CONTROL.match(request.path):
        return None, ("Flower's task apply/send/revoke/abort are off here: submit and kill"
                      " requests through the dashboard so PostgreSQL records them.")
    match = WORKER_WRITE.match(request.path)
    route = match.group(1) if match else None
    if route not in WORKER_ACTIONS:
        return None, REFUSALS.get(route, "This change is not offered through Flower here: use"
                                         " the dashboard's own pages or API.")
    action, body = WORKER_ACTIONS[route], {}
    if action in ("pause", "resume") and request.values.get("queue") != control.QUEUE:
        return None, REFUSALS["queue"]
    if action in ("grow", "shrink") and "n" in request.values:
        n = request.values["n"].strip()
        body["n"] = int(n) if n.isdigit() else n  # anything else is refused by parse_step
    return (match.group(2), action, body), None


def _change():
    """A change asked of Flower: the dashboard's own worker action, or a 403 with the reason."""
    wanted, refusal = _worker_action()
    if refusal:
        _audit_refusal(refusal)
        return _refused(403, refusal)
    name, action, body = wanted
    if bearer() is None and not _same_origin():
        audit.record_now("flower", "cross_site", detail={"origin": request.headers.get(
            "Origin") or request.headers.get("Referer")})
        return _refused(403, "Cross-site request refused.")
    if not current_user.has_role("operator"):
        return jsonify(error=forbidden(f"worker_{action}", {"worker": name}, "operator")), 403
    payload, status = worker_action_result(name, action, body)
    if status >= 400:
        return jsonify(payload), status
    return jsonify(message=f"{name}: {action} done", worker=payload), 200


def _forward():
    """Flower's answer to this read, streamed back."""
    db.session.rollback()  # release the connection's transaction while we wait on Flower
    base, where = _upstream()
    url = base + quote(request.path, safe="/@:!$&'()*+,;=-._~")
    if request.query_string:
        url += "?" + request.query_string.decode("latin-1")
    headers = _upstream_headers()
    if base.startswith("http+unix://"):
        headers["Host"] = "localhost"  # not the socket's path, which requests would send
    timeout = current_app.config["FLOWER_TIMEOUT_S"]
    try:
        upstream = _session().request(
            request.method, url, headers=headers,
            data=request.get_data(cache=False) if request.method == "POST" else None,
            stream=True, allow_redirects=False, timeout=(min(timeout, 5.0), timeout))
    except requests.Timeout:
        return _refused(504, "Flower did not answer in time.")
    except requests.RequestException:
        return _refused(502, f"Flower is not answering (expected on {where}).")
    return _answer(upstream)
