"""Stored pauses: which workers are paused, kept in PostgreSQL so a restart does not undo them.

Pausing through Celery's control commands only changes a running worker; this
table is what a worker reads when it starts (dashboard.workers.inside.pause_at_start), so a
paused worker, or every worker under "pause everything", comes back paused
after a restart, a crash or a supervisord restart, until an operator resumes it.

Rows (table `worker_pauses`, in the baseline migration): a worker's node name, or
EVERYONE for "pause everything". A worker resumed on its own while everything
is paused gets a row with paused = false: the exception to EVERYONE. A worker
is paused when its own row says so, else when EVERYONE is stored. Writes join
the caller's transaction (worker_control commits them with the audit entry).
"""
from sqlalchemy import text

from dashboard.extensions import db

EVERYONE = "*"

ROWS_SQL = text("SELECT worker, paused, changed_by, changed_at FROM worker_pauses")
UPSERT_SQL = text("""
INSERT INTO worker_pauses (worker, paused, changed_by, changed_at)
VALUES (:worker, :paused, :by, now())
ON CONFLICT (worker) DO UPDATE SET paused = EXCLUDED.paused,
  changed_by = EXCLUDED.changed_by, changed_at = EXCLUDED.changed_at
""")
DELETE_SQL = text("DELETE FROM worker_pauses WHERE worker = :worker")
CLEAR_SQL = text("DELETE FROM worker_pauses")


def _rows(session=None):
    rows = (session or db.session).execute(ROWS_SQL).mappings().all()
    return {r["worker"]: dict(r) for r in rows}


def _resolve(rows, name):
    """The stored pause that applies to `name` ({by, at, everyone}), or None."""
    own, everyone = rows.get(name), rows.get(EVERYONE)
    if own is not None:
        return _describe(own, False) if own["paused"] else None
    return _describe(everyone, True) if everyone is not None else None


def _describe(row, everyone):
    return {"by": row["changed_by"], "at": row["changed_at"].isoformat(), "everyone": everyone}


def stored(name, session=None):
    """The stored pause of worker `name` ({by, at, everyone}), or None when it may consume."""
    return _resolve(_rows(session), name)


def everything_paused():
    """{by, at} of a stored "pause everything", or None."""
    row = _rows().get(EVERYONE)
    return {"by": row["changed_by"], "at": row["changed_at"].isoformat()} if row else None


def annotate(workers):
    """Each worker dict with `pause`: the stored pause that applies to it, or None (new dicts)."""
    rows = _rows()
    return [{**w, "pause": _resolve(rows, w["name"])} for w in workers]


def pause(name, by):
    """Store that worker `name` is paused."""
    db.session.execute(UPSERT_SQL, {"worker": name, "paused": True, "by": by})


def resume(name, by):
    """Store that worker `name` consumes: its pause removed, or an exception to EVERYONE."""
    if EVERYONE in _rows():
        db.session.execute(UPSERT_SQL, {"worker": name, "paused": False, "by": by})
    else:
        db.session.execute(DELETE_SQL, {"worker": name})


def pause_everyone(by):
    """Store "pause everything" (it replaces every per-worker row)."""
    db.session.execute(CLEAR_SQL)
    db.session.execute(UPSERT_SQL, {"worker": EVERYONE, "paused": True, "by": by})


def resume_everyone():
    """Remove every stored pause: every worker consumes, now and after a restart."""
    db.session.execute(CLEAR_SQL)
