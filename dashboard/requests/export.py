"""The list as CSV: the rows a filter shows, in the list's order, read in keyset batches and
written as they are read, so an export of any size holds one batch in memory (and, between
batches, no database session or app context).

At most MAX_ROWS rows; an export cut there ends with a line saying so. Text cells that a
spreadsheet would take as a formula (starting with = + - @, a tab or a carriage return) are
written with a leading apostrophe.
"""
import csv
import io
import json

from dashboard.requests import listing

MAX_ROWS = 100_000
BATCH = 1000
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
COLUMNS = ("id", "job_type", "status", "priority", "attempt", "submitted_by", "created_at",
           "started_at", "finished_at", "run_s", "worker", "file", "schedule", "params",
           "error")


def safe_cell(value):
    """A cell's text: None empty, times in ISO 8601, formula-like text behind an apostrophe."""
    if value is None:
        return ""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, (dict, list)):
        value = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    if isinstance(value, str):
        return "'" + value if value.startswith(FORMULA_START) else value
    return value


def row_values(r):
    """One request as the export's columns."""
    ran = None
    if r["started_at"] and r["finished_at"]:
        ran = round((r["finished_at"] - r["started_at"]).total_seconds(), 3)
    return [r["id"], r["job_type"], r["status"], r["priority"], r["attempt"], r["submitted_by"],
            r["created_at"], r["started_at"], r["finished_at"], ran, r["worker"], r["filename"],
            r["schedule"], r["params"], r["error"]]


def batches(app, filters, max_rows=MAX_ROWS, batch=BATCH):
    """The filter's requests in the list's order, a batch at a time, up to max_rows + 1 (one
    more says "cut"). Each batch is read in an app context of its own, left before the batch
    is handed on: nothing is held between batches, whether the reader goes on or not."""
    after, sent = None, 0
    while sent <= max_rows:
        with app.app_context():
            page, after = listing.list_requests(filters, limit=min(batch, max_rows + 1 - sent),
                                                after=after)
        yield page
        sent += len(page)
        if after is None:
            return


def csv_chunks(app, filters, max_rows=MAX_ROWS, batch=BATCH):
    """The CSV text in chunks: the header, then one chunk per batch of rows (and, when cut,
    a last line saying so)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")

    def taken():
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow(COLUMNS)
    yield taken()
    n = 0
    for page in batches(app, filters, max_rows, batch):
        for r in page:
            if n == max_rows:
                yield taken() + (f"# cut at {max_rows} rows (the most one export holds);"
                                 " narrow the filter to export the rest\r\n")
                return
            writer.writerow([safe_cell(v) for v in row_values(r)])
            n += 1
        if buffer.tell():
            yield taken()
