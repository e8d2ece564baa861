"""The workers page and GET /api/workers: online and gone workers, tasks, queue depth, no hangs."""
import os
import re
import signal
import time
from datetime import datetime, timedelta, timezone
from urllib.parse import quote

import pytest

from dashboard.workers import inspection
from tests.support.db import wait_status
from tests.support.html import parse_table
from tests.support.http import Browserless, submit
from tests.support.procs import wait_for, wait_online

QUICK = {"min_seconds": 0, "max_seconds": 0}
PAGE_BOUND_S = 1.5  # inspect waits 0.5 s; Celery's default (1 s per call, two calls) would not pass


@pytest.fixture
def viewer(app, make_user):
    """A signed-in viewer's session."""
    username, password, _ = make_user("viewer")
    return Browserless(app, username, password)


def by_name(api):
    """GET /api/workers as {name: entry}, after dropping the cache."""
    inspection.clear_worker_cache()
    response = api.get("/api/workers")
    assert response.status_code == 200
    return {w["name"]: w for w in response.get_json()}


def page_rows(session):
    """The /workers table as {name: (cells, row attrs)}, and the queue depth text."""
    inspection.clear_worker_cache()
    html = session.get("/workers").get_data(as_text=True)
    rows = {r["attrs"]["data-worker"]: r for r in parse_table(html, "workers")
            if "data-worker" in r["attrs"]}
    depth = re.search(r'<b id="queue-depth">([^<]*)</b>', html).group(1)
    return rows, depth


def test_api_lists_workers_with_tasks_concurrency_and_processed(app, stack, api, fresh):
    """Each worker: online, concurrency 2, processed count, its active task, its Flower link."""
    done = submit(api, QUICK)
    ran_on = wait_status(app, done, "success", timeout=60)["worker"]
    hang = submit(api, {"hang": True})
    row = wait_status(app, hang, "running", timeout=60)
    workers = by_name(api)
    for name in ("worker1@test", "worker2@test"):
        w = workers[name]
        assert w["online"] is True and w["concurrency"] == 2
        assert w["flower_url"] == f"/flower/worker/{quote(name, safe='')}"  # worker1%40test
        assert isinstance(w["processed"], int) and len(w["processes"]) == 2
    busy = workers[row["worker"]]
    assert [(t["request_id"], t["task_id"]) for t in busy["active"]] == [(hang, row["task_id"])]
    assert busy["active"][0]["started_at"] == row["started_at"].isoformat()
    assert busy["running_requests"] == [hang] and busy["state"] == "online"
    assert busy["queues"] == ["requests"] and busy["prefetch"] == 2
    assert busy["pid"] == stack.workers[row["worker"].split("@")[0]].pid
    idle = workers[({"worker1@test", "worker2@test"} - {row["worker"]}).pop()]
    assert idle["active"] == [] and idle["running_requests"] == []
    assert workers[ran_on]["processed"] >= 1


def test_page_shows_workers_flower_links_and_queue_depth(app, stack, api, viewer, fresh):
    """The /workers table: state, active, concurrency, processed, Flower link; depth is a number."""
    hang = submit(api, {"hang": True})
    row = wait_status(app, hang, "running", timeout=60)
    rows, depth = page_rows(viewer)
    assert depth == "0"
    for name in ("worker1@test", "worker2@test"):
        cells = rows[name]["cells"]
        assert rows[name]["attrs"]["data-online"] == "true"
        assert cells[0]["text"].strip() == name and cells[1]["text"].strip() == "test"
        assert cells[2]["text"].strip() == "online"
        assert cells[4]["text"].strip() == "2"
        assert cells[5]["text"].strip().isdigit()
        assert cells[7]["links"] == [f"/flower/worker/{quote(name, safe='')}"]
    busy = rows[row["worker"]]["cells"]
    assert busy[3]["text"].split()[0] == "1"
    assert busy[3]["links"] == [f"/requests/{hang}", f"/flower/task/{row['task_id']}"]
    assert busy[6]["links"] == [f"/requests/{hang}"]
    assert busy[8]["text"].strip() == str(stack.workers[row["worker"].split("@")[0]].pid)
    assert busy[10]["text"].strip() == "2" and busy[11]["text"].strip() == "requests"


