"""Real beat processes firing schedules from PostgreSQL (dashboard/schedules/beat.py), with real workers.

Exactly one request per fire time whatever runs twice or dies (two beats, a beat
SIGKILLed and restarted), catch_up skip/once after beat was down, and changes
taking effect at the next tick without restarting beat. Timings are generous:
the machine is shared.
"""
import json
import os
import signal
import time
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import text

from tests.support.env import RUN_DIR
from tests.support.procs import beat_proc, wait_for
from dashboard.extensions import db

EVERY = 5
QUICK = {"min_seconds": 0, "max_seconds": 0}


@pytest.fixture
def beats():
    """Start beats with beats.start(name); every one is stopped after the test."""
    started = []

    class Beats:
        def start(self, name, env=None):
            pidfile = os.path.join(RUN_DIR, f"{name}.pid")
            if os.path.exists(pidfile):
                os.unlink(pidfile)  # a SIGKILLed beat leaves it behind
            proc = beat_proc(name, env).start()
            started.append(proc)
            return proc
    yield Beats()
    for proc in started:
        proc.stop()


@pytest.fixture
def sched_api(client, make_user):
    _, _, token = make_user("operator", username="beat-op")

    class Api:
        def call(self, method, path, body=None):
            return client.open(path, method=method, headers={"Authorization": f"Bearer {token}"},
                               data=None if body is None else json.dumps(body),
                               content_type="application/json")

        def create(self, **fields):
            body = {"job_type": "simulate", "params": QUICK, "every_s": EVERY, **fields}
            r = self.call("POST", "/api/schedules", body)
            assert r.status_code == 201, r.get_json()
            return r.get_json()["id"]
    return Api()


def fired(app, schedule_id):
    """(scheduled_for, status, created_at) of the schedule's fire-time requests, oldest first."""
    with app.app_context():
        rows = db.session.execute(text(
            "SELECT scheduled_for, status, created_at FROM requests"
            " WHERE schedule_id = :s AND scheduled_for IS NOT NULL ORDER BY scheduled_for"),
            {"s": schedule_id}).all()
        db.session.rollback()
    return [tuple(r) for r in rows]


def slots(rows):
    return [r[0] for r in rows]


def assert_contiguous(times):
    """Each fire time on the 5 s grid, no duplicate, none skipped between first and last."""
    assert len(times) == len(set(times)), times
    for t in times:
        assert t.timestamp() % EVERY == 0, t
    for a, b in zip(times, times[1:]):
        assert (b - a).total_seconds() == EVERY, (a, b, times)


def now():
    return datetime.now(timezone.utc)


def test_one_request_per_fire_time_with_two_beats_and_one_killed(app, stack, beats, sched_api):
    """Over ~30 s two beats run at once; one is SIGKILLed and restarted; no fire time twice,
    none missed, and every request runs to success on the workers."""
    schedule_id = sched_api.create(name="every five")
    started = now()
    first = beats.start("beat-a")
    beats.start("beat-b")
    wait_for(lambda: len(fired(app, schedule_id)) >= 2, 40, interval=0.2, what="two fire times")
    first.stop(signal.SIGKILL)
    beats.start("beat-a")
    time.sleep(2 * EVERY)
    wait_for(lambda: fired(app, schedule_id) and
             (now() - started).total_seconds() >= 32, 60, interval=0.5, what="30 s of firing")
    ended = now()
    rows = fired(app, schedule_id)
    times = slots(rows)
    assert_contiguous(times)
    # Every 5 s grid time from the first fire until shortly before the end has its request.
    assert times[-1] >= ended - timedelta(seconds=2 * EVERY), (times, ended)
    assert len(times) >= 5
    for moment in times:
        assert started - timedelta(seconds=1) <= moment <= ended
    wait_for(lambda: all(r[1] == "success" for r in fired(app, schedule_id)[:-1]), 90,
             interval=0.5, what="the fired requests succeeded")
    listed = sched_api.call("GET", f"/api/schedules/{schedule_id}").get_json()
    assert listed["last_run_at"] and listed["last_request_id"]


def test_catch_up_skip_and_once_after_beat_was_down(app, stack, beats, sched_api):
    """Beat stopped for more than three intervals: `skip` fires none of the missed times,
    `once` fires one request for them (the latest); both go on on time afterwards."""
    grace = 3
    env = {"SCHEDULE_GRACE_S": str(grace)}
    skip = sched_api.create(name="skipper", catch_up="skip")
    once = sched_api.create(name="catcher", catch_up="once")
    beat = beats.start("beat-c", env)
    wait_for(lambda: fired(app, skip) and fired(app, once), 40, interval=0.2, what="first fires")
    beat.stop(signal.SIGKILL)
    down_at = now()
    last_skip, last_once = slots(fired(app, skip))[-1], slots(fired(app, once))[-1]
    time.sleep(4 * EVERY)
    restart = now()
    beats.start("beat-c", env)
    wait_for(lambda: slots(fired(app, skip))[-1] >= restart + timedelta(seconds=2 * EVERY)
             and slots(fired(app, once))[-1] >= restart + timedelta(seconds=2 * EVERY),
             60, interval=0.5, what="firing again after the restart")
    for schedule_id, last in ((skip, last_skip), (once, last_once)):
        assert slots(fired(app, schedule_id))[0] <= last <= down_at
    after_skip = [r for r in fired(app, skip) if r[0] > last_skip]
    after_once = [r for r in fired(app, once) if r[0] > last_once]
    assert_contiguous(slots(after_skip))
    assert_contiguous(slots(after_once))

    def lag(row):
        """How long after its fire time the request was made."""
        return (row[2] - row[0]).total_seconds()
    # skip: the first request after the restart is an on-time one; the missed times
    # (more than three intervals of them) have none.
    assert lag(after_skip[0]) <= grace + 1, after_skip[0]
    assert (after_skip[0][0] - last_skip).total_seconds() >= 4 * EVERY
    # once: one late request for all the missed times (the latest of them), then on time.
    assert lag(after_once[0]) > grace, after_once[0]
    assert all(lag(r) <= grace + 1 for r in after_once[1:]), after_once
    assert (after_once[0][0] - last_once).total_seconds() >= 3 * EVERY  # older ones not fired
    assert after_once[0][0] <= after_skip[0][0] - timedelta(seconds=EVERY)


