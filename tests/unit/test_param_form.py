"""The form's fields from each job type's schema, the posted controls back to params, and
where an error goes: the job type's own validator still decides what is refused."""
import pytest
from werkzeug.datastructures import MultiDict

from dashboard import jobs
from dashboard.web import param_form
from dashboard.errors import Refused


def by_name(fields):
    return {f.name: f for f in fields}


def test_fields_carry_bounds_defaults_and_kinds():
    shown = by_name(param_form.fields(jobs.REGISTRY["simulate"]))
    assert (shown["min_seconds"].kind, shown["min_seconds"].minimum,
            shown["min_seconds"].maximum, shown["min_seconds"].value) == ("number", 0, 3600, 1)
    assert shown["log_lines"].kind == "integer" and shown["log_lines"].step == "1"
    assert shown["hang"].kind == "boolean" and shown["hang"].value is False
    assert shown["timeout_seconds"].above and shown["timeout_seconds"].value == ""
    volume = by_name(param_form.fields(jobs.REGISTRY["load_array"]))
    assert volume["dtype"].kind == "enum" and "float32" in volume["dtype"].options
    assert [i.label for i in volume["shape"].items] == ["shape[0]", "shape[1]", "shape[2]"]
    assert [i.id for i in volume["shape"].items] == ["p-shape-0", "p-shape-1", "p-shape-2"]


def test_posted_controls_become_params_the_validator_judges():
    job = jobs.REGISTRY["load_array"]
    form = MultiDict({"p.shape.0": "4", "p.shape.1": "2.5", "p.shape.2": "", "p.dtype": "",
                      "p.timeout_seconds": "12"})
    params = param_form.params_from_form(job, form)
    assert params == {"shape": [4, 2.5, None], "timeout_seconds": 12}
    with pytest.raises(Refused) as refused:
        job.validate(params, None)
    assert param_form.error_field(refused.value.message) == ("shape", 1)


def test_booleans_are_as_ticked_and_text_stays_text():
    job = jobs.REGISTRY["simulate"]
    params = param_form.params_from_form(job, MultiDict({"p.hang": "true", "p.fail_rate": "x"}))
    assert params == {"hang": True, "ignore_soft_limit": False, "fail_rate": "x"}
    with pytest.raises(Refused) as refused:
        job.validate(params, None)
    assert refused.value.message == "params.fail_rate: 'x' is not of type 'number'"
    shown = param_form.fields(job, MultiDict({"p.fail_rate": "x"}))
    assert param_form.with_error(shown, refused.value.message)
    assert by_name(shown)["fail_rate"].error and by_name(shown)["fail_rate"].value == "x"
    assert by_name(shown)["hang"].value is False        # posted and not ticked


def test_messages_without_a_field_go_nowhere():
    assert param_form.error_field("file: job type 'load_array' needs a non-empty file") == (
        None, None)
    assert not param_form.with_error(param_form.fields(jobs.REGISTRY["simulate"]),
                                     "params: not valid JSON (JSONDecodeError: x)")
