"""A private supervisord for tests: its own config, unix socket and logs in a tmp directory.

The worker programs take their stop/restart settings (stopasgroup, killasgroup,
autorestart, exitcodes, stopsignal) from deploy/supervisord.conf, so the tests
exercise the settings `make run` uses.
"""
import configparser
import os
import secrets
import subprocess
import sys
import time

from tests.support.env import ROOT
from tests.support.procs import wait_for

BIN = os.path.dirname(sys.executable)
DEPLOY_CONF = os.path.join(ROOT, "deploy", "supervisord.conf")
WORKER_ARGS = ("-A worker worker -n {name}@test -E --pool prefork --concurrency 2"
               " --without-mingle --without-gossip --loglevel INFO")
WORKER_KEYS = ("stopsignal", "stopasgroup", "killasgroup", "autorestart", "exitcodes")


def deploy_worker_settings():
    """The stop/restart settings of deploy/supervisord.conf's worker1."""
    parser = configparser.RawConfigParser()
    parser.read(DEPLOY_CONF)
    return {k: parser.get("program:worker1", k) for k in WORKER_KEYS
            if parser.has_option("program:worker1", k)}


class Supervisord:
    """supervisord -n with workers sup1@test, sup2@test and beat, in `directory`."""

    def __init__(self, directory, workers=("sup1", "sup2"), stop_timeout_s=8, stopwaitsecs=30):
        self.dir = str(directory)
        self.socket = os.path.join(self.dir, "supervisor.sock")
        self.conf = os.path.join(self.dir, "supervisord.conf")
        self.workers = workers
        self.stop_timeout_s, self.stopwaitsecs = stop_timeout_s, stopwaitsecs
        self.popen = None
        self.log_offsets = {}
        self.username, self.password = "dashboard", secrets.token_hex(12)  # as make run's

    def write_conf(self):
        settings = "\n".join(f"{k}={v}" for k, v in deploy_worker_settings().items())
        d = self.dir
        parts = [f"""[unix_http_server]
file={self.socket}
chmod=0700
username={self.username}
password={self.password}

[supervisord]
nodaemon=true
directory={ROOT}
pidfile={d}/supervisord.pid
logfile={d}/supervisord.log
childlogdir={d}

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface
"""]
        for name in self.workers:
            parts.append(f"""[program:{name}]
command={BIN}/celery {WORKER_ARGS.format(name=name)}
directory={ROOT}
environment=WORKER_STOP_TIMEOUT_S="{self.stop_timeout_s}"
stopwaitsecs={self.stopwaitsecs}
startsecs=1
{settings}
redirect_stderr=true
stdout_logfile={d}/{name}.log
""")
        parts.append(f"""[program:beat]
command={BIN}/celery -A worker beat --schedule {d}/celerybeat-schedule --pidfile {d}/beat.pid
directory={ROOT}
stopasgroup=true
killasgroup=true
autorestart=true
redirect_stderr=true
stdout_logfile={d}/beat.log
""")
        with open(self.conf, "w") as fh:
            fh.write("\n".join(parts))

    def start(self):
        self.write_conf()
        self.popen = subprocess.Popen([f"{BIN}/supervisord", "-c", self.conf], cwd=ROOT,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda: os.path.exists(self.socket), 20, what="supervisord socket")
        return self

    def call(self, method, *args):
        """One XML-RPC call to this supervisord (connection closed afterwards)."""
        import xmlrpc.client

        from supervisor.xmlrpc import SupervisorTransport
        transport = SupervisorTransport(self.username, self.password, f"unix://{self.socket}")
        try:
            proxy = xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport)
            return getattr(proxy.supervisor, method)(*args)
        finally:
            transport.close()

    def state(self, program):
        return self.call("getProcessInfo", f"{program}:{program}")["statename"]

    def _log_path(self, program):
        return os.path.join(self.dir, f"{program}.log")

    def mark_logs(self):
        """From now on log() reads only what the programs write after this call."""
        self.log_offsets = {p: os.path.getsize(self._log_path(p))
                            for p in (*self.workers, "beat") if os.path.exists(self._log_path(p))}

    def log(self, program):
        """What `program` logged since mark_logs() (everything, if it was never called)."""
        path = self._log_path(program)
        if not os.path.exists(path):
            return ""
        with open(path, "rb") as fh:
            fh.seek(self.log_offsets.get(program, 0))
            return fh.read().decode(errors="replace")

    def stop(self):
        if self.popen is None or self.popen.poll() is not None:
            return
        try:
            self.call("shutdown")
        except Exception:
            self.popen.terminate()
        deadline = time.monotonic() + 60
        while self.popen.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        if self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait(10)
