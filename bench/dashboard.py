"""The dashboard at a million requests: list page, live partial, unchanged poll, each
filter and the search, API list.

Seeded in the bench database with INSERT ... SELECT generate_series (the
status_counts trigger is per statement, so one statement is cheap), then
VACUUM ANALYZE. Server time is measured through the Flask test client as a
signed-in viewer (no network, no WSGI server), p50/p95 per URL.
"""
import re
import time

from sqlalchemy import text

from dashboard.extensions import db

from . import users
from .report import percentile

DATA_TOKEN_RE = re.compile(r'data-token="([0-9]+-[0-9]+(?:-[0-9.]+)?)"')
# The list's filters and search as the live partial serves them (goal: p95 <= 50 ms each).
# The seed has users user0..user19, files patient-1..patient-10000.raw; nobody matches
# `nobody`, and killed volumes are 0.4 % of the rows.
FILTERS = [
    ("filter", "status=killed"),
    ("filter", "job_type=load_array"),
    ("filter", "status=killed&job_type=load_array"),
    ("search (no match)", "q=nobody"),
    ("search user", "q=user7"),
    ("search user + status", "q=user7&status=timeout"),
    ("search file name", "q=patient-4241"),
    ("search file name + status", "q=patient-4241&status=success"),
]

SEED_SQL = """
WITH s AS (
  SELECT g, (g::bigint * 7919) % 1000 AS r, (g % 5 = 0) AS is_volume,
         now() - make_interval(secs => (:rows - g) * 15) AS created
  FROM generate_series(1, :rows) g
)
INSERT INTO requests (job_type, params, upload_id, status, attempt, task_id, worker, progress,
                      result, error, submitted_by, created_at, queued_at, started_at,
                      finished_at, updated_at)
SELECT
  CASE WHEN is_volume THEN 'load_array' ELSE 'simulate' END,
  CASE WHEN is_volume THEN '{"shape": [128, 128, 64], "dtype": "float32", "byte_order": "little"}'
       ELSE '{"min_seconds": 1, "max_seconds": 5, "fail_rate": 0.05, "hang": false}' END::jsonb,
  CASE WHEN is_volume THEN 1 + g % :uploads END,
  st.status,
  CASE WHEN r % 50 = 0 THEN 2 ELSE 1 END,
  md5(g::text)::uuid::text,
  'worker' || (1 + g % 2) || '@node' || (1 + g % 3),
  CASE WHEN st.status = 'success' THEN 100 WHEN st.status = 'running' THEN g % 100 ELSE r % 100 END,
  CASE WHEN st.status <> 'success' THEN NULL
       WHEN is_volume THEN '{"min": 0.0, "max": 12.5, "mean": 0.81, "std": 1.3}'::jsonb
       ELSE jsonb_build_object('slept_seconds', round((1 + r % 400 / 100.0)::numeric, 3)) END,
  CASE st.status WHEN 'failure' THEN 'SimulatedFailure: simulated failure (fail_rate=0.05)'
                 WHEN 'timeout' THEN 'timeout: soft time limit (600 s) exceeded'
                 WHEN 'killed' THEN 'killed by operator' || (g % 3) END,
  'user' || (g % 20),
  created, created + interval '20 ms', created + interval '30 ms',
  CASE WHEN st.status <> 'running' THEN created + make_interval(secs => 1 + r % 5) END,
  created + make_interval(secs => 1 + r % 5)
FROM s CROSS JOIN LATERAL (SELECT CASE
  WHEN g > :rows - :active THEN 'running'
  WHEN r < 900 THEN 'success' WHEN r < 960 THEN 'failure'
  WHEN r < 980 THEN 'timeout' ELSE 'killed' END AS status) st
"""

ATTEMPTS_SQL = """
INSERT INTO attempts (request_id, number, task_id, status, worker, triggered_by, queued_at,
                      started_at, finished_at, error)
SELECT id, attempt, task_id, status, worker, submitted_by, queued_at, started_at, finished_at,
       error FROM requests
"""

