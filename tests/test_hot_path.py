"""The worker's hot path (issue 13) with real workers: a short job's last log lines arrive with
its success, the success is stored once, and a batch of requests all finish with their logs."""
from tests.support.db import sql, wait_status
from tests.support.http import submit
from tests.support.procs import wait_for

from .test_story import all_lines

QUICK = {"min_seconds": 0, "max_seconds": 0}


def test_a_short_jobs_log_lines_arrive_with_its_success(app, stack, api):
    """sleeping / done after: written in the success's own statement, in order, once."""
    request_id = submit(api, {**QUICK, "log_lines": 3})
    wait_status(app, request_id, "success", timeout=60)
    messages = [line["message"] for line in all_lines(api, request_id)]
    body = [m for m in messages if "extra line" in m or "sleeping" in m or "done after" in m]
    assert [m.split(": ", 1)[-1] for m in body] == [
        "extra line 1 of 3", "extra line 2 of 3", "extra line 3 of 3",
        "sleeping 0.00 s", "done after 0.00 s"]
    page = api.get(f"/api/requests/{request_id}").get_json()
    assert page["status"] == "success" and page["progress"] == 100
    assert page["attempts"][0]["status"] == "success"


def test_a_batch_of_short_requests_all_succeed_with_their_logs(app, stack, api):
    """Fifty at once: every one succeeds, each with its started step and its last line."""
    ids = [submit(api, QUICK) for _ in range(50)]

    def all_done():
        rows = sql(app, "SELECT status FROM requests WHERE id = ANY(:ids)", ids=ids)
        return len(rows) == 50 and all(r["status"] == "success" for r in rows)
    wait_for(all_done, 120, interval=0.2, what="50 short requests succeeded")
    for request_id in ids[::10]:
        messages = [line["message"] for line in all_lines(api, request_id)]
        assert any(m.startswith("started: running on") for m in messages), messages
        assert sum("done after" in m for m in messages) == 1, messages
