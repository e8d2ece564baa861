"""What the API does with the bodies and query values it is sent: one JSON-body reader for
every JSON endpoint, one rule for a re-run's body, one rule for empty query values.

JSON bodies (bulk, batch submit, schedules, re-run, worker actions): none where one is
needed, not JSON, or nested too deeply: 400; another content type: 415; JSON that is not
an object: 422; always a JSON error naming the body, and nothing stored or changed.
"""
import json

import pytest

from tests.support.db import counts, sql

QUICK = {"min_seconds": 0, "max_seconds": 0}


def nested(depth, leaf="1"):
    """JSON text of arrays nested `depth` levels deep."""
    return "[" * depth + leaf + "]" * depth


@pytest.fixture
def finished(app, clean_db):
    """A finished simulate request (the dispatcher is not running: new rows stay put)."""
    return sql(app, "INSERT INTO requests (job_type, status, task_id, finished_at, params)"
                    " VALUES ('simulate', 'success', gen_random_uuid()::text, now(),"
                    " CAST(:params AS jsonb)) RETURNING id", params=json.dumps(QUICK))[0]["id"]


@pytest.fixture
def schedule(app, clean_db):
    return sql(app, "INSERT INTO schedules (name, job_type, every_s)"
                    " VALUES ('nightly', 'simulate', 60) RETURNING id")[0]["id"]


@pytest.fixture
def endpoints(finished, schedule):
    """Every API endpoint that reads a JSON body, with a body it takes."""
    return [("POST", "/api/requests/bulk", {"action": "retry", "ids": [finished]}),
            ("POST", "/api/requests/batch", {"requests": [{"job_type": "simulate",
                                                           "params": QUICK}]}),
            ("POST", "/api/schedules", {"name": "n", "job_type": "simulate", "every_s": 60}),
            ("PATCH", f"/api/schedules/{schedule}", {"every_s": 60}),
            ("POST", f"/api/requests/{finished}/rerun", {"params": QUICK}),
            ("POST", "/api/workers/nobody@nowhere/grow", {"n": 1}),
            ("POST", "/api/workers/nobody@nowhere/shrink", {"n": 1})]


def _stored(app):
    """What a refused call must leave as it was: requests, schedules and their fields."""
    return (counts(app), sql(app, "SELECT id, name, every_s, cron, timezone FROM schedules"
                                  " ORDER BY id"))


def _refused(answer, status, words):
    body = answer.get_json()
    assert answer.status_code == status, (answer.status_code, body)
    assert set(body) == {"error"} and body["error"].startswith("body:"), body
    assert words in body["error"], body


def test_deeply_nested_json_is_400_on_every_json_endpoint(app, api, endpoints):
    """Nesting that would exhaust the parser, or merely over 32 levels (also inside a
    field), is refused with 400 naming the body; nothing is stored or changed."""
    before = _stored(app)
    for method, path, body in endpoints:
        field = next(iter(body))
        for text in (nested(100_000), nested(33), json.dumps({field: 0})[:-2] + nested(40)
                     + "}"):
            answer = api.client.open(path, method=method, headers=api.headers, data=text,
                                     content_type="application/json")
            _refused(answer, 400, "nested more than 32 levels deep")
    assert _stored(app) == before


def test_json_at_the_depth_limit_is_read(app, api, finished):
    """32 levels are read as JSON: the re-run's params are then checked as params."""
    deep = json.dumps({"params": {"min_seconds": json.loads(nested(30))}})
    answer = api.client.post(f"/api/requests/{finished}/rerun", headers=api.headers, data=deep,
                             content_type="application/json")
    assert answer.status_code == 422 and answer.get_json()["error"].startswith("params.")


