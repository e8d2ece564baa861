""""Why isn't it running?": dispatcher down, every pool busy (the right ids), backlog, running."""
from tests.support.db import sql, wait_status
from tests.support.http import Browserless, submit
from dashboard.workers import inspection

HANG = {"hang": True}
QUICK = {"min_seconds": 0, "max_seconds": 0}


def why(api, request_id):
    inspection.clear_worker_cache()
    answer = api.get(f"/api/requests/{request_id}/why")
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()


def codes(answer):
    return [r["code"] for r in answer["reasons"]]


def test_dispatcher_down(app, stack, api, fresh, make_user):
    """Dispatcher stopped: a new request stays unassigned and `why` says so, on the page too."""
    stack.stop_dispatcher()
    request_id = submit(api, QUICK)
    answer = why(api, request_id)
    assert answer["status"] == "unassigned" and "dispatcher_down" in codes(answer)
    username, password, _ = make_user("viewer")
    page = Browserless(app, username, password)
    html = page.get(f"/requests/{request_id}").get_data(as_text=True)
    assert 'hx-get="/requests/%d/why"' % request_id in html
    box = page.get(f"/requests/{request_id}/why", headers={"HX-Request": "true"})
    body = box.get_data(as_text=True)
    assert 'data-code="dispatcher_down"' in body and "hx-trigger=\"every" in body
    stack.start_dispatcher()
    wait_status(app, request_id, "success", timeout=60)
    assert why(api, request_id)["reasons"] == []


def test_stale_heartbeat_counts_as_down(app, stack, api, fresh):
    """A dispatcher killed -9 leaves its row: once it is older than 10 s, dispatcher_down."""
    stack.stop_dispatcher(sig=9)
    sql(app, "UPDATE dispatcher_heartbeats SET beat_at = now() - interval '30 seconds'")
    request_id = submit(api, QUICK)
    reason = next(r for r in why(api, request_id)["reasons"] if r["code"] == "dispatcher_down")
    assert "last heartbeat" in reason["message"]


def test_all_busy_names_the_requests_holding_the_pools(app, stack, api, fresh):
    """Four hanging requests fill both pools: the next waits `all_busy` with exactly their ids."""
    holders = [submit(api, HANG) for _ in range(4)]
    for request_id in holders:
        wait_status(app, request_id, "running", timeout=60)
    waiting = submit(api, QUICK)
    behind = submit(api, QUICK)
    wait_status(app, behind, "pending", timeout=30)
    answer = why(api, waiting)
    busy = next(r for r in answer["reasons"] if r["code"] == "all_busy")
    assert busy["requests"] == sorted(holders)
    assert answer["queue"]["consumers"] == 2
    later = why(api, behind)
    assert next(r for r in later["reasons"] if r["code"] == "backlog")["ahead"] == 1
    running = why(api, holders[0])
    assert running["reasons"] == [] and running["running"]["worker"].endswith("@test")
    assert isinstance(running["running"]["pid"], int) and running["running"]["since"]


def test_unknown_request_and_roles(app, stack, api, client):
    assert api.get("/api/requests/987654/why").status_code == 404
    assert client.get("/api/requests/1/why").status_code == 401


def test_retry_backoff(app, stack, api, fresh):
    """A failed simulate_flaky waits for its automatic retry: `retry_backoff` with the due time."""
    request_id = submit(api, {**QUICK, "fail_rate": 1}, job_type="simulate_flaky")
    wait_status(app, request_id, "failure", timeout=60)
    reason = next(r for r in why(api, request_id)["reasons"] if r["code"] == "retry_backoff")
    assert "attempt 2 of 3" in reason["message"] and reason["due_at"]


def test_broker_down(app, stack, api, fresh, monkeypatch):
    """RabbitMQ not answering (a closed port): `broker_down`, no queue counts, quickly."""
    import time

    from dashboard.requests import why as why_module
    from tests.support.procs import free_port
    stack.stop_dispatcher()
    request_id = submit(api, QUICK)
    # Celery reads CELERY_BROKER_URL before its own broker_url setting, on every connection.
    monkeypatch.setenv("CELERY_BROKER_URL", f"amqp://guest:guest@127.0.0.1:{free_port()}//")
    with app.app_context():
        inspection.clear_worker_cache()
        started = time.monotonic()
        answer = why_module.explain(request_id)
        took = time.monotonic() - started
    monkeypatch.undo()
    inspection.clear_worker_cache(forget=True)
    assert "broker_down" in codes(answer) and "dispatcher_down" in codes(answer)
    assert answer["queue"] is None and took < 10, took
