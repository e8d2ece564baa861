"""A worker host across a real network boundary: `make worker-host` in a namespace of its own.

Everything a user does with workers on the dashboard's machine works the same
for workers on another host: requests and batches, a volume read from PostgreSQL,
log lines while it runs, kill, pause/resume/grow/shrink/restart, `why`, the workers
page. A host cut off mid-request (its cable pulled) loses nothing.
"""
import json

from dashboard.workers import inspection
from tests.support.chaos import in_batches
from tests.support.db import attempts, fetch, wait_status
from tests.support.html import parse_table
from tests.support.http import Browserless, TokenClient, all_lines, submit
from tests.support.procs import ExitWatch, active_task, wait_for, wait_online
from tests.support.volume_samples import npy_bytes

from .conftest import WORKERS

QUICK = {"min_seconds": 0, "max_seconds": 0}


def on_hosta(row):
    return row["worker"] in WORKERS


def pool_size(celery_app, name):
    stats = celery_app.control.inspect([name], timeout=1.0).stats() or {}
    return len(stats.get(name, {}).get("pool", {}).get("processes", []))


def test_requests_and_a_batch_run_on_the_host(app, on_host, api, _stack):
    """Six short requests (waiting for the dispatcher, then claimed together: batch messages)
    and one long one end success on the host's workers."""
    _stack.stop_dispatcher()
    ids = [submit(api, QUICK) for _ in range(6)] + [submit(api, {"min_seconds": 1,
                                                                  "max_seconds": 1})]
    _stack.start_dispatcher()
    rows = [wait_status(app, i, ("success", "failure"), timeout=60) for i in ids]
    assert [r["status"] for r in rows] == ["success"] * 7
    assert all(on_hosta(r) for r in rows), [r["worker"] for r in rows]
    assert in_batches(app, ids[:6]) >= 2


def test_the_workers_page_shows_the_host(app, on_host, make_user):
    username, password, _ = make_user("viewer")
    viewer = Browserless(app, username, password)
    inspection.clear_worker_cache()
    html = viewer.get("/workers").get_data(as_text=True)
    rows = {r["attrs"]["data-worker"]: r["cells"] for r in parse_table(html, "workers")
            if "data-worker" in r["attrs"]}
    for name in WORKERS:
        assert rows[name][1]["text"].strip() == "hosta"
    listed = {w["name"]: w for w in viewer.get("/api/workers").get_json()}
    assert {listed[n]["host"] for n in WORKERS} == {"hosta"}


def test_a_volume_loads_from_postgresql(app, on_host, api):
    """The upload lives in PostgreSQL: the host reads it from there (it has no var/uploads)."""
    response = api.post("/api/requests", content_type="multipart/form-data", data={
        "job_type": "load_array", "params": json.dumps({}),
        "file": (__import__("io").BytesIO(npy_bytes()), "volume.npy")})
    assert response.status_code == 201, response.get_json()
    row = wait_status(app, response.get_json()["id"], ("success", "failure"), timeout=90)
    assert row["status"] == "success", row["error"]
    assert on_hosta(row)
    volume = api.get(f"/api/requests/{row['id']}/volume")
    assert volume.status_code == 200 and volume.get_json()["shape"]


def test_log_lines_arrive_while_it_runs(app, on_host, api):
    request_id = submit(api, {"min_seconds": 4, "max_seconds": 4, "log_lines": 5})
    row = wait_status(app, request_id, "running", timeout=30)
    assert on_hosta(row)
    lines = wait_for(lambda: len(all_lines(api, request_id)) >= 5 and all_lines(api, request_id),
                     10, interval=0.2, what="log lines while running")
    assert fetch(app, request_id)["status"] == "running"
    assert any("hosta" in json.dumps(line) for line in lines)
    assert wait_status(app, request_id, "success", timeout=30)


