"""Defaults in code; the environment overrides them; tests pass a dict last."""
import os

DEV_SECRET_KEY = "dev-only-secret-key-do-not-use-in-production"


def _env_int(name, default):
    """An integer from the environment, or the default."""
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


def _env_float(name, default):
    """A float from the environment, or the default."""
    value = os.environ.get(name)
    return float(value) if value not in (None, "") else default


def load():
    """Settings as a dict, read from the environment now (not at import)."""
    env = os.environ.get("DASHBOARD_ENV", "production")
    database_url = os.environ.get(
        "DATABASE_URL", "postgresql+psycopg2://dashboard@127.0.0.1:55432/dashboard"
    )
    if database_url.startswith("postgresql://") or database_url.startswith("postgres://"):
        # SQLAlchemy 2.1 maps plain postgresql:// to psycopg 3; we ship psycopg2.
        database_url = "postgresql+psycopg2://" + database_url.split("://", 1)[1]
    max_upload_mb = _env_int("MAX_UPLOAD_MB", 64)
    web_host = os.environ.get("WEB_HOST", "127.0.0.1")
    web_port = _env_int("WEB_PORT", 8000)
    return {
        "ENV": env,
        "SECRET_KEY": os.environ.get("SECRET_KEY", DEV_SECRET_KEY),
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True, "pool_size": 10, "max_overflow": 10},
        "BROKER_URL": os.environ.get(
            "CELERY_BROKER_URL", "amqp://guest:guest@127.0.0.1:55672/dashboard"
        ),
        "WEB_HOST": web_host,
        "WEB_PORT": web_port,
        "FLOWER_URL": os.environ.get("FLOWER_URL", "/flower").rstrip("/"),
        "FLOWER_UPSTREAM": os.environ.get("FLOWER_UPSTREAM", "http://127.0.0.1:5555"),
        "SMTP_HOST": os.environ.get("SMTP_HOST", ""),
        "SMTP_PORT": _env_int("SMTP_PORT", 25),
        "SMTP_FROM": os.environ.get("SMTP_FROM", "dashboard@localhost"),
        "MAX_UPLOAD_MB": max_upload_mb,
        # Werkzeug refuses bodies past this with 413 before anything is stored.
        "MAX_CONTENT_LENGTH": max_upload_mb * 1024 * 1024 + 64 * 1024,
        "MAX_FORM_MEMORY_SIZE": 1024 * 1024,
        "POLL_INTERVAL_S": _env_float("POLL_INTERVAL_S", 2.0),
        "DISPATCH_SWEEP_S": _env_float("DISPATCH_SWEEP_S", 5.0),
        "DISPATCH_BATCH": _env_int("DISPATCH_BATCH", 200),
        # A pending row older than this with no worker start is republished.
        "REPUBLISH_AFTER_S": _env_float("REPUBLISH_AFTER_S", 60.0),
        "ADMIN_PASSWORD": os.environ.get("DASHBOARD_ADMIN_PASSWORD", ""),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": os.environ.get("SESSION_COOKIE_SECURE", "") == "1",
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "WTF_CSRF_TIME_LIMIT": None,
        "RATELIMIT_STORAGE_URI": os.environ.get("RATELIMIT_STORAGE_URI", "memory://"),
        "RATELIMIT_HEADERS_ENABLED": True,
        "LOGIN_RATE_LIMIT": os.environ.get("LOGIN_RATE_LIMIT", "10 per minute"),
    }


def check(config):
    """Refuse to run in production with development secrets."""
    if config["ENV"] != "development" and not config.get("TESTING"):
        if config["SECRET_KEY"] in ("", DEV_SECRET_KEY) or len(config["SECRET_KEY"]) < 16:
            raise RuntimeError(
                "SECRET_KEY is unset or the development default: set SECRET_KEY "
                "(32+ random characters) or DASHBOARD_ENV=development"
            )
