"""A request's timeline finds the bulk actions that named it through an index.

Bulk retries and kills keep the ids they listed in one audit entry (`detail.ids`). The
timeline must not read every such entry to find the few naming this request: with
20,000 bulk entries (2,000,000 ids) its audit query reads only the rows it shows, and
the request's page and timeline take about as long as with none.
"""
import statistics
import time

import pytest
from sqlalchemy import text

from dashboard.extensions import db
from dashboard.models import AuditEntry
from dashboard.requests import timeline
from deploy.stack import rows_read, scans
from tests.support.db import sql

BULK_IDS_INDEX = "audit_log_bulk_ids_idx"
BULK_ENTRIES = 20_000
IDS_EACH = 100
# Bulk entries listing 100 ids each, none of them the request's, but two that do.
SEED = """
INSERT INTO audit_log (at, username, action, outcome, detail)
SELECT now() - interval '1 day' + g * interval '1 ms', 'op',
       CASE WHEN g % 2 = 0 THEN 'bulk_retry' ELSE 'bulk_kill' END, '100 done, 0 refused',
       jsonb_build_object('ids', ids, 'done', ids, 'refused', '[]'::jsonb)
FROM generate_series(1, :entries) g,
     LATERAL (SELECT jsonb_agg(CASE WHEN g IN (7, 4321) AND k = 50 THEN :id
                                    ELSE 1000000 + g * :each + k END) AS ids
              FROM generate_series(1, :each) k) listed
"""


@pytest.fixture
def finished(app, clean_db):
    """A finished request, and the signed-in operator's client."""
    return sql(app, "INSERT INTO requests (job_type, status, task_id, finished_at, submitted_by)"
                    " VALUES ('simulate', 'success', gen_random_uuid()::text, now(), 'alice')"
                    " RETURNING id")[0]["id"]


def _seed(app, request_id):
    """The bulk entries, then ANALYZE. The bulk ids' index (when the schema has it) is
    built again after the rows, as the model declares it: one sorted build instead of
    2,000,000 entries inserted one by one; the same index either way."""
    index = next((i for i in AuditEntry.__table__.indexes if i.name == BULK_IDS_INDEX), None)
    with app.app_context():
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            had = conn.execute(text("SELECT to_regclass(:name) IS NOT NULL"),
                               {"name": BULK_IDS_INDEX}).scalar()
            if had:
                conn.execute(text(f"DROP INDEX {BULK_IDS_INDEX}"))
            conn.execute(text(SEED), {"entries": BULK_ENTRIES, "each": IDS_EACH,
                                      "id": request_id})
            if had:
                index.create(conn)
            conn.execute(text("ANALYZE audit_log"))


def _median_ms(call, times=7):
    spent = []
    for _ in range(times):
        started = time.perf_counter()
        answer = call()
        spent.append((time.perf_counter() - started) * 1000)
        assert answer.status_code == 200
    return statistics.median(spent)


def _plan(app, request_id):
    """The timeline's audit query's EXPLAIN (ANALYZE) plan, and the entries it finds."""
    with app.app_context():
        plan = db.session.execute(text("EXPLAIN (ANALYZE, FORMAT JSON) " + timeline.AUDIT_SQL),
                                  {"id": request_id}).scalar()[0]["Plan"]
        found = db.session.execute(text(timeline.AUDIT_SQL), {"id": request_id}).mappings().all()
        db.session.rollback()
    return plan, [r["action"] for r in found]


def _indexes(node):
    return [node.get("Index Name")] + [i for c in node.get("Plans", []) for i in _indexes(c)]


def test_the_timeline_reads_only_the_bulk_entries_naming_the_request(app, finished, signed_in):
    """With 20,000 bulk entries: the audit query does not Seq Scan audit_log, uses the bulk
    ids' index and reads a handful of rows; the request's page and its timeline are at most
    30 ms slower (median of 7) than with none; the timeline shows the two that named it."""
    client, _, _ = signed_in("operator")
    page = lambda: client.get(f"/requests/{finished}")  # noqa: E731
    story = lambda: client.get(f"/api/requests/{finished}/timeline")  # noqa: E731
    page(), story()  # warm: templates, connections
    before = (_median_ms(page), _median_ms(story))
    _seed(app, finished)
    plan, found = _plan(app, finished)
    nodes = scans(plan, [], table="audit_log")
    kinds = [n["Node Type"] for n in nodes]
    assert nodes and "Seq Scan" not in kinds, kinds
    assert BULK_IDS_INDEX in _indexes(plan), plan
    assert sum(rows_read(n) for n in nodes) <= 10, plan
    assert found == ["bulk_kill", "bulk_kill"], found
    page(), story()
    after = (_median_ms(page), _median_ms(story))
    print(f"median ms (page, timeline): {before} with no bulk entries, {after} with"
          f" {BULK_ENTRIES}")
    assert after[0] <= before[0] + 30 and after[1] <= before[1] + 30, (before, after)
    items = story().get_json()["items"]
    assert [i["action"] for i in items if i["kind"] == "audit"] == ["bulk_kill", "bulk_kill"]
