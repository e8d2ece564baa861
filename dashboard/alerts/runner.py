"""Alerts inside beat: every tick evaluates the rules; a thread beside it pings the workers
and sends the notifications, so a slow receiver never delays beat's schedules.

Both live in the beat process, not on the workers: an alert that the workers are
gone must still go out when no worker is left to run a task.
"""
import logging
import threading
import time

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from dashboard.alerts import deliver, evaluate
from dashboard.extensions import db

log = logging.getLogger(__name__)

SIGHTED_SQL = """
INSERT INTO alert_worker_sightings (name, last_seen_at) VALUES (:name, :at)
ON CONFLICT (name) DO UPDATE SET last_seen_at = EXCLUDED.last_seen_at
"""
WANTS_PINGS_SQL = "SELECT EXISTS (SELECT 1 FROM alert_rules WHERE enabled AND kind = 'worker_offline')"


def ping_workers(celery_app, timeout):
    """Record every worker answering a ping now; the database time of the round."""
    with celery_app.connection_for_write() as conn:
        replies = celery_app.control.ping(timeout=timeout, connection=conn) or []
    now = db.session.execute(text("SELECT clock_timestamp()")).scalar()
    for reply in replies:
        for name in reply:
            db.session.execute(text(SIGHTED_SQL), {"name": name, "at": now})
    # Workers gone for a day are forgotten (no rule counts them after an hour).
    db.session.execute(text("DELETE FROM alert_worker_sightings"
                            " WHERE last_seen_at < :now - interval '1 day'"), {"now": now})
    db.session.commit()
    return now


class Runner:
    """The beat-side alert machinery of one Flask app: `tick()` from beat, a sending thread."""

    def __init__(self, flask_app, celery_app):
        self.app, self.celery = flask_app, celery_app
        self.pinged_at = None
        self.wake = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="alerts", daemon=True)

    def start(self):
        """Start the thread that pings and sends."""
        self.thread.start()
        return self

    def tick(self):
        """Evaluate every rule once (called from beat's tick, in an app context)."""
        started = time.monotonic()
        try:
            rules, queued = evaluate.evaluate(self.pinged_at)
        except DBAPIError as exc:
            db.session.rollback()
            log.warning("alerts tick failed (%s); retrying next tick", exc.__class__.__name__)
            return
        except Exception:  # a bug in one kind must not stop beat
            db.session.rollback()
            log.exception("alerts tick failed")
            return
        if queued:
            self.wake.set()
            log.info("alerts: %d rules judged, %d notifications queued in %.1f ms", rules,
                     queued, (time.monotonic() - started) * 1000)

    def _round(self):
        """One round of the thread: ping if a rule needs it, then send what is due."""
        config = self.app.config
        if db.session.execute(text(WANTS_PINGS_SQL)).scalar():
            self.pinged_at = ping_workers(self.celery, config["ALERT_PING_TIMEOUT_S"])
        else:
            db.session.rollback()
        deliver.deliver_due()

    def _loop(self):
        while True:
            with self.app.app_context():
                try:
                    self._round()
                except Exception as exc:  # database or broker away: try again next round
                    db.session.rollback()
                    log.warning("alerts round failed: %s: %s", exc.__class__.__name__, exc)
                finally:
                    db.session.remove()
            self.wake.wait(float(self.app.config["ALERT_ROUND_S"]))
            self.wake.clear()
