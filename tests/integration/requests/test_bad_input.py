"""Bad input gets a clear 4xx, stores nothing, and never a 500.

Uploads over MAX_UPLOAD_MB -> 413 before anything is stored; a missing or empty file where
the job type needs one -> 422; hostile filenames are stored sanitized and shown escaped;
malformed params -> 422 naming the field; API errors are JSON {"error": ...}, page errors
are pages in the dashboard's style.
"""
import json

import pytest

from tests.support.apps import extra_app
from tests.support.db import NOTHING, counts, sql
from tests.support.html import Page
from tests.support.http import csrf_token, multipart, post_multipart


@pytest.fixture
def operator(client, make_user):
    """Bearer headers of an operator."""
    _, _, token = make_user("operator")
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def small_app(monkeypatch, clean_db):
    """An app whose MAX_UPLOAD_MB is 1 (set as an operator would: in the environment)."""
    monkeypatch.setenv("MAX_UPLOAD_MB", "1")
    with extra_app({"TESTING": True}) as small:
        yield small


def test_upload_over_the_limit_is_413_and_stores_nothing(small_app, make_user):
    """Far over (refused from Content-Length) and just over (refused while reading): 413."""
    _, _, token = make_user("operator")
    headers = {"Authorization": f"Bearer {token}"}
    client = small_app.test_client()
    for size in (3 * 1024 * 1024, 1024 * 1024 + 1):
        response = post_multipart(client, headers, file=(b"\0" * size, "big.raw"))
        assert response.status_code == 413, size
        assert response.get_json() == {"error": "file: the upload is larger than the 1 MB limit"} \
            or response.get_json()["error"].startswith("file: larger than the 1 MB limit")
        assert counts(small_app) == NOTHING
    fits = post_multipart(client, headers, file=(b"\0" * 1024, "ok.raw"))
    assert fits.status_code == 201


def test_upload_over_the_limit_on_the_form_is_a_413_page(small_app, make_user):
    """The submit form answers a styled 413 page naming the limit; nothing stored."""
    username, password, _ = make_user("operator")
    client = small_app.test_client()
    from tests.support.http import sign_in
    sign_in(client, username, password)
    token = csrf_token(client.get("/requests/new").get_data(as_text=True))
    body, content_type = multipart({"csrf_token": token, "job_type": "simulate", "params": "{}",
                                    "file": (b"\0" * (2 * 1024 * 1024), "big.raw")})
    response = client.post("/requests/new", content_type=content_type, data=body)
    assert response.status_code == 413
    body = response.get_data(as_text=True)
    assert "larger than the 1 MB limit" in body and Page(body).find("header", cls="top")
    assert counts(small_app) == NOTHING


@pytest.mark.parametrize("file", [None, (b"", "empty.raw")])
def test_missing_or_empty_file_where_required_is_422(app, client, operator, file):
    """load_array needs a non-empty file: 422 naming `file`, nothing stored."""
    response = post_multipart(client, operator, "load_array", json.dumps({"shape": [1, 1, 1]}),
                              file)
    assert response.status_code == 422
    assert response.get_json()["error"] == "file: job type 'load_array' needs a non-empty file"
    assert counts(app) == NOTHING


HOSTILE_NAMES = [
    ("../../etc/passwd", "passwd"),
    ("C:/Users/me/evil.bin", "evil.bin"),
    ("a\x01b\x1b[31mc\u202egnp.exe", "ab[31mcgnp.exe"),
    ("<img src=x onerror=alert(1)>.bin", "<img src=x onerror=alert(1)>.bin"),
    ("x" * 1000 + ".bin", "x" * 200),
]


@pytest.mark.parametrize("given, shown", HOSTILE_NAMES)
def test_hostile_filenames_are_stored_sanitized_and_shown_escaped(app, client, operator,
                                                                  signed_in, given, shown):
    """Path parts, control/bidi characters and excess length removed; HTML kept as text."""
    response = post_multipart(client, operator, params=json.dumps({"hang": True}),
                              file=(b"payload", given))
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["filename"] == shown
    row = sql(app, "SELECT filename, safe_name, (SELECT string_agg(c.data, ''::bytea ORDER BY"
                   " c.seq) FROM upload_chunks c WHERE c.upload_id = u.id) AS data FROM uploads u")[0]
    assert row["filename"] == shown and bytes(row["data"]) == b"payload"
    assert "/" not in row["safe_name"] and "\\" not in row["safe_name"]
    assert "<" not in row["safe_name"] and len(row["safe_name"]) <= 100
    viewer, _, _ = signed_in("viewer")
    for path in ("/", f"/requests/{body['id']}"):
        html = viewer.get(path).get_data(as_text=True)
        assert not Page(html).find("img", src="x"), path
        assert shown.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") in html


