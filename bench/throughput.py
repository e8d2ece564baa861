"""Throughput of zero-duration requests: the whole pipeline vs raw Celery vs Celery + DB backend.

Pipeline: one INSERT of N `simulate` requests (min = max = 0 s) -> dispatcher
-> RabbitMQ -> prefork worker -> status written; timed from just before the
insert to the last `finished_at` in PostgreSQL.
Peers: raw Celery published as users do by default (a plain `apply_async`
loop, no publisher confirms), raw Celery with each publish confirmed, and
Celery with its PostgreSQL result backend and track_started. The bench publishes N trivial tasks on the same broker to a worker with
the same flags and settings; timed from the first publish to the last task's
finish time (each task appends it to a file: no event or result consumer runs
in any variant). Each variant has its own worker, started once, idle while the
others run; rounds alternate the variants and the goals use the median of the
per-round ratios, which cancels some of a busy machine's drift.

CPU per task is measured too (worker main process and pool, the dispatcher or
this process as the peers' publisher, and the PostgreSQL backends of the bench
database; RabbitMQ is not counted): on a busy machine it is the steadier figure.
"""
import json
import os
import statistics
import time

from sqlalchemy import text

from dashboard import jobs
from dashboard.extensions import db

from . import stack
from .peer import LINE, TASK, done_file, make_app

PEERS = ("raw", "rawconfirm", "dbbackend")
PIPELINE_TABLES = "requests, attempts, status_counts, audit_log"
TERMINAL_SQL = "('success', 'failure', 'timeout', 'killed')"


class CpuMeter:
    """CPU seconds a round costs each part: worker (main, pool), dispatcher, this process,
    and the PostgreSQL backends serving the bench database (pids from pg_stat_activity)."""

    def __init__(self, app, workers, dispatcher=None):
        self.app, self.workers, self.dispatcher = app, workers, dispatcher
        self.before, self.used = None, None

    def _backends(self):
        with self.app.app_context():
            pids = db.session.execute(text(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                " AND pid <> pg_backend_pid()")).scalars().all()
            db.session.rollback()
        return {pid: stack.cpu_seconds(pid, tree=False) for pid in pids}

    def _snapshot(self):
        times = os.times()
        return {"worker": sum(stack.cpu_seconds(w.pid) for w in self.workers),
                "worker_main": sum(stack.cpu_seconds(w.pid, tree=False) for w in self.workers),
                "dispatcher": stack.cpu_seconds(self.dispatcher.pid) if self.dispatcher else 0.0,
                "bench": times.user + times.system, "backends": self._backends()}

    def start(self):
        self.before = self._snapshot()

    def stop(self, n):
        """Stop measuring; CPU milliseconds per task of each part."""
        after, before = self._snapshot(), self.before
        used = {k: after[k] - before[k] for k in ("worker", "worker_main", "dispatcher", "bench")}
        used["postgres"] = sum(v - before["backends"].get(pid, 0.0)
                               for pid, v in after["backends"].items())
        self.used = {k: round(1000 * v / n, 3) for k, v in used.items()}
        return self.used


def _timeout(n):
    return max(120.0, n / 10)


