"""The dashboard at ten million requests: list page, live partial, unchanged poll, every
filter the list takes (listing.Filters decides which), searches, the overview and
/api/stats, API list.

Seeded in the bench database with INSERT ... SELECT generate_series in one
transaction (see seed), then VACUUM ANALYZE; `--reuse-seed` keeps a seed of the
same size from an earlier run. Server time is measured through the Flask test client as a
signed-in viewer (no network, no WSGI server), p50/p95 per URL.
"""
import re
import time

from sqlalchemy import text

from dashboard.overview import stats
from dashboard.extensions import db

from . import users
from .report import percentile

DATA_TOKEN_RE = re.compile(r'data-token="([0-9]+-[0-9]+(?:-[0-9.]+)?)"')
OVERVIEW_DIGEST_RE = re.compile(r'data-digest="([0-9a-f]+)"')

# The seed, in the proportions of a busy month: 30 days of requests (about 3.9 a second
# at 10M), 70 % simulate, 10 % simulate_flaky, 20 % load_array on 10,000 uploaded
# volumes; 90 % success, 6 % failure, 2 % timeout, 2 % killed; the newest few running,
# pending or unassigned. Submitters user0..user19 (user0 a heavy user, 1 in 4 requests),
# six workers, four error texts per failing kind.
SPAN_S = 30 * 86400
ACTIVE = {"running": 200, "pending": 100, "unassigned": 20}

SEED_SQL = """
WITH s AS (
  SELECT g, (g::bigint * 7919) % 1000 AS r, (g::bigint * 104729) % 100 AS k,
         now() - make_interval(secs => (:rows - g) * :step) AS created
  FROM generate_series(1, :rows) g
), t AS (
  SELECT s.*, CASE WHEN k < 70 THEN 'simulate' WHEN k < 80 THEN 'simulate_flaky'
                   ELSE 'load_array' END AS job_type,
         CASE WHEN g > :rows - :unassigned THEN 'unassigned'
              WHEN g > :rows - :unassigned - :pending THEN 'pending'
              WHEN g > :rows - :unassigned - :pending - :running THEN 'running'
              WHEN r < 900 THEN 'success' WHEN r < 960 THEN 'failure'
              WHEN r < 980 THEN 'timeout' ELSE 'killed' END AS status,
         1 + (r * 37 + g) % 5 + (r % 7) * (r % 3) AS run_s
  FROM s
)
INSERT INTO requests (id, job_type, params, upload_id, status, attempt, task_id, worker, progress,
                      result, error, submitted_by, created_at, queued_at, started_at,
                      finished_at, updated_at, version)
SELECT
  g, job_type,
  /*params*/,
  CASE WHEN job_type = 'load_array' THEN 1 + (g / 100) % :uploads END,
  status,
  CASE WHEN r % 50 = 0 OR job_type = 'simulate_flaky' AND status = 'failure' THEN 2 ELSE 1 END,
  CASE WHEN status <> 'unassigned' THEN md5(g::text)::uuid::text END,
  CASE WHEN status NOT IN ('unassigned', 'pending')
       THEN 'worker' || (1 + g % 2) || '@node' || (1 + g % 3) END,
  CASE WHEN status = 'success' THEN 100 WHEN status IN ('unassigned', 'pending') THEN 0
       ELSE r % 100 END,
  CASE WHEN status <> 'success' THEN NULL
       WHEN job_type = 'load_array' THEN '{"min": 0.0, "max": 12.5, "mean": 0.81}'::jsonb
       ELSE jsonb_build_object('slept_seconds', run_s) END,
  CASE status
    WHEN 'failure' THEN (ARRAY['SimulatedFailure: simulated failure (fail_rate=0.05)',
                               'ValueError: raw file has 4194000 bytes, shape needs 4194304',
                               'OSError: [Errno 28] No space left on device',
                               'WorkerLostError: worker exited prematurely: signal 9'])[1 + g % 4]
    WHEN 'timeout' THEN (ARRAY['timeout: soft time limit (600 s) exceeded',
                               'timeout: hard time limit (660 s) exceeded'])[1 + g % 2]
    WHEN 'killed' THEN 'killed by operator' || (g % 3) END,
  CASE WHEN g % 4 = 0 THEN 'user0' ELSE 'user' || (1 + g % 19) END,
  created,
  CASE WHEN status <> 'unassigned' THEN created + interval '20 ms' END,
  CASE WHEN status NOT IN ('unassigned', 'pending') THEN created + interval '30 ms' END,
  CASE WHEN status NOT IN ('unassigned', 'pending', 'running')
       THEN created + interval '30 ms' + make_interval(secs => run_s) END,
  created + make_interval(secs => run_s),
  g
FROM t
"""

