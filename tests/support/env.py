"""The test services' environment: which database and broker vhost the suite uses, and its logs.

TEST_DATABASE_URL / TEST_BROKER_URL name them: from the environment (e.g.
`python3 deploy/services.py test-env NAME` for a run of its own), else from
`.env` (deploy/services.py start writes dashboard_test's there). Only the
service-backed tests need them: the unit tier (tests/unit) runs with neither set.
Subprocesses inherit the environment set here and skip `.env`
(FLASK_SKIP_DOTENV=1), so the local stack's settings never leak into a test.
"""
import os
import sys

from dotenv import dotenv_values

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
for _name, _value in dotenv_values(os.path.join(ROOT, ".env")).items():
    if _name in ("TEST_DATABASE_URL", "TEST_BROKER_URL") and not os.environ.get(_name):
        os.environ[_name] = _value
BIN = os.path.dirname(sys.executable)
UNIT_DIR = os.path.join(ROOT, "tests", "unit")
# Logs and pid files per test database, so parallel suites on one machine don't collide.
RUN_NAME = (os.environ.get("TEST_DATABASE_URL") or "no-database").rsplit("/", 1)[-1].split("?")[0]
RUN_DIR = os.path.join(ROOT, "var", "test", RUN_NAME)
MISSING = ("TEST_DATABASE_URL and TEST_BROKER_URL must be set: run `make test` (it starts"
           " PostgreSQL and RabbitMQ and writes them to .env), or `make test-unit` for the tests"
           " that need neither")


def services_configured():
    """True when the test database and broker vhost are named in the environment."""
    return bool(os.environ.get("TEST_DATABASE_URL") and os.environ.get("TEST_BROKER_URL"))


def use_test_services():
    """Point this process (and every child it starts) at the test database and vhost."""
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
        "FLASK_SKIP_DOTENV": "1",
    })
    os.environ.pop("SMTP_HOST", None)
    os.makedirs(RUN_DIR, exist_ok=True)


def is_unit(path):
    """True for a test file of the unit tier (no database, no broker)."""
    return os.path.abspath(str(path)).startswith(UNIT_DIR + os.sep)
