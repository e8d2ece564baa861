"""Dashboard pages through the Flask test client: the live list and request partials.

Requests are synthetic rows inserted straight into the test database (the
dispatcher is stopped, so they stay as written); the answers are parsed as
HTML and checked for what a user sees: which rows, which statuses, which
links and buttons, and whether the partial keeps polling.
"""
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import text

from dashboard import lifecycle
from dashboard.extensions import db
from tests.support.html import parse
from tests.support.http import sign_in

HX = {"HX-Request": "true"}


def rows(doc):
    """(id, status) of each request row in the list, top to bottom."""
    return [(int(tr.attrs["data-id"]), tr.attrs["data-status"])
            for tr in doc.find("section", id="requests").find_all("tr", data_id=True)]


@pytest.fixture
def quiet(_stack, clean_db):
    """No dispatcher: synthetic unassigned rows stay unassigned."""
    _stack.stop_dispatcher()


@pytest.fixture
def add(app, quiet):
    """add(status, job_type=..., **columns) inserts a synthetic request; returns its id."""

    def insert(status, job_type="simulate", **columns):
        values = {"status": status, "job_type": job_type, "submitted_by": "alice",
                  "params": '{"min_seconds": 1}', **columns}
        if status != "unassigned":
            values.setdefault("task_id", f"00000000-0000-4000-8000-{len(status):012d}")
            values.setdefault("queued_at", text("now()"))
        if status in ("running", "success", "failure", "timeout"):
            values.setdefault("worker", "worker1@test")
            values.setdefault("started_at", text("now()"))
        if status in ("success", "failure", "timeout", "killed"):
            values.setdefault("finished_at", text("now()"))
        if status in ("failure", "timeout"):
            values.setdefault("error", f"RuntimeError: it went {status}")
        names = ", ".join(values)
        placeholders = ", ".join(
            v.text if hasattr(v, "text") else f":{k}" for k, v in values.items())
        params = {k: v for k, v in values.items() if not hasattr(v, "text")}
        with app.app_context():
            request_id = db.session.execute(text(
                f"INSERT INTO requests ({names}) VALUES ({placeholders}) RETURNING id"),
                params).scalar_one()
            db.session.execute(text(
                "INSERT INTO attempts (request_id, number, status, task_id, triggered_by)"
                " SELECT id, 1, status, task_id, submitted_by FROM requests WHERE id = :id"),
                {"id": request_id})
            db.session.commit()
        return request_id
    return insert


def signed_in(app, make_user, role="operator"):
    """A test client signed in through the login form."""
    username, password, _ = make_user(role)
    client = app.test_client()
    sign_in(client, username, password)
    return client


@pytest.fixture
def operator(app, make_user):
    """A client signed in as an operator."""
    return signed_in(app, make_user, "operator")


@pytest.fixture
def viewer(app, make_user):
    """A client signed in as a viewer."""
    return signed_in(app, make_user, "viewer")


MIX = ["success", "failure", "running", "pending", "unassigned", "timeout", "killed"]


def test_list_partial_renders_exactly_the_rows(operator, add):
    """The htmx list partial shows every request newest first, with its status, and nothing else."""
    ids = [add(status) for status in MIX]
    response = operator.get("/", headers=HX)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert "HX-Request" in response.headers["Vary"]
    doc = parse(response)
    assert doc.find("html") is None and doc.find("header") is None, "a partial, not a page"
    assert rows(doc) == list(zip(ids, MIX))[::-1]
    for tr in doc.find_all("tr", data_id=True):
        badge = tr.find("span", class_=f"badge status-{tr.attrs['data-status']}")
        assert badge.text() == tr.attrs["data-status"]
        link = tr.find("a")
        assert link.attrs["href"] == f"/requests/{tr.attrs['data-id']}"
    counts = {a.attrs["data-count"]: int(a.find("b").text())
              for a in doc.find_all("a", data_count=True)}
    assert counts == {status: 1 for status in MIX}


