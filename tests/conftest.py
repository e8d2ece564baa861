"""Fixtures: real PostgreSQL, real RabbitMQ, real prefork workers, a live web server, Chromium.

Everything runs against the test database and broker vhost named by
TEST_DATABASE_URL / TEST_BROKER_URL (written by deploy/services.sh into
var/env.sh; `make test` sources it). Subprocesses inherit this environment;
their logs are in var/test/<test database name>/.
"""
import os
import signal
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.dirname(sys.executable)

if not os.environ.get("TEST_DATABASE_URL") or not os.environ.get("TEST_BROKER_URL"):
    raise pytest.UsageError("TEST_DATABASE_URL and TEST_BROKER_URL must be set: run `make test`"
                            " (it starts PostgreSQL and RabbitMQ and sources var/env.sh)")

os.environ.update({
    "DATABASE_URL": os.environ["TEST_DATABASE_URL"],
    "CELERY_BROKER_URL": os.environ["TEST_BROKER_URL"],
    "DASHBOARD_ENV": "development",
    "SECRET_KEY": "test-secret-key-not-for-production-0123456789",
    "POLL_INTERVAL_S": "0.5",
    "DISPATCH_SWEEP_S": "1",
    "LOGIN_RATE_LIMIT": "1000 per minute",
    "LOGIN_ADDRESS_USER_LIMIT": "1000 per minute",
    "LOGIN_USER_LIMIT": "1000 per minute",
    "LOG_LEVEL": "INFO",
})
os.environ.pop("SMTP_HOST", None)
# Logs and pid files per test database, so parallel suites on one machine don't collide.
RUN_NAME = os.environ["TEST_DATABASE_URL"].rsplit("/", 1)[-1].split("?")[0]
RUN_DIR = os.path.join(ROOT, "var", "test", RUN_NAME)
os.makedirs(RUN_DIR, exist_ok=True)

from sqlalchemy import text  # noqa: E402

from bench import stack as procs  # noqa: E402  (the name `stack` is a fixture)
from dashboard import create_app  # noqa: E402
from dashboard.extensions import db  # noqa: E402

TABLES = "requests, attempts, uploads, artifacts, audit_log, status_counts, api_tokens, users"


def wait_for(predicate, timeout=15.0, interval=0.05, what="condition"):
    """Poll `predicate` until it returns a truthy value; fail after `timeout` seconds."""
    return procs.wait_for(predicate, timeout, interval, what, error=AssertionError)


free_port = procs.free_port


class Proc(procs.Proc):
    """A child process of the stack (worker, dispatcher, web), with its log under RUN_DIR."""

    def __init__(self, name, argv, env=None):
        super().__init__(name, argv, env, log_dir=RUN_DIR)


def worker_proc(name, concurrency=2, extra=()):
    """A real prefork Celery worker named NAME@test."""
    pidfile = os.path.join(RUN_DIR, f"{name}.pid")
    return Proc(name, [os.path.join(BIN, "celery"), "-A", "worker", "worker", "-n",
                       f"{name}@test", "-E", "--pool", "prefork", "--concurrency",
                       str(concurrency), "--pidfile", pidfile, "--loglevel", "INFO",
                       "--without-mingle", "--without-gossip", *extra])


def dispatcher_proc(name="dispatcher"):
    return Proc(name, [os.path.join(BIN, "flask"), "--app", "wsgi", "dispatcher"])


@pytest.fixture(scope="session")
def app():
    """The Flask app on the test database, schema built once by the migrations."""
    application = create_app({"TESTING": True, "NOTIFY_ON_SUCCESS": True})
    with application.app_context():
        db.session.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        db.session.commit()
        from flask_migrate import upgrade
        upgrade()
    return application


@pytest.fixture(scope="session")
def celery_app(app):
    return app.extensions["celery"]


@pytest.fixture(autouse=True)
def _suite_celery_app(celery_app):
    """Tests that build a second app make its Celery app current; put the suite's back."""
    yield
    celery_app.set_current()
    celery_app.set_default()


def _wait_workers_online(celery_app, names, timeout=30):
    def online():
        replies = celery_app.control.ping(timeout=0.5) or []
        seen = {name for reply in replies for name in reply}
        return set(names) <= seen
    wait_for(online, timeout, what=f"workers {names} online")


