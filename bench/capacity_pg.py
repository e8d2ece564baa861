"""Where a stretch's PostgreSQL work went: its statements (pg_stat_statements, which the
capacity section's own cluster preloads) and its WAL by kind (pg_waldump --stats)."""
import csv
import io
import os
import re

from deploy import services

STATEMENTS_SQL = """COPY (SELECT calls, total_exec_time, rows, wal_bytes,
  left(regexp_replace(query, '\\s+', ' ', 'g'), 300) FROM pg_stat_statements
  WHERE dbid = (SELECT oid FROM pg_database WHERE datname = :'db')
  ORDER BY total_exec_time DESC) TO STDOUT WITH CSV"""
SHARE = r"\s+[(\[]\s*[\d.]+%?[)\]]\s+"
WALDUMP_ROW = re.compile(rf"^(\S+)\s+(\d+){SHARE}(\d+){SHARE}(\d+){SHARE}(\d+)", re.M)
SETTINGS = {"shared_preload_libraries": "'pg_stat_statements'",
            "wal_keep_size": "'4GB'"}   # pg_waldump reads the stretch's WAL after it


def prepare(pg):
    """The extension's view, in the `postgres` database that psql reads it from."""
    pg.psql("CREATE EXTENSION IF NOT EXISTS pg_stat_statements;\n")


def reset(pg):
    """Forget the statements seen so far."""
    pg.psql("SELECT pg_stat_statements_reset();\n")


def statements(pg, n, top=6):
    """Statements a request ran, and the costliest kinds: calls and milliseconds per request."""
    rows = list(csv.reader(io.StringIO(pg.psql(STATEMENTS_SQL, db=pg.dbname))))
    kinds = [{"calls": int(calls) / n, "ms": float(ms) / n, "rows": int(found) / n,
              "wal_bytes": float(wal) / n, "query": query[:160]}
             for calls, ms, found, wal, query in rows]
    return {"per_request": sum(k["calls"] for k in kinds), "top": kinds[:top]}


def wal(pg, start, end, n):
    """The WAL between two LSNs by resource manager: record and full-page-image bytes a
    request ({} when pg_waldump cannot read it)."""
    argv = services.as_user("postgres", [os.path.join(pg.bin, "pg_waldump"), "--stats",
                                         "-p", os.path.join(pg.data, "pg_wal"),
                                         "-s", start, "-e", end])
    done = services.run(argv, check=False)
    if done.returncode != 0:
        return {}
    found = {}
    for rmgr, count, record, fpi, combined in WALDUMP_ROW.findall(done.stdout):
        if int(count):
            found[rmgr] = {"records": int(count) / n, "record_bytes": int(record) / n,
                           "fpi_bytes": int(fpi) / n, "bytes": int(combined) / n}
    return found


def summary(stats):
    """'Heap 1234 + Btree 567 + ...' bytes a request (the largest first), and the FPI share."""
    rmgrs = {k: v for k, v in stats.items() if k != "Total"}
    total = stats.get("Total") or {"bytes": sum(v["bytes"] for v in rmgrs.values()),
                                   "fpi_bytes": sum(v["fpi_bytes"] for v in rmgrs.values())}
    parts = sorted(rmgrs.items(), key=lambda kv: -kv[1]["bytes"])[:4]
    share = total["fpi_bytes"] / total["bytes"] if total["bytes"] else 0.0
    return " + ".join(f"{k} {v['bytes']:.0f}" for k, v in parts), share