def test_kill_ends_a_running_job_on_the_host(app, on_host, api, celery_app):
    request_id = submit(api, {"hang": True})
    row = wait_status(app, request_id, "running", timeout=30)
    assert on_hosta(row)
    pid = active_task(celery_app, row["worker"], row["task_id"])["worker_pid"]
    watch = ExitWatch(pid)  # the host shares no pid namespace: its pool process is visible
    try:
        response = api.post(f"/api/requests/{request_id}/kill")
        assert response.status_code in (200, 202), response.get_json()
        assert watch.wait(15) is not None
    finally:
        watch.close()
    assert wait_status(app, request_id, "killed", timeout=10)
    assert [a["status"] for a in attempts(app, request_id)] == ["killed"]


def test_worker_actions_reach_the_host(app, ctx, on_host, make_user, celery_app):
    """pause, resume, grow, shrink and restart act on worker2@hosta."""
    admin = TokenClient(app, make_user("admin")[2])
    name = "worker2@hosta"
    assert admin.post(f"/api/workers/{name}/pause").status_code == 202
    wait_for(lambda: inspection.worker(name)["state"] == "paused", 15, what="paused")
    assert admin.post(f"/api/workers/{name}/resume").status_code == 202
    wait_for(lambda: inspection.worker(name)["state"] == "online", 15, what="online")
    assert admin.post(f"/api/workers/{name}/grow", json={"n": 1}).status_code == 202
    wait_for(lambda: pool_size(celery_app, name) == 3, 20, interval=0.5, what="3 processes")
    assert admin.post(f"/api/workers/{name}/shrink", json={"n": 1}).status_code == 202
    wait_for(lambda: pool_size(celery_app, name) == 2, 20, interval=0.5, what="2 processes")
    before = inspection.worker(name)["pid"]
    answer = admin.post(f"/api/workers/{name}/restart")
    assert answer.status_code == 202, answer.get_json()
    wait_for(lambda: (inspection.worker(name) or {}).get("pid") not in (None, before), 60,
             interval=0.5, what="worker2@hosta back with a new pid")
    wait_online(celery_app, [name], timeout=30)


def test_why_counts_the_hosts_consumers(app, ctx, on_host, api, _stack):
    """With the dispatcher stopped a request waits; `why` sees the host's two consumers."""
    _stack.stop_dispatcher()
    request_id = submit(api, QUICK)
    inspection.clear_worker_cache()
    answer = api.get(f"/api/requests/{request_id}/why").get_json()
    assert answer["queue"]["consumers"] == 2, answer
    assert "no_consumers" not in [r["code"] for r in answer["reasons"]]
    _stack.start_dispatcher()
    assert wait_status(app, request_id, "success", timeout=30)


def wrong(url, password=None, port=None):
    """`url` with another password or port."""
    from urllib.parse import urlsplit
    parts = urlsplit(url)
    user, _, rest = parts.netloc.partition(":")
    secret, _, where = rest.rpartition("@")
    host = where.rsplit(":", 1)[0]
    netloc = f"{user}:{password or secret}@{host}:{port or parts.port}"
    return parts._replace(netloc=netloc).geturl()


def test_a_wrong_password_or_no_broker_is_one_line_and_a_failed_exit(on_host):
    """On the host, beside its running workers: bad settings stop `make worker-host` before
    anything starts, with one line naming the server (the environment wins over .env)."""
    with open(f"{on_host.checkout}/.env") as fh:
        settings = dict(line.strip().split("=", 1) for line in fh if "=" in line)
    database, broker = (settings[k].strip("'") for k in ("DATABASE_URL", "CELERY_BROKER_URL"))
    cases = {"bad-pg": ({"DATABASE_URL": wrong(database, password="nope")},
                        "password authentication failed"),
             "bad-amqp": ({"CELERY_BROKER_URL": wrong(broker, password="nope")},
                          "user or password refused"),
             "no-broker": ({"CELERY_BROKER_URL": wrong(broker, port=1)}, "Connection refused")}
    for name, (env, reason) in cases.items():
        status, output = on_host.run("make --no-print-directory worker-host",
                                     {**on_host.env, **env}, timeout=60)
        lines = [line for line in output.splitlines() if line.startswith("worker-host:")]
        assert status != 0 and len(lines) == 1 and reason in lines[0], (name, output)
        assert "nope" not in output
