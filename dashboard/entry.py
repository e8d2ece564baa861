"""How every process starts: read the settings file `.env`, build the app; bad settings: one line.

wsgi.py (gunicorn, the flask CLI), worker.py (celery worker, beat, flower),
gunicorn.conf.py (its master, before any worker forks) and the bench start
here, so each reads the same `.env` at the repository root by itself (the local
stack's URLs and secret key, written by deploy/services.py). Real environment
variables win over the file; FLASK_SKIP_DOTENV=1 (Flask's own switch) skips it.
"""
import os
import sys

import dotenv
from flask.helpers import get_load_dotenv
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from dashboard import config, create_app

DOTENV = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), ".env")
EXIT_CONFIG = 2


def read_settings_file(path=DOTENV):
    """Put the file's settings into os.environ where the environment has none; True if read."""
    if not get_load_dotenv() or not os.path.isfile(path):
        return False
    return dotenv.load_dotenv(path, override=False, encoding="utf-8")


def refuse(error):
    """Print one line naming the bad setting and exit non-zero (no traceback)."""
    print(f"configuration error: {error}", file=sys.stderr, flush=True)
    sys.exit(EXIT_CONFIG)


def app():
    """The Flask app from `.env` and the environment, or exit with one line."""
    read_settings_file()
    try:
        built = create_app()
    except config.ConfigError as error:
        refuse(error)
    sys.excepthook = _unreachable_database_as_one_line
    return built


def _unreachable_database_as_one_line(kind, error, tb, default=sys.excepthook):
    """A command (flask users ..., flask db upgrade) that cannot connect with DATABASE_URL says
    so in one line, naming the server, not in a driver traceback; anything else as usual."""
    if isinstance(error, OperationalError) and error.connection_invalidated is False \
            and getattr(error, "statement", None) is None:
        url = make_url(config.load()["SQLALCHEMY_DATABASE_URI"])
        reason = str(error.orig).strip().splitlines()[0]
        print(f"database error: cannot connect with DATABASE_URL ({url.host}:{url.port}/"
              f"{url.database}): {reason}", file=sys.stderr, flush=True)
        return
    default(kind, error, tb)


def check():
    """Validate the settings without building the app (gunicorn's master), or exit with one line."""
    read_settings_file()
    try:
        config.check(config.load())
    except config.ConfigError as error:
        refuse(error)
