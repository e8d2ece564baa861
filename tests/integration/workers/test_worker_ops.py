"""Worker actions through the API on real prefork workers: grow/shrink, pause/resume, refusals.

What Celery's own inspection reports is the truth the tests compare with.
"""
import threading
import time

import pytest

from tests.support.db import attempts, audit_rows, fetch, wait_status
from tests.support.http import submit, TokenClient
from tests.support.procs import wait_for
from dashboard.workers import inspection

QUICK = {"min_seconds": 0, "max_seconds": 0}


@pytest.fixture
def resumed(app, celery_app):
    """Whatever a test paused, every worker consumes the requests queue again afterwards."""
    yield
    celery_app.control.add_consumer("requests", reply=True, timeout=1)
    inspection.clear_worker_cache()


@pytest.fixture
def admin(app, make_user):
    return TokenClient(app, make_user("admin")[2])


@pytest.fixture
def viewer(app, make_user):
    return TokenClient(app, make_user("viewer")[2])


def seen(app, name):
    """The dashboard's view of one worker, inspected now."""
    with app.app_context():
        return inspection.worker(name)


def celery_pool_size(celery_app, name):
    """Pool processes as the worker's own stats list them."""
    stats = celery_app.control.inspect([name], timeout=1.0).stats() or {}
    return len(stats[name]["pool"]["processes"])


def celery_queues(celery_app, name):
    replies = celery_app.control.inspect([name], timeout=1.0).active_queues() or {}
    return [q["name"] for q in replies.get(name, [])]


def test_grow_from_two_to_three_and_back(app, stack, api, celery_app, fresh):
    """grow {"n": 1} makes 3 pool processes, shrink makes 2 again; Celery's stats agree."""
    assert celery_pool_size(celery_app, "worker1@test") == 2
    grown = api.post("/api/workers/worker1@test/grow", json={"n": 1})
    assert grown.status_code == 202, grown.get_json()
    assert grown.get_json()["name"] == "worker1@test" and grown.get_json()["pool_target"] == 3
    wait_for(lambda: celery_pool_size(celery_app, "worker1@test") == 3, 20, interval=0.5,
             what="3 processes")
    assert seen(app, "worker1@test")["concurrency"] == 3
    shrunk = api.post("/api/workers/worker1@test/shrink", json={"n": 1})
    assert shrunk.status_code == 202, shrunk.get_json()
    assert shrunk.get_json()["pool_target"] == 2
    wait_for(lambda: celery_pool_size(celery_app, "worker1@test") == 2, 20, interval=0.5,
             what="2 processes")
    assert api.get("/api/workers").status_code == 200
    ok = [(r["action"], r["outcome"], r["detail"]["n"]) for r in audit_rows(app, "worker_grow")
          + audit_rows(app, "worker_shrink")]
    assert ok == [("worker_grow", "ok", 1), ("worker_shrink", "ok", 1)]


def test_shrink_never_below_one_and_bad_n(app, stack, api, celery_app, fresh):
    """Shrinking 2 by 2 is 409 with the reason; n must be 1..64; nothing changes."""
    too_far = api.post("/api/workers/worker1@test/shrink", json={"n": 2})
    assert too_far.status_code == 409
    assert "at least 1" in too_far.get_json()["error"]
    for bad in (0, -1, "two", 65, True):
        answer = api.post("/api/workers/worker1@test/grow", json={"n": bad})
        assert answer.status_code == 422 and answer.get_json()["error"].startswith("n:"), bad
    assert celery_pool_size(celery_app, "worker1@test") == 2
    refused = audit_rows(app, "worker_shrink")
    assert [(r["outcome"], r["detail"]["n"]) for r in refused] == [("refused", 2)]
    assert "at least 1" in refused[0]["detail"]["reason"]


def test_pause_resume_one_worker_and_what_makes_no_sense(app, stack, api, celery_app, fresh,
                                                        resumed):
    """Pause stops consuming (Celery says so); pausing again or resuming a busy one is 409."""
    paused = api.post("/api/workers/worker1@test/pause")
    assert paused.status_code == 202, paused.get_json()
    assert paused.get_json()["state"] == "paused"
    assert celery_queues(celery_app, "worker1@test") == []
    assert celery_queues(celery_app, "worker2@test") == ["requests"]
    again = api.post("/api/workers/worker1@test/pause")
    assert again.status_code == 409 and "already paused" in again.get_json()["error"]
    not_paused = api.post("/api/workers/worker2@test/resume")
    assert not_paused.status_code == 409 and "not paused" in not_paused.get_json()["error"]
    request_id = submit(api, QUICK)  # the other worker still takes work
    assert wait_status(app, request_id, "success", timeout=60)["worker"] == "worker2@test"
    back = api.post("/api/workers/worker1@test/resume")
    assert back.status_code == 202 and back.get_json()["state"] == "online"
    assert celery_queues(celery_app, "worker1@test") == ["requests"]
    outcomes = [(r["action"], r["outcome"]) for r in audit_rows(app, "worker_pause")
                + audit_rows(app, "worker_resume")]
    assert outcomes == [("worker_pause", "ok"), ("worker_pause", "refused"),
                        ("worker_resume", "refused"), ("worker_resume", "ok")]