# The seeded requests' params, put in SEED_SQL at /*params*/ (a bench seeding other params
# gives seed() its own expression).
PARAMS_SQL = """CASE WHEN job_type = 'load_array'
       THEN '{"shape": [128, 128, 64], "dtype": "float32", "byte_order": "little"}'
       ELSE '{"min_seconds": 1, "max_seconds": 5, "fail_rate": 0.05, "hang": false}' END::jsonb"""

ATTEMPTS_SQL = """
INSERT INTO attempts (request_id, number, task_id, status, worker, triggered_by, queued_at,
                      started_at, finished_at, error, created_at)
SELECT id, attempt, task_id, status, worker, submitted_by, queued_at, started_at, finished_at,
       error, created_at FROM requests
"""

UPLOADS_SQL = """
INSERT INTO uploads (filename, safe_name, size, sha256, content_type, data)
SELECT 'patient-' || g || '.raw', 'patient-' || g || '.raw', 4194304,
       md5(g::text) || md5((g + 1)::text), 'application/octet-stream', '\\x00'::bytea
FROM generate_series(1, :uploads) g
"""

# What the triggers disabled during the load would have kept: status counts, the
# version sequence, and the finish statistics of the last 25 hours (as the finish_stats trigger does).
AGGREGATES_SQL = """
INSERT INTO status_counts (status, n) SELECT status, count(*) FROM requests GROUP BY status;
SELECT setval('request_version_seq', (SELECT max(version) FROM requests));
SELECT setval('requests_id_seq', (SELECT max(id) FROM requests));
INSERT INTO finish_stats (minute, job_type, status, run_bucket, n)
SELECT date_trunc('minute', r.finished_at), r.job_type, r.status, {bucket}, count(*)
FROM requests r
WHERE r.finished_at > now() - interval '25 hours'
  AND r.status IN ('success', 'failure', 'timeout', 'killed')
GROUP BY 1, 2, 3, 4;
"""
BUCKET_SQL = ("CASE WHEN r.started_at IS NULL OR r.finished_at IS NULL THEN NULL"
              " ELSE ceil(4 * log(2, greatest(extract(epoch FROM r.finished_at - r.started_at)"
              " * 1000, 1)::numeric))::smallint END")

# Secondary indexes and constraints of the loaded tables: dropped for the load and built
# again afterwards (one sorted build each instead of 10M inserts into each).
LOADED = ("requests", "attempts")
SAVED_INDEXES_SQL = """
SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i
WHERE i.indrelid = ANY(CAST(:tables AS regclass[])) AND NOT i.indisprimary
  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
"""
SAVED_CONSTRAINTS_SQL = """
SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint
WHERE conrelid = ANY(CAST(:tables AS regclass[])) AND contype IN ('f', 'u')
"""


