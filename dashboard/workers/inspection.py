"""A view of the workers and the queues: Celery's inspection (cached briefly), the broker's counts.

Three broadcasts go out at once (stats, active, active_queues), each waiting at
most a short timeout, so a frozen worker never makes a page hang. Workers seen
before that no longer answer stay listed as offline for an hour. `last_heartbeat` is the
worker's own latest heartbeat, which it reports in its stats (workers/inside/heartbeat.py);
`last_seen` is when this web process last had an answer from it.
"""
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

from amqp.exceptions import NotFound
from flask import current_app
from sqlalchemy import text

from dashboard import jobs
from dashboard.extensions import db
from dashboard.workers import flower_links

log = logging.getLogger(__name__)
QUEUE = "requests"
WORKER_MEMORY_S = 3600.0  # a worker that stopped answering stays listed (offline) this long
_seen = {}  # name -> (monotonic, wall clock) of its last inspect reply (this process)
_heartbeats = {}  # name -> the worker's own last heartbeat (epoch) it reported
_cache = {"at": 0.0, "value": None}
_cache_lock = threading.Lock()
_refresh_lock = threading.Lock()

RECENT_WORKERS_SQL = """
SELECT worker, array_agg(id ORDER BY id) FILTER (WHERE status = 'running') AS running
FROM (
  (SELECT id, worker, status FROM requests WHERE status = 'running')
  UNION
  (SELECT id, worker, status FROM requests WHERE finished_at IS NOT NULL
   ORDER BY finished_at DESC LIMIT 500)
) recent WHERE worker IS NOT NULL GROUP BY worker
"""
STARTED_SQL = "SELECT id, started_at FROM requests WHERE id = ANY(:ids)"


def _celery():
    return current_app.extensions["celery"]


def queue_names():
    """Every queue a job type sends its requests to (`requests` always among them), sorted."""
    return sorted({QUEUE} | {job.queue for job in jobs.REGISTRY.values()})


def queue_depths(names=None):
    """{queue: {name, messages, consumers}} of `names` (default: every job type's queue),
    by AMQP passive declares on one connection; a queue not declared yet counts 0 and 0.
    None when the broker does not answer."""
    names = queue_names() if names is None else names
    try:
        with _celery().connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=1)
            counts = {}
            for name in names:
                channel = conn.channel()
                try:
                    ok = channel.queue_declare(queue=name, passive=True)
                    counts[name] = {"name": name, "messages": ok.message_count,
                                    "consumers": ok.consumer_count}
                except NotFound:   # the broker closed this channel; nobody declared it yet
                    counts[name] = {"name": name, "messages": 0, "consumers": 0}
                finally:
                    try:
                        channel.close()
                    except Exception:  # noqa: BLE001  closed by the broker already
                        pass
            return counts
    except Exception as exc:  # broker down
        log.debug("queue counts unavailable: %s", exc)
        return None


def queue_counts(name=QUEUE):
    """{name, messages, consumers} of one queue (default `requests`); None when unknown."""
    counts = queue_depths([name])
    return None if counts is None else counts[name]


def queue_depth():
    """Messages ready in every job type's queue together (None when the broker does not
    answer)."""
    counts = queue_depths()
    return None if counts is None else sum(c["messages"] for c in counts.values())


def clear_worker_cache(forget=False):
    """Drop the cached inspection (and, with `forget`, the workers remembered as seen)."""
    with _cache_lock:
        _cache.update(at=0.0, value=None)
        if forget:
            _seen.clear()
            _heartbeats.clear()


def _inspect(timeout, destination=None):
    """(stats, active, active_queues) replies, broadcast at once; {} for what did not answer.

    Each broadcast waits at most `timeout` for replies; a broker that does not
    answer at all is cut off too, so the caller never waits much longer.
    """
    inspect = _celery().control.inspect(timeout=timeout, destination=destination)
    pool = ThreadPoolExecutor(3, thread_name_prefix="inspect")
    futures = [pool.submit(inspect.stats), pool.submit(inspect.active),
               pool.submit(inspect.active_queues)]
    pool.shutdown(wait=False)
    replies = []
    for future in futures:
        try:
            replies.append(future.result(timeout=timeout + 1.5) or {})
        except Exception as exc:  # broker down or too slow: show what we know
            log.warning("worker inspection failed: %s: %s", exc.__class__.__name__, exc)
            replies.append({})
    return replies


def _recent_workers():
    """{worker: [running request ids]} for workers of running or recently finished requests."""
    try:
        rows = db.session.execute(text(RECENT_WORKERS_SQL)).all()
    except Exception as exc:  # PostgreSQL away: the broker's answer still counts
        db.session.rollback()
        log.warning("recent workers unavailable: %s", exc.__class__.__name__)
        return {}
    return {worker: list(running or []) for worker, running in rows}


