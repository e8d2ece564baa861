"""Bulk submit: requests a second that POST /api/requests/batch accepts over HTTP.

gunicorn as deployed (2 workers x 8 threads, no nginx in front), four clients each
sending batches of 1,000 zero-length `simulate` requests with a bearer token, one
batch after another. No dispatcher runs: what is measured is acceptance (the 201
with the ids: every row validated, stored and committed), not the pipeline behind it.
"""
import json
import threading
import time

import requests
from sqlalchemy import text

from dashboard.extensions import db

from . import stack, users

BATCH = 1000
CLIENTS = 4


def send_all(url, headers, body, per_client, ids, errors):
    """CLIENTS clients at once, each sending `per_client` batches (_client); back when all are."""
    threads = [threading.Thread(target=_client,
                                args=(url, headers, body, per_client, ids, errors))
               for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def _client(url, headers, body, batches, out, errors):
    """Send `batches` batches one after another; the ids answered go to `out`."""
    with requests.Session() as session:
        for _ in range(batches):
            answer = session.post(url, data=body, headers=headers, timeout=120)
            if answer.status_code != 201:
                errors.append(f"{answer.status_code}: {answer.text[:200]}")
                return
            out.extend(answer.json()["ids"])


def run(app, opts):
    """opts.bulk_batches batches of 1,000 (default 40) from four clients at once."""
    token = users.ensure_user(app, "bench-bulk", "operator")
    port = stack.free_port()
    base_url = f"http://127.0.0.1:{port}"
    url = f"{base_url}/api/requests/batch"
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    body = json.dumps({"requests": [
        {"job_type": "simulate", "params": {"min_seconds": 0, "max_seconds": 0}}] * BATCH})
    web = stack.web(port).start()
    try:
        stack.wait_for(lambda: stack.answers(f"{base_url}/healthz"), 60, what="gunicorn")
        warm, errors = [], []
        for _ in range(2 * CLIENTS):   # every gunicorn worker has its connections and plans
            _client(url, headers, body, 1, warm, errors)
        per_client = max(1, opts.bulk_batches // CLIENTS)
        ids = []
        t0 = time.monotonic()
        send_all(url, headers, body, per_client, ids, errors)
        elapsed = time.monotonic() - t0
    finally:
        web.stop()
    if errors:
        raise RuntimeError(f"a batch was refused: {errors[0]}")
    with app.app_context():
        stored = db.session.execute(text(
            "SELECT count(*) FROM requests WHERE id = ANY(:ids) AND status = 'unassigned'"),
            {"ids": ids}).scalar()
        db.session.rollback()
    if stored != len(ids) or len(set(ids)) != len(ids):
        raise RuntimeError(f"{len(ids)} ids answered, {stored} distinct unassigned rows")
    rate = len(ids) / elapsed
    metrics = [
        {"name": f"bulk submit over HTTP, {CLIENTS} clients x batches of {BATCH}",
         "value": rate, "unit": "req/s", "goal": 10_000.0, "cmp": ">="},
        {"name": "  one batch of 1,000 (mean, under that load)",
         "value": elapsed / (per_client) * 1000, "unit": "ms"},
    ]
    return metrics, {"requests": len(ids), "seconds": elapsed, "clients": CLIENTS,
                     "batch": BATCH}
