"""The unit tier's fixtures: no PostgreSQL, no RabbitMQ, no child processes.

`make test-unit` runs this folder with neither service running (and without
TEST_DATABASE_URL). The top-level fixtures that need the services are replaced
here: `app` refuses (so no unit test reaches the test database by accident, even
when `make test` runs this folder along with the rest), and `unit_app` is the real
application pointed at addresses where nothing listens.
"""
import celery
import pytest

from dashboard import create_app

# Port 9 (discard) on loopback: nothing listens, so a stray query or publish fails at once.
NOWHERE = {
    "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg2://unit:unit@127.0.0.1:9/unit",
    "BROKER_URL": "amqp://unit:unit@127.0.0.1:9//",
}


def _keep_celery_default():
    """The Celery app that is current and default now; call the result to make it so again."""
    previous = celery.current_app._get_current_object()

    def restore():
        previous.set_current()
        previous.set_default()
    return restore


@pytest.fixture(autouse=True)
def _suite_celery_app():
    """Replaces the suite's (it needs the service-backed app): leave Celery's default as found."""
    restore = _keep_celery_default()
    yield
    restore()


@pytest.fixture(scope="session")
def app():
    """Not in this tier: the suite's app needs the test database."""
    pytest.fail("unit tests have no database or broker: use `unit_app`, or move the test"
                " out of tests/unit")


@pytest.fixture(scope="session")
def unit_app():
    """The dashboard app in development mode, with its database and broker unreachable."""
    restore = _keep_celery_default()
    built = create_app({"TESTING": True, "ENV": "development",
                        "SECRET_KEY": "unit-tier-secret-key-0123456789", "FLOWER_URL": "/flower",
                        **NOWHERE})
    restore()
    return built


@pytest.fixture
def unit_ctx(unit_app):
    """An app context of `unit_app` (for code that reads current_app's settings)."""
    with unit_app.app_context():
        yield unit_app
