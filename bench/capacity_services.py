"""The capacity section's own PostgreSQL cluster and RabbitMQ node, and what they cost.

deploy/services.py's Postgres and RabbitMQ (the local stack's install, config and start
code) on free ports under var/capacity-PID/, with fresh passwords, so that every
postgres process and the broker's Erlang VM do this section's work and nobody else's.
The node adds the rabbitmq_prometheus plugin (the broker's message counters); its
schedulers do not busy-wait (RabbitMQ's own +sbwt none), so its CPU time is work.
"""
import os
import re
import secrets
import shutil
from urllib.request import urlopen

from deploy import services

from . import capacity_pg, stack

BASE = os.path.join(services.VAR, f"capacity-{os.getpid()}")
COUNTERS = ("received", "routed", "delivered", "acknowledged", "confirmed")


class Postgres(services.Postgres):
    """A fresh cluster with the local stack's settings (and pg_stat_statements) and one
    database, dashboard_capacity."""

    def __init__(self):
        super().__init__(os.path.join(BASE, "pg"), services.free_port(),
                         settings=capacity_pg.SETTINGS)
        self.password, self.dbname = secrets.token_hex(16), "dashboard_capacity"

    def setup(self):
        """initdb, start, the role and the database; returns the DATABASE_URL."""
        shutil.rmtree(self.base, ignore_errors=True)
        self.start()
        self.ensure(self.password, [self.dbname])
        capacity_pg.prepare(self)
        return self.url(self.password, self.dbname)

    def cpu_seconds(self):
        """User + system CPU of the postmaster, its live processes and those that ended."""
        pid = self.postmaster_pid()
        fields = stack.stat_fields(pid) if pid else None
        if fields is None:
            return 0.0
        ended = (int(fields[13]) + int(fields[14])) / stack.shared.TICK
        return stack.cpu_seconds(pid) + ended


class Rabbit(services.RabbitMQ):
    """A fresh node capacity-PID@localhost with vhost `dashboard` and Prometheus counters."""

    def __init__(self):
        super().__init__(os.path.join(BASE, "rabbit"), services.free_port(),
                         services.free_port(), f"capacity-{os.getpid()}@localhost",
                         secrets.token_hex(16))
        self.metrics_port = services.free_port()
        self.settings = {"prometheus.tcp.port": self.metrics_port,
                         "prometheus.tcp.ip": "127.0.0.1"}

    def write_config(self):
        """The local node's config, plus the plugin."""
        os.makedirs(self.base, exist_ok=True)
        self._write("enabled_plugins", "[rabbitmq_prometheus].\n")
        super().write_config()

    def setup(self):
        """Boot the node; returns the CELERY_BROKER_URL."""
        shutil.rmtree(self.base, ignore_errors=True)
        self.start()
        return self.url("dashboard")

    def cpu_seconds(self):
        """User + system CPU of the Erlang VM (and its helpers, live or ended)."""
        pid = self.pid()
        fields = stack.stat_fields(pid) if pid else None
        if fields is None:
            return 0.0
        return stack.cpu_seconds(pid) + (int(fields[13]) + int(fields[14])) / stack.shared.TICK

    def counters(self):
        """The node's global AMQP 0-9-1 message counters: received, routed, delivered, ..."""
        with urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=10) as answer:
            text = answer.read().decode()
        found = dict.fromkeys(COUNTERS, 0.0)
        for name in COUNTERS:
            for m in re.finditer(rf"^rabbitmq_global_messages_{name}_total\{{([^}}]*)\}}"
                                 rf" ([0-9.e+]+)$", text, re.M):
                if 'protocol="amqp091"' in m.group(1):
                    found[name] += float(m.group(2))
        return found


class Services:
    """Both engines, started together and removed together."""

    def __init__(self):
        self.pg, self.rabbit = Postgres(), Rabbit()

    def start(self):
        """Start both; returns (DATABASE_URL, CELERY_BROKER_URL)."""
        database_url = self.pg.setup()
        broker_url = self.rabbit.setup()
        stack.wait_for(lambda: self._counters_answer(), 60, interval=0.5,
                       what="the broker's Prometheus counters")
        return database_url, broker_url

    def _counters_answer(self):
        try:
            return self.rabbit.counters() is not None
        except OSError:
            return False

    def stop(self):
        """Shut both down and delete their data."""
        try:
            self.rabbit.stop()
        finally:
            self.pg.stop(mode="immediate")
            shutil.rmtree(BASE, ignore_errors=True)
