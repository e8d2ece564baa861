"""What a stretch of work cost each part of the stack: CPU seconds, broker messages, WAL
and database bytes, read before and after (and for an idle stretch, to subtract)."""
import os
import time

from sqlalchemy import text

from dashboard.extensions import db

from . import stack

PARTS = ("postgres", "rabbitmq", "dispatcher", "web", "workers", "flower")


class Meter:
    """Readings of the engines (capacity_services.Services) and the processes we started."""

    def __init__(self, app, engines, procs):
        self.app, self.engines, self.procs = app, engines, procs

    def _cpu(self, name):
        return sum(stack.cpu_seconds(p.pid) for p in self.procs.get(name, []))

    def reading(self):
        """Every counter now."""
        with self.app.app_context():
            lsn, wal, size = db.session.execute(text(
                "SELECT pg_current_wal_lsn()::text, pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0'),"
                " pg_database_size(current_database())")).one()
            db.session.rollback()
        times = os.times()
        return {"t": time.monotonic(), "postgres": self.engines.pg.cpu_seconds(),
                "rabbitmq": self.engines.rabbit.cpu_seconds(),
                **{name: self._cpu(name) for name in ("dispatcher", "web", "workers", "flower")},
                "bench": times.user + times.system, "wal": float(wal), "db_size": float(size),
                "lsn": lsn,
                "messages": self.engines.rabbit.counters()}

    def idle(self, seconds):
        """CPU seconds a second each part spends with no request in flight."""
        before = self.reading()
        time.sleep(seconds)
        after = self.reading()
        elapsed = after["t"] - before["t"]
        return {part: (after[part] - before[part]) / elapsed for part in PARTS}


def per_request(before, after, n, idle=None):
    """Costs per request between two readings: CPU ms per part (less the idle rate over the
    stretch when given), messages, WAL and database bytes; plus the stretch's totals."""
    elapsed = after["t"] - before["t"]
    idle = idle or dict.fromkeys(PARTS, 0.0)
    cpu = {part: 1000 * (after[part] - before[part] - idle[part] * elapsed) / n
           for part in PARTS}
    gross = {part: 1000 * (after[part] - before[part]) / n for part in PARTS}
    messages = {k: (after["messages"][k] - before["messages"][k]) / n
                for k in after["messages"]}
    return {"n": n, "seconds": elapsed, "cpu_ms": cpu, "gross_cpu_ms": gross,
            "messages": messages, "wal_bytes": (after["wal"] - before["wal"]) / n,
            "db_bytes": (after["db_size"] - before["db_size"]) / n,
            "bench_cpu_ms": 1000 * (after["bench"] - before["bench"]) / n}


def connections(pids, port):
    """TCP connections the processes `pids` hold to `port` on loopback (/proc/net/tcp)."""
    remote = f"0100007F:{port:04X}"
    inodes = set()
    with open("/proc/net/tcp") as fh:
        for line in fh.readlines()[1:]:
            fields = line.split()
            if fields[2] == remote and fields[3] == "01":     # ESTABLISHED
                inodes.add(fields[9])
    held = 0
    for pid in pids:
        try:
            links = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
        except (FileNotFoundError, PermissionError):
            continue
        held += sum(1 for link in links if link[8:-1] in inodes and link.startswith("socket:"))
    return held


def tree(pid):
    """A process and its descendants."""
    found = [pid]
    for child in stack.children(pid):
        found += tree(child)
    return found


def held_connections(procs, port):
    """PostgreSQL connections each kind of process holds, and a pool process on average."""
    found = {name: sum(connections(tree(p.pid), port) for p in procs[name])
             for name in ("workers", "web", "dispatcher", "flower")}
    pool = [child for w in procs["workers"] for child in stack.children(w.pid)]
    found["pool_process"] = sum(connections([pid], port) for pid in pool) / max(1, len(pool))
    return found