def run_pipeline(app, n, meter=None):
    """One pipeline round: rate, where the time went (from the rows) and CPU per part."""
    params = json.dumps(jobs.get("simulate").validate({"min_seconds": 0, "max_seconds": 0}, None))
    with app.app_context():
        db.session.execute(text(f"TRUNCATE {PIPELINE_TABLES} RESTART IDENTITY CASCADE"))
        db.session.commit()
        if meter:
            meter.start()
        t0 = time.time()
        db.session.execute(text(
            "WITH r AS (INSERT INTO requests (job_type, params, submitted_by)"
            " SELECT 'simulate', CAST(:params AS jsonb), 'bench' FROM generate_series(1, :n)"
            " RETURNING id)"
            " INSERT INTO attempts (request_id, number, status, triggered_by)"
            " SELECT id, 1, 'unassigned', 'bench' FROM r"), {"params": params, "n": n})
        db.session.commit()
        inserted = time.time()

        def finished():
            done = db.session.execute(text(
                f"SELECT count(*) FROM requests WHERE status IN {TERMINAL_SQL}")).scalar()
            db.session.rollback()
            return done >= n
        stack.wait_for(finished, _timeout(n), interval=0.2, what=f"{n} pipeline requests")
        cpu = meter.stop(n) if meter else None
        row = db.session.execute(text(
            "SELECT count(*) FILTER (WHERE status = 'success') AS ok,"
            " extract(epoch FROM max(finished_at)) AS last_finished,"
            " extract(epoch FROM max(queued_at)) AS last_queued,"
            " extract(epoch FROM min(started_at)) AS first_started,"
            " avg(extract(epoch FROM finished_at - started_at)) AS in_task"
            " FROM requests")).mappings().one()
        # Messages: one per batch its started lines name, one per request started alone.
        messages = db.session.execute(text(
            "SELECT count(DISTINCT detail->>'batch') + count(*) FILTER (WHERE NOT detail ? 'batch')"
            " FROM attempt_logs WHERE event = 'started'")).scalar()
        db.session.rollback()
    if row["ok"] != n:
        raise RuntimeError(f"pipeline: only {row['ok']} of {n} requests succeeded")
    elapsed = float(row["last_finished"]) - t0
    return {"n": n, "seconds": elapsed, "rate": n / elapsed, "insert_s": inserted - t0,
            "all_dispatched_s": float(row["last_queued"]) - t0,
            "first_start_s": float(row["first_started"]) - t0,
            "started_to_finished_ms": 1000 * float(row["in_task"]), "cpu_ms_per_task": cpu,
            "requests_per_message": n / messages if messages else None}


def _done(path):
    """(tasks finished, last finish time) from a peer's done file."""
    with open(path, "rb") as fh:
        data = fh.read()
    n = len(data) // LINE
    return n, max(float(data[i * LINE:(i + 1) * LINE]) for i in range(n)) if n else None


def run_peer(variant, peer, n, meter=None):
    """One peer round: publish n trivial tasks, wait until n have recorded their finish."""
    task = peer.tasks[TASK]
    path = done_file(variant)
    open(path, "wb").close()
    if meter:
        meter.start()
    t0 = time.time()
    with peer.producer_or_acquire() as producer:
        for i in range(n):
            task.apply_async((i,), producer=producer)
    published = time.time()
    stack.wait_for(lambda: os.path.getsize(path) >= n * LINE, _timeout(n), interval=0.1,
                   what=f"{n} {variant} tasks done")
    cpu = meter.stop(n) if meter else None
    count, last = _done(path)
    if count != n:
        raise RuntimeError(f"{variant}: {count} tasks recorded, expected {n}")
    elapsed = last - t0
    return {"n": n, "seconds": elapsed, "rate": n / elapsed, "publish_s": published - t0,
            "cpu_ms_per_task": cpu}


def stored_results(app, expected=None):
    """SUCCESS rows in Celery's result table, which is then emptied (None before it exists).

    With `expected`, waits (up to 10 s) for that many: a task records its finish
    time just before its worker stores its result.
    """
    with app.app_context():
        if db.session.execute(text("SELECT to_regclass('celery_taskmeta')")).scalar() is None:
            db.session.rollback()
            return None

        def count():
            found = db.session.execute(text(
                "SELECT count(*) FROM celery_taskmeta WHERE status = 'SUCCESS'")).scalar()
            db.session.rollback()
            return found
        n = count()
        deadline = time.monotonic() + 10
        while expected is not None and n < expected and time.monotonic() < deadline:
            time.sleep(0.05)
            n = count()
        db.session.execute(text("TRUNCATE celery_taskmeta"))
        db.session.commit()
        return n


