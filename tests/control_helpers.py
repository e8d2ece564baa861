"""Helpers shared by the operator-control tests: submit, attempts, pool pids, HTML tables."""
import json
import os
import re
import select
import time
from html.parser import HTMLParser

import pytest
from sqlalchemy import text

from conftest import wait_for
from dashboard.extensions import db


def submit(api, params=None, job_type="simulate"):
    """Submit a request through the API; returns its id."""
    response = api.post("/api/requests", data={"job_type": job_type,
                                               "params": json.dumps(params or {})})
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def attempts(app, request_id):
    """The request's attempts, oldest first, as dicts (fresh read)."""
    with app.app_context():
        rows = db.session.execute(text(
            "SELECT * FROM attempts WHERE request_id = :id ORDER BY number"),
            {"id": request_id}).mappings().all()
        db.session.rollback()
        return [dict(r) for r in rows]


def audit(app, action, request_id=None):
    """Audit entries of one action (optionally for one request), oldest first."""
    with app.app_context():
        rows = db.session.execute(text(
            "SELECT * FROM audit_log WHERE action = :a AND (:id IS NULL OR request_id = :id)"
            " ORDER BY id"), {"a": action, "id": request_id}).mappings().all()
        db.session.rollback()
        return [dict(r) for r in rows]


def sql(app, statement, **params):
    """Run one statement and commit (test setup only)."""
    with app.app_context():
        db.session.execute(text(statement), params)
        db.session.commit()


def active_task(celery_app, worker, task_id, timeout=20):
    """The worker's inspect().active() entry for `task_id` (has `worker_pid`)."""
    def find():
        replies = celery_app.control.inspect([worker], timeout=1.0).active() or {}
        return next((t for t in replies.get(worker, []) if t["id"] == task_id), None)
    return wait_for(find, timeout, interval=0.1, what=f"task {task_id} active on {worker}")


def pool_pid(celery_app, row):
    """The pid of the pool process running a `running` request's attempt."""
    return active_task(celery_app, row["worker"], row["task_id"])["worker_pid"]


