"""Measurement for the README (not part of the suite): how late schedules fire with the
workers saturated, firing in beat (dashboard/beat.py) versus as a task through the workers
(what a `tick` task run by beat would see: the built-in tasks take that path)."""
import json
import os
import statistics
import time

from sqlalchemy import text

from conftest import wait_for
from dashboard.extensions import db
from test_beat import beat_proc


def test_measure(app, stack, api, make_user):
    _, _, token = make_user("operator", username="measure")
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    r = client.post("/api/schedules", headers=headers, content_type="application/json",
                    data=json.dumps({"name": "lag", "job_type": "simulate", "every_s": 5,
                                     "params": {"min_seconds": 0, "max_seconds": 0}}))
    assert r.status_code == 201
    # Saturate the four pool processes and leave a backlog: 12 jobs of 10 s.
    for _ in range(12):
        api.post("/api/requests", data={"job_type": "simulate",
                                        "params": json.dumps({"min_seconds": 10,
                                                              "max_seconds": 10})})
    beat = beat_proc("beat-measure").start()
    started = time.time()
    try:
        time.sleep(40)
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
    print("beat sent auto-retry", len(sent), "times; periodic_runs:", runs,
          "beat started", started)
