"""Search by params at ten million requests: `param.<name>=<value>` on GET /api/requests
and the list, alone and with a status, and the list's unchanged poll with a param filter.

Seeded as the dashboard section seeds (bench/dashboard.py's seed: one transaction of
INSERT ... SELECT generate_series, indexes built after, VACUUM ANALYZE), with params a
team's job carries: {"patient_id": "P<g % 200000>", "accession": "A<g>", "max_seconds":
g % 7, ...}, so a patient has 50 requests at 10M rows and an accession one. `--reuse-seed`
keeps such a seed of the same size from an earlier run.

Server time through the Flask test client (no network, no WSGI server): the API as an
operator with a bearer token, the list as a signed-in viewer; every sample asks for a
different value. The peer is the same search without an index, as one writes it
without one (`params->>'patient_id' = ...`, newest 50), timed from Python on the same
database in the same run; and PostgreSQL's own EXPLAIN ANALYZE time of both.
"""
import json
import random
import re
import time

from sqlalchemy import text

from dashboard.extensions import db

from . import dashboard, users
from .report import percentile

PATIENTS = 200_000
# The params column: the seed's usual params with the patient, the accession and a
# max_seconds of 0 to 6 (a number: param.max_seconds=3 matches the JSON number).
PARAMS_SQL = """(CASE WHEN job_type = 'load_array'
       THEN '{"shape": [128, 128, 64], "dtype": "float32", "byte_order": "little"}'
       ELSE '{"min_seconds": 0, "fail_rate": 0.05, "hang": false}' END::jsonb
  || jsonb_build_object('patient_id', 'P' || (g % 200000), 'accession', 'A' || g,
                        'max_seconds', g % 7))"""
# The search an application without the index runs: the newest 50 of a patient.
PEER_SQL = ("SELECT * FROM requests WHERE params->>'patient_id' = :value"
            " ORDER BY id DESC LIMIT 50")
INDEXED_SQL = ("SELECT * FROM requests WHERE params @> CAST(:match AS jsonb)"
               " ORDER BY id DESC LIMIT 50")
EXECUTION_RE = re.compile(r"Execution Time: ([0-9.]+) ms")


def _seeded(app, rows):
    """True when the bench database holds `rows` requests seeded with these params."""
    if dashboard.row_count(app) != rows:
        return False
    with app.app_context():
        found = db.session.execute(text(
            "SELECT params ? 'patient_id' FROM requests ORDER BY id LIMIT 1")).scalar()
        db.session.rollback()
    return bool(found)


def _get_ms(client, path, headers, expect=200, empty=False):
    t0 = time.perf_counter()
    response = client.get(path, headers=headers)
    body = response.get_data()
    ms = 1000 * (time.perf_counter() - t0)
    if response.status_code != expect:
        raise RuntimeError(f"GET {path}: {response.status_code}, expected {expect}")
    if empty and body:
        raise RuntimeError(f"GET {path}: {len(body)} bytes, expected no body")
    return ms, body


def _explain_ms(sql, params):
    """PostgreSQL's own execution time of `sql` (EXPLAIN ANALYZE)."""
    plan = db.session.execute(text("EXPLAIN (ANALYZE) " + sql), params).scalars().all()
    db.session.rollback()
    return float(EXECUTION_RE.search("\n".join(plan)).group(1))


