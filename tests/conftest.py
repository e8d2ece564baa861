"""Fixtures: real PostgreSQL, real RabbitMQ, real prefork workers, a live web server, Chromium.

The helpers they use (and the tests import) live in tests/support. Everything
runs against the test database and broker vhost named by TEST_DATABASE_URL /
TEST_BROKER_URL (from the environment, else from `.env`: see tests/support/env.py).
Subprocesses inherit this environment; their logs are in var/test/<test database
name>/. The unit tier (tests/unit, `make test-unit`) needs neither variable: its
conftest replaces the fixtures that need services.
"""
import os

import pytest

from tests.support import env

if env.services_configured():
    env.use_test_services()

from bench.stack import reset_schema, web_argv  # noqa: E402
from dashboard import create_app  # noqa: E402
from dashboard.extensions import db  # noqa: E402
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from tests.support.db import empty_tables, kill_unfinished  # noqa: E402
from tests.support.http import TokenClient, sign_in  # noqa: E402
from tests.support.procs import free_port, serving  # noqa: E402
from tests.support.stack import Stack  # noqa: E402


def pytest_collection_modifyitems(config, items):
    """Without the test services only the unit tier can run: say so once, before any test."""
    if not env.services_configured() and any(not env.is_unit(item.path) for item in items):
        raise pytest.UsageError(env.MISSING)


@pytest.fixture(scope="session")
def app():
    """The Flask app on the test database, schema built once by the migrations."""
    application = create_app({"TESTING": True, "NOTIFY_ON_SUCCESS": True})
    reset_schema(application)
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
def solo(stack):
    """Only worker1 runs (worker2 stopped; the stack fixture restarts it afterwards)."""
    stack.stop_worker("worker2")
    return stack.workers["worker1"]


@pytest.fixture
def clean_db(app, celery_app):
    """Empty tables and an empty queue before the test; kill leftovers after it."""
    kill_unfinished(app)
    with app.app_context():
        celery_app.control.purge()
    empty_tables(app)
    yield
    kill_unfinished(app)


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
def signed_in(app, make_user):
    """signed_in(role) -> (test client signed in with that role, username, api token)."""

    def make(role):
        """A signed-in client for a new user with `role`."""
        username, password, token = make_user(role)
        client = app.test_client()
        sign_in(client, username, password)
        return client, username, token
    return make


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def api(app, client, make_user):
    """An operator's bearer-token API client: api.get(path), api.post(path, data=...)."""
    _, _, token = make_user("operator", username="api-operator")
    return TokenClient(app, token, client)


@pytest.fixture(scope="session")
def live_server(app, _stack):
    """gunicorn serving wsgi:app on a free loopback port (same env as the tests)."""
    port = free_port()
    with serving("web", web_argv(port, workers=2, threads=4), port, "/healthz") as url:
        yield url


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium, driven by Playwright (no downloaded browser)."""
    from playwright.sync_api import sync_playwright
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} missing: `make test` installs Debian's chromium")
    with sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    pg = context.new_page()
    pg.set_default_timeout(15_000)
    yield pg
    context.close()


@pytest.fixture
def fresh(app):
    """No cached worker inspection and no remembered workers from earlier tests."""
    from dashboard import inspection
    inspection.clear_worker_cache(forget=True)
    yield
    inspection.clear_worker_cache(forget=True)


@pytest.fixture
def seeded_pages(app, _stack, clean_db):
    """The dispatcher stopped and one request in each state seeded: {status: id}."""
    from tests.support.seed import seed_requests, seed_upload_name
    _stack.stop_dispatcher()
    ids = seed_requests(app)
    seed_upload_name(app, ids["success"])
    yield ids
    _stack.start_dispatcher()


@pytest.fixture
def seeded_volume(app, stack, make_user):
    """A load_array request that really ran (its page shows the slice viewer): its id.
    Ask for it before seeded_pages, which stops the dispatcher."""
    from tests.support.db import wait_status
    from tests.support.seed import seed_volume
    return seed_volume(app, make_user("operator", username="volume-operator")[2], wait_status)


@pytest.fixture
def seeded_schedule(app, seeded_pages):
    """A schedule with a manual run in its history: its id."""
    from tests.support.seed import seed_schedule
    return seed_schedule(app)
