"""/alerts without a browser: admins manage rules through forms with CSRF, a refused form
answers 422 naming the field with nothing stored, operators acknowledge, viewers read only,
and names are escaped."""
from tests.integration.alerts.conftest import alert_rows
from tests.support.db import audit_rows, sql
from tests.support.html import Page, parse_table
from tests.support.http import Browserless

FORM = {"name": "backlog high", "kind": "backlog", "waiting": "50", "for_s": "30",
        "emails": "ops@example.org, oncall@example.org", "webhook_url": "https://h.example/x",
        "webhook_secret": "s3cret", "enabled": "on", "worker": "", "percent": "",
        "min_finished": "", "window_s": "", "job_type": "simulate", "limit": "wait"}


def browser_as(app, make_user, role):
    user, password, _ = make_user(role)
    return Browserless(app, user, password)


def test_admin_creates_edits_and_deletes_through_the_forms(app, make_user):
    admin = browser_as(app, make_user, "admin")
    r = admin.action("/alerts", htmx=False, **FORM)
    assert r.status_code == 303, r.get_data(as_text=True)[:500]
    [rule] = alert_rows(app, "SELECT * FROM alert_rules")
    assert rule["params"] == {"waiting": 50, "for_s": 30.0}
    assert rule["emails"] == ["ops@example.org", "oncall@example.org"]
    html = admin.get("/alerts").get_data(as_text=True)
    [row] = parse_table(html, "alerts")
    cells = [c["text"] for c in row["cells"]]
    assert cells[0] == "backlog high" and cells[1] == "backlog" and cells[3] == "ok"
    assert "s3cret" not in html
    edit = admin.get(f"/alerts/{rule['id']}/edit").get_data(as_text=True)
    assert Page(edit).find("input", name="name")[0]["value"] == "backlog high"
    r = admin.action(f"/alerts/{rule['id']}", htmx=False,
                     **{**FORM, "waiting": "80", "webhook_secret": ""})
    assert r.status_code == 303
    [rule] = alert_rules = alert_rows(app, "SELECT * FROM alert_rules")
    assert rule["params"]["waiting"] == 80 and rule["webhook_secret"] == "s3cret", alert_rules
    assert admin.action(f"/alerts/{rule['id']}/delete", htmx=False).status_code == 303
    assert alert_rows(app, "SELECT id FROM alert_rules") == []
    actions = [a["action"] for a in audit_rows(app) if a["action"].startswith("alert_")]
    assert actions == ["alert_create", "alert_update", "alert_delete"]


def test_a_refused_form_is_422_naming_the_field(app, make_user):
    admin = browser_as(app, make_user, "admin")
    for change, field in (({"for_s": "-5"}, "params.for_s"),
                          ({"webhook_url": "ftp://x.example/"}, "webhook_url"),
                          ({"webhook_secret": ""}, "webhook_secret"),
                          ({"kind": "nope"}, "kind")):
        r = admin.action("/alerts", htmx=False, **{**FORM, **change})
        assert r.status_code == 422, change
        error = Page(r.get_data(as_text=True)).text["form-error"]
        assert error.startswith(f"{field}:"), error
    assert alert_rows(app, "SELECT id FROM alert_rules") == []


def test_csrf_is_required(app, make_user):
    admin = browser_as(app, make_user, "admin")
    r = admin.client.post("/alerts", data=FORM)
    assert r.status_code in (400, 403)
    assert alert_rows(app, "SELECT id FROM alert_rules") == []


def test_viewers_read_operators_acknowledge(app, make_user):
    rule_id = sql(app, "INSERT INTO alert_rules (name, kind, params, state, since)"
                       " VALUES ('<b>gone</b>', 'dispatcher_down', '{\"for_s\": 5}', 'firing',"
                       " now()) RETURNING id")[0]["id"]
    viewer = browser_as(app, make_user, "viewer")
    html = viewer.get("/alerts").get_data(as_text=True)
    assert "&lt;b&gt;gone&lt;/b&gt;" in html and "<b>gone</b>" not in html
    assert not Page(html).find("form", id="rule-form") and "Acknowledge" not in html
    assert viewer.action("/alerts", htmx=False, **FORM).status_code == 403
    assert viewer.action(f"/alerts/{rule_id}/ack", htmx=False, minutes="60").status_code == 403
    operator = browser_as(app, make_user, "operator")
    assert not Page(operator.get("/alerts").get_data(as_text=True)).find("form", id="rule-form")
    assert operator.action(f"/alerts/{rule_id}/delete", htmx=False).status_code == 403
    r = operator.action(f"/alerts/{rule_id}/ack", htmx=False, minutes="60")
    assert r.status_code == 303
    html = operator.get("/alerts").get_data(as_text=True)
    [row] = parse_table(html, "alerts")
    assert row["cells"][3]["text"] == "acknowledged"
    assert audit_rows(app, "alert_ack")[-1]["outcome"] == "ok"
