"""The schedules API: create, read, change, delete, run now; bad input 422/409 with nothing stored."""
import json

import pytest
from sqlalchemy import text

from tests.support.db import audit_rows, wait_status
from dashboard.extensions import db

GOOD = {"name": "nightly sim", "job_type": "simulate",
        "params": {"min_seconds": 0, "max_seconds": 0}, "every_s": 3600}


def count(app, table):
    with app.app_context():
        n = db.session.execute(text(f"SELECT count(*) FROM {table}")).scalar()
        db.session.rollback()
        return n


@pytest.fixture
def sched_api(client, make_user):
    """An operator's JSON client for /api/schedules."""
    _, _, token = make_user("operator", username="sched-op")

    class Api:
        headers = {"Authorization": f"Bearer {token}"}

        def call(self, method, path, body=None):
            return client.open(path, method=method, headers=self.headers,
                               data=None if body is None else json.dumps(body),
                               content_type="application/json")
    return Api()


def test_create_lists_and_answers_next_runs(app, sched_api):
    """201 with the stored schedule, its next five fire times, in words; GET lists it."""
    r = sched_api.call("POST", "/api/schedules",
                       {**GOOD, "every_s": None, "cron": "*/15 * * * *",
                        "timezone": "Europe/Paris"})
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert body["name"] == "nightly sim" and body["builtin"] is False
    assert body["cron"] == "*/15 * * * *" and body["every_s"] is None
    assert body["words"].startswith("every 15 minutes")
    assert len(body["next_runs"]) == 5
    minutes = [int(t[14:16]) for t in body["next_runs"]]
    assert all(m % 15 == 0 for m in minutes)
    assert body["created_by"] == "sched-op" and body["last_run_at"] is None
    assert body["params"]["min_seconds"] == 0 and body["params"]["fail_rate"] == 0  # defaults
    listed = sched_api.call("GET", "/api/schedules").get_json()
    mine = [s for s in listed if not s["builtin"]]
    assert [s["name"] for s in mine] == ["nightly sim"]
    builtin = {s["name"] for s in listed if s["builtin"]}
    assert {"auto-retry", "reap-lost-attempts", "compact-status-counts", "retention"} <= builtin
    [entry] = audit_rows(app, "schedule_create")
    assert entry["detail"]["before"] is None and entry["detail"]["after"]["cron"] == "*/15 * * * *"


@pytest.mark.parametrize("change, field, status", [
    ({"cron": "* * * *", "every_s": None}, "cron", 422),
    ({"cron": "61 * * * *", "every_s": None}, "cron", 422),
    ({"cron": "0 25 * * *", "every_s": None}, "cron", 422),
    ({"cron": "0 9 * * *"}, "cron", 422),            # both cron and every_s
    ({"every_s": None}, "cron", 422),                 # neither
    ({"every_s": 4}, "every_s", 422),
    ({"every_s": "often"}, "every_s", 422),
    ({"timezone": "Mars/Olympus"}, "timezone", 422),
    ({"job_type": "nope"}, "job_type", 422),
    ({"job_type": "load_array", "params": {"shape": [1, 1, 1]}}, "job_type", 422),
    ({"params": {"max_seconds": -1}}, "params.max_seconds", 422),
    ({"params": {"bogus": 1}}, "params.bogus", 422),
    ({"params": [1]}, "params", 422),
    ({"catch_up": "twice"}, "catch_up", 422),
    ({"name": ""}, "name", 422),
    ({"colour": "red"}, "colour", 422),
])
def test_bad_input_names_the_field_and_stores_nothing(app, sched_api, change, field, status):
    body = {**GOOD, **change}
    r = sched_api.call("POST", "/api/schedules", body)
    assert r.status_code == status, r.get_json()
    assert r.get_json()["error"].startswith(f"{field}:"), r.get_json()
    assert count(app, "schedules") == 0
    assert audit_rows(app, "schedule_create")[-1]["outcome"] == "refused"


def test_null_timezone_and_catch_up_mean_the_defaults(app, sched_api):
    """`timezone: null` is UTC and `catch_up: null` is skip, as the API description says,
    on create and on change."""
    r = sched_api.call("POST", "/api/schedules", {**GOOD, "timezone": None, "catch_up": None})
    assert r.status_code == 201, r.get_json()
    assert (r.get_json()["timezone"], r.get_json()["catch_up"]) == ("UTC", "skip")
    schedule_id = r.get_json()["id"]
    r = sched_api.call("PATCH", f"/api/schedules/{schedule_id}",
                       {"timezone": "Europe/Paris", "catch_up": "once"})
    assert (r.get_json()["timezone"], r.get_json()["catch_up"]) == ("Europe/Paris", "once")
    r = sched_api.call("PATCH", f"/api/schedules/{schedule_id}",
                       {"timezone": None, "catch_up": None})
    assert r.status_code == 200, r.get_json()
    assert (r.get_json()["timezone"], r.get_json()["catch_up"]) == ("UTC", "skip")


