"""Measurement for the README (not part of the suite): how late schedules fire with the
workers saturated, firing in beat (dashboard/beat.py) versus as a task through the workers
(what a `tick` task run by beat would see: the built-in tasks take that path)."""
import json
import statistics
import time

from sqlalchemy import text

from dashboard.extensions import db
from tests.test_beat import beat_proc


def test_measure(app, stack, api, make_user):
    _, _, token = make_user("operator", username="measure")
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    r = client.post("/api/schedules", headers=headers, content_type="application/json",
                    data=json.dumps({"name": "lag", "job_type": "simulate", "every_s": 5,
                                     "params": {"min_seconds": 0, "max_seconds": 0}}))
    assert r.status_code == 201
    # Saturate the four pool processes and leave a backlog: 24 jobs of 10 s (60 s of work).
    for _ in range(24):
        api.post("/api/requests", data={"job_type": "simulate",
                                        "params": json.dumps({"min_seconds": 10,
                                                              "max_seconds": 10})})
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
        runs = db.session.execute(text("SELECT name, last_run_at FROM periodic_runs")).all()
        db.session.rollback()
    sent = [line for line in beat.log().splitlines() if "Sending due task auto-retry" in line]
    print("\nfire lag in beat (s):", [round(x, 3) for x in lags])
    print("median", statistics.median(lags), "max", max(lags))
    print("beat sent auto-retry", len(sent), "times; the workers ran it", len(ran), "times:",
          sorted(t.timestamp() - started for t in ran))
