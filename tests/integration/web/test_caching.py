"""No browser or proxy keeps an answer with data in it: `Cache-Control: no-store` on every
page, partial and API answer, over the whole URL map; static files keep their caching.
/flower/ goes to a real Flower, so its own answers are checked too."""
import re

import pytest

from tests.support.db import sql
from tests.support.flower import flower_socket, flower_url  # noqa: F401

# A value for each URL variable of the map (no image or artifact exists: they answer 404).
SAMPLE = {"name": "nobody@nowhere", "action": "pause", "view": "axial", "index": "0",
          "path": "dashboard/", "filename": "app.css", "artifact_id": "1", "user_id": "1",
          "token_id": "1", "rule_id": "1"}
READ_METHODS = {"GET"}


def _url(rule, request_id, schedule_id):
    values = {**SAMPLE, "request_id": str(request_id), "schedule_id": str(schedule_id)}
    return re.sub(r"<(?:[^:<>]+:)?([a-z_]+)>", lambda m: values[m.group(1)], rule)


@pytest.fixture
def seeded(app, clean_db, flower_url, monkeypatch):  # noqa: F811
    """(request id, schedule id) of a finished request and a schedule; /flower/ proxies to
    the test Flower."""
    monkeypatch.setitem(app.config, "FLOWER_UPSTREAM", flower_url)
    request_id = sql(app, "INSERT INTO requests (job_type, status, task_id, finished_at)"
                          " VALUES ('simulate', 'success', gen_random_uuid()::text, now())"
                          " RETURNING id")[0]["id"]
    schedule_id = sql(app, "INSERT INTO schedules (name, job_type, every_s)"
                           " VALUES ('nightly', 'simulate', 60) RETURNING id")[0]["id"]
    return request_id, schedule_id


def test_every_dynamic_read_is_no_store(app, signed_in, seeded):
    """An admin's GET of every route (pages, htmx partials, the API, /flower/) is no-store."""
    client, _, _ = signed_in("admin")
    checked = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint == "static":
            continue
        url = _url(rule.rule, *seeded)
        for headers in ({}, {"HX-Request": "true"}):
            answer = client.get(url, headers=headers)
            assert "no-store" in answer.headers.get("Cache-Control", ""), \
                (url, answer.status_code, answer.headers.get("Cache-Control"))
        checked.append(url)
    flower = client.get("/flower/", follow_redirects=True)  # Flower's own page, proxied
    assert flower.status_code == 200 and flower.headers["Cache-Control"] == "no-store", \
        (flower.status_code, flower.request.path)
    for page in ("/audit", "/schedules", f"/schedules/{seeded[1]}", "/requests/new",
                 f"/requests/{seeded[0]}/rerun", "/flower/", "/api/requests"):
        assert page in checked


def test_every_api_answer_is_no_store(app, client, make_user, seeded):
    """Every API route and method, refused (401 without credentials, 403 for a viewer) or
    answered, and the Flower proxy's writes, are no-store."""
    _, _, token = make_user("viewer")
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(("/api/", "/flower")):
            continue
        url = _url(rule.rule, *seeded)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            for headers in ({}, {"Authorization": f"Bearer {token}"}):
                answer = client.open(url, method=method, headers=headers, json={})
                assert answer.headers.get("Cache-Control") == "no-store", \
                    (method, url, answer.status_code, answer.headers.get("Cache-Control"))


def test_the_sign_in_page_and_errors_are_no_store(client):
    """Signed out too: the sign-in page (its CSRF token) and an unknown page."""
    for url in ("/login", "/no-such-page", "/"):
        assert "no-store" in client.get(url).headers.get("Cache-Control", ""), url


def test_static_files_keep_their_caching(client):
    """The stylesheet is not no-store: the browser keeps it and revalidates it."""
    answer = client.get("/static/app.css")
    assert answer.status_code == 200
    assert "no-store" not in answer.headers.get("Cache-Control", "")
    assert answer.headers.get("ETag") or answer.headers.get("Last-Modified")
    answer.close()
