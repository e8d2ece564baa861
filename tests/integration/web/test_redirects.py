"""`next` never leads off the site: the action forms' and sign-in's (dashboard.web.redirects)."""
from urllib.parse import urljoin, urlsplit

import pytest

from tests.support.db import sql
from tests.support.http import csrf_token, sign_in

OFF_SITE = ["/\t/evil.example/x", "\\\\evil.example/x", "/\\evil.example/x", "//evil.example/x",
            "https://evil.example/x", "/%09/evil.example/x", "/%5C/evil.example/x",
            " //evil.example/x", "\n//evil.example/x", "/\r\n/evil.example/x", "%2F%2Fevil.example",
            "javascript:alert(1)", "evil.example/x", "///evil.example/x"]


def _where_a_browser_goes(location):
    """The host a browser would go to for this Location (tabs and newlines dropped,
    backslashes read as slashes, as browsers do for http URLs)."""
    cleaned = "".join(c for c in location if c not in "\t\n\r").replace("\\", "/")
    return urlsplit(urljoin("http://dashboard.local/requests/1", cleaned)).netloc


@pytest.fixture
def operator(app, make_user):
    """A signed-in operator's client and a finished request it may act on."""
    username, password, _ = make_user("operator")
    client = app.test_client()
    sign_in(client, username, password)
    request_id = sql(app, "INSERT INTO requests (job_type, status, task_id, finished_at)"
                          " VALUES ('simulate', 'success', gen_random_uuid()::text, now())"
                          " RETURNING id")[0]["id"]
    return client, request_id


@pytest.mark.parametrize("target", OFF_SITE)
def test_action_next_stays_on_the_site(operator, target):
    """Retry and kill with an off-site `next` go back to the request's page."""
    client, request_id = operator
    token = csrf_token(client.get(f"/requests/{request_id}").get_data(as_text=True))
    for action in ("retry", "kill"):
        answer = client.post(f"/requests/{request_id}/{action}",
                             data={"next": target, "csrf_token": token})
        assert answer.status_code == 303
        assert _where_a_browser_goes(answer.headers["Location"]) == "dashboard.local"
        assert answer.headers["Location"] == f"/requests/{request_id}", target


@pytest.mark.parametrize("target", OFF_SITE)
def test_bulk_next_stays_on_the_site(operator, target):
    """The list's bulk form with an off-site `next` goes back to the list."""
    client, request_id = operator
    token = csrf_token(client.get("/").get_data(as_text=True))
    answer = client.post("/requests/bulk", data={"action": "kill", "ids": str(request_id),
                                                 "next": target, "csrf_token": token})
    assert answer.status_code == 303
    assert _where_a_browser_goes(answer.headers["Location"]) == "dashboard.local"
    assert answer.headers["Location"] == "/", target


def test_bulk_next_keeps_a_local_path(operator):
    """The bulk form's local `next` (the list with its filter) is followed."""
    client, request_id = operator
    token = csrf_token(client.get("/").get_data(as_text=True))
    answer = client.post("/requests/bulk", data={"action": "retry", "ids": str(request_id),
                                                 "next": "/?status=failure",
                                                 "csrf_token": token})
    assert answer.status_code == 303 and answer.headers["Location"] == "/?status=failure"


def test_action_next_keeps_a_local_path(operator):
    """A local `next` (the list with its filter) is followed."""
    client, request_id = operator
    token = csrf_token(client.get("/").get_data(as_text=True))
    answer = client.post(f"/requests/{request_id}/retry",
                         data={"next": "/?status=failure", "csrf_token": token})
    assert answer.status_code == 303 and answer.headers["Location"] == "/?status=failure"


@pytest.mark.parametrize("target", OFF_SITE)
def test_sign_in_next_stays_on_the_site(client, make_user, target):
    """After signing in, an off-site `next` lands on the requests list."""
    username, password, _ = make_user("viewer")
    token = csrf_token(client.get("/login").get_data(as_text=True))
    answer = client.post("/login", query_string={"next": target},
                         data={"username": username, "password": password, "csrf_token": token})
    assert answer.status_code == 302 and answer.headers["Location"] == "/", target
