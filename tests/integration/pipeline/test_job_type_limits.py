"""Job type limits the dispatcher enforces from PostgreSQL: priority, max_running,
rate_per_min, paused; and the one wake-up per insert statement.

Real PostgreSQL; where a test dispatches, the stack's real dispatcher and workers.
"""
import json
import select
import time
from datetime import datetime

import psycopg2
from sqlalchemy import text

from dashboard.dispatcher import CHANNEL, libpq_dsn
from dashboard.extensions import db
from dashboard.jobs import limits
from dashboard.requests import actions
from dashboard.workers import inspection
from tests.support.db import fetch, insert_requests, sql, wait_status
from tests.support.procs import wait_for


def test_a_bulk_insert_wakes_the_dispatcher_once(app, clean_db):
    """1,000 unassigned rows in one INSERT: one notification, not 1,000."""
    conn = psycopg2.connect(libpq_dsn(app.config["SQLALCHEMY_DATABASE_URI"]))
    conn.autocommit = True
    try:
        conn.cursor().execute(f"LISTEN {CHANNEL}")
        with app.app_context():
            db.session.execute(text(
                "INSERT INTO requests (job_type, params, status, submitted_by)"
                " SELECT 'simulate', '{}'::jsonb, 'killed', 't' FROM generate_series(1, 5)"))
            db.session.execute(text(
                "INSERT INTO requests (job_type, params, submitted_by)"
                " SELECT 'simulate', '{}'::jsonb, 't' FROM generate_series(1, 1000)"))
            db.session.commit()
        select.select([conn], [], [], 2.0)
        conn.poll()
        assert len(conn.notifies) == 1, conn.notifies
    finally:
        conn.close()
        sql(app, "DELETE FROM requests")


def test_current_merges_declared_values_with_stored_overrides(app, clean_db):
    with app.app_context():
        assert limits.current("simulate") == {"priority": 0, "max_running": None,
                                              "rate_per_min": None, "paused": False}
    sql(app, "INSERT INTO job_type_settings (name, max_running, paused, changed_by)"
             " VALUES ('simulate', 3, true, 'admin')")
    with app.app_context():
        assert limits.current("simulate") == {"priority": 0, "max_running": 3,
                                              "rate_per_min": None, "paused": True}
        everything = limits.current_all()
        assert everything["simulate"]["max_running"] == 3
        assert everything["load_array"] == {"priority": 0, "max_running": None,
                                            "rate_per_min": None, "paused": False}


# ---- the dispatcher's claim, with the stack's real dispatcher and workers ----

SLOW = {"min_seconds": 0.5, "max_seconds": 0.5}
QUICK = {"min_seconds": 0, "max_seconds": 0}


def override(app, **values):
    """Store simulate's overrides (as an admin's change would)."""
    columns = ", ".join(values)
    marks = ", ".join(f":{k}" for k in values)
    updates = ", ".join(f"{k} = excluded.{k}" for k in values)
    sql(app, f"INSERT INTO job_type_settings (name, {columns}, changed_by)"
             f" VALUES ('simulate', {marks}, 'tester')"
             f" ON CONFLICT (name) DO UPDATE SET {updates}", **values)


def by_status(app, ids):
    rows = sql(app, "SELECT status, count(*) AS n FROM requests WHERE id = ANY(:ids)"
                    " GROUP BY status", ids=ids)
    return {r["status"]: r["n"] for r in rows}


def why(api, request_id):
    inspection.clear_worker_cache()
    answer = api.get(f"/api/requests/{request_id}/why")
    assert answer.status_code == 200, answer.get_json()
    return {r["code"]: r for r in answer.get_json()["reasons"]}


def test_max_running_is_never_exceeded_and_all_finish(app, stack):
    """max_running=2, 10 slow requests on four free pool processes: pending + running of
    the type, sampled every 50 ms, never above 2; all ten finish."""
    override(app, max_running=2)
    ids = insert_requests(app, [SLOW] * 10)
    seen = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        counts = by_status(app, ids)
        seen.append(counts.get("pending", 0) + counts.get("running", 0))
        if counts.get("success") == 10:
            break
        time.sleep(0.05)
    assert by_status(app, ids) == {"success": 10}
    assert max(seen) == 2, seen


def test_held_back_request_starts_promptly_when_room_frees(app, stack):
    """max_running=1: the second request is dispatched within ~0.3 s of the first's finish."""
    override(app, max_running=1)
    first, second = insert_requests(app, [SLOW, QUICK])
    wait_status(app, second, "success", timeout=30)
    one, two = fetch(app, first), fetch(app, second)
    assert one["finished_at"] <= two["queued_at"]
    assert (two["queued_at"] - one["finished_at"]).total_seconds() < 0.5


def test_rate_limit_holds_the_rest_and_why_names_the_next_slot(app, stack, api, fresh):
    """rate_per_min=5, 10 quick requests: 5 run, the other 5 wait; `why` says rate_limit
    with the next slot, a minute after the first dispatch."""
    override(app, rate_per_min=5)
    ids = insert_requests(app, [QUICK] * 10)
    wait_for(lambda: by_status(app, ids).get("success") == 5, 30, what="five done")
    time.sleep(1.0)
    assert by_status(app, ids) == {"success": 5, "unassigned": 5}
    waiting = [i for i in ids if fetch(app, i)["status"] == "unassigned"]
    assert waiting == ids[5:]   # oldest first at one priority
    reasons = why(api, waiting[0])
    first_queued = min(fetch(app, i)["queued_at"] for i in ids[:5])
    slot = datetime.fromisoformat(reasons["rate_limit"]["next_slot_at"])
    assert abs((slot - first_queued).total_seconds() - 60) < 1.0
    assert "next slot" in reasons["rate_limit"]["message"]


