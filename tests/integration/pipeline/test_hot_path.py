"""The worker's hot path (issue 13) with real workers: a short job's last log lines arrive with
its success, the success is stored once, and a batch of requests all finish with their logs;
the worker's statements are prepared on the connection it keeps, and again after a reconnect."""
import json

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from dashboard import lifecycle
from dashboard.extensions import db
from tests.support.db import fetch, sql, wait_status
from tests.support.http import all_lines, submit
from tests.support.procs import wait_for

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


def _pending(n):
    """n committed requests already claimed (pending, a task id each): no dispatcher takes them."""
    ids = [lifecycle.submit("simulate", json.dumps(QUICK), None, "hot-path") for _ in range(n)]
    db.session.execute(text(
        "UPDATE requests SET status = 'pending', task_id = 'hot-' || id, queued_at = now()"
        " WHERE id = ANY(:ids)"), {"ids": ids})
    db.session.execute(text(
        "UPDATE attempts SET status = 'pending', task_id = 'hot-' || request_id"
        " WHERE request_id = ANY(:ids)"), {"ids": ids})
    db.session.commit()
    return ids


def _on_kept_connection(query):
    """Rows of `query` on the connection the worker's own-transaction writes keep."""
    with lifecycle.own_connection().connection.cursor() as cursor:
        cursor.execute(query)
        return cursor.fetchall()


def test_start_and_success_are_prepared_once_and_again_after_a_reconnect(app, clean_db):
    """The kept connection holds the prepared start after the first start, the success
    after the first success; its server process terminated, the next write fails as a
    lost connection and the one after prepares again on a new connection and succeeds."""
    with app.app_context():
        first, second = _pending(2)
        assert lifecycle.start(first, f"hot-{first}", "w@h", own_transaction=True)
        prepared = {name for (name,) in _on_kept_connection(
            "SELECT name FROM pg_prepared_statements")}
        assert {"dash_start_1", "dash_start_2"} <= prepared and "dash_finish_1" not in prepared
        assert lifecycle.finish(first, f"hot-{first}", "success", "{}", own_transaction=True)
        assert ("dash_finish_1",) in _on_kept_connection("SELECT name FROM pg_prepared_statements")
        assert fetch(app, first)["status"] == "success"

        (pid,), = _on_kept_connection("SELECT pg_backend_pid()")
        db.session.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        db.session.commit()
        with pytest.raises(OperationalError):
            lifecycle.start(second, f"hot-{second}", "w@h", own_transaction=True)
        row = lifecycle.start(second, f"hot-{second}", "w@h", own_transaction=True)
        assert row is not None and row["id"] == second
        assert fetch(app, second)["status"] == "running"
        assert lifecycle.finish(second, f"hot-{second}", "success", "{}", own_transaction=True)
        assert fetch(app, second)["status"] == "success"
        (new_pid,), = _on_kept_connection("SELECT pg_backend_pid()")
        assert new_pid != pid