def test_page_is_live_and_not_cached(app, stack, viewer, fresh):
    """htmx polls get only the live section; answers are never cached."""
    full = viewer.get("/workers")
    assert "<html" in full.get_data(as_text=True).lower()
    part = viewer.get("/workers", headers={"HX-Request": "true"})
    body = part.get_data(as_text=True)
    assert body.lstrip().startswith('<section id="workers"') and "<html" not in body.lower()
    assert 'hx-trigger="every' in body
    assert part.headers["Cache-Control"] == "no-store" and "HX-Request" in part.headers["Vary"]


def test_queue_depth_counts_waiting_messages(app, stack, api, viewer, fresh):
    """With no worker, dispatched requests wait in the queue: the page shows how many."""
    stack.stop_workers()
    ids = [submit(api, QUICK) for _ in range(3)]
    for request_id in ids:
        wait_status(app, request_id, "pending", timeout=60)
    wait_for(lambda: page_rows(viewer)[1] == "3", 30, what="queue depth 3")
    with app.app_context():
        assert inspection.queue_depth() == 3
    stack.start_worker("worker1")
    for request_id in ids:
        wait_status(app, request_id, "success", timeout=60)
    wait_for(lambda: page_rows(viewer)[1] == "0", 30, what="queue depth 0")


def test_gone_worker_stays_listed_as_offline(app, stack, api, fresh):
    """A worker killed -9 is listed offline (remembered, and named by recent requests)."""
    request_id = submit(api, QUICK)
    victim = wait_status(app, request_id, "success", timeout=60)["worker"]
    assert by_name(api)[victim]["online"] is True
    killed_at = datetime.now(timezone.utc)
    stack.workers.pop(victim.split("@")[0]).kill9()
    listed = by_name(api)
    gone, other = listed[victim], listed[({"worker1@test", "worker2@test"} - {victim}).pop()]
    assert (gone["state"], gone["active"], gone["concurrency"]) == ("offline", [], None)
    beat = datetime.fromisoformat(gone["last_heartbeat"])
    assert killed_at - timedelta(seconds=30) < beat <= killed_at, "its own last heartbeat"
    wait_for(lambda: datetime.fromisoformat(by_name(api)[other["name"]]["last_heartbeat"])
             > killed_at, 20, what="the live worker's next heartbeat")
    last_seen = datetime.fromisoformat(gone["last_seen"])
    assert last_seen <= killed_at, "its last answer, from before it was killed"
    assert datetime.fromisoformat(other["last_seen"]) > killed_at, "the other answers now"
    inspection.clear_worker_cache(forget=True)  # as a freshly started web process would be
    workers = by_name(api)
    assert workers[victim]["online"] is False
    other = ({"worker1@test", "worker2@test"} - {victim}).pop()
    assert workers[other]["online"] is True


def test_stopped_worker_does_not_make_the_page_hang(app, stack, api, viewer, fresh, celery_app):
    """A worker frozen with SIGSTOP: page and API still answer fast, showing it offline."""
    assert by_name(api)["worker1@test"]["online"] is True
    frozen = stack.workers["worker1"]
    os.kill(frozen.pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        rows, _ = page_rows(viewer)
        page_s = time.monotonic() - started
        started = time.monotonic()
        workers = by_name(api)
        api_s = time.monotonic() - started
    finally:
        os.kill(frozen.pid, signal.SIGCONT)
    assert page_s < PAGE_BOUND_S and api_s < PAGE_BOUND_S, (page_s, api_s)
    assert rows["worker1@test"]["attrs"]["data-online"] == "false"
    assert rows["worker2@test"]["attrs"]["data-online"] == "true"
    assert workers["worker1@test"]["online"] is False and workers["worker2@test"]["online"]
    wait_online(celery_app, ["worker1@test"])


def test_inspection_is_cached_briefly(app, stack, api, viewer, fresh, celery_app, monkeypatch):
    """Page and API within the cache's lifetime share one inspection; after it, a new one."""
    calls = []
    original = celery_app.control.inspect

    def counting(*args, **kw):
        calls.append(kw.get("timeout"))
        return original(*args, **kw)
    monkeypatch.setattr(celery_app.control, "inspect", counting)
    first = api.get("/api/workers").get_json()
    viewer.get("/workers")
    assert api.get("/api/workers").get_json() == first
    assert calls == [0.5]
    wait_for(lambda: api.get("/api/workers") and len(calls) == 2, 10, interval=0.2,
             what="a fresh inspection after the cache expired")


def test_workers_need_sign_in(app, client, clean_db):
    """Workers are not shown to anonymous visitors."""
    assert client.get("/api/workers").status_code == 401
    assert client.get("/workers").status_code in (302, 303)
