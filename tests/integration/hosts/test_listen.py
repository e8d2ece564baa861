"""PG_LISTEN / AMQP_LISTEN: PostgreSQL and RabbitMQ serve a worker host's network, with passwords.

Private throw-away instances (deploy/services.py's classes, as `make services` runs
them), so the suite's own services never restart: PostgreSQL first on loopback
only, then started again with PG_LISTEN's address (it restarts to listen there);
RabbitMQ with an extra listener. From inside the worker host's namespace: the right
password logs in, a wrong one is refused. Costs about 30 s (RabbitMQ's boot).
"""
import os
import secrets
import subprocess
import sys

import pytest

from deploy import services
from tests.support.env import RUN_DIR

CHECK = """
import sys, kombu, sqlalchemy
pg, amqp = sys.argv[1:3]
try:
    sqlalchemy.create_engine(pg, connect_args={"connect_timeout": 5}).connect().close()
    print("pg ok")
except Exception as exc:
    print("pg refused:", str(exc).splitlines()[0])
try:
    c = kombu.Connection(amqp, connect_timeout=5)
    c.connect()
    c.release()
    print("amqp ok")
except Exception as exc:
    print("amqp refused:", exc)
"""


@pytest.fixture(scope="module")
def served(worker_host):
    """(PostgreSQL, RabbitMQ, password) listening on the worker host's side of its veth too."""
    base = os.path.join(RUN_DIR, "hosts", "listen")
    password = secrets.token_hex(10)
    pg_port, amqp_port, dist_port = (services.free_port() for _ in range(3))
    pg = services.Postgres(os.path.join(base, "pg"), pg_port, listen=[])
    rabbit = services.RabbitMQ(os.path.join(base, "rabbit"), amqp_port, dist_port,
                               f"hostslisten{os.getpid()}@localhost", password,
                               listen=[worker_host.outside])
    try:
        pg.start()
        pg.ensure(password, ["dashboard"])
        pg = services.Postgres(pg.base, pg_port, listen=[worker_host.outside])
        pg.start()  # running on loopback only: restarts to listen on the address too
        rabbit.start()
        rabbit.ensure(["dashboard"])
        yield pg, rabbit, password
    finally:
        rabbit.stop()
        if rabbit.popen is not None:  # the node's process, ours to reap
            rabbit.popen.wait(60)
        pg.stop()


def check_from_host(host, pg_url, amqp_url):
    """The CHECK script's lines, run inside the worker host's network namespace."""
    done = subprocess.run(["ip", "netns", "exec", host.ns, sys.executable, "-c", CHECK, pg_url,
                           amqp_url], capture_output=True, text=True, timeout=60)
    return done.stdout.splitlines()


def test_the_worker_hosts_network_logs_in_with_the_password_only(worker_host, served):
    pg, rabbit, password = served
    where = worker_host.outside
    good = check_from_host(
        worker_host, f"postgresql+psycopg2://dashboard:{password}@{where}:{pg.port}/dashboard",
        f"amqp://dashboard:{password}@{where}:{rabbit.port}/dashboard")
    assert good == ["pg ok", "amqp ok"]
    bad = check_from_host(
        worker_host, f"postgresql+psycopg2://dashboard:wrong@{where}:{pg.port}/dashboard",
        f"amqp://dashboard:wrong@{where}:{rabbit.port}/dashboard")
    assert "password authentication failed" in bad[0] and "ACCESS_REFUSED" in bad[1]
    with open(os.path.join(pg.data, "pg_hba.conf")) as fh:
        assert f"host all dashboard {where.rsplit('.', 1)[0]}.0/24 scram-sha-256" in fh.read()
