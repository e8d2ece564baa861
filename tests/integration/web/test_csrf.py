"""CSRF: every state-changing browser request needs the token (form field or htmx header).

A POST without it is refused (400 page, or 400 JSON for a session API call) and changes
nothing; bearer-token API calls need no CSRF token.
"""
import json

from tests.support.db import audit_rows, counts, fetch
from tests.support.html import Page
from tests.support.http import csrf_token, htmx_token

HANG = json.dumps({"hang": True})


def _submit(api):
    """An active request; returns its id."""
    return api.post("/api/requests", data={"job_type": "simulate", "params": HANG}).get_json()["id"]


def test_sign_in_without_token_is_refused(client, make_user):
    """The login form's POST without its token: 400 page, not signed in."""
    username, password, _ = make_user("operator")
    client.get("/login")
    response = client.post("/login", data={"username": username, "password": password})
    assert response.status_code == 400
    body = response.get_data(as_text=True)
    assert "CSRF check failed" in body and Page(body).find("header", cls="top")
    assert client.get("/").status_code == 302, "must still be signed out"


def test_page_actions_without_token_change_nothing(app, api, signed_in):
    """Kill, retry-failed and submit forms without a token: 400 page, no change, audited."""
    request_id = _submit(api)
    client, username, _ = signed_in("operator")
    kill = client.post(f"/requests/{request_id}/kill")
    assert kill.status_code == 400 and "CSRF check failed" in kill.get_data(as_text=True)
    assert fetch(app, request_id)["status"] in ("unassigned", "pending", "running")
    wrong = client.post(f"/requests/{request_id}/kill", data={"csrf_token": "forged"})
    assert wrong.status_code == 400
    assert client.post("/requests/retry-failed").status_code == 400
    submit = client.post("/requests/new", data={"job_type": "simulate", "params": "{}"})
    assert submit.status_code == 400 and counts(app)[0] == 1
    refused = [r for r in audit_rows(app) if r["outcome"] == "csrf_failed"]
    assert {r["action"] for r in refused} >= {"kill", "retry_failed", "submit"}
    assert all(r["username"] == username for r in refused)


def test_form_token_and_htmx_header_are_accepted(app, api, signed_in):
    """With the form field the kill works (303); with htmx's X-CSRFToken header too (204)."""
    first, second = _submit(api), _submit(api)
    client, _, _ = signed_in("operator")
    page = client.get("/").get_data(as_text=True)
    done = client.post(f"/requests/{first}/kill", data={"csrf_token": csrf_token(page)})
    assert done.status_code == 303 and fetch(app, first)["status"] == "killed"
    htmx = client.post(f"/requests/{second}/kill",
                       headers={"HX-Request": "true", "X-CSRFToken": htmx_token(page)})
    assert htmx.status_code == 204 and fetch(app, second)["status"] == "killed"


def test_htmx_post_without_header_is_refused(app, api, signed_in):
    """An htmx POST that lost its header is refused like any other."""
    request_id = _submit(api)
    client, _, _ = signed_in("operator")
    response = client.post(f"/requests/{request_id}/kill", headers={"HX-Request": "true"})
    assert response.status_code == 400
    assert fetch(app, request_id)["status"] != "killed"


def test_every_htmx_post_in_the_pages_sends_the_token(api, signed_in):
    """Every hx-post on the list and request pages sits under <body hx-headers> with a token."""
    request_id = _submit(api)
    client, _, _ = signed_in("operator")
    for path in ("/", f"/requests/{request_id}"):
        page = Page(client.get(path).get_data(as_text=True))
        posts = [a for _, a in page.tags if "hx-post" in a]
        assert posts, path
        headers = json.loads(page.find("body")[0]["hx-headers"])
        assert len(headers["X-CSRFToken"]) > 20
        forms = page.find("form", method="post")
        assert forms and all(
            [a for t, a in page.tags if t == "input" and a.get("name") == "csrf_token"]
            for _ in forms)


def test_session_api_call_needs_the_header(app, api, signed_in):
    """A browser-session API POST without X-CSRFToken: 400 JSON; with it: 202."""
    request_id = _submit(api)
    client, _, _ = signed_in("operator")
    refused = client.post(f"/api/requests/{request_id}/kill")
    assert refused.status_code == 400
    assert refused.get_json()["error"].startswith("CSRF check failed")
    assert fetch(app, request_id)["status"] != "killed"
    token = htmx_token(client.get("/").get_data(as_text=True))
    done = client.post(f"/api/requests/{request_id}/kill", headers={"X-CSRFToken": token})
    assert done.status_code == 202 and done.get_json()["status"] == "killed"


def test_bearer_calls_need_no_csrf_token(app, client, make_user):
    """A script with a token submits and kills without any CSRF token."""
    _, _, token = make_user("operator")
    headers = {"Authorization": f"Bearer {token}"}
    created = client.post("/api/requests", headers=headers,
                          data={"job_type": "simulate", "params": HANG})
    assert created.status_code == 201
    killed = client.post(f"/api/requests/{created.get_json()['id']}/kill", headers=headers)
    assert killed.status_code == 202


def test_bad_bearer_does_not_fall_back_to_the_session(app, api, signed_in):
    """A session cookie plus a wrong token is judged by the token: 401, not a CSRF-free pass."""
    request_id = _submit(api)
    client, _, _ = signed_in("operator")
    response = client.post(f"/api/requests/{request_id}/kill",
                           headers={"Authorization": "Bearer rq_wrong"})
    assert response.status_code == 401
    assert fetch(app, request_id)["status"] != "killed"


def test_sign_out_is_refused_to_other_sites(signed_in):
    """Cross-site GET /logout only asks; POST without token is refused; our button works."""
    client, _, _ = signed_in("viewer")
    ask = client.get("/logout", headers={"Sec-Fetch-Site": "cross-site"})
    assert ask.status_code == 200 and client.get("/").status_code == 200
    assert client.post("/logout").status_code == 400
    assert client.get("/").status_code == 200, "still signed in"
    done = client.post("/logout", data={"csrf_token": csrf_token(ask.get_data(as_text=True))})
    assert done.status_code == 302 and done.headers["Location"] == "/login"
    assert client.get("/").status_code == 302


def test_sign_out_by_typing_the_address(signed_in):
    """GET /logout typed in the address bar (or from a script) signs out."""
    client, _, _ = signed_in("viewer")
    done = client.get("/logout", headers={"Sec-Fetch-Site": "none"})
    assert done.status_code == 302 and client.get("/").status_code == 302
    again, _, _ = signed_in("viewer")
    assert again.get("/logout").status_code == 302 and again.get("/").status_code == 302