def _rounds(app, opts, procs, dispatcher, peers):
    """Warm up every variant, then opts.rounds alternating rounds; the samples."""
    n, n_db, warm = opts.n, max(200, opts.n // 4), 20 * opts.concurrency * opts.workers
    meters = {"pipeline": CpuMeter(app, procs["pipeline"], dispatcher),
              **{k: CpuMeter(app, procs[k]) for k in PEERS}}
    run_pipeline(app, warm)          # every pool process imported, connected, has run a task
    for k in PEERS:
        run_peer(k, peers[k], warm)
    stored_results(app)
    samples = {"pipeline": [], **{k: [] for k in PEERS}}
    for i in range(opts.rounds):
        samples["pipeline"].append(run_pipeline(app, n, meters["pipeline"]))
        for k in ("raw", "rawconfirm"):
            samples[k].append(run_peer(k, peers[k], n, meters[k]))
        samples["dbbackend"].append(run_peer("dbbackend", peers["dbbackend"], n_db,
                                             meters["dbbackend"]))
        stored = stored_results(app, n_db)
        if stored != n_db:
            raise RuntimeError(f"dbbackend stored {stored} results, expected {n_db}")
        print(f"  round {i + 1}/{opts.rounds}: " + ", ".join(
            f"{k} {v[-1]['rate']:.0f}/s" for k, v in samples.items()), flush=True)
    return samples


def _workers(prefix, opts, app="worker", env=None):
    """opts.workers prefork workers PREFIX1@bench.. with opts.concurrency processes each."""
    return [stack.worker(f"{prefix}{i}", app, opts.concurrency, env)
            for i in range(1, opts.workers + 1)]


def run(app, opts):
    """The same workers for every variant (as deployed: 2 x concurrency 2) and the dispatcher."""
    celery = app.extensions["celery"]
    procs = {
        "pipeline": _workers("pipe", opts),
        **{k: _workers(k, opts, "bench.peer", {"BENCH_PEER": k, "BENCH_DONE_FILE": done_file(k)})
           for k in PEERS},
    }
    workers = [w for ws in procs.values() for w in ws]
    dispatcher = stack.dispatcher()
    peers = {name: make_app(name) for name in PEERS}
    try:
        for proc in (*workers, dispatcher):
            proc.start()
        stack.wait_online(celery, [w.name + "@bench" for w in workers], timeout=120)
        with app.app_context():
            stack.wait_dispatcher(dispatcher)
        for purger in (celery, *peers.values()):
            purger.control.purge()
        samples = _rounds(app, opts, procs, dispatcher, peers)
    finally:
        for proc in (dispatcher, *workers):
            proc.stop()
    return _metrics(samples, opts)


def _metrics(samples, opts):
    """Rates, paired ratios against the goals, and CPU per task per variant."""
    rate = {k: statistics.median(s["rate"] for s in v) for k, v in samples.items()}
    ratio = {peer: statistics.median(p["rate"] / q["rate"] for p, q in
                                     zip(samples["pipeline"], samples[peer]))
             for peer in PEERS}
    cpu = {k: {part: statistics.median(s["cpu_ms_per_task"][part] for s in v)
               for part in v[0]["cpu_ms_per_task"]} for k, v in samples.items()}
    metrics = [
        {"name": "throughput: pipeline", "value": rate["pipeline"], "unit": "req/s"},
        {"name": "throughput: raw Celery (plain apply_async, no confirms)", "value": rate["raw"],
         "unit": "tasks/s"},
        {"name": "throughput: raw Celery, each publish confirmed", "value": rate["rawconfirm"],
         "unit": "tasks/s"},
        {"name": "throughput: Celery + DB backend", "value": rate["dbbackend"],
         "unit": "tasks/s"},
        {"name": "  pipeline: requests per message (batches of short requests)",
         "value": statistics.median(s["requests_per_message"] for s in samples["pipeline"]),
         "unit": ""},
        {"name": "pipeline / raw Celery (no confirms)", "value": ratio["raw"], "unit": "x",
         "goal": 0.6, "cmp": ">="},
        {"name": "pipeline / raw Celery, confirmed", "value": ratio["rawconfirm"], "unit": "x"},
        {"name": "pipeline / Celery + DB backend", "value": ratio["dbbackend"], "unit": "x",
         "goal": 3.0, "cmp": ">="},
    ]
    for k, label in (("pipeline", "pipeline"), ("raw", "raw Celery"),
                     ("rawconfirm", "raw Celery confirmed"),
                     ("dbbackend", "Celery + DB backend")):
        c = cpu[k]
        total = c["worker"] + c["dispatcher"] + c["bench"] + c["postgres"]
        metrics.append({
            "name": f"  CPU ms/task {label}: worker main+pool, publish, pg", "unit": "",
            "value": f"{total:.1f} = {c['worker_main']:.1f}+{c['worker'] - c['worker_main']:.1f}"
                     f" + {c['dispatcher'] + c['bench']:.1f} + {c['postgres']:.1f}"})
    details = {"workers": f"{opts.workers} prefork workers, concurrency {opts.concurrency} each,"
                          " per variant",
               "rounds": opts.rounds, "cpu_ms_per_task": cpu, "samples": samples}
    return metrics, details
