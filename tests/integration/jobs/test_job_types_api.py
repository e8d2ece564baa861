"""GET /api/job-types and PATCH /api/job-types/<name>: every registered type (the built-in
ones and the example package's) with its declaration, declared and current limits,
requests by status, run times and the workers consuming its queue; an admin's change to
the limits stored in PostgreSQL, audited, and `null` back to the declared value.

Real PostgreSQL, RabbitMQ, dispatcher and prefork workers: the counts and run times are
those of requests that really ran.
"""
import pytest

from tests.support.db import audit_rows, sql, wait_status
from tests.support.http import TokenClient, csrf_token, sign_in, submit


@pytest.fixture
def no_overrides(app):
    """No stored limits before and after the test (they outlive a test otherwise)."""
    sql(app, "DELETE FROM job_type_settings")
    yield
    sql(app, "DELETE FROM job_type_settings")


@pytest.fixture
def admin(app, make_user, no_overrides):
    """An admin's bearer-token client, with patch()."""
    _, _, token = make_user("admin", username="api-admin")
    client = TokenClient(app, token)
    client.patch = lambda path, **kw: client.client.patch(path, headers=client.headers, **kw)
    return client


def _stored(app):
    return sql(app, "SELECT name, priority, max_running, rate_per_min, paused, changed_by"
                    " FROM job_type_settings ORDER BY name")


def test_every_type_with_its_numbers_and_consumers(app, stack, fresh, api, no_overrides):
    """Each registered type is listed with its declaration; the counts and run times are
    those of the requests that ran; the test workers consume the `requests` queue."""
    ids = [submit(api, {"min_seconds": 0, "max_seconds": 0.05}) for _ in range(3)]
    for request_id in ids:
        wait_status(app, request_id, "success", timeout=60)
    stack.stop_dispatcher()
    waiting = submit(api, {"min_seconds": 0, "max_seconds": 0})

    answer = api.get("/api/job-types")
    assert answer.status_code == 200, answer.get_json()
    by_name = {t["name"]: t for t in answer.get_json()}
    assert {"simulate", "load_array", "checksum", "primes"} <= set(by_name)
    assert [t["name"] for t in answer.get_json()] == sorted(by_name)

    simulate = by_name["simulate"]
    assert simulate["title"] and simulate["queue"] == "requests" and simulate["file"] == "optional"
    assert simulate["params"]["properties"]["max_seconds"]["type"] == "number"
    limits = {"priority": 0, "max_running": None, "rate_per_min": None, "paused": False}
    assert simulate["declared"] == limits and simulate["current"] == limits
    assert simulate["counts"]["success"] == 3 and simulate["counts"]["unassigned"] == 1
    assert simulate["counts"]["failure"] == 0 and len(simulate["counts"]) == 7
    assert simulate["run_time_24h"]["count"] == 3
    assert 0 < simulate["run_time_24h"]["p50"] <= simulate["run_time_24h"]["p95"] < 5
    consumers = {w["name"] for w in simulate["workers"]}
    assert any(name.startswith("worker1@") for name in consumers), simulate["workers"]

    checksum = by_name["checksum"]
    assert checksum["file"] == "required" and "SHA-256" in checksum["description"]
    assert checksum["counts"]["success"] == 0 and checksum["run_time_24h"] == {
        "p50": None, "p95": None, "count": 0}

    one = api.get("/api/job-types/simulate")
    assert one.status_code == 200 and one.get_json()["counts"] == simulate["counts"]
    missing = api.get("/api/job-types/nope")
    assert missing.status_code == 404 and missing.get_json()["error"] == \
        "job type 'nope' not found"
    assert wait_status(app, waiting, "unassigned")["status"] == "unassigned"


