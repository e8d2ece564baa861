"""What the rules are judged on, read once per tick from what the service already keeps:
status_counts (waiting), dispatcher_heartbeats, finish_stats (outcomes in a window), the
oldest waiting or running request of a job type (one index lookup), and when beat last
heard each worker answer a ping. Never a scan of `requests`."""
from datetime import datetime, timezone

from sqlalchemy import text

from dashboard import dispatcher_heartbeat
from dashboard.extensions import db
from dashboard.requests import listing

OUTCOMES_SQL = """
SELECT extract(epoch FROM :now - minute)::float8 AS age_s, status, sum(n)::bigint FROM finish_stats
WHERE minute >= :now - make_interval(secs => :window) GROUP BY minute, status
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
# The signals every tick needs, in one round trip: the clock, the waiting count, the
# freshest dispatcher heartbeat and the workers' sightings.
SIGNALS_SQL = """
SELECT clock_timestamp() AS now,
  (SELECT coalesce(sum(n), 0)::bigint FROM status_counts
   WHERE status IN ('unassigned', 'pending')) AS waiting,
  (SELECT max(beat_at) FROM dispatcher_heartbeats) AS dispatcher_beat_at,
  (SELECT coalesce(json_agg(json_build_array(name, extract(epoch FROM last_seen_at))), '[]')
   FROM alert_worker_sightings) AS sightings
"""


class Facts:
    """The signals at one moment (`now`, the database's clock); each read at most once."""

    def __init__(self, now, pinged_at=None, signals=None):
        self.now = now
        self.pinged_at = pinged_at  # when beat last finished a round of worker pings
        self.widest_window_s = 0.0  # the failure_rate rules' widest window (set by the caller)
        self._memo = {}
        if signals is not None:
            beat_at = signals["dispatcher_beat_at"]
            self._memo.update(
                waiting=int(signals["waiting"]),
                dispatcher=None if beat_at is None else (now - beat_at).total_seconds(),
                sightings={name: datetime.fromtimestamp(at, timezone.utc)
                           for name, at in signals["sightings"]})

    @classmethod
    def read(cls, pinged_at=None):
        """The common signals read now, in one statement."""
        signals = db.session.execute(text(SIGNALS_SQL)).mappings().one()
        return cls(signals["now"], pinged_at, signals)

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
        """{status: n} of the requests finished in the last `window_s` seconds.

        One read per tick, for the widest window any rule asks (`widest_window_s`): the
        narrower ones are summed from its minutes."""
        rows = self._once("outcomes", lambda: db.session.execute(text(OUTCOMES_SQL), {
            "now": self.now, "window": self.widest_window_s}).all())
        found = {}
        for age_s, status, n in rows:
            if age_s <= window_s:
                found[status] = found.get(status, 0) + int(n)
        return found

    def oldest(self, job_type, limit):
        """When the oldest request of `job_type` started waiting ("wait") or running ("run")."""
        statement = OLDEST_WAITING_SQL if limit == "wait" else OLDEST_RUNNING_SQL
        return self._once(("oldest", job_type, limit), lambda: db.session.execute(
            text(statement), {"job_type": job_type}).scalar())

    def sightings(self):
        """{worker name: when it last answered a ping}."""
        return self._once("sightings", lambda: dict(db.session.execute(text(
            "SELECT name, last_seen_at FROM alert_worker_sightings")).all()))
