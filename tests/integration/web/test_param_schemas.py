"""Every job type's params schema refuses values the job could not use, at submit.

`"shape": [2.0, 2.0, 2.0]` used to answer 201 and fail later in the worker with a
TypeError. The cases here are derived from each registered job type's schema, so a new
job type or parameter is covered without editing this file: floats and booleans where
integers go, booleans where numbers go, numbers where booleans go, zero, negative and
huge sizes, strings and null, unknown and repeated keys. Each answers 422 naming the
field, and nothing is stored.
"""
import json

import pytest

from dashboard import jobs
from tests.support.db import NOTHING, counts
from tests.support.http import post_multipart


def _sample(spec):
    """A valid value for a property spec (the default, or the smallest allowed)."""
    if "default" in spec:
        return spec["default"]
    if "enum" in spec:
        return spec["enum"][0]
    kind = spec.get("type")
    if kind == "array":
        return [_sample(spec["items"])] * spec.get("minItems", 1)
    if kind == "integer":
        return spec.get("minimum", 1)
    if kind == "number":
        return spec.get("maximum", 1)
    if kind == "boolean":
        return False
    raise AssertionError(f"no sample for {spec}")


def _bad_values(spec):
    """(value, why) pairs the spec must refuse."""
    kind = spec.get("type")
    if "enum" in spec:
        return [(True, "boolean for an enum"), (1, "number for an enum"), (None, "null"),
                ("not-" + str(spec["enum"][0]), "unknown name")]
    if kind == "integer":
        bad = [(2.0, "float for an integer"), (2.5, "fraction"), (True, "boolean"),
               ("2", "string"), (None, "null"), (10 ** 30, "huge"), ([1], "array")]
        if "minimum" in spec:
            bad += [(spec["minimum"] - 1, "below the minimum"), (-1, "negative")]
        return bad
    if kind == "number":
        bad = [(True, "boolean for a number"), (False, "boolean for a number"),
               ("1", "string"), (None, "null"), ({}, "object")]
        if "maximum" in spec:
            bad += [(1e300, "huge"), (10 ** 400, "400 digits")]
        if "minimum" in spec or "exclusiveMinimum" in spec:
            bad += [(-1, "negative")]
        return bad
    if kind == "boolean":
        return [(1, "number for a boolean"), (0, "number for a boolean"),
                ("true", "string"), (None, "null")]
    if kind == "array":
        items = spec["items"]
        good = _sample(spec)
        cases = [("text", "string for an array"), (good[:-1], "too few items"),
                 (good + good[:1], "too many items"), ({}, "object")]
        for value, why in _bad_values(items):
            cases.append(([value] + good[1:], f"item: {why}"))
        return cases
    if "anyOf" in spec:                 # e.g. an index or a word: what no alternative takes
        from jsonschema import Draft202012Validator
        accepts = Draft202012Validator(spec).is_valid
        candidates = [(True, "boolean"), (None, "null"), (-1, "negative"), (2.5, "fraction"),
                      ("not-a-name", "unknown word"), ([1], "array"), ({}, "object")]
        return [(value, why) for value, why in candidates if not accepts(value)]
    raise AssertionError(f"no bad values for {spec}")


def _cases():
    """(job type, params, field the error must name, why) for every job type and property."""
    found = []
    for name, job in sorted(jobs.REGISTRY.items()):
        props = job.schema["properties"]
        base = {k: _sample(props[k]) for k in job.schema.get("required", [])}
        for key, spec in props.items():
            for value, why in _bad_values(spec):
                field = f"params.{key}"
                if spec.get("type") == "array" and why.startswith("item"):
                    field += ".0"
                found.append((name, {**base, key: value}, field, why))
        found.append((name, {**base, "bogus": 1}, "params.bogus", "unknown parameter"))
    return found


def _file_for(job_type, params):
    """A file that fits the params' shape when the job type needs one (so only params fail)."""
    job = jobs.REGISTRY[job_type]
    if job.file != "required":
        return None
    return (b"\0" * 32, "v.raw")   # shape [2, 2, 2] of float32 when the shape were accepted


def test_every_job_type_and_parameter_is_covered(app):
    """The derived cases reach each job type and each of its parameters (the registry is
    the app's: filled by create_app, so the cases are derived once the app exists)."""
    covered = {(job_type, field.split(".")[1]) for job_type, _, field, _ in _cases()}
    wanted = {(name, key) for name, job in jobs.REGISTRY.items()
              for key in job.schema["properties"]}
    assert {"simulate", "load_array"} <= {name for name, _ in wanted}
    assert wanted <= covered, wanted - covered


@pytest.fixture
def operator(make_user):
    """Bearer headers of an operator."""
    _, _, token = make_user("operator")
    return {"Authorization": f"Bearer {token}"}


def test_bad_values_are_422_naming_the_field(app, client, operator):
    """Each case: 422, the error starts with the field, and no request, upload or attempt."""
    cases = _cases()
    assert len(cases) > 20, cases   # every job type's every parameter, several values each
    for job_type, params, field, why in cases:
        response = post_multipart(client, operator, job_type, json.dumps(params),
                                  _file_for(job_type, params))
        case = (job_type, field, why, json.dumps(params)[:80], response.get_json())
        assert response.status_code == 422, case
        assert response.get_json()["error"].startswith(field + ":"), case
        assert len(response.get_json()["error"]) < 300, case
    assert counts(app) == NOTHING


def test_float_shape_is_refused_at_submit_and_integers_run(app, stack, client, operator):
    """The reported case: [2.0, 2.0, 2.0] with a 32-byte file is a 422; [2, 2, 2] runs."""
    from tests.support.db import wait_status
    refused = post_multipart(client, operator, "load_array", '{"shape": [2.0, 2.0, 2.0]}',
                             (b"\0" * 32, "v.raw"))
    assert refused.status_code == 422
    assert refused.get_json() == {"error": "params.shape.0: 2.0 is not of type 'integer'"}
    assert counts(app) == NOTHING
    accepted = post_multipart(client, operator, "load_array", '{"shape": [2, 2, 2]}',
                              (b"\0" * 32, "v.raw"))
    assert accepted.status_code == 201, accepted.get_json()
    row = wait_status(app, accepted.get_json()["id"], ("success", "failure"), timeout=60)
    assert row["status"] == "success", row["error"]
    assert row["result"]["shape"] == [2, 2, 2]


def test_a_key_given_twice_is_refused(app, client, operator):
    """JSON with a repeated key would silently keep the last value: 422 naming it."""
    response = post_multipart(client, operator, "simulate", '{"hang": false, "hang": true}')
    assert response.status_code == 422
    assert response.get_json() == {"error": "params.hang: given twice"}
    assert counts(app) == NOTHING


def test_a_long_number_is_shortened_in_the_message(app, client, operator):
    """A 400-digit number: the message says what is wrong without echoing every digit."""
    response = post_multipart(client, operator, "simulate",
                              '{"max_seconds": 1' + "0" * 400 + "}")
    message = response.get_json()["error"]
    assert response.status_code == 422 and message.startswith("params.max_seconds: 1000")
    assert "greater than the maximum of 3600" in message and len(message) < 120
