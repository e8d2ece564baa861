"""Liveness, readiness and Prometheus metrics."""
from flask import Blueprint, Response, current_app, jsonify
from sqlalchemy import text

from dashboard.extensions import db
from dashboard.overview import metrics

bp = Blueprint("health", __name__)


@bp.route("/healthz")
def healthz():
    """200 while the process is up."""
    return jsonify(status="ok")


@bp.route("/readyz")
def readyz():
    """200 when PostgreSQL and RabbitMQ answer, 503 otherwise."""
    checks = {}
    try:
        db.session.execute(text("SELECT 1"))
        checks["postgresql"] = "ok"
    except Exception as exc:
        db.session.rollback()
        checks["postgresql"] = f"error: {exc.__class__.__name__}"
    try:
        with current_app.extensions["celery"].connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        checks["rabbitmq"] = "ok"
    except Exception as exc:
        checks["rabbitmq"] = f"error: {exc.__class__.__name__}"
    ok = all(v == "ok" for v in checks.values())
    return jsonify(status="ok" if ok else "unavailable", checks=checks), 200 if ok else 503


@bp.route("/metrics")
def prometheus():
    """Prometheus text: counts by status, queue depth, durations."""
    return Response(metrics.render(), mimetype="text/plain; version=0.0.4")
