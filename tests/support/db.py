"""SQL against the test database: fresh reads of rows and audit entries, setup statements."""
import json
import time

import psycopg2.errors

from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from dashboard import jobs, lifecycle
from dashboard.extensions import db

from .procs import wait_for

TABLES = ("requests, attempts, uploads, artifacts, audit_log, status_counts, api_tokens, users,"
          " finish_stats, worker_pauses, job_type_settings, job_type_dispatches")


def sql(app, statement, **params):
    """Run SQL in the test database and commit; returns the rows (if any)."""
    with app.app_context():
        result = db.session.execute(text(statement), params)
        rows = [dict(r) for r in result.mappings()] if result.returns_rows else []
        db.session.commit()
    return rows


def empty_tables(app, tries=5):
    """Every table of the schema empty, identities restarted.

    A worker still finishing the previous test's request can deadlock with the
    TRUNCATE (PostgreSQL aborts one of the two): the TRUNCATE is then tried again.
    """
    with app.app_context():
        for attempt in range(tries):
            try:
                db.session.execute(text(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE"))
                db.session.commit()
                return
            except OperationalError as exc:
                db.session.rollback()
                if not isinstance(exc.orig, psycopg2.errors.DeadlockDetected) or attempt == tries - 1:
                    raise
                time.sleep(0.2)


def kill_unfinished(app):
    """Kill every request still unassigned, pending or running (none runs into the next test)."""
    from dashboard.requests import actions
    with app.app_context():
        db.session.rollback()
        ids = db.session.execute(text(
            "SELECT id FROM requests WHERE status IN ('unassigned', 'pending', 'running')"
        )).scalars().all()
        for request_id in ids:
            actions.kill(request_id, "test-cleanup")


def fetch(app, request_id):
    """The request's row as a dict (fresh read), or None."""
    with app.app_context():
        row = db.session.execute(text("SELECT * FROM requests WHERE id = :id"),
                                 {"id": request_id}).mappings().first()
        db.session.rollback()
        return dict(row) if row else None


def wait_status(app, request_id, statuses, timeout=20):
    """Wait until the request is in one of `statuses`; returns the row."""
    statuses = (statuses,) if isinstance(statuses, str) else tuple(statuses)

    def check():
        row = fetch(app, request_id)
        return row if row and row["status"] in statuses else None
    try:
        return wait_for(check, timeout, what=f"request {request_id} in {statuses}")
    except AssertionError:
        raise AssertionError(f"request {request_id} is {fetch(app, request_id)}, "
                             f"wanted {statuses}") from None


def attempts(app, request_id):
    """The request's attempts, oldest first, as dicts (fresh read)."""
    with app.app_context():
        rows = db.session.execute(text(
            "SELECT * FROM attempts WHERE request_id = :id ORDER BY number"),
            {"id": request_id}).mappings().all()
        db.session.rollback()
        return [dict(r) for r in rows]


def audit_rows(app, action=None, request_id=None):
    """Audit entries, oldest first, optionally of one action and/or one request."""
    with app.app_context():
        rows = db.session.execute(text(
            "SELECT * FROM audit_log WHERE (:a IS NULL OR action = :a)"
            " AND (:id IS NULL OR request_id = :id) ORDER BY id"),
            {"a": action, "id": request_id}).mappings().all()
        db.session.rollback()
    return [dict(r) for r in rows]


# counts() after a refused submission: nothing stored.
NOTHING = (0, 0, 0)


def counts(app):
    """Rows in requests, uploads and attempts (what a refused submission must not add)."""
    with app.app_context():
        row = db.session.execute(text(
            "SELECT (SELECT count(*) FROM requests), (SELECT count(*) FROM uploads),"
            " (SELECT count(*) FROM attempts)")).one()
        db.session.rollback()
    return tuple(row)


def insert_requests(app, params_list, submitted_by="tester"):
    """Commit one `simulate` request per params (validated as at submit, defaults filled in)
    in ONE transaction, so the dispatcher claims them together; their ids, in order."""
    job = jobs.get("simulate")
    with app.app_context():
        ids = [lifecycle.submit("simulate", json.dumps(job.validate(p, None)), None, submitted_by)
               for p in params_list]
        db.session.commit()
    return ids


def batches_of(app, request_id):
    """Per start of the request (its `started` / `redelivered` lines, oldest first): the id of
    the batch message it ran in, or None when it ran in a message of its own."""
    return [(row["detail"] or {}).get("batch") for row in sql(
        app, "SELECT detail FROM attempt_logs WHERE request_id = :id"
             " AND event IN ('started', 'redelivered') ORDER BY id", id=request_id)]
