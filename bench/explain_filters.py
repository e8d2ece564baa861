"""EXPLAIN (ANALYZE, BUFFERS) of the requests list's query for every filter and sort.

Seeds ROWS requests with bench/dashboard.py's SEED_SQL into a database of its own
(`dashboard_explain` on the local services, made by deploy/services.py test-env, or
BENCH_DATABASE_URL / BENCH_BROKER_URL when set; its schema is rebuilt), then
runs the list's first page (listing.list_sql, as the page and the API run it) for each
parameter of listing.Filters.PARAMS with its example value (Filters.examples()) and a
few more realistic cases, and prints: filter, the plan's scans of `requests` (node
and index), rows of `requests` read, buffers hit + read, execution time.

    .venv/bin/python -m bench.explain_filters 1000000 [--reuse]

`--reuse` explains on the table already seeded there.
"""
import sys
from datetime import datetime, timedelta, timezone

from sqlalchemy import text

from bench import stack
from bench.dashboard import seed
from bench.stack import reset_schema
from dashboard import create_app, entry, jobs
from dashboard.requests import listing
from dashboard.extensions import db
from deploy.stack import rows_read, scans


def cases(now):
    """(label, query args): each parameter's example, then a few harder ones."""
    day = lambda d: (now - timedelta(days=d)).strftime("%Y-%m-%dT%H:%M:%SZ")  # noqa: E731
    found = [(f"{k}={v}", {k: v}) for k, v in listing.Filters.examples(now).items()]
    return found + [
        ("created_before (oldest 40%)", {"created_before": day(100)}),
        ("created_after..before (one day, 90 days ago)",
         {"created_after": day(91), "created_before": day(90)}),
        ("error=operator2 (1 in 150)", {"error": "operator2"}),
        ("error=nothing like this (none)", {"error": "nothing like this"}),
        ("status=killed + sort=longest", {"status": "killed", "sort": "longest"}),
        ("submitted_by=user7 + sort=oldest", {"submitted_by": "user7", "sort": "oldest"}),
        ("worker + error", {"worker": "worker2@node3", "error": "soft time limit"}),
        ("worker=nobody@nowhere (none)", {"worker": "nobody@nowhere"}),
        ("submitted_by=nobody + sort=longest (none)", {"submitted_by": "nobody",
                                                       "sort": "longest"}),
        ("status=killed + one day 90 days ago", {"status": "killed",
                                                 "created_after": day(91),
                                                 "created_before": day(90)}),
        ("error=operator2 + created_before 100 days ago", {"error": "operator2",
                                                           "created_before": day(100)}),
    ]


def explain(filters):
    sql, params = listing.list_sql(filters, 50)
    [result] = db.session.execute(text("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + sql),
                                  params).scalar()
    db.session.rollback()
    plan = result["Plan"]
    nodes = scans(plan, [])
    read = sum(rows_read(n) for n in nodes)
    kinds = sorted({f"{n['Node Type']}" + (f" {n['Index Name']}" if n.get("Index Name") else "")
                    for n in nodes})
    buffers = plan.get("Shared Hit Blocks", 0) + plan.get("Shared Read Blocks", 0)
    return kinds, read, buffers, result["Execution Time"], result.get("Planning Time", 0)


def main(rows, reuse=False):
    entry.read_settings_file()
    stack.configure(*stack.isolated_env("explain"))   # never the local stack's database
    app = create_app({"TESTING": True})
    if not reuse:
        reset_schema(app)
        seconds, _ = seed(app, rows)
        print(f"seeded {rows} rows in {seconds:.0f} s", flush=True)
    now = datetime.now(timezone.utc)
    with app.app_context():
        print("| filter | plan (scans of requests) | rows read | buffers | ms |")
        print("|---|---|---|---|---|")
        for label, args in cases(now):
            filters = listing.Filters(args, jobs.REGISTRY)
            assert not filters.errors, filters.errors
            explain(filters)  # warm
            kinds, read, buffers, ms, _ = min((explain(filters) for _ in range(3)),
                                              key=lambda r: r[3])
            print(f"| {label} | {', '.join(kinds)} | {read} | {buffers} | {ms:.1f} |",
                  flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000, "--reuse" in sys.argv)
