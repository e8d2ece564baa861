"""The Celery entry point: `celery -A worker worker|beat|flower`."""
from dashboard import create_app

flask_app = create_app()
celery_app = flask_app.extensions["celery"]

import dashboard.worker_commands  # noqa: E402,F401  (the control commands the dashboard sends)
