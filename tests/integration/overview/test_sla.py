"""SLA per job type: requests over max_wait_s / max_run_s are marked on the list and
counted in /metrics (simulate: wait 60 s, run 120 s; load_array: wait 120 s, run 600 s)."""
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.db import sql
from tests.support.html import parse
from tests.support.seed import seed_requests


@pytest.fixture
def seeded(app, stack):
    stack.stop_dispatcher()
    ids = seed_requests(app)
    # waiting 5 min (over simulate's 60 s) and 30 s (within it)
    ids["late"] = sql(app, "INSERT INTO requests (job_type, status, created_at) VALUES"
                           " ('simulate', 'unassigned', now() - interval '5 minutes')"
                           " RETURNING id")[0]["id"]
    ids["early"] = sql(app, "INSERT INTO requests (job_type, status, created_at) VALUES"
                            " ('simulate', 'unassigned', now() - interval '30 seconds')"
                            " RETURNING id")[0]["id"]
    return ids


def sla_marks(doc):
    """{request id: [SLA mark texts]} for every row of the list."""
    return {int(tr.attrs["data-id"]): [s.text()
                                       for s in tr.find_all("span", data_sla=True)]
            for tr in doc.find("section", id="requests").find_all("tr", data_id=True)}


def test_list_marks_requests_over_their_limits(signed_in, seeded):
    client, _, _ = signed_in("viewer")
    marks = sla_marks(parse(client.get("/").get_data(as_text=True)))
    assert marks[seeded["late"]][0].startswith("⚠ over SLA: waiting 5 min")
    assert marks[seeded["late"]][0].endswith("(limit 1 min)")
    assert marks[seeded["running"]][0].startswith("⚠ over SLA: running 2 min")  # started 2 s after it was created 3 min ago
    assert marks[seeded["success"]] == ["⚠ over SLA: ran 1 h 2 min (limit 10 min)"]
    over = {i for i, m in marks.items() if m}
    assert over == {seeded["late"], seeded["running"], seeded["success"]}


def test_metrics_count_requests_over_their_limits_now(app, seeded):
    body = app.test_client().get("/metrics").get_data(as_text=True)
    found = {(s.labels["job_type"], s.labels["limit"]): s.value
             for family in text_string_to_metric_families(body)
             if family.name == "dashboard_sla_breaches" for s in family.samples}
    assert found[("simulate", "wait")] == 1      # the 5-minute one; not the 30-second one
    assert found[("simulate", "run")] == 1       # running for 3 minutes
    assert found[("simulate_flaky", "wait")] == 0
    assert found[("load_array", "run")] == 0     # the long one has finished
    sql(app, "UPDATE requests SET created_at = now() WHERE id = :id", id=seeded["late"])
    body = app.test_client().get("/metrics").get_data(as_text=True)
    assert "dashboard_sla_breaches{job_type=\"simulate\",limit=\"wait\"} 0.0" in body
