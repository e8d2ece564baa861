"""A view of the workers and the queue: worker inspection (cached) and queue depth.

Operator actions on requests are in `actions`, recovery of lost work in `recovery`.
"""
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from flask import current_app
from sqlalchemy import text

from . import flower_links
from .extensions import db

log = logging.getLogger(__name__)
QUEUE = "requests"


def _celery():
    return current_app.extensions["celery"]


def queue_depth():
    """Messages ready in the requests queue (None when the broker does not answer)."""
    try:
        with _celery().connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=1)
            return conn.default_channel.queue_declare(queue=QUEUE, passive=True).message_count
    except Exception as exc:  # broker down or queue not declared yet
        log.debug("queue depth unavailable: %s", exc)
        return None


WORKER_MEMORY_S = 3600.0  # a worker that stopped answering stays listed (offline) this long
_seen = {}                # name -> monotonic time of its last inspect reply (this process)
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


def clear_worker_cache(forget=False):
    """Drop the cached inspection (and, with `forget`, the workers remembered as seen)."""
    with _cache_lock:
        _cache.update(at=0.0, value=None)
        if forget:
            _seen.clear()


def _inspect(timeout):
    """(stats, active) replies, both broadcasts at once; {} for what did not answer in time.

    Each broadcast waits at most `timeout` for replies; a broker that does not
    answer at all is cut off too, so the caller never waits much longer.
    """
    inspect = _celery().control.inspect(timeout=timeout)
    pool = ThreadPoolExecutor(2, thread_name_prefix="inspect")
    futures = [pool.submit(inspect.stats), pool.submit(inspect.active)]
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
    """Every worker seen recently, online or not (short inspect timeout, cached for `ttl`)."""
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


def _describe(stats, active, recent):
    """One entry per worker: answering ones from their replies, the others offline."""
    now = time.monotonic()
    for name in stats:
        _seen[name] = now
    for name, at in list(_seen.items()):
        if now - at > WORKER_MEMORY_S:
            del _seen[name]
    result = []
    for name in sorted(set(stats) | set(active) | set(_seen) | set(recent)):
        s, tasks = stats.get(name) or {}, active.get(name) or []
        pool = s.get("pool") or {}
        result.append({
            "name": name,
            "online": name in stats or name in active,
            "active": len(tasks),
            "active_tasks": [t.get("id") for t in tasks],
            "running_requests": recent.get(name, []),
            "concurrency": pool.get("max-concurrency"),
            "processes": pool.get("processes") or [],
            "processed": sum((s.get("total") or {}).values()) if s else None,
            "pid": s.get("pid"),
            "uptime_s": s.get("uptime"),
            "flower_url": flower_links.worker_url(name),
        })
    return result
