"""The JSON API end to end: submit -> dispatcher -> worker -> success, read back."""
import json

from tests.support.db import wait_status


def test_submit_runs_to_success(app, stack, api):
    response = api.post("/api/requests", data={
        "job_type": "simulate", "params": json.dumps({"min_seconds": 0, "max_seconds": 0.2})})
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    # The row as it is after the commit: the dispatcher may have claimed it already.
    assert body["status"] in ("unassigned", "pending", "running", "success")
    assert body["attempt"] == 1 and body["job_type"] == "simulate"
    assert response.headers["Location"].endswith(f"/api/requests/{body['id']}")

    wait_status(app, body["id"], "success")
    one = api.get(f"/api/requests/{body['id']}").get_json()
    assert one["status"] == "success"
    assert one["progress"] == 100
    assert one["worker"].endswith("@test")
    assert one["result"]["slept_seconds"] <= 0.2
    assert one["started_at"] and one["finished_at"] and one["created_at"].endswith("Z")
    assert one["flower_task_url"] == f"/flower/task/{one['task_id']}"
    assert [a["status"] for a in one["attempts"]] == ["success"]
    assert one["attempts"][0]["task_id"] == one["task_id"]


def test_list_filters_and_cursor(app, stack, api):
    ids = [api.post("/api/requests", data={"job_type": "simulate", "params": '{"min_seconds": 0, "max_seconds": 0}'})
           .get_json()["id"] for _ in range(5)]
    for request_id in ids:
        wait_status(app, request_id, "success")
    page1 = api.get("/api/requests?limit=3").get_json()
    assert [r["id"] for r in page1["items"]] == ids[::-1][:3]
    page2 = api.get(f"/api/requests?limit=3&after={page1['next']}").get_json()
    assert [r["id"] for r in page2["items"]] == ids[::-1][3:]
    assert page2["next"] is None
    assert api.get("/api/requests?status=failure").get_json()["items"] == []
    assert len(api.get("/api/requests?status=success").get_json()["items"]) == 5
    assert api.get("/api/requests?status=bogus").status_code == 422


def test_unknown_request_is_404(api, clean_db):
    response = api.get("/api/requests/999999")
    assert response.status_code == 404
    assert "not found" in response.get_json()["error"]


def test_bad_params_are_refused_and_nothing_stored(app, api, clean_db):
    from tests.support.db import fetch
    cases = [
        ({"job_type": "simulate", "params": "{not json"}, "params"),
        ({"job_type": "simulate", "params": '{"min_seconds": -1}'}, "params.min_seconds"),
        ({"job_type": "simulate", "params": '{"bogus": 1}'}, "params.bogus"),
        ({"job_type": "simulate", "params": '{"min_seconds": 5, "max_seconds": 1}'},
         "params.min_seconds"),
        ({"job_type": "nope", "params": "{}"}, "job_type"),
    ]
    for data, field in cases:
        response = api.post("/api/requests", data=data)
        assert response.status_code == 422, (data, response.get_json())
        assert response.get_json()["error"].startswith(field), response.get_json()
    assert fetch(app, 1) is None