def test_full_page_holds_the_same_list(operator, add):
    """Without HX-Request the same URL answers the whole page around the same rows."""
    ids = [add(status) for status in ("running", "failure")]
    response = operator.get("/")
    assert response.status_code == 200
    assert "HX-Request" in response.headers["Vary"]
    doc = parse(response)
    assert doc.find("header") is not None and doc.find("title").text().startswith("Requests")
    assert rows(doc) == [(ids[1], "failure"), (ids[0], "running")]


def test_list_filters_by_status_and_job_type(operator, add):
    """The status and job type filters narrow the rows; an unknown status says so."""
    a = add("failure")
    b = add("failure", job_type="simulate_flaky")
    c = add("success", job_type="simulate_flaky")
    add("running")
    assert rows(parse(operator.get("/?status=failure", headers=HX))) == [
        (b, "failure"), (a, "failure")]
    assert rows(parse(operator.get("/?job_type=simulate_flaky", headers=HX))) == [
        (c, "success"), (b, "failure")]
    assert rows(parse(operator.get("/?status=failure&job_type=simulate_flaky", headers=HX))) == [
        (b, "failure")]
    empty = parse(operator.get("/?status=timeout", headers=HX))
    assert rows(empty) == []
    assert "No requests match this filter" in empty.find("td", class_="empty").text()
    bogus = parse(operator.get("/?status=bogus", headers=HX))
    assert rows(bogus) == []
    assert "unknown status 'bogus'" in bogus.find("p", class_="notice error").text()


def test_list_pages_with_a_cursor(operator, add):
    """Following the Older links walks every request once, newest first, 50 a page."""
    ids = [add("success") for _ in range(120)]
    seen, pages, url = [], [], "/"
    while url:
        doc = parse(operator.get(url, headers=HX))
        page = rows(doc)
        pages.append(len(page))
        seen += [request_id for request_id, _ in page]
        older = doc.find("a", rel="next")
        url = older.attrs["href"] if older else None
        if len(pages) > 1:
            assert doc.find("nav", class_="pager").find("a").text().startswith("← Newest")
    assert pages == [50, 50, 20]
    assert seen == ids[::-1]


def test_poll_answers_204_until_something_changes(app, operator, add):
    """A poll with the embedded token gets 204 and no body; after a change, the new rows."""
    first = add("unassigned")
    doc = parse(operator.get("/", headers=HX))
    poll = doc.find("section", id="requests").attrs["hx-get"]
    assert "since=" in poll

    unchanged = operator.get(poll, headers=HX)
    assert unchanged.status_code == 204 and unchanged.get_data() == b""
    assert unchanged.headers["Cache-Control"] == "no-store"

    second = add("unassigned")
    changed = operator.get(poll, headers=HX)
    assert changed.status_code == 200
    assert rows(parse(changed)) == [(second, "unassigned"), (first, "unassigned")]

    poll = parse(changed).find("section", id="requests").attrs["hx-get"]
    with app.app_context():
        lifecycle.kill(first, "op")
        db.session.commit()
    after_kill = operator.get(poll, headers=HX)
    assert after_kill.status_code == 200
    assert rows(parse(after_kill)) == [(second, "unassigned"), (first, "killed")]


def test_poll_token_must_be_recent(operator, add, monkeypatch):
    """An old or garbled token gets the rows again instead of a 204."""
    request_id = add("running")
    poll = parse(operator.get("/", headers=HX)).find("section", id="requests").attrs["hx-get"]
    since = parse_qs(urlsplit(poll).query)["since"][0]
    version, _, at = since.partition("-")
    stale = operator.get(f"/?since={version}-{int(at) - 3600}", headers=HX)
    assert stale.status_code == 200 and rows(parse(stale)) == [(request_id, "running")]
    assert operator.get(f"/?since={version}", headers=HX).status_code == 200
    assert operator.get("/?since=x-y", headers=HX).status_code == 200


