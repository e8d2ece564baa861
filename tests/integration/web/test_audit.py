"""The audit log: every operator action is written with who, when, where from, which request
and the outcome; /audit lists it with filters for operators and admins (viewers get 403).
"""
import json
from datetime import datetime, timedelta, timezone

from tests.support.db import audit_rows, sql
from tests.support.html import Page
from tests.support.http import csrf_token, sign_in

HANG = json.dumps({"hang": True})
ADDRESS = "198.51.100.23"


def _operator(app, make_user):
    """(bearer headers, username) of an operator whose calls come from ADDRESS."""
    username, _, token = make_user("operator")
    return {"Authorization": f"Bearer {token}"}, username


def test_api_actions_are_audited_with_who_where_which_and_outcome(app, make_user):
    """submit, kill, retry, bulk retry (and their refusals) each leave one complete entry."""
    headers, username = _operator(app, make_user)
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = ADDRESS
    request_id = client.post("/api/requests", headers=headers,
                             data={"job_type": "simulate", "params": HANG}).get_json()["id"]
    client.post("/api/requests", headers=headers, data={"job_type": "nope", "params": "{}"})
    client.post(f"/api/requests/{request_id}/retry", headers=headers)   # refused: active
    client.post(f"/api/requests/{request_id}/kill", headers=headers)
    client.post(f"/api/requests/{request_id}/kill", headers=headers)    # refused: terminal
    client.post(f"/api/requests/{request_id}/retry", headers=headers)
    client.post("/api/requests/retry-failed", headers=headers)
    rows = [r for r in audit_rows(app) if r["action"] != "notify"]
    assert [(r["action"], r["outcome"]) for r in rows] == [
        ("submit", "ok"), ("submit", "refused"), ("retry", "refused"), ("kill", "ok"),
        ("kill", "refused"), ("retry", "ok"), ("retry_failed", "retried 0")]
    now = datetime.now(timezone.utc)
    for row in rows:
        assert row["username"] == username and row["address"] == ADDRESS
        assert now - timedelta(minutes=2) < row["at"] <= now + timedelta(seconds=5)
        assert row["detail"]["via"].startswith("token ")
        assert row["detail"]["http"].startswith("POST /api/requests")
    assert [r["request_id"] for r in rows if r["action"] in ("kill", "retry")] == \
        [request_id] * 4
    assert rows[1]["detail"]["error"].startswith("job_type: unknown job type")


def test_page_actions_and_refusals_are_audited(app, make_user):
    """A browser kill is audited as the signed-in user; a viewer's attempt as forbidden."""
    headers, _ = _operator(app, make_user)
    request_id = app.test_client().post("/api/requests", headers=headers, data={
        "job_type": "simulate", "params": HANG}).get_json()["id"]
    viewer_name, viewer_pw, _ = make_user("viewer")
    viewer = app.test_client()
    sign_in(viewer, viewer_name, viewer_pw)
    token = csrf_token(viewer.get("/").get_data(as_text=True))
    assert viewer.post(f"/requests/{request_id}/kill", data={"csrf_token": token}) \
        .status_code == 403
    forbidden = [r for r in audit_rows(app, "kill")]
    assert [(r["username"], r["outcome"], r["request_id"]) for r in forbidden] == [
        (viewer_name, "forbidden", request_id)]
    assert forbidden[0]["detail"]["via"] == "session"


def test_sign_in_failures_are_audited(app, client, make_user):
    """A failed sign-in is written with the name tried and the address."""
    client.environ_base["REMOTE_ADDR"] = ADDRESS
    sign_in(client, "ghost", "nope", expect=401)
    row = audit_rows(app, "sign_in")[-1]
    assert (row["username"], row["outcome"], row["address"]) == ("ghost", "failed", ADDRESS)


def test_audit_page_filters(app, make_user, signed_in):
    """Operators filter by action, user and request id; the table shows exactly the matches."""
    headers, username = _operator(app, make_user)
    client = app.test_client()
    ids = [client.post("/api/requests", headers=headers, data={
        "job_type": "simulate", "params": HANG}).get_json()["id"] for _ in range(2)]
    client.post(f"/api/requests/{ids[0]}/kill", headers=headers)
    sign_in(app.test_client(), "ghost", "nope", expect=401)
    operator, _, _ = signed_in("operator")

    def shown(**args):
        """(action, outcome) of the rows the filtered page shows."""
        page = Page(operator.get("/audit", query_string=args).get_data(as_text=True))
        return [(a["data-action"], a["data-outcome"]) for _, a in page.tags
                if "data-action" in a and "data-outcome" in a]
    assert shown(action="kill") == [("kill", "ok")]
    assert shown(request_id=str(ids[0])) == [("kill", "ok"), ("submit", "ok")]
    assert shown(user="ghost") == [("sign_in", "failed")]
    assert shown(user=username, action="submit") == [("submit", "ok"), ("submit", "ok")]
    assert ("sign_in", "ok") in shown(), "unfiltered shows everything, the operator's sign-in too"
    bad = operator.get("/audit?request_id=abc&before=%C2%B2")
    assert bad.status_code == 200
    assert "request_id: must be a number" in bad.get_data(as_text=True)


def test_audit_page_pages_and_escapes(app, signed_in):
    """Over 100 entries a page links to older ones; details are shown as text, not HTML."""
    sql(app, "INSERT INTO audit_log (action, outcome, username, detail)"
             " SELECT 'kill', 'ok', 'bulk', jsonb_build_object('n', g)"
             " FROM generate_series(1, 120) g")
    sql(app, "INSERT INTO audit_log (action, outcome, username, detail) VALUES"
             " ('submit', 'refused', '<b>x</b>', :d)",
        d=json.dumps({"error": "<img src=x onerror=alert(1)>"}))
    admin, _, _ = signed_in("admin")
    first = admin.get("/audit").get_data(as_text=True)
    page = Page(first)
    assert len([a for _, a in page.tags if "data-outcome" in a]) == 100
    assert "&lt;img src=x onerror=alert(1)&gt;" in first and "<img src=x" not in first
    assert "&lt;b&gt;x&lt;/b&gt;" in first
    older = page.find("a", rel="next")[0]["href"]
    rest = Page(admin.get(older).get_data(as_text=True))
    assert len([a for _, a in rest.tags if "data-outcome" in a]) == 22  # 122 entries: 100 on the first page


def test_viewers_cannot_read_the_audit_log(signed_in):
    """A viewer gets the 403 page."""
    viewer, _, _ = signed_in("viewer")
    response = viewer.get("/audit")
    assert response.status_code == 403
    assert "This needs the operator role." in response.get_data(as_text=True)
