"""The requests list's filters (status, job type, search, worker, submitter, time range,
error text) and sort as parsed from the query string,
and the values they hand to a statement."""
from datetime import datetime, timezone

from werkzeug.datastructures import MultiDict

from dashboard import jobs
from dashboard.requests.listing import Filters

TASK_ID = "3F2B8C1E-0A4D-4E5F-9A6B-7C8D9E0F1A2B"


def filters(**args):
    return Filters(MultiDict(args), jobs.REGISTRY)


NOTHING = {"status": None, "job_type": None, "request_id": None, "task_id": None,
           "who_or_file": None, "file_pattern": None, "worker": None, "submitted_by": None,
           "created_after": None, "created_before": None, "error_pattern": None,
           "param_match": None}


def searched(q):
    """The values (other than None) the search text `q` filters on."""
    return {k: v for k, v in filters(q=q).values().items() if v is not None}


def test_no_filters_match_everything():
    parsed = filters()
    assert parsed.errors == [] and parsed.args() == {}
    assert parsed.values() == NOTHING


def test_known_status_and_job_type_are_kept():
    parsed = filters(status="failure", job_type="load_array")
    assert parsed.errors == []
    assert parsed.args() == {"status": "failure", "job_type": "load_array"}


def test_unknown_values_are_errors_naming_the_field():
    parsed = filters(status="broken", job_type="nope")
    assert parsed.errors == ["status: unknown status 'broken'",
                             "job_type: unknown job type 'nope'"]


def test_an_unknown_value_is_shown_capped():
    [error] = filters(status="s" * 500).errors
    assert error == f"status: unknown status {'s' * 40!r}"


def test_search_text_is_trimmed_capped_and_freed_of_nul():
    assert filters(q="  alice \x00 ").q == "alice"
    assert len(filters(q="a" * 1000).q) == 200
    assert filters(q="   ").args() == {}


def test_a_number_searches_the_request_id():
    assert searched("42") == {"request_id": 42}


def test_a_number_too_long_for_an_id_searches_names():
    assert searched("1" * 19)["who_or_file"] == "1" * 19
    arabic_indic = "\u0664\u0662"
    assert searched(arabic_indic)["who_or_file"] == arabic_indic, "these digits are text"


def test_a_task_id_is_searched_in_lower_case():
    assert searched(TASK_ID) == {"task_id": TASK_ID.lower()}


def test_a_name_search_escapes_like_wildcards():
    assert searched(r"50%_off\x") == {"who_or_file": r"50%_off\x",
                                       "file_pattern": r"%50\%\_off\\x%"}


def test_filters_combine():
    values = filters(status="failure", job_type="simulate", q="7").values()
    assert values == {**NOTHING, "status": "failure", "job_type": "simulate", "request_id": 7}


def test_the_newer_filters_are_kept_and_handed_on():
    parsed = filters(worker=" worker1@host-a ", submitted_by="alice", error="Time_Limit 50%",
                     created_after="2026-12-01T09:30", created_before="2026-12-01T11:00:00+01:00",
                     sort="longest")
    assert parsed.errors == []
    values = parsed.values()
    assert values["worker"] == "worker1@host-a" and values["submitted_by"] == "alice"
    assert values["error_pattern"] == "%Time\\_Limit 50\\%%"
    assert values["created_after"] == datetime(2026, 12, 1, 9, 30, tzinfo=timezone.utc)
    assert values["created_before"] == datetime(2026, 12, 1, 10, 0, tzinfo=timezone.utc)
    assert parsed.args() == {"worker": "worker1@host-a", "submitted_by": "alice",
                             "created_after": "2026-12-01T09:30:00Z",
                             "created_before": "2026-12-01T10:00:00Z",
                             "error": "Time_Limit 50%", "sort": "longest"}
    assert parsed.local("created_after") == "2026-12-01T09:30:00"


def test_the_default_sort_stays_out_of_the_url():
    assert filters(sort="newest").args() == {} and filters().sort == "newest"


def test_bad_times_and_sorts_are_errors_naming_the_field():
    assert filters(created_after="yesterday").errors[0].startswith(
        "created_after: not a date and time 'yesterday'")
    assert filters(created_before="2026-13-01").errors[0].startswith("created_before:")
    assert filters(created_before="2026-12-01").errors[0].startswith("created_before:")  # a date
    assert filters(created_after="0001-01-01T00:00:00+01:00").errors[0].startswith(
        "created_after: not a date and time")  # before year 1 in UTC
    assert filters(created_after="2026-12-02T00:00", created_before="2026-12-01T00:00").errors == [
        "created_after: must not be later than created_before"]
    assert filters(sort="random").errors == [
        "sort: must be one of newest, oldest, longest (got 'random')"]


def test_every_parameter_has_an_example_that_parses():
    examples = Filters.examples()
    assert set(examples) == set(Filters.PARAMS)
    for name, value in examples.items():
        parsed = filters(**{name: value})
        assert parsed.errors == [], name
        assert name in parsed.args(), name
    assert filters(**examples).errors == []


def test_param_filters_are_json_values():
    """A number as written is a JSON number, true/false booleans, the rest strings."""
    from dashboard.requests.listing import param_value
    assert [param_value(v) for v in ("3", "-2.5", "1e3", "true", "false", "P123", "007",
                                     "1e999", "", "null", " 3")] == [
        3, -2.5, 1000.0, True, False, "P123", "007", "1e999", "", "null", " 3"]
    values = filters(**{"param.patient_id": "P123", "param.max_seconds": "3"}).values()
    assert values == {**NOTHING, "param_match": '{"patient_id": "P123", "max_seconds": 3}'}
