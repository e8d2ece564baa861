"""Defaults in code; the environment overrides them; tests pass a dict last.

The processes read the settings file `.env` into the environment first (dashboard/entry.py).
A bad setting raises ConfigError, whose message names the variable.
"""
import os
import re
from urllib.parse import unquote, urlsplit

import limits
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

DEV_SECRET_KEY = "dev-only-secret-key-do-not-use-in-production"
# Initial admin passwords refused outside development (guessable or documented defaults).
WEAK_ADMIN_PASSWORDS = {"admin", "password", "changeme", "change-me", "dashboard", "secret"}
BROKER_SCHEMES = ("amqp", "amqps", "pyamqp")
QUEUE_TYPES = ("classic", "quorum")
# libpq's several hosts in one URL: scheme://[user[:password]@]h1[:p1],h2[:p2]/rest
MULTI_HOST = re.compile(r"^(?P<scheme>[^:/]+)://(?:(?P<auth>[^@/]*)@)?(?P<hosts>[^/?@]*,[^/?@]*)"
                        r"(?P<rest>[/?].*)?$")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class ConfigError(RuntimeError):
    """A setting is missing or invalid; the message names the variable and what it needs."""


def _env_number(name, default, kind):
    """A number from the environment, or the default; a clear error when it is not one."""
    value = os.environ.get(name)
    if value in (None, ""):
        return default
    try:
        return kind(value)
    except ValueError:
        raise ConfigError(f"{name}={value!r} is not a valid {kind.__name__}") from None


def _env_int(name, default):
    """An integer from the environment, or the default."""
    return _env_number(name, default, int)


def _env_float(name, default):
    """A float from the environment, or the default."""
    return _env_number(name, default, float)


