"""Failover: a RabbitMQ cluster node killed -9, and the PostgreSQL primary killed -9 and its
synchronous standby promoted, while requests flow. Nothing acknowledged may be lost.

Each case runs its own private services (tests/chaos/clusters.py) with two workers and a
dispatcher connected by a URL list (the broker) or a several-host URL (the database),
and a dashboard app polling /readyz and the workers page the whole time.
"""
import threading
import time

from sqlalchemy import text

from dashboard import config
from deploy.stack import reset_schema
from tests.support.apps import extra_app
from tests.support.chaos import REPORTS, Killer
from tests.support.http import sign_in
from tests.support.procs import wait_for
from tests.support.seed import create_user

from .clusters import PrimaryAndStandby, RabbitCluster
from .services import PrivatePostgres, PrivateRabbit
from .test_services import PARAMS, SPREAD_S, PrivateStack, flow_and_settle

# Fast sweeps: a pending attempt lost with a dead node is published again within seconds.
FAST = {"DISPATCH_SWEEP_S": "1", "REPUBLISH_AFTER_S": "10", "QUEUE_TYPE": "quorum"}


class FailoverStack(PrivateStack):
    """PrivateStack on given services and URLs (a broker URL list, a several-host URL)."""

    def __init__(self, pg, rabbit, database_url, broker_url):
        self.pg, self.rabbit, self.procs = pg, rabbit, {}
        self.database_url, self.broker_url = database_url, broker_url

    def __enter__(self):
        self.pg.setup()
        self.rabbit.setup()
        self.env = {"DATABASE_URL": self.database_url(), "CELERY_BROKER_URL": self.broker_url(),
                    **FAST}
        return super()._started()


class Once(Killer):
    """One kill after `every` seconds, then `restart` after `down` seconds."""

    def run(self):
        try:
            if not self.halt.wait(self.rng.uniform(*self.every)):
                self.kill()
                self.kills += 1
                time.sleep(self.rng.uniform(*self.down))
                self.restart()
        except Exception as exc:  # re-raised in the test by stop()
            self.error = exc


class Watch(threading.Thread):
    """GET /readyz and the workers page (signed in) every half second; counts the answers."""

    def __init__(self, stack, broker_url):
        super().__init__(daemon=True)
        self.stack, self.broker_url = stack, broker_url
        self.answers = {"/readyz": {}, "/workers": {}}
        self.halt, self.error = threading.Event(), None
        self.shown = 0   # the most workers the page showed online at once

    def run(self):
        try:
            with extra_app(_settings(self.stack, self.broker_url)) as app:
                assert app.extensions["celery"].conf.broker_url == self.broker_url
                create_user(app, "operator", "chaos-watch", "correct horse battery")
                client = app.test_client()
                sign_in(client, "chaos-watch", "correct horse battery")
                while not self.halt.wait(0.5):
                    for path, seen in self.answers.items():
                        try:
                            answer = client.get(path)
                            status = answer.status_code
                            if path == "/workers" and status == 200:
                                self.shown = max(self.shown, answer.get_data(
                                    as_text=True).count('data-online="true"'))
                        except Exception as exc:  # noqa: BLE001  counted, not raised
                            status = exc.__class__.__name__
                        seen[status] = seen.get(status, 0) + 1
        except Exception as exc:  # noqa: BLE001  re-raised by stop()
            self.error = exc

    def stop(self):
        self.halt.set()
        self.join(60)
        if self.error:
            raise self.error

    def line(self):
        return ", ".join(f"{path} " + " ".join(f"{n}x{status}" for status, n in sorted(
            seen.items(), key=str)) for path, seen in self.answers.items()) \
            + f" (at most {self.shown} workers online on it)"


def _settings(stack, broker_url):
    """An in-process dashboard's settings on the stack's database URL and broker."""
    return {"SQLALCHEMY_DATABASE_URI": config._database_url(stack.env["DATABASE_URL"]),
            "BROKER_URL": broker_url, "QUEUE_TYPE": "quorum", "TESTING": True}


def _through_the_api(web):
    """submit() by POST /api/requests: the new id when the API acknowledged it (201), else None."""
    token = create_user(web, "operator", "chaos-api", "correct horse battery")
    client = web.test_client()

    def submit():
        try:
            answer = client.post("/api/requests", data={"job_type": "simulate", "params": PARAMS},
                                 headers={"Authorization": f"Bearer {token}"})
        except Exception:  # noqa: BLE001  the database went away mid-request: not acknowledged
            return None
        return answer.get_json()["id"] if answer.status_code == 201 else None
    return submit


def twice(stack):
    """(requests with more than one attempt recorded, most attempts of one request)."""
    with stack.engine.connect() as conn:
        counts = conn.execute(text(
            "SELECT count(*) FROM attempts GROUP BY request_id")).scalars().all()
    return sum(1 for n in counts if n > 1), max(counts or [0])


