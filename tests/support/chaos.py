"""Fault injection: a killer thread, a flow of short requests, and the loss report.

`make chaos` (tests/chaos) uses these; every test ends with a line in REPORTS,
which the chaos conftest prints in the terminal summary. CHAOS_SEED=N repeats a
run's random kill moments.
"""
import json
import os
import threading
import time

from sqlalchemy import text

from dashboard import lifecycle
from dashboard.extensions import db

from .procs import wait_for

TERMINAL = ("success", "failure", "timeout", "killed")
SEED = int(os.environ.get("CHAOS_SEED") or time.time())
REPORTS = []


class Killer(threading.Thread):
    """Kill -9 a process at random moments and bring it back, until stopped."""

    def __init__(self, rng, kill, restart, every=(0.5, 2.5), down=(0.0, 1.0)):
        super().__init__(daemon=True)
        self.rng, self.kill, self.restart = rng, kill, restart
        self.every, self.down = every, down
        self.halt = threading.Event()
        self.kills, self.error = 0, None

    def run(self):
        try:
            while not self.halt.wait(self.rng.uniform(*self.every)):
                self.kill()
                self.kills += 1
                self.halt.wait(self.rng.uniform(*self.down))
                self.restart()
        except Exception as exc:  # re-raised in the test by stop()
            self.error = exc

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def stop(self):
        self.halt.set()
        self.join(120)
        if self.error:
            raise self.error


def submit_flow(app, rng, n, spread_s, params=None):
    """Commit n zero-to-short `simulate` requests over about `spread_s` seconds; their ids.

    They come in bursts of 1 to 8 requests a commit, so the dispatcher claims some
    alone and some together: short requests claimed together share batch messages.
    """
    params = json.dumps({"min_seconds": 0, "max_seconds": 0.3, "fail_rate": 0, "hang": False,
                         "ignore_soft_limit": False, **(params or {})})
    ids = []
    while len(ids) < n:
        burst = min(rng.randint(1, 8), n - len(ids))
        with app.app_context():
            ids.extend(lifecycle.submit("simulate", params, None, "chaos") for _ in range(burst))
            db.session.commit()
        time.sleep(rng.uniform(0, 2 * spread_s * burst / n))
    return ids


def in_batches(app, ids):
    """How many of the requests last started inside a batch message."""
    with app.app_context():
        n = db.session.execute(text(
            "SELECT count(DISTINCT request_id) FROM attempt_logs WHERE request_id = ANY(:ids)"
            " AND event IN ('started', 'redelivered') AND detail ? 'batch'"),
            {"ids": list(ids)}).scalar()
        db.session.rollback()
    return n


def statuses(app, ids=None):
    """{id: row} for the given requests (all when ids is None)."""
    with app.app_context():
        rows = db.session.execute(text(
            "SELECT id, status, attempt, task_id, worker, error FROM requests"
            + ("" if ids is None else " WHERE id = ANY(:ids)")),
            {"ids": list(ids or [])}).mappings().all()
        db.session.rollback()
    return {r["id"]: dict(r) for r in rows}


def settle(app, ids, timeout=150):
    """Wait until every request is terminal (or the timeout); returns the non-terminal rows."""
    def done():
        return all(r["status"] in TERMINAL for r in statuses(app, ids).values())
    try:
        wait_for(done, timeout, interval=0.5, what="every request terminal")
    except AssertionError:
        pass
    rows = statuses(app, ids)
    missing = [i for i in ids if i not in rows]
    stuck = [r for r in rows.values() if r["status"] not in TERMINAL]
    return missing, stuck


def report(name, kills, ids, app, missing, stuck):
    """One summary line: kills, outcome counts, and every lost request."""
    rows = statuses(app, ids)
    mix = {}
    for r in rows.values():
        mix[r["status"]] = mix.get(r["status"], 0) + 1
    lost = len(missing) + len(stuck)
    line = (f"{name}: {kills} kills, {len(ids)} requests ({in_batches(app, ids)} ran in"
            " batches) -> " + ", ".join(f"{n} {s}" for s, n in sorted(mix.items()))
            + f"; lost: {lost}")
    REPORTS.append(line)
    for i in missing:
        REPORTS.append(f"   request {i}: row missing")
    for r in stuck:
        REPORTS.append(f"   request {r['id']}: stuck {r['status']} (attempt {r['attempt']},"
                       f" task {r['task_id']}, worker {r['worker']})")
    print(line)
    return rows
