"""What a job's log lines cost (issue 11), on a real prefork worker, counted by PostgreSQL.

A `simulate` request logs LINES lines through Python logging in its pool process.
Every one must reach the request's log API, in order; and PostgreSQL must have
written them in at most BUDGET transactions. The transactions are counted from
the rows themselves: every row a transaction writes carries that transaction's
id (`xmin`), so the distinct xmins of the request's log rows are the
transactions that stored them, however the writer batches them. As a second
witness, the database's committed-transaction counter (`pg_stat_database`)
may not grow by more than a line's worth for the whole run.
"""
import time

from tests.support.db import sql, wait_status
from tests.support.http import all_lines, submit
from tests.support.procs import wait_for

LINES = 5000
BUDGET = 20  # transactions for all LINES lines: at least 250 lines per transaction on average


def commits(app):
    """Transactions committed in the test database so far (PostgreSQL's own counter)."""
    sql(app, "SELECT pg_stat_clear_snapshot()")
    [row] = sql(app, "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()")
    return row["xact_commit"]


def settled_commits(app):
    """The counter once the statistics have caught up (they are flushed about every second)."""
    time.sleep(1.5)
    return commits(app)


def test_many_log_lines_reach_the_api_within_the_transaction_budget(app, stack, api):
    before = settled_commits(app)
    request_id = submit(api, {"min_seconds": 0, "max_seconds": 0, "log_lines": LINES})
    row = wait_status(app, request_id, "success", timeout=90)
    assert row["worker"].endswith("@test")
    lines = all_lines(api, request_id)
    extra = [line["message"] for line in lines if "extra line" in line["message"]]
    assert extra == [f"dashboard.jobs.simulate: extra line {n} of {LINES}"
                     for n in range(1, LINES + 1)]
    assert all(line["attempt"] == 1 and line["level"] == "INFO" for line in lines
               if "extra line" in line["message"])
    [written] = sql(app, "SELECT count(*) AS rows, count(DISTINCT xmin::text) AS transactions"
                         " FROM attempt_logs WHERE request_id = :id", id=request_id)
    assert written["rows"] == len(lines) >= LINES
    assert 1 <= written["transactions"] <= BUDGET, written
    after = wait_for(lambda: (n := settled_commits(app)) > before and n, 10,
                     what="pg_stat_database to count the run")
    # Everything the stack committed meanwhile (dispatcher, worker, API calls) is far below
    # one transaction per line.
    assert after - before < LINES // 10, (before, after)
