"""Requests seeded for the list's filters and sort: each filter has rows of its own.

Rows are written straight into the test database (the dispatcher picks up only
`unassigned` ones, and none is). `seed_filter_rows` returns {name: id}; ids rise in
the order of ROWS, so "newest first" is ROWS reversed.
"""
from sqlalchemy import text

from dashboard.extensions import db

# (name, status, worker, submitted by, minutes ago created, seconds it ran, error)
ROWS = [
    ("old_success", "success", "worker1@host-a", "alice", 3 * 24 * 60, 10, None),
    ("disk_failure", "failure", "worker1@host-a", "alice", 5 * 60, 3, "RuntimeError: disk full"),
    ("shape_failure", "failure", "worker2@host-b", "bob", 2 * 60, 2,
     "ValueError: Bad Shape in slice 3"),
    ("timeout", "timeout", "worker1@host-a", "carol", 30, 30,
     "TimeLimitExceeded: ran longer than 30 s"),
    ("long_success", "success", "worker2@host-b", "alice", 10, 100, None),
    ("running", "running", "worker1@host-a", "bob", 1, None, None),
]
NEWEST_FIRST = [name for name, *_ in reversed(ROWS)]


def seed_filter_rows(app):
    """Insert ROWS (with their first attempt); {name: request id}."""
    ids = {}
    with app.app_context():
        for name, status, worker, by, ago, ran, error in ROWS:
            ids[name] = db.session.execute(text(
                "INSERT INTO requests (job_type, status, worker, submitted_by, error, params,"
                " task_id, created_at, queued_at, started_at, finished_at)"
                " SELECT 'simulate', :status, :worker, :by, :error, '{}'::jsonb,"
                " gen_random_uuid()::text, c, c, c + interval '1 second',"
                " CASE WHEN CAST(:ran AS float) IS NOT NULL"
                "  THEN c + interval '1 second' + make_interval(secs => :ran) END"
                " FROM (SELECT now() - make_interval(mins => :ago) AS c) t RETURNING id"),
                {"status": status, "worker": worker, "by": by, "error": error,
                 "ran": ran, "ago": ago}).scalar_one()
            db.session.execute(text(
                "INSERT INTO attempts (request_id, number, status, task_id, worker, triggered_by,"
                " queued_at, started_at, finished_at, error) SELECT id, 1, status, task_id,"
                " worker, submitted_by, queued_at, started_at, finished_at, error"
                " FROM requests WHERE id = :id"), {"id": ids[name]})
        db.session.commit()
    return ids


def seed_many(app, n, status="success"):
    """`n` more finished requests (to make the list long); their ids, oldest first."""
    with app.app_context():
        ids = db.session.execute(text(
            "INSERT INTO requests (job_type, status, worker, submitted_by, params, task_id,"
            " created_at, queued_at, started_at, finished_at)"
            " SELECT 'simulate', :status, 'worker1@host-a', 'dave', '{}'::jsonb,"
            " gen_random_uuid()::text, now() - make_interval(secs => :n - g),"
            " now() - make_interval(secs => :n - g), now() - make_interval(secs => :n - g),"
            " now() - make_interval(secs => :n - g) + interval '2 seconds'"
            " FROM generate_series(1, :n) g ORDER BY g RETURNING id"),
            {"n": n, "status": status}).scalars().all()
        db.session.commit()
    return sorted(ids)
