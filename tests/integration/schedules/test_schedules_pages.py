"""The Schedules pages without a browser: the form, the preview partial, actions with CSRF."""
import json

from sqlalchemy import text

from tests.support.db import audit_rows
from tests.support.html import parse_table
from tests.support.http import Browserless
from dashboard.extensions import db


def stored(app):
    with app.app_context():
        rows = db.session.execute(text("SELECT * FROM schedules ORDER BY id")).mappings().all()
        db.session.rollback()
        return [dict(r) for r in rows]


FORM = {"name": "quarter-hourly", "job_type": "simulate", "params": '{"max_seconds": 1}',
        "cron": "*/15 * * * *", "every_s": "", "timezone": "Asia/Tokyo", "catch_up": "skip",
        "enabled": "on"}


def test_create_through_the_form_then_list_and_detail(app, make_user):
    user, password, _ = make_user("operator", username="formy")
    browser = Browserless(app, user, password)
    r = browser.action("/schedules", htmx=False, **FORM)
    assert r.status_code == 303, r.get_data(as_text=True)[:500]
    [row] = stored(app)
    assert (row["name"], row["cron"], row["timezone"], row["enabled"]) == (
        "quarter-hourly", "*/15 * * * *", "Asia/Tokyo", True)
    assert row["params"]["max_seconds"] == 1 and row["created_by"] == "formy"
    html = browser.get("/schedules").get_data(as_text=True)
    [listed] = parse_table(html, "schedules")[:1]
    cells = [c["text"].strip() for c in listed["cells"]]
    assert cells[0] == "quarter-hourly" and cells[1] == "simulate"
    assert cells[2].startswith("every 15 minutes")
    assert cells[6] == "formy"
    builtin = {r["attrs"]["data-schedule"] for r in parse_table(html, "builtin")}
    assert {"auto-retry", "retention", "reap-lost-attempts", "compact-status-counts"} <= builtin
    detail = browser.get(r.headers["Location"]).get_data(as_text=True)
    assert "quarter-hourly" in detail and "JST" in detail


def test_preview_partial_follows_the_timing(app, make_user):
    user, password, _ = make_user("viewer", username="looker")
    browser = Browserless(app, user, password)
    html = browser.get("/schedules/preview?cron=0+9+*+*+1-5&timezone=Europe/Paris",
                       headers={"HX-Request": "true"}).get_data(as_text=True)
    rows = parse_table(html, "next-runs")
    assert len(rows) == 5
    for row in rows:
        local, utc = (c["text"].strip() for c in row["cells"])
        assert " 09:00:00 CET" in local or " 09:00:00 CEST" in local
        assert utc.endswith("08:00:00") or utc.endswith("07:00:00")
    assert "Monday through Friday" in html
    bad = browser.get("/schedules/preview?cron=0+9+*+*&timezone=UTC").get_data(as_text=True)
    assert "cron: needs five fields" in bad and "next-runs" not in bad
    bad = browser.get("/schedules/preview?every_s=3").get_data(as_text=True)
    assert "every_s: must be from 5" in bad
    words = browser.get("/schedules/preview?every_s=900").get_data(as_text=True)
    assert "every 15 minutes" in words


def test_bad_form_is_refused_naming_the_field_and_escaped(app, make_user):
    user, password, _ = make_user("operator", username="formy2")
    browser = Browserless(app, user, password)
    r = browser.action("/schedules", htmx=False, **{**FORM, "timezone": "<b>Nowhere</b>"})
    assert r.status_code == 422
    html = r.get_data(as_text=True)
    assert "timezone: unknown timezone" in html and "<b>Nowhere</b>" not in html
    assert "&lt;b&gt;Nowhere&lt;/b&gt;" in html
    assert stored(app) == []
    browser.action("/schedules", htmx=False, **{**FORM, "name": "<script>x</script>"})
    page = browser.get("/schedules").get_data(as_text=True)
    assert "<script>x</script>" not in page and "&lt;script&gt;x&lt;/script&gt;" in page
    r = browser.action("/schedules", htmx=False, **{**FORM, "name": "<script>x</script>"})
    assert r.status_code == 409 and len(stored(app)) == 1


def test_actions_need_csrf_and_operator_and_are_audited(app, make_user):
    user, password, _ = make_user("operator", username="actor")
    browser = Browserless(app, user, password)
    browser.action("/schedules", htmx=False, **FORM)
    [row] = stored(app)
    sid = row["id"]
    # No CSRF token: refused, nothing changes.
    r = browser.client.post(f"/schedules/{sid}/disable")
    assert r.status_code in (400, 403) and stored(app)[0]["enabled"] is True
    r = browser.action(f"/schedules/{sid}/disable")
    assert r.status_code == 204 and r.headers["HX-Redirect"] == f"/schedules/{sid}"
    assert stored(app)[0]["enabled"] is False
    r = browser.action(f"/schedules/{sid}/run")
    assert r.status_code == 204
    history = parse_table(browser.get(f"/schedules/{sid}/history").get_data(as_text=True),
                          "requests")
    assert len(history) == 1 and "manual" in history[0]["cells"][2]["text"]
    made = history[0]["attrs"]["data-request"]
    page = browser.get(f"/requests/{made}").get_data(as_text=True)
    assert f'href="/schedules/{sid}">quarter-hourly</a> — manual run' in page
    viewer, vpass, _ = make_user("viewer", username="watcher")
    other = Browserless(app, viewer, vpass)
    assert other.action(f"/schedules/{sid}/delete").status_code == 403
    assert other.get(f"/schedules/{sid}").status_code == 200
    assert "Run now" not in other.get(f"/schedules/{sid}").get_data(as_text=True)
    r = browser.action(f"/schedules/{sid}", htmx=False,
                       **{**FORM, "cron": "", "every_s": "60", "name": "minutely"})
    assert r.status_code == 303
    assert (stored(app)[0]["every_s"], stored(app)[0]["cron"]) == (60, None)
    assert browser.action(f"/schedules/{sid}/delete").status_code == 204
    assert stored(app) == []
    actions = [e["action"] for e in audit_rows(app, "schedule_update")]
    assert len(actions) == 2  # disable, edit
    refused, deleted = audit_rows(app, "schedule_delete")
    assert (refused["outcome"], refused["username"]) == ("forbidden", "watcher")
    assert deleted["detail"]["before"]["name"] == "minutely"
    assert json.dumps(deleted["detail"]["after"]) == "null"
