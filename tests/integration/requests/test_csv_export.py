"""The list exported as CSV (GET /requests.csv with the list's filters): the same rows in the
same order as the list, capped with a last line saying so, formula-like cells defused,
streamed in batches, for every signed-in role, audited; a bad filter is a 422 naming it."""
import csv
import io
import tracemalloc

import pytest

from dashboard import jobs
from dashboard.requests import export, listing
from tests.support.db import sql
from tests.support.html import parse
from tests.support.list_seed import seed_filter_rows, seed_many


@pytest.fixture
def rows(app, clean_db):
    return seed_filter_rows(app)


@pytest.fixture
def viewer(signed_in):
    """A signed-in viewer's client."""
    return signed_in("viewer")[0]


def exported(client, query=""):
    """(header, data rows, trailing lines starting with #) of an export."""
    answer = client.get("/requests.csv" + query)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.mimetype == "text/csv"
    assert answer.headers["Content-Disposition"].startswith('attachment; filename="requests-')
    lines = list(csv.reader(io.StringIO(answer.get_data(as_text=True))))
    notes = [line for line in lines if line and line[0].startswith("#")]
    return lines[0], [line for line in lines[1:] if line not in notes], notes


QUERIES = ["", "?status=failure", "?sort=oldest", "?sort=longest&worker=worker1%40host-a",
           "?submitted_by=alice&sort=oldest", "?q=bob", "?error=r"]


@pytest.mark.parametrize("query", QUERIES)
def test_the_csv_has_the_lists_rows_in_its_order(viewer, rows, query):
    """Each filter: the CSV's ids are the list page's ids, in the same order."""
    page = parse(viewer.get("/" + query))
    shown = [tr.attrs["data-id"] for tr in page.find_all("tr", data_id=True)]
    header, data, notes = exported(viewer, query)
    assert header == list(export.COLUMNS) and not notes
    assert [line[0] for line in data] == shown and shown


def test_the_list_links_to_the_export_of_its_filter(viewer, rows):
    """The list's Export CSV link carries the filter (and the cap in its title)."""
    page = parse(viewer.get("/?status=failure&sort=oldest"))
    link = page.find("a", id="export-csv")
    assert link.attrs["href"] == "/requests.csv?status=failure&sort=oldest"
    assert "100,000" in link.attrs["title"]


def test_a_row_says_what_the_list_says(viewer, app, rows):
    """Columns of one request: its status, worker, times and error as stored."""
    _, data, _ = exported(viewer, "?error=disk")
    [line] = data
    row = dict(zip(export.COLUMNS, line))
    [stored] = sql(app, "SELECT * FROM requests WHERE id = :id", id=rows["disk_failure"])
    assert row["id"] == str(rows["disk_failure"]) and row["status"] == "failure"
    assert row["worker"] == "worker1@host-a" and row["submitted_by"] == "alice"
    assert row["error"] == "RuntimeError: disk full" and row["params"] == "{}"
    assert row["created_at"] == stored["created_at"].isoformat()
    assert float(row["run_s"]) == 3.0


def test_formula_cells_are_defused(viewer, app, clean_db):
    """Cells starting with = + - @ (or a tab) get a leading apostrophe; others stay."""
    seed_many(app, 5, status="failure")
    errors = ["=HYPERLINK(\"http://evil\")", "+1+1", "-2+3", "@SUM(A1)", "\tx", "plain - text"]
    ids = [r["id"] for r in sql(app, "SELECT id FROM requests ORDER BY id")]
    for request_id, error in zip(ids, errors):
        sql(app, "UPDATE requests SET error = :e, submitted_by = :e WHERE id = :id",
            e=error, id=request_id)
    _, data, _ = exported(viewer, "?sort=oldest")
    got = [dict(zip(export.COLUMNS, line))["error"] for line in data]
    assert got == ["'=HYPERLINK(\"http://evil\")", "'+1+1", "'-2+3", "'@SUM(A1)", "'\tx"]
    assert export.safe_cell("plain - text") == "plain - text"
    assert export.safe_cell(-3) == -3  # a number is not a formula


