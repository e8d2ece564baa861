"""The benchmark's own database, broker vhost and processes (workers, dispatcher, web).

The machinery shared with the test suite is deploy/stack.py's, re-exported here.
"""
import os
import secrets

from deploy import services
from deploy import stack as shared
# The process machinery and /proc readings the tests use too (deploy/stack.py), as bench.stack.*:
from deploy.stack import (  # noqa: F401
    BIN, ROOT, answers, children, cpu_seconds, free_port, gone, memory_kb, pids_named,
    process_state, reset_schema, rss_kb, stat_fields, upgrade_schema, wait_for, web_argv)

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


class Proc(shared.Proc):
    """A child process of the bench, logging to LOG_DIR/NAME.log by default."""

    def __init__(self, name, argv, env=None, log_dir=LOG_DIR):
        super().__init__(name, argv, env, log_dir=log_dir)


def worker(name, app="worker", concurrency=2, extra_env=None, loglevel="WARNING"):
    """A prefork Celery worker NAME@bench with the dashboard's worker flags."""
    return Proc(name, [os.path.join(BIN, "celery"), "-A", app, "worker", "-n", f"{name}@bench",
                       "-E", "--pool", "prefork", "--concurrency", str(concurrency),
                       "--without-mingle", "--without-gossip", "--loglevel", loglevel,
                       "--pidfile", os.path.join(LOG_DIR, f"{name}.pid")], extra_env)


def dispatcher(name="dispatcher", extra_env=None):
    """The PostgreSQL listener."""
    return Proc(name, [os.path.join(BIN, "flask"), "--app", "wsgi", "dispatcher"], extra_env)


def web(port, workers=2, threads=8):
    """gunicorn as deploy/supervisord.conf runs it (gthread, 2 workers x 8 threads)."""
    return Proc("web", web_argv(port, workers, threads))


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