BAD_PARAMS = [
    ("simulate", "{not json", 422, "params: not valid JSON"),
    ("simulate", "[1, 2]", 422, "params: must be a JSON object, not an array"),
    ("simulate", '"text"', 422, "params: must be a JSON object, not a string"),
    ("simulate", "42", 422, "params: must be a JSON object, not a number"),
    ("simulate", "null", 422, "params: must be a JSON object, not null"),
    ("simulate", '{"bogus": 1}', 422, "params.bogus: unknown parameter"),
    ("simulate", '{"min_seconds": -1}', 422, "params.min_seconds:"),
    ("simulate", '{"fail_rate": 2}', 422, "params.fail_rate:"),
    ("simulate", '{"timeout_seconds": 0}', 422, "params.timeout_seconds:"),
    ("simulate", '{"hang": "yes"}', 422, "params.hang:"),
    ("simulate", '{"min_seconds": NaN}', 422, "params.min_seconds: NaN and Infinity"),
    ("simulate", '{"max_seconds": Infinity}', 422, "params.max_seconds:"),
    ("simulate", '{"min_seconds": 1' + "0" * 400 + "}", 422, "params.min_seconds:"),
    ("simulate", '{"min_seconds": 1' + "0" * 5000 + "}", 422, "params: not valid JSON"),
    ("simulate", "[" * 100000 + "]" * 100000, 422, "params: not valid JSON"),
    ("simulate", '{"min_seconds": ' + "[" * 500 + "]" * 500 + "}", 422, "params.min_seconds:"),
    ("simulate", '{"min_seconds": "\\u0000"}', 422, "params.min_seconds:"),
    ("simulate", '{"min_seconds": 5, "max_seconds": 1}', 422, "params.min_seconds:"),
    ("nope", "{}", 422, "job_type: unknown job type 'nope'"),
    ("<script>", "{}", 422, "job_type: unknown job type"),
    ("load_array", "{}", 422, "params.shape: is required"),
    ("load_array", '{"shape": [1, 2]}', 422, "params.shape:"),
    ("load_array", '{"shape": [1, 1, 99999]}', 422, "params.shape.2:"),
    ("load_array", '{"shape": [1, 1, 1], "dtype": "complex"}', 422, "params.dtype:"),
]


def test_bad_params_are_422_naming_the_field(app, client, operator):
    """Each malformed params/job type: the status, a message starting with the field, no rows."""
    for job_type, params, status, message in BAD_PARAMS:
        case = (job_type, params[:60])
        file = (b"\0" * 4, "v.raw") if job_type == "load_array" else None
        response = post_multipart(client, operator, job_type, params, file)
        assert response.status_code == status, case
        assert response.get_json()["error"].startswith(message), (case, response.get_json())
    assert counts(app) == NOTHING


def test_file_size_must_match_the_shape(app, client, operator):
    """load_array refuses a file whose size is not prod(shape) * itemsize, naming `file`."""
    response = post_multipart(client, operator, "load_array", json.dumps({"shape": [2, 2, 2]}),
                              (b"\0" * 7, "v.raw"))
    assert response.status_code == 422 and response.get_json()["error"].startswith("file:")
    assert counts(app) == NOTHING


