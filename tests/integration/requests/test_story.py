"""A request's whole story with real workers: the timeline, live logs,
re-run with changed parameters, bulk retry and kill."""
import json
import threading

from tests.support.db import attempts, audit_rows, counts, fetch, wait_status
from tests.support.http import all_lines, logs, submit
from tests.support.procs import ExitWatch, kill_pool_process, pool_pid, wait_for

HANG = {"hang": True}
QUICK = {"min_seconds": 0, "max_seconds": 0}
TERMINAL = ("success", "failure", "timeout", "killed")


def timeline(api, request_id):
    response = api.get(f"/api/requests/{request_id}/timeline")
    assert response.status_code == 200, response.get_json()
    return response.get_json()["items"]


def kinds(items, skip=("audit", "progress", "claimed", "notified")):
    return [(i["kind"], i["attempt"]) for i in items if i["kind"] not in skip]


def test_retried_and_killed_timeline_names_the_operator_in_order(app, stack, api):
    """submitted, started, killed (by the operator), retried, started, killed; times in order."""
    request_id = submit(api, HANG)
    wait_status(app, request_id, "running", timeout=60)
    assert api.post(f"/api/requests/{request_id}/kill").status_code == 202
    assert api.post(f"/api/requests/{request_id}/retry").status_code == 202
    wait_status(app, request_id, "running", timeout=60)
    assert api.post(f"/api/requests/{request_id}/kill").status_code == 202
    items = timeline(api, request_id)
    assert kinds(items) == [("submitted", 1), ("started", 1), ("killed", 1), ("retried", 2),
                            ("started", 2), ("killed", 2)]
    assert [i["at"] for i in items] == sorted(i["at"] for i in items)
    by_kind = {(i["kind"], i["attempt"]): i for i in items}
    assert by_kind[("submitted", 1)]["by"] == "api-operator"
    assert by_kind[("submitted", 1)]["address"] == "127.0.0.1"
    assert by_kind[("killed", 1)]["by"] == "api-operator"
    assert by_kind[("killed", 1)]["detail"].startswith("killed by api-operator after running")
    assert by_kind[("retried", 2)]["by"] == "api-operator"
    started = by_kind[("started", 2)]
    assert started["worker"].endswith("@test") and isinstance(started["pid"], int)
    assert "waited" in started["detail"] and "in the queue" in started["detail"]
    assert ("claimed", 1) in kinds(items, skip=())
    assert api.get("/api/requests/424242/timeline").status_code == 404


def test_finished_step_has_status_duration_and_error(app, stack, api):
    request_id = submit(api, {"min_seconds": 0.3, "max_seconds": 0.3, "fail_rate": 1})
    wait_status(app, request_id, "failure", timeout=60)
    [finished] = [i for i in timeline(api, request_id) if i["kind"] == "finished"]
    assert finished["status"] == "failure" and finished["seconds"] >= 0.3
    assert "SimulatedFailure" in finished["error"] and finished["detail"].startswith(
        "finished: failure, ran ")


def test_worker_sigkilled_mid_attempt_shows_redelivered(app, stack, api, celery_app):
    request_id = submit(api, {"min_seconds": 4, "max_seconds": 4})
    first = wait_status(app, request_id, "running", timeout=60)
    pid = kill_pool_process(celery_app, first)
    assert wait_status(app, request_id, TERMINAL, timeout=90)["status"] == "success"
    items = timeline(api, request_id)
    assert kinds(items) == [("submitted", 1), ("started", 1), ("redelivered", 1),
                            ("finished", 1)]
    redelivered = next(i for i in items if i["kind"] == "redelivered")
    assert redelivered["pid"] != pid and "redelivered" in redelivered["detail"]


def test_log_lines_appear_while_the_job_runs(app, stack, api):
    """The job's logging and ctx.log lines come through the API while it is still running."""
    request_id = submit(api, {"min_seconds": 6, "max_seconds": 6})
    wait_status(app, request_id, "running", timeout=60)
    seen = wait_for(lambda: [line for line in all_lines(api, request_id)
                             if "slept 2 s of" in line["message"]], 10, interval=0.2,
                    what="'slept 2 s' in the log")
    assert fetch(app, request_id)["status"] == "running"
    assert seen[0]["level"] == "INFO" and seen[0]["attempt"] == 1
    row = wait_status(app, request_id, "success", timeout=30)
    lines = all_lines(api, request_id)
    messages = [line["message"] for line in lines]
    assert messages[0].startswith("started: running on ") and row["worker"] in messages[0]
    assert any(m.startswith("sleeping 6.00 s") for m in messages)  # ctx.log
    assert any("dashboard.jobs.simulate: slept 5 s of 6.00" in m for m in messages)  # logging
    assert messages[-1] == "done after 6.00 s"
    page = logs(api, request_id, after=0, limit=2)
    assert page["items"] == lines[:2]
    assert logs(api, request_id, after=page["next"], limit=1)["items"][0] == lines[2]
    assert logs(api, request_id, level="WARNING")["items"] == []
    assert logs(api, request_id, attempt=2)["items"] == []
    assert api.get(f"/api/requests/{request_id}/logs?level=LOUD").status_code == 422


