"""The pipeline fed through POST /api/requests/batch, end to end, against the bench's direct
insert feeding the same pipeline.

The throughput section's pipeline (its workers: opts.workers prefork workers of
concurrency opts.concurrency, as deployed; the dispatcher) and gunicorn as deployed (2
workers x 8 threads). Two ways in, in alternating rounds of the same size:
- API: four clients each sending batches of 1,000 zero-duration `simulate` requests to
  POST /api/requests/batch with a bearer token, one after another, while the dispatcher
  and the workers run them; timed from the first batch sent to the last `finished_at`.
- direct: the throughput section's round (bench.throughput.run_pipeline): one INSERT of
  the same number of requests, timed from just before it to the last `finished_at`.
The ratio is the median of the per-round ratios (API / direct).
"""
import json
import statistics
import time

from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from dashboard.extensions import db

from . import bulk_submit, stack, throughput, users

CLIENTS = bulk_submit.CLIENTS
BATCH = bulk_submit.BATCH


def _truncate(app, tries=20):
    """Empty the pipeline's tables once the last round's writers are done with them.

    A worker may still be writing a finished request's log lines (which lock the request
    row) when the round's last request shows finished; the TRUNCATE that meets it may be
    the deadlock's victim: then it waits a moment and tries again.
    """
    with app.app_context():
        for attempt in range(tries):
            try:
                db.session.execute(text(
                    f"TRUNCATE {throughput.PIPELINE_TABLES} RESTART IDENTITY CASCADE"))
                db.session.commit()
                return
            except OperationalError:
                db.session.rollback()
                if attempt == tries - 1:
                    raise
                time.sleep(0.25)


def _api_round(app, url, headers, body, per_client):
    """One round fed through the API: rate end to end, acceptance, when the last was stored."""
    n = per_client * CLIENTS * BATCH
    _truncate(app)
    ids, errors = [], []
    t0 = time.time()
    bulk_submit.send_all(url, headers, body, per_client, ids, errors)
    accepted = time.time()
    if errors:
        raise RuntimeError(f"a batch was refused: {errors[0]}")
    with app.app_context():
        def finished():
            done = db.session.execute(text(
                f"SELECT count(*) FROM requests WHERE status IN {throughput.TERMINAL_SQL}"
            )).scalar()
            db.session.rollback()
            return done >= n
        stack.wait_for(finished, max(120.0, n / 10), interval=0.2,
                       what=f"{n} requests submitted through the API")
        row = db.session.execute(text(
            "SELECT count(*) FILTER (WHERE status = 'success') AS ok,"
            " extract(epoch FROM max(finished_at)) AS last_finished FROM requests")).one()
        db.session.rollback()
    if row.ok != n or len(set(ids)) != n:
        raise RuntimeError(f"API round: {len(set(ids))} ids answered, {row.ok} of {n} succeeded")
    elapsed = float(row.last_finished) - t0
    return {"n": n, "seconds": elapsed, "rate": n / elapsed, "accept_s": accepted - t0,
            "accept_rate": n / (accepted - t0)}


def run(app, opts):
    """opts.rounds rounds (3) of opts.bulk_batches batches of 1,000 (40) each way."""
    per_client = max(1, opts.bulk_batches // CLIENTS)
    n = per_client * CLIENTS * BATCH
    token = users.ensure_user(app, "bench-bulk", "operator")
    port = stack.free_port()
    base_url = f"http://127.0.0.1:{port}"
    url = f"{base_url}/api/requests/batch"
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    body = json.dumps({"requests": [
        {"job_type": "simulate", "params": {"min_seconds": 0, "max_seconds": 0}}] * BATCH})
    celery = app.extensions["celery"]
    workers = [stack.worker(f"pipe{i}", "worker", opts.concurrency)
               for i in range(1, opts.workers + 1)]
    dispatcher = stack.dispatcher()
    web = stack.web(port)
    samples = {"api": [], "direct": []}
    try:
        for proc in (*workers, dispatcher, web):
            proc.start()
        stack.wait_online(celery, [w.name + "@bench" for w in workers], timeout=120)
        with app.app_context():
            stack.wait_dispatcher(dispatcher)
        stack.wait_for(lambda: stack.answers(f"{base_url}/healthz"), 60, what="gunicorn")
        celery.control.purge()
        throughput.run_pipeline(app, 20 * opts.concurrency * opts.workers)   # warm the pool
        _api_round(app, url, headers, body, 1)        # warm gunicorn's workers and plans
        for i in range(opts.rounds):
            samples["api"].append(_api_round(app, url, headers, body, per_client))
            _truncate(app)                                # then run_pipeline's own finds it free
            samples["direct"].append(throughput.run_pipeline(app, n))
            print(f"   round {i + 1}/{opts.rounds}: {n} requests, through the API"
                  f" {samples['api'][-1]['rate']:.0f}/s end to end (accepted at"
                  f" {samples['api'][-1]['accept_rate']:.0f}/s), direct insert"
                  f" {samples['direct'][-1]['rate']:.0f}/s", flush=True)
    finally:
        for proc in (web, dispatcher, *workers):
            proc.stop()
    rate = {k: statistics.median(s["rate"] for s in v) for k, v in samples.items()}
    ratio = statistics.median(a["rate"] / d["rate"]
                              for a, d in zip(samples["api"], samples["direct"]))
    metrics = [
        {"name": f"pipeline fed by POST /api/requests/batch ({CLIENTS} clients x {BATCH}),"
                 " end to end", "value": rate["api"], "unit": "req/s"},
        {"name": "  of which accepted by the API at",
         "value": statistics.median(s["accept_rate"] for s in samples["api"]), "unit": "req/s"},
        {"name": "pipeline fed by the bench's direct INSERT, end to end",
         "value": rate["direct"], "unit": "req/s"},
        {"name": "through the API / direct insert", "value": ratio, "unit": "x"},
    ]
    details = {"requests_per_round": n, "rounds": opts.rounds,
               "workers": f"{opts.workers} prefork workers, concurrency {opts.concurrency}",
               "samples": samples}
    return metrics, details