def load():
    """Settings as a dict, read from the environment now (not at import)."""
    env = os.environ.get("DASHBOARD_ENV", "production")
    database_url = _database_url(os.environ.get(
        "DATABASE_URL", "postgresql+psycopg2://dashboard@127.0.0.1:55432/dashboard"))
    broker_url = os.environ.get("CELERY_BROKER_URL",
                                "amqp://guest:guest@127.0.0.1:55672/dashboard")
    # Several nodes of one cluster: `amqp://a;amqp://b;amqp://c`, tried in turn (failover).
    if any(u.split("://", 1)[0] not in BROKER_SCHEMES or "://" not in u
           for u in broker_url.split(";")):
        raise ConfigError("CELERY_BROKER_URL is not a RabbitMQ URL"
                          " (amqp://user:password@host:port/vhost, several joined by ';')")
    queue_type = os.environ.get("QUEUE_TYPE", "classic").strip().lower() or "classic"
    if queue_type not in QUEUE_TYPES:
        raise ConfigError(f"QUEUE_TYPE={queue_type!r} is not one of {', '.join(QUEUE_TYPES)}")
    read_database_url = os.environ.get("READ_DATABASE_URL", "").strip()
    max_upload_mb = _env_int("MAX_UPLOAD_MB", 1024)
    log_level = os.environ.get("LOG_LEVEL", "INFO").upper()
    if log_level not in LOG_LEVELS:
        raise ConfigError(f"LOG_LEVEL={log_level!r} is not one of {', '.join(LOG_LEVELS)}")
    web_host = os.environ.get("WEB_HOST", "127.0.0.1")
    web_port = _env_int("WEB_PORT", 8000)
    return {
        "ENV": env,
        "LOG_LEVEL": log_level,
        "SECRET_KEY": os.environ.get("SECRET_KEY", DEV_SECRET_KEY),
        "SQLALCHEMY_DATABASE_URI": database_url,
        # A standby the list and overview pages may read from (empty: the primary).
        "READ_DATABASE_URL": (_database_url(read_database_url, "READ_DATABASE_URL")
                              if read_database_url else ""),
        # No pre-ping round trip per checkout: a dead connection raises (503 on the
        # web, requeue in workers) and SQLAlchemy then replaces the whole pool.
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": False, "pool_size": 10, "max_overflow": 10},
        "BROKER_URL": broker_url,
        # "quorum": every queue of the service is a RabbitMQ quorum queue (replicated).
        "QUEUE_TYPE": queue_type,
        "WEB_HOST": web_host,
        "WEB_PORT": web_port,
        "FLOWER_URL": os.environ.get("FLOWER_URL", "/flower").rstrip("/"),
        # Where the /flower/ proxy finds Flower: `unix:PATH` (its socket, the default) or a URL.
        "FLOWER_UPSTREAM": os.environ.get("FLOWER_UPSTREAM", "unix:" + os.path.join(
            os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "var", "run", "flower",
            "flower.sock")),
        "SMTP_HOST": os.environ.get("SMTP_HOST", ""),
        # The `link` notify callback is attached when set (default: when SMTP_HOST is).
        "NOTIFY_ON_SUCCESS": os.environ.get(
            "NOTIFY_ON_SUCCESS", "1" if os.environ.get("SMTP_HOST") else "0") == "1",
        "SMTP_PORT": _env_int("SMTP_PORT", 25),
        # Where emails link to (the request page is DASHBOARD_URL/requests/<id>).
        "DASHBOARD_URL": os.environ.get("DASHBOARD_URL", f"http://{web_host}:{web_port}"),
        "SMTP_FROM": os.environ.get("SMTP_FROM", "dashboard@localhost"),
        # Alerts (dashboard/alerts): a receiver or SMTP server slower than this is cut off
        # and tried again after ALERT_RETRY_BASE_S * 2^tries (capped), ALERT_MAX_TRIES in all.
        "ALERT_SEND_TIMEOUT_S": _env_float("ALERT_SEND_TIMEOUT_S", 5.0),
        "ALERT_RETRY_BASE_S": _env_float("ALERT_RETRY_BASE_S", 2.0),
        "ALERT_RETRY_MAX_S": _env_float("ALERT_RETRY_MAX_S", 300.0),
        "ALERT_MAX_TRIES": _env_int("ALERT_MAX_TRIES", 10),
        # Beat's alert thread: a round (ping the workers, send what is due) this often.
        "ALERT_ROUND_S": _env_float("ALERT_ROUND_S", 2.0),
        "ALERT_PING_TIMEOUT_S": _env_float("ALERT_PING_TIMEOUT_S", 1.0),
        "MAX_UPLOAD_MB": max_upload_mb,
        # Werkzeug refuses bodies past this with 413 before anything is stored.
        "MAX_CONTENT_LENGTH": max_upload_mb * 1024 * 1024 + 64 * 1024,
        "MAX_FORM_MEMORY_SIZE": 1024 * 1024,
        # How long a submit's Idempotency-Key answers with the request it created (hours).
        "IDEMPOTENCY_TTL_H": _env_float("IDEMPOTENCY_TTL_H", 24.0),
        # The largest volume load_array takes, also what an archive may unpack to.
        "MAX_VOLUME_MB": _env_int("MAX_VOLUME_MB", 2048),
        # Where the web keeps local copies of loaded volumes for the slice viewer.
        "VOLUME_CACHE_DIR": os.environ.get("VOLUME_CACHE_DIR", os.path.join(
            os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "var", "cache",
            "volumes")),
        "VOLUME_CACHE_MB": _env_int("VOLUME_CACHE_MB", 8192),
        # Modules of job types that are not an installed package (comma-separated, each with
        # JOB_TYPES), loaded with the built-in ones and the `request_dashboard.job_types`
        # entry points of installed packages (dashboard/jobs/__init__.py).
        "JOB_TYPE_MODULES": tuple(
            m.strip() for m in os.environ.get("JOB_TYPE_MODULES", "").split(",") if m.strip()),
        "POLL_INTERVAL_S": _env_float("POLL_INTERVAL_S", 2.0),
        # How long one web process reuses the overview it computed while no request changed
        # (every viewer polls it; see views/overview.py).
        "OVERVIEW_CACHE_S": _env_float("OVERVIEW_CACHE_S", 1.0),
        # Log lines kept per attempt (then one "truncated" line), and the worker's flush period.
        "LOG_LINES_PER_ATTEMPT": _env_int("LOG_LINES_PER_ATTEMPT", 10000),
        "LOG_FLUSH_S": _env_float("LOG_FLUSH_S", 0.5),
        "DISPATCH_SWEEP_S": _env_float("DISPATCH_SWEEP_S", 5.0),
        "DISPATCH_BATCH": _env_int("DISPATCH_BATCH", 200),
        # Short requests (their job type can tell they end within BATCH_MAX_S) share a
        # message: up to BATCH_SIZE of them, at most BATCH_MAX_S of expected run time in
        # all, started and finished in one statement each (tasks.run_batch). 1: one each.
        "BATCH_SIZE": _env_int("BATCH_SIZE", 32),
        "BATCH_MAX_S": _env_float("BATCH_MAX_S", 1.0),
        # A task-sent event for every message published (Celery's task_send_sent_event): a
        # request waiting in RabbitMQ is then seen by Flower, `celery events` and query_task.
        "TASK_SENT_EVENTS": os.environ.get("TASK_SENT_EVENTS", "1") == "1",
        # Messages each pool process of a worker may hold reserved (Celery's prefetch multiplier).
        "WORKER_PREFETCH_MULTIPLIER": _env_int("WORKER_PREFETCH_MULTIPLIER", 1),
        # AMQP heartbeat (seconds) a worker asks for: a worker host cut off from RabbitMQ is
        # noticed within about two of these, and its unacknowledged messages go back to the queue.
        "BROKER_HEARTBEAT_S": _env_float("BROKER_HEARTBEAT_S", 60.0),
        # A pending row older than this with no worker start is republished.
        "REPUBLISH_AFTER_S": _env_float("REPUBLISH_AFTER_S", 60.0),
        # Seconds the /flower/ proxy waits for Flower (connect, then each read).
        "FLOWER_TIMEOUT_S": _env_float("FLOWER_TIMEOUT_S", 30.0),
        # Schedules (dashboard/beat.py): how often beat reads the table; a fire time older
        # than the grace when beat first sees it was missed (catch_up decides).
        "SCHEDULE_TICK_S": _env_float("SCHEDULE_TICK_S", 1.0),
        "SCHEDULE_GRACE_S": _env_float("SCHEDULE_GRACE_S", 10.0),
        # Retention (dashboard/retention.py): finished requests older than this go; 0 keeps all.
        "RETENTION_DAYS": _env_int("RETENTION_DAYS", 90),
        "RETENTION_BATCH": _env_int("RETENTION_BATCH", 1000),
        "RETENTION_EVERY_S": _env_float("RETENTION_EVERY_S", 3600.0),
        # Uploads no request or volume record refers to go once older than this (retention).
        "UPLOAD_ORPHAN_GRACE_S": _env_float("UPLOAD_ORPHAN_GRACE_S", 3600.0),
        "ADMIN_PASSWORD": os.environ.get("DASHBOARD_ADMIN_PASSWORD", ""),
        # This host's supervisord socket (empty: deploy/supervisord.conf's [unix_http_server]).
        "SUPERVISOR_SOCKET": os.environ.get("SUPERVISOR_SOCKET", ""),
        # Its [unix_http_server] username and password (deploy/services.py start writes the
        # local stack's password to .env); no password: a socket that asks for none.
        "SUPERVISOR_USERNAME": os.environ.get("SUPERVISOR_USERNAME", "dashboard"),
        "SUPERVISOR_PASSWORD": os.environ.get("SUPERVISOR_PASSWORD", ""),
        # Every host's supervisord for the processes page: name=url pairs, comma separated
        # (http://user:password@host:port/RPC2, or `local` for this host's socket above).
        "SUPERVISORS": _supervisors(os.environ.get("SUPERVISORS", "")),
        # "Why isn't it running?" calls the dispatcher down past this heartbeat age.
        "DISPATCHER_STALE_S": _env_float("DISPATCHER_STALE_S", 10.0),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        # "1" forces Secure; otherwise the cookie is Secure whenever the request came over
        # HTTPS (security.HttpsAwareSessions), behind a proxy once TRUSTED_PROXIES is set.
        "SESSION_COOKIE_SECURE": os.environ.get("SESSION_COOKIE_SECURE", "") == "1",
        # Number of reverse proxies in front of gunicorn whose X-Forwarded-For/-Proto to trust
        # (0: none; the client address is the socket's, HTTPS only when gunicorn terminates it).
        "TRUSTED_PROXIES": _env_int("TRUSTED_PROXIES", 0),
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "WTF_CSRF_TIME_LIMIT": None,
        # memory:// counts per gunicorn worker process (2 workers: up to twice the limit per
        # address or user). Point it at shared storage (redis://, memcached://) to count once.
        "RATELIMIT_STORAGE_URI": os.environ.get("RATELIMIT_STORAGE_URI", "memory://"),
        "RATELIMIT_HEADERS_ENABLED": True,
        # Sign-in budgets (dashboard.web.throttle): attempts per address, failures per address
        # and username, failing addresses per username.
        "LOGIN_RATE_LIMIT": _env_rate("LOGIN_RATE_LIMIT", "10 per minute"),
        "LOGIN_ADDRESS_USER_LIMIT": _env_rate("LOGIN_ADDRESS_USER_LIMIT", "5 per minute"),
        "LOGIN_USER_LIMIT": _env_rate("LOGIN_USER_LIMIT", "20 per hour"),
    }


