"""Job parameter validation at submit: the job type, the params JSON, the schema, the file rule.

Every refusal is a Refused whose message starts with the field it names
(what the API answers as {"error": ...} with 422 and the form shows).
"""
import pytest

from dashboard import jobs, submission
from dashboard.jobs.load_array import LOAD_ARRAY
from dashboard.jobs.simulate import SIMULATE
from dashboard.errors import Refused



def refusal(call, *args):
    """The Refused message `call(*args)` raises (the test fails if it raises none)."""
    with pytest.raises(Refused) as caught:
        call(*args)
    return caught.value.message


def test_unknown_job_type_names_the_field_and_the_known_ones():
    message = refusal(jobs.get, "no_such_job")
    assert message.startswith("job_type: unknown job type 'no_such_job'")
    assert "load_array" in message and "simulate" in message


def test_unknown_job_type_in_the_message_is_capped():
    assert len(refusal(jobs.get, "x" * 5000)) < 300


@pytest.mark.parametrize("value", [None, 7, ["simulate"]])
def test_a_job_type_that_is_not_text_is_unknown(value):
    assert refusal(jobs.get, value).startswith("job_type: unknown job type")


def test_empty_params_text_means_no_params():
    assert submission.parse_params("") == {} and submission.parse_params("  \n") == {}
    assert submission.parse_params(None) == {}


def test_params_that_are_not_json_name_the_field():
    assert refusal(submission.parse_params, "{min_seconds: 1}").startswith(
        "params: not valid JSON (JSONDecodeError")


@pytest.mark.parametrize("text, kind", [("[1, 2]", "an array"), ('"x"', "a string"),
                                        ("true", "a boolean"), ("null", "null"),
                                        ("3.5", "a number")])
def test_params_must_be_an_object(text, kind):
    assert refusal(submission.parse_params, text) == f"params: must be a JSON object, not {kind}"


def test_params_nested_too_deep_are_refused_not_a_crash():
    """JSON nested past Python's recursion limit is a 422 naming params, never a 500."""
    assert refusal(submission.parse_params, "[" * 100_000 + "]" * 100_000).startswith(
        "params: not valid JSON (RecursionError")


def test_validate_refuses_params_that_are_not_an_object():
    assert refusal(SIMULATE.validate, ["min_seconds", 1], None) == "params: must be a JSON object"


def test_nan_and_infinity_are_refused_with_their_path():
    message = refusal(submission.parse_params, '{"shape": [1, 2, NaN]}')
    assert message.startswith("params.shape.2: NaN and Infinity")
    assert refusal(submission.parse_params, '{"a": {"b": -Infinity}}').startswith("params.a.b:")


def test_defaults_are_filled_in():
    assert SIMULATE.validate({}, None) == {"min_seconds": 1, "max_seconds": 5, "fail_rate": 0,
                                           "hang": False, "ignore_soft_limit": False}
    given = SIMULATE.validate({"max_seconds": 9}, None)
    assert given["max_seconds"] == 9 and given["min_seconds"] == 1


def test_validate_leaves_the_callers_params_alone():
    params = {"max_seconds": 2}
    SIMULATE.validate(params, None)
    assert params == {"max_seconds": 2}


def test_an_unknown_parameter_is_named():
    assert refusal(SIMULATE.validate, {"max_second": 3}, None) == \
        "params.max_second: unknown parameter"


def test_a_wrong_type_names_the_parameter():
    message = refusal(SIMULATE.validate, {"fail_rate": "often"}, None)
    assert message.startswith("params.fail_rate: ") and "'often'" in message


@pytest.mark.parametrize("params, field", [({"fail_rate": 1.5}, "fail_rate"),
                                           ({"min_seconds": -1}, "min_seconds"),
                                           ({"timeout_seconds": 0}, "timeout_seconds")])
def test_numbers_outside_their_range_are_refused(params, field):
    assert refusal(SIMULATE.validate, params, None).startswith(f"params.{field}: ")


def test_min_seconds_may_not_exceed_max_seconds():
    assert refusal(SIMULATE.validate, {"min_seconds": 4, "max_seconds": 2}, None) == \
        "params.min_seconds: must not exceed max_seconds"
    assert refusal(SIMULATE.validate, {"min_seconds": 6}, None).startswith("params.min_seconds")


def test_a_required_parameter_is_named():
    assert refusal(LOAD_ARRAY.validate, {}, {"size": 8}) == "params.shape: is required"


def test_an_array_item_is_named_by_its_index():
    assert refusal(LOAD_ARRAY.validate, {"shape": [2, 0, 2]}, {"size": 0}).startswith(
        "params.shape.1: ")


def test_a_long_schema_message_is_capped():
    message = refusal(LOAD_ARRAY.validate, {"dtype": "x" * 1000, "shape": [1, 1, 1]}, {"size": 4})
    assert message.startswith("params.dtype: ") and len(message) <= len("params.dtype: ") + 201


def test_file_rules():
    assert refusal(LOAD_ARRAY.validate, {"shape": [1, 1, 1]}, None) == \
        "file: job type 'load_array' needs a non-empty file"
    assert SIMULATE.validate({}, {"size": 10})["min_seconds"] == 1, "simulate's file is optional"


def test_file_size_must_match_shape_and_dtype():
    params = {"shape": [2, 3, 4], "dtype": "int16"}
    assert LOAD_ARRAY.validate(params, {"size": 48})["byte_order"] == "little"
    assert refusal(LOAD_ARRAY.validate, params, {"size": 96}) == (
        "file: size 96 bytes does not match shape [2, 3, 4] of int16 (48 bytes expected)")
    assert LOAD_ARRAY.validate({"shape": [2, 3, 4]}, {"size": 96})["dtype"] == "float32"


def test_every_job_type_takes_a_lowered_time_limit():
    """Each registered schema accepts `timeout_seconds` (limits() reads it for every type)."""
    for job in jobs.REGISTRY.values():
        assert "timeout_seconds" in job.schema["properties"], job.name


@pytest.mark.parametrize("bad, where", [
    ({"windows": {"full": {"width": float("inf")}}}, "result.windows.full.width"),
    ({"mean": float("nan")}, "result.mean"),
    ({"edges": [0.0, float("-inf")]}, "result.edges.1"),
])
def test_a_result_is_never_written_with_nan_or_infinity(bad, where):
    with pytest.raises(ValueError) as caught:
        jobs.result_json(bad)
    assert str(caught.value) == f"{where}: NaN and Infinity are not numbers JSON allows"
    assert jobs.result_json({"mean": 1.5, "edges": [0, 1]}) == '{"mean": 1.5, "edges": [0, 1]}'
