"""The application factory and the Celery integration."""
import logging
import os

from celery import Celery, Task
from celery.signals import worker_process_init
from flask import Flask

from dashboard import cli, i18n, jobs, views
from dashboard import config as settings
from dashboard.extensions import (
    READS,
    STANDBY_READS,
    csrf,
    db,
    limiter,
    login_manager,
    migrate,
)
from dashboard.uploads import SpoolingRequest
from dashboard.web import auth, body_caps, security

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The job types this service brings, declared as a team's are (modules exposing JOB_TYPES);
# each app loads them with the entry points' and JOB_TYPE_MODULES' when it is built.
BUILTIN_JOB_TYPE_MODULES = ("dashboard.jobs.simulate", "dashboard.jobs.load_array")


def create_app(test_config=None):
    """Build the Flask app: defaults, then the environment, then `test_config`."""
    app = Flask(__name__, template_folder=os.path.join(ROOT, "templates"),
                static_folder=os.path.join(ROOT, "static"))
    app.request_class = SpoolingRequest  # multipart files go to disk, never to memory
    app.config.from_mapping(settings.load())
    app.config.from_mapping(test_config or {})
    app.config["CELERY"] = celery_settings(app.config)
    settings.check(app.config)
    # Reads that need no transaction (the poll's user + version lookup) use an
    # autocommit engine: one round trip, without BEGIN and ROLLBACK around it.
    app.config.setdefault("SQLALCHEMY_BINDS", {})
    app.config["SQLALCHEMY_BINDS"].setdefault(READS, {
        **app.config["SQLALCHEMY_ENGINE_OPTIONS"],
        "url": app.config["SQLALCHEMY_DATABASE_URI"], "isolation_level": "AUTOCOMMIT"})
    if app.config.get("READ_DATABASE_URL"):   # the list and overview pages read a standby
        app.config["SQLALCHEMY_BINDS"].setdefault(STANDBY_READS, {
            **app.config["SQLALCHEMY_ENGINE_OPTIONS"], "url": app.config["READ_DATABASE_URL"],
            "isolation_level": "AUTOCOMMIT"})
    logging.basicConfig(level=app.config["LOG_LEVEL"],
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    db.init_app(app)
    migrate.init_app(app, db, directory=os.path.join(ROOT, "migrations"))
    login_manager.init_app(app)
    csrf.init_app(app)
    limiter.init_app(app)
    i18n.init_app(app, ROOT)
    celery_init_app(app)
    jobs.register_all(jobs.discover(BUILTIN_JOB_TYPE_MODULES, app.config["JOB_TYPE_MODULES"]))

    body_caps.init_app(app)
    auth.init_app(app)
    security.init_app(app)
    views.init_app(app)
    cli.init_app(app)
    return app


def celery_settings(config):
    """Celery's configuration."""
    return {
        "broker_url": config["BROKER_URL"],
        "broker_connection_retry_on_startup": True,
        "broker_heartbeat": config["BROKER_HEARTBEAT_S"],
        "broker_transport_options": {"confirm_publish": True},
        "result_backend": None,
        "task_ignore_result": True,
        "task_store_errors_even_if_ignored": False,
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": config["WORKER_PREFETCH_MULTIPLIER"],
        "worker_send_task_events": True,
        # Flower and `celery events` list a task from the moment it is published.
        "task_send_sent_event": config["TASK_SENT_EVENTS"],
        "task_default_queue": "requests",
        # QUEUE_TYPE=quorum: `requests` and every job type's own queue are quorum queues
        # (replicated across a RabbitMQ cluster). Celery then uses per-consumer QoS (no
        # global QoS): a worker's prefetch is fixed when it starts (grow and shrink are refused:
        # dashboard/workers/control.py).
        "task_default_queue_type": config["QUEUE_TYPE"],
        "task_create_missing_queue_type": config["QUEUE_TYPE"],
        "worker_detect_quorum_queues": True,
        "task_serializer": "json",
        "accept_content": ["json"],
        "enable_utc": True,
        "timezone": "UTC",
        "worker_hijack_root_logger": False,
        "worker_cancel_long_running_tasks_on_connection_loss": False,
        # The worker's events go out without waiting for confirms (dashboard/worker_consumer.py).
        "worker_consumer": "dashboard.workers.inside.consumer:Consumer",
        "imports": ("dashboard.tasks",),
        "beat_schedule": {
            "auto-retry": {"task": "dashboard.auto_retry", "schedule": 5.0},
            "compact-status-counts": {"task": "dashboard.compact_counts", "schedule": 30.0},
            "compact-finish-stats": {"task": "dashboard.compact_finish_stats", "schedule": 60.0},
            "reap-lost-attempts": {"task": "dashboard.reap_lost", "schedule": 30.0},
            "retention": {"task": "dashboard.retention", "schedule": config["RETENTION_EVERY_S"]},
        },
        # Beat also reads the operators' schedules from PostgreSQL at every tick.
        "beat_scheduler": "dashboard.schedules.beat:DatabaseScheduler",
    }


def celery_init_app(app):
    """Celery bound to the Flask app: each task runs in a fresh app context."""

    class FlaskTask(Task):
        def __call__(self, *args, **kwargs):
            with app.app_context():
                return self.run(*args, **kwargs)

    celery_app = Celery(app.name, task_cls=FlaskTask)
    celery_app.config_from_object(app.config["CELERY"])
    celery_app.set_default()
    celery_app.flask_app = app  # beat's DatabaseScheduler works in this app's context
    app.extensions["celery"] = celery_app

    @worker_process_init.connect(weak=False)
    def _fresh_pool(**_):
        """A forked pool process must not reuse its parent's database connections."""
        with app.app_context():
            for engine in db.engines.values():
                engine.dispose(close=False)

    return celery_app
