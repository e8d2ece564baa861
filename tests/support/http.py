"""Flask test clients as a user: sign in, CSRF tokens, bearer-token API calls, submitting."""
import io
import json

from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from .html import Page


def csrf_token(html):
    """The CSRF token a page carries in its forms."""
    fields = Page(html).find("input", name="csrf_token")
    assert fields, "the page has no CSRF field"
    return fields[0]["value"]


def htmx_token(html):
    """The CSRF token the base template gives htmx (hx-headers on <body>)."""
    body = Page(html).find("body")[0]
    return json.loads(body["hx-headers"])["X-CSRFToken"]


def sign_in(client, username, password, expect=302):
    """Sign in through the login form (with its CSRF token); returns the response."""
    token = csrf_token(client.get("/login").get_data(as_text=True))
    response = client.post("/login", data={"username": username, "password": password,
                                           "csrf_token": token})
    assert response.status_code == expect, response.get_data(as_text=True)[:500]
    return response


class TokenClient:
    """An API client that calls as one user (bearer token): get(path), post(path, data=...)."""

    def __init__(self, app, token, client=None):
        self.client = client or app.test_client()
        self.headers = {"Authorization": f"Bearer {token}"}

    def get(self, path, **kw):
        return self.client.get(path, headers=self.headers, **kw)

    def post(self, path, **kw):
        return self.client.post(path, headers=self.headers, **kw)


class Browserless:
    """A signed-in browser session without a browser: test client + CSRF token from the pages."""

    def __init__(self, app, username, password):
        self.client = app.test_client()
        sign_in(self.client, username, password)
        self.csrf = csrf_token(self.client.get("/").get_data(as_text=True))

    def get(self, path, **kw):
        return self.client.get(path, **kw)

    def action(self, path, htmx=True, **data):
        """POST a page action as htmx would (X-CSRFToken header) or as a plain form."""
        headers = {"X-CSRFToken": self.csrf, "HX-Request": "true"} if htmx else {}
        if not htmx:
            data["csrf_token"] = self.csrf
        return self.client.post(path, headers=headers, data=data)


def submit(api, params=None, job_type="simulate"):
    """Submit a request through the API; returns its id."""
    response = api.post("/api/requests", data={"job_type": job_type,
                                               "params": json.dumps(params or {})})
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def multipart(fields):
    """(body, content type) of a multipart form; a (bytes, name) value is a file.

    Built here because the test client spools big bodies to a file it never closes.
    """
    data = {k: FileStorage(io.BytesIO(v[0]), filename=v[1], content_type="application/octet-stream")
            if isinstance(v, tuple) else v for k, v in fields.items()}
    boundary, body = encode_multipart(data)
    return body, f"multipart/form-data; boundary={boundary}"


def post_multipart(client, headers, job_type="simulate", params="{}", file=None, **extra):
    """POST /api/requests as multipart; `file` is (bytes, filename)."""
    fields = {"job_type": job_type, "params": params, **extra}
    if file is not None:
        fields["file"] = file
    body, content_type = multipart(fields)
    return client.post("/api/requests", headers=headers, data=body, content_type=content_type)


def logs(api, request_id, **args):
    """One page of a request's log lines from the API (after, limit, level, attempt)."""
    response = api.get(f"/api/requests/{request_id}/logs", query_string=args)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def all_lines(api, request_id, **args):
    """Every line, following the cursor page by page."""
    lines, after = [], 0
    while True:
        page = logs(api, request_id, after=after, limit=1000, **args)
        if not page["items"]:
            return lines
        lines += page["items"]
        after = page["next"]
