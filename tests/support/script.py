"""The test stack outside pytest, for the scripts in bench/ (`make screenshots`,
`python -m bench.schedule_lag`): what tests/conftest.py's fixtures set up, without pytest.

stack_session(NAME) runs on a database and broker vhost of their own, dashboard_NAME on
the local services (deploy/services.py test-env NAME), so a script never empties the
suite's dashboard_test; TEST_DATABASE_URL and TEST_BROKER_URL in the environment win.
It rebuilds the schema with the migrations, starts the suite's two workers and its
dispatcher, yields (app, stack), and stops every process it started afterwards.
Nothing from tests.support.env is imported before the database is chosen: that module
names its log folder after the database when it is first imported.
"""
import os
from contextlib import contextmanager


def use_own_services(name):
    """TEST_DATABASE_URL / TEST_BROKER_URL: from the environment, else dashboard_NAME's."""
    if not (os.environ.get("TEST_DATABASE_URL") and os.environ.get("TEST_BROKER_URL")):
        from deploy import services
        os.environ.update(services.test_env(name))


@contextmanager
def stack_session(name):
    """(app, stack): the app on dashboard_NAME (schema rebuilt), workers and dispatcher up."""
    use_own_services(name)
    from tests.support import env
    env.use_test_services()

    from dashboard import create_app
    from deploy.stack import reset_schema
    from tests.support.procs import Proc
    from tests.support.stack import Stack

    app = create_app({"TESTING": True, "NOTIFY_ON_SUCCESS": True})
    reset_schema(app)
    celery_app = app.extensions["celery"]
    with app.app_context():
        celery_app.control.purge()
    stack = Stack(celery_app)
    try:
        stack.ensure_workers()
        stack.start_dispatcher()
        yield app, stack
    finally:
        stack.stop_all()
        Proc.stop_all()


@contextmanager
def live_server():
    """gunicorn serving wsgi:app on a free loopback port (the live_server fixture): its URL."""
    from deploy.stack import web_argv
    from tests.support.procs import free_port, serving
    port = free_port()
    with serving("web", web_argv(port, workers=2, threads=4), port, "/healthz") as url:
        yield url


@contextmanager
def chromium():
    """Debian's Chromium under Playwright (the browser fixture)."""
    from playwright.sync_api import sync_playwright

    from tests.support.browser import CHROMIUM, CHROMIUM_ARGS
    if not os.path.exists(CHROMIUM):
        raise SystemExit(f"{CHROMIUM} missing: install Debian's chromium (`make test` does)")
    with sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            instance.close()
