"""Throw-away PostgreSQL and RabbitMQ for the service chaos tests, and how to kill them -9.

They are deploy/services.py's own Postgres and RabbitMQ (same install, initdb,
config and start code as the local stack), under var/chaos/ on free ports with
fresh random passwords, so killing them touches no one else's database or
broker. This module adds only what fault injection needs: set up from scratch,
kill -9, remove.
"""
import os
import secrets
import shutil
import signal
import subprocess

from deploy.stack import children as procs_children
from deploy import services

CHAOS_DIR = os.path.join(services.VAR, "chaos")


class PrivatePostgres(services.Postgres):
    """A fresh cluster with one database, dashboard_NAME, owned by `dashboard`."""

    def __init__(self, name="chaos"):
        super().__init__(os.path.join(CHAOS_DIR, f"pg-{name}"), services.free_port(),
                         settings={"max_connections": 100, "shared_buffers": "64MB",
                                   "restart_after_crash": "on"})
        self.dbname, self.password = f"dashboard_{name}", secrets.token_hex(16)

    @property
    def url(self):
        return super().url(self.password, self.dbname)

    def setup(self):
        shutil.rmtree(self.base, ignore_errors=True)
        self.start()
        self.ensure(self.password, [self.dbname])
        return self

    def kill_postmaster(self):
        """kill -9 the postmaster; wait until its server processes are gone too."""
        pid = self.postmaster_pid()
        children = procs_children(pid)
        os.kill(pid, signal.SIGKILL)
        services.wait(lambda: all(services.process_gone(p) for p in [pid, *children]), 60,
                      "PostgreSQL processes exit after the postmaster died")

    def kill_backend(self, pids):
        """kill -9 one server process: the postmaster resets every backend (crash recovery)."""
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
                return pid
            except ProcessLookupError:
                continue
        return None

    def stop(self):
        super().stop(mode="immediate")
        shutil.rmtree(self.base, ignore_errors=True)


class PrivateRabbit(services.RabbitMQ):
    """A fresh node NAME-<pid>@localhost with vhost `dashboard`."""

    def __init__(self, name="chaos"):
        super().__init__(os.path.join(CHAOS_DIR, f"rabbit-{name}"), services.free_port(),
                         services.free_port(), f"{name}-{os.getpid()}@localhost",
                         secrets.token_hex(16))

    @property
    def url(self):
        return super().url("dashboard")

    def setup(self):
        shutil.rmtree(self.base, ignore_errors=True)
        self.start()
        return self

    def kill(self):
        """kill -9 the Erlang VM (the node's whole process group)."""
        pid = self.pid()
        try:
            os.killpg(self.popen.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.popen.wait(30)
        if pid:
            services.wait(lambda: services.process_gone(pid), 30, "beam.smp gone")
        services.wait(lambda: not services.port_open(self.port), 30, "AMQP port closed")

    def stop(self):
        if self.popen is not None and self.popen.poll() is None:
            self.ctl("shutdown", check=False)
            try:
                self.popen.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()
        shutil.rmtree(self.base, ignore_errors=True)
