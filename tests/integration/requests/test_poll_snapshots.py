"""The live list's poll token never claims more than its page could see (queries.poll_state,
queries.in_flight): a change whose transaction was still open when a poll rendered is shown
by the first poll after its commit, not ~20 s later when the token expires."""
import threading
from urllib.parse import parse_qs, urlsplit

import pytest

from dashboard.extensions import db
from tests.support.db import sql
from tests.support.html import Page
from tests.support.http import sign_in
from tests.support.procs import wait_for

HX = {"HX-Request": "true"}


@pytest.fixture
def quiet(_stack, clean_db):
    """No dispatcher: a synthetic running row stays as it is."""
    _stack.stop_dispatcher()


def _running_request(app):
    """A synthetic running request (with its attempt); returns its id."""
    request_id = sql(app, "INSERT INTO requests (job_type, status, task_id, worker, queued_at,"
                          " started_at) VALUES ('simulate', 'running', gen_random_uuid()::text,"
                          " 'worker1@test', now(), now()) RETURNING id")[0]["id"]
    sql(app, "INSERT INTO attempts (request_id, number, status, task_id, triggered_by)"
             " SELECT id, 1, status, task_id, 'alice' FROM requests WHERE id = :id", id=request_id)
    return request_id


def _poll(client, url):
    """(status code, {request id: status} shown, the next poll's URL)."""
    answer = client.get(url, headers=HX)
    if answer.status_code == 204:
        return 204, None, url
    page = Page(answer.get_data(as_text=True))
    shown = {int(a["data-id"]): a["data-status"] for a in page.find("tr") if "data-id" in a}
    return answer.status_code, shown, page.find("section", id="requests")[0]["hx-get"]


def _viewer_watching_a_running_request(app, make_user):
    """A running request, a signed-in viewer and the poll URL of the list it first saw."""
    request_id = _running_request(app)
    username, password, _ = make_user("viewer")
    viewer = app.test_client()
    sign_in(viewer, username, password)
    status, shown, poll = _poll(viewer, "/")
    assert status == 200 and shown == {request_id: "running"}
    return request_id, viewer, poll


def test_a_change_committed_after_a_poll_rendered_shows_on_the_next_poll(app, quiet, api,
                                                                         make_user):
    """A kill's transaction is held open (the audit table locked) across polls: the poll
    that lands meanwhile shows the old row, the ones after it answer 204 while the kill is
    still open, and the first poll after the commit shows `killed`."""
    request_id, viewer, poll = _viewer_watching_a_running_request(app, make_user)
    answers = {}
    with app.app_context():
        holder = db.engine.connect()
        held = holder.begin()
        holder.exec_driver_sql("LOCK TABLE audit_log IN SHARE MODE")
        kill = threading.Thread(target=lambda: answers.setdefault(
            "kill", api.post(f"/api/requests/{request_id}/kill").status_code))
        kill.start()
        try:
            def kill_waiting():
                """The kill has updated its row and waits to write its audit entry."""
                holder.exec_driver_sql("SELECT pg_stat_clear_snapshot()")
                return holder.exec_driver_sql(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND wait_event_type = 'Lock'").scalar() == 1
            wait_for(kill_waiting, 20, what="the kill's transaction waiting on the lock")
            status, shown, poll = _poll(viewer, poll)
            assert status == 200 and shown == {request_id: "running"}, "the kill is not committed"
            assert _poll(viewer, poll)[0] == 204, "nothing new committed: the poll stays cheap"
        finally:
            held.rollback()
            holder.close()
        kill.join(30)
    assert answers["kill"] == 202
    status, shown, _ = _poll(viewer, poll)
    assert status == 200 and shown == {request_id: "killed"}, "the next poll shows the kill"


def test_an_unchanged_poll_is_still_a_204(app, quiet, make_user):
    """With no transaction in flight the token lists none and an unchanged poll is a 204."""
    request_id, viewer, poll = _viewer_watching_a_running_request(app, make_user)
    assert parse_qs(urlsplit(poll).query)["since"][0].count("-") == 1
    assert [_poll(viewer, poll)[0] for _ in range(3)] == [204, 204, 204]
