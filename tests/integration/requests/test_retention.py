"""Retention on a seeded database: exactly the finished requests older than RETENTION_DAYS go,
with their attempts, artifacts and unshared uploads, in batches; active ones and audit stay."""
import pytest
from sqlalchemy import text

from tests.support.db import audit_rows
from dashboard import tasks
from dashboard.requests import retention
from dashboard.extensions import db

# (status, age of finished_at in days or None, created days ago, upload key)
SEED = {
    "old_success": ("success", 100, 100, "solo"),
    "old_failure_shared": ("failure", 100, 100, "shared"),
    "recent_success_shared": ("success", 1, 1, "shared"),
    "ancient_running": ("running", None, 200, None),
    "ancient_unassigned": ("unassigned", None, 200, None),
    "ancient_pending": ("pending", None, 200, None),
    "old_killed": ("killed", 91, 91, None),
    "young_timeout": ("timeout", 89, 89, None),
}
GONE = {"old_success", "old_failure_shared", "old_killed"}


def q(statement, **params):
    return db.session.execute(text(statement), params)


@pytest.fixture
def seeded(app, clean_db):
    """The rows above, each with two attempts and one artifact; returns {key: request id}."""
    with app.app_context():
        uploads = {key: q("INSERT INTO uploads (filename, safe_name, size, sha256, content_type,"
                          " data) VALUES (:k, :k, 1, 'x', 'application/octet-stream', 'a')"
                          " RETURNING id", k=key).scalar() for key in ("solo", "shared")}
        ids = {}
        for key, (status, finished, created, upload) in SEED.items():
            ids[key] = q(
                "INSERT INTO requests (job_type, status, attempt, submitted_by, upload_id,"
                " created_at, finished_at) VALUES ('simulate', :s, 2, 'seed', :u,"
                " now() - make_interval(days => :c),"
                " CASE WHEN CAST(:f AS int) IS NULL THEN NULL"
                " ELSE now() - make_interval(days => CAST(:f AS int)) END) RETURNING id",
                s=status, u=uploads.get(upload), c=created, f=finished).scalar()
            for n in (1, 2):
                q("INSERT INTO attempts (request_id, number, status, triggered_by)"
                  " VALUES (:r, :n, :s, 'seed')", r=ids[key], n=n,
                  s="failure" if n == 1 else status)
            q("INSERT INTO artifacts (request_id, attempt, name, content_type, data)"
              " VALUES (:r, 2, 'a.png', 'image/png', 'x')", r=ids[key])
            q("INSERT INTO audit_log (action, outcome, request_id, username)"
              " VALUES ('submit', 'ok', :r, 'seed')", r=ids[key])
        q("INSERT INTO schedules (name, job_type, every_s, last_request_id)"
          " VALUES ('kept', 'simulate', 60, :r)", r=ids["old_success"])
        db.session.commit()
        yield ids, uploads
        db.session.rollback()


def remaining(table, column="request_id"):
    return set(q(f"SELECT DISTINCT {column} FROM {table}").scalars())


def test_deletes_exactly_what_retention_allows(app, seeded):
    ids, uploads = seeded
    with app.app_context():
        counts = retention.purge(90, batch=2, username="tester")
        assert counts == {"requests": 3, "attempts": 6, "artifacts": 3, "uploads": 1,
                          "orphaned_uploads": 0, "batches": 2}
        kept = {ids[k] for k in SEED if k not in GONE}
        assert remaining("requests", "id") == kept
        assert remaining("attempts") == kept
        assert remaining("artifacts") == kept
        assert remaining("uploads", "id") == {uploads["shared"]}  # still used by a kept request
        # The audit trail stays whole, the schedule stays (without its deleted last request).
        assert remaining("audit_log") >= set(ids.values())
        assert q("SELECT last_request_id FROM schedules WHERE name = 'kept'").scalar() is None
        db.session.rollback()
    [entry] = audit_rows(app, "retention")
    assert entry["username"] == "tester" and entry["detail"]["requests"] == 3
    assert entry["detail"]["days"] == 90 and entry["detail"]["uploads"] == 1
    with app.app_context():
        assert retention.purge(90)["requests"] == 0  # nothing left to delete


def test_zero_days_keeps_everything(app, seeded):
    ids, _ = seeded
    with app.app_context():
        assert retention.purge(0)["requests"] == 0
        assert remaining("requests", "id") == set(ids.values())
        db.session.rollback()


def test_the_beat_task_uses_retention_days_and_records_its_run(app, seeded, client, make_user):
    """The `retention` periodic task reads RETENTION_DAYS and records its run for the page."""
    saved = app.config["RETENTION_DAYS"]
    app.config["RETENTION_DAYS"] = 95
    try:
        with app.app_context():
            result = tasks.retention.run()
            assert result["requests"] == 2  # the 100-day-old ones; the 91-day kill stays
            run = q("SELECT * FROM periodic_runs WHERE name = 'retention'").mappings().one()
            assert run["ok"] is True and "requests 2" in run["outcome"]
            db.session.rollback()
    finally:
        app.config["RETENTION_DAYS"] = saved
    _, _, token = make_user("viewer", username="ret-viewer")
    listed = client.get("/api/schedules", headers={"Authorization": f"Bearer {token}"})
    entry = next(s for s in listed.get_json() if s["name"] == "retention")
    assert entry["builtin"] and "requests 2" in entry["outcome"] and entry["last_run_at"]
