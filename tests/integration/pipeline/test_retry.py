"""Retry (API and page action), retry-all-failed, concurrent retries, and auto-retry by beat."""
import os
import re
import threading

import pytest

from dashboard.extensions import db
from tests.support.db import attempts, audit_rows, fetch, wait_status
from tests.support.env import BIN, RUN_DIR
from tests.support.http import Browserless, submit, TokenClient
from tests.support.procs import Proc, wait_for

QUICK = {"min_seconds": 0, "max_seconds": 0}
FAIL = {**QUICK, "fail_rate": 1}
TERMINAL = ("success", "failure", "timeout", "killed")


def retry(client, request_id):
    """POST the API retry; returns (status code, JSON body)."""
    response = client.post(f"/api/requests/{request_id}/retry")
    return response.status_code, response.get_json()


def make_killed(app, stack, api):
    """A QUICK request killed before it was dispatched (so its retry can succeed)."""
    stack.stop_dispatcher()
    request_id = submit(api, QUICK)
    assert api.post(f"/api/requests/{request_id}/kill").status_code == 202
    stack.start_dispatcher()
    return request_id


@pytest.mark.parametrize("state, params, final", [
    ("failure", FAIL, "failure"),
    ("timeout", {"hang": True, "timeout_seconds": 1}, "timeout"),
    ("killed", None, "success"),
])
def test_retry_runs_a_new_attempt_to_the_end(app, stack, api, make_user, state, params, final):
    """failure, timeout, killed -> a new attempt (number + 1, new task id, by the user) runs."""
    if params is None:
        request_id = make_killed(app, stack, api)
    else:
        request_id = submit(api, params)
    first = wait_status(app, request_id, TERMINAL, timeout=60)
    assert first["status"] == state
    _, _, token = make_user("operator", username="carol")
    status, body = retry(TokenClient(app, token), request_id)
    assert status == 202, body
    # The answer is the row as it is after the commit: the dispatcher may already have
    # claimed (even finished) the new attempt; the retry itself cleared task id and error.
    assert body["attempt"] == 2 and body["status"] in ("unassigned", "pending", "running", final)
    if body["status"] == "unassigned":
        assert (body["task_id"], body["error"]) == (None, None)
    row = wait_status(app, request_id, TERMINAL, timeout=60)
    assert row["status"] == final and row["attempt"] == 2
    old, new = attempts(app, request_id)
    assert (old["number"], old["status"], old["task_id"]) == (1, state, first["task_id"])
    assert (new["number"], new["status"], new["triggered_by"]) == (2, final, "carol")
    assert new["task_id"] and new["task_id"] != first["task_id"] == old["task_id"]
    assert row["task_id"] == new["task_id"] and new["started_at"] and new["worker"]
    assert old["triggered_by"] == "api-operator"
    assert [e["outcome"] for e in audit_rows(app, "retry", request_id)] == ["ok"]


def assert_not_retryable(app, api, session, request_id, status):
    """API and page action both refuse with 409 and a message; nothing changes."""
    before = fetch(app, request_id)
    assert before["status"] == status
    code, body = retry(api, request_id)
    assert code == 409
    assert body["error"] == (f"request {request_id} is {status}: only failure, timeout and"
                             " killed requests can be retried")
    page = session.action(f"/requests/{request_id}/retry")
    assert page.status_code == 409
    assert page.get_data(as_text=True) == (
        f"Request #{request_id} cannot be retried: only failure, timeout, killed requests can.")
    plain = session.action(f"/requests/{request_id}/retry", htmx=False)
    assert plain.status_code == 303
    shown = session.get(plain.headers["Location"]).get_data(as_text=True)
    assert f"Request #{request_id} cannot be retried" in shown
    after = fetch(app, request_id)
    assert after["attempt"] == before["attempt"] == 1
    assert len(attempts(app, request_id)) == 1


