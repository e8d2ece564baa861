"""Apps besides the suite's: a second one for other settings, one with no services at all."""
from contextlib import contextmanager

import celery

from dashboard import create_app
from dashboard.extensions import db

# Port 9 (discard) on loopback: nothing listens, so a stray query or publish fails at once.
NOWHERE = {
    "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg2://unit:unit@127.0.0.1:9/unit",
    "BROKER_URL": "amqp://unit:unit@127.0.0.1:9//",
}


@contextmanager
def celery_default_kept():
    """Whatever Celery app is current and default on entry is so again on exit
    (create_app makes its own Celery app the process default)."""
    previous = celery.current_app._get_current_object()
    try:
        yield previous
    finally:
        previous.set_current()
        previous.set_default()


@contextmanager
def extra_app(config=None):
    """A second app (e.g. other limits) for one test; afterwards its pool is closed and the
    Celery app that was the process default before is the default again."""
    with celery_default_kept():
        built = create_app(config)
        try:
            yield built
        finally:
            with built.app_context():
                db.session.remove()
                db.engine.dispose()


def app_without_services(**config):
    """The dashboard app in development mode, its database and broker unreachable (the unit
    tier's); Celery's default app is left as it was."""
    with celery_default_kept():
        return create_app({"TESTING": True, "ENV": "development",
                           "SECRET_KEY": "unit-tier-secret-key-0123456789",
                           "FLOWER_URL": "/flower", **NOWHERE, **config})