def test_log_lines_stop_at_the_cap_with_one_truncated_line(app, stack, api):
    request_id = submit(api, {**QUICK, "log_lines": 10050})
    wait_status(app, request_id, "success", timeout=90)
    lines = all_lines(api, request_id)
    jobs_lines = [line for line in lines if line["message"].startswith(
        ("dashboard.jobs", "sleeping", "done"))]
    assert len(jobs_lines) == 10000
    truncated = [line for line in lines if line["message"].startswith("truncated")]
    assert len(truncated) == 1 and truncated[0]["level"] == "WARNING"
    assert "more than 10000 lines" in truncated[0]["message"]
    assert lines[-1] == truncated[0]
    assert jobs_lines[-1]["message"].endswith("extra line 10000 of 10050")


def test_a_killed_attempt_keeps_its_lines(app, stack, api):
    request_id = submit(api, HANG)
    wait_status(app, request_id, "running", timeout=60)
    wait_for(lambda: any("still hanging after 2 s" in line["message"]
                         for line in all_lines(api, request_id)), 15, interval=0.2,
             what="'still hanging after 2 s'")
    assert api.post(f"/api/requests/{request_id}/kill").status_code == 202
    messages = [line["message"] for line in all_lines(api, request_id)]
    assert "hanging until killed or timed out" in messages
    assert any("still hanging after 2 s" in m for m in messages)


def test_rerun_links_both_ways_and_refuses_bad_params(app, stack, api):
    parent = submit(api, {"min_seconds": 0, "max_seconds": 0.1})
    wait_status(app, parent, "success", timeout=60)
    before = counts(app)
    bad = api.post(f"/api/requests/{parent}/rerun", json={"params": {"min_seconds": "soon"}})
    assert bad.status_code == 422 and bad.get_json()["error"].startswith("params.min_seconds")
    unknown = api.post(f"/api/requests/{parent}/rerun", json={"params": {"speed": 1}})
    assert unknown.status_code == 422 and "params.speed" in unknown.get_json()["error"]
    assert counts(app) == before
    response = api.post(f"/api/requests/{parent}/rerun",
                        json={"params": {"min_seconds": 0.2, "max_seconds": 0.2}})
    assert response.status_code == 201, response.get_json()
    child = response.get_json()
    assert child["parent_id"] == parent and child["params"]["min_seconds"] == 0.2
    assert response.headers["Location"].endswith(f"/api/requests/{child['id']}")
    wait_status(app, child["id"], "success", timeout=60)
    assert api.get(f"/api/requests/{parent}").get_json()["parent_id"] is None
    [rerun] = [i for i in timeline(api, parent) if i["kind"] == "rerun"]
    assert rerun["child_id"] == child["id"] and rerun["by"] == "api-operator"
    [submitted] = [i for i in timeline(api, child["id"]) if i["kind"] == "submitted"]
    assert submitted["parent_id"] == parent and f"re-run of #{parent}" in submitted["detail"]
    [entry] = audit_rows(app, "rerun", parent)
    assert entry["detail"]["child"] == child["id"]
    assert entry["detail"]["changed"] == ["max_seconds", "min_seconds"]
    running = submit(api, HANG)
    assert api.post(f"/api/requests/{running}/rerun", json={}).status_code == 409
    assert api.post("/api/requests/424242/rerun", json={}).status_code == 404


def test_rerun_reuses_the_file_or_takes_a_new_one(app, stack, api):
    import io
    import numpy as np
    vol = np.arange(24, dtype="<f4").reshape(2, 3, 4)
    parent = api.post("/api/requests", data={
        "job_type": "load_array", "params": json.dumps({"shape": [4, 3, 2]}),
        "file": (io.BytesIO(vol.tobytes()), "vol.raw")}).get_json()["id"]
    wait_status(app, parent, "success", timeout=60)
    reused = api.post(f"/api/requests/{parent}/rerun", data={"params": ""})
    assert reused.status_code == 201, reused.get_json()
    assert reused.get_json()["filename"] == "vol.raw"
    assert fetch(app, reused.get_json()["id"])["upload_id"] == fetch(app, parent)["upload_id"]
    wrong = api.post(f"/api/requests/{parent}/rerun", data={
        "params": json.dumps({"shape": [4, 3, 2]}), "file": (io.BytesIO(b"x" * 7), "bad.raw")})
    assert wrong.status_code == 422 and wrong.get_json()["error"].startswith("file")
    assert wait_status(app, reused.get_json()["id"], TERMINAL, 60)["status"] == "success"


