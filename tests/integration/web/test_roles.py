"""Each role against each action, through the JSON API and the pages.

viewer reads everything; operator also submits, retries and kills; admin also manages users.
Unauthenticated API calls get 401 JSON, the wrong role 403 JSON; pages redirect to sign-in or
answer a 403 page. A refused action changes nothing.
"""
import json

import pytest

from tests.support.db import audit_rows, counts, fetch, sql, wait_status
from tests.support.html import Page
from tests.support.http import csrf_token, htmx_token

HANG = json.dumps({"hang": True})
ROLES = ("viewer", "operator", "admin")
ALLOWED = {"viewer": 0, "operator": 1, "admin": 2}


def _submit(api):
    """A request that stays active until killed; returns its id."""
    response = api.post("/api/requests", data={"job_type": "simulate", "params": HANG})
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def _bearer(token):
    """The Authorization header for a token."""
    return {"Authorization": f"Bearer {token}"}


API_READS = ["/api/requests", "/api/requests/{id}", "/api/workers"]
API_ACTIONS = [("/api/requests", "operator"), ("/api/requests/{id}/kill", "operator"),
               ("/api/requests/{id}/retry", "operator"),
               ("/api/requests/retry-failed", "operator")]


def test_api_without_credentials_is_401_json(client, api, clean_db):
    """No token and no session: 401 JSON on every API endpoint, reads and actions alike."""
    request_id = _submit(api)
    for path in API_READS:
        response = client.get(path.format(id=request_id))
        assert response.status_code == 401, path
        assert "authentication required" in response.get_json()["error"]
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    for path, _ in API_ACTIONS:
        response = client.post(path.format(id=request_id), data={"job_type": "simulate"})
        assert response.status_code == 401, path
        assert response.is_json and response.get_json()["error"]
    bad = client.get("/api/requests", headers=_bearer("rq_not-a-real-token"))
    assert bad.status_code == 401
    assert fetch(client.application, request_id)["status"] in ("unassigned", "pending",
                                                               "running")


@pytest.mark.parametrize("role", ROLES)
def test_every_role_reads_the_api(client, api, make_user, role):
    """viewer, operator and admin all list requests, read one and list workers."""
    request_id = _submit(api)
    _, _, token = make_user(role)
    listing = client.get("/api/requests", headers=_bearer(token))
    assert listing.status_code == 200
    assert [r["id"] for r in listing.get_json()["items"]] == [request_id]
    one = client.get(f"/api/requests/{request_id}", headers=_bearer(token))
    assert one.status_code == 200 and one.get_json()["attempts"][0]["number"] == 1
    assert client.get("/api/workers", headers=_bearer(token)).status_code == 200


def test_viewer_is_refused_every_api_action(app, stack, client, api, make_user):
    """A viewer's token gets 403 JSON on submit, kill, retry and bulk retry; nothing changes."""
    request_id = _submit(api)
    _, _, token = make_user("viewer")
    before = wait_status(app, request_id, "running")  # a hang: it stays running unless killed
    for path, role in API_ACTIONS:
        response = client.post(path.format(id=request_id), headers=_bearer(token),
                               data={"job_type": "simulate", "params": "{}"})
        assert response.status_code == 403, path
        assert response.get_json() == {"error": f"forbidden: this needs the {role} role"}
    after = fetch(app, request_id)
    assert (after["status"], after["attempt"]) == (before["status"], before["attempt"])
    assert counts(app)[0] == 1, "the viewer's submission must not be stored"
    refusals = audit_rows(app, "kill") + audit_rows(app, "submit")
    assert any(r["outcome"] == "forbidden" for r in refusals)


@pytest.mark.parametrize("role", ["operator", "admin"])
def test_operator_and_admin_submit_kill_and_retry_via_api(app, client, make_user, role):
    """Operators and admins submit (201), kill (202), retry (202) and bulk-retry (200)."""
    _, _, token = make_user(role)
    headers = _bearer(token)
    created = client.post("/api/requests", headers=headers,
                          data={"job_type": "simulate", "params": HANG})
    assert created.status_code == 201
    request_id = created.get_json()["id"]
    killed = client.post(f"/api/requests/{request_id}/kill", headers=headers)
    assert killed.status_code == 202 and killed.get_json()["status"] == "killed"
    retried = client.post(f"/api/requests/{request_id}/retry", headers=headers)
    assert retried.status_code == 202 and retried.get_json()["attempt"] == 2
    bulk = client.post("/api/requests/retry-failed", headers=headers)
    assert bulk.status_code == 200 and bulk.get_json() == {"retried": 0}