def test_retry_of_active_or_successful_requests_is_409(app, stack, api, make_user):
    """unassigned, pending, running, success: retry answers 409 with a message (API and page)."""
    user, password, _ = make_user("operator")
    session = Browserless(app, user, password)
    stack.stop_workers()
    stack.stop_dispatcher()
    quick, hang = submit(api, QUICK), submit(api, {"hang": True})
    assert_not_retryable(app, api, session, quick, "unassigned")
    stack.start_dispatcher()
    wait_status(app, quick, "pending", timeout=60)
    assert_not_retryable(app, api, session, quick, "pending")
    stack.start_worker("worker1")
    wait_status(app, hang, "running", timeout=60)
    assert_not_retryable(app, api, session, hang, "running")
    wait_status(app, quick, "success", timeout=60)
    assert_not_retryable(app, api, session, quick, "success")


def test_retry_unknown_request_is_404(api, clean_db):
    """Retry of a request that does not exist is 404."""
    assert retry(api, 424242)[0] == 404


def test_page_retry_action_queues_a_new_attempt(app, stack, api, make_user):
    """The request page's Retry (htmx) answers 204 with a refresh event and queues attempt 2."""
    user, password, _ = make_user("operator")
    session = Browserless(app, user, password)
    request_id = submit(api, FAIL)
    wait_status(app, request_id, "failure", timeout=60)
    response = session.action(f"/requests/{request_id}/retry")
    assert response.status_code == 204
    assert "refresh" in response.headers["HX-Trigger"]
    wait_for(lambda: len(attempts(app, request_id)) == 2 and
             attempts(app, request_id)[1]["status"] == "failure", 60, what="attempt 2 failed")
    assert attempts(app, request_id)[1]["triggered_by"] == user


def test_two_retries_at_once_make_one_attempt(app, stack, api, make_user):
    """Two operators retrying at the same moment: exactly one 202, one 409, one new attempt."""
    tokens = [make_user("operator")[2] for _ in range(2)]
    # Each attempt runs 2 s before failing, so a late second retry would still be refused.
    request_id = submit(api, {"min_seconds": 2, "max_seconds": 2, "fail_rate": 1})
    for round_ in range(1, 3):
        wait_status(app, request_id, "failure", timeout=60)
        barrier, results = threading.Barrier(2), []

        def go(token):
            client = TokenClient(app, token)
            barrier.wait()
            results.append(retry(client, request_id)[0])
        threads = [threading.Thread(target=go, args=(t,)) for t in tokens]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert sorted(results) == [202, 409], results
        assert [a["number"] for a in attempts(app, request_id)] == list(range(1, round_ + 2))
        wait_for(lambda: fetch(app, request_id)["status"] == "failure"
                 and fetch(app, request_id)["attempt"] == round_ + 1, 60,
                 what=f"attempt {round_ + 1} failed")


