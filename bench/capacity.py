"""Capacity: what one request costs PostgreSQL, RabbitMQ, the dispatcher, web and the
workers, on an engine pair of its own (bench.capacity_services), and the ceilings that
follow (bench.capacity_model; docs/capacity.md).

The stretches, each read before the first submit and after the last request ended:
1. one by one (then again with two dispatchers): --n requests, each its own POST
   /api/requests (four clients), each its own message (the dispatcher with
   BATCH_SIZE=1), a `simulate` of 0.05 s that reports progress once: every job
   longer than BATCH_MAX_S travels like this.
2. in bulk: --bulk-batches batches of 1,000 zero-duration requests (POST
   /api/requests/batch), short requests sharing messages: the cheapest path.
3. retention: as many of the oldest requests, made 400 days old, deleted by retention's
   purge (365 days), then VACUUM.
With --capacity-rows N, the table first holds N finished requests (bench.dashboard.seed).
The stack idles first; its idle CPU a second is subtracted from each stretch.
"""
import json
import os
import tempfile

from sqlalchemy import text

from dashboard.extensions import db

from . import capacity_model, capacity_pg, stack, users
from .capacity_load import finish, post_all, seed, task_messages
from .capacity_meter import Meter, held_connections, per_request
from .capacity_services import BASE, Services


def stretch(label, app, meter, idle, url, token, bodies, kind):
    """Submit `bodies`, wait for every request to end; its costs per request."""
    pg = meter.engines.pg
    capacity_pg.reset(pg)
    before = meter.reading()
    ids = post_all(url, token, bodies, kind)
    finish(app, ids)
    after = meter.reading()
    cost = per_request(before, after, len(ids), idle)
    cost["task_messages"] = task_messages(app, ids) / len(ids)
    cost["statements"] = capacity_pg.statements(pg, len(ids))
    cost["wal"] = capacity_pg.wal(pg, before["lsn"], after["lsn"], len(ids))
    print(f"  {label}: {len(ids)} requests ended; PostgreSQL {cost['cpu_ms']['postgres']:.2f},"
          f" RabbitMQ {cost['cpu_ms']['rabbitmq']:.2f} CPU ms a request", flush=True)
    return cost


def retention(app, meter, seeded_rows):
    """As many requests as the stretches made, the oldest (lowest ids: as retention meets
    them), made 400 days old, purged, then the tables vacuumed: the costs per deleted
    request of the purge and of the purge with its vacuum."""
    from dashboard.requests import retention as purger
    with app.app_context():
        db.session.execute(text(
            "UPDATE requests SET finished_at = finished_at - interval '400 days' WHERE id IN"
            " (SELECT id FROM requests WHERE finished_at IS NOT NULL ORDER BY id LIMIT"
            " (SELECT count(*) FROM requests WHERE id > :seeded))"), {"seeded": seeded_rows})
        db.session.commit()
        before = meter.reading()
        n = max(1, purger.purge(365)["requests"])   # the seeded rows are 30 days old at most
        purged = meter.reading()
        with db.engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(
                text("VACUUM requests, attempts, attempt_logs, audit_log"))
    return {"purge": per_request(before, purged, n),
            "vacuumed": per_request(before, meter.reading(), n)}


def measure(app, opts, base_url, procs, engines):
    """Warm up, idle, then the stretches: one by one (one dispatcher, then two), in bulk."""
    token = users.ensure_user(app, "bench-capacity", "operator")
    one = {"job_type": "simulate", "params": json.dumps({"min_seconds": 0.05,
                                                          "max_seconds": 0.05})}
    zero = {"job_type": "simulate", "params": {"min_seconds": 0, "max_seconds": 0}}
    single_url, batch_url = f"{base_url}/api/requests", f"{base_url}/api/requests/batch"
    meter = Meter(app, engines, procs)
    finish(app, post_all(single_url, token, [one] * 40, "data"))          # warm up
    idle = meter.idle(3 if opts.quick else 10)
    results = {"idle": idle}

    def run_stretch(key, label, url, bodies, kind):
        results[key] = stretch(label, app, meter, idle, url, token, bodies, kind)
    run_stretch("single", "one by one", single_url, [one] * opts.n, "data")
    results["connections"] = held_connections(procs, engines.pg.port)
    switch_dispatcher(app, procs, batch_size=1, count=2)
    run_stretch("single_two", "one by one, two dispatchers", single_url, [one] * opts.n, "data")
    switch_dispatcher(app, procs, batch_size=None)
    finish(app, post_all(batch_url, token, [{"requests": [zero] * 100}], "json"))
    run_stretch("bulk", "in bulk", batch_url, [{"requests": [zero] * 1000}] * opts.bulk_batches,
                "json")
    results["retention"] = retention(app, meter, opts.capacity_rows)
    return results


def switch_dispatcher(app, procs, batch_size, count=1):
    """Replace the dispatchers by `count` with BATCH_SIZE=batch_size (None: the app's)."""
    for proc in procs.get("dispatcher", []):
        proc.stop()
    env = {"BATCH_SIZE": str(batch_size)} if batch_size else None
    procs["dispatcher"] = [stack.dispatcher(f"dispatcher{i}", env).start()
                           for i in range(1, count + 1)]
    with app.app_context():
        for proc in procs["dispatcher"]:
            stack.wait_dispatcher(proc)


def flower():
    """Flower as deployed (on a unix socket, in a folder removed with the engines): it
    consumes the workers' task events."""
    path = os.path.join(tempfile.mkdtemp(prefix="flower-", dir=BASE), "flower.sock")
    proc = stack.Proc("flower", [os.path.join(stack.BIN, "celery"), "-A", "worker", "flower",
                                 f"--unix_socket={path}", "--url_prefix=flower",
                                 "--persistent=False"],
                      env={"FLOWER_UNAUTHENTICATED_API": "true"}).start()
    stack.wait_for(lambda: os.path.exists(path), 60, what="flower's socket")
    return proc


def run(app, opts):
    """`make bench`'s `capacity` section."""
    engines, own = Services(), None
    saved = {k: os.environ.get(k) for k in ("DATABASE_URL", "CELERY_BROKER_URL")}
    try:
        database_url, broker_url = engines.start()
        os.environ.update(DATABASE_URL=database_url, CELERY_BROKER_URL=broker_url)
        from dashboard import create_app
        own = create_app()
        stack.reset_schema(own)
        if opts.capacity_rows:    # a table that has grown: what a request costs then
            seed(own, opts.capacity_rows)   # bench.capacity_load
        port = stack.free_port()
        names = [f"cap{i}" for i in range(1, opts.workers + 1)]
        procs = {"workers": [stack.worker(name, concurrency=opts.concurrency).start()
                             for name in names],
                 "web": [stack.Proc("web", stack.web_argv(port)).start()],
                 "flower": [flower()]}
        stack.wait_online(own.extensions["celery"], [f"{n}@bench" for n in names], timeout=120)
        stack.wait_for(lambda: stack.answers(f"http://127.0.0.1:{port}/healthz"), 60,
                       what="gunicorn")
        switch_dispatcher(own, procs, batch_size=1)
        results = measure(own, opts, f"http://127.0.0.1:{port}", procs, engines)
    finally:
        stack.Proc.stop_all()
        for key, value in saved.items():
            if value is not None:
                os.environ[key] = value
        app.extensions["celery"].set_default()
        if own is not None:
            with own.app_context():
                db.engine.dispose()
        engines.stop()
    return capacity_model.metrics(results, opts)
