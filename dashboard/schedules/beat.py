"""Celery beat reading the schedules table: each tick fires the due fire times, once each.

`DatabaseScheduler` is Celery's own persistent scheduler (the built-in
periodic tasks of `beat_schedule` run as before) plus, every
`SCHEDULE_TICK_S`, `fire_due()`: in one transaction per schedule it locks the
row (`FOR UPDATE SKIP LOCKED`: a second beat skips it for that tick), inserts
one request per due fire time through `lifecycle.submit_scheduled` (INSERT ...
ON CONFLICT DO NOTHING on UNIQUE (schedule_id, scheduled_for)) and moves
`handled_until`. A beat killed mid-tick rolls back the whole transaction; two
beats, or a retried tick, meet the unique key. A changed or disabled row is
read again at the next tick: nothing to restart.
"""
import json
import logging
import time

from celery.beat import PersistentScheduler
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from dashboard import lifecycle
from dashboard.alerts import runner as alerts_runner
from dashboard.extensions import db
from dashboard.schedules import fire_times

log = logging.getLogger(__name__)


def _fire_one(schedule_id, now, grace_s):
    """Fire one schedule's times due by `now` in one transaction; returns the request ids made."""
    row = db.session.execute(text(
        "SELECT * FROM schedules WHERE id = :id AND enabled AND handled_until < :now"
        " FOR UPDATE SKIP LOCKED"), {"id": schedule_id, "now": now}).mappings().first()
    if row is None:  # disabled meanwhile, deleted, another beat holds it or was here later
        db.session.rollback()
        return []
    on_time, missed = fire_times.due(row, row["handled_until"], now, grace_s)
    fire = ([missed] if missed is not None and row["catch_up"] == "once" else []) + on_time
    made, params = [], json.dumps(row["params"])
    for moment in fire:
        request_id = lifecycle.submit_scheduled(row["job_type"], params, row["id"], moment,
                                                row["created_by"], "schedule")
        if request_id is not None:
            made.append(request_id)
    if missed is not None:
        log.info("schedule %s: fire times up to %s were missed (catch_up=%s)", row["name"],
                 missed.isoformat(), row["catch_up"])
    db.session.execute(text(
        "UPDATE schedules SET handled_until = :now,"
        " last_run_at = CASE WHEN :made THEN :now ELSE last_run_at END,"
        " last_request_id = COALESCE(:last, last_request_id) WHERE id = :id"),
        {"now": now, "made": bool(made), "last": made[-1] if made else None, "id": row["id"]})
    db.session.commit()
    return made


def fire_due(grace_s):
    """One tick over every enabled schedule; returns the ids of the requests it made."""
    # One database clock reading per tick: every schedule is judged at the same moment.
    now = db.session.execute(text("SELECT clock_timestamp()")).scalar()
    rows = db.session.execute(text(
        "SELECT id, cron, every_s, timezone, handled_until FROM schedules"
        " WHERE enabled ORDER BY id")).mappings().all()
    db.session.rollback()
    # Only a schedule with something due is locked and written: an idle tick is one SELECT.
    ids = [r["id"] for r in rows if r["handled_until"] < now
           and any(fire_times.due(r, r["handled_until"], now, grace_s))]
    made = []
    for schedule_id in ids:
        try:
            made += _fire_one(schedule_id, now, grace_s)
        except DBAPIError:
            db.session.rollback()
            raise
        except Exception:  # one broken schedule (e.g. a job type since removed) spoils no other
            db.session.rollback()
            log.exception("schedule %s could not fire", schedule_id)
    return made


class DatabaseScheduler(PersistentScheduler):
    """Celery's persistent scheduler plus the schedules table, read at every tick."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.flask_app = self.app.flask_app
        self.tick_s = float(self.flask_app.config["SCHEDULE_TICK_S"])
        self.grace_s = float(self.flask_app.config["SCHEDULE_GRACE_S"])
        self._next_fire = 0.0
        # Alert rules are judged at the same ticks; their thread pings workers and sends.
        self.alerts = alerts_runner.Runner(self.flask_app, self.app).start()

    def tick(self, *args, **kwargs):
        wait = super().tick(*args, **kwargs)
        if time.monotonic() >= self._next_fire:
            self._next_fire = time.monotonic() + self.tick_s
            self.fire()
        return max(0.0, min(wait, self._next_fire - time.monotonic()))

    def fire(self):
        """Run `fire_due` in an app context; a database error is logged, the next tick retries."""
        with self.flask_app.app_context():
            started = time.monotonic()
            try:
                made = fire_due(self.grace_s)
            except DBAPIError as exc:
                db.session.rollback()
                log.warning("schedules tick failed (%s); retrying next tick",
                            exc.__class__.__name__)
                return
            finally:
                self.alerts.tick()
                db.session.remove()
            if made:
                log.info("schedules fired requests %s in %.1f ms", made,
                         (time.monotonic() - started) * 1000)