def _supervisors(value):
    """SUPERVISORS as [(name, url, username, password)]; ConfigError naming the bad entry
    (never its password). url is `local` or http(s)://host:port/path without credentials."""
    found = []
    for entry in filter(None, (e.strip() for e in value.split(","))):
        name, _, url = (part.strip() for part in entry.partition("="))
        shown = url.split("@")[-1]
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}", name) or not url:
            raise ConfigError(f"SUPERVISORS: {name or entry.split('@')[-1]!r} is not name=url"
                              " (a name of letters, digits, '.', '_', '-')")
        if name in [f[0] for f in found]:
            raise ConfigError(f"SUPERVISORS: the name {name!r} appears twice")
        if url == "local":
            found.append((name, "local", None, None))
            continue
        parts = urlsplit(url)
        try:
            parts.port
        except ValueError:
            parts = None
        if not parts or parts.scheme != "http" or not parts.hostname:
            raise ConfigError(f"SUPERVISORS: {name}={shown!r} is not http://user:password@host:"
                              "port/RPC2 or local")
        netloc = parts.hostname + (f":{parts.port}" if parts.port else "")
        found.append((name, f"{parts.scheme}://{netloc}{parts.path or '/RPC2'}",
                      unquote(parts.username or "") or None,
                      unquote(parts.password or "") or None))
    return found