def test_bulk_retry_three_failed_one_succeeded_one_unknown(app, stack, api):
    failed = [submit(api, {**QUICK, "fail_rate": 1}) for _ in range(3)]
    ok = submit(api, QUICK)
    for request_id in failed:
        wait_status(app, request_id, "failure", timeout=60)
    wait_status(app, ok, "success", timeout=60)
    from dashboard import lifecycle
    with lifecycle.recording() as ran:
        response = api.post("/api/requests/bulk",
                            json={"action": "retry", "ids": failed + [ok, 999999]})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["done"] == sorted(failed)
    assert {r["id"]: r["reason"] for r in body["refused"]} == {
        ok: "is success: only failure, timeout, killed requests can be retried",
        999999: "not found"}
    assert ran == [lifecycle.RETRY_MANY_SQL]
    for request_id in failed:
        assert [a["number"] for a in attempts(app, request_id)] == [1, 2]
    assert [a["number"] for a in attempts(app, ok)] == [1]
    [entry] = audit_rows(app, "bulk_retry")
    assert entry["detail"]["ids"] == failed + [ok, 999999]
    [told] = [i for i in timeline(api, ok) if i["kind"] == "audit"]
    assert (told["action"], told["outcome"], told["by"]) == (
        "bulk_retry", "3 done, 2 refused", "api-operator")
    assert entry["detail"]["done"] == sorted(failed) and entry["username"] == "api-operator"
    assert api.post("/api/requests/bulk", json={"action": "explode", "ids": [1]}).status_code \
        == 422
    assert api.post("/api/requests/bulk",
                    json={"action": "kill", "ids": list(range(1, 1002))}).status_code == 413
    assert api.post("/api/requests/bulk", json={"action": "kill", "ids": ["x"]}).status_code \
        == 422


def test_racing_bulk_kills_make_one_kill_each(app, stack, api):
    stack.stop_dispatcher()
    ids = [submit(api, QUICK) for _ in range(40)]
    bodies, barrier = [], threading.Barrier(2)

    def kill_all(order):
        with app.test_client() as client:
            barrier.wait()
            bodies.append(client.post("/api/requests/bulk", json={"action": "kill", "ids": order},
                                      headers=api.headers).get_json())
    threads = [threading.Thread(target=kill_all, args=(order,)) for order in
               (ids, list(reversed(ids)))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(bodies) == 2
    done = bodies[0]["done"] + bodies[1]["done"]
    assert sorted(done) == sorted(ids)  # each id killed exactly once
    assert len(bodies[0]["refused"]) + len(bodies[1]["refused"]) == len(ids)
    assert all(r["reason"].startswith("is killed") for b in bodies for r in b["refused"])
    assert {a["status"] for i in ids for a in attempts(app, i)} == {"killed"}
    assert len([e for e in audit_rows(app, "bulk_kill")]) == 2


def test_a_timed_out_attempt_keeps_its_lines(app, stack, api):
    """The soft time limit ends the job through the writer's last flush: nothing is lost."""
    request_id = submit(api, {"hang": True, "timeout_seconds": 2.5})
    assert wait_status(app, request_id, TERMINAL, timeout=60)["status"] == "timeout"
    messages = [line["message"] for line in all_lines(api, request_id)]
    assert "hanging until killed or timed out" in messages
    assert any("still hanging after 1 s" in m for m in messages)
    [finished] = [i for i in timeline(api, request_id) if i["kind"] == "finished"]
    assert finished["status"] == "timeout"


def test_bulk_kill_of_running_requests_stops_their_processes(app, stack, api, celery_app):
    ids = [submit(api, HANG) for _ in range(2)]
    rows = [wait_status(app, i, "running", timeout=60) for i in ids]
    pids = [pool_pid(celery_app, row) for row in rows]
    watches = [ExitWatch(pid) for pid in pids]
    try:
        body = api.post("/api/requests/bulk", json={"action": "kill", "ids": ids}).get_json()
        assert body == {"done": sorted(ids), "refused": []}
        assert all(w.wait(10) is not None for w in watches), "a killed task's process lives on"
    finally:
        for w in watches:
            w.close()
    assert [fetch(app, i)["error"] for i in ids] == ["killed by api-operator"] * 2
