"""The Celery entry point: `celery -A worker worker|beat|flower` (settings: .env, the environment).

Inside `celery worker` the dashboard also runs dashboard/workers/inside: the
control commands it sends (graceful stop with a stop timeout), the check that
starts a worker paused when PostgreSQL says it is, and the worker's own last
heartbeat time in its stats.
"""
from dashboard import entry
from dashboard.workers.inside import commands, heartbeat, pause_at_start

flask_app = entry.app()
celery_app = flask_app.extensions["celery"]

# Imported for what they register with Celery: control commands and worker signals.
INSIDE_THE_WORKER = (commands, pause_at_start)
heartbeat.install(celery_app)
