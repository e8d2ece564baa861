"""Operator actions on requests (retry, kill) and a view of the workers and the queue."""
import logging
import threading
import time

from flask import current_app

from . import audit, lifecycle
from .extensions import db
from .lifecycle import Status

log = logging.getLogger(__name__)
QUEUE = "requests"


def _celery():
    return current_app.extensions["celery"]


def kill(request_id, by):
    """Kill a request: record `killed` first, then revoke its task; None when not killable."""
    old = lifecycle.kill(request_id, by)
    audit.record("kill", "ok" if old else "refused", request_id=request_id)
    db.session.commit()
    if old is None:
        return None
    if old["status"] == Status.PENDING:
        _celery().control.revoke(old["task_id"])
    elif old["status"] == Status.RUNNING:
        _celery().control.revoke(old["task_id"], terminate=True, signal="SIGKILL")
    return old


def retry(request_id, by):
    """Retry a failure/timeout/killed request as a new attempt; False when not retryable."""
    ok = lifecycle.retry(request_id, by)
    audit.record("retry", "ok" if ok else "refused", request_id=request_id)
    db.session.commit()
    return ok


def retry_failed(by, where="true", **params):
    """Retry every failed request matching a filter; returns how many."""
    n = lifecycle.retry_failed(by, where, **params)
    audit.record("retry_failed", f"retried {n}", detail={"where": where, **params})
    db.session.commit()
    return n


def queue_depth():
    """Messages ready in the requests queue (None when the broker does not answer)."""
    try:
        with _celery().connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=1)
            return conn.default_channel.queue_declare(queue=QUEUE, passive=True).message_count
    except Exception as exc:  # broker down or queue not declared yet
        log.debug("queue depth unavailable: %s", exc)
        return None


_cache = {"at": 0.0, "value": None}
_cache_lock = threading.Lock()


def workers(ttl=2.0, timeout=0.5):
    """Workers seen by a broadcast ping/inspect (short timeout, cached briefly)."""
    with _cache_lock:
        if _cache["value"] is not None and time.monotonic() - _cache["at"] < ttl:
            return _cache["value"]
    inspect = _celery().control.inspect(timeout=timeout)
    try:
        stats = inspect.stats() or {}
        active = inspect.active() or {}
    except Exception as exc:
        log.warning("worker inspection failed: %s", exc)
        stats, active = {}, {}
    flower = current_app.config["FLOWER_URL"]
    result = []
    for name in sorted(set(stats) | set(active)):
        s = stats.get(name, {})
        pool = s.get("pool", {})
        result.append({
            "name": name,
            "online": name in stats,
            "active": len(active.get(name, [])),
            "active_tasks": [t.get("id") for t in active.get(name, [])],
            "concurrency": pool.get("max-concurrency"),
            "processes": pool.get("processes", []),
            "processed": sum((s.get("total") or {}).values()),
            "flower_url": f"{flower}/worker/{name}",
        })
    with _cache_lock:
        _cache.update(at=time.monotonic(), value=result)
    return result