class Stack:
    """The running test stack: two workers and a dispatcher, restartable by tests."""

    def __init__(self, celery_app):
        self.celery_app = celery_app
        self.workers = {}
        self.dispatcher = None

    def start_worker(self, name, concurrency=2, extra=()):
        proc = worker_proc(name, concurrency, extra).start()
        self.workers[name] = proc
        _wait_workers_online(self.celery_app, [f"{name}@test"])
        return proc

    def stop_worker(self, name, sig=signal.SIGTERM):
        proc = self.workers.pop(name, None)
        if proc:
            proc.stop(sig)

    def stop_workers(self):
        for name in list(self.workers):
            self.stop_worker(name)

    def ensure_workers(self):
        for name in ("worker1", "worker2"):
            if name not in self.workers or not self.workers[name].alive():
                self.workers.pop(name, None)
                self.start_worker(name)

    def start_dispatcher(self):
        if self.dispatcher is None or not self.dispatcher.alive():
            self.dispatcher = dispatcher_proc().start()
            wait_for(lambda: "dispatcher listening" in self.dispatcher.log(), 20,
                     what="dispatcher listening")
        return self.dispatcher

    def stop_dispatcher(self, sig=signal.SIGTERM):
        if self.dispatcher is not None:
            self.dispatcher.stop(sig)
            self.dispatcher = None

    def stop_all(self):
        self.stop_dispatcher()
        self.stop_workers()


@pytest.fixture(scope="session")
def _stack(app, celery_app):
    stack = Stack(celery_app)
    yield stack
    stack.stop_all()


@pytest.fixture
def stack(_stack, clean_db):
    """Workers and dispatcher running (restarted if a previous test stopped them)."""
    _stack.ensure_workers()
    _stack.start_dispatcher()
    yield _stack
    _stack.ensure_workers()
    _stack.start_dispatcher()


@pytest.fixture
def clean_db(app, celery_app):
    """Empty tables and an empty queue before the test; kill leftovers after it."""
    with app.app_context():
        _kill_active(app, celery_app)
        celery_app.control.purge()
        db.session.execute(text(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE"))
        db.session.commit()
    yield
    with app.app_context():
        _kill_active(app, celery_app)


def _kill_active(app, celery_app):
    """Leave no request running into the next test."""
    from dashboard import control
    db.session.rollback()
    ids = db.session.execute(text(
        "SELECT id FROM requests WHERE status IN ('unassigned', 'pending', 'running')")).scalars()
    for request_id in list(ids):
        control.kill(request_id, "test-cleanup")


@pytest.fixture
def ctx(app):
    """An app context for direct database access in a test."""
    with app.app_context():
        yield
        db.session.rollback()


@pytest.fixture
def make_user(app, clean_db):
    """make_user(role) -> (username, password, api_token)."""
    from dashboard.auth import hash_password, issue_token
    from dashboard.models import User
    counter = iter(range(1, 10_000))

    def make(role="operator", username=None, password="correct horse battery"):
        username = username or f"{role}{next(counter)}"
        with app.app_context():
            user = User(username=username, role=role, password_hash=hash_password(password))
            db.session.add(user)
            db.session.flush()
            token = issue_token(user, "test")
            db.session.commit()
        return username, password, token
    return make


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def api(client, make_user):
    """An operator's bearer-token API client: api.get(path), api.post(path, data=...)."""
    _, _, token = make_user("operator", username="api-operator")

    class Api:
        headers = {"Authorization": f"Bearer {token}"}

        def get(self, path, **kw):
            return client.get(path, headers=self.headers, **kw)

        def post(self, path, **kw):
            return client.post(path, headers=self.headers, **kw)
    return Api()


def fetch(app, request_id):
    """The request's row as a dict (fresh read)."""
    with app.app_context():
        row = db.session.execute(text("SELECT * FROM requests WHERE id = :id"),
                                 {"id": request_id}).mappings().first()
        db.session.rollback()
        return dict(row) if row else None


def wait_status(app, request_id, statuses, timeout=20):
    """Wait until the request is in one of `statuses`; returns the row."""
    statuses = (statuses,) if isinstance(statuses, str) else tuple(statuses)

    def check():
        row = fetch(app, request_id)
        return row if row and row["status"] in statuses else None
    try:
        return wait_for(check, timeout, what=f"request {request_id} in {statuses}")
    except AssertionError:
        raise AssertionError(f"request {request_id} is {fetch(app, request_id)}, "
                             f"wanted {statuses}") from None


@pytest.fixture(scope="session")
def live_server(app, _stack):
    """gunicorn serving wsgi:app on a free loopback port (same env as the tests)."""
    port = free_port()
    proc = Proc("web", procs.web_argv(port, workers=2, threads=4)).start()
    url = f"http://127.0.0.1:{port}"
    wait_for(lambda: procs.answers(f"{url}/healthz", timeout=0.2), 30, what="gunicorn answering")
    yield url
    proc.stop()


CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-quic",
                 "--disable-sync"]


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium, driven by Playwright (no downloaded browser)."""
    from playwright.sync_api import sync_playwright
    executable = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    if not os.path.exists(executable):
        pytest.fail(f"{executable} missing: `make test` installs Debian's chromium")
    with sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    pg = context.new_page()
    pg.set_default_timeout(15_000)
    yield pg
    context.close()


def sign_in(page, base_url, username, password):
    """Sign in through the login form."""
    page.goto(f"{base_url}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base_url}/")
