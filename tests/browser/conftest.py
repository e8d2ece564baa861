"""The browser tier's fixtures: gunicorn serving the app, Debian's Chromium under Playwright,
a page, and the seeded data the pages are looked at with.

Everything else (the app, the stack, users) comes from tests/conftest.py.
"""
import os

import pytest

from deploy.stack import web_argv
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS
from tests.support.procs import free_port, serving


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
