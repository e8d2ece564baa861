"""Alerts: what judging 100 rules costs beat at each tick (dashboard.alerts.evaluate).

100 rules, 20 of each kind, with thresholds spread so that some fire and some do not,
over a database holding waiting requests, finished ones in finish_stats (a failure rate),
a dispatcher heartbeat and four workers' sightings. Each tick is one evaluate() as beat
runs it: the signals read once, every rule locked and judged, transitions written and
their notifications queued. The first tick opens the firings; the later ones are the
steady state. Nothing is sent (no delivery thread runs here).
"""
import json
import time

from sqlalchemy import event, text

from dashboard.alerts import evaluate
from dashboard.extensions import db

from .report import percentile

RULES = 100
TICKS = 200
GOAL_MS = 50.0  # p95 per tick: a twentieth of beat's 1 s tick
WAITING, FINISHED, FAILED = 300, 400, 60


def _rules():
    """100 (name, kind, params), 20 of each kind, some over their threshold and some not."""
    out = []
    for i in range(RULES // 5):
        out += [
            (f"bench worker {i}", "worker_offline",
             {"worker": None if i % 2 else f"bench-w{i % 4}@host", "for_s": 5 + i}),
            (f"bench backlog {i}", "backlog", {"waiting": 50 * i, "for_s": 0}),
            (f"bench failures {i}", "failure_rate",
             {"percent": 2.0 * i, "min_finished": 10, "window_s": 600 + 60 * i}),
            (f"bench sla {i}", "sla_breach",
             {"job_type": "simulate", "limit": "wait" if i % 2 else "run"}),
            (f"bench dispatcher {i}", "dispatcher_down", {"for_s": 1 + i}),
        ]
    return out


def _seed(app):
    """The rules and the state they judge, in the bench database."""
    with app.app_context():
        db.session.execute(text("DELETE FROM alert_rules WHERE name LIKE 'bench %'"))
        for name, kind, params in _rules():
            db.session.execute(text(
                "INSERT INTO alert_rules (name, kind, params, emails, webhook_url, webhook_secret)"
                " VALUES (:n, :k, CAST(:p AS jsonb), '[\"ops@example.org\"]',"
                " 'http://127.0.0.1:9/hook', 'bench')"), {"n": name, "k": kind,
                                                          "p": json.dumps(params)})
        db.session.execute(text(
            "INSERT INTO requests (job_type, params, status, submitted_by, created_at)"
            " SELECT 'simulate', '{}', 'unassigned', 'bench-alerts', now() - interval '10 minutes'"
            " FROM generate_series(1, :n)"), {"n": WAITING})
        db.session.execute(text(
            "INSERT INTO requests (job_type, params, status, task_id, submitted_by, started_at,"
            " finished_at) SELECT 'simulate', '{}', CASE WHEN g <= :failed THEN 'failure'"
            " ELSE 'success' END, gen_random_uuid()::text, 'bench-alerts',"
            " now() - interval '2 minutes', now() - interval '1 minute'"
            " FROM generate_series(1, :n) g"), {"n": FINISHED, "failed": FAILED})
        for i in range(4):
            db.session.execute(text(
                "INSERT INTO alert_worker_sightings (name, last_seen_at) VALUES (:n, now()"
                " - make_interval(secs => :ago)) ON CONFLICT (name) DO UPDATE"
                " SET last_seen_at = EXCLUDED.last_seen_at"), {"n": f"bench-w{i}@host",
                                                                "ago": 20 * i})
        db.session.execute(text(
            "INSERT INTO dispatcher_heartbeats (name, pid, started_at, beat_at)"
            " VALUES ('bench-alerts', 1, now(), now() - interval '8 seconds')"
            " ON CONFLICT (name) DO UPDATE SET beat_at = EXCLUDED.beat_at"))
        db.session.commit()


def _clean(app):
    with app.app_context():
        db.session.execute(text("DELETE FROM alert_rules WHERE name LIKE 'bench %'"))
        db.session.execute(text("DELETE FROM requests WHERE submitted_by = 'bench-alerts'"))
        db.session.execute(text("DELETE FROM alert_worker_sightings WHERE name LIKE 'bench-%'"))
        db.session.execute(text("DELETE FROM dispatcher_heartbeats WHERE name = 'bench-alerts'"))
        db.session.commit()


def run(app, opts):
    """TICKS evaluations of 100 rules (40 with --quick); ms per tick."""
    ticks = 40 if opts.quick else TICKS
    _seed(app)
    times, queued, statements, firing = [], [], [], 0
    try:
        with app.app_context():
            counted = [0]

            def count(*_):
                counted[0] += 1
            event.listen(db.engine, "before_cursor_execute", count)
            for _ in range(ticks):
                now = db.session.execute(text("SELECT clock_timestamp()")).scalar()
                db.session.rollback()
                counted[0] = 0
                t0 = time.perf_counter()
                rules, made = evaluate.evaluate(pinged_at=now)
                times.append(1000 * (time.perf_counter() - t0))
                queued.append(made)
                statements.append(counted[0])
            event.remove(db.engine, "before_cursor_execute", count)
            firing = db.session.execute(text(
                "SELECT count(*) FROM alert_rules WHERE name LIKE 'bench %'"
                " AND state = 'firing'")).scalar()
            db.session.rollback()
    finally:
        _clean(app)
    steady = times[1:]
    print(f"   {RULES} rules, {firing} firing; first tick {times[0]:.1f} ms"
          f" ({queued[0]} notifications queued); then p50 {percentile(steady, 50):.1f} ms,"
          f" p95 {percentile(steady, 95):.1f} ms per tick; statements per tick: first"
          f" {statements[0]}, then median {percentile(statements[1:], 50)}", flush=True)
    metrics = [
        {"name": f"{RULES} rules judged per tick, p95 (steady)",
         "value": round(percentile(steady, 95), 2), "unit": "ms", "goal": GOAL_MS, "cmp": "<="},
        {"name": "  p50 (steady)", "value": round(percentile(steady, 50), 2), "unit": "ms"},
        {"name": "  first tick (opens the firings)", "value": round(times[0], 2), "unit": "ms"},
        {"name": "  statements per tick, median (steady)",
         "value": percentile(statements[1:], 50), "unit": ""},
        {"name": "  rules firing / notifications queued",
         "value": f"{firing} / {sum(queued)}", "unit": ""},
    ]
    return metrics, {"ticks_ms": times, "queued": queued, "statements": statements,
                     "firing": firing}
