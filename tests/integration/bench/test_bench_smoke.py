"""`python -m bench` as a user runs it, with its quickest sizes, so the harness does not rot
(the numbers are not checked: at these sizes they mean nothing).

It runs as a child process on the suite's database and vhost (BENCH_DATABASE_URL /
BENCH_BROKER_URL), which it rebuilds from the migrations as it always does, with its
results and logs in a temporary folder (BENCH_OUT_DIR). Nothing is imported from bench/.
"""
import json
import os
import subprocess
import sys

import pytest

from tests.support.env import ROOT

SECTIONS = ("throughput", "latency", "kill", "dashboard", "memory", "upload", "bulk_submit",
            "idempotency", "bulk_pipeline", "param_search", "limits", "capacity", "alerts")
QUICKEST = ["--quick", "--n", "40", "--rounds", "1", "--samples", "5", "--rows", "2000",
            "--kills", "1", "--soak", "2", "--viewers", "3", "--upload-mb", "4",
            "--bulk-batches", "4", "--search-rows", "2000", "--idem-rounds", "1"]


@pytest.mark.slow
@pytest.mark.timeout(720)   # thirteen sections, each starting its own processes
def test_every_bench_section_runs(app, _stack, clean_db, tmp_path):
    _stack.stop_all()   # the bench starts its own workers, dispatcher and web server
    with app.app_context():   # the bench drops the schema: no connection of ours holds it
        app.extensions["sqlalchemy"].engine.dispose()
    env = {**os.environ, "BENCH_DATABASE_URL": os.environ["TEST_DATABASE_URL"],
           "BENCH_BROKER_URL": os.environ["TEST_BROKER_URL"], "BENCH_OUT_DIR": str(tmp_path)}
    run = subprocess.run([sys.executable, "-m", "bench", *QUICKEST], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=660)
    printed = run.stdout
    assert run.returncode == 0, f"{printed[-3000:]}\n{run.stderr[-3000:]}"
    assert f"sections {','.join(SECTIONS)} (quick)" in printed
    for section in SECTIONS:
        assert f"== {section}\n" in printed and f"[{section}]" in printed, section
    assert "ERROR" not in printed, printed[-3000:]
    assert "pipeline / raw Celery" in printed and "unchanged poll (204) p95" in printed
    # What it wrote: every section has metrics with values, every goal a verdict.
    with open(tmp_path / "latest.json") as fh:
        results = json.load(fh)
    assert results["errors"] == {}
    assert set(results["sections"]) == set(SECTIONS)
    goals = [m for section in results["sections"].values() for m in section["metrics"]
             if m.get("goal") is not None]
    assert goals and all(m["verdict"] in ("PASS", "MISS") for m in goals), goals
    for name, section in results["sections"].items():
        metrics = section["metrics"]
        assert metrics, name
        assert all(m.get("value") is not None for m in metrics), (name, metrics)
    kill = {m["name"]: m for m in results["sections"]["kill"]["metrics"]}
    assert kill["kill: next poll shows killed"]["value"] == 1
    idem = results["sections"]["idempotency"]["metrics"]
    assert idem[0]["verdict"] == "PASS", idem   # one row, whatever the machine's load
    assert "through the API / direct insert" in printed
    assert "peer p50 / API ?param.patient_id= p50" in printed
    capacity = results["sections"]["capacity"]["details"]
    for path in ("single", "single_two", "bulk"):   # every request of a stretch ended
        assert capacity[path]["n"] > 0 and capacity[path]["gross_cpu_ms"]["postgres"] > 0, path
        assert capacity[path]["messages"]["received"] > 0, path
    assert "first engine to saturate (per core)" in printed
