"""A three-node RabbitMQ cluster and a PostgreSQL primary with a synchronous standby, on one machine.

Both build on the chaos suite's private instances (tests/chaos/services.py: same
install, config and start code as the local stack) under var/chaos/, on free ports:
the RabbitMQ nodes share an Erlang cookie and join the first one (`join_cluster`);
the standby is a `pg_basebackup -R` copy of the primary streaming from it, named in
the primary's `synchronous_standby_names`, promoted with `pg_ctl promote`.
"""
import os
import shutil

from deploy import services

from .services import CHAOS_DIR, PrivatePostgres, PrivateRabbit

STANDBY_NAME = "standby"


class RabbitCluster:
    """Nodes NAME-a, NAME-b, NAME-c (own ports, node names, data dirs), clustered."""

    def __init__(self, name="cluster"):
        self.nodes = [PrivateRabbit(f"{name}-{letter}") for letter in "abc"]
        for node in self.nodes[1:]:   # one user, one password for the whole cluster
            node.password = self.nodes[0].password

    @property
    def url(self):
        """The broker URL list Celery fails over along: `amqp://a;amqp://b;amqp://c`."""
        return ";".join(node.url for node in self.nodes)

    def setup(self):
        first = self.nodes[0].setup()
        cookie = os.path.join(first.base, ".erlang.cookie")
        for node in self.nodes[1:]:
            shutil.rmtree(node.base, ignore_errors=True)
            os.makedirs(node.base)
            shutil.copyfile(cookie, os.path.join(node.base, ".erlang.cookie"))
            node.start()
            node.ctl("stop_app")
            node.ctl("reset")
            node.ctl("join_cluster", first.node)
            node.ctl("start_app")
        running = first.ctl("eval", "length(rabbit_nodes:all_running()).").stdout.strip()
        assert running == "3", f"cluster has {running} running nodes, not 3"
        return self

    def stop(self):
        for node in reversed(self.nodes):
            node.stop()


class PrimaryAndStandby:
    """A primary and its synchronous streaming standby (on two ports); one URL naming both."""

    def __init__(self, name="failover"):
        self.primary = PrivatePostgres(f"{name}_primary")
        self.standby = services.Postgres(os.path.join(CHAOS_DIR, f"pg-{name}-standby"),
                                         services.free_port(),
                                         settings={"max_connections": 100,
                                                   "shared_buffers": "64MB"})
        self.dbname, self.password = self.primary.dbname, self.primary.password

    def url(self, hosts=None):
        """libpq's several-host URL (primary first), read-write sessions only."""
        ports = hosts or [self.primary.port, self.standby.port]
        return (f"postgresql://dashboard:{self.password}@"
                + ",".join(f"127.0.0.1:{p}" for p in ports)
                + f"/{self.dbname}?target_session_attrs=read-write")

    @property
    def standby_url(self):
        return self.standby.url(self.password, self.dbname)

    def setup(self):
        self.primary.setup()
        shutil.rmtree(self.standby.base, ignore_errors=True)
        services.own_dir("postgres", self.standby.base)
        self.primary._tool("pg_basebackup", "-h", self.primary.sock, "-p",
                           str(self.primary.port), "-D", self.standby.data, "-R", "-X", "stream",
                           "-c", "fast", timeout=300)
        with open(os.path.join(self.standby.data, "postgresql.auto.conf"), "a") as fh:
            fh.write(f"primary_conninfo = 'host={self.primary.sock} port={self.primary.port}"
                     f" user=postgres application_name={STANDBY_NAME}'\n")
        self.standby.start()
        self.primary.psql(f"ALTER SYSTEM SET synchronous_standby_names = '{STANDBY_NAME}';\n"
                          "SELECT pg_reload_conf();\n")
        services.wait(lambda: self.sync_state() == "sync", 60, "the standby streaming, sync")
        return self

    def sync_state(self):
        """The standby's state as the primary sees it ('sync' once commits wait for it)."""
        return self.primary.psql(
            "\\pset tuples_only on\n\\pset format unaligned\n"
            f"SELECT sync_state FROM pg_stat_replication WHERE application_name = '{STANDBY_NAME}';\n"
        ).strip()

    def promote(self):
        """The standby becomes the primary (it then accepts writes)."""
        self.standby._tool("pg_ctl", "-D", self.standby.data, "-w", "-t", "60", "promote")

    def stop(self):
        self.standby.stop(mode="immediate")
        shutil.rmtree(self.standby.base, ignore_errors=True)
        self.primary.stop()
