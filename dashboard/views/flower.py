"""/flower/...: Flower (listening on loopback only) behind the dashboard's sign-in.

Who may do what: every signed-in user may read Flower's pages and its read-only API (viewers
"see everything"); changing anything through Flower (POST: pool grow/shrink, shutdown,
rate limits) needs the operator role and a same-origin browser request (or a bearer token).
Flower's task apply/send/revoke/abort endpoints are refused for everyone: requests are
submitted and killed through the dashboard, which records them in PostgreSQL.

The refusal is decided on the path exactly as it goes to Flower: a path with dot segments
(`.`, `..`, also as `%2E`), an empty segment (`//`), a backslash or an encoded separator
(`%2F`, `%5C`) is refused with 400 before anything else, because an HTTP client or server
on the way would rewrite it into another path than the one checked.
"""
import re
import threading
from urllib.parse import quote, urlsplit

import requests
from flask import Blueprint, Response, abort, current_app, jsonify, redirect, request
from flask_login import current_user
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from dashboard import audit
from dashboard.extensions import csrf, db, login_manager
from dashboard.web.auth import bearer, refuse, wants_json

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
# Work Flower would do outside the request lifecycle (no row in PostgreSQL): not through here.
BLOCKED = re.compile(r"^/flower/api/task/(apply|async-apply|send-task|revoke|abort)(/|$)",
                     re.IGNORECASE)
ENCODED_SEPARATOR = re.compile(r"%(2f|5c)", re.IGNORECASE)
READ_METHODS = ("GET", "HEAD", "OPTIONS")
# A kept-alive connection that Flower closed meanwhile fails when it is reused: a read is
# sent once more on a fresh connection (a read that timed out too, each try waiting
# FLOWER_TIMEOUT_S); a change (POST) is never sent twice.
RETRY_READS = Retry(total=1, connect=0, read=1, status=0, other=0, redirect=0,
                    allowed_methods=READ_METHODS, raise_on_redirect=False, raise_on_status=False)
_local = threading.local()


def _session():
    """One connection pool per thread (requests.Session is not shared across threads)."""
    if getattr(_local, "session", None) is None:
        _local.session = requests.Session()
        _local.session.trust_env = False  # never via an HTTP(S)_PROXY: Flower is on loopback
        _local.session.mount("http://", HTTPAdapter(max_retries=RETRY_READS))
    return _local.session


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
    base = current_app.config["FLOWER_UPSTREAM"].rstrip("/")
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
    """Forward to Flower for signed-in users; changes need an operator."""
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    problem = _path_problem()
    if problem:
        if request.method not in READ_METHODS:
            audit.record_now("flower", "refused", detail={"flower": f"{request.method} "
                                                                    f"{request.path}"[:300]})
        return _refused(400, problem)
    if BLOCKED.match(request.path):
        return _refused(403, "Flower's task apply/send/revoke/abort are off here: submit and"
                             " kill requests through the dashboard so PostgreSQL records them.")
    changing = request.method not in READ_METHODS
    if changing:
        if not current_user.has_role("operator"):
            return refuse("operator")
        if bearer() is None and not _same_origin():
            audit.record_now("flower", "cross_site", detail={"origin": request.headers.get(
                "Origin") or request.headers.get("Referer")})
            return _refused(403, "Cross-site request refused.")
    db.session.rollback()  # release the connection's transaction while we wait on Flower
    base = current_app.config["FLOWER_UPSTREAM"].rstrip("/")
    url = base + quote(request.path, safe="/@:!$&'()*+,;=-._~")
    if request.query_string:
        url += "?" + request.query_string.decode("latin-1")
    timeout = current_app.config["FLOWER_TIMEOUT_S"]
    try:
        upstream = _session().request(
            request.method, url, headers=_upstream_headers(),
            data=request.get_data(cache=False) if changing else None,
            stream=True, allow_redirects=False, timeout=(min(timeout, 5.0), timeout))
    except requests.Timeout:
        return _refused(504, "Flower did not answer in time.")
    except requests.RequestException:
        where = urlsplit(base).netloc or base
        return _refused(502, f"Flower is not answering (expected on {where}).")
    if changing:
        audit.record_now("flower", str(upstream.status_code),
                         detail={"flower": f"{request.method} {request.path}"[:300]})
    return _answer(upstream)