def run(app, opts):
    """Seed opts.search_rows requests (10,000,000; or reuse them), then time the searches."""
    rows = opts.search_rows
    if getattr(opts, "reuse_seed", False) and _seeded(app, rows):
        seconds, phases = 0.0, {"reused": True}
        print(f"   reusing the {rows} seeded requests", flush=True)
    else:
        seconds, phases = dashboard.seed(app, rows, params_sql=PARAMS_SQL)
        print(f"   seeded {rows} requests in {seconds:.0f} s {phases}", flush=True)
    users.ensure_user(app, "bench-viewer", "viewer")
    token = users.ensure_user(app, "bench-operator", "operator")
    bearer = {"Authorization": f"Bearer {token}"}
    client = app.test_client()
    users.sign_in_test_client(client, "bench-viewer")
    hx = {"HX-Request": "true"}
    n = opts.samples
    rng = random.Random(21)
    patients = [f"P{k}" for k in rng.sample(range(min(PATIENTS, rows)), min(n, rows))]
    accessions = [f"A{k}" for k in rng.sample(range(1, rows + 1), min(n, rows))]
    for path in ("/", "/api/requests", f"/api/requests?param.patient_id={patients[-1]}"):
        client.get(path, headers=bearer)       # the connection pool, caches, plans

    results, goals, found = {}, {}, {}

    def measure(name, paths, headers, goal=50):
        times, matched = [], 0
        for path in paths:
            ms, body = _get_ms(client, path, headers)
            times.append(ms)
            if path.startswith("/api/"):
                matched += len(json.loads(body)["items"]) if body.startswith(b"{") \
                    else len(json.loads(body))
        results[name] = (percentile(times, 50), percentile(times, 95))
        goals[name], found[name] = goal, matched / len(paths)
        print(f"   {name}: p50 {results[name][0]:.1f} ms, p95 {results[name][1]:.1f} ms"
              + (f", {found[name]:.1f} rows a search" if matched else ""), flush=True)

    measure("API ?param.patient_id=", [f"/api/requests?param.patient_id={p}&limit=50"
                                       for p in patients], bearer)
    measure("API ?param.patient_id= + status=success",
            [f"/api/requests?param.patient_id={p}&status=success&limit=50" for p in patients],
            bearer)
    measure("API ?param.patient_id= + status=failure",
            [f"/api/requests?param.patient_id={p}&status=failure&limit=50" for p in patients],
            bearer)
    measure("API ?param.accession= (one request)",
            [f"/api/requests?param.accession={a}&limit=50" for a in accessions], bearer)
    measure("API ?param.max_seconds=3 (1 in 7)",
            [f"/api/requests?param.max_seconds={i % 7}&limit=50" for i in range(n)], bearer)
    measure("list (htmx) ?param.patient_id=",
            [f"/?param.patient_id={p}" for p in patients], hx)
    measure("list (htmx) ?param.patient_id= + status=failure",
            [f"/?param.patient_id={p}&status=failure" for p in patients], hx)

    # The list's unchanged poll, filtered by a patient: 204 and no body while nothing
    # changed; the same poll without a filter in turn with it, as the machine's yardstick.
    polls, plain = [], []
    for p in patients[:max(1, n // 20)]:
        page = client.get(f"/?param.patient_id={p}", headers=hx).get_data(as_text=True)
        since = dashboard.DATA_TOKEN_RE.search(page).group(1)
        for _ in range(20):
            polls.append(_get_ms(client, f"/?param.patient_id={p}&since={since}", hx,
                                 expect=204, empty=True)[0])
            plain.append(_get_ms(client, f"/?since={since}", hx, expect=204, empty=True)[0])
    for name, times, goal in (("unchanged poll (204) ?param.patient_id=", polls, 5),
                              ("  the same poll without a filter", plain, None)):
        results[name] = (percentile(times, 50), percentile(times, 95))
        goals[name] = goal
        print(f"   {name.strip()}: p50 {percentile(times, 50):.1f} ms,"
              f" p95 {percentile(times, 95):.1f} ms", flush=True)

    # The peer: the same search without the index, and both as PostgreSQL times them.
    peer_n = max(2, min(5, n // 40))
    peer_ms, peer_db_ms, ours_db_ms = [], [], []
    with app.app_context():
        for p in patients[:peer_n]:
            t0 = time.perf_counter()
            db.session.execute(text(PEER_SQL), {"value": p}).all()
            peer_ms.append(1000 * (time.perf_counter() - t0))
            db.session.rollback()
            peer_db_ms.append(_explain_ms(PEER_SQL, {"value": p}))
        for p in patients:
            ours_db_ms.append(_explain_ms(INDEXED_SQL, {"match": json.dumps({"patient_id": p})}))
    peer = (percentile(peer_ms, 50), percentile(peer_ms, 95))
    print(f"   peer, no index (params->>'patient_id' = ...): p50 {peer[0]:.0f} ms,"
          f" p95 {peer[1]:.0f} ms; EXPLAIN ANALYZE p50 {percentile(peer_db_ms, 50):.0f} ms"
          f" vs {percentile(ours_db_ms, 50):.2f} ms with the index", flush=True)

    api = results["API ?param.patient_id="]
    metrics = []
    for name, (p50, p95) in results.items():
        metrics.append({"name": f"{name} p95", "value": p95, "unit": "ms",
                        "goal": goals[name], "cmp": "<="})
        metrics.append({"name": "  p50", "value": p50, "unit": "ms"})
    metrics += [
        {"name": "peer: no index, params->>'patient_id' = (from Python) p50", "value": peer[0],
         "unit": "ms"},
        {"name": "  EXPLAIN ANALYZE p50: no index / with requests_params_idx",
         "value": f"{percentile(peer_db_ms, 50):.1f} / {percentile(ours_db_ms, 50):.2f}",
         "unit": "ms"},
        {"name": "peer p50 / API ?param.patient_id= p50", "value": peer[0] / api[0],
         "unit": "x"},
    ]
    details = {"rows": dashboard.row_count(app), "seed_seconds": seconds, "seed_phases": phases,
               "samples": n, "rows_a_search": found,
               "results_ms": {k: {"p50": v[0], "p95": v[1]} for k, v in results.items()},
               "peer_ms": peer_ms, "peer_explain_ms": peer_db_ms,
               "indexed_explain_ms_p50": percentile(ours_db_ms, 50)}
    return metrics, details
