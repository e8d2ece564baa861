"""What job type limits cost the pipeline, and max_running under a burst: `make bench`'s
`limits` section, or `python -m bench.limits` alone.

1. Throughput with limits in force vs without: the throughput section's pipeline round
   (bench.throughput.run_pipeline: one INSERT of N zero-duration `simulate` requests ->
   dispatcher -> prefork workers, short requests sharing messages), in alternating
   rounds: "plain" (no limit anywhere: the plain claim) and "limited" (simulate's
   max_running and rate_per_min set high enough never to bind, so the rounds measure
   only the limited claim's cost: the advisory lock, the counts, the dispatch log). The
   ratio is the median of the per-round ratios (limited / plain); goal: at least 0.9.
2. max_running under a burst: simulate's max_running=M, four dispatchers, N short
   requests inserted at once; pending + running of the type sampled every 50 ms until
   all finished; goal: the largest sample never above M.

Runs on the database and vhost of `--env` (deploy/services.py test-env NAME), rebuilt
from the migrations first; starts and stops its own workers and dispatchers.
"""
import argparse
import statistics
import threading
import time

from sqlalchemy import text

from dashboard import entry
from dashboard.extensions import db

from . import stack


def _settings(app, **values):
    """simulate's overrides: the given values, or none at all."""
    with app.app_context():
        db.session.execute(text("DELETE FROM job_type_settings"))
        if values:
            db.session.execute(text(
                "INSERT INTO job_type_settings (name, max_running, rate_per_min, changed_by)"
                " VALUES ('simulate', :max_running, :rate_per_min, 'bench')"), values)
        db.session.commit()


def throughput(app, opts, throughput_mod):
    """Alternating plain and limited rounds; their rates and the paired ratio."""
    celery = app.extensions["celery"]
    workers = [stack.worker(f"lim{i}", concurrency=opts.concurrency)
               for i in range(1, opts.workers + 1)]
    dispatcher = stack.dispatcher()
    samples = {"plain": [], "limited": []}
    try:
        for proc in (*workers, dispatcher):
            proc.start()
        stack.wait_online(celery, [w.name + "@bench" for w in workers], timeout=120)
        with app.app_context():
            stack.wait_dispatcher(dispatcher)
        celery.control.purge()
        throughput_mod.run_pipeline(app, 20 * opts.workers * opts.concurrency)  # warm up
        for i in range(opts.rounds):
            for variant in ("plain", "limited") if i % 2 == 0 else ("limited", "plain"):
                if variant == "limited":
                    _settings(app, max_running=10 * opts.n, rate_per_min=1000 * opts.n)
                else:
                    _settings(app)
                samples[variant].append(throughput_mod.run_pipeline(app, opts.n))
            print(f"  round {i + 1}/{opts.rounds}: " + ", ".join(
                f"{k} {v[-1]['rate']:.0f}/s ({v[-1]['requests_per_message']:.1f} per message)"
                for k, v in samples.items()), flush=True)
    finally:
        _settings(app)
        for proc in (dispatcher, *workers):
            proc.stop()
    rate = {k: statistics.median(s["rate"] for s in v) for k, v in samples.items()}
    ratio = statistics.median(q["rate"] / p["rate"]
                              for p, q in zip(samples["plain"], samples["limited"]))
    return rate, ratio


def _sampler(app, stop, seen):
    """Every 50 ms: pending + running of simulate, appended to `seen`."""
    with app.app_context():
        while not stop.is_set():
            seen.append(db.session.execute(text(
                "SELECT count(*) FROM requests WHERE job_type = 'simulate'"
                " AND status IN ('pending', 'running')")).scalar())
            db.session.rollback()
            time.sleep(0.05)