def test_changes_take_effect_at_the_next_tick(app, stack, beats, sched_api):
    """An interval shortened while beat runs fires within a few seconds; disabled, it stops
    within one tick. Beat is never restarted."""
    schedule_id = sched_api.create(name="changing", every_s=86400)
    beat = beats.start("beat-d")
    wait_for(lambda: "beat: Starting" in beat.log() or "Scheduler:" in beat.log(), 30,
             what="beat started")
    time.sleep(3)
    assert fired(app, schedule_id) == []
    changed = now()
    r = sched_api.call("PATCH", f"/api/schedules/{schedule_id}", {"every_s": EVERY})
    assert r.status_code == 200, r.get_json()
    wait_for(lambda: fired(app, schedule_id), 2 * EVERY + 15, interval=0.2, what="a fire")
    assert slots(fired(app, schedule_id))[0] > changed
    r = sched_api.call("PATCH", f"/api/schedules/{schedule_id}", {"enabled": False})
    assert r.status_code == 200 and r.get_json()["enabled"] is False
    disabled = now()
    time.sleep(3 * EVERY)
    late = [row for row in fired(app, schedule_id) if row[2] > disabled + timedelta(seconds=2)]
    assert late == []
    assert beat.alive()


def test_beat_killed_mid_tick_leaves_nothing_half_done(app, stack, beats, sched_api):
    """Beat is SIGKILLed while its tick waits inside the transaction (the request INSERT is
    blocked by a table lock the test holds): nothing of that tick commits, and the beat that
    takes over makes that fire time's request exactly once."""
    schedule_id = sched_api.create(name="mid-tick")
    first = beats.start("beat-e")
    wait_for(lambda: fired(app, schedule_id), 40, interval=0.2, what="a first fire")
    with app.app_context():
        engine = db.engine
        blocker = engine.connect()
    try:
        # Hold a lock that blocks INSERTs into requests just before the next fire time.
        upcoming = slots(fired(app, schedule_id))[-1] + timedelta(seconds=EVERY)
        pause = (upcoming - now()).total_seconds() - 1.0
        if pause > 0:
            time.sleep(pause)
        transaction = blocker.begin()
        blocker.execute(text("LOCK TABLE requests IN SHARE ROW EXCLUSIVE MODE"))

        def beat_waits_on_insert():
            blocker.execute(text("SELECT pg_stat_clear_snapshot()"))  # fresh activity view
            return blocker.execute(text(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                " AND query LIKE '%INSERT INTO requests%schedule_id%'")).scalar()
        wait_for(beat_waits_on_insert, 3 * EVERY, interval=0.1, what="beat blocked mid-tick")
        first.stop(signal.SIGKILL)
        second = beats.start("beat-f")
        time.sleep(1)
        transaction.rollback()
    finally:
        blocker.close()
    wait_for(lambda: slots(fired(app, schedule_id))[-1] >= upcoming + timedelta(seconds=EVERY),
             60, interval=0.5, what="firing on after the kill")
    times = slots(fired(app, schedule_id))
    assert_contiguous(times)
    assert times.count(upcoming) == 1
    assert second.alive()


def test_database_connections_dropped_beat_goes_on_without_gaps(app, stack, beats, sched_api):
    """Beat's connections are terminated three times (as a PostgreSQL restart would end them)
    while it fires every 5 s: beat logs the failed tick, reconnects, and every fire time still
    has exactly one request. Only beat's own backends go (libpq's PGAPPNAME marks them), so
    the rest of the suite keeps its connections."""
    schedule_id = sched_api.create(name="survivor", catch_up="once")
    beat = beats.start("beat-g", {"PGAPPNAME": "beat-g-under-test"})
    wait_for(lambda: len(fired(app, schedule_id)) >= 2, 40, interval=0.2, what="two fires")
    terminated = 0
    for _ in range(3):
        with app.app_context():
            terminated += len(db.session.execute(text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND application_name = 'beat-g-under-test'"))
                .all())
            db.session.commit()
        time.sleep(2)
    assert terminated >= 1
    ended = now() + timedelta(seconds=3 * EVERY)
    wait_for(lambda: slots(fired(app, schedule_id))[-1] >= ended, 60, interval=0.5,
             what="firing on after the connections were dropped")
    assert_contiguous(slots(fired(app, schedule_id)))
    assert "schedules tick failed" in beat.log()  # it did meet the dropped connections
    assert beat.alive()
