"""Request bodies are capped before anything reads them; params have one size limit.

Against a real gunicorn (one gthread worker, so its RSS is the one that would grow):
eight concurrent 60 MB urlencoded POSTs to /login (not signed in) answer 413 and the
worker's peak RSS stays within 64 MB of where it was (it grew 220-290 MB per request
when the CSRF check parsed the whole body). Uploads up to MAX_UPLOAD_MB still pass.

Through the app (real PostgreSQL): 3 MB of params is a 413 whether sent multipart or
urlencoded (urlencoded answered 201), and params just under the limit are accepted in
both encodings even when percent-encoding triples their size.
"""
import json
import os
import socket
import threading

import pytest

from deploy import stack as procs
from tests.support.db import NOTHING, counts
from tests.support.http import multipart
from tests.support.procs import free_port, Proc, wait_for

MB = 1024 * 1024


def _status_kb(pid, field):
    """A VmRSS/VmHWM line of /proc/<pid>/status, in kB."""
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError(f"no {field} for {pid}")


def _exchange(port, head, chunks):
    """Send a request (header lines, then the body's chunks) over a raw socket; returns
    (status, body of the answer).

    The server may answer, and close, before the body is all sent: sending errors are
    ignored and the answer read anyway.
    """
    sock = socket.create_connection(("127.0.0.1", port), timeout=120)
    try:
        sock.sendall(("\r\n".join([head[0], f"Host: 127.0.0.1:{port}", *head[1:]])
                      + "\r\n\r\n").encode())
        try:
            for chunk in chunks:
                sock.sendall(chunk)
        except OSError:
            pass
        answer = b""
        try:
            while True:
                got = sock.recv(65536)
                if not got:
                    break
                answer += got
                top, _, body = answer.partition(b"\r\n\r\n")
                length = [int(line.split(b":")[1]) for line in top.split(b"\r\n")
                          if line.lower().startswith(b"content-length:")]
                if length and len(body) >= length[0]:
                    break
        except OSError:
            pass
        assert answer.startswith(b"HTTP/"), answer[:200]
        return int(answer.split(b" ", 2)[1]), answer.partition(b"\r\n\r\n")[2]
    finally:
        sock.close()


def _urlencoded_post(port, path, size, chunked=False):
    """POST `size` bytes of urlencoded sign-in form to `path`; returns the status."""
    framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {size}"

    def body():
        block, sent = b"username=x&password=" + b"a" * (MB - 20), 0
        while sent < size:
            data = block[:min(len(block), size - sent)]
            yield b"%x\r\n%s\r\n" % (len(data), data) if chunked else data
            sent += len(data)
            block = b"a" * MB
        if chunked:
            yield b"0\r\n\r\n"
    return _exchange(port, [f"POST {path} HTTP/1.1",
                            "Content-Type: application/x-www-form-urlencoded", framing],
                     body())[0]


@pytest.fixture
def one_worker_web(app, clean_db, monkeypatch):
    """one_worker_web(max_upload_mb or None) -> (port, worker pid): gunicorn with one
    gthread worker (the default MAX_UPLOAD_MB, 64, when None)."""
    started = []

    def start(max_upload_mb=None):
        if max_upload_mb is None:
            monkeypatch.delenv("MAX_UPLOAD_MB", raising=False)
        else:
            monkeypatch.setenv("MAX_UPLOAD_MB", str(max_upload_mb))
        port = free_port()
        proc = Proc("web-caps", procs.web_argv(port, workers=1, threads=8)).start()
        started.append(proc)
        wait_for(lambda: procs.answers(f"http://127.0.0.1:{port}/healthz", timeout=0.5), 30,
                 what="gunicorn answering")
        worker = wait_for(lambda: procs.children(proc.pid)[:1], 10, what="gunicorn worker")[0]
        return port, worker
    yield start
    for proc in started:
        proc.stop()


