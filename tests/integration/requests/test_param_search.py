"""Search by parameters: `param.<name>=<value>` on GET /api/requests, the list page and
the bulk retries matches a top-level parameter's JSON value, served by the GIN index
requests_params_idx."""
import json

import pytest
from sqlalchemy import text

from dashboard import jobs
from dashboard.extensions import db
from dashboard.requests import listing
from tests.support.db import sql
from tests.support.html import parse
from tests.support.http import Browserless, sign_in

# name: (status, submitted by, params)
ROWS = [
    ("a", "failure", "alice", {"patient_id": "P123", "max_seconds": 3}),
    ("b", "success", "bob", {"patient_id": "P123", "max_seconds": 5}),
    ("c", "failure", "alice", {"patient_id": "P999", "max_seconds": 3}),
    ("d", "success", "alice", {"patient_id": "123", "accession": "A-1.2"}),
    ("e", "failure", "bob", {"patient_id": "P123", "urgent": True}),
    ("f", "success", "alice", {"study": {"patient_id": "P123"}}),   # nested: not top-level
]


@pytest.fixture
def rows(app, clean_db):
    """ROWS as requests with their first attempt; {name: id}."""
    ids = {}
    for name, status, by, params in ROWS:
        ids[name] = sql(app, "INSERT INTO requests (job_type, status, submitted_by, params,"
                        " task_id, finished_at) VALUES ('simulate', :status, :by,"
                        " CAST(:params AS jsonb), gen_random_uuid()::text, now())"
                        " RETURNING id", status=status, by=by, params=json.dumps(params))[0]["id"]
        sql(app, "INSERT INTO attempts (request_id, number, status, triggered_by)"
            " VALUES (:id, 1, :status, :by)", id=ids[name], status=status, by=by)
    return ids


def _names(rows, items):
    by_id = {v: k for k, v in rows.items()}
    return [by_id[item["id"]] for item in items]


CASES = [
    ({"param.patient_id": "P123"}, ["e", "b", "a"]),
    ({"param.patient_id": "P123", "param.max_seconds": "3"}, ["a"]),     # all must match
    ({"param.max_seconds": "3"}, ["c", "a"]),                            # a JSON number
    ({"param.max_seconds": "3.0"}, ["c", "a"]),
    ({"param.max_seconds": "5", "param.patient_id": "P999"}, []),
    ({"param.urgent": "true"}, ["e"]),                                   # a boolean
    ({"param.urgent": "false"}, []),
    ({"param.patient_id": "123"}, []),            # a number: the string "123" is not it
    ({"param.accession": "A-1.2"}, ["d"]),                               # a string as written
    ({"param.patient_id": "p123"}, []),                                  # exact, any case no
    ({"param.patient_id": ""}, ["f", "e", "d", "c", "b", "a"]),          # empty: not filtered
    ({"param.patient_id": "P123", "status": "failure"}, ["e", "a"]),
    ({"param.patient_id": "P123", "submitted_by": "bob"}, ["e", "b"]),
    ({"param.max_seconds": "3", "job_type": "simulate", "sort": "oldest"}, ["a", "c"]),
    ({"param.study": "P123"}, []),
]


@pytest.mark.parametrize("args, expected", CASES, ids=[str(a) for a, _ in CASES])
def test_the_api_filters_by_params(api, rows, args, expected):
    answer = api.get("/api/requests", query_string=args)
    assert answer.status_code == 200, answer.get_json()
    assert _names(rows, answer.get_json()["items"]) == expected


def test_the_api_pages_through_a_param_filter(api, rows):
    first = api.get("/api/requests?param.patient_id=P123&limit=2").get_json()
    assert _names(rows, first["items"]) == ["e", "b"]
    rest = api.get(f"/api/requests?param.patient_id=P123&limit=2&after={first['next']}")
    assert _names(rows, rest.get_json()["items"]) == ["a"]
    assert rest.get_json()["next"] is None


BAD = [
    ({"param.": "x"}, "param.: a parameter name is 1 to 64"),
    ({"param." + "n" * 65: "x"}, "param." + "n" * 65),
    ({"param.a b": "x"}, "param.a b: a parameter name"),
    ({"param.caf\u00e9": "x"}, "param.caf\u00e9: a parameter name"),
    ({"param.a/b": "x"}, "param.a/b: a parameter name"),
]


@pytest.mark.parametrize("args, message", BAD, ids=[repr(a)[:40] for a, _ in BAD])
def test_a_bad_param_name_is_a_422_naming_it(app, api, make_user, rows, args, message):
    answer = api.get("/api/requests", query_string=args)
    assert answer.status_code == 422
    assert answer.get_json()["error"].startswith(message)
    assert api.post("/api/requests/retry-failed", query_string=args).status_code == 422
    username, password, _ = make_user("viewer")
    page = app.test_client()
    sign_in(page, username, password)
    shown = page.get("/", query_string=args)
    assert shown.status_code == 422
    assert message in parse(shown).find("p", class_="notice error").text()


