"""A measurement for docs/benchmarks.md (not a test): how late schedules fire with the workers
saturated, firing in beat (dashboard/schedules/beat.py) versus as a task through the
workers (what a `tick` task run by beat would see: the built-in tasks take that path).

    .venv/bin/python -m bench.schedule_lag

Runs the test suite's stack (two prefork workers of two processes, the dispatcher) and
a real beat for about 40 s on a database and vhost of its own (dashboard_schedule_lag on
the local services, `make services`; TEST_DATABASE_URL / TEST_BROKER_URL in the
environment win), and prints each fire's lag and how often beat sent auto-retry versus
how often the workers ran it.
"""
import json
import statistics
import sys
import time


def measure(app, token):
    from sqlalchemy import text

    from dashboard.extensions import db
    from tests.support.procs import beat_proc
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    r = client.post("/api/schedules", headers=headers, content_type="application/json",
                    data=json.dumps({"name": "lag", "job_type": "simulate", "every_s": 5,
                                     "params": {"min_seconds": 0, "max_seconds": 0}}))
    if r.status_code != 201:
        raise RuntimeError(f"creating the schedule answered {r.status_code}: {r.get_json()}")
    # Saturate the four pool processes and leave a backlog: 24 jobs of 10 s (60 s of work).
    for _ in range(24):
        client.post("/api/requests", headers=headers,
                    data={"job_type": "simulate",
                          "params": json.dumps({"min_seconds": 10, "max_seconds": 10})})
    beat = beat_proc("beat-measure").start()
    started, ran = time.time(), set()
    try:
        while time.time() - started < 40:  # auto-retry's recorded runs, as the workers ran it
            with app.app_context():
                at = db.session.execute(text("SELECT last_run_at FROM periodic_runs"
                                             " WHERE name = 'auto-retry'")).scalar()
                db.session.rollback()
            if at is not None:
                ran.add(at)
            time.sleep(0.25)
    finally:
        beat.stop()
    with app.app_context():
        lags = [float(x) for x in db.session.execute(text(
            "SELECT extract(epoch FROM created_at - scheduled_for) FROM requests"
            " WHERE scheduled_for IS NOT NULL ORDER BY id")).scalars()]
        db.session.rollback()
    if not lags:
        raise RuntimeError(f"the schedule never fired in 40 s; beat's log: {beat.log_path}")
    sent = [line for line in beat.log().splitlines() if "Sending due task auto-retry" in line]
    print("\nfire lag in beat (s):", [round(x, 3) for x in lags])
    print("median", statistics.median(lags), "max", max(lags))
    print("beat sent auto-retry", len(sent), "times; the workers ran it", len(ran), "times:",
          sorted(t.timestamp() - started for t in ran))


def main():
    from tests.support.script import stack_session
    with stack_session("schedule_lag") as (app, _stack):
        from tests.support.seed import create_user
        measure(app, create_user(app, "operator", "measure"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
