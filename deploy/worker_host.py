"""`make worker-host`: this host's workers in the foreground under supervisord.

    .venv/bin/python deploy/worker_host.py

Reads DATABASE_URL and CELERY_BROKER_URL (the environment, else `.env`), checks
that PostgreSQL and RabbitMQ answer and accept the password (one line and exit 1
when not), writes var/worker-host/supervisord.conf with WORKERS programs
(worker1 .. workerN, Celery names workerN@<hostname>) and runs supervisord -n.
A worker that keeps failing to start ends FATAL after a few tries (no restart
loop); when every worker is FATAL this command stops with one line and exit 1.
SUPERVISOR_LISTEN=address:port also serves supervisord's XML-RPC over HTTP
(user `dashboard`, SUPERVISOR_PASSWORD) for the dashboard's SUPERVISORS setting.
"""
import os
import re
import signal
import subprocess
import sys
import time
import xmlrpc.client

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from deploy import worker_host_checks as checks  # noqa: E402
from deploy.worker_host_conf import supervisord_conf  # noqa: E402

DIR = os.path.join(ROOT, "var", "worker-host")
LOG_DIR = os.path.join(ROOT, "var", "log", "worker-host")
EXIT_BAD_SETTINGS, EXIT_UNREACHABLE = 2, 1


def say(message):
    """One line on stderr, prefixed with the command's name."""
    print(f"worker-host: {message}", file=sys.stderr, flush=True)


def settings():
    """(database URL, broker URL, workers, listen, password) from the environment and .env."""
    from dashboard import config, entry
    entry.read_settings_file()
    try:
        loaded = config.load()
        config.check(loaded)
    except config.ConfigError as error:
        raise checks.BadSetting(str(error)) from None
    workers = os.environ.get("WORKERS", "2").strip()
    if not workers.isdigit() or not 1 <= int(workers) <= 64:
        raise checks.BadSetting(f"WORKERS: must be a whole number from 1 to 64, not {workers!r}")
    concurrency = os.environ.get("WORKER_CONCURRENCY", "2").strip()
    if not concurrency.isdigit() or not 1 <= int(concurrency) <= 64:
        raise checks.BadSetting(f"WORKER_CONCURRENCY: a whole number from 1 to 64, not {concurrency!r}")
    queues = os.environ.get("WORKER_QUEUES", "requests").strip()
    if not re.fullmatch(r"[A-Za-z0-9_.-]+(,[A-Za-z0-9_.-]+)*", queues):
        raise checks.BadSetting(f"WORKER_QUEUES: queue names separated by commas, not {queues!r}")
    listen = os.environ.get("SUPERVISOR_LISTEN", "").strip()
    password = os.environ.get("SUPERVISOR_PASSWORD", "").strip()
    if listen and (":" not in listen or not listen.rsplit(":", 1)[1].isdigit()):
        raise checks.BadSetting(f"SUPERVISOR_LISTEN: address:port, not {listen!r}")
    if listen and len(password) < 12:
        raise checks.BadSetting("SUPERVISOR_PASSWORD: at least 12 characters when"
                                " SUPERVISOR_LISTEN serves supervisord over the network")
    return loaded["SQLALCHEMY_DATABASE_URI"], loaded["BROKER_URL"], int(workers), listen, password


def states(password):
    """{program: state} from this supervisord, or None while it does not answer."""
    from supervisor.xmlrpc import SupervisorTransport
    transport = SupervisorTransport("dashboard", password, f"unix://{DIR}/supervisor.sock")
    try:
        proxy = xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport)
        return {p["name"]: p["statename"] for p in proxy.supervisor.getAllProcessInfo()}
    except (OSError, xmlrpc.client.Error):
        return None
    finally:
        transport.close()


def last_line(path):
    """The last non-empty line of a log file ('' when there is none)."""
    try:
        with open(path, "rb") as fh:
            fh.seek(max(0, os.path.getsize(path) - 4096))
            lines = [x for x in fh.read().decode(errors="replace").splitlines() if x.strip()]
    except OSError:
        return ""
    return lines[-1].strip() if lines else ""


def supervise(conf, password, workers):
    """Run supervisord -n until it ends or every worker is FATAL; its exit status."""
    child = subprocess.Popen([os.path.join(ROOT, ".venv", "bin", "supervisord"), "-n",
                              "-c", conf], cwd=ROOT, stdin=subprocess.DEVNULL)
    stopping = []

    def stop(signum, _frame):
        stopping.append(signum)
        child.send_signal(signal.SIGTERM)
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, stop)
    while child.poll() is None:
        time.sleep(1)
        now = states(password) if not stopping else None
        if now and len(now) == workers and set(now.values()) == {"FATAL"}:
            say(f"every worker failed to start: {last_line(os.path.join(LOG_DIR, 'worker1.log'))}"
                f" ({os.path.relpath(LOG_DIR, ROOT)}/worker1.log)")
            child.send_signal(signal.SIGTERM)
            child.wait()
            return EXIT_UNREACHABLE
    return 0 if stopping else child.returncode


def main():
    """Check, configure, supervise; one line and a non-zero exit for each kind of failure."""
    try:
        database_url, broker_url, workers, listen, password = settings()
    except checks.BadSetting as error:
        say(str(error))
        return EXIT_BAD_SETTINGS
    try:
        checks.database(database_url)
        checks.broker(broker_url)
    except checks.Unreachable as error:
        say(str(error))
        return EXIT_UNREACHABLE
    os.makedirs(DIR, mode=0o700, exist_ok=True)
    os.makedirs(LOG_DIR, exist_ok=True)
    password = password or checks.random_password()
    conf = os.path.join(DIR, "supervisord.conf")
    with open(os.open(conf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as fh:
        fh.write(supervisord_conf(ROOT, DIR, LOG_DIR, workers, listen, password))
    host = os.uname().nodename
    say(f"{workers} worker(s) on {host} ({', '.join(f'worker{n}@{host}' for n in range(1, workers + 1))});"
        f" logs in {os.path.relpath(LOG_DIR, ROOT)}/; Ctrl-C stops them"
        + (f"; supervisord XML-RPC on http://{listen}/RPC2" if listen else ""))
    return supervise(conf, password, workers)


if __name__ == "__main__":
    sys.exit(main())
