"""The unit tier's fixtures: no PostgreSQL, no RabbitMQ, no child processes.

`make test-unit` runs this folder with neither service running (and without
TEST_DATABASE_URL). The top-level fixtures that need the services are replaced
here: `app` refuses (so no unit test reaches the test database by accident, even
when `make test` runs this folder along with the rest), and `unit_app` is the real
application pointed at addresses where nothing listens.
"""
import pytest

from dashboard import BUILTIN_JOB_TYPE_MODULES, jobs
from tests.support.apps import app_without_services, celery_default_kept


@pytest.fixture(scope="session", autouse=True)
def _job_types():
    """The built-in job types, registered as the app factory registers them."""
    jobs.register_all(jobs.discover(BUILTIN_JOB_TYPE_MODULES, group=None))


@pytest.fixture(autouse=True)
def _suite_celery_app():
    """Replaces the suite's (it needs the service-backed app): leave Celery's default as found."""
    with celery_default_kept():
        yield


@pytest.fixture(scope="session")
def app():
    """Not in this tier: the suite's app needs the test database."""
    pytest.fail("unit tests have no database or broker: use `unit_app`, or move the test"
                " out of tests/unit")


@pytest.fixture(scope="session")
def unit_app():
    """The dashboard app with its database and broker unreachable."""
    return app_without_services()


@pytest.fixture
def unit_ctx(unit_app):
    """An app context of `unit_app` (for code that reads current_app's settings)."""
    with unit_app.app_context():
        yield unit_app
