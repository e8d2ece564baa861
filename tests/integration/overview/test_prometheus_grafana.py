"""For sites with Prometheus: deploy/prometheus/alerts.yml passes promtool (its rules and its
unit tests), deploy/grafana/dashboard.json is a Grafana dashboard, and every metric either
queries is one the running app's /metrics exports."""
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.support.metrics import run_simulations, scrape

ROOT = Path(__file__).resolve().parents[3]
RULES = ROOT / "deploy/prometheus/alerts.yml"
RULE_TESTS = ROOT / "deploy/prometheus/alerts_test.yml"
BOARD = ROOT / "deploy/grafana/dashboard.json"
# Series Prometheus itself makes for every scrape target.
PROMETHEUS_OWN = {"up"}
PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or",
                "unless", "bool", "offset", "inf", "nan"}


def metric_names(expr):
    """The metric names a PromQL expression reads: identifiers that are not functions,
    keywords, label names (inside {} or by/on (...)) or strings."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', "", expr)
    expr = re.sub(r"\{[^}]*\}", "", expr)
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", expr)
    expr = re.sub(r"\[[^\]]*\]", "", expr)
    names = set()
    for match in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", expr):
        word, rest = match.group(0), expr[match.end():].lstrip()
        if rest.startswith("(") or word.lower() in PROMQL_WORDS:
            continue
        names.add(word)
    return names


def rule_exprs():
    """Every rule's PromQL in alerts.yml."""
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule["expr"] for group in groups for rule in group["rules"]]


def board_panels(board):
    """Every panel of a dashboard, those inside rows included."""
    for panel in board["panels"]:
        yield panel
        yield from panel.get("panels", [])


def board_exprs():
    """Every PromQL expression of the Grafana dashboard's panels."""
    board = json.loads(BOARD.read_text())
    return [t["expr"] for p in board_panels(board) for t in p.get("targets", [])]


def promtool():
    """Path of promtool (Debian's `prometheus` package; `make test` installs it)."""
    found = shutil.which("promtool")
    assert found, "promtool is missing: apt-get install prometheus (make test installs it)"
    return found


def test_metric_names_are_read_from_promql():
    """The helper finds metrics and skips functions, labels and keywords."""
    expr = ('sum by (job_type) (dashboard_finished_recent{status=~"failure|timeout"})'
            ' / on() absent(dashboard_queue_consumers) and up{job="dashboard"} == 0')
    assert metric_names(expr) == {"dashboard_finished_recent", "dashboard_queue_consumers", "up"}


def test_promtool_accepts_the_rules():
    """`promtool check rules` finds every rule well formed."""
    done = subprocess.run([promtool(), "check", "rules", str(RULES)], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(rule_exprs())} rules found" in done.stdout


def test_promtool_unit_tests_fire_the_alerts():
    """`promtool test rules`: fed series, the alerts fire (and stay quiet) when expected."""
    done = subprocess.run([promtool(), "test", "rules", str(RULE_TESTS)], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout
    tested = {case["alertname"] for test in yaml.safe_load(RULE_TESTS.read_text())["tests"]
              for case in test["alert_rule_test"]}
    rules = {rule["alert"] for group in yaml.safe_load(RULES.read_text())["groups"]
             for rule in group["rules"]}
    assert rules == tested, f"alerts without a unit test: {sorted(rules - tested)}"


def test_the_grafana_board_is_a_dashboard():
    """A dashboard Grafana imports: recent schema, a Prometheus datasource variable that
    every panel uses, unique ids, and a panel for each number operators watch."""
    board = json.loads(BOARD.read_text())
    assert board["title"] and board["uid"] and board["schemaVersion"] >= 36
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    panels = list(board_panels(board))
    assert len({p["id"] for p in panels}) == len(panels)
    for panel in panels:
        assert {"x", "y", "w", "h"} <= set(panel["gridPos"])
        if panel["type"] != "row":
            assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
            assert panel["targets"] and all(t["expr"] for t in panel["targets"])
    used = set().union(*map(metric_names, board_exprs()))
    for needed in ("dashboard_finished_recent", "dashboard_requests", "dashboard_workers",
                   "dashboard_dispatcher_heartbeat_age_seconds", "dashboard_queue_messages",
                   "dashboard_run_seconds_quantile", "dashboard_sla_breaches"):
        assert needed in used, needed


@pytest.fixture
def scraped(app, stack, api, fresh):
    """/metrics of the running app once requests succeeded and failed on real workers."""
    run_simulations(app, api, succeed=2, fail=1)
    return scrape(app)[1]


def test_every_metric_the_rules_and_board_use_is_exported(scraped):
    """No rule or panel queries a metric /metrics does not export (a typo never fires)."""
    exported = {name for name, family in scraped.items() if family.samples}
    for source, exprs in (("alerts.yml", rule_exprs()), ("dashboard.json", board_exprs())):
        used = set().union(*map(metric_names, exprs)) - PROMETHEUS_OWN
        assert used <= exported, f"{source} uses {sorted(used - exported)}, not in /metrics"


def test_fleet_numbers_follow_the_running_stack(scraped):
    """Workers, dispatcher heartbeat, oldest wait and run percentiles as the stack is."""
    value = {f"{s.name}{sorted(s.labels.items())}": s.value
             for family in scraped.values() for s in family.samples}
    assert value["dashboard_workers[('state', 'online')]"] == 2
    assert [s.value for s in scraped["dashboard_worker_up"].samples] == [1, 1]
    assert 0 <= value["dashboard_dispatcher_heartbeat_age_seconds[]"] < 10
    assert value["dashboard_oldest_waiting_seconds[]"] == 0
    quantiles = {s.labels["quantile"] for s in scraped["dashboard_run_seconds_quantile"].samples
                 if s.labels["job_type"] == "simulate"}
    assert quantiles == {"0.5", "0.95", "0.99"}