def workers(ttl=2.0, timeout=0.5):
    """Every worker seen recently, online, paused or offline (cached for `ttl` seconds)."""
    with _cache_lock:
        if _cache["value"] is not None and time.monotonic() - _cache["at"] < ttl:
            return _cache["value"]
    with _refresh_lock:  # one inspection at a time; the others reuse its answer
        with _cache_lock:
            if _cache["value"] is not None and time.monotonic() - _cache["at"] < ttl:
                return _cache["value"]
        result = _describe(*_inspect(timeout), _recent_workers())
        with _cache_lock:
            _cache.update(at=time.monotonic(), value=result)
        return result


def worker(name, timeout=1.0):
    """One worker, inspected now (no cache); None when it neither answers nor was seen."""
    clear_worker_cache()
    return next((w for w in workers(ttl=0, timeout=timeout) if w["name"] == name), None)


def attempts_of(task):
    """[(request id, task id)] of the attempts a worker's task runs: a run_request its one
    (first argument, its own id), a run_batch each of its items; [] for another task."""
    args, name = task.get("args") or [], task.get("name")
    if name == "dashboard.run_request" and args and isinstance(args[0], int):
        return [(args[0], task.get("id"))]
    if name == "dashboard.run_batch" and args and isinstance(args[0], list):
        return [(item[0], item[1]) for item in args[0]
                if isinstance(item, list) and len(item) == 2 and isinstance(item[0], int)]
    return []


def held(task):
    """[(request id or None, task id)] a worker's task holds: `attempts_of` it, or the
    task's own id (request id None) for a task that runs no request."""
    return attempts_of(task) or [(None, task.get("id"))]


def _iso(epoch):
    return datetime.fromtimestamp(epoch, timezone.utc).isoformat() if epoch else None


def _started(active):
    """{request id: started_at (ISO)} of the requests the workers say they run (the row's time)."""
    ids = sorted({i for tasks in active.values() for t in tasks or [] for i, _ in attempts_of(t)})
    if not ids:
        return {}
    try:
        rows = db.session.execute(text(STARTED_SQL), {"ids": ids}).all()
    except Exception as exc:  # PostgreSQL away
        db.session.rollback()
        log.warning("start times unavailable: %s", exc.__class__.__name__)
        return {}
    return {i: at.isoformat() if at else None for i, at in rows}


def _pool_target(stats):
    """The pool size a grow/shrink asked for: the worker's prefetch count over the multiplier.

    After pool_grow/pool_shrink the prefetch count changes at once, while the
    process list follows when the pool is next maintained (within 5 s).
    """
    multiplier = _celery().conf.worker_prefetch_multiplier or 1
    prefetch = stats.get("prefetch_count")
    return prefetch // multiplier if prefetch else None


def _describe(stats, active, queues, recent):
    """One entry per worker: answering ones from their replies, the others offline."""
    now, wall = time.monotonic(), time.time()
    for name in stats:
        _seen[name] = (now, wall)
        if stats[name].get("last_heartbeat"):
            _heartbeats[name] = stats[name]["last_heartbeat"]
    for name, (at, _) in list(_seen.items()):
        if now - at > WORKER_MEMORY_S:
            del _seen[name]
            _heartbeats.pop(name, None)
    started = _started(active)
    result = []
    for name in sorted(set(stats) | set(active) | set(_seen) | set(recent)):
        s, tasks = stats.get(name) or {}, active.get(name) or []
        pool = s.get("pool") or {}
        online = name in stats or name in active
        consuming = [q.get("name") for q in queues.get(name) or []]
        if not online:
            state = "offline"
        elif name in queues and not consuming:
            state = "paused"
        else:
            state = "online"
        scaler = s.get("autoscaler") or {}
        result.append({
            "name": name,
            # Celery names a worker `name@hostname` (-n workerN@%h): the machine it runs on.
            "host": name.rpartition("@")[2] or None,
            "state": state,
            "online": online,
            "pid": s.get("pid"),
            "uptime_s": s.get("uptime"),
            "concurrency": len(pool["processes"]) if pool.get("processes") else pool.get(
                "max-concurrency"),
            "pool_target": _pool_target(s),
            "autoscale": [scaler["max"], scaler["min"]] if "max" in scaler else None,
            "prefetch": s.get("prefetch_count"),
            "processed": sum((s.get("total") or {}).values()) if s else None,
            "queues": consuming if name in queues else [],
            "active": [{"request_id": request_id, "task_id": task_id,
                        "started_at": started.get(request_id), "pid": t.get("worker_pid"),
                        "batch": t.get("id") if task_id != t.get("id") else None}
                       for t in tasks for request_id, task_id in held(t)],
            "last_heartbeat": _iso(_heartbeats.get(name)),
            "last_seen": _iso(_seen[name][1]) if name in _seen else None,
            "processes": pool.get("processes") or [],
            "running_requests": recent.get(name, []),
            "flower_url": flower_links.worker_url(name),
        })
    return result
