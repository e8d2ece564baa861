"""/api/alerts: admins create, change and delete rules, operators acknowledge, viewers read;
bad input answers 422 naming the field with nothing stored; the secret never comes back."""
from datetime import datetime, timedelta, timezone

import pytest

from tests.integration.alerts.conftest import alert_rows
from tests.support.db import audit_rows

GOOD = {"name": "worker gone", "kind": "worker_offline",
        "params": {"worker": None, "for_s": 30}, "emails": ["ops@example.org"],
        "webhook_url": "https://hooks.example.org/x", "webhook_secret": "s3cret",
        "enabled": True}


@pytest.fixture
def admin(as_role):
    return as_role("admin")


def test_create_answers_201_with_state_and_no_secret(app, admin):
    """201, Location, state ok and since; the secret is neither answered nor listed in clear."""
    r = admin.call("POST", "/api/alerts", GOOD)
    assert r.status_code == 201, r.get_json()
    rule = r.get_json()
    assert r.headers["Location"].endswith(f"/api/alerts/{rule['id']}")
    assert rule["state"] == "ok" and rule["since"]
    assert rule["webhook_secret"] is None and rule["webhook_secret_set"] is True
    assert rule["params"] == {"worker": None, "for_s": 30.0}
    listed = admin.call("GET", "/api/alerts")
    assert listed.status_code == 200 and "s3cret" not in listed.get_data(as_text=True)
    assert [x["name"] for x in listed.get_json()] == ["worker gone"]
    assert audit_rows(app, "alert_create")[-1]["outcome"] == "ok"


@pytest.mark.parametrize("change, field", [
    ({"kind": "cpu_hot"}, "kind"),
    ({"params": {"worker": None, "for_s": -1}}, "params.for_s"),
    ({"params": {"worker": None}}, "params.for_s"),
    ({"params": {"worker": None, "for_s": 5, "extra": 1}}, "params.extra"),
    ({"webhook_url": "ftp://example.org/x"}, "webhook_url"),
    ({"webhook_url": "javascript:alert(1)"}, "webhook_url"),
    ({"webhook_secret": None}, "webhook_secret"),
    ({"webhook_secret": ""}, "webhook_secret"),
    ({"emails": ["not an address"]}, "emails"),
    ({"name": ""}, "name"),
    ({"enabled": "yes"}, "enabled"),
    ({"colour": "red"}, "colour"),
    ({"kind": "sla_breach", "params": {"job_type": "nope", "limit": "wait"}}, "params.job_type"),
    ({"kind": "sla_breach", "params": {"job_type": "simulate", "limit": "soon"}}, "params.limit"),
    ({"kind": "backlog", "params": {"waiting": 2.5, "for_s": 1}}, "params.waiting"),
    ({"kind": "failure_rate", "params": {"percent": 120, "min_finished": 5, "window_s": 600}},
     "params.percent"),
    ({"kind": "dispatcher_down", "params": {"for_s": "ten"}}, "params.for_s"),
])
def test_bad_input_is_422_naming_the_field(app, admin, change, field):
    """Each refusal names its field; nothing is stored; the refusal is audited."""
    r = admin.call("POST", "/api/alerts", {**GOOD, **change})
    assert r.status_code == 422, r.get_json()
    assert r.get_json()["error"].startswith(f"{field}:"), r.get_json()
    assert alert_rows(app, "SELECT id FROM alert_rules") == []
    assert audit_rows(app, "alert_create")[-1]["outcome"] == "refused"


def test_every_kind_is_accepted(admin):
    """The five kinds with their params."""
    bodies = [
        {"kind": "backlog", "params": {"waiting": 100, "for_s": 60}},
        {"kind": "failure_rate", "params": {"percent": 20, "min_finished": 10, "window_s": 900}},
        {"kind": "dispatcher_down", "params": {"for_s": 15}},
        {"kind": "worker_offline", "params": {"worker": "worker1@test", "for_s": 0}},
    ]
    for n, body in enumerate(bodies):
        r = admin.call("POST", "/api/alerts", {"name": f"rule {n}", **body})
        assert r.status_code == 201, r.get_json()
    assert len(admin.call("GET", "/api/alerts").get_json()) == len(bodies)


def test_patch_keeps_the_secret_and_delete_removes(app, admin):
    """PATCH changes what it names (the secret stays); a name in use is 409; DELETE 204 then 404."""
    rule_id = admin.call("POST", "/api/alerts", GOOD).get_json()["id"]
    admin.call("POST", "/api/alerts", {**GOOD, "name": "other"})
    r = admin.call("PATCH", f"/api/alerts/{rule_id}", {"enabled": False,
                                                        "params": {"worker": "w@x", "for_s": 9}})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["enabled"] is False and r.get_json()["params"]["worker"] == "w@x"
    stored = alert_rows(app, "SELECT webhook_secret FROM alert_rules WHERE id = :id", id=rule_id)
    assert stored[0]["webhook_secret"] == "s3cret"
    assert admin.call("PATCH", f"/api/alerts/{rule_id}", {"name": "other"}).status_code == 409
    assert admin.call("PATCH", f"/api/alerts/{rule_id}",
                      {"params": {"worker": None, "for_s": -5}}).status_code == 422
    assert admin.call("DELETE", f"/api/alerts/{rule_id}").status_code == 204
    assert admin.call("DELETE", f"/api/alerts/{rule_id}").status_code == 404
    actions = [a["action"] for a in audit_rows(app) if a["action"].startswith("alert_")]
    assert actions.count("alert_update") == 3 and "alert_delete" in actions


def test_roles(as_role, admin):
    """Viewers read; operators acknowledge but do not manage; no token is 401."""
    rule_id = admin.call("POST", "/api/alerts", GOOD).get_json()["id"]
    viewer, operator = as_role("viewer"), as_role("operator")
    seen = viewer.call("GET", "/api/alerts")
    assert seen.status_code == 200
    assert seen.get_json()[0]["webhook_url"] == "https://hooks.example.org/…"  # a path may hold a token
    assert admin.call("GET", f"/api/alerts/{rule_id}").get_json()["webhook_url"] == GOOD["webhook_url"]
    assert viewer.call("POST", f"/api/alerts/{rule_id}/ack", {"until": None}).status_code == 403
    assert operator.call("POST", "/api/alerts", {**GOOD, "name": "x"}).status_code == 403
    assert operator.call("PATCH", f"/api/alerts/{rule_id}", {"enabled": False}).status_code == 403
    assert operator.call("DELETE", f"/api/alerts/{rule_id}").status_code == 403
    until = (datetime.now(timezone.utc) + timedelta(hours=1)).isoformat()
    r = operator.call("POST", f"/api/alerts/{rule_id}/ack", {"until": until})
    assert r.status_code == 200 and r.get_json()["acknowledged_until"]


def test_ack_refuses_bad_times(admin):
    """until: missing, not ISO, or in the past is 422 naming it; null lifts it."""
    rule_id = admin.call("POST", "/api/alerts", GOOD).get_json()["id"]
    for body in ({}, {"until": "tomorrow"}, {"until": "2001-01-01T00:00:00Z"}):
        r = admin.call("POST", f"/api/alerts/{rule_id}/ack", body)
        assert r.status_code == 422 and r.get_json()["error"].startswith("until:"), body
    r = admin.call("POST", f"/api/alerts/{rule_id}/ack", {"until": None})
    assert r.status_code == 200 and r.get_json()["acknowledged_until"] is None
    assert admin.call("POST", "/api/alerts/999/ack", {"until": None}).status_code == 404
