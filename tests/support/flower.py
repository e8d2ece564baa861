"""A real Flower on loopback for the proxy tests, and gunicorn serving the dashboard in
front of it: module-scoped fixtures, imported by the modules that use them."""
import os

import pytest

from deploy.stack import web_argv

from .env import BIN
from .procs import free_port, serving


@pytest.fixture(scope="module")
def flower_url(app):
    """A real Flower on loopback (its API open only to this proxy); stopped after the module."""
    port = free_port()
    argv = [os.path.join(BIN, "celery"), "-A", "worker", "flower", "--address=127.0.0.1",
            f"--port={port}", "--url_prefix=flower", "--persistent=False"]
    with serving("flower", argv, port, "/flower/healthcheck",
                 env={"FLOWER_UNAUTHENTICATED_API": "true"}) as url:
        yield url


@pytest.fixture(scope="module")
def flower_web(app, flower_url):
    """gunicorn serving the dashboard with FLOWER_UPSTREAM at the test Flower."""
    port = free_port()
    with serving("web-flower", web_argv(port, workers=1, threads=4), port, "/healthz",
                 env={"FLOWER_UPSTREAM": flower_url}) as url:
        yield url
