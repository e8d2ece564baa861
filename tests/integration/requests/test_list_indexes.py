"""Every filter of the requests list, and the search, has an index path.

With 200,000 requests seeded by generate_series and ANALYZEd, the list query of each
filter (as the page and the API run it, listing.list_sql) must not Seq Scan `requests`
and, for the selective ones, must read at most a few thousand of its rows (from EXPLAIN
ANALYZE): a search for a user with no requests read every row, newest first (460-535 ms
at 2,000,000 rows), and a rare status and job type together read all rows of one of
them. Each answer is also checked against the plain query it replaces.
"""
import pytest
from sqlalchemy import text

from dashboard import jobs
from dashboard.requests import listing
from dashboard.extensions import db
from deploy.stack import rows_read, scans

ROWS = 200_000
# Rows of `requests` a selective filter may read: 1% of the table.
MAX_READ = ROWS // 100

SEED = """
INSERT INTO uploads (filename, safe_name, size, sha256, content_type, data)
SELECT CASE WHEN g = 7 THEN 'needle-ct.raw' ELSE 'scan-' || g || '.raw' END,
       'scan.raw', 1, md5(g::text) || md5(g::text), 'application/octet-stream', '\\x00'::bytea
FROM generate_series(1, 2000) g;
INSERT INTO requests (job_type, status, upload_id, submitted_by, task_id, params)
SELECT CASE WHEN g % 10 < 3 THEN 'load_array' ELSE 'simulate' END,
       CASE WHEN g % 10 BETWEEN 3 AND 5 OR g % 20000 = 0 THEN 'killed' ELSE 'success' END,
       CASE WHEN g % 10 >= 3 THEN NULL WHEN g < 100 AND g % 10 = 0 THEN 7 ELSE 8 + g % 1990 END,
       CASE WHEN g % 40000 = 1 THEN 'rare-user' ELSE 'user' || (g % 10) END,
       md5(g::text)::uuid::text, '{}'::jsonb
FROM generate_series(1, :rows) g;
"""

# (query args, selective: the rows it reads are bounded by MAX_READ)
CASES = [
    ({}, True),
    ({"status": "killed"}, True),
    ({"status": "running"}, True),
    ({"job_type": "load_array"}, True),
    ({"status": "killed", "job_type": "load_array"}, True),     # 10 rows of 200,000
    ({"q": "nobody"}, True),                                     # no such user or file
    ({"q": "rare-user"}, True),                                  # 5 requests
    ({"q": "needle"}, True),                                     # 9 requests, the oldest
    ({"q": "NEEDLE-CT"}, True),                                  # ILIKE: any case
    ({"q": "rare-user", "status": "killed"}, True),
    ({"q": "needle", "job_type": "load_array", "status": "success"}, True),
    ({"q": "user3"}, True),
    ({"q": "user3", "status": "killed", "job_type": "simulate"}, True),
    ({"q": "12345"}, True),                                      # a request id
    ({"q": "needle", "job_type": "simulate"}, True),             # files, none of that type
    ({"q": "scan-42"}, True),                                    # 11 files
    ({"q": "scan-42", "status": "killed"}, True),
    ({"q": "scan-1"}, False),                                    # 1,111 files: many
    ({"q": "scan-"}, False),                                     # every file
]


@pytest.fixture(scope="module")
def seeded(app):
    """200,000 requests (2,000 uploads), analyzed, and a viewer `seed-viewer` with an API
    token (app.seed_token); emptied again afterwards."""
    from dashboard.web.auth import hash_password, issue_token
    from dashboard.models import User
    with app.app_context():
        db.session.execute(text("TRUNCATE requests, attempts, uploads, artifacts, status_counts,"
                                " audit_log, api_tokens, users RESTART IDENTITY CASCADE"))
        viewer = User(username="seed-viewer", role="viewer",
                      password_hash=hash_password("correct horse battery"))
        db.session.add(viewer)
        db.session.flush()
        app.seed_token = issue_token(viewer, "test")
        db.session.execute(text(SEED), {"rows": ROWS})
        db.session.commit()
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE requests, uploads"))
    yield app
    with app.app_context():
        db.session.execute(text("TRUNCATE requests, attempts, uploads, artifacts, status_counts"
                                " RESTART IDENTITY CASCADE"))
        db.session.commit()


