"""From a request's measured costs to ceilings: requests a second per core of each part,
which part runs out first, and the worker hosts that rate keeps busy (docs/capacity.md).

Measured: CPU ms per request of every part, messages, bytes. Derived (an extrapolation,
linear in cores): a part's ceiling is 1000 / its CPU ms per request, per core; the
dispatcher is one single-threaded process, so its ceiling is per dispatcher.
"""
import os

from .capacity_pg import summary

PARTS = ("postgres", "rabbitmq", "dispatcher", "web", "workers", "flower")
PATH = PARTS[:5]              # a request's path; Flower only watches (its lag loses events)
LABELS = {"postgres": "PostgreSQL", "rabbitmq": "RabbitMQ", "dispatcher": "dispatcher",
          "web": "web (gunicorn)", "workers": "workers", "flower": "Flower"}
HOST_PROCESSES = 4            # a worker host as deployed: 2 workers x concurrency 2
JOB_SECONDS = (0.1, 1.0, 10.0, 60.0)


def ceilings(cost):
    """Requests a second one core of each part carries (one dispatcher process)."""
    return {part: (1000 / ms if ms > 0 else float("inf")) for part, ms in cost["cpu_ms"].items()}


def first_to_saturate(cost, engines_only=False):
    """(part, requests a second) with the lowest ceiling on a request's path; the engines
    only, on request."""
    found = {k: v for k, v in ceilings(cost).items() if k in PATH}
    if engines_only:
        found = {k: v for k, v in found.items() if k in ("postgres", "rabbitmq")}
    part = min(found, key=found.get)
    return part, found[part]


def worker_hosts(rate, job_s, worker_ms, processes=HOST_PROCESSES):
    """Worker hosts of `processes` pool processes that `rate` requests a second keep busy,
    each request holding a process for its job plus the worker's own CPU for it."""
    return rate * (job_s + worker_ms / 1000) / processes


def _path_lines(label, cost):
    c = cost["cpu_ms"]
    m = cost["messages"]
    return [
        {"name": f"{label}: CPU ms/request pg, rabbit, dispatcher, web, workers, flower",
         "unit": "",
         "value": " / ".join(f"{c[p]:.2f}" for p in PARTS)},
        {"name": f"  {label}: PostgreSQL CPU per request", "value": round(c["postgres"], 3),
         "unit": "ms"},
        {"name": f"  {label}: broker messages published / delivered per request",
         "value": f"{m['received']:.2f} / {m['delivered']:.2f}", "unit": ""},
        {"name": f"  {label}: task messages per request (the rest: events)",
         "value": round(cost["task_messages"], 3), "unit": ""},
        {"name": f"  {label}: WAL / database growth per request",
         "value": f"{cost['wal_bytes']:.0f} / {cost['db_bytes']:.0f}", "unit": "bytes"},
        {"name": f"  {label}: WAL bytes/request by kind (share of full-page images)",
         "unit": "", "value": "{} ({:.0%})".format(*summary(cost["wal"])) if cost["wal"]
         else "pg_waldump could not read it"},
        {"name": f"  {label}: statements per request; costliest (calls/request)", "unit": "",
         "value": f"{cost['statements']['per_request']:.1f}; " + ", ".join(
             f"{k['calls']:.2f}x {k['query'][:32]}" for k in cost["statements"]["top"][:2])},
    ]


def _ceiling_lines(label, cost):
    ceil = ceilings(cost)
    part, rate = first_to_saturate(cost)
    engine, engine_rate = first_to_saturate(cost, engines_only=True)
    lines = [{"name": f"  {label}: req/s per core pg, rabbit, dispatcher, web, workers, flower",
              "unit": "", "value": " / ".join(f"{ceil[p]:.0f}" for p in PARTS)},
             {"name": f"  {label}: first to saturate (per core)", "unit": "req/s",
              "value": f"{LABELS[part]} {rate:.0f}"},
             {"name": f"  {label}: first engine to saturate (per core)", "unit": "req/s",
              "value": f"{LABELS[engine]} {engine_rate:.0f}"}]
    pg_rate = ceil["postgres"]
    lines.append({"name": f"  {label}: worker hosts ({HOST_PROCESSES} processes) one pg core"
                          " feeds, job " + ", ".join(f"{s:g}" for s in JOB_SECONDS) + " s",
                  "unit": "", "value": " / ".join(
                      f"{worker_hosts(pg_rate, s, cost['cpu_ms']['workers']):.1f}"
                      for s in JOB_SECONDS)})
    return lines


def _two_dispatchers(one, two):
    """Two dispatchers against one, one by one: what the second costs per request."""
    a, b = one["cpu_ms"], two["cpu_ms"]
    return [{"name": f"one by one, two dispatchers ({two['n']}): CPU ms/request pg, rabbit,"
                     " dispatchers (one dispatcher: pg, rabbit, dispatcher)", "unit": "",
             "value": f"{b['postgres']:.2f} / {b['rabbitmq']:.2f} / {b['dispatcher']:.2f}"
                      f" ({a['postgres']:.2f} / {a['rabbitmq']:.2f} / {a['dispatcher']:.2f})"}]


def _retention(found):
    purge, vacuumed = found["purge"], found["vacuumed"]
    return [{"name": f"retention ({purge['n']} deleted): PostgreSQL CPU per request, purge"
                     " / with its VACUUM", "unit": "ms",
             "value": f"{purge['gross_cpu_ms']['postgres']:.3f}"
                      f" / {vacuumed['gross_cpu_ms']['postgres']:.3f}"},
            {"name": "  retention: WAL per deleted request, purge / with its VACUUM",
             "value": f"{purge['wal_bytes']:.0f} / {vacuumed['wal_bytes']:.0f}",
             "unit": "bytes"}]


def metrics(results, opts):
    """The section's lines: costs per path, idle rates, retention, ceilings."""
    single, bulk, idle = results["single"], results["bulk"], results["idle"]
    lines = [
        {"name": "idle stack: CPU ms a second pg, rabbit, dispatcher, web, workers, flower",
         "unit": "", "value": " / ".join(f"{1000 * idle[p]:.0f}" for p in PARTS)},
        *_path_lines(f"one by one ({single['n']})", single),
        *_ceiling_lines("one by one", single),
        *_two_dispatchers(single, results["single_two"]),
        *_path_lines(f"in bulk ({bulk['n']})", bulk),
        *_ceiling_lines("in bulk", bulk),
        *_retention(results["retention"]),
        {"name": "PostgreSQL connections held: workers (a pool process), web, dispatcher",
         "unit": "", "value": "{workers} ({pool_process:.1f}) / {web} / {dispatcher}".format(
             **results["connections"])},
    ]
    details = {"cpus": os.cpu_count(), "load_avg": os.getloadavg(),
               "workers": f"{opts.workers} x concurrency {opts.concurrency}",
               **results, "ceilings": {"single": ceilings(single), "bulk": ceilings(bulk)}}
    return lines, details
