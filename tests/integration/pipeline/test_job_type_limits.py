"""Job type limits the dispatcher enforces from PostgreSQL: priority, max_running,
rate_per_min, paused; and the one wake-up per insert statement.

Real PostgreSQL; where a test dispatches, the stack's real dispatcher and workers.
"""
import json
import select

import psycopg2
from sqlalchemy import text

from dashboard.dispatcher import CHANNEL, libpq_dsn
from dashboard.extensions import db
from dashboard.jobs import limits
from tests.support.db import sql


def test_a_bulk_insert_wakes_the_dispatcher_once(app, clean_db):
    """1,000 unassigned rows in one INSERT: one notification, not 1,000."""
    conn = psycopg2.connect(libpq_dsn(app.config["SQLALCHEMY_DATABASE_URI"]))
    conn.autocommit = True
    try:
        conn.cursor().execute(f"LISTEN {CHANNEL}")
        with app.app_context():
            db.session.execute(text(
                "INSERT INTO requests (job_type, params, status, submitted_by)"
                " SELECT 'simulate', '{}'::jsonb, 'killed', 't' FROM generate_series(1, 5)"))
            db.session.execute(text(
                "INSERT INTO requests (job_type, params, submitted_by)"
                " SELECT 'simulate', '{}'::jsonb, 't' FROM generate_series(1, 1000)"))
            db.session.commit()
        select.select([conn], [], [], 2.0)
        conn.poll()
        assert len(conn.notifies) == 1, conn.notifies
    finally:
        conn.close()
        sql(app, "DELETE FROM requests")


def test_current_merges_declared_values_with_stored_overrides(app, clean_db):
    with app.app_context():
        assert limits.current("simulate") == {"priority": 0, "max_running": None,
                                              "rate_per_min": None, "paused": False}
    sql(app, "INSERT INTO job_type_settings (name, max_running, paused, changed_by)"
             " VALUES ('simulate', 3, true, 'admin')")
    with app.app_context():
        assert limits.current("simulate") == {"priority": 0, "max_running": 3,
                                              "rate_per_min": None, "paused": True}
        everything = limits.current_all()
        assert everything["simulate"]["max_running"] == 3
        assert everything["load_array"] == {"priority": 0, "max_running": None,
                                            "rate_per_min": None, "paused": False}