def test_huge_urlencoded_posts_to_login_are_413_without_being_read(one_worker_web):
    """8 at once, 60 MB each (under the 64 MB upload limit; 6 with Content-Length, 2
    chunked): all 413, and the worker's peak RSS stays within 64 MB."""
    port, worker = one_worker_web()
    for _ in range(3):   # warm the worker: imports, templates, database pool
        assert _urlencoded_post(port, "/login", 64) == 400   # no CSRF token: refused, body read
    before = _status_kb(worker, "VmRSS")
    statuses = [None] * 8

    def send(i):
        statuses[i] = _urlencoded_post(port, "/login", 60 * MB, chunked=i >= 6)
    threads = [threading.Thread(target=send, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(180)
    peak, after = _status_kb(worker, "VmHWM"), _status_kb(worker, "VmRSS")
    seen = f"answers {statuses}; RSS {before} kB, peak {peak} kB, after {after} kB"
    assert statuses == [413] * 8, seen
    assert peak - before < 64 * 1024, seen
    assert after - before < 64 * 1024, seen


def test_uploads_up_to_the_limit_still_pass(one_worker_web, make_user, app):
    """MAX_UPLOAD_MB=4 through gunicorn: a 4 MB file is 201, 5 MB the file's 413."""
    port, _ = one_worker_web(4)
    _, _, token = make_user("operator")
    for size, status in ((4 * MB, 201), (5 * MB, 413)):
        body, content_type = multipart({"job_type": "simulate",
                                        "params": json.dumps({"min_seconds": 0,
                                                              "max_seconds": 0}),
                                        "file": (os.urandom(size), "volume.raw")})
        got, answer = _exchange(port, ["POST /api/requests HTTP/1.1",
                                       f"Authorization: Bearer {token}",
                                       f"Content-Type: {content_type}",
                                       f"Content-Length: {len(body)}"],
                                (body[i:i + MB] for i in range(0, len(body), MB)))
        payload = json.loads(answer)
        assert got == status, (size, payload)
        if status == 201:
            assert payload["filename"] == "volume.raw"
        else:
            assert payload == {"error": "file: the upload is larger than the 4 MB limit"}


@pytest.fixture
def operator(make_user):
    """Bearer headers of an operator."""
    _, _, token = make_user("operator")
    return {"Authorization": f"Bearer {token}"}


def _params_of(size):
    """Valid simulate params of exactly `size` bytes: padded with newlines, which
    percent-encoding triples (%0A)."""
    head = '{"min_seconds": 0, "max_seconds": 0'
    text = head + "\n" * (size - len(head) - 1) + "}"
    assert len(text.encode()) == size
    return text


def _submit(client, headers, params, encoding):
    """POST /api/requests with job_type and params in the given encoding."""
    fields = {"job_type": "simulate", "params": params}
    if encoding == "multipart":
        body, content_type = multipart(fields)
        return client.post("/api/requests", headers=headers, data=body,
                           content_type=content_type)
    from urllib.parse import urlencode
    return client.post("/api/requests", headers=headers, data=urlencode(fields),
                       content_type="application/x-www-form-urlencoded")


@pytest.mark.parametrize("encoding", ["multipart", "urlencoded"])
def test_params_have_one_limit_whatever_the_encoding(app, client, operator, encoding):
    """3 MB and limit+1 bytes: 413 naming params; nothing stored in either encoding."""
    for size in (3 * MB, MB + 1):
        response = _submit(client, operator, _params_of(size), encoding)
        assert response.status_code == 413, (encoding, size, response.get_json())
        assert response.get_json()["error"].startswith("params: larger than the 1024 KB limit"), \
            response.get_json()
    assert counts(app) == NOTHING


@pytest.mark.parametrize("encoding", ["multipart", "urlencoded"])
def test_params_at_the_limit_are_accepted_in_either_encoding(app, client, operator, encoding):
    """Exactly 1 MB of params, nearly all newlines (3 MB urlencoded): the refused params
    above and these differ only in size, not in how they were sent."""
    response = _submit(client, operator, _params_of(MB), encoding)
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["params"]["max_seconds"] == 0


def test_oversized_json_and_form_bodies_elsewhere_are_413(app, client, operator):
    """A JSON body to the submit API and a form body to retry-failed, both past the cap."""
    huge = "x" * (4 * MB)
    response = client.post("/api/requests", headers=operator, data=json.dumps({"p": huge}),
                           content_type="application/json")
    assert response.status_code == 413
    assert response.get_json()["error"] == ("params: larger than the 1024 KB limit (a body"
                                            " without a file may have at most 3136 KB)")
    response = client.post("/api/requests/retry-failed", headers=operator,
                           data=b"job_type=" + huge.encode(),
                           content_type="application/x-www-form-urlencoded")
    assert response.status_code == 413
    assert response.get_json()["error"] == "body: larger than the 3136 KB this page accepts"
    assert counts(app) == NOTHING


def test_params_from_a_json_body_have_the_same_limit(app):
    """Params given as an object (a JSON body's) are measured as their JSON text."""
    from dashboard.errors import Refused
    from dashboard.submission import parse_params
    with app.test_request_context():
        assert parse_params({"max_seconds": 1}) == {"max_seconds": 1}
        with pytest.raises(Refused) as refused:
            parse_params({"x": "é" * (MB // 2)})      # 1 MB of UTF-8, plus the braces
        assert refused.value.status == 413
        assert refused.value.message == "params: larger than the 1024 KB limit"
        with pytest.raises(Refused, match="NaN and Infinity"):
            parse_params({"min_seconds": float("nan")})
