"""`python -m bench` (`make bench`): the measured goals (docs/benchmarks.md).

Reads `.env` as every process here does (BENCH_DATABASE_URL / BENCH_BROKER_URL may
be set there). Runs on its own database and broker vhost (deploy/services.py test-env bench),
rebuilt from the migrations first; starts and stops its own workers,
dispatcher and web server. Prints a table with PASS/MISS per goal and writes
var/bench/bench-<time>.json (and latest.json).
"""
import argparse
import signal
import sys
import time
import traceback

from dashboard import entry

from . import stack

SECTIONS = ("throughput", "latency", "kill", "dashboard", "memory", "upload", "bulk_submit",
            "idempotency", "bulk_pipeline", "param_search", "limits", "capacity", "alerts")


def parse(argv):
    """Command-line options; --quick shrinks every section to a smoke run."""
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    p.add_argument("--only", default=",".join(SECTIONS),
                   help=f"comma-separated sections (default all: {','.join(SECTIONS)})")
    p.add_argument("--quick", action="store_true",
                   help="small sizes: a check that the harness works, not numbers")
    p.add_argument("--n", type=int, help="requests per throughput round (default 3000)")
    p.add_argument("--rounds", type=int, help="throughput rounds per variant (default 3)")
    p.add_argument("--workers", type=int, default=2,
                   help="throughput: workers per variant (default 2, as deploy/supervisord.conf)")
    p.add_argument("--concurrency", type=int, default=2,
                   help="prefork processes per worker (default 2, as deploy/supervisord.conf)")
    p.add_argument("--dispatch-batch", type=int,
                   help="the dispatcher's DISPATCH_BATCH (default: the app's, 200)")
    p.add_argument("--batch-size", type=int,
                   help="the dispatcher's BATCH_SIZE (default: the app's, 32; 1: a message each)")
    p.add_argument("--samples", type=int, help="latency samples / dashboard requests (200)")
    p.add_argument("--rows", type=int, help="requests seeded for the dashboard (10000000)")
    p.add_argument("--reuse-seed", action="store_true",
                   help="dashboard/memory: keep the database of an earlier run when it holds"
                        " --rows requests (no schema reset, migrations applied on top);"
                        " param_search: its seed of --search-rows requests")
    p.add_argument("--kills", type=int, default=5, help="kill measurements (default 5)")
    p.add_argument("--soak", type=float, help="memory soak seconds (default 600)")
    p.add_argument("--viewers", type=int, help="polling viewers (default 200)")
    p.add_argument("--upload-mb", type=int, help="upload: file size in MB (default 512)")
    p.add_argument("--bulk-batches", type=int,
                   help="bulk_submit, bulk_pipeline: batches of 1,000 sent by four clients"
                        " (default 40)")
    p.add_argument("--search-rows", type=int,
                   help="param_search: requests seeded (default 10000000)")
    p.add_argument("--capacity-rows", type=int, default=0,
                   help="capacity: finished requests seeded before measuring (default 0)")
    p.add_argument("--idem-rounds", type=int,
                   help="idempotency: rounds of 50 concurrent submits with one key (default 5)")
    opts = p.parse_args(argv)
    opts.only = [s.strip() for s in opts.only.split(",") if s.strip()]
    unknown = set(opts.only) - set(SECTIONS)
    if unknown:
        p.error(f"unknown section(s): {', '.join(sorted(unknown))}")
    quick = opts.quick
    for name, full, small in (("n", 3000, 300), ("rounds", 3, 1), ("samples", 200, 40),
                              ("rows", 10_000_000, 50_000), ("soak", 600.0, 10.0),
                              ("viewers", 200, 20),
                              ("upload_mb", 512, 32), ("bulk_batches", 40, 4),
                              ("search_rows", 10_000_000, 100_000), ("idem_rounds", 5, 1)):
        if getattr(opts, name) is None:
            setattr(opts, name, small if quick else full)
    if quick:
        opts.kills = min(opts.kills, 2)
    return opts


def main(argv=None):
    opts = parse(sys.argv[1:] if argv is None else argv)
    entry.read_settings_file()
    database_url, broker_url = stack.isolated_env()
    extra = {**({"DISPATCH_BATCH": str(opts.dispatch_batch)} if opts.dispatch_batch else {}),
             **({"BATCH_SIZE": str(opts.batch_size)} if opts.batch_size else {})}
    stack.configure(database_url, broker_url, **extra)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    from dashboard import create_app

    from . import (
        alerts,
        bulk_pipeline,
        bulk_submit,
        capacity,
        dashboard,
        idempotency,
        kill,
        latency,
        limits,
        memory,
        param_search,
        report,
        throughput,
        upload,
    )
    runners = {"throughput": throughput.run, "latency": latency.run, "kill": kill.run,
               "dashboard": dashboard.run, "memory": memory.run, "upload": upload.run,
               "bulk_submit": bulk_submit.run, "idempotency": idempotency.run,
               "bulk_pipeline": bulk_pipeline.run, "param_search": param_search.run,
               "limits": limits.run, "capacity": capacity.run, "alerts": alerts.run}

    app = create_app()
    print(f"bench: database {database_url.rsplit('/', 1)[-1]}, sections {','.join(opts.only)}"
          f"{' (quick)' if opts.quick else ''}; logs in {stack.LOG_DIR}", flush=True)
    if opts.reuse_seed:
        stack.upgrade_schema(app)
    else:
        stack.reset_schema(app)
    results, errors = {}, {}
    started = time.monotonic()
    try:
        for name in SECTIONS:
            if name not in opts.only:
                continue
            print(f"== {name}", flush=True)
            t0 = time.monotonic()
            try:
                results[name] = runners[name](app, opts)
            except Exception as exc:  # one broken section must not hide the others
                traceback.print_exc()
                errors[name] = f"{exc.__class__.__name__}: {str(exc).splitlines()[0]}"
                results[name] = ([{"name": f"{name}: ERROR {errors[name][:80]}", "value": None,
                                   "goal": 0, "cmp": ">="}], {})
            finally:
                stack.Proc.stop_all()
            print(f"   ({time.monotonic() - t0:.0f} s)", flush=True)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
    finally:
        stack.Proc.stop_all()
    print()
    print(report.table(results))
    path = report.write_json(results, opts, errors)
    print(f"\n{time.monotonic() - started:.0f} s in all; JSON: {path}")
    if opts.quick:
        print("(--quick: sizes are too small for the goals to mean anything)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