def test_unknown_worker_or_action_and_roles(app, stack, api, viewer, fresh):
    """404 for an unknown worker or action; viewer 403; operator 403 on restart and shutdown."""
    unknown = api.post("/api/workers/nobody@nowhere/pause")
    assert unknown.status_code == 404 and "nobody@nowhere" in unknown.get_json()["error"]
    assert api.post("/api/workers/worker1@test/explode").status_code == 404
    assert viewer.post("/api/workers/worker1@test/pause").status_code == 403
    assert viewer.post("/api/workers/pause-all").status_code == 403
    for action in ("restart", "shutdown"):
        refused = api.post(f"/api/workers/worker1@test/{action}")
        assert refused.status_code == 403 and "admin" in refused.get_json()["error"]
    assert [r["outcome"] for r in audit_rows(app, "worker_restart")] == ["forbidden"]
    assert [r["outcome"] for r in audit_rows(app, "worker_shutdown")] == ["forbidden"]
    assert [r["outcome"] for r in audit_rows(app, "worker_pause")] == ["refused"]  # unknown


def test_restart_without_a_supervisor_is_refused(app, stack, admin, fresh):
    """These workers run under no supervisor: a restart would only stop them, so 409."""
    answer = admin.post("/api/workers/worker1@test/restart")
    assert answer.status_code == 409
    assert "without a process supervisor" in answer.get_json()["error"]
    assert seen(app, "worker1@test")["state"] == "online"


def test_two_operators_pause_at_once(app, stack, make_user, celery_app, fresh, resumed):
    """Eight simultaneous pause clicks: one 202, the rest 409 'already paused', no 5xx."""
    tokens = [make_user("operator")[2] for _ in range(2)]
    results, barrier = [], threading.Barrier(8)

    def click(n):
        client = TokenClient(app, tokens[n % 2])
        barrier.wait()
        results.append(client.post("/api/workers/worker2@test/pause").status_code)
    threads = [threading.Thread(target=click, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(results) == [202] + [409] * 7
    assert celery_queues(celery_app, "worker2@test") == []
    outcomes = sorted(r["outcome"] for r in audit_rows(app, "worker_pause"))
    assert outcomes == ["ok"] + ["refused"] * 7


def test_pause_everything_then_resume(app, stack, api, celery_app, fresh, resumed):
    """Paused: requests are accepted, wait as pending, `why` says so; resumed: all succeed once."""
    answer = api.post("/api/workers/pause-all")
    assert answer.status_code == 202
    assert set(answer.get_json()["workers"]) >= {"worker1@test", "worker2@test"}
    ids = [submit(api, QUICK) for _ in range(5)]
    for request_id in ids:
        wait_status(app, request_id, "pending", timeout=30)
    time.sleep(3)
    assert {fetch(app, i)["status"] for i in ids} == {"pending"}, "a paused worker took one"
    why = api.get(f"/api/requests/{ids[-1]}/why").get_json()
    codes = [r["code"] for r in why["reasons"]]
    assert "workers_paused" in codes or "no_consumers" in codes, why
    assert why["queue"] == {"name": "requests", "messages": 5, "consumers": 0}
    assert "backlog" in codes and next(r for r in why["reasons"] if r["code"] == "backlog")[
        "ahead"] == 4
    assert [w["state"] for w in api.get("/api/workers").get_json()
            if w["name"].endswith("@test") and w["online"]] == ["paused", "paused"]
    resumed_answer = api.post("/api/workers/resume-all")
    assert resumed_answer.status_code == 202
    for request_id in ids:
        wait_status(app, request_id, "success", timeout=60)
        assert [a["number"] for a in attempts(app, request_id)] == [1]
    assert [r["outcome"] for r in audit_rows(app, "workers_pause_all")] == ["ok"]
    assert [r["outcome"] for r in audit_rows(app, "workers_resume_all")] == ["ok"]


def test_a_burst_of_clicks_on_one_worker_answers_at_once(app, stack, make_user, celery_app,
                                                         fresh, resumed):
    """Sixteen simultaneous pause clicks: one pauses, the others answer 409 within ~2 s (another
    action is in progress, or it is already paused) instead of queueing behind it."""
    token = make_user("operator")[2]
    results, barrier = [], threading.Barrier(16)

    def click():
        client = TokenClient(app, token)
        barrier.wait()
        started = time.monotonic()
        answer = client.post("/api/workers/worker2@test/pause")
        results.append((answer.status_code, time.monotonic() - started,
                        (answer.get_json() or {}).get("error")))
    threads = [threading.Thread(target=click) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(status for status, _, _ in results) == [202] + [409] * 15
    refusals = [(seconds, error) for status, seconds, error in results if status == 409]
    assert max(seconds for seconds, _ in refusals) < 2.0, sorted(refusals)
    assert any("another action on worker worker2@test is in progress" in error
               for _, error in refusals), refusals
    assert celery_queues(celery_app, "worker2@test") == []
    assert sorted(r["outcome"] for r in audit_rows(app, "worker_pause")) == \
        ["ok"] + ["refused"] * 15


def test_a_worker_name_with_control_characters_is_not_found(app, stack, api, make_user, fresh):
    """NUL, a line break or an escape in the name: 404 with the reason, on the API and the
    page's action; no 500, and the refusal is audited."""
    from tests.support.http import Browserless
    username, password, _ = make_user("operator")
    page = Browserless(app, username, password)
    for name in ("worker1%00@test", "worker1@test%00", "work%0Aer1@test", "w%1B[31m@test"):
        answer = api.post(f"/api/workers/{name}/pause")
        assert answer.status_code == 404, (name, answer.status_code)
        assert "control characters" in answer.get_json()["error"], name
        form = page.action(f"/workers/{name}/grow", n="1")
        assert form.status_code == 404, (name, form.status_code)
        assert "control characters" in form.get_data(as_text=True), name
    assert [r["outcome"] for r in audit_rows(app, "worker_pause")] == ["refused"] * 4
