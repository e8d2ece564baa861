"""Idempotent submits: 50 concurrent POST /api/requests with one Idempotency-Key store one row.

gunicorn as deployed (2 workers x 8 threads, no nginx in front); 50 threads of this
process, each with its own keep-alive connection and the same operator's bearer token,
wait at a barrier and then send the same zero-length `simulate` submit with the same key
at once. Expected: one 201 and 49 answers 200 naming that request, no 409 and no other
status, and one row in requests (and one in idempotency_keys). Each round uses a new key;
the latency of the 49 repeats is the time each waited for its answer. No dispatcher
runs: the rows stay unassigned.
"""
import threading
import time
import uuid
from collections import Counter

import requests
from sqlalchemy import text

from dashboard.extensions import db

from . import stack, users
from .report import percentile

CLIENTS = 50
USER = "bench-idem"
FORM = {"job_type": "simulate", "params": '{"min_seconds": 0, "max_seconds": 0}'}


def _round(url, sessions, key):
    """One round: [(status, request id, ms)] of CLIENTS submits sent together."""
    barrier = threading.Barrier(CLIENTS)
    answers = [None] * CLIENTS

    def submit(i):
        barrier.wait()
        t0 = time.perf_counter()
        answer = sessions[i].post(url, data=FORM, headers={"Idempotency-Key": key},
                                  timeout=60)
        ms = 1000 * (time.perf_counter() - t0)
        body = answer.json() if answer.headers.get("content-type", "").startswith(
            "application/json") else {}
        answers[i] = (answer.status_code, body.get("id"), ms)

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def _rows(app, key):
    """(requests stored by the bench user, idempotency keys holding `key`)."""
    with app.app_context():
        found = db.session.execute(text(
            "SELECT (SELECT count(*) FROM requests WHERE submitted_by = :who),"
            " (SELECT count(*) FROM idempotency_keys WHERE submitted_by = :who AND key = :key)"),
            {"who": USER, "key": key}).one()
        db.session.rollback()
    return tuple(found)


def run(app, opts):
    """opts.idem_rounds rounds (default 5) of 50 concurrent submits, one key each."""
    token = users.ensure_user(app, USER, "operator")
    with app.app_context():
        db.session.execute(text("DELETE FROM idempotency_keys WHERE submitted_by = :who"),
                           {"who": USER})
        db.session.execute(text("DELETE FROM requests WHERE submitted_by = :who"),
                           {"who": USER})
        db.session.commit()
    port = stack.free_port()
    base_url = f"http://127.0.0.1:{port}"
    url = f"{base_url}/api/requests"
    sessions = [requests.Session() for _ in range(CLIENTS)]
    for session in sessions:
        session.headers["Authorization"] = f"Bearer {token}"
    web = stack.web(port).start()
    rounds, failures = [], []
    try:
        stack.wait_for(lambda: stack.answers(f"{base_url}/healthz"), 60, what="gunicorn")
        for session in sessions:   # every connection open, every gunicorn worker warm
            session.get(f"{base_url}/api/requests?limit=1", timeout=60)
        for i in range(opts.idem_rounds):
            key = f"bench-{uuid.uuid4()}"
            stored_before = _rows(app, key)[0]
            answers = _round(url, sessions, key)
            stored, keys = _rows(app, key)
            statuses = Counter(status for status, _, _ in answers)
            ids = {rid for status, rid, _ in answers if status in (200, 201)}
            ok = (stored - stored_before == 1 and keys == 1 and statuses == {201: 1, 200: 49}
                  and len(ids) == 1)
            rounds.append({"rows": stored - stored_before, "statuses": dict(statuses),
                           "ids": sorted(ids), "ms": [ms for *_, ms in answers],
                           "repeat_ms": [ms for status, _, ms in answers if status == 200],
                           "first_ms": [ms for status, _, ms in answers if status == 201]})
            if not ok:
                failures.append(i + 1)
            print(f"   round {i + 1}: {stored - stored_before} row(s), answers "
                  + ", ".join(f"{n} x {s}" for s, n in sorted(statuses.items()))
                  + f" {'PASS' if ok else 'FAIL'}", flush=True)
    finally:
        web.stop()
        for session in sessions:
            session.close()
    repeats = [ms for r in rounds for ms in r["repeat_ms"]]
    firsts = [ms for r in rounds for ms in r["first_ms"]]
    statuses = Counter()
    for r in rounds:
        statuses.update(r["statuses"])
    metrics = [
        {"name": f"rounds of {CLIENTS} concurrent submits, one key, storing exactly one row",
         "value": len(rounds) - len(failures), "unit": f"of {len(rounds)}",
         "goal": len(rounds), "cmp": ">="},
        {"name": "  answers 201 / 200 / 409 / other",
         "value": f"{statuses[201]} / {statuses[200]} / {statuses[409]} / "
                  f"{sum(statuses.values()) - statuses[201] - statuses[200] - statuses[409]}",
         "unit": ""},
        {"name": "  the first (201), p50", "value": percentile(firsts, 50), "unit": "ms"},
        {"name": "  the repeats (200), p50", "value": percentile(repeats, 50), "unit": "ms"},
        {"name": "  the repeats (200), p95", "value": percentile(repeats, 95), "unit": "ms"},
        {"name": "  the repeats (200), max", "value": max(repeats) if repeats else None,
         "unit": "ms"},
    ]
    return metrics, {"clients": CLIENTS, "rounds": rounds, "failed_rounds": failures}
