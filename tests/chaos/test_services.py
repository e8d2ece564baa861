"""kill -9 PostgreSQL and RabbitMQ while requests flow; nothing committed may be lost.

They run against private instances under var/chaos/ (their own ports, data and
cookie) with their own workers and dispatcher, so the shared services other
test runs use are never touched.
"""
import json
import os

import pytest
from kombu import Connection
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError

from dashboard import config, lifecycle
from tests.support.chaos import Killer, REPORTS, TERMINAL
from tests.support.env import BIN
from tests.support.procs import Proc, wait_for

from .services import PrivatePostgres, PrivateRabbit

N = int(os.environ.get("CHAOS_REQUESTS", 150))
SPREAD_S = float(os.environ.get("CHAOS_SECONDS", 15))
PARAMS = json.dumps({"min_seconds": 0, "max_seconds": 0.3, "fail_rate": 0, "hang": False,
                     "ignore_soft_limit": False})


class PrivateStack:
    """Private PostgreSQL + RabbitMQ, migrated, with two workers and a dispatcher."""

    def __init__(self):
        self.pg, self.rabbit = PrivatePostgres(), PrivateRabbit()
        self.procs = {}

    def __enter__(self):
        self.pg.setup()
        self.rabbit.setup()
        self.env = {"DATABASE_URL": self.pg.url, "CELERY_BROKER_URL": self.rabbit.url}
        return self._started()

    def _started(self):
        """Migrate, then two workers and a dispatcher on self.env's services."""
        migrate = Proc("chaos-svc-migrate", [os.path.join(BIN, "flask"), "--app", "wsgi", "db",
                                             "upgrade"], self.env).start()
        assert migrate.popen.wait(120) == 0, migrate.log()
        self.engine = create_engine(config._database_url(self.env["DATABASE_URL"]),
                                    pool_pre_ping=True)
        for name in ("worker1", "worker2"):
            self.start_worker(name)
        self.start_dispatcher()
        return self

    def __exit__(self, *exc):
        for proc in self.procs.values():
            proc.stop()
        self.engine.dispose()
        self.rabbit.stop()
        self.pg.stop()

    def start_worker(self, name):
        self.procs[name] = Proc(f"chaos-svc-{name}", [
            os.path.join(BIN, "celery"), "-A", "worker", "worker", "-n", f"{name}@chaos", "-E",
            "--pool", "prefork", "--concurrency", "2", "--without-mingle", "--without-gossip",
            "--loglevel", "INFO"], self.env).start()

    def start_dispatcher(self):
        self.procs["dispatcher"] = Proc("chaos-svc-dispatcher", [
            os.path.join(BIN, "flask"), "--app", "wsgi", "dispatcher"], self.env).start()

    def wait_workers(self):
        """Until both workers consume the requests queue (counted by the broker itself)."""
        def consumers():
            try:
                with Connection(self.rabbit.url, connect_timeout=2) as conn:
                    return conn.default_channel.queue_declare(
                        queue="requests", passive=True).consumer_count >= 2
            except Exception:   # broker down or queue not declared yet
                return False
        wait_for(consumers, 120, interval=0.5, what="private workers consuming")

    def submit(self):
        """Commit one request; None when the database refused (down or restarting)."""
        try:
            with self.engine.begin() as conn:
                return conn.exec_driver_sql(lifecycle.SUBMIT_SQL, {
                    "job_type": "simulate", "params": PARAMS, "upload_id": None,
                    "submitted_by": "chaos", "parent_id": None, "priority": None,
                    "declared": 0}).scalar()
        except DBAPIError:
            return None

    def rows(self):
        """{id: row} of every request (None while the database is unreachable)."""
        try:
            with self.engine.connect() as conn:
                found = conn.execute(text(
                    "SELECT id, status, attempt, task_id, worker FROM requests")).mappings().all()
            return {r["id"]: dict(r) for r in found}
        except DBAPIError:
            return None

    def backends(self):
        """Pids of the PostgreSQL client backends serving the stack."""
        try:
            with self.engine.connect() as conn:
                return conn.execute(text(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                    " AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
                )).scalars().all()
        except DBAPIError:
            return []


@pytest.fixture(scope="module")
def private():
    with PrivateStack() as s:
        s.wait_workers()
        yield s


def flow_and_settle(name, private, rng, killer, spread_s=SPREAD_S):
    """Submit N requests over `spread_s` while `killer` strikes; then every row must settle."""
    acknowledged, refused = [], 0
    with killer:
        for _ in range(N):
            request_id = private.submit()
            if request_id is None:
                refused += 1
            else:
                acknowledged.append(request_id)
            killer.halt.wait(rng.uniform(0, 2 * spread_s / N))
    private.wait_workers()

    def settled():
        rows = private.rows()
        return rows if rows is not None and all(
            r["status"] in TERMINAL for r in rows.values()) else None
    try:
        rows = wait_for(settled, 180, interval=1, what="every request terminal")
    except AssertionError:
        rows = private.rows() or {}
    missing = sorted(set(acknowledged) - set(rows))
    stuck = [r for r in rows.values() if r["status"] not in TERMINAL]
    mix = {}
    for r in rows.values():
        mix[r["status"]] = mix.get(r["status"], 0) + 1
    line = (f"{name}: {killer.kills} kills, {len(acknowledged)} committed ({refused} refused"
            f" while down); all rows now: " + ", ".join(f"{n} {s}" for s, n in sorted(mix.items()))
            + f"; lost: {len(missing) + len(stuck)}")
    REPORTS.append(line)
    REPORTS.extend(f"   request {i}: acknowledged, row missing" for i in missing)
    REPORTS.extend(f"   request {r['id']}: stuck {r['status']} (attempt {r['attempt']},"
                   f" task {r['task_id']}, worker {r['worker']})" for r in stuck)
    print(line)
    assert killer.kills > 0
    assert acknowledged, f"no request was committed ({refused} refused): nothing was tested"
    assert not missing and not stuck, f"{len(missing) + len(stuck)} requests lost"
    assert all(r["status"] == "success" for r in rows.values()), mix


def test_postgres_backends_killed(private, rng):
    """kill -9 of a server process: PostgreSQL drops every connection and recovers."""
    def kill():
        pids = private.backends()
        rng.shuffle(pids)
        private.pg.kill_backend(pids)

    def back():
        wait_for(private.pg.ready, 60, what="PostgreSQL recovered")

    flow_and_settle("postgres backend kill -9", private, rng,
                    Killer(rng, kill, back, every=(1.0, 4.0), down=(0.0, 0.5)))


def test_postgres_killed_and_restarted(private, rng):
    """kill -9 of the postmaster; down for a moment; started again."""
    flow_and_settle("postgres postmaster kill -9", private, rng,
                    Killer(rng, private.pg.kill_postmaster, private.pg.start,
                           every=(3.0, 6.0), down=(0.5, 3.0)))


def test_rabbitmq_killed_and_restarted(private, rng):
    """kill -9 of the RabbitMQ node; down for a moment; started again (durable queue)."""
    flow_and_settle("rabbitmq kill -9", private, rng,
                    Killer(rng, private.rabbit.kill, private.rabbit.start,
                           every=(2.0, 5.0), down=(0.5, 3.0)), spread_s=2 * SPREAD_S)