def test_paused_type_accepts_submits_and_runs_once_resumed(app, stack, api, fresh):
    override(app, paused=True)
    response = api.post("/api/requests", data={"job_type": "simulate",
                                                 "params": json.dumps(QUICK)})
    assert response.status_code == 201
    request_id = response.get_json()["id"]
    time.sleep(1.5)
    assert fetch(app, request_id)["status"] == "unassigned"
    assert "job_type_paused" in why(api, request_id)
    override(app, paused=False)
    wait_status(app, request_id, "success", timeout=30)


def test_concurrency_limit_in_why_names_the_running_ids(app, stack, api, fresh):
    override(app, max_running=1)
    first, second = insert_requests(app, [{"hang": True}, QUICK])
    wait_status(app, first, "running", timeout=30)
    reasons = why(api, second)
    assert reasons["concurrency_limit"]["ids"] == [first]
    assert reasons["concurrency_limit"]["message"].startswith("Running 1 of 1")


def test_higher_priority_submitted_later_starts_first(app, stack, api):
    """No room (max_running=1, one hanging request holds it): 0, then 5, then -3 submitted;
    once room frees they start 5, 0, -3."""
    override(app, max_running=1)
    [blocker] = insert_requests(app, [{"hang": True}])
    wait_status(app, blocker, "running", timeout=30)
    ids = []
    for priority in ("0", "5", "-3"):
        response = api.post("/api/requests", data={"job_type": "simulate", "priority": priority,
                                                     "params": json.dumps(QUICK)})
        assert response.status_code == 201, response.get_json()
        assert response.get_json()["priority"] == int(priority)
        ids.append(response.get_json()["id"])
    with app.app_context():
        actions.kill(blocker, "tester")
        db.session.commit()
    for request_id in ids:
        wait_status(app, request_id, "success", timeout=30)
    order = sorted(ids, key=lambda i: fetch(app, i)["queued_at"])
    assert order == [ids[1], ids[0], ids[2]]


def test_priority_defaults_to_the_type_current_one_and_is_checked(app, clean_db, api):
    override(app, priority=7)
    response = api.post("/api/requests", data={"job_type": "simulate",
                                                 "params": json.dumps(QUICK)})
    assert response.status_code == 201 and response.get_json()["priority"] == 7
    for bad in ("11", "-11", "high", "1.5"):
        response = api.post("/api/requests", data={"job_type": "simulate", "priority": bad,
                                                     "params": json.dumps(QUICK)})
        assert response.status_code == 422
        assert response.get_json()["error"].startswith("priority:")


def test_the_form_stores_its_priority_and_refuses_a_bad_one(app, signed_in):
    client, _, _ = signed_in("operator")
    page = client.get("/requests/new").get_data(as_text=True)
    token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    form = {"csrf_token": token, "job_type": "simulate", "params": json.dumps(QUICK)}
    refused = client.post("/requests/new", data={**form, "priority": "12"})
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    assert 'id="priority-error"' in html and "priority: must be an integer" in html
    stored = client.post("/requests/new", data={**form, "priority": "-4"})
    assert stored.status_code == 302
    [row] = sql(app, "SELECT priority FROM requests")
    assert row["priority"] == -4


def test_a_batch_stores_each_item_priority_or_the_type_current_one(app, clean_db, api):
    override(app, priority=2)
    items = [{"job_type": "simulate", "params": QUICK, "priority": 9},
             {"job_type": "simulate", "params": QUICK},
             {"job_type": "load_array", "params": {}, "priority": -10}]
    response = api.post("/api/requests/batch", json={"requests": items[:2]})
    assert response.status_code == 201, response.get_json()
    ids = response.get_json()["ids"]
    assert [api.get(f"/api/requests/{i}").get_json()["priority"] for i in ids] == [9, 2]
    response = api.post("/api/requests/batch", json={"requests": [
        {"job_type": "simulate", "params": QUICK, "priority": 11}]})
    assert response.status_code == 422
    assert response.get_json()["error"].startswith("requests[0].priority:")


def test_a_declaration_with_unusable_limits_stops_start_up():
    from dashboard.jobs import JobType, JobTypeError, _check
    base = dict(name="t", title="T", schema={"type": "object"}, run=lambda ctx: {})
    _check("module 'm'", JobType(**base, priority=-10, max_running=1, rate_per_min=60))
    for bad, said in (({"priority": 11}, "priority must be an integer from -10 to 10"),
                      ({"priority": True}, "priority must be"),
                      ({"max_running": 0}, "max_running must be a positive integer"),
                      ({"rate_per_min": 2.5}, "rate_per_min must be"),
                      ({"queue": ""}, "queue must be a non-empty string")):
        try:
            _check("module 'm'", JobType(**base, **bad))
        except JobTypeError as exc:
            assert said in str(exc) and "job type 't'" in str(exc)
        else:
            raise AssertionError(f"{bad} accepted")
