"""One worker host in a network namespace, shared by this folder's tests (needs root).

`make worker-host` runs inside it as on a machine of its own (tests/support/netns.py):
hostname `hosta`, address 10.231.N.2, its PostgreSQL and RabbitMQ reached over the
veth pair at 10.231.N.1 (relayed to the suite's services on loopback), supervisord's
XML-RPC served on 10.231.N.2:9001 for SUPERVISORS. The suite's own workers are
stopped while these tests run, so every request runs on the host; the `stack`
fixture of later tests starts them again.
"""
import os
import secrets
import xmlrpc.client
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.support import netns
from tests.support.env import RUN_DIR
from tests.support.procs import wait_for, wait_online
from tests.support.relay import Relay

HOSTNAME = "hosta"
WORKERS = ("worker1@hosta", "worker2@hosta")
RPC_PORT = 9001


def through(url, address):
    """`url` with its host replaced by `address` (same port, user, password, path)."""
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)
    return urlunsplit(parts._replace(netloc=f"{netloc[0]}@{address}:{parts.port}"))


def write_settings(host, password):
    """The host's own .env, as an operator writes it (its URLs name this side of the veth);
    its environment holds nothing else but PATH and HOME."""
    keep = ("POLL_INTERVAL_S", "LOG_LEVEL", "SECRET_KEY", "DASHBOARD_ENV", "LOG_FLUSH_S",
            "BATCH_SIZE", "BATCH_MAX_S")
    settings = {k: v for k, v in os.environ.items() if k in keep}
    settings.update({
        "DATABASE_URL": through(os.environ["DATABASE_URL"], host.outside),
        "CELERY_BROKER_URL": through(os.environ["CELERY_BROKER_URL"], host.outside),
        "BROKER_HEARTBEAT_S": "2", "WORKER_STOP_TIMEOUT_S": "5", "WORKERS": "2",
        "SUPERVISOR_LISTEN": f"{host.inside}:{RPC_PORT}", "SUPERVISOR_PASSWORD": password})
    with open(os.path.join(host.checkout, ".env"), "w") as fh:
        fh.writelines(f"{k}='{v}'\n" for k, v in settings.items())
    return {"PATH": os.environ["PATH"], "HOME": host.base, "LANG": "C.UTF-8"}


@pytest.fixture(scope="package")
def worker_host(app, celery_app, _stack):
    """The running host: .host (netns.Host), .env, .rpc_url (with credentials)."""
    why = netns.available()
    if why:
        pytest.skip(f"worker hosts in network namespaces: {why}")
    netns.remove_stale()
    _stack.stop_workers()
    host = netns.Host(HOSTNAME, os.path.join(RUN_DIR, "hosts", HOSTNAME))
    relays = []
    try:
        host.create()
        for url in (os.environ["DATABASE_URL"], os.environ["CELERY_BROKER_URL"]):
            port = urlsplit(url).port
            relays.append(Relay(host.outside, port, port))
        password = secrets.token_hex(12)
        env = write_settings(host, password)
        host.start(env)
        wait_online(celery_app, list(WORKERS), timeout=90)
        host.env, host.password = env, password
        host.rpc_url = f"http://dashboard:{password}@{host.inside}:{RPC_PORT}/RPC2"
        yield host
    finally:
        host.stop()
        for relay in relays:
            relay.close()
        host.destroy()


@pytest.fixture
def on_host(worker_host, clean_db, _stack, celery_app):
    """Each test: the host's workers answer (the suite's own stopped) and the dispatcher runs."""
    _stack.stop_workers()
    _stack.start_dispatcher()
    wait_for(lambda: worker_host.popen.poll() is None, 1, what="make worker-host running")
    wait_online(celery_app, list(WORKERS), timeout=60)
    wait_for(lambda: running(worker_host), 60, interval=0.5,
             what="the host's supervisord reporting both workers RUNNING")
    return worker_host


def running(host):
    """True when the host's supervisord (over HTTP) reports every program RUNNING (a start
    counts as one after its startsecs)."""
    with xmlrpc.client.ServerProxy(host.rpc_url) as proxy:
        states = {p["name"]: p["statename"] for p in proxy.supervisor.getAllProcessInfo()}
    return len(states) == len(WORKERS) and set(states.values()) == {"RUNNING"}