PAGES = {"/": "viewer", "/requests/{id}": "viewer", "/workers": "viewer",
         "/schedules": "viewer", "/requests/new": "operator", "/audit": "operator",
         "/users": "admin"}


@pytest.mark.parametrize("role", ROLES)
def test_pages_by_role(api, signed_in, role):
    """Each page answers 200 to roles that may see it and a 403 page to the others."""
    request_id = _submit(api)
    client, _, _ = signed_in(role)
    for path, needs in PAGES.items():
        response = client.get(path.format(id=request_id))
        if ALLOWED[role] >= ALLOWED[needs]:
            assert response.status_code == 200, (role, path)
        else:
            assert response.status_code == 403, (role, path)
            body = response.get_data(as_text=True)
            assert f"This needs the {needs} role." in body
            assert Page(body).find("header", cls="top"), "a 403 is a page in the dashboard's style"


def test_pages_redirect_to_sign_in_when_signed_out(client, clean_db):
    """Signed out, every page goes to /login?next=... (and the page is not shown)."""
    for path in ("/", "/requests/1", "/workers", "/schedules", "/requests/new", "/audit",
                 "/users"):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response.headers["Location"].startswith("/login?next=")


def test_viewer_sees_no_action_buttons(app, api, signed_in):
    """The list and the request page show a viewer no kill/retry/submit controls."""
    active, killed = _submit(api), _submit(api)
    api.post(f"/api/requests/{killed}/kill")
    viewer, _, _ = signed_in("viewer")
    operator, _, _ = signed_in("operator")
    for path in ("/", f"/requests/{active}", f"/requests/{killed}"):
        seen = Page(viewer.get(path).get_data(as_text=True))
        assert not [a for _, a in seen.tags if "data-action" in a], path
        assert not seen.find("a", href="/requests/new"), path
        assert not [a for t, a in seen.tags if t == "form" and a.get("method") == "post"
                    and "/logout" not in a.get("action", "")], path
    listing = Page(operator.get("/").get_data(as_text=True))
    actions = {a["data-action"] for _, a in listing.tags if "data-action" in a}
    assert {"kill", "retry", "retry-failed"} <= actions
    assert listing.find("a", href="/requests/new")


@pytest.mark.parametrize("role", ROLES)
def test_page_actions_by_role(app, api, signed_in, role):
    """Kill and retry buttons' POSTs: 403 page for viewers (nothing changes), done for others."""
    request_id = _submit(api)
    client, _, _ = signed_in(role)
    token = csrf_token(client.get("/").get_data(as_text=True))
    kill = client.post(f"/requests/{request_id}/kill", data={"csrf_token": token})
    if role == "viewer":
        assert kill.status_code == 403
        assert fetch(app, request_id)["status"] in ("unassigned", "pending", "running")
        assert client.post("/requests/retry-failed", data={"csrf_token": token}).status_code \
            == 403
        submit = client.post("/requests/new", data={"csrf_token": token,
                                                    "job_type": "simulate", "params": "{}"})
        assert submit.status_code == 403
        assert counts(app)[0] == 1
        return
    assert kill.status_code == 303
    assert fetch(app, request_id)["status"] == "killed"
    retry = client.post(f"/requests/{request_id}/retry", data={"csrf_token": token})
    assert retry.status_code == 303 and fetch(app, request_id)["attempt"] == 2
    submit = client.post("/requests/new", data={"csrf_token": token, "job_type": "simulate",
                                                "params": HANG})
    assert submit.status_code == 302 and "/requests/" in submit.headers["Location"]


@pytest.mark.parametrize("role", ["viewer", "operator"])
def test_only_admins_manage_users(app, signed_in, role):
    """User management POSTs answer 403 to viewers and operators and create nothing."""
    client, _, _ = signed_in(role)
    token = csrf_token(client.get("/").get_data(as_text=True))
    response = client.post("/users", data={"csrf_token": token, "username": "mallory",
                                           "role": "admin", "password": "long enough pw"})
    assert response.status_code == 403
    assert "This needs the admin role." in response.get_data(as_text=True)
    assert sql(app, "SELECT id FROM users WHERE username = 'mallory'") == []


def test_session_api_calls_follow_the_same_roles(app, api, signed_in):
    """A signed-in browser may call the API: viewers read (200) but get 403 on a kill."""
    request_id = _submit(api)
    client, _, _ = signed_in("viewer")
    assert client.get(f"/api/requests/{request_id}").status_code == 200
    token = htmx_token(client.get("/").get_data(as_text=True))
    response = client.post(f"/api/requests/{request_id}/kill", headers={"X-CSRFToken": token})
    assert response.status_code == 403 and "operator" in response.get_json()["error"]
