"""The example package examples/acme_jobs, installed as a team installs theirs, end to end.

`make test` installs it in the venv (`pip install -e examples/acme_jobs`); the app and
the real prefork workers find its job types through its entry points. Each type is
submitted through the API and runs to its result; its log lines, a refused param, a
kill, a retry and a schedule go through the same paths as the built-in types.
"""
import hashlib
import json
import os

import pytest

from dashboard import jobs
from tests.support.db import NOTHING, attempts, counts, wait_status
from tests.support.http import all_lines, post_multipart, submit
from tests.support.procs import wait_for

FINAL = ("success", "failure", "timeout", "killed")


@pytest.fixture(autouse=True)
def _installed(app):
    """The example package must be installed (make test does it); say how when it is not."""
    if "checksum" not in jobs.REGISTRY:
        pytest.fail("the example job types are not installed: .venv/bin/pip install -e"
                    " examples/acme_jobs (make test does it)")


def messages(api, request_id, **args):
    return [line["message"] for line in all_lines(api, request_id, **args)]


def send_file(api, data, params=None, filename="scan.bin"):
    return post_multipart(api.client, api.headers, "checksum", json.dumps(params or {}),
                          (data, filename))


def test_checksum_of_an_uploaded_file(app, stack, api):
    data = os.urandom(3 * 1024 * 1024 + 12345)      # several chunks
    response = send_file(api, data)
    assert response.status_code == 201, response.get_json()
    request_id = response.get_json()["id"]
    row = wait_status(app, request_id, FINAL, timeout=60)
    assert row["status"] == "success", row["error"]
    body = api.get(f"/api/requests/{request_id}").get_json()
    assert body["job_type"] == "checksum" and body["progress"] == 100
    assert body["result"] == {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
    shown = messages(api, request_id)
    assert f"hashing {len(data)} bytes" in shown
    assert f"sha256 {hashlib.sha256(data).hexdigest()}" in shown


def test_primes_from_parameters_only(app, stack, api):
    request_id = submit(api, {"n": 100_000}, job_type="primes")
    row = wait_status(app, request_id, FINAL, timeout=60)
    assert row["status"] == "success", row["error"]
    body = api.get(f"/api/requests/{request_id}").get_json()
    assert body["result"] == {"n": 100_000, "count": 9592, "largest": 99991}
    assert body["params"] == {"n": 100_000, "delay_s": 0}
    shown = messages(api, request_id)
    assert "sieving up to 100000" in shown
    assert "9592 primes up to 100000, the largest 99991" in shown


@pytest.mark.parametrize("job_type, params, file, error", [
    ("primes", {"n": 1}, None, "params.n: 1 is less than the minimum of 2"),
    ("primes", {"n": 10 ** 9}, None, "params.n: 1000000000 is greater than the maximum of"
                                     " 10000000"),
    ("primes", {}, None, "params.n: is required"),
    ("primes", {"n": 10, "delay_s": -1}, None, "params.delay_s: -1 is less than the minimum"
                                               " of 0"),
    ("primes", {"n": 10}, b"x", "file: job type 'primes' takes no file"),
    ("checksum", {}, None, "file: job type 'checksum' needs a non-empty file"),
    ("checksum", {"algorithm": "md5"}, b"x", "params.algorithm: unknown parameter"),
])
def test_bad_input_is_422_and_stores_nothing(app, api, clean_db, job_type, params, file,
                                             error):
    response = post_multipart(api.client, api.headers, job_type, json.dumps(params),
                              None if file is None else (file, "f.bin"))
    assert (response.status_code, response.get_json()) == (422, {"error": error})
    assert counts(app) == NOTHING


def test_kill_while_it_runs_then_retry_to_success(app, stack, api):
    """A slow primes (it waits first) killed while running; its retry runs to the result."""
    request_id = submit(api, {"n": 1000, "delay_s": 5}, job_type="primes")
    wait_for(lambda: "waiting 5 s first" in messages(api, request_id), timeout=60,
             what="the job's first log line")
    killed = api.post(f"/api/requests/{request_id}/kill")
    assert killed.status_code == 202, killed.get_json()
    row = wait_status(app, request_id, FINAL, timeout=30)
    assert row["status"] == "killed" and row["result"] is None
    assert "sieving up to 1000" not in messages(api, request_id)

    retried = api.post(f"/api/requests/{request_id}/retry")
    assert retried.status_code == 202, retried.get_json()
    row = wait_status(app, request_id, FINAL, timeout=60)
    assert (row["status"], row["attempt"]) == ("success", 2), row["error"]
    assert row["result"] == {"n": 1000, "count": 168, "largest": 997}
    assert [(a["number"], a["status"]) for a in attempts(app, request_id)] == [
        (1, "killed"), (2, "success")]
    assert "168 primes up to 1000, the largest 997" in messages(api, request_id, attempt=2)
    assert api.post(f"/api/requests/{request_id}/retry").status_code == 409   # succeeded


def test_a_schedule_of_an_example_type(app, stack, api):
    created = api.client.open("/api/schedules", method="POST", headers=api.headers,
                              data=json.dumps({"name": "primes hourly", "job_type": "primes",
                                               "params": {"n": 1000}, "every_s": 3600}),
                              content_type="application/json")
    assert created.status_code == 201, created.get_json()
    made = api.post(f"/api/schedules/{created.get_json()['id']}/run")
    assert made.status_code == 201, made.get_json()
    made = made.get_json()
    assert (made["job_type"], made["schedule"]) == ("primes", "primes hourly")
    row = wait_status(app, made["id"], FINAL, timeout=60)
    assert row["status"] == "success", row["error"]
    assert row["result"]["count"] == 168
    refused = api.client.open("/api/schedules", method="POST", headers=api.headers,
                              data=json.dumps({"name": "bad", "job_type": "primes",
                                               "params": {"n": 1}, "every_s": 3600}),
                              content_type="application/json")
    assert refused.status_code == 422
    assert refused.get_json()["error"].startswith("params.n: ")


def test_the_form_and_the_api_description_list_them(app, client, signed_in):
    operator, _, _ = signed_in("operator")
    page = operator.get("/requests/new").get_data(as_text=True)
    assert 'value="checksum"' in page and 'value="primes"' in page
    fields = operator.get("/requests/new/fields?job_type=primes")
    html = fields.get_data(as_text=True)
    assert fields.status_code == 200 and 'id="p-n"' in html and 'id="p-delay_s"' in html
    assert "Count the primes from 2 up to this number" in html
    spec = client.get("/api/openapi.json").get_json()
    submit_schema = json.dumps(spec["paths"]["/api/requests"]["post"])
    assert '"checksum"' in submit_schema and '"primes"' in submit_schema