def burst(app, opts):
    """max_running=opts.max_running, four dispatchers, opts.burst requests at once."""
    celery = app.extensions["celery"]
    workers = [stack.worker(f"lim{i}", concurrency=opts.concurrency)
               for i in range(1, opts.workers + 1)]
    dispatchers = [stack.dispatcher(f"dispatcher{i}") for i in range(1, 5)]
    seen, stop = [], threading.Event()
    try:
        for proc in (*workers, *dispatchers):
            proc.start()
        stack.wait_online(celery, [w.name + "@bench" for w in workers], timeout=120)
        with app.app_context():
            for proc in dispatchers:
                stack.wait_dispatcher(proc)
            db.session.execute(text("TRUNCATE requests, attempts RESTART IDENTITY CASCADE"))
            db.session.commit()
        _settings(app, max_running=opts.max_running, rate_per_min=None)
        sampler = threading.Thread(target=_sampler, args=(app, stop, seen))
        sampler.start()
        t0 = time.time()
        with app.app_context():
            db.session.execute(text(
                "WITH r AS (INSERT INTO requests (job_type, params, submitted_by)"
                " SELECT 'simulate', CAST(:params AS jsonb), 'bench'"
                " FROM generate_series(1, :n) RETURNING id)"
                " INSERT INTO attempts (request_id, number, status, triggered_by)"
                " SELECT id, 1, 'unassigned', 'bench' FROM r"),
                {"params": '{"min_seconds": 0, "max_seconds": 0.05, "fail_rate": 0,'
                           ' "hang": false, "ignore_soft_limit": false}', "n": opts.burst})
            db.session.commit()

            def finished():
                done = db.session.execute(text(
                    "SELECT count(*) FROM requests WHERE status = 'success'")).scalar()
                db.session.rollback()
                return done >= opts.burst
            stack.wait_for(finished, 600, interval=0.2, what=f"{opts.burst} burst requests")
        elapsed = time.time() - t0
    finally:
        stop.set()
        _settings(app)
        for proc in (*dispatchers, *workers):
            proc.stop()
    return {"samples": len(seen), "max": max(seen), "seconds": elapsed}


def run(app, opts):
    """`make bench`'s `limits` section: both measurements at the bench's sizes (--n, --rounds;
    the burst: 300 requests, 60 with --quick)."""
    from . import throughput as throughput_mod
    sizes = argparse.Namespace(n=opts.n, rounds=max(2, opts.rounds), workers=2, concurrency=2,
                               max_running=3, burst=60 if opts.quick else 300)
    rate, ratio = throughput(app, sizes, throughput_mod)
    found = burst(app, sizes)
    metrics = [
        {"name": "limited claim / plain claim, pipeline throughput (median of rounds)",
         "value": round(ratio, 3), "unit": "x", "goal": 0.9, "cmp": ">="},
        {"name": "  plain claim", "value": round(rate["plain"]), "unit": "req/s"},
        {"name": "  limited claim (limits that do not bind)", "value": round(rate["limited"]),
         "unit": "req/s"},
        {"name": f"max_running {sizes.max_running}, four dispatchers: largest pending + running",
         "value": found["max"], "unit": f"({found['samples']} samples)",
         "goal": sizes.max_running, "cmp": "<="},
    ]
    return metrics, {"rates": rate, "ratio": ratio, "burst": found}


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m bench.limits", description=__doc__.split("\n")[0])
    p.add_argument("--env", default="bench", help="test-env name of the database and vhost")
    p.add_argument("--n", type=int, default=3000, help="requests per throughput round")
    p.add_argument("--rounds", type=int, default=4, help="throughput rounds per variant")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--concurrency", type=int, default=2)
    p.add_argument("--max-running", type=int, default=3, help="the burst's max_running")
    p.add_argument("--burst", type=int, default=300, help="requests in the burst")
    p.add_argument("--only", default="throughput,burst")
    opts = p.parse_args(argv)
    entry.read_settings_file()
    database_url, broker_url = stack.isolated_env(opts.env)
    stack.configure(database_url, broker_url)

    from dashboard import create_app
    from . import throughput as throughput_mod
    app = create_app()
    stack.reset_schema(app)
    try:
        if "throughput" in opts.only:
            rate, ratio = throughput(app, opts, throughput_mod)
            print(f"throughput: plain {rate['plain']:.0f} req/s, limited {rate['limited']:.0f}"
                  f" req/s, limited/plain {ratio:.3f} (goal >= 0.9:"
                  f" {'PASS' if ratio >= 0.9 else 'MISS'})", flush=True)
        if "burst" in opts.only:
            found = burst(app, opts)
            print(f"burst: {opts.burst} requests, max_running {opts.max_running}, four"
                  f" dispatchers: {found['samples']} samples (every 50 ms) over"
                  f" {found['seconds']:.1f} s, largest pending + running {found['max']}"
                  f" ({'PASS' if found['max'] <= opts.max_running else 'MISS'})", flush=True)
    finally:
        stack.Proc.stop_all()


if __name__ == "__main__":
    main()