def test_detail_polls_only_while_active(operator, add):
    """A running request's partial polls every interval; a finished one stops polling."""
    running, done = add("running"), add("success", result='{"slept_seconds": 1.2}')
    active = parse(operator.get(f"/requests/{running}", headers=HX)).find(
        "section", id="request-detail")
    assert active.attrs["data-status"] == "running"
    assert "every 0.5s" in active.attrs["hx-trigger"]
    finished_response = operator.get(f"/requests/{done}", headers=HX)
    assert finished_response.headers["Cache-Control"] == "no-store"
    finished = parse(finished_response).find("section", id="request-detail")
    assert finished.attrs["data-status"] == "success"
    assert "every" not in finished.attrs["hx-trigger"]
    assert "refresh" in finished.attrs["hx-trigger"]  # still refreshed after a retry click
    assert '"slept_seconds": 1.2' in finished.find("pre", id="result").text()


def test_detail_poll_answers_204_until_the_request_changes(app, operator, add):
    """The request page's poll is 204 while its row is unchanged, then shows the new status."""
    request_id = add("pending")
    section = parse(operator.get(f"/requests/{request_id}", headers=HX)).find(
        "section", id="request-detail")
    poll = section.attrs["hx-get"]
    unchanged = operator.get(poll, headers=HX)
    assert unchanged.status_code == 204 and unchanged.get_data() == b""
    add("pending")  # another request changing does not matter
    assert operator.get(poll, headers=HX).status_code == 204
    with app.app_context():
        lifecycle.kill(request_id, "op")
        db.session.commit()
    changed = parse(operator.get(poll, headers=HX)).find("section", id="request-detail")
    assert changed.attrs["data-status"] == "killed"
    assert "every" not in changed.attrs["hx-trigger"]


def test_list_stops_polling_on_an_older_page_of_finished_rows(operator, add):
    """The first page always polls (new rows may come); an older page of finished rows does not."""
    for _ in range(60):
        add("success")
    first = parse(operator.get("/", headers=HX)).find("section", id="requests")
    assert "every" in first.attrs["hx-trigger"]
    older = first.find("a", rel="next").attrs["href"]
    second = parse(operator.get(older, headers=HX)).find("section", id="requests")
    assert "every" not in second.attrs["hx-trigger"]


def test_actions_follow_status_and_role(operator, viewer, add):
    """Operators get Kill on active rows and Retry on finished failures; viewers get neither."""
    statuses = ["running", "failure", "success", "killed", "unassigned"]
    ids = [add(s) for s in statuses]
    expected = {"running": ["kill"], "failure": ["retry"], "success": [],
                "killed": ["retry"], "unassigned": ["kill"]}
    doc = parse(operator.get("/", headers=HX))
    for request_id, status in zip(ids, statuses):
        tr = doc.find("tr", data_id=str(request_id))
        assert [b.attrs["data-action"] for b in tr.find_all("button")] == expected[status]
    assert parse(viewer.get("/", headers=HX)).find_all("button") == []
    assert viewer.get("/requests/new").status_code == 403


def test_unknown_request_is_a_404_page(operator, quiet):
    """A request id that does not exist answers 404 with a page saying so."""
    response = operator.get("/requests/424242")
    assert response.status_code == 404
    assert "There is no request #424242." in parse(response).find("main").text()


@pytest.mark.parametrize("path", ["/", "/requests/1", "/requests/new", "/?status=failure"])
def test_pages_need_sign_in(app, quiet, path):
    """Signed-out visitors are sent to the sign-in page, and come back to the page afterwards."""
    response = app.test_client().get(path)
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.path == "/login"
    assert parse_qs(location.query)["next"] == [path]


def test_poll_after_sign_out_loads_the_sign_in_page_whole(app, quiet):
    """An htmx poll without a session gets 401 + HX-Redirect, not a login form to swap in."""
    response = app.test_client().get("/?since=1-1&status=failure", headers={
        **HX, "HX-Current-URL": "http://127.0.0.1:8000/?status=failure"})
    assert response.status_code == 401 and response.get_data() == b""
    target = urlsplit(response.headers["HX-Redirect"])
    assert target.path == "/login"
    assert parse_qs(target.query)["next"] == ["/?status=failure"]
