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

from . import config, create_app

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
        return create_app()
    except config.ConfigError as error:
        refuse(error)


def check():
    """Validate the settings without building the app (gunicorn's master), or exit with one line."""
    read_settings_file()
    try:
        config.check(config.load())
    except config.ConfigError as error:
        refuse(error)