def test_malformed_other_types_and_non_objects(app, api, endpoints):
    """Not JSON: 400; a form or text: 415; a JSON array or number: 422; nothing changes."""
    before = _stored(app)
    for method, path, _ in endpoints:
        call = lambda data, content_type: api.client.open(  # noqa: E731
            path, method=method, headers=api.headers, data=data, content_type=content_type)
        _refused(call("{not json", "application/json"), 400, "not valid JSON")
        _refused(call(b"\xff\xfe{}", "application/json"), 400, "not valid JSON")
        _refused(call('{"n": 5}', "text/plain"), 415, "got text/plain")
        for value in ("[1, 2]", "5", "null", '"text"'):
            _refused(call(value, "application/json"), 422, "must be a JSON object")
        if "/workers/" in path:  # a form is a re-run's other kind of body
            _refused(call("n=5", "application/x-www-form-urlencoded"), 415,
                     "got application/x-www-form-urlencoded")
    assert _stored(app) == before


def test_a_schedule_body_is_required(app, api, schedule):
    """POST and PATCH /api/schedules without a body: 400 naming the body."""
    for method, path in (("POST", "/api/schedules"), ("PATCH", f"/api/schedules/{schedule}")):
        _refused(api.client.open(path, method=method, headers=api.headers), 400,
                 "send a JSON object")


def test_grow_with_a_form_body_is_415_and_the_pool_stays(app, stack, api, celery_app, fresh):
    """`n=5` sent as a form is refused, not read as "grow by 1": the pool keeps 2 processes."""
    for data, content_type in (("n=5", "application/x-www-form-urlencoded"),
                               ("n=5", "text/plain")):
        for action in ("grow", "shrink"):
            answer = api.client.post(f"/api/workers/worker1@test/{action}", headers=api.headers,
                                     data=data, content_type=content_type)
            _refused(answer, 415, f"got {content_type}")
    stats = celery_app.control.inspect(["worker1@test"], timeout=1.0).stats() or {}
    assert len(stats["worker1@test"]["pool"]["processes"]) == 2
    assert sql(app, "SELECT count(*) AS n FROM audit_log WHERE action LIKE 'worker_%'"
                    " AND outcome = 'ok'")[0]["n"] == 0


def test_rerun_without_a_body_is_a_plain_rerun(app, api, finished):
    """No body, `{}`, `{"params": null}`, an empty form and an empty multipart body all
    re-run with the parent's params: 201 each, a child of the parent."""
    kinds = [{}, {"json": {}}, {"json": {"params": None}},
             {"data": {}, "content_type": "application/x-www-form-urlencoded"},
             {"data": {"params": ""}, "content_type": "multipart/form-data"},
             {"data": b"", "content_type": "application/json"}]
    for kwargs in kinds:
        answer = api.client.post(f"/api/requests/{finished}/rerun", headers=api.headers,
                                 **kwargs)
        assert answer.status_code == 201, (kwargs, answer.get_json())
        child = answer.get_json()
        assert child["parent_id"] == finished and child["params"]["max_seconds"] == 0
    assert sql(app, "SELECT count(*) AS n FROM requests WHERE parent_id = :id",
               id=finished)[0]["n"] == len(kinds)


def test_rerun_with_another_body_type_is_415(app, api, finished):
    before = counts(app)
    answer = api.client.post(f"/api/requests/{finished}/rerun", headers=api.headers,
                             data="params={}", content_type="text/plain")
    _refused(answer, 415, "multipart")
    assert counts(app) == before


def test_an_empty_query_value_is_not_given_on_every_list(app, api, finished):
    """`limit=`, `after=`, `attempt=` and `window=` mean what leaving them out means."""
    listed = api.get("/api/requests?limit=&after=")
    assert listed.status_code == 200, listed.get_json()
    assert [r["id"] for r in listed.get_json()["items"]] == [finished]
    logs = api.get(f"/api/requests/{finished}/logs?limit=&after=&attempt=")
    assert logs.status_code == 200, logs.get_json()
    stats = api.get("/api/stats?window=")
    assert stats.status_code == 200 and stats.get_json()["window"] == "1h"
    for path in ("/api/requests?limit=0", "/api/requests?limit=x",
                 f"/api/requests/{finished}/logs?limit=0", "/api/stats?window=2h"):
        answer = api.get(path)
        assert answer.status_code == 422 and answer.get_json()["error"].split(":")[0] in (
            "limit", "window"), path
