"""POST /api/requests/batch: many parameter-only requests in one transaction, all or none.

Real PostgreSQL, RabbitMQ, dispatcher and prefork workers: the batch's rows are stored
`unassigned` in the given order, then dispatched and run like any other request.
"""
import json
import statistics

from sqlalchemy import text

from dashboard.extensions import db
from tests.support.db import NOTHING, attempts, audit_rows, counts, fetch, wait_status
from tests.support.http import htmx_token
from tests.support.procs import wait_for

ZERO = {"min_seconds": 0, "max_seconds": 0}


def _rows(app, ids):
    """The rows of `ids` (fresh read), in the ids' order."""
    with app.app_context():
        rows = db.session.execute(text("SELECT * FROM requests WHERE id = ANY(:ids)"),
                                  {"ids": ids}).mappings().all()
        db.session.rollback()
    by_id = {r["id"]: dict(r) for r in rows}
    return [by_id.get(i) for i in ids]


def _batch(api, items):
    return api.post("/api/requests/batch", json={"requests": items})


def test_a_batch_is_stored_in_order_then_runs_to_success(app, stack, api):
    """201 with the ids in the given order; every row `unassigned` with its first attempt
    until a dispatcher runs; then real workers run each to success. One audit entry."""
    stack.stop_dispatcher()
    items = [{"job_type": "simulate", "params": {"min_seconds": 0, "max_seconds": i / 1000}}
             for i in range(20)]
    items[5]["priority"] = 3
    response = _batch(api, items)
    assert response.status_code == 201, response.get_json()
    ids = response.get_json()["ids"]
    assert len(ids) == 20 and ids == sorted(ids) and len(set(ids)) == 20
    rows = _rows(app, ids)
    assert [r["status"] for r in rows] == ["unassigned"] * 20
    # Each id is its item: the params stored are the item's, with the defaults filled in.
    assert [r["params"]["max_seconds"] for r in rows] == [i / 1000 for i in range(20)]
    assert all(r["params"]["fail_rate"] == 0 and r["job_type"] == "simulate"
               and r["submitted_by"] == "api-operator" and r["attempt"] == 1 for r in rows)
    assert [a["status"] for a in attempts(app, ids[7])] == ["unassigned"]
    [entry] = audit_rows(app, "submit_batch")
    assert entry["outcome"] == "ok" and entry["username"] == "api-operator"
    assert entry["detail"]["count"] == 20 and entry["detail"]["job_types"] == {"simulate": 20}
    assert (entry["detail"]["first_id"], entry["detail"]["last_id"]) == (ids[0], ids[-1])

    stack.start_dispatcher()
    for request_id in ids:
        wait_status(app, request_id, "success", timeout=60)
    one = api.get(f"/api/requests/{ids[3]}").get_json()
    assert one["status"] == "success" and one["worker"].endswith("@test")
    assert [a["status"] for a in one["attempts"]] == ["success"]


def test_a_batch_is_dispatched_at_once(app, stack, api):
    """The commit wakes the dispatcher: a batch on an idle stack is claimed well under the
    dispatcher's one-second poll, all of it in one go."""
    warm = _batch(api, [{"job_type": "simulate", "params": ZERO}]).get_json()["ids"]
    wait_status(app, warm[0], "success", timeout=60)
    ids = _batch(api, [{"job_type": "simulate", "params": ZERO}] * 200).get_json()["ids"]
    wait_for(lambda: all(r["status"] == "success" for r in _rows(app, ids)), 60,
             what="the batch done")
    rows = _rows(app, ids)
    waits = [(r["queued_at"] - r["created_at"]).total_seconds() for r in rows]
    assert statistics.median(waits) < 0.3, waits
    assert max(waits) < 1.0, waits