RAW_API_CALLS = [
    ("POST", "/api/requests", {"data": b"job_type=simu\xff\xfelate&params=%ff%fe",
                               "content_type": "application/x-www-form-urlencoded"}, 400),
    ("POST", "/api/requests", {"json": {"job_type": "simulate"}}, 400),
    ("POST", "/api/requests", {"data": b"job_type=simulate", "content_type": "text/plain"}, 400),
    ("POST", "/api/requests", {}, 400),
    ("POST", "/api/requests", {"data": b"garbage", "content_type":
                               "multipart/form-data; boundary=xyz"}, 400),
    ("POST", "/api/requests", {"data": b"--x\r\nnonsense", "content_type":
                               "multipart/form-data"}, 400),
    ("POST", "/api/requests", {"data": {"params": "{}"}}, 422),
    ("POST", "/api/requests", {"data": {"job_type": ["simulate", "x"], "params": "\x00"}},
     422),
    ("GET", "/api/requests?limit=-1", {}, 422),
    ("GET", "/api/requests?limit=abc", {}, 422),
    ("GET", "/api/requests?limit=%C2%B2", {}, 422),
    ("GET", "/api/requests?limit=99999999999999999999999", {}, 422),
    ("GET", "/api/requests?after=%C2%B2", {}, 422),
    ("GET", "/api/requests?after=1e5", {}, 422),
    ("GET", "/api/requests?status=%00", {}, 422),
    ("GET", "/api/requests?job_type=%ff", {}, 422),
    ("GET", "/api/requests?q=%00%ff", {}, 200),
    ("GET", "/api/requests?q=%C2%B2", {}, 200),
    ("GET", "/api/requests/99999999999999999999999", {}, 404),
    ("GET", "/api/requests/-1", {}, 404),
    ("GET", "/api/requests/abc", {}, 404),
    ("POST", "/api/requests/99999999999999999999999/kill", {}, 404),
    ("POST", "/api/requests/1/retry", {"data": b"\xff" * 100,
                                       "content_type": "application/octet-stream"}, 404),
    ("POST", "/api/requests/retry-failed?job_type=%00", {}, 422),
    ("DELETE", "/api/requests", {}, 405),
    ("GET", "/api/nothing-here", {}, 404),
]


def test_malformed_api_calls_answer_json_errors(app, client, operator):
    """Wrong content types, broken bodies, odd query values: the right 4xx, JSON, no rows."""
    for method, path, kwargs, status in RAW_API_CALLS:
        response = client.open(path, method=method, headers=operator, **kwargs)
        case = (method, path, response.get_data(as_text=True)[:200])
        assert response.status_code == status, case
        if status >= 400:
            body = response.get_json()
            assert set(body) == {"error"} and body["error"], case
        if status == 405:
            assert "POST" in response.headers["Allow"]
    assert counts(app) == NOTHING


RAW_PAGE_CALLS = [
    ("GET", "/?after=%C2%B2"), ("GET", "/?q=%00"), ("GET", "/?status=%00%ff"),
    ("GET", "/?since=%C2%B2-%C2%B2"), ("GET", "/requests/99999999999999999999999"),
    ("GET", "/requests/1?since=x-y"), ("GET", "/no-such-page"), ("GET", "/audit?before=-1"),
    ("POST", "/requests/99999999999999999999999/kill"),
    ("POST", "/requests/99999999999999999999999/retry"),
    ("POST", "/requests/retry-failed"), ("GET", "/artifacts/99999999999999999999999"),
]


def test_odd_page_requests_never_500(app, signed_in):
    """Pages answer 2xx/3xx/4xx (errors as styled pages), never 500."""
    client, _, _ = signed_in("admin")
    token = csrf_token(client.get("/").get_data(as_text=True))
    for method, path in RAW_PAGE_CALLS:
        kwargs = {"data": {"csrf_token": token}} if method == "POST" else {}
        response = client.open(path, method=method, **kwargs)
        assert response.status_code < 500, (path, response.get_data(as_text=True)[:300])
        if response.status_code >= 400:
            assert Page(response.get_data(as_text=True)).find("header", cls="top"), path


def test_form_errors_are_shown_escaped_and_kept(app, signed_in):
    """The submit form's 422: the reason shown as text, the typed params kept, nothing stored."""
    client, _, _ = signed_in("operator")
    token = csrf_token(client.get("/requests/new").get_data(as_text=True))
    params = '{"<img src=x onerror=alert(1)>": 1}'
    response = client.post("/requests/new", data={"csrf_token": token, "job_type": "simulate",
                                                  "params": params})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    page = Page(html)
    assert page.text["form-error"] == "params.<img src=x onerror=alert(1)>: unknown parameter"
    assert page.text["params"] == params
    assert not page.find("img", src="x")
    assert counts(app) == NOTHING


def test_non_utf8_form_on_the_page_is_not_a_500(app, signed_in):
    """A form body that is not UTF-8: a 422 page, not a crash."""
    client, _, _ = signed_in("operator")
    token = csrf_token(client.get("/requests/new").get_data(as_text=True))
    response = client.post("/requests/new", content_type="application/x-www-form-urlencoded",
                           data=f"csrf_token={token}&job_type=%ff%fe&params=%ff".encode())
    assert response.status_code == 422
    assert "job_type: unknown job type" in response.get_data(as_text=True)
    assert counts(app) == NOTHING