UPLOADS_SQL = """
INSERT INTO uploads (filename, safe_name, size, sha256, content_type, data)
SELECT 'patient-' || g || '.raw', 'patient-' || g || '.raw', 4194304,
       md5(g::text) || md5((g + 1)::text), 'application/octet-stream', '\\x00'::bytea
FROM generate_series(1, :uploads) g
"""


def seed(app, rows, active=200, uploads=10_000):
    """Fill an empty requests table with `rows` requests (the newest `active` running)."""
    t0 = time.monotonic()
    with app.app_context():
        db.session.execute(text(
            "TRUNCATE requests, attempts, uploads, artifacts, status_counts RESTART IDENTITY"
            " CASCADE"))  # upload_chunks, volume_caches
        db.session.execute(text(UPLOADS_SQL), {"uploads": uploads})
        db.session.execute(text(SEED_SQL), {"rows": rows, "active": min(active, rows),
                                            "uploads": uploads})
        db.session.execute(text(ATTEMPTS_SQL))
        db.session.commit()
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE requests, attempts, uploads, status_counts"))
    return time.monotonic() - t0


def row_count(app):
    """Requests in the bench database."""
    with app.app_context():
        n = db.session.execute(text("SELECT count(*) FROM requests")).scalar()
        db.session.rollback()
        return n


def _times(client, path, samples, headers=None, expect=200, empty=False):
    """Milliseconds of `samples` GETs of `path`; checks the status (and no body for a 204)."""
    times, body = [], b""
    for _ in range(samples):
        t0 = time.perf_counter()
        response = client.get(path, headers=headers or {})
        body = response.get_data()
        times.append(1000 * (time.perf_counter() - t0))
        if response.status_code != expect:
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
    """Seed opts.rows requests, then time the pages."""
    seconds = seed(app, opts.rows)
    print(f"   seeded {opts.rows} requests in {seconds:.0f} s", flush=True)
    users.ensure_user(app, "bench-viewer", "viewer")
    api_token = users.ensure_user(app, "bench-operator", "operator")
    client = app.test_client()
    users.sign_in_test_client(client, "bench-viewer")
    hx = {"HX-Request": "true"}
    bearer = {"Authorization": f"Bearer {api_token}"}
    n = opts.samples
    for path in ("/", "/api/requests"):          # warm caches and the connection pool
        client.get(path, headers=bearer)
    results = {}
    results["list page GET /"] = _time(client, "/", n)
    results["live partial (htmx)"] = _time(client, "/", n, hx)
    polls = []
    for _ in range(max(1, n // 50)):              # tokens stay fresh for 10 poll intervals
        token = _fresh_token(client)
        polls += _times(client, f"/?since={token}", 50, hx, expect=204, empty=True)[0]
    results["unchanged poll (204)"] = (percentile(polls, 50), percentile(polls, 95), 0)
    results["filtered partial ?status=failure"] = _time(client, "/?status=failure", n, hx)
    for label, query in FILTERS:
        results[f"{label} ?{query}"] = _time(client, f"/?{query}", n, hx)
    results["API list ?status=failure"] = _time(
        client, "/api/requests?status=failure&limit=50", n, bearer)
    results["API list ?status=running"] = _time(
        client, "/api/requests?status=running&limit=50", n, bearer)
    results["request page (detail)"] = _time(client, f"/requests/{opts.rows // 2}", n)
    goals = {"list page GET /": 50, "live partial (htmx)": 50, "unchanged poll (204)": 5,
             "filtered partial ?status=failure": 50,
             **{f"{label} ?{query}": 50 for label, query in FILTERS}}
    metrics = []
    for name, (p50, p95, size) in results.items():
        metrics.append({"name": f"{name} p95", "value": p95, "unit": "ms",
                        "goal": goals.get(name), "cmp": "<="})
        metrics.append({"name": "  p50", "value": p50, "unit": "ms"})
    details = {"rows": row_count(app), "seed_seconds": seconds, "samples": n,
               "results_ms": {k: {"p50": v[0], "p95": v[1], "bytes": v[2]}
                              for k, v in results.items()}}
    return metrics, details
