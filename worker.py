"""The Celery entry point: `celery -A worker worker|beat|flower` (settings: .env, the environment)."""
from dashboard import entry

flask_app = entry.app()
celery_app = flask_app.extensions["celery"]
