"""The list's filters (worker, submitted by, created time range, error text) and sort,
through the JSON API, the page and the bulk retry: each narrows to the rows seeded for
it; a bad value is a 422 naming the field. (In Chromium: test_list_filters_browser.py.)"""
from datetime import datetime, timedelta, timezone

import pytest

from tests.support.db import sql
from tests.support.html import parse
from tests.support.http import sign_in
from tests.support.list_seed import NEWEST_FIRST, seed_filter_rows


def _at(minutes_ago):
    return (datetime.now(timezone.utc) - timedelta(minutes=minutes_ago)).strftime(
        "%Y-%m-%dT%H:%M:%S")


class Ago(str):
    """A time `minutes` before the test runs (not before collection: a long suite lies
    between them), with `suffix` appended."""

    def __new__(cls, minutes, suffix=""):
        made = super().__new__(cls, f"{minutes} minutes ago{suffix}")
        made.minutes, made.suffix = minutes, suffix
        return made

    def when(self):
        return _at(self.minutes) + self.suffix


@pytest.fixture
def rows(app, clean_db):
    return seed_filter_rows(app)


def names(rows, items):
    by_id = {v: k for k, v in rows.items()}
    return [by_id[i["id"]] for i in items]


CASES = [
    ({"worker": "worker2@host-b"}, ["long_success", "shape_failure"]),
    ({"worker": "worker2@host"}, []),                                      # exact, not a prefix
    ({"submitted_by": "alice"}, ["long_success", "disk_failure", "old_success"]),
    ({"submitted_by": "ALICE"}, []),
    ({"created_after": Ago(24 * 60)}, NEWEST_FIRST[:5]),
    ({"created_after": Ago(24 * 60), "created_before": Ago(20)},
     ["timeout", "shape_failure", "disk_failure"]),
    ({"created_before": Ago(24 * 60, "Z")}, ["old_success"]),
    ({"error": "bad shape"}, ["shape_failure"]),
    ({"error": "r"}, ["timeout", "shape_failure", "disk_failure"]),
    ({"error": "%"}, []),                                                  # literally %
    ({"sort": "oldest"}, list(reversed(NEWEST_FIRST))),
    ({"sort": "longest"}, ["long_success", "timeout", "old_success", "disk_failure",
                           "shape_failure"]),                              # running: no duration
    ({"sort": "longest", "worker": "worker1@host-a"}, ["timeout", "old_success",
                                                       "disk_failure"]),
    ({"status": "failure", "submitted_by": "alice", "error": "disk"}, ["disk_failure"]),
]


@pytest.mark.parametrize("args, expected", CASES, ids=[str(a) for a, _ in CASES])
def test_api_filters_narrow_the_list(api, rows, args, expected):
    args = {k: v.when() if isinstance(v, Ago) else v for k, v in args.items()}
    answer = api.get("/api/requests", query_string=args)
    assert answer.status_code == 200, answer.get_json()
    assert names(rows, answer.get_json()["items"]) == expected


@pytest.mark.parametrize("sort", ["newest", "oldest", "longest"])
def test_every_sort_pages_with_its_own_keyset(api, rows, sort):
    """Two at a time, the pages add up to the whole sorted list, each row once."""
    whole = [i["id"] for i in api.get(f"/api/requests?sort={sort}").get_json()["items"]]
    seen, after = [], None
    while True:
        page = api.get("/api/requests", query_string={
            "sort": sort, "limit": 2, **({"after": after} if after else {})}).get_json()
        seen += [i["id"] for i in page["items"]]
        after = page["next"]
        if not after:
            break
    assert seen == whole and len(whole) == (5 if sort == "longest" else 6)


BAD = [
    ({"created_after": "yesterday"}, "created_after: not a date and time 'yesterday'"),
    ({"created_before": "2026-02-30T10:00"}, "created_before: not a date and time"),
    ({"created_after": "2026-12-02T00:00", "created_before": "2026-12-01T00:00"},
     "created_after: must not be later than created_before"),
    ({"sort": "fastest"}, "sort: must be one of newest, oldest, longest"),
]


@pytest.mark.parametrize("args, message", BAD, ids=[str(a) for a, _ in BAD])
def test_a_bad_value_is_a_422_naming_the_field(app, api, make_user, rows, args, message):
    answer = api.get("/api/requests", query_string=args)
    assert answer.status_code == 422
    assert answer.get_json()["error"].startswith(message)
    username, password, _ = make_user("viewer")
    page = app.test_client()
    sign_in(page, username, password)
    shown = page.get("/", query_string=args)
    assert shown.status_code == 422
    doc = parse(shown)
    assert message in doc.find("p", class_="notice error").text()
    assert doc.find("a", data_clear_filters=True) is not None
    assert not doc.find_all("tr", data_id=True)


def test_the_bulk_retry_acts_on_exactly_the_filtered_set(app, api, rows):
    """Retry all failed with worker1's filter retries worker1's failure and nothing else;
    the audit entry keeps the filter."""
    answer = api.post("/api/requests/retry-failed", data={"worker": "worker1@host-a"})
    assert answer.get_json() == {"retried": 1}
    status = {r["id"]: r["status"] for r in sql(app, "SELECT id, status FROM requests")}
    assert status[rows["disk_failure"]] == "unassigned"
    assert status[rows["shape_failure"]] == "failure"
    assert api.post("/api/requests/retry-failed",
                    data={"error": "shape", "created_after": _at(60)}).get_json() == {
        "retried": 0}  # the shape failure is two hours old
    assert api.post("/api/requests/retry-failed",
                    data={"created_after": "soon"}).status_code == 422
    [entry] = sql(app, "SELECT detail FROM audit_log WHERE action = 'retry_failed'"
                  " ORDER BY id LIMIT 1")
    assert entry["detail"]["worker"] == "worker1@host-a" and "error" not in entry["detail"]


def test_the_page_offers_recent_workers_and_keeps_filters_in_links(app, make_user, rows):
    username, password, _ = make_user("operator")
    page = app.test_client()
    sign_in(page, username, password)
    doc = parse(page.get("/?worker=worker2%40host-b&sort=oldest&error=shape"))
    options = [o.attrs["value"]
               for o in doc.find("datalist", id="recent-workers").find_all("option")]
    assert options == ["worker1@host-a", "worker2@host-b"]
    assert [tr.attrs["data-id"] for tr in doc.find_all("tr", data_id=True)] == [
        str(rows["shape_failure"])]
    poll = doc.find("section", id="requests").attrs["hx-get"]
    assert "worker=worker2@host-b" in poll and "sort=oldest" in poll and "error=shape" in poll
    bulk = {i.attrs["name"]: i.attrs.get("value") for i in
            doc.find("form", id="bulk-form").find_all("input", type="hidden")}
    assert bulk["worker"] == "worker2@host-b" and bulk["error"] == "shape"
