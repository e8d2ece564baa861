"""Fixtures: real PostgreSQL, real RabbitMQ, real prefork workers (the browser tier adds a
live web server and Chromium in tests/browser/conftest.py).

The helpers they use (and the tests import) live in tests/support. Everything
runs against the test database and broker vhost named by TEST_DATABASE_URL /
TEST_BROKER_URL (from the environment, else from `.env`: see tests/support/env.py).
Subprocesses inherit this environment; their logs are in var/test/<test database
name>/. The unit tier (tests/unit, `make test-unit`) needs neither variable: its
conftest replaces the fixtures that need services.
"""
import pytest

from tests.support import env

if env.services_configured():
    env.use_test_services()

from deploy.stack import reset_schema  # noqa: E402
from dashboard import create_app  # noqa: E402
from dashboard.extensions import db  # noqa: E402
from tests.support.db import empty_tables, kill_unfinished  # noqa: E402
from tests.support.http import TokenClient, sign_in  # noqa: E402
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
    from tests.support.seed import create_user
    counter = iter(range(1, 10_000))

    def make(role="operator", username=None, password="correct horse battery"):
        username = username or f"{role}{next(counter)}"
        return username, password, create_user(app, role, username, password)
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


@pytest.fixture
def fresh(app):
    """No cached worker inspection and no remembered workers from earlier tests."""
    from dashboard.workers import inspection
    inspection.clear_worker_cache(forget=True)
    yield
    inspection.clear_worker_cache(forget=True)