def _load(conn, rows, uploads, params_sql=PARAMS_SQL):
    """The load itself, on one connection in one transaction."""
    params = {"rows": rows, "uploads": uploads, "step": SPAN_S / max(rows, 1),
              **{k: min(v, rows // 10) for k, v in ACTIVE.items()}}
    tables = list(LOADED)
    indexes = conn.execute(text(SAVED_INDEXES_SQL), {"tables": tables}).all()
    constraints = conn.execute(text(SAVED_CONSTRAINTS_SQL), {"tables": tables}).all()
    conn.execute(text("SET LOCAL maintenance_work_mem = '512MB'"))
    conn.execute(text("SET LOCAL work_mem = '256MB'"))
    conn.execute(text(
        "TRUNCATE requests, attempts, uploads, artifacts, status_counts, finish_stats"
        " RESTART IDENTITY CASCADE"))  # upload_chunks, volume_caches, attempt_logs
    for table, name, _ in constraints:
        conn.execute(text(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"'))
    for name, _ in indexes:
        conn.execute(text(f"DROP INDEX {name}"))
    for table in tables:
        conn.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
    conn.execute(text(UPLOADS_SQL), {"uploads": uploads})
    conn.execute(text(SEED_SQL.replace("/*params*/", params_sql)), params)
    conn.execute(text(ATTEMPTS_SQL))
    for table in tables:
        conn.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER USER"))
    conn.execute(text(AGGREGATES_SQL.format(bucket=BUCKET_SQL)))
    for _, definition in indexes:
        conn.execute(text(definition))
    for table, name, definition in constraints:
        conn.execute(text(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}'))


def seed(app, rows, uploads=10_000, params_sql=PARAMS_SQL):
    """Fill the requests table with `rows` requests (the newest few running or waiting).

    One transaction: triggers off, secondary indexes and constraints dropped, three
    INSERT ... SELECT generate_series, the aggregates the triggers keep written in one
    statement each, indexes and constraints built again, then VACUUM ANALYZE (so the
    list's index-only scans see an all-visible table). `params_sql`: the params column's
    SQL expression (of g, job_type, status). Returns (seconds, {phase: s}).
    """
    t0 = time.monotonic()
    with app.app_context():
        with db.engine.begin() as conn:
            _load(conn, rows, uploads, params_sql)
        stats.compact()          # finish_stats as the beat task keeps it
        loaded = time.monotonic()
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE requests, attempts, uploads, status_counts,"
                              " finish_stats"))
    end = time.monotonic()
    return end - t0, {"load_s": round(loaded - t0, 1), "vacuum_s": round(end - loaded, 1)}


def row_count(app):
    """Requests in the bench database (from the status counts: no scan of 10M rows)."""
    with app.app_context():
        n = db.session.execute(text("SELECT coalesce(sum(n), 0) FROM status_counts")).scalar()
        db.session.rollback()
        return int(n)


# Realistic values from the seed for every URL parameter the list's filters may take.
# The list's own definition (listing.Filters) decides which are measured: a parameter
# is kept when Filters takes it without an error and gives it back in args(), so a
# filter added to Filters is measured as soon as it has a value here; one Filters
# does not know is skipped. Several spellings are tried for filters whose name the
# list may choose (the time range, sort).
FILTER_CANDIDATES = [
    ("status", ["failure", "killed", "running", "pending"]),
    ("job_type", ["load_array", "simulate_flaky"]),
    ("worker", ["worker2@node3"]),
    ("submitted_by", ["user7", "user0"]),
    ("error", ["No space left", "soft time limit", "nothing like this"]),
    ("created_after", ["{day_ago}"]), ("created_before", ["{week_ago}"]),
    ("since_time", ["{day_ago}"]), ("until", ["{week_ago}"]),
    ("from", ["{day_ago}"]), ("to", ["{week_ago}"]),
    ("after_time", ["{day_ago}"]), ("before", ["{week_ago}"]),
    ("range", ["1h", "24h", "7d"]),
    ("sort", ["created", "-created", "created_at", "duration", "-duration", "created_asc",
              "duration_desc", "duration_asc", "oldest", "longest"]),
    ("order", ["asc", "desc"]),
]
# Combinations an operator uses (kept when each part is a filter the list takes).
FILTER_COMBOS = [
    {"status": "failure", "job_type": "load_array"},
    {"status": "killed", "job_type": "load_array"},
    {"status": "failure", "error": "No space left"},
    {"status": "timeout", "submitted_by": "user7"},
    {"worker": "worker2@node3", "status": "failure"},
    {"status": "failure", "sort": "duration"},
    {"status": "failure", "sort": "-duration"},
    {"status": "failure", "sort": "longest"},
    {"job_type": "load_array", "sort": "oldest"},
]
SEARCHES = [
    ("search (no match)", "q=nobody"),
    ("search user", "q=user7"),
    ("search user + status", "q=user7&status=timeout"),
    ("search file name", "q=patient-4241"),
    ("search file name + status", "q=patient-4241&status=success"),
    ("search request id", "q={middle_id}"),
    ("search task id", "q={middle_task}"),
]


def list_filters(app, values):
    """[(label, query string)] of every filter and combination the list takes."""
    from urllib.parse import urlencode
    from werkzeug.datastructures import MultiDict
    from dashboard import jobs
    from dashboard.requests import listing

    def taken(args):
        with app.test_request_context():
            f = listing.Filters(MultiDict(args), jobs.REGISTRY)
            kept = f.args() if hasattr(f, "args") else {}
            return not f.errors and all(kept.get(k) not in (None, "") for k in args)

    found = []
    for name, candidates in FILTER_CANDIDATES:
        for value in candidates:
            value = value.format(**values)
            if taken({name: value}):
                found.append((f"filter {name}", urlencode({name: value})))
    for combo in FILTER_COMBOS:
        if taken(combo):
            found.append(("filter " + " + ".join(combo), urlencode(combo)))
    return found


def seed_values(app):
    """Values the searches and time filters use, read from the seed."""
    from datetime import datetime, timedelta, timezone
    with app.app_context():
        middle = db.session.execute(text(
            "SELECT id, task_id FROM requests WHERE id = (SELECT max(id) / 2 FROM requests)"
        )).one()
        db.session.rollback()
    now = datetime.now(timezone.utc).replace(microsecond=0)
    return {"middle_id": middle.id, "middle_task": middle.task_id,
            "day_ago": (now - timedelta(days=1)).isoformat(),
            "week_ago": (now - timedelta(days=7)).isoformat()}


def _times(client, path, samples, headers=None, expect=200, empty=False):
    """Milliseconds of `samples` GETs of `path`; checks the status (and no body for a 204)."""
    times, body = [], b""
    for _ in range(samples):
        t0 = time.perf_counter()
        response = client.get(path, headers=headers or {})
        body = response.get_data()
        times.append(1000 * (time.perf_counter() - t0))
        if expect is not None and response.status_code != expect:
            raise RuntimeError(f"GET {path}: {response.status_code}, expected {expect}")
        if empty and body:
            raise RuntimeError(f"GET {path}: {len(body)} bytes, expected no body")
    return times, len(body)


def _time(client, path, samples, headers=None, expect=200, empty=False):
    """p50/p95 of GET `path` in ms, and the size of the last answer."""
    times, size = _times(client, path, samples, headers, expect, empty)
    return percentile(times, 50), percentile(times, 95), size


def _fresh_token(client):
    """The `since` token the live list partial embeds right now."""
    page = client.get("/", headers={"HX-Request": "true"}).get_data(as_text=True)
    return DATA_TOKEN_RE.search(page).group(1)


def run(app, opts):
    """Seed opts.rows requests (or reuse them with --reuse-seed), then time the pages."""
    if getattr(opts, "reuse_seed", False) and row_count(app) == opts.rows:
        seconds, phases = 0.0, {"reused": True}
        print(f"   reusing the {opts.rows} seeded requests", flush=True)
    else:
        seconds, phases = seed(app, opts.rows)
        print(f"   seeded {opts.rows} requests in {seconds:.0f} s {phases}", flush=True)
    users.ensure_user(app, "bench-viewer", "viewer")
    api_token = users.ensure_user(app, "bench-operator", "operator")
    client = app.test_client()
    users.sign_in_test_client(client, "bench-viewer")
    hx = {"HX-Request": "true"}
    bearer = {"Authorization": f"Bearer {api_token}"}
    n = opts.samples
    values = seed_values(app)
    filters = list_filters(app, values)
    searches = [(label, query.format(**values)) for label, query in SEARCHES]
    for path in ("/", "/api/requests", "/overview"):   # warm caches and the connection pool
        client.get(path, headers=bearer)
    results, goals = {}, {}

    def measure(name, path, headers=None, goal=50, **kw):
        results[name] = _time(client, path, n, headers, **kw)
        goals[name] = goal
        print(f"   {name}: p50 {results[name][0]:.1f} ms, p95 {results[name][1]:.1f} ms",
              flush=True)

    measure("list page GET /", "/")
    measure("live partial (htmx)", "/", hx)
    polls = []
    for _ in range(max(1, n // 50)):              # tokens stay fresh for 10 poll intervals
        token = _fresh_token(client)
        polls += _times(client, f"/?since={token}", 50, hx, expect=204, empty=True)[0]
    results["unchanged poll (204)"] = (percentile(polls, 50), percentile(polls, 95), 0)
    goals["unchanged poll (204)"] = 5
    for label, query in filters + searches:
        measure(f"{label} ?{query}", f"/?{query}", hx)
    measure("overview partial GET /overview", "/overview")
    # The overview answers 204 only while its numbers stay; the oldest waiting request's
    # age moves every second while something waits, so this poll may render (expect None).
    digest = OVERVIEW_DIGEST_RE.search(client.get("/overview").get_data(as_text=True)).group(1)
    measure("overview poll with its digest", f"/overview?since={digest}", expect=None)
    measure("GET /api/stats?window=1h", "/api/stats?window=1h", bearer)
    measure("GET /api/stats?window=24h", "/api/stats?window=24h", bearer)
    measure("API list ?status=failure", "/api/requests?status=failure&limit=50", bearer)
    measure("API list ?status=running", "/api/requests?status=running&limit=50", bearer)
    measure("request page (detail)", f"/requests/{values['middle_id']}", goal=None)
    metrics = []
    for name, (p50, p95, size) in results.items():
        metrics.append({"name": f"{name} p95", "value": p95, "unit": "ms",
                        "goal": goals.get(name), "cmp": "<="})
        metrics.append({"name": "  p50", "value": p50, "unit": "ms"})
    details = {"rows": row_count(app), "seed_seconds": seconds, "seed_phases": phases,
               "samples": n, "filters_measured": [q for _, q in filters],
               "results_ms": {k: {"p50": v[0], "p95": v[1], "bytes": v[2]}
                              for k, v in results.items()}}
    return metrics, details