def test_one_name_with_two_values_is_a_422(api, rows):
    answer = api.get("/api/requests?param.patient_id=P123&param.patient_id=P999")
    assert answer.status_code == 422
    assert answer.get_json()["error"] == "param.patient_id: given twice with different values"
    same = api.get("/api/requests?param.patient_id=P123&param.patient_id=P123")
    assert _names(rows, same.get_json()["items"]) == ["e", "b", "a"]


def test_the_page_filters_shows_and_keeps_param_filters(app, make_user, rows):
    username, password, _ = make_user("operator")
    page = app.test_client()
    sign_in(page, username, password)
    doc = parse(page.get("/?param.patient_id=P123&status=failure"))
    assert [tr.attrs["data-id"] for tr in doc.find_all("tr", data_id=True)] == [
        str(rows["e"]), str(rows["a"])]
    field = doc.find("input", data_param_filter="patient_id")
    assert field.attrs["name"] == "param.patient_id" and field.attrs["value"] == "P123"
    poll = doc.find("section", id="requests").attrs["hx-get"]
    assert "param.patient_id=P123" in poll and "status=failure" in poll
    bulk = {i.attrs["name"]: i.attrs.get("value") for i in
            doc.find("form", id="bulk-form").find_all("input", type="hidden")}
    assert bulk["param.patient_id"] == "P123"
    # Pages: the next page's link keeps the filter.
    doc = parse(page.get("/?param.patient_id=P123&limit=1"))
    assert all("param.patient_id=P123" in a.attrs["href"]
               for a in doc.find_all("a", rel="next"))


def test_the_bulk_retries_are_limited_by_params(app, api, make_user, rows):
    """Retry all failed with a param filter retries only the matching failures; the audit
    entry keeps the filter; the page's retry takes it from its form."""
    answer = api.post("/api/requests/retry-failed",
                      query_string={"param.patient_id": "P123", "param.urgent": "true"})
    assert answer.get_json() == {"retried": 1}
    attempt = {r["id"]: r["attempt"] for r in sql(app, "SELECT id, attempt FROM requests")}
    assert attempt[rows["e"]] == 2 and attempt[rows["a"]] == 1 and attempt[rows["c"]] == 1
    [entry] = sql(app, "SELECT detail FROM audit_log WHERE action = 'retry_failed'")
    assert entry["detail"]["param.patient_id"] == "P123"
    assert entry["detail"]["param.urgent"] == "true"
    username, password, _ = make_user("operator")
    browser = Browserless(app, username, password)
    done = browser.action("/requests/retry-failed", htmx=False, **{"param.max_seconds": "3"})
    assert done.status_code == 302 and "param.max_seconds=3" in done.headers["Location"]
    attempt = {r["id"]: r["attempt"] for r in sql(app, "SELECT id, attempt FROM requests")}
    assert attempt[rows["a"]] == 2 and attempt[rows["c"]] == 2
    assert attempt[rows["b"]] == 1 and attempt[rows["d"]] == 1


SEED = """
INSERT INTO requests (job_type, status, submitted_by, params)
SELECT 'simulate', CASE WHEN g % 10 = 0 THEN 'failure' ELSE 'success' END, 'user' || (g % 7),
       jsonb_build_object('patient_id', 'P' || g, 'max_seconds', g % 10, 'site', 'site' || (g % 3))
FROM generate_series(1, :rows) g
"""


def _index_names(plan, found):
    if plan.get("Index Name"):
        found.append((plan["Node Type"], plan["Index Name"]))
    for child in plan.get("Plans", []):
        _index_names(child, found)
    return found


def _seq_scans(plan):
    own = [plan] if plan["Node Type"] == "Seq Scan" and plan.get("Relation Name") == "requests" \
        else []
    return own + [n for child in plan.get("Plans", []) for n in _seq_scans(child)]


def test_the_list_query_of_a_param_filter_uses_the_params_index(app, clean_db):
    """50,000 requests, analyzed: a patient id, and one with a status, read through
    requests_params_idx, never a Seq Scan of requests; the answers are right."""
    with app.app_context():
        db.session.execute(text(SEED), {"rows": 50_000})
        db.session.commit()
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE requests"))
        for args, expected in (({"param.patient_id": "P4242"}, 1),
                               ({"param.patient_id": "P4240", "status": "failure"}, 1),
                               ({"param.patient_id": "P4242", "param.max_seconds": "2"}, 1),
                               ({"param.patient_id": "nobody"}, 0)):
            filters = listing.Filters(args, jobs.REGISTRY)
            assert not filters.errors
            sql_text, params = listing.list_sql(filters, 50)
            plan = db.session.execute(text("EXPLAIN (ANALYZE, FORMAT JSON) " + sql_text),
                                      params).scalar()[0]["Plan"]
            assert ("Bitmap Index Scan", "requests_params_idx") in _index_names(plan, []), plan
            assert not _seq_scans(plan)
            assert len(listing.list_requests(filters, 50)[0]) == expected
        db.session.rollback()
