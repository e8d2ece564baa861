"""Liveness, readiness and metrics, as a load balancer and Prometheus see them."""
import pytest

from dashboard import create_app
from tests.support.metrics import run_simulations, scrape


@pytest.fixture
def other_app(app, monkeypatch):
    """Build a second app with overrides; the suite's Celery app stays the default after."""
    def build(overrides, env=None):
        for key, value in (env or {}).items():
            monkeypatch.setenv(key, value)
        return create_app({"TESTING": True, **overrides})
    yield build
    app.extensions["celery"].set_default()


def test_healthz_answers_while_up(client):
    """/healthz is 200 without signing in."""
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_readyz_ok_when_services_answer(client):
    """/readyz is 200 and names both services when PostgreSQL and RabbitMQ answer."""
    response = client.get("/readyz")
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["checks"] == {"postgresql": "ok", "rabbitmq": "ok"}


def test_readyz_503_when_broker_is_away(other_app):
    """/readyz is 503 and says which service failed when RabbitMQ does not answer."""
    # Celery reads CELERY_BROKER_URL from the environment before its own config.
    bad = "amqp://nobody:x@127.0.0.1:1//"
    app = other_app({"BROKER_URL": bad}, env={"CELERY_BROKER_URL": bad})
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    checks = response.get_json()["checks"]
    assert checks["postgresql"] == "ok"
    assert checks["rabbitmq"].startswith("error")


def test_readyz_503_when_database_is_away(other_app):
    """/readyz is 503 when PostgreSQL does not answer."""
    app = other_app({"SQLALCHEMY_DATABASE_URI": "postgresql+psycopg2://nobody:x@127.0.0.1:1/none"})
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["checks"]["postgresql"].startswith("error")


def test_metrics_count_requests_by_status(app, stack, api):
    """/metrics is Prometheus text with counts by status that follow the requests."""
    run_simulations(app, api, succeed=3, fail=1)
    response, families = scrape(app)
    assert response.mimetype == "text/plain"
    by_status = {s.labels["status"]: s.value for s in families["dashboard_requests"].samples}
    assert by_status["success"] == 3 and by_status["failure"] == 1
    assert by_status["running"] == 0 and by_status["unassigned"] == 0
    assert families["dashboard_queue_depth"].samples[0].value == 0
    finished = {(s.labels["job_type"], s.labels["status"]): s.value
                for s in families["dashboard_finished_recent"].samples}
    assert finished[("simulate", "success")] == 3
