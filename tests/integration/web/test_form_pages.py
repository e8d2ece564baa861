"""The new-request form without a browser: the fields partial by role, the raw JSON box
winning over the fields, and a refused field value audited with nothing stored."""
import json

from tests.support.db import audit_rows, counts, fetch
from tests.support.http import csrf_token


def test_fields_partial_needs_an_operator_and_a_known_job_type(signed_in):
    viewer, _, _ = signed_in("viewer")
    assert viewer.get("/requests/new/fields?job_type=load_array").status_code == 403
    operator, _, _ = signed_in("operator")
    answer = operator.get("/requests/new/fields?job_type=load_array")
    html = answer.get_data(as_text=True)
    assert answer.status_code == 200 and 'id="p-shape-2"' in html and "<html" not in html
    assert operator.get("/requests/new/fields?job_type=%3Cb%3E").status_code == 404


def test_raw_json_wins_over_the_fields_and_refusals_store_nothing(app, stack, signed_in):
    client, username, _ = signed_in("operator")
    token = csrf_token(client.get("/requests/new").get_data(as_text=True))
    before = counts(app)
    refused = client.post("/requests/new", data={
        "csrf_token": token, "job_type": "simulate", "params": "",
        "p.min_seconds": "<script>", "p.max_seconds": "1"})
    html = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert 'aria-invalid="true"' in html and 'id="p-min_seconds-error"' in html
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert counts(app) == before
    assert audit_rows(app, "submit")[-1]["outcome"] == "refused"

    made = client.post("/requests/new", data={
        "csrf_token": token, "job_type": "simulate", "p.min_seconds": "3", "p.max_seconds": "4",
        "params": json.dumps({"min_seconds": 0, "max_seconds": 0.1})})
    assert made.status_code == 302
    request_id = int(made.headers["Location"].rsplit("/", 1)[1])
    row = fetch(app, request_id)
    assert (row["params"]["min_seconds"], row["params"]["max_seconds"]) == (0, 0.1)
    assert row["submitted_by"] == username