def _case(name, stack, rng, killer, watch, spread_s):
    """Run the flow under `killer` and `watch`; report the extra line; assert the page stayed."""
    watch.start()
    try:
        flow_and_settle(name, stack, rng, killer, spread_s=spread_s)
    finally:
        watch.stop()
    doubled, most = twice(stack)
    line = (f"   {name}: recorded twice: {doubled} (most attempts of one request: {most});"
            f" {watch.line()}")
    REPORTS.append(line)
    print(line)
    assert doubled == 0, f"{doubled} requests recorded more than one attempt"
    return watch


def test_rabbitmq_cluster_node_killed(rng, monkeypatch):
    """Quorum queues on three nodes; the nodes killed -9 in turn (one down at a time) and
    started again while requests flow; /readyz and the workers page answer 200 throughout."""
    cluster = RabbitCluster()
    pg = PrivatePostgres("cluster-db")
    nodes = iter(cluster.nodes * 3)
    victim = {}

    def kill():
        victim["node"] = next(nodes)
        victim["node"].kill()

    with FailoverStack(pg, cluster, lambda: pg.url, lambda: cluster.url) as stack:
        monkeypatch.setenv("CELERY_BROKER_URL", cluster.url)   # Celery prefers it to config
        stack.wait_workers()
        watch = _case("rabbitmq cluster node kill -9 (quorum queues)", stack, rng,
                      Killer(rng, kill, lambda: victim["node"].start(), every=(3.0, 6.0),
                             down=(1.0, 3.0)), Watch(stack, cluster.url), 2 * SPREAD_S)
        queues = cluster.nodes[0].ctl("list_queues", "--no-table-headers", "-p", "dashboard",
                                      "name", "type").stdout
    assert "requests\tquorum" in queues, queues
    assert watch.shown == 2, f"the workers page showed {watch.shown} workers online, not 2"
    bad = {path: seen for path, seen in watch.answers.items() if set(seen) != {200}}
    assert not bad, f"answers other than 200 while a node was down: {bad}"


def test_postgres_primary_killed_standby_promoted(rng, monkeypatch):
    """The primary killed -9 mid-flow; the synchronous standby promoted; every request the
    database acknowledged runs; the dispatcher listens again, on the new primary."""
    pair = PrimaryAndStandby()
    rabbit = PrivateRabbit("failover-mq")
    with FailoverStack(pair, rabbit, pair.url, lambda: rabbit.url) as stack, \
            extra_app(_settings(stack, rabbit.url)) as web:
        monkeypatch.setenv("CELERY_BROKER_URL", rabbit.url)   # Celery prefers it to config
        stack.submit = _through_the_api(web)
        stack.wait_workers()
        killer = Once(rng, pair.primary.kill_postmaster, pair.promote, every=(4.0, 8.0),
                      down=(1.0, 3.0))
        watch = _case("postgres primary kill -9, standby promoted (submitted through the API)",
                      stack, rng, killer, Watch(stack, rabbit.url), SPREAD_S)
        log = stack.procs["dispatcher"].log()
    listening = [line for line in log.splitlines() if "dispatcher listening" in line]
    assert len(listening) >= 2 and listening[-1].endswith(f"127.0.0.1:{pair.standby.port})"), \
        listening
    assert watch.answers["/workers"].get(200), watch.answers



def test_list_page_reads_the_standby(rng):
    """READ_DATABASE_URL at the standby: the requests list and the overview read it, writes
    go to the primary. With the standby's replay paused, a new request is stored (on the
    primary) but not listed; once replay resumes it is."""
    pair = PrimaryAndStandby("reads")
    pair.setup()
    try:
        with extra_app({"SQLALCHEMY_DATABASE_URI": config._database_url(pair.url()),
                        "READ_DATABASE_URL": pair.standby_url, "TESTING": True}) as app:
            reset_schema(app)
            token = create_user(app, "operator", "reader", "correct horse battery")
            client = app.test_client()
            sign_in(client, "reader", "correct horse battery")

            def submit():
                answer = client.post("/api/requests", data={"job_type": "simulate",
                                                            "params": "{}"},
                                     headers={"Authorization": f"Bearer {token}"})
                assert answer.status_code == 201, answer.get_json()
                return answer.get_json()["id"]

            def listed(request_id):
                page = client.get("/")
                assert page.status_code == 200
                return f'/requests/{request_id}"' in page.get_data(as_text=True)

            first = submit()
            wait_for(lambda: listed(first), 20, what="the standby replays the first request")
            pair.standby.psql("SELECT pg_wal_replay_pause();\n")
            second = submit()
            assert _on(pair.primary, pair.dbname, second)
            assert not _on(pair.standby, pair.dbname, second)
            assert not listed(second), "the list read the primary, not the standby"
            pair.standby.psql("SELECT pg_wal_replay_resume();\n")
            wait_for(lambda: listed(second), 20, what="listed once replayed")
    finally:
        pair.stop()
    line = ("   READ_DATABASE_URL at the standby: the list page read it (a request stored while"
            " replay was paused was listed only after it resumed); writes went to the primary")
    REPORTS.append(line)
    print(line)


def _on(pg, dbname, request_id):
    """True when the server `pg` has the request row."""
    out = pg.psql(f"\\c {dbname}\nSELECT 'found' FROM requests WHERE id = {int(request_id)};\n")
    return "found" in out
