"""The benchmark's own database, broker vhost and processes (workers, dispatcher, web)."""
import os
import secrets
import signal
import subprocess
import sys
import time
from http.client import HTTPException
from urllib.request import urlopen

from deploy import services

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.dirname(sys.executable)
# BENCH_OUT_DIR: another place for the results, logs, pidfiles and done files
# (two checkouts sharing one var/ would otherwise share the workers' pidfiles).
OUT_DIR = os.environ.get("BENCH_OUT_DIR") or os.path.join(ROOT, "var", "bench")
LOG_DIR = os.path.join(OUT_DIR, "logs")
ENV_NAME = "bench"


def isolated_env(name=ENV_NAME):
    """DATABASE_URL / CELERY_BROKER_URL of our own database and vhost.

    BENCH_DATABASE_URL and BENCH_BROKER_URL win when set (in the environment or
    .env); otherwise the service manager creates dashboard_NAME on the local services.
    """
    if os.environ.get("BENCH_DATABASE_URL") and os.environ.get("BENCH_BROKER_URL"):
        return os.environ["BENCH_DATABASE_URL"], os.environ["BENCH_BROKER_URL"]
    found = services.test_env(name)
    return found["TEST_DATABASE_URL"], found["TEST_BROKER_URL"]


def configure(database_url, broker_url, **extra):
    """The environment every process of the bench (and this one) runs with."""
    os.environ.update({
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": broker_url,
        "SECRET_KEY": secrets.token_urlsafe(32),   # production mode, as the local stack
        "LOG_LEVEL": "WARNING",
        "LOGIN_RATE_LIMIT": "100000 per minute",
        "PYTHONUNBUFFERED": "1",
        **extra,
    })
    os.environ.pop("SMTP_HOST", None)   # no notify link: the zero-duration task is the whole job
    os.makedirs(LOG_DIR, exist_ok=True)


def reset_schema(app):
    """Drop and rebuild the schema with the migrations (as the test suite does)."""
    from flask_migrate import upgrade
    from sqlalchemy import text
    from dashboard.extensions import db
    with app.app_context():
        db.session.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        db.session.commit()
        upgrade()


def upgrade_schema(app):
    """Apply the migrations on top of what the database holds (bench --reuse-seed)."""
    from flask_migrate import upgrade
    with app.app_context():
        upgrade()


free_port = services.free_port   # an unused TCP port on loopback


def wait_for(predicate, timeout=30.0, interval=0.05, what="condition", error=RuntimeError):
    """Poll `predicate` until truthy; `error` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise error(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


class Proc:
    """A child process in its own session, logging to LOG_DIR/NAME.log (the tests' too)."""

    running = []

    def __init__(self, name, argv, env=None, log_dir=LOG_DIR):
        self.name, self.argv = name, argv
        self.env = {**os.environ, **(env or {})}
        self.log_dir = log_dir
        self.log_path = os.path.join(log_dir, f"{name}.log")
        self.popen, self.log_offset = None, 0

    def start(self):
        os.makedirs(self.log_dir, exist_ok=True)
        self.log_offset = os.path.getsize(self.log_path) if os.path.exists(self.log_path) else 0
        with open(self.log_path, "ab") as log:
            self.popen = subprocess.Popen(self.argv, cwd=ROOT, env=self.env, stdout=log,
                                          stderr=subprocess.STDOUT, start_new_session=True)
        Proc.running.append(self)
        return self

    @property
    def pid(self):
        return self.popen.pid

    def alive(self):
        return self.popen is not None and self.popen.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=20):
        """Signal the process group; SIGKILL after `timeout`."""
        if self in Proc.running:
            Proc.running.remove(self)
        if not self.alive():
            return
        try:
            os.killpg(self.popen.pid, sig)
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(10)
        except ProcessLookupError:
            pass

    def kill9(self):
        """SIGKILL the whole process group at once."""
        if self.alive():
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(10)

    def log(self):
        """What this run of the process wrote to its log."""
        with open(self.log_path, "rb") as fh:
            fh.seek(self.log_offset)
            return fh.read().decode(errors="replace")

    @classmethod
    def stop_all(cls):
        for proc in list(cls.running):
            proc.stop(timeout=10)