def test_a_bad_item_names_its_index_and_field_and_nothing_is_stored(app, api, clean_db):
    """Every item is checked as a single submit is; the first bad one is named by its
    index and field, and not one of the batch is stored."""
    good = {"job_type": "simulate", "params": ZERO}
    cases = [
        ({"job_type": "simulate", "params": {"max_seconds": -1}},
         "requests[3].params.max_seconds: "),
        ({"job_type": "simulate", "params": {"max_seconds": 5000}},
         "requests[3].params.max_seconds: "),
        ({"job_type": "x", "params": {}}, "requests[3].job_type: unknown job type 'x'"),
        ({"job_type": "simulate", "params": {"bogus": 1}},
         "requests[3].params.bogus: unknown parameter"),
        ({"job_type": "simulate", "params": {"min_seconds": 5, "max_seconds": 1}},
         "requests[3].params.min_seconds: "),
        ({"job_type": "simulate", "params": [1]}, "requests[3].params: must be a JSON object"),
        ({"params": {}}, "requests[3].job_type: is required"),
        ({"job_type": "simulate", "params": {}, "priority": 11},
         "requests[3].priority: must be an integer from -10 to 10"),
        ({"job_type": "simulate", "params": {}, "priority": 1.5}, "requests[3].priority: "),
        ({"job_type": "simulate", "params": {}, "priority": True}, "requests[3].priority: "),
        ({"job_type": "simulate", "params": {}, "when": "now"},
         "requests[3].when: unknown field"),
        ("simulate", "requests[3]: must be a JSON object"),
    ]
    for bad, prefix in cases:
        response = _batch(api, [good, good, good, bad, good])
        assert response.status_code == 422, (bad, response.get_json())
        assert response.get_json()["error"].startswith(prefix), (bad, response.get_json())
        assert counts(app) == NOTHING
    # NaN is not a number JSON allows, in a batch as in a single submit.
    body = json.dumps({"requests": [good, good, good, good]}).replace(
        '"max_seconds": 0}}]', '"max_seconds": NaN}}]')
    response = api.post("/api/requests/batch", data=body, content_type="application/json")
    assert response.status_code == 422, response.get_json()
    assert response.get_json()["error"].startswith("requests[3].params.max_seconds"), \
        response.get_json()
    assert counts(app) == NOTHING
    refused = audit_rows(app, "submit_batch")
    assert len(refused) == len(cases) + 1 and {e["outcome"] for e in refused} == {"refused"}


def test_a_job_type_that_needs_a_file_is_refused(app, api, clean_db):
    """A batch carries parameters only: a job type that needs a file is refused for its item."""
    response = _batch(api, [{"job_type": "simulate", "params": ZERO},
                            {"job_type": "load_array", "params": {}}])
    assert response.status_code == 422, response.get_json()
    assert response.get_json()["error"].startswith(
        "requests[1].file: job type 'load_array' needs a non-empty file"), response.get_json()
    assert counts(app) == NOTHING


def test_the_size_of_a_batch(app, api, clean_db):
    """At most 1,000 requests a call (413 past it); an empty or missing list is 422."""
    item = {"job_type": "simulate", "params": ZERO}
    too_many = _batch(api, [item] * 1001)
    assert too_many.status_code == 413
    assert too_many.get_json()["error"] == "requests: at most 1000 requests at once (got 1001)"
    for body in ({"requests": []}, {}, {"requests": {"job_type": "simulate"}}):
        response = api.post("/api/requests/batch", json=body)
        assert response.status_code == 422, (body, response.get_json())
        assert response.get_json()["error"].startswith("requests: must be a non-empty list")
    assert counts(app) == NOTHING
    full = _batch(api, [item] * 1000)
    assert full.status_code == 201 and len(full.get_json()["ids"]) == 1000
    assert counts(app) == (1000, 0, 1000)


def test_a_viewer_may_not_submit_a_batch_and_a_session_needs_csrf(app, client, make_user,
                                                                  signed_in):
    """A viewer gets 403; an operator's browser session needs the CSRF header, as every
    API write does."""
    _, _, token = make_user("viewer")
    body = {"requests": [{"job_type": "simulate", "params": ZERO}]}
    viewer = client.post("/api/requests/batch", json=body,
                         headers={"Authorization": f"Bearer {token}"})
    assert viewer.status_code == 403
    assert counts(app) == NOTHING
    session, _, _ = signed_in("operator")
    refused = session.post("/api/requests/batch", json=body)
    assert refused.status_code == 400
    assert refused.get_json()["error"].startswith("CSRF check failed")
    assert counts(app) == NOTHING
    csrf = htmx_token(session.get("/").get_data(as_text=True))
    done = session.post("/api/requests/batch", json=body, headers={"X-CSRFToken": csrf})
    assert done.status_code == 201, done.get_json()
    assert fetch(app, done.get_json()["ids"][0])["job_type"] == "simulate"
