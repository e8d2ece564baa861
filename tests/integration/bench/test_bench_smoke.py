"""A tiny run of every `python -m bench` section, so the harness does not rot (numbers unused)."""
import pytest

from bench import __main__ as cli, dashboard, kill, latency, memory, report, throughput, upload

SECTIONS = (("throughput", throughput.run), ("latency", latency.run), ("kill", kill.run),
            ("dashboard", dashboard.run), ("memory", memory.run), ("upload", upload.run))


@pytest.mark.slow
def test_every_bench_section_runs(app, _stack, clean_db):
    _stack.stop_all()   # the bench starts its own workers, dispatcher and web server
    opts = cli.parse(["--quick", "--n", "40", "--rounds", "1", "--samples", "5",
                      "--rows", "2000", "--kills", "1", "--soak", "2", "--viewers", "3",
                      "--upload-mb", "4"])
    results = {name: run(app, opts) for name, run in SECTIONS}
    table = report.table(results)
    for name, (metrics, _) in results.items():
        assert metrics, name
        assert all(m.get("value") is not None for m in metrics), (name, metrics)
    goals = [m for metrics, _ in results.values() for m in metrics if m.get("goal") is not None]
    assert {m["verdict"] for m in goals} <= {"PASS", "MISS"}
    assert "pipeline / raw Celery" in table and "unchanged poll (204) p95" in table
    kill_metrics = {m["name"]: m for m in results["kill"][0]}
    assert kill_metrics["kill: next poll shows killed"]["value"] == 1