def worker(name, app="worker", concurrency=2, extra_env=None, loglevel="WARNING"):
    """A prefork Celery worker NAME@bench with the dashboard's worker flags."""
    return Proc(name, [os.path.join(BIN, "celery"), "-A", app, "worker", "-n", f"{name}@bench",
                       "-E", "--pool", "prefork", "--concurrency", str(concurrency),
                       "--without-mingle", "--without-gossip", "--loglevel", loglevel,
                       "--pidfile", os.path.join(LOG_DIR, f"{name}.pid")], extra_env)


def dispatcher(name="dispatcher", extra_env=None):
    """The PostgreSQL listener."""
    return Proc(name, [os.path.join(BIN, "flask"), "--app", "wsgi", "dispatcher"], extra_env)


def web_argv(port, workers=2, threads=8):
    """The gunicorn command line of deploy/supervisord.conf (gthread), on a loopback port."""
    return [os.path.join(BIN, "gunicorn"), "--bind", f"127.0.0.1:{port}",
            "--worker-class", "gthread", "--workers", str(workers), "--threads", str(threads),
            "wsgi:app"]


def web(port, workers=2, threads=8):
    """gunicorn as deploy/supervisord.conf runs it (gthread, 2 workers x 8 threads)."""
    return Proc("web", web_argv(port, workers, threads))


def answers(url, timeout=1.0):
    """True when GET `url` answers 200; False for another status or no answer."""
    try:
        with urlopen(url, timeout=timeout) as answer:
            return answer.status == 200
    except (OSError, HTTPException):
        return False


def wait_online(celery_app, names, timeout=60):
    """Until every worker in `names` answers a ping."""
    def online():
        replies = celery_app.control.ping(timeout=0.5) or []
        return set(names) <= {n for reply in replies for n in reply}
    wait_for(online, timeout, what=f"workers {names} online")


def wait_dispatcher(proc, timeout=30):
    """Until the dispatcher's LISTEN connection shows in pg_stat_activity (its log is quiet)."""
    from sqlalchemy import text
    from dashboard.extensions import db

    def listening():
        if not proc.alive():
            raise RuntimeError(f"dispatcher exited; log: {proc.log_path}")
        n = db.session.execute(text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND query ILIKE 'LISTEN requests_unassigned%'")).scalar()
        db.session.rollback()
        return n > 0
    wait_for(listening, timeout, what="dispatcher listening")


def rss_kb(pid):
    """Resident set size of a process in kB (0 when gone)."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except FileNotFoundError:
        pass
    return 0


def children(pid):
    """Direct children of a process."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as fh:
            return [int(p) for p in fh.read().split()]
    except FileNotFoundError:
        return []


stat_fields = services.stat_fields  # /proc/PID/stat after the command name; None when gone
gone = services.process_gone        # the process no longer runs (or is an unreaped zombie)


def process_state(pid):
    """'R', 'S', ... from /proc, 'Z' for a zombie, None when the pid is gone."""
    fields = stat_fields(pid)
    return fields[0] if fields else None


TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid, tree=True):
    """User + system CPU seconds of a process (and its live descendants)."""
    fields = stat_fields(pid)
    if fields is None:
        return 0.0
    total = (int(fields[11]) + int(fields[12])) / TICK
    if tree:
        total += sum(cpu_seconds(child) for child in children(pid))
    return total


def pids_named(name):
    """Pids whose command name (comm) is `name` (e.g. postgres, beam.smp)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/comm") as fh:
                    if fh.read().strip() == name:
                        found.append(int(entry))
            except (FileNotFoundError, ProcessLookupError):
                pass
    return found
