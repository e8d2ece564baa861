"""What the rules are judged on, read once per tick from what the service already keeps:
status_counts (waiting), dispatcher_heartbeats, finish_stats (outcomes in a window), the
oldest waiting or running request of a job type (one index lookup), and when beat last
heard each worker answer a ping. Never a scan of `requests`."""
from sqlalchemy import text

from dashboard import dispatcher_heartbeat
from dashboard.extensions import db
from dashboard.requests import listing

OUTCOMES_SQL = """
SELECT status, sum(n)::bigint FROM finish_stats
WHERE minute >= :now - make_interval(secs => :window) GROUP BY status
"""
OLDEST_WAITING_SQL = """
SELECT min(created_at) FROM (
  (SELECT created_at FROM requests WHERE status = 'unassigned' AND job_type = :job_type
   ORDER BY id LIMIT 1)
  UNION ALL
  (SELECT created_at FROM requests WHERE status = 'pending' AND job_type = :job_type
   ORDER BY id LIMIT 1)
) oldest
"""
OLDEST_RUNNING_SQL = """
SELECT min(started_at) FROM requests WHERE status = 'running' AND job_type = :job_type
"""
SIGHTINGS_SQL = "SELECT name, last_seen_at FROM alert_worker_sightings"


class Facts:
    """The signals at one moment (`now`, the database's clock); each read at most once."""

    def __init__(self, now, pinged_at=None):
        self.now = now
        self.pinged_at = pinged_at  # when beat last finished a round of worker pings
        self._memo = {}

    def _once(self, key, read):
        if key not in self._memo:
            self._memo[key] = read()
        return self._memo[key]

    def waiting(self):
        """Requests unassigned or pending (from the trigger-kept counts)."""
        def read():
            counts = listing.counts()
            return counts["unassigned"] + counts["pending"]
        return self._once("waiting", read)

    def dispatcher_age_s(self):
        """Seconds since the freshest dispatcher heartbeat, or None when none was ever seen."""
        def read():
            latest = dispatcher_heartbeat.latest()
            return None if latest is None else (self.now - latest["beat_at"]).total_seconds()
        return self._once("dispatcher", read)

    def outcomes(self, window_s):
        """{status: n} of the requests finished in the last `window_s` seconds."""
        def read():
            rows = db.session.execute(text(OUTCOMES_SQL), {"now": self.now, "window": window_s})
            return {status: int(n) for status, n in rows}
        return self._once(("outcomes", window_s), read)

    def oldest(self, job_type, limit):
        """When the oldest request of `job_type` started waiting ("wait") or running ("run")."""
        statement = OLDEST_WAITING_SQL if limit == "wait" else OLDEST_RUNNING_SQL
        return self._once(("oldest", job_type, limit), lambda: db.session.execute(
            text(statement), {"job_type": job_type}).scalar())

    def sightings(self):
        """{worker name: when it last answered a ping}."""
        return self._once("sightings", lambda: dict(
            db.session.execute(text(SIGHTINGS_SQL)).all()))
