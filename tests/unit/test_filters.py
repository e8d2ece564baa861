"""The requests list's filters (status, job type, search) as parsed from the query string,
and the values they hand to a statement."""
from werkzeug.datastructures import MultiDict

from dashboard import jobs
from dashboard.queries import Filters

TASK_ID = "3F2B8C1E-0A4D-4E5F-9A6B-7C8D9E0F1A2B"


def filters(**args):
    return Filters(MultiDict(args), jobs.REGISTRY)


NOTHING = {"status": None, "job_type": None, "request_id": None, "task_id": None,
           "who_or_file": None, "file_pattern": None}


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