def test_two_retries_at_once_in_app_contexts(app, stack, api):
    """actions.retry from eight threads with their own app contexts: one wins."""
    from dashboard.requests import actions
    # The new attempt runs 2 s before failing again, so a thread that reaches its retry
    # late (a slow connect) is still refused; with an instant failure it would rightly win.
    request_id = submit(api, {"min_seconds": 2, "max_seconds": 2, "fail_rate": 1})
    wait_status(app, request_id, "failure", timeout=60)
    barrier, results = threading.Barrier(8), []

    def go(n):
        with app.app_context():
            barrier.wait()
            results.append(actions.retry(request_id, f"thread{n}"))
            db.session.remove()
    threads = [threading.Thread(target=go, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(results) == [False] * 7 + [True]
    assert [a["number"] for a in attempts(app, request_id)] == [1, 2]


@pytest.fixture
def statements():
    """Every SQL text the status writer (dashboard.lifecycle) executes while the test runs."""
    from dashboard import lifecycle
    with lifecycle.recording() as seen:
        yield seen


def test_retry_failed_honours_the_filter_in_one_statement(app, stack, api, statements):
    """retry-failed retries only the filter's failures, in one UPDATE, and says how many."""
    plain = [submit(api, FAIL) for _ in range(2)]
    flaky = submit(api, FAIL, job_type="simulate_flaky")
    ok = submit(api, QUICK)
    timed_out = submit(api, {"hang": True, "timeout_seconds": 1})
    for request_id in [*plain, flaky, ok, timed_out]:
        wait_status(app, request_id, TERMINAL, timeout=60)
    del statements[:]
    response = api.post("/api/requests/retry-failed", data={"job_type": "simulate"})
    assert response.status_code == 200 and response.get_json() == {"retried": 2}
    assert len(statements) == 1, statements
    assert statements[0].count("UPDATE requests") == 1, statements
    for request_id in plain:
        assert fetch(app, request_id)["attempt"] == 2
        assert attempts(app, request_id)[1]["triggered_by"] == "api-operator"
    assert [fetch(app, i)["attempt"] for i in (flaky, ok, timed_out)] == [1, 1, 1]
    assert [fetch(app, i)["status"] for i in (flaky, ok, timed_out)] == [
        "failure", "success", "timeout"]
    [entry] = audit_rows(app, "retry_failed")
    assert entry["outcome"] == "retried 2"
    # The entry keeps the filter as the operator gave it: values, not SQL.
    assert {k: v for k, v in entry["detail"].items() if k not in ("http", "via")} == {
        "job_type": "simulate"}
    for request_id in plain:
        wait_for(lambda: fetch(app, request_id)["status"] == "failure", 60, what="re-failure")
    nothing = api.post("/api/requests/retry-failed?job_type=simulate&q=nobody")
    assert nothing.get_json() == {"retried": 0}
    everything = api.post("/api/requests/retry-failed")
    assert everything.get_json() == {"retried": 3}
    assert api.post("/api/requests/retry-failed?job_type=bogus").status_code == 422


def test_page_retry_all_failed_keeps_the_filter(app, stack, api, make_user):
    """The list's "Retry all failed" posts the current filter and says how many it retried."""
    user, password, _ = make_user("operator")
    session = Browserless(app, user, password)
    plain, flaky = submit(api, FAIL), submit(api, FAIL, job_type="simulate_flaky")
    for request_id in (plain, flaky):
        wait_status(app, request_id, "failure", timeout=60)
    page = session.get("/?job_type=simulate_flaky").get_data(as_text=True)
    assert 'data-action="retry-failed"' in page and 'name="job_type" value="simulate_flaky"' in page
    response = session.action("/requests/retry-failed", htmx=False, job_type="simulate_flaky")
    assert response.status_code in (302, 303)
    shown = session.get(response.headers["Location"]).get_data(as_text=True)
    assert "Retried 1 failed request." in shown
    assert (fetch(app, plain)["attempt"], fetch(app, flaky)["attempt"]) == (1, 2)


def test_auto_retry_requeues_flaky_failures_with_backoff(app, stack, api):
    """dashboard.auto_retry re-queues `simulate_flaky` failures as `auto` attempts, up to 3."""
    from dashboard import tasks
    flaky = submit(api, FAIL, job_type="simulate_flaky")
    plain = submit(api, FAIL)
    stack.stop_dispatcher()
    killed = submit(api, QUICK, job_type="simulate_flaky")
    assert api.post(f"/api/requests/{killed}/kill").status_code == 202
    stack.start_dispatcher()
    wait_status(app, flaky, "failure", timeout=60)
    wait_status(app, plain, "failure", timeout=60)

    def third_attempt_failed():
        tasks.auto_retry()
        row = fetch(app, flaky)
        return row["attempt"] == 3 and row["status"] == "failure"
    wait_for(third_attempt_failed, 90, interval=0.1, what="attempt 3 failed")
    assert tasks.auto_retry() == 0
    found = attempts(app, flaky)
    assert [(a["number"], a["triggered_by"], a["status"]) for a in found] == [
        (1, "api-operator", "failure"), (2, "auto", "failure"), (3, "auto", "failure")]
    # Backoff: 2 s after the first failure, then 4 s.
    assert (found[1]["queued_at"] - found[0]["finished_at"]).total_seconds() >= 2
    assert (found[2]["queued_at"] - found[1]["finished_at"]).total_seconds() >= 4
    assert fetch(app, plain)["attempt"] == 1  # simulate has no retry policy
    assert fetch(app, killed)["status"] == "killed" and fetch(app, killed)["attempt"] == 1


def test_beat_runs_auto_retry(app, stack, api):
    """A real beat process schedules dashboard.auto_retry; a worker runs it; attempt 2 is `auto`."""
    flaky = submit(api, FAIL, job_type="simulate_flaky")
    wait_status(app, flaky, "failure", timeout=60)
    beat = Proc("beat", [os.path.join(BIN, "celery"), "-A", "worker", "beat", "--loglevel", "INFO",
                         "-s", os.path.join(RUN_DIR, "beat-schedule"),
                         "--pidfile", os.path.join(RUN_DIR, "beat.pid")]).start()
    try:
        wait_for(lambda: len(attempts(app, flaky)) >= 2, 60, interval=0.2, what="auto attempt")
    finally:
        beat.stop()
    assert attempts(app, flaky)[1]["triggered_by"] == "auto"
    assert wait_status(app, flaky, "failure", timeout=60)["attempt"] >= 2


def test_request_page_shows_every_attempt(app, stack, api, make_user):
    """The attempts table: number, trigger, Flower task and worker links, times, duration,
    error and traceback (escaped, collapsed)."""
    from urllib.parse import unquote

    from tests.support.db import sql
    from tests.support.html import parse_table
    user, password, token = make_user("operator", username="dave")
    request_id = submit(api, FAIL)
    wait_status(app, request_id, "failure", timeout=60)
    assert retry(TokenClient(app, token), request_id)[0] == 202
    wait_for(lambda: fetch(app, request_id)["attempt"] == 2
             and fetch(app, request_id)["status"] == "failure", 60, what="attempt 2 failed")
    hostile = "<script>alert('x')</script> & <b>bold</b>"
    sql(app, "UPDATE attempts SET error = error || :h, traceback = traceback || :h"
        " WHERE request_id = :id AND number = 1", h=hostile, id=request_id)
    stored = {a["number"]: a for a in attempts(app, request_id)}

    html = Browserless(app, user, password).get(f"/requests/{request_id}").get_data(as_text=True)
    rows = parse_table(html, "attempts")
    assert [r["attrs"]["data-attempt"] for r in rows] == ["2", "1"]
    for row in rows:
        a = stored[int(row["attrs"]["data-attempt"])]
        cells = row["cells"]
        assert len(cells) == 10
        assert cells[0]["text"].strip() == str(a["number"])
        assert cells[1]["text"].strip() == "failure"
        assert cells[2]["text"].strip() == a["triggered_by"]
        assert cells[3]["links"] == [f"/flower/task/{a['task_id']}"]
        [worker_link] = cells[4]["links"]
        assert unquote(worker_link) == f"/flower/worker/{a['worker']}"
        assert cells[4]["text"].strip() == a["worker"]
        for i in (5, 6, 7):
            assert "time" in cells[i]["tags"], cells[i]
        expected = (a["finished_at"] - a["started_at"]).total_seconds()
        shown = float(re.fullmatch(r"\s*([0-9.]+) s\s*", cells[8]["text"]).group(1))
        assert abs(shown - expected) < 0.01
        assert a["error"] in cells[9]["text"]
        assert cells[9]["details"] and not cells[9]["open"]
        assert cells[9]["pre"] == a["traceback"]
        assert "script" not in cells[9]["tags"] and "b" not in cells[9]["tags"]
    assert [r["cells"][2]["text"].strip() for r in rows] == ["dave", "api-operator"]
    assert stored[1]["traceback"].endswith(hostile)
    assert "&lt;script&gt;alert(" in html
