"""Flask test clients as a user: sign in, CSRF tokens, bearer-token API calls, submitting."""
import json

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