@pytest.mark.parametrize("missing", ["name", "job_type"])
def test_create_needs_its_required_fields(app, sched_api, missing):
    """A POST body without a required field is 422 naming it; nothing stored."""
    body = {k: v for k, v in GOOD.items() if k != missing}
    r = sched_api.call("POST", "/api/schedules", body)
    assert r.status_code == 422 and r.get_json()["error"].startswith(f"{missing}:"), r.get_json()
    assert count(app, "schedules") == 0


def test_duplicate_name_is_409_and_patch_validates_too(app, sched_api):
    first = sched_api.call("POST", "/api/schedules", GOOD).get_json()
    r = sched_api.call("POST", "/api/schedules", {**GOOD, "every_s": 60})
    assert r.status_code == 409 and r.get_json()["error"].startswith("name:")
    assert count(app, "schedules") == 1
    other = sched_api.call("POST", "/api/schedules", {**GOOD, "name": "other"}).get_json()
    r = sched_api.call("PATCH", f"/api/schedules/{other['id']}", {"name": "nightly sim"})
    assert r.status_code == 409
    r = sched_api.call("PATCH", f"/api/schedules/{first['id']}", {"timezone": "Nowhere/Land"})
    assert r.status_code == 422 and r.get_json()["error"].startswith("timezone:")
    assert sched_api.call("GET", f"/api/schedules/{first['id']}").get_json()["timezone"] == "UTC"


def test_patch_changes_audited_with_before_and_after(app, sched_api):
    created = sched_api.call("POST", "/api/schedules", GOOD).get_json()
    r = sched_api.call("PATCH", f"/api/schedules/{created['id']}",
                       {"cron": "0 9 * * 1-5", "timezone": "America/New_York", "enabled": False})
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert (body["cron"], body["every_s"], body["enabled"]) == ("0 9 * * 1-5", None, False)
    assert body["next_runs"] == [] and body["updated_by"] == "sched-op"
    [entry] = audit_rows(app, "schedule_update")
    assert entry["detail"]["before"]["every_s"] == 3600 and entry["detail"]["before"]["enabled"]
    assert entry["detail"]["after"]["cron"] == "0 9 * * 1-5"
    assert entry["username"] == "sched-op"


def test_delete_is_204_and_keeps_the_requests(app, sched_api):
    created = sched_api.call("POST", "/api/schedules", GOOD).get_json()
    made = sched_api.call("POST", f"/api/schedules/{created['id']}/run").get_json()
    assert sched_api.call("DELETE", f"/api/schedules/{created['id']}").status_code == 204
    assert sched_api.call("GET", f"/api/schedules/{created['id']}").status_code == 404
    assert sched_api.call("DELETE", f"/api/schedules/{created['id']}").status_code == 404
    assert sched_api.call("GET", f"/api/requests/{made['id']}").status_code == 200
    [entry] = audit_rows(app, "schedule_delete")
    assert entry["detail"]["before"]["name"] == "nightly sim" and entry["detail"]["after"] is None


def test_run_now_makes_one_manual_request(app, stack, sched_api):
    created = sched_api.call("POST", "/api/schedules", GOOD).get_json()
    r = sched_api.call("POST", f"/api/schedules/{created['id']}/run")
    assert r.status_code == 201, r.get_json()
    made = r.get_json()
    assert made["schedule"] == "nightly sim" and made["scheduled_for"] is None
    assert made["job_type"] == "simulate" and made["params"]["max_seconds"] == 0
    done = wait_status(app, made["id"], ("success", "failure", "timeout", "killed"), timeout=60)
    assert done["status"] == "success", done["error"]
    again = sched_api.call("POST", f"/api/schedules/{created['id']}/run").get_json()
    assert again["id"] != made["id"]  # manual runs take no fire-time slot
    with app.app_context():
        rows = db.session.execute(text(
            "SELECT r.id, a.triggered_by FROM requests r JOIN attempts a ON a.request_id = r.id"
            " WHERE r.schedule_id = :s ORDER BY r.id"), {"s": created["id"]}).all()
        db.session.rollback()
    assert [tuple(r) for r in rows] == [(made["id"], "sched-op"), (again["id"], "sched-op")]
    shown = sched_api.call("GET", f"/api/schedules/{created['id']}").get_json()
    assert shown["last_request_id"] == again["id"] and shown["last_run_at"]
    plain = sched_api.call("GET", f"/api/requests/{made['id']}").get_json()
    assert plain["schedule"] == "nightly sim"


def test_builtin_is_read_only_and_viewer_cannot_change(app, client, sched_api, make_user):
    assert sched_api.call("PATCH", "/api/schedules/auto-retry", {"enabled": False}).status_code \
        == 409
    assert sched_api.call("DELETE", "/api/schedules/retention").status_code == 409
    assert sched_api.call("GET", "/api/schedules/auto-retry").get_json()["builtin"] is True
    _, _, token = make_user("viewer", username="sched-viewer")
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/schedules", headers=headers).status_code == 200
    r = client.post("/api/schedules", headers=headers, data=json.dumps(GOOD),
                    content_type="application/json")
    assert r.status_code == 403
    assert count(app, "schedules") == 0
    [refusal] = audit_rows(app, "schedule_create")
    assert (refusal["outcome"], refusal["username"]) == ("forbidden", "sched-viewer")
    assert client.get("/api/schedules").status_code == 401
