"""In Chromium: an admin creates an alert rule through the /alerts form and sees it listed;
a refused form shows the reason; the page, with a firing rule and history on it, passes
axe-core in both themes."""
import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect
from sqlalchemy import text

from dashboard.extensions import db
from tests.support.browser import browser_sign_in
from tests.support.db import sql

pytestmark = pytest.mark.browser


@pytest.fixture
def no_alerts(app, clean_db):
    with app.app_context():
        db.session.execute(text("TRUNCATE alert_rules, alert_firings, alert_notifications,"
                                " alert_worker_sightings RESTART IDENTITY CASCADE"))
        db.session.commit()


def seed_firing(app):
    """A rule firing for a minute, with one earlier firing that ended."""
    rule_id = sql(app, "INSERT INTO alert_rules (name, kind, params, emails, state, since)"
                       " VALUES ('dispatcher silent', 'dispatcher_down', '{\"for_s\": 15}',"
                       " '[\"ops@example.org\"]', 'firing', now() - interval '1 minute')"
                       " RETURNING id")[0]["id"]
    sql(app, "INSERT INTO alert_firings (rule_id, started_at, ended_at, detail, end_detail,"
             " notified) VALUES (:r, now() - interval '2 hours', now() - interval '90 minutes',"
             " '{\"text\": \"last dispatcher heartbeat 20 s ago (limit 15 s)\"}',"
             " '{\"text\": \"last dispatcher heartbeat 0.5 s ago (limit 15 s)\"}', true),"
             " (:r, now() - interval '1 minute', NULL,"
             " '{\"text\": \"last dispatcher heartbeat 16 s ago (limit 15 s)\"}', NULL, true)",
        r=rule_id)
    sql(app, "UPDATE alert_rules SET firing_id = (SELECT max(id) FROM alert_firings)")


def test_create_a_rule_through_the_form(live_server, page, make_user, no_alerts):
    user, password, _ = make_user("admin")
    browser_sign_in(page, live_server, user, password)
    page.goto(f"{live_server}/alerts")
    page.fill("#a-name", "workers <gone>")
    page.select_option("#a-kind", "worker_offline")
    page.fill("#a-for-s", "-3")
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.click("#a-submit")
    assert answer.value.status == 422
    expect(page.locator("#form-error")).to_contain_text("params.for_s:")
    page.fill("#a-for-s", "120")
    page.fill("#a-emails", "ops@example.org")
    page.fill("#a-webhook-url", "https://hooks.example.org/alerts")
    page.fill("#a-webhook-secret", "s3cret")
    page.click("#a-submit")
    page.wait_for_url(f"{live_server}/alerts")
    row = page.locator("#rules tbody tr[data-rule]")
    expect(row).to_have_count(1)
    assert "workers <gone>" in row.inner_text()
    assert "worker_offline" in row.inner_text()
    expect(row.locator("[data-alert-state]")).to_have_text("ok")
    assert "s3cret" not in page.content()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_alerts_page_passes_axe(app, browser, live_server, make_user, no_alerts, scheme):
    seed_firing(app)
    context = browser.new_context(viewport={"width": 1400, "height": 900}, color_scheme=scheme)
    page = context.new_page()
    try:
        user, password, _ = make_user("admin")
        browser_sign_in(page, live_server, user, password)
        assert page.goto(f"{live_server}/alerts").status == 200
        assert "dispatcher silent" in page.inner_text("#firing")
        assert page.locator("#history tbody tr[data-firing]").count() == 2
        page.fill("#a-name", "")
        page.eval_on_selector("#rule-form", "f => f.noValidate = true")
        page.click("#a-submit")
        page.wait_for_selector("#form-error")
        results = Axe().run(page)
        blocking = [f"{v['id']}: {v['help']} -> "
                    + "; ".join(" ".join(n["target"]) for n in v["nodes"][:5])
                    for v in results.response["violations"]
                    if v["impact"] in ("serious", "critical")]
        assert blocking == []
    finally:
        context.close()
