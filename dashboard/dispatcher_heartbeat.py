"""The dispatcher's heartbeat: a row it updates every loop, so others can see it is alive."""
import os
import socket

from sqlalchemy import text

from dashboard.extensions import db

BEAT_SQL = """
INSERT INTO dispatcher_heartbeats (name, pid, started_at, beat_at)
VALUES (:name, :pid, now(), now())
ON CONFLICT (name) DO UPDATE SET pid = EXCLUDED.pid, beat_at = now(),
  started_at = CASE WHEN dispatcher_heartbeats.pid = EXCLUDED.pid
                    THEN dispatcher_heartbeats.started_at ELSE now() END
"""
LATEST_SQL = """
SELECT name, pid, started_at, beat_at, extract(epoch FROM now() - beat_at)::float8 AS age_s
FROM dispatcher_heartbeats ORDER BY beat_at DESC LIMIT 1
"""
CLEAR_SQL = "DELETE FROM dispatcher_heartbeats WHERE name = :name"


def dispatcher_name():
    """host:pid of this dispatcher process."""
    return f"{socket.gethostname()}:{os.getpid()}"


def beat():
    """Record that this dispatcher is alive (own transaction, committed)."""
    db.session.execute(text(BEAT_SQL), {"name": dispatcher_name(), "pid": os.getpid()})
    db.session.commit()


def clear():
    """A dispatcher stopping on purpose removes its row."""
    db.session.execute(text(CLEAR_SQL), {"name": dispatcher_name()})
    db.session.commit()


def latest():
    """{name, pid, started_at, beat_at, age_s} of the freshest dispatcher, or None."""
    row = db.session.execute(text(LATEST_SQL)).mappings().first()
    return dict(row) if row else None
