"""Helpers shared by the access, CSRF, audit and bad-input tests (test-client side)."""
import json
from contextlib import contextmanager
from html.parser import HTMLParser

import celery
import pytest
from sqlalchemy import text

from dashboard import create_app
from dashboard.extensions import db


class Page(HTMLParser):
    """A parsed page: every tag with its attributes, and the text of chosen elements."""

    def __init__(self, html):
        """Parse `html` at once."""
        super().__init__(convert_charrefs=True)
        self.tags, self.text, self._ids = [], {}, []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        """Remember the tag; start collecting text for an element with an id."""
        attrs = dict(attrs)
        self.tags.append((tag, attrs))
        self._ids.append(attrs.get("id"))
        if attrs.get("id"):
            self.text.setdefault(attrs["id"], "")

    def handle_endtag(self, tag):
        """Stop collecting the element's text."""
        if self._ids:
            self._ids.pop()

    def handle_data(self, data):
        """Text goes to every open element with an id."""
        for ident in self._ids:
            if ident:
                self.text[ident] += data

    def find(self, tag=None, **attrs):
        """Tags matching the name and attribute values (attribute `cls` means `class`)."""
        if "cls" in attrs:
            attrs["class"] = attrs.pop("cls")
        return [a for t, a in self.tags if (tag is None or t == tag)
                and all(a.get(k) == v for k, v in attrs.items())]


def csrf_token(html):
    """The CSRF token a page carries in its forms."""
    fields = Page(html).find("input", name="csrf_token")
    assert fields, "the page has no CSRF field"
    return fields[0]["value"]


def htmx_token(html):
    """The CSRF token the base template gives htmx (hx-headers on <body>)."""
    body = Page(html).find("body")[0]
    return json.loads(body["hx-headers"])["X-CSRFToken"]


def sign_in(client, username, password, expect=302):
    """Sign in through the form; returns the response."""
    token = csrf_token(client.get("/login").get_data(as_text=True))
    response = client.post("/login", data={"username": username, "password": password,
                                           "csrf_token": token})
    assert response.status_code == expect, response.get_data(as_text=True)[:500]
    return response


def counts(app):
    """Rows in requests, uploads and attempts (what a refused submission must not add)."""
    with app.app_context():
        row = db.session.execute(text(
            "SELECT (SELECT count(*) FROM requests), (SELECT count(*) FROM uploads),"
            " (SELECT count(*) FROM attempts)")).one()
        db.session.rollback()
    return tuple(row)


def audit_rows(app, action=None):
    """Audit entries (oldest first), optionally of one action."""
    with app.app_context():
        rows = db.session.execute(text(
            "SELECT * FROM audit_log WHERE (:a IS NULL OR action = :a) ORDER BY id"),
            {"a": action}).mappings().all()
        db.session.rollback()
    return [dict(r) for r in rows]


def sql(app, statement, **params):
    """Run SQL in the test database and commit; returns the rows (if any)."""
    with app.app_context():
        result = db.session.execute(text(statement), params)
        rows = [dict(r) for r in result.mappings()] if result.returns_rows else []
        db.session.commit()
    return rows


@pytest.fixture
def signed_in(app, make_user):
    """signed_in(role) -> (test client signed in with that role, username, api token)."""

    def make(role):
        """A signed-in client for a new user with `role`."""
        username, password, token = make_user(role)
        client = app.test_client()
        sign_in(client, username, password)
        return client, username, token
    return make


@contextmanager
def extra_app(config=None):
    """A second app (e.g. other limits) for one test; afterwards its pool is closed and the
    Celery app that was the process default before is the default again."""
    previous = celery.current_app._get_current_object()
    built = create_app(config)
    try:
        yield built
    finally:
        with built.app_context():
            db.session.remove()
            db.engine.dispose()
        previous.set_default()