def process_state(pid):
    """'R', 'S', ... from /proc, 'Z' for a zombie, None when the pid is gone."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return None


def is_dead(pid):
    """True once the process no longer runs (gone, or a zombie not yet reaped)."""
    return process_state(pid) in (None, "Z", "X")


class ExitWatch:
    """Watch a process (not our child) exit via a pidfd: exact, no polling interval."""

    def __init__(self, pid):
        self.pid = pid
        self.fd = os.pidfd_open(pid)

    def wait(self, timeout, since=None):
        """Seconds from `since` (a time.monotonic(); default now) until the process exited,
        or None when it still runs after `timeout` seconds."""
        since = time.monotonic() if since is None else since
        ready = select.select([self.fd], [], [], timeout)[0]
        return time.monotonic() - since if ready else None

    def close(self):
        os.close(self.fd)


class Table(HTMLParser):
    """Parse one <table class=NAME>: rows of cells, each with text, links and details."""

    def __init__(self, css_class):
        super().__init__()
        self.css_class, self.depth, self.rows = css_class, 0, []
        self._cell = self._row = None
        self._pre = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table" and self.css_class in (attrs.get("class") or "").split():
            self.depth = 1
            return
        if not self.depth:
            return
        if tag == "table":
            self.depth += 1
        elif tag == "tr":
            self._row = {"attrs": attrs, "cells": []}
        elif tag == "td" and self._row is not None:
            self._cell = {"text": "", "links": [], "details": False, "summary": "", "pre": "",
                          "tags": []}
            self._row["cells"].append(self._cell)
        elif self._cell is not None:
            self._cell["tags"].append(tag)
            if tag == "a":
                self._cell["links"].append(attrs.get("href"))
            elif tag == "details":
                self._cell["details"] = True
                self._cell["open"] = "open" in attrs
            elif tag == "pre":
                self._pre = True

    def handle_endtag(self, tag):
        if not self.depth:
            return
        if tag == "table":
            self.depth -= 1
        elif tag == "tr" and self._row is not None:
            if self._row["cells"]:
                self.rows.append(self._row)
            self._row = None
        elif tag == "td":
            self._cell = None
        elif tag == "pre":
            self._pre = False

    def handle_data(self, data):
        if self._cell is not None:
            if self._pre:
                self._cell["pre"] += data
            else:
                self._cell["text"] += data


def parse_table(html, css_class):
    """Rows of the first table with class `css_class` in `html`."""
    parser = Table(css_class)
    parser.feed(html)
    parser.close()
    return parser.rows


def wait_online(celery_app, names, timeout=60):
    """Wait until every worker in `names` answers a ping."""
    def online():
        replies = celery_app.control.ping(timeout=0.5) or []
        return set(names) <= {name for reply in replies for name in reply}
    wait_for(online, timeout, interval=0.2, what=f"workers {names} online")


def wait_offline(celery_app, name, timeout=30):
    """Wait until worker `name` no longer answers a ping."""
    def gone():
        replies = celery_app.control.ping([name], timeout=0.5) or []
        return not any(name in reply for reply in replies)
    wait_for(gone, timeout, interval=0.2, what=f"worker {name} offline")


class SmtpSink:
    """A real local SMTP server (aiosmtpd) that keeps every message it receives."""

    def __init__(self, port):
        from aiosmtpd.controller import Controller
        self.messages = []
        self.controller = Controller(self, hostname="127.0.0.1", port=port)
        self.port = port

    async def handle_DATA(self, server, session, envelope):
        """Keep the message; answer 250."""
        from email import message_from_bytes
        message = message_from_bytes(envelope.content)
        self.messages.append({"to": envelope.rcpt_tos, "from": envelope.mail_from,
                              "subject": message["Subject"], "body": message.get_payload()})
        return "250 OK"

    def start(self):
        self.controller.start()
        return self

    def stop(self):
        self.controller.stop()


class TokenClient:
    """An API client that calls as one user (bearer token), like the `api` fixture."""

    def __init__(self, app, token):
        self.client = app.test_client()
        self.headers = {"Authorization": f"Bearer {token}"}

    def get(self, path, **kw):
        return self.client.get(path, headers=self.headers, **kw)

    def post(self, path, **kw):
        return self.client.post(path, headers=self.headers, **kw)


def task_log_line(proc, task_id, word, timeout=60):
    """Wait until a worker's log says `Task dashboard.run_request[<task_id>] <word>`."""
    needle = f"dashboard.run_request[{task_id}] {word}"
    return wait_for(lambda: needle in proc.log(), timeout, interval=0.1,
                    what=f"{needle!r} in {proc.name}.log")


@pytest.fixture
def solo(stack):
    """Only worker1 runs (worker2 stopped; the stack fixture restarts it afterwards)."""
    stack.stop_worker("worker2")
    return stack.workers["worker1"]


CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


class Browserless:
    """A signed-in browser session without a browser: test client + CSRF token from the pages."""

    def __init__(self, app, username, password):
        self.client = app.test_client()
        page = self.client.get("/login").get_data(as_text=True)
        response = self.client.post("/login", data={
            "username": username, "password": password,
            "csrf_token": CSRF_RE.search(page).group(1)})
        assert response.status_code in (302, 303), response.status_code
        self.csrf = CSRF_RE.search(self.client.get("/").get_data(as_text=True)).group(1)

    def get(self, path, **kw):
        return self.client.get(path, **kw)

    def action(self, path, htmx=True, **data):
        """POST a page action as htmx would (X-CSRFToken header) or as a plain form."""
        headers = {"X-CSRFToken": self.csrf, "HX-Request": "true"} if htmx else {}
        if not htmx:
            data["csrf_token"] = self.csrf
        return self.client.post(path, headers=headers, data=data)