def test_the_export_is_capped_with_a_last_line_saying_so(viewer, app, clean_db, monkeypatch):
    """Over the cap: exactly the first max rows of the list, then a line that says cut."""
    ids = seed_many(app, 25)
    monkeypatch.setitem(app.config, "EXPORT_MAX_ROWS", 10)
    answer = viewer.get("/requests.csv")
    answer.close()
    assert answer.headers["X-Export-Max-Rows"] == "10"
    _, data, notes = exported(viewer)
    assert [int(line[0]) for line in data] == sorted(ids, reverse=True)[:10]
    assert notes == [["# cut at 10 rows (the most one export holds); narrow the filter to"
                      " export the rest"]]
    monkeypatch.setitem(app.config, "EXPORT_MAX_ROWS", 25)
    _, data, notes = exported(viewer)  # exactly at the cap: whole, not cut
    assert len(data) == 25 and not notes


def _streamed_peak(client):
    """(chunk sizes, peak bytes Python allocated) while reading an export chunk by chunk."""
    answer = client.get("/requests.csv", buffered=False)
    assert answer.is_streamed
    tracemalloc.start()
    sizes = []
    try:
        for chunk in answer.response:
            sizes.append(len(chunk))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        answer.close()
    return sizes, peak


def test_the_export_streams_in_batches_with_flat_memory(viewer, app, clean_db, monkeypatch):
    """A 20,000-row export is a stream of one chunk per batch of 1000, and the memory it
    takes does not grow with its length: its peak is about a 4,000-row export's."""
    seed_many(app, 20_000)
    monkeypatch.setitem(app.config, "EXPORT_MAX_ROWS", 4000)
    _streamed_peak(viewer)  # warm: statements compiled and cached once
    small_sizes, small_peak = _streamed_peak(viewer)
    monkeypatch.setitem(app.config, "EXPORT_MAX_ROWS", 20_000)
    sizes, peak = _streamed_peak(viewer)
    assert len(sizes) == 1 + 20_000 // export.BATCH and max(sizes) < sum(sizes) / 15
    assert sum(sizes) > 4.5 * sum(small_sizes)
    assert peak < 1.5 * small_peak, (small_peak, peak)


def test_roles_audit_and_bad_filters(app, viewer, client, rows):
    """Signed out: sent to sign in. A viewer may export (audited with the filter).
    A bad filter: 422 naming the field, and nothing streamed."""
    answer = client.get("/requests.csv")
    assert answer.status_code == 302 and "/login" in answer.headers["Location"]
    exported(viewer, "?status=failure")
    [entry] = sql(app, "SELECT username, detail FROM audit_log WHERE action = 'export_csv'")
    assert entry["username"].startswith("viewer")
    assert entry["detail"]["filters"] == {"status": "failure"}
    bad = viewer.get("/requests.csv?created_after=yesterday")
    assert bad.status_code == 422
    assert bad.get_data(as_text=True).startswith("created_after: not a date and time")


def test_an_api_token_exports_too(api, rows):
    """Scripts use the same URL with a bearer token."""
    answer = api.get("/requests.csv?status=failure")
    assert answer.status_code == 200
    assert len(answer.get_data(as_text=True).strip().splitlines()) == 1 + 2


def test_an_export_left_unread_holds_nothing(viewer, rows):
    """An answer nobody reads (a client gone before the first byte) keeps no context or
    session behind: the next requests answer as usual. Exports are never cached."""
    left = viewer.get("/requests.csv", headers={"HX-Request": "true"})
    assert left.headers["Cache-Control"] == "no-store"
    assert viewer.get("/").status_code == 200
    _, data, _ = exported(viewer)
    assert len(data) == len(rows)


@pytest.mark.parametrize("args", [{}, {"sort": "oldest"}, {"sort": "longest"}, {"q": "alice"},
                                  {"created_after": "2000-01-01T00:00", "sort": "oldest"}])
def test_batches_of_two_page_through_the_list_by_its_keyset(app, rows, args):
    """Read two rows at a time, the export is still the whole list in its order, each row once
    (every sort, a search with its two alternatives, a time range on its own index)."""
    filters = listing.Filters(args, jobs.REGISTRY)
    with app.app_context():
        whole = [r["id"] for r in listing.list_requests(filters, limit=100)[0]]
    text = "".join(export.csv_chunks(app, filters, batch=2))
    got = [int(line[0]) for line in list(csv.reader(io.StringIO(text)))[1:]]
    assert got == whole and len(whole) >= 3