def test_an_admin_changes_limits_and_null_returns_the_declared_value(app, admin, api):
    """PATCH stores each given key, answers the type with its current limits, and audits
    the change (before -> after); null returns a key to the declared value."""
    answer = admin.patch("/api/job-types/simulate",
                         json={"max_running": 2, "paused": True, "priority": -3})
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert body["name"] == "simulate"
    assert body["current"] == {"priority": -3, "max_running": 2, "rate_per_min": None,
                               "paused": True}
    assert body["declared"] == {"priority": 0, "max_running": None, "rate_per_min": None,
                                "paused": False}
    assert _stored(app) == [{"name": "simulate", "priority": -3, "max_running": 2,
                             "rate_per_min": None, "paused": True, "changed_by": "api-admin"}]
    assert api.get("/api/job-types/simulate").get_json()["current"] == body["current"]
    [entry] = audit_rows(app, "job_type_change")
    assert entry["outcome"] == "ok" and entry["username"] == "api-admin"
    assert entry["detail"]["job_type"] == "simulate"
    assert entry["detail"]["changes"]["max_running"] == {"from": None, "to": 2, "stored": 2}
    assert entry["detail"]["changes"]["paused"] == {"from": False, "to": True, "stored": True}
    assert entry["detail"]["via"].startswith("token")

    # A second change keeps what it does not name; null: the declared value again.
    again = admin.patch("/api/job-types/simulate", json={"max_running": None, "rate_per_min": 0})
    assert again.status_code == 200, again.get_json()
    assert again.get_json()["current"] == {"priority": -3, "max_running": None,
                                           "rate_per_min": 0, "paused": True}
    last = audit_rows(app, "job_type_change")[-1]
    assert last["detail"]["changes"] == {
        "max_running": {"from": 2, "to": None, "stored": None},
        "rate_per_min": {"from": None, "to": 0, "stored": 0}}
    everything_back = admin.patch("/api/job-types/simulate", json={
        "priority": None, "rate_per_min": None, "paused": None})
    assert everything_back.get_json()["current"] == everything_back.get_json()["declared"]


@pytest.mark.parametrize("body, field", [
    ({}, "body"),
    ({"max_running": -1}, "max_running"),
    ({"max_running": True}, "max_running"),
    ({"max_running": 1.5}, "max_running"),
    ({"rate_per_min": "5"}, "rate_per_min"),
    ({"rate_per_min": 2 ** 31}, "rate_per_min"),
    ({"priority": 11}, "priority"),
    ({"priority": -11}, "priority"),
    ({"priority": False}, "priority"),
    ({"paused": "yes"}, "paused"),
    ({"paused": 1}, "paused"),
    ({"max_running": 3, "speed": 1}, "speed"),
])
def test_bad_values_are_refused_naming_the_field(app, admin, body, field):
    """422 naming the field; nothing stored; the refusal audited."""
    answer = admin.patch("/api/job-types/simulate", json=body)
    assert answer.status_code == 422, answer.get_json()
    assert answer.get_json()["error"].startswith(f"{field}: "), answer.get_json()
    assert _stored(app) == []
    [entry] = audit_rows(app, "job_type_change")
    assert entry["outcome"] == "refused" and entry["detail"]["reason"].startswith(f"{field}:")


def test_only_admins_change_limits(app, admin, make_user, signed_in):
    """Viewers and operators get 403 (audited); an unknown type 404; a browser session
    needs its CSRF token."""
    for role in ("viewer", "operator"):
        _, _, token = make_user(role)
        answer = TokenClient(app, token).client.patch(
            "/api/job-types/simulate", json={"paused": True},
            headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 403, answer.get_json()
    assert _stored(app) == []
    assert [r["outcome"] for r in audit_rows(app, "job_type_change")] == ["forbidden"] * 2

    missing = admin.patch("/api/job-types/nope", json={"paused": True})
    assert missing.status_code == 404 and missing.get_json()["error"] == \
        "job type 'nope' not found"

    client, _, _ = signed_in("admin")
    no_token = client.patch("/api/job-types/simulate", json={"paused": True})
    assert no_token.status_code == 400 and _stored(app) == []
    token = csrf_token(client.get("/job-types").get_data(as_text=True))
    done = client.patch("/api/job-types/simulate", json={"paused": True},
                        headers={"X-CSRFToken": token})
    assert done.status_code == 200 and done.get_json()["current"]["paused"] is True
    assert audit_rows(app, "job_type_change")[-1]["detail"]["via"] == "session"


def test_sign_in_is_needed(app, client, no_overrides, make_user):
    """Without a session or token: 401, nothing stored."""
    assert client.get("/api/job-types").status_code == 401
    assert client.patch("/api/job-types/simulate", json={"paused": True}).status_code == 401
    username, password, _ = make_user("viewer")
    sign_in(client, username, password)
    assert client.get("/api/job-types").status_code == 200
    assert _stored(app) == []
