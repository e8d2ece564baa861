"""The Celery entry point: `celery -A worker worker|beat|flower`."""
from dashboard import create_app
from dashboard.config import load

# Workers skip the pool's pre-ping round trip on every checkout: a dead
# connection raises OperationalError, and run_request then puts the message
# back (Reject(requeue=True)) while the pool reconnects.
_engine = {**load()["SQLALCHEMY_ENGINE_OPTIONS"], "pool_pre_ping": False}
flask_app = create_app({"SQLALCHEMY_ENGINE_OPTIONS": _engine})
celery_app = flask_app.extensions["celery"]
