"""Retention: delete finished requests older than RETENTION_DAYS, in batches, never an active one.

A request goes with its attempts, artifacts and volume records (ON DELETE
CASCADE), with its upload when no remaining request uses it, and with the
C-order volume copies its load_array attempts stored as extra uploads
(dashboard.volumes.cache). An upload's bytes are `upload_chunks` rows, which
go with it (ON DELETE CASCADE). Every run also sweeps orphaned uploads: rows
no request and no volume record refers to, older than UPLOAD_ORPHAN_GRACE_S
(e.g. a copy an overwritten volume record no longer names, or a file whose
request was never stored). Every writer stores an upload and its reference in
one transaction, so the grace period is a margin, not what makes it safe.
Audit entries stay: they are the audit trail (`audit_log.request_id` is a
plain number, not a foreign key), so "who killed request 42" is answerable
after 42 is gone. Each run that deletes anything (or has RETENTION_DAYS > 0)
leaves one audit entry with the counts.
"""
import logging

from sqlalchemy import text

from dashboard import audit
from dashboard.extensions import db
from dashboard.lifecycle import TERMINAL, sql_list

log = logging.getLogger(__name__)

BATCH_SQL = f"""
WITH doomed AS (
  SELECT id FROM requests
  WHERE status IN {sql_list(TERMINAL)}
    AND COALESCE(finished_at, created_at) < now() - make_interval(days => :days)
  ORDER BY id LIMIT :batch FOR UPDATE SKIP LOCKED
), counted AS (
  SELECT (SELECT count(*) FROM attempts a WHERE a.request_id IN (SELECT id FROM doomed)) AS attempts,
         (SELECT count(*) FROM artifacts f WHERE f.request_id IN (SELECT id FROM doomed)) AS artifacts
)
SELECT (SELECT array_agg(id) FROM doomed) AS ids, counted.* FROM counted
"""

# The volume copies of the doomed requests, read before their volume records cascade away.
COPIES_SQL = "SELECT DISTINCT upload_id FROM volume_caches WHERE request_id = ANY(:ids)"

DELETE_SQL = """
DELETE FROM requests WHERE id = ANY(:ids) AND status IN {states}
RETURNING upload_id
""".format(states=sql_list(TERMINAL))

# A separate statement: inside the one above the deleted rows are still visible.
UNREFERENCED = """NOT EXISTS (SELECT 1 FROM requests r WHERE r.upload_id = u.id)
  AND NOT EXISTS (SELECT 1 FROM volume_caches v WHERE v.upload_id = u.id)"""
UPLOADS_SQL = f"""
DELETE FROM uploads u WHERE u.id = ANY(:ids) AND {UNREFERENCED}
RETURNING u.id
"""
ORPHANS_SQL = f"""
DELETE FROM uploads u WHERE u.id IN (
  SELECT u.id FROM uploads u
  WHERE u.created_at < now() - make_interval(secs => :grace) AND {UNREFERENCED}
  ORDER BY u.id LIMIT :batch FOR UPDATE SKIP LOCKED)
RETURNING u.id
"""


def purge(days, batch=1000, username="system", orphan_grace_s=3600.0):
    """Delete what retention allows; returns the counts.

    days <= 0 keeps every request; orphaned uploads (nothing refers to them) go anyway.
    """
    counts = {"requests": 0, "attempts": 0, "artifacts": 0, "uploads": 0,
              "orphaned_uploads": 0, "batches": 0}
    if days is not None and days > 0:
        _purge_requests(int(days), int(batch), counts)
    counts["orphaned_uploads"] = _sweep_orphans(float(orphan_grace_s), int(batch))
    if not (days is not None and days > 0) and not counts["orphaned_uploads"]:
        return counts
    log.info("retention (%s days) deleted %s", days, counts)
    audit.record("retention", "ok", username=username,
                 detail={"days": int(days or 0), **counts})
    db.session.commit()
    return counts


def _sweep_orphans(grace_s, batch):
    """Delete uploads nothing refers to, older than `grace_s`, in batches; returns how many."""
    removed = 0
    while True:
        ids = db.session.execute(text(ORPHANS_SQL), {"grace": grace_s, "batch": batch})\
            .scalars().all()
        db.session.commit()
        removed += len(ids)
        if len(ids) < batch:
            return removed


def _purge_requests(days, batch, counts):
    """The finished requests older than `days`, `batch` at a time, into `counts`."""
    while True:
        found = db.session.execute(text(BATCH_SQL), {"days": days, "batch": batch})\
            .mappings().one()
        ids = list(found["ids"] or [])
        if not ids:
            db.session.rollback()
            break
        copies = db.session.execute(text(COPIES_SQL), {"ids": ids}).scalars().all()
        uploads = [u for u in db.session.execute(text(DELETE_SQL), {"ids": ids}).scalars()
                   if u is not None] + list(copies)
        removed = db.session.execute(text(UPLOADS_SQL), {"ids": uploads}).scalars().all() \
            if uploads else []
        db.session.commit()
        counts["requests"] += len(ids)
        counts["attempts"] += found["attempts"]
        counts["artifacts"] += found["artifacts"]
        counts["uploads"] += len(removed)
        counts["batches"] += 1
        if len(ids) < batch:
            break
