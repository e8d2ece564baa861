"""Retention: delete finished requests older than RETENTION_DAYS, in batches, never an active one.

A request goes with its attempts and artifacts (ON DELETE CASCADE) and with
its upload when no remaining request uses it. Audit entries stay: they are
the audit trail (`audit_log.request_id` is a plain number, not a foreign key),
so "who killed request 42" is answerable after 42 is gone. Each run
(RETENTION_DAYS > 0) leaves one audit entry with the counts.
"""
import logging

from sqlalchemy import text

from . import audit
from .extensions import db
from .lifecycle import TERMINAL, _in

log = logging.getLogger(__name__)

BATCH_SQL = f"""
WITH doomed AS (
  SELECT id FROM requests
  WHERE status IN {_in(TERMINAL)}
    AND COALESCE(finished_at, created_at) < now() - make_interval(days => :days)
  ORDER BY id LIMIT :batch FOR UPDATE SKIP LOCKED
), counted AS (
  SELECT (SELECT count(*) FROM attempts a WHERE a.request_id IN (SELECT id FROM doomed)) AS attempts,
         (SELECT count(*) FROM artifacts f WHERE f.request_id IN (SELECT id FROM doomed)) AS artifacts
)
SELECT (SELECT array_agg(id) FROM doomed) AS ids, counted.* FROM counted
"""

DELETE_SQL = """
DELETE FROM requests WHERE id = ANY(:ids) AND status IN {states}
RETURNING upload_id
""".format(states=_in(TERMINAL))

# A separate statement: inside the one above the deleted rows are still visible.
UPLOADS_SQL = """
DELETE FROM uploads u WHERE u.id = ANY(:ids)
  AND NOT EXISTS (SELECT 1 FROM requests r WHERE r.upload_id = u.id)
RETURNING u.id
"""


def purge(days, batch=1000, username="system"):
    """Delete what retention allows; returns the counts. days <= 0 keeps everything."""
    counts = {"requests": 0, "attempts": 0, "artifacts": 0, "uploads": 0, "batches": 0}
    if days is None or days <= 0:
        return counts
    while True:
        found = db.session.execute(text(BATCH_SQL), {"days": int(days), "batch": int(batch)})\
            .mappings().one()
        ids = list(found["ids"] or [])
        if not ids:
            db.session.rollback()
            break
        uploads = [u for u in db.session.execute(text(DELETE_SQL), {"ids": ids}).scalars()
                   if u is not None]
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
    log.info("retention (%s days) deleted %s", days, counts)
    audit.record("retention", "ok", username=username, detail={"days": int(days), **counts})
    db.session.commit()
    return counts
