"""Private PostgreSQL and RabbitMQ instances for the service chaos tests.

Each lives under var/chaos/ on its own ports, so killing it -9 touches no one
else's database or broker (deploy/services.sh's shared ones stay up).
"""
import glob
import os
import shutil
import signal
import socket
import subprocess
import time

from bench.stack import children as procs_children
from tests.support.procs import is_dead

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CHAOS_DIR = os.path.join(ROOT, "var", "chaos")
IS_ROOT = os.geteuid() == 0


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.3):
            return True
    except OSError:
        return False


def wait(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.2)


def as_user(user, argv):
    """argv run as a service user when we are root (servers refuse to run as root)."""
    return ["runuser", "-u", user, "--", *argv] if IS_ROOT else list(argv)


def own(user, path):
    if IS_ROOT:
        subprocess.run(["chown", "-R", f"{user}:", path], check=True)


def alive(pid):
    """True while the process runs (not gone, not a zombie)."""
    return not is_dead(pid)


class PrivatePostgres:
    """A throwaway cluster (trust auth on loopback) with one database owned by `dashboard`."""

    def __init__(self, name="chaos"):
        self.dir = os.path.join(CHAOS_DIR, f"pg-{name}")
        self.data, self.sock = os.path.join(self.dir, "data"), os.path.join(self.dir, "run")
        self.log = os.path.join(self.dir, "postgres.log")
        self.port, self.dbname = free_port(), f"dashboard_{name}"
        versions = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
        if not versions:
            raise RuntimeError("PostgreSQL binaries missing (make services installs them)")
        self.bin = versions[-1]

    @property
    def url(self):
        return f"postgresql+psycopg2://dashboard@127.0.0.1:{self.port}/{self.dbname}"

    def _pg(self, tool, *args, check=True):
        return subprocess.run(as_user("postgres", [os.path.join(self.bin, tool), *args]),
                              check=check, capture_output=True, text=True)

    def setup(self):
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.sock)
        own("postgres", self.dir)
        self._pg("initdb", "-D", self.data, "--auth=trust", "-U", "postgres",
                 "--encoding=UTF8", "--locale=C.UTF-8")
        with open(os.path.join(self.data, "postgresql.auto.conf"), "a") as fh:
            fh.write(f"port = {self.port}\nlisten_addresses = '127.0.0.1'\n"
                     f"unix_socket_directories = '{self.sock}'\nmax_connections = 100\n"
                     "shared_buffers = 64MB\nfsync = on\nrestart_after_crash = on\n")
        self.start()
        for sql in ("CREATE ROLE dashboard LOGIN",
                    f"CREATE DATABASE {self.dbname} OWNER dashboard"):
            self._pg("psql", "-h", self.sock, "-p", str(self.port), "-U", "postgres",
                     "-d", "postgres", "-X", "-q", "-c", sql)
        return self

    def postmaster_pid(self):
        try:
            with open(os.path.join(self.data, "postmaster.pid")) as fh:
                return int(fh.readline())
        except (FileNotFoundError, ValueError):
            return None

    def ready(self):
        return self._pg("pg_isready", "-q", "-h", self.sock, "-p", str(self.port),
                        check=False).returncode == 0

    def start(self):
        pid = self.postmaster_pid()
        if pid and not alive(pid):   # killed -9, maybe a zombie nobody reaps: stale lock
            os.remove(os.path.join(self.data, "postmaster.pid"))
            for lock in glob.glob(os.path.join(self.sock, ".s.PGSQL.*.lock")):
                os.remove(lock)
        self._pg("pg_ctl", "-D", self.data, "-l", self.log, "-w", "-t", "60", "start")
        wait(self.ready, 60, "private PostgreSQL ready")

    def kill_postmaster(self):
        """kill -9 the postmaster; wait until its server processes are gone too."""
        pid = self.postmaster_pid()
        children = procs_children(pid)
        os.kill(pid, signal.SIGKILL)
        wait(lambda: not any(alive(p) for p in [pid, *children]), 60,
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
        self._pg("pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop", check=False)
        shutil.rmtree(self.dir, ignore_errors=True)


class PrivateRabbit:
    """A RabbitMQ node of our own (own name, ports, cookie and data) with vhost `dashboard`."""

    BIN = "/usr/lib/rabbitmq/bin"

    def __init__(self, name="chaos"):
        self.dir = os.path.join(CHAOS_DIR, f"rabbit-{name}")
        self.node = f"{name}-{os.getpid()}@localhost"
        self.port, self.dist_port = free_port(), free_port()
        self.popen = None

    @property
    def url(self):
        return f"amqp://dashboard:chaos@127.0.0.1:{self.port}/dashboard"

    def _env(self):
        return ["env", f"HOME={self.dir}", f"RABBITMQ_CONF_ENV_FILE={self.dir}/rabbitmq-env.conf",
                f"ERL_CRASH_DUMP={self.dir}/log/erl_crash.dump"]

    def setup(self):
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(os.path.join(self.dir, "log"))
        os.makedirs(os.path.join(self.dir, "mnesia"))
        with open(os.path.join(self.dir, ".erlang.cookie"), "w") as fh:
            fh.write(os.urandom(20).hex().upper())
        os.chmod(os.path.join(self.dir, ".erlang.cookie"), 0o400)
        with open(os.path.join(self.dir, "rabbitmq-env.conf"), "w") as fh:
            fh.write(f"RABBITMQ_NODENAME={self.node}\nRABBITMQ_NODE_IP_ADDRESS=127.0.0.1\n"
                     f"RABBITMQ_NODE_PORT={self.port}\nRABBITMQ_DIST_PORT={self.dist_port}\n"
                     f"RABBITMQ_CONFIG_FILE={self.dir}/rabbitmq.conf\n"
                     f"RABBITMQ_ENABLED_PLUGINS_FILE={self.dir}/enabled_plugins\n"
                     f"RABBITMQ_MNESIA_BASE={self.dir}/mnesia\nRABBITMQ_LOG_BASE={self.dir}/log\n"
                     f"RABBITMQ_PID_FILE={self.dir}/rabbitmq.pid\n"
                     'RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface'
                     ' {127,0,0,1}"\nERL_EPMD_ADDRESS=127.0.0.1\n')
        with open(os.path.join(self.dir, "rabbitmq.conf"), "w") as fh:
            fh.write(f"listeners.tcp.default = 127.0.0.1:{self.port}\n"
                     "consumer_timeout = 7200000\ndefault_user = dashboard\n"
                     "default_pass = chaos\ndefault_vhost = dashboard\n"
                     "default_permissions.configure = .*\ndefault_permissions.read = .*\n"
                     "default_permissions.write = .*\n")
        with open(os.path.join(self.dir, "enabled_plugins"), "w") as fh:
            fh.write("[].\n")
        own("rabbitmq", self.dir)
        self.start()
        return self

    def beam_pid(self):
        try:
            with open(os.path.join(self.dir, "rabbitmq.pid")) as fh:
                return int(fh.read().strip())
        except (FileNotFoundError, ValueError):
            return None

    def start(self):
        try:
            os.remove(os.path.join(self.dir, "rabbitmq.pid"))
        except FileNotFoundError:
            pass
        with open(os.path.join(self.dir, "log", "startup.log"), "ab") as log:
            self.popen = subprocess.Popen(
                as_user("rabbitmq", [*self._env(), os.path.join(self.BIN, "rabbitmq-server")]),
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True)
        wait(lambda: port_open(self.port) or self.popen.poll() is not None, 180,
             "private RabbitMQ listening")
        if self.popen.poll() is not None:
            raise RuntimeError(f"RabbitMQ exited; see {self.dir}/log/")
        self._ctl("await_startup", "--timeout", "120")

    def _ctl(self, *args):
        ctl = os.path.join(self.BIN, "rabbitmqctl")
        return subprocess.run(as_user("rabbitmq", [*self._env(), ctl, "-n", self.node, "-q", *args]),
                              capture_output=True, text=True, timeout=180)

    def kill(self):
        """kill -9 the Erlang VM (the node's whole process group)."""
        pid = self.beam_pid()
        try:
            os.killpg(self.popen.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.popen.wait(30)
        if pid:
            wait(lambda: not alive(pid), 30, "beam.smp gone")
        wait(lambda: not port_open(self.port), 30, "AMQP port closed")

    def stop(self):
        if self.popen is not None and self.popen.poll() is None:
            self._ctl("shutdown")
            try:
                self.popen.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)
