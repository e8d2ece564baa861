"""The PostgreSQL listener: LISTEN/NOTIFY plus a sweep; claims rows and publishes tasks.

Claim and publish happen in one transaction: the rows are locked
(`FOR UPDATE SKIP LOCKED`) until every message is confirmed by the broker and
the transaction commits. A claimed batch is published without waiting, then
its confirms are waited for once (`confirms.BatchPublisher`: one confirm-mode
channel, the broker's multiple acks), so the rows stay locked for one round
trip to the broker instead of one per message. A crash before the commit leaves the rows
`unassigned`; a worker that receives a message before the commit waits on
the row lock, then sees the committed claim. Which pending attempts were lost
and must be published again is `recovery`'s call; the dispatcher publishes them.
"""
import logging
import select
import signal
import time

import psycopg2
from flask import current_app
from psycopg2.extensions import make_dsn
from sqlalchemy.engine import make_url

from dashboard import confirms, dispatcher_heartbeat, jobs, lifecycle, recovery
from dashboard.extensions import db
from dashboard.jobs import limits
from dashboard.tasks import publish_claimed

log = logging.getLogger(__name__)
CHANNEL = "requests_unassigned"
# The longest wait between two claims while a job type has a limit in force or is paused.
LIMITED_POLL_S = 0.1


def libpq_dsn(sqlalchemy_uri):
    """A psycopg2 DSN from the SQLAlchemy URL, several hosts included (`host=a,b port=p,q`
    plus `target_session_attrs`), as SQLAlchemy's own psycopg2 dialect passes them to libpq."""
    url = make_url(sqlalchemy_uri)
    _, kwargs = url.get_dialect()().create_connect_args(url)
    return make_dsn(**kwargs)


def _publisher():
    """This app's BatchPublisher, opened on first use (and again after an error), with
    every job type's queue declared on it."""
    if current_app.extensions.get("dispatch_publisher") is None:
        publisher = confirms.BatchPublisher(current_app.extensions["celery"])
        declare_queues(publisher.channel)
        current_app.extensions["dispatch_publisher"] = publisher
    return current_app.extensions["dispatch_publisher"]


def job_type_queues():
    """The queue names the registered job types send their requests to, sorted."""
    return sorted({job.queue for job in jobs.REGISTRY.values()})


def declare_queues(channel):
    """Declare every job type's queue as the workers declare theirs (durable, bound to an
    exchange of its name), so a request sent to a queue nobody consumes yet waits in it."""
    queues = current_app.extensions["celery"].amqp.queues
    for name in job_type_queues():
        queues[name](channel).declare()


def close_publisher():
    """Close this app's publisher connection, if one is open."""
    publisher = current_app.extensions.pop("dispatch_publisher", None)
    if publisher is not None:
        publisher.close()


def _publish_claimed(claim):
    """Run `claim()` and publish its rows in one transaction, committed after the broker confirmed."""
    try:
        rows = claim()
        if rows:
            publisher = _publisher()
            publish_claimed(rows, publisher.producer, retry=False)
            publisher.wait()
        db.session.commit()
    except BaseException:
        db.session.rollback()
        close_publisher()   # whatever state its channel is in, the next batch opens a fresh one
        raise
    return len(rows)


def dispatch_batch(limit):
    """Claim up to `limit` unassigned rows, publish them, commit; returns how many."""
    return _publish_claimed(lambda: lifecycle.claim(limit, limits.declared_all()))


def dispatch_all(limit):
    """Dispatch until no unassigned row is left; returns the total."""
    total = 0
    while n := dispatch_batch(limit):
        total += n
        if n < limit:
            break
    return total


def republish_stale(older_than_s, limit):
    """Publish again the pending attempts `recovery.stale_pending` finds lost; same task ids."""
    n = _publish_claimed(lambda: recovery.stale_pending(older_than_s, limit))
    if n:
        log.warning("republished %d pending attempts older than %ss", n, older_than_s)
    return n


class Listener:
    """The long-running dispatcher loop."""

    def __init__(self, app):
        self.app = app
        self.stopping = False
        self.conn = None

    def stop(self, *_):
        """Ask the loop to end (signal handler)."""
        self.stopping = True

    def _listen(self):
        """Open the LISTEN connection."""
        self.conn = psycopg2.connect(libpq_dsn(self.app.config["SQLALCHEMY_DATABASE_URI"]))
        self.conn.autocommit = True
        self.conn.cursor().execute(f"LISTEN {CHANNEL}")

    def _wait(self, timeout):
        """Block until a notification arrives or `timeout` passes; drain notifications."""
        if select.select([self.conn], [], [], timeout)[0]:
            self.conn.poll()
            self.conn.notifies.clear()
            return True
        return False

    def run(self):
        """Listen, dispatch, sweep, until stopped; reconnect on errors."""
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)
        cfg = self.app.config
        backoff = 0.5
        while not self.stopping:
            try:
                with self.app.app_context():
                    self._listen()
                    self._declare_queues()
                    log.info("dispatcher listening on %s (PostgreSQL at %s:%s)", CHANNEL,
                             self.conn.info.host, self.conn.info.port)
                    backoff = 0.5
                    try:
                        self._loop(cfg)
                    finally:
                        close_publisher()
                    dispatcher_heartbeat.clear()
            except Exception as exc:  # PostgreSQL or RabbitMQ away: retry with backoff
                log.error("dispatcher error: %s: %s; retrying in %.1fs",
                          exc.__class__.__name__, exc, backoff)
                time.sleep(backoff)
                backoff = min(backoff * 2, 10)
            finally:
                if self.conn is not None:
                    self.conn.close()
                    self.conn = None
        log.info("dispatcher stopped")

    @staticmethod
    def _declare_queues():
        """The job types' queues exist before any request is sent to them (and before the
        dispatcher says it listens)."""
        try:
            _publisher()
        except Exception as exc:  # broker away: the first claim opens (and declares) again
            close_publisher()
            log.warning("job type queues not declared yet (%s: %s)", exc.__class__.__name__, exc)

    def _loop(self, cfg):
        """One connection's life: dispatch everything, then wait for work or the sweep."""
        sweep_s, batch = cfg["DISPATCH_SWEEP_S"], cfg["DISPATCH_BATCH"]
        next_sweep = next_beat = 0.0
        while not self.stopping:
            if time.monotonic() >= next_beat:  # visible to "why isn't it running?"
                dispatcher_heartbeat.beat()
                next_beat = time.monotonic() + 1.0
            dispatched = dispatch_all(batch)
            if dispatched:
                log.debug("dispatched %d", dispatched)
            now = time.monotonic()
            if now >= next_sweep:
                republish_stale(cfg["REPUBLISH_AFTER_S"], batch)
                next_sweep = now + sweep_s
            # With a limit in force, look again soon: a finished request frees room unseen.
            longest = LIMITED_POLL_S if lifecycle.CLAIM_STATE["limited"] else 1.0
            self._wait(min(longest, max(0.0, next_sweep - time.monotonic())))
