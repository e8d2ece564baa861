"""The Celery entry point: `celery -A worker worker|beat|flower` (settings: .env, the environment)."""
from dashboard import entry

flask_app = entry.app()
celery_app = flask_app.extensions["celery"]

import dashboard.worker_commands  # noqa: E402,F401  (the control commands the dashboard sends)
import dashboard.pause_at_start  # noqa: E402,F401  (a worker paused in PostgreSQL starts paused)
