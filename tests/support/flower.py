"""A real Flower for the proxy tests, on a unix socket in a private directory as the stack
runs it, and gunicorn serving the dashboard in front of it: module-scoped fixtures,
imported by the modules that use them."""
import os
import shutil
import socket
import tempfile

import pytest

from deploy.stack import web_argv

from .env import BIN
from .procs import Proc, free_port, serving, wait_for


def _answers(path):
    """True when Flower answers its health check on the socket at `path`."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(1.0)
            sock.connect(path)
            sock.sendall(b"GET /flower/healthcheck HTTP/1.0\r\nHost: localhost\r\n\r\n")
            return sock.recv(64).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


@pytest.fixture(scope="module")
def flower_socket(app):
    """(the Flower process, its socket's path): `--unix_socket` in a directory of mode 0700,
    as deploy/supervisord.conf starts it; stopped and removed after the module."""
    private = tempfile.mkdtemp(prefix="flower-")  # mode 0700
    path = os.path.join(private, "flower.sock")
    argv = [os.path.join(BIN, "celery"), "-A", "worker", "flower", f"--unix_socket={path}",
            "--url_prefix=flower", "--persistent=False"]
    proc = Proc("flower", argv, env={"FLOWER_UNAUTHENTICATED_API": "true"}).start()
    try:
        wait_for(lambda: _answers(path), 60, 0.2, what="flower answering on its socket")
        yield proc, path
    finally:
        proc.stop()
        shutil.rmtree(private, ignore_errors=True)


@pytest.fixture(scope="module")
def flower_url(flower_socket):
    """FLOWER_UPSTREAM of the test Flower (`unix:PATH`)."""
    return "unix:" + flower_socket[1]


@pytest.fixture(scope="module")
def flower_web(app, flower_url):
    """gunicorn serving the dashboard with FLOWER_UPSTREAM at the test Flower."""
    port = free_port()
    with serving("web-flower", web_argv(port, workers=1, threads=4), port, "/healthz",
                 env={"FLOWER_UPSTREAM": flower_url}) as url:
        yield url