def _env_rate(name, default):
    """A rate limit such as "5 per minute" from the environment, or the default."""
    value = os.environ.get(name) or default
    try:
        limits.parse(value)
    except ValueError:
        raise ConfigError(f"{name}={value!r} is not a rate limit (e.g. '5 per minute')") \
            from None
    return value


def _database_url(value, name="DATABASE_URL"):
    """A PostgreSQL URL for psycopg2; ConfigError naming the variable (never its password)."""
    if value.startswith("postgresql://") or value.startswith("postgres://"):
        # SQLAlchemy 2.1 maps plain postgresql:// to psycopg 3; we ship psycopg2.
        value = "postgresql+psycopg2://" + value.split("://", 1)[1]
    try:
        value = _hosts_as_query(value)
        url = make_url(value)
        url.port  # a non-numeric port raises only when it is read
    except (ArgumentError, ValueError):
        url = None
    if url is None or url.get_backend_name() != "postgresql":
        raise ConfigError(f"{name} is not a PostgreSQL URL"
                          " (postgresql+psycopg2://user:password@host:port/dbname, or several"
                          " hosts: user:password@h1:p1,h2:p2/dbname?target_session_attrs=read-write)")
    return value


def _hosts_as_query(value):
    """libpq's `@h1:p1,h2:p2/db` as SQLAlchemy writes it (`@/db?host=h1:p1&host=h2:p2`)."""
    found = MULTI_HOST.match(value)
    if not found:
        return value
    hosts = [h.strip() for h in found["hosts"].split(",")]
    for host in hosts:
        name, _, port = host.partition(":")
        if not name or (port and not port.isdigit()):
            raise ValueError(f"bad host {host!r}")
    path, _, query = (found["rest"] or "/").partition("?")
    params = "&".join([*(f"host={h}" for h in hosts), *([query] if query else [])])
    auth = f"{found['auth']}@" if found["auth"] is not None else ""
    return f"{found['scheme']}://{auth}{path if path.startswith('/') else '/' + path}?{params}"


def check(config):
    """Refuse to run outside development with development secrets (TESTING changes nothing)."""
    if config["ENV"] == "development":
        return
    if config["SECRET_KEY"] in ("", DEV_SECRET_KEY) or len(config["SECRET_KEY"]) < 16:
        raise ConfigError(
            "SECRET_KEY is unset or the development default: set SECRET_KEY (32+ random"
            " characters) in the environment or in .env (make services writes one there)"
        )
    password = config.get("ADMIN_PASSWORD") or ""
    if password and (len(password) < 12 or password.lower() in WEAK_ADMIN_PASSWORDS):
        raise ConfigError(
            "DASHBOARD_ADMIN_PASSWORD is too weak for production (12+ characters, not a"
            " default); unset it to have a random one generated and printed"
        )
