"""Fixtures of the alert tests: empty alert tables, JSON clients by role, a webhook receiver."""
import json

import pytest
from sqlalchemy import text

from dashboard.extensions import db
from tests.support.webhook import WebhookReceiver

ALERT_TABLES = "alert_rules, alert_firings, alert_notifications, alert_worker_sightings"


@pytest.fixture(autouse=True)
def empty_alerts(app, clean_db):
    """No rules, firings, notifications or sightings from an earlier test."""
    with app.app_context():
        db.session.execute(text(f"TRUNCATE {ALERT_TABLES} RESTART IDENTITY CASCADE"))
        db.session.commit()


@pytest.fixture
def as_role(client, make_user):
    """as_role(role) -> a JSON client calling the API as a new user with that role."""
    def make(role):
        _, _, token = make_user(role)

        class Api:
            def call(self, method, path, body=None):
                return client.open(path, method=method,
                                   headers={"Authorization": f"Bearer {token}"},
                                   data=None if body is None else json.dumps(body),
                                   content_type="application/json")
        return Api()
    return make


@pytest.fixture
def receiver():
    """A real HTTP server taking webhook POSTs."""
    hook = WebhookReceiver().start()
    yield hook
    hook.stop()


def alert_rows(app, statement, **params):
    """Rows of a query on the alert tables (fresh read)."""
    with app.app_context():
        rows = [dict(r) for r in db.session.execute(text(statement), params).mappings()]
        db.session.rollback()
    return rows
