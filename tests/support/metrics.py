"""/metrics read as Prometheus reads it, after simulations ended on the real workers."""
from prometheus_client.parser import text_string_to_metric_families

from tests.support.db import wait_status

PARAMS = {"success": '{"min_seconds": 0, "max_seconds": 0}',
          "failure": '{"min_seconds": 0, "max_seconds": 0, "fail_rate": 1}'}


def run_simulations(app, api, succeed, fail):
    """Submit `succeed` simulations that succeed and `fail` that fail; wait until each ended."""
    ends = ["success"] * succeed + ["failure"] * fail
    ids = [api.post("/api/requests", data={"job_type": "simulate", "params": PARAMS[end]})
           .get_json()["id"] for end in ends]
    for request_id, end in zip(ids, ends):
        wait_status(app, request_id, end)


def scrape(app):
    """GET /metrics: (the response, {family name: metric family})."""
    response = app.test_client().get("/metrics")
    assert response.status_code == 200
    families = text_string_to_metric_families(response.get_data(as_text=True))
    return response, {f.name: f for f in families}