def _explain(sql, params):
    """The EXPLAIN (ANALYZE, FORMAT JSON) plan of one query."""
    return db.session.execute(text("EXPLAIN (ANALYZE, FORMAT JSON) " + sql),
                              params).scalar()[0]["Plan"]


@pytest.mark.parametrize("args, selective", CASES, ids=[str(a) for a, _ in CASES])
def test_list_query_uses_an_index(seeded, args, selective):
    """No Seq Scan on requests; a selective filter reads at most 1% of the table."""
    with seeded.app_context():
        filters = listing.Filters(args, jobs.REGISTRY)
        assert not filters.errors
        sql, params = listing.list_sql(filters, 50)
        nodes = scans(_explain(sql, params), [])
        assert nodes, "the plan does not read requests?"
        kinds = [(n["Node Type"], n.get("Index Name")) for n in nodes]
        assert all(kind != "Seq Scan" for kind, _ in kinds), kinds
        read = sum(rows_read(n) for n in nodes)
        if selective:
            assert read <= MAX_READ, f"{args}: read {read} rows of requests via {kinds}"
        db.session.rollback()


@pytest.mark.parametrize("args", [a for a, _ in CASES], ids=[str(a) for a, _ in CASES])
def test_list_answers_what_the_plain_query_answers(seeded, args):
    """The first two pages equal those of the plain query: one condition, the search's
    alternatives OR'd."""
    with seeded.app_context():
        filters = listing.Filters(args, jobs.REGISTRY)
        clauses, alternatives, params = listing.conditions(filters.values())
        if alternatives:
            clauses = clauses + ["(" + " OR ".join(alternatives) + ")"]
        where = " AND ".join(clauses) or "true"
        after = None
        for _ in range(2):
            rows, cursor = listing.list_requests(filters, 50, after)
            keyset = " AND r.id < :after" if after else ""
            plain = db.session.execute(text(
                f"SELECT r.id FROM requests r WHERE {where}{keyset} ORDER BY r.id DESC"
                " LIMIT 51"), {**params, "after": after}).scalars().all()
            assert [r["id"] for r in rows] == plain[:50]
            assert cursor == (plain[49] if len(plain) > 50 else None)
            if cursor is None:
                break
            after = cursor
        db.session.rollback()


def test_the_searches_find_what_they_should(seeded):
    """The seeded answers: 5 for the rare user, 9 needle files, 10 killed volumes."""
    with seeded.app_context():
        def ids(**args):
            return [r["id"] for r in listing.list_requests(
                listing.Filters(args, jobs.REGISTRY), 50)[0]]
        assert len(ids(q="rare-user")) == 5
        assert ids(q="needle") == [90, 80, 70, 60, 50, 40, 30, 20, 10]
        assert ids(q="nobody") == []
        assert len(ids(status="killed", job_type="load_array")) == 10
        db.session.rollback()


def test_the_api_search_pages_through_the_seeded_table(seeded):
    """Through the API: the needle files' requests newest first and paged, a rare user with
    two filters, and no one."""
    client = seeded.test_client()
    bearer = {"Authorization": f"Bearer {seeded.seed_token}"}
    first = client.get("/api/requests?q=needle&limit=5", headers=bearer)
    assert first.status_code == 200
    assert [r["id"] for r in first.get_json()["items"]] == [90, 80, 70, 60, 50]
    assert {r["filename"] for r in first.get_json()["items"]} == {"needle-ct.raw"}
    rest = client.get(f"/api/requests?q=needle&limit=5&after={first.get_json()['next']}",
                      headers=bearer).get_json()
    assert [r["id"] for r in rest["items"]] == [40, 30, 20, 10] and rest["next"] is None
    rare = client.get("/api/requests?q=rare-user&status=success&job_type=load_array",
                      headers=bearer).get_json()
    assert [r["id"] for r in rare["items"]] == [160001, 120001, 80001, 40001, 1]
    assert client.get("/api/requests?q=nobody", headers=bearer).get_json()["items"] == []
