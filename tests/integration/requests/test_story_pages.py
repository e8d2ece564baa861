"""A request's story on the pages (no workers needed): bulk form, re-run form, file download,
log lines escaped, key/value tables, roles and CSRF on every new action."""
import io
import json

from tests.support.db import attempts, audit_rows, sql
from tests.support.http import Browserless


def failed_requests(app, n, job_type="simulate"):
    """`n` failed requests (attempt 1 failed), made directly in the database; their ids."""
    ids = []
    for _ in range(n):
        [row] = sql(app, "INSERT INTO requests (job_type, status, error, submitted_by,"
                         " finished_at) VALUES (:j, 'failure', 'boom', 'someone', now())"
                         " RETURNING id", j=job_type)
        sql(app, "INSERT INTO attempts (request_id, number, status, triggered_by, error)"
                 " VALUES (:id, 1, 'failure', 'someone', 'boom')", id=row["id"])
        ids.append(row["id"])
    return ids


def operator(app, make_user, role="operator"):
    username, password, _ = make_user(role)
    return Browserless(app, username, password), username


def test_bulk_form_retries_ticked_ids_and_says_how_many(app, make_user):
    ids = failed_requests(app, 3)
    page, username = operator(app, make_user)
    listing = page.get("/").get_data(as_text=True)
    for request_id in ids:
        assert f'id="pick-{request_id}"' in listing
    assert 'data-matching="3"' in listing
    answer = page.action("/requests/bulk", htmx=False, action="retry",
                         ids=[str(i) for i in ids[:2]])
    assert answer.status_code == 303
    notice = page.get("/").get_data(as_text=True)
    assert "Retried 2 of 2 requests." in notice
    assert [len(attempts(app, i)) for i in ids] == [2, 2, 1]
    [entry] = audit_rows(app, "bulk_retry")
    assert entry["username"] == username and entry["detail"]["ids"] == ids[:2]


def test_bulk_form_all_matching_the_filter(app, make_user):
    ids = failed_requests(app, 3)
    other = failed_requests(app, 1, job_type="simulate_flaky")
    page, _ = operator(app, make_user)
    assert 'data-matching="3"' in page.get("/?job_type=simulate").get_data(as_text=True)
    answer = page.action("/requests/bulk", htmx=False, action="kill", all_matching="1",
                         job_type="simulate")
    assert answer.status_code == 303
    notice = page.get("/").get_data(as_text=True)
    assert "Killed 0 of 3 requests; 3 refused" in notice  # failed requests are not killable
    answer = page.action("/requests/bulk", htmx=False, action="retry", all_matching="1",
                         job_type="simulate")
    assert "Retried 3 of 3 requests." in page.get("/").get_data(as_text=True)
    assert [len(attempts(app, i)) for i in ids + other] == [2, 2, 2, 1]


def test_bulk_and_rerun_need_an_operator_and_a_csrf_token(app, make_user, client):
    [request_id] = failed_requests(app, 1)
    viewer, _ = operator(app, make_user, "viewer")
    assert 'id="pick-' not in viewer.get("/").get_data(as_text=True)
    assert viewer.action("/requests/bulk", htmx=False, action="retry",
                         ids=[str(request_id)]).status_code == 403
    assert viewer.client.post("/api/requests/bulk", json={"action": "retry", "ids": [request_id]},
                              headers={"X-CSRFToken": viewer.csrf}).status_code == 403
    assert viewer.get(f"/requests/{request_id}/rerun").status_code == 403
    page, _ = operator(app, make_user)
    no_token = page.client.post("/requests/bulk", data={"action": "retry",
                                                        "ids": str(request_id)})
    assert no_token.status_code == 400
    session_api = page.client.post("/api/requests/bulk",
                                   json={"action": "retry", "ids": [request_id]})
    assert session_api.status_code == 400  # a session API call without the CSRF header
    no_token = page.client.post(f"/requests/{request_id}/rerun", data={"params": "{}"})
    assert no_token.status_code == 400
    assert len(attempts(app, request_id)) == 1
    assert client.post("/api/requests/bulk", json={"action": "retry", "ids": [1]}).status_code \
        == 401


def test_rerun_form_is_prefilled_and_refuses_bad_params(app, make_user, api):
    [request_id] = failed_requests(app, 1)
    sql(app, "UPDATE requests SET params = '{\"min_seconds\": 1, \"max_seconds\": 2}'"
             " WHERE id = :id", id=request_id)
    page, _ = operator(app, make_user)
    form = page.get(f"/requests/{request_id}/rerun").get_data(as_text=True)
    assert "&#34;min_seconds&#34;: 1" in form or "&quot;min_seconds&quot;: 1" in form
    bad = page.client.post(f"/requests/{request_id}/rerun",
                           data={"params": '{"min_seconds": 9}', "csrf_token": page.csrf})
    assert bad.status_code == 422
    assert "params.min_seconds: must not exceed max_seconds" in bad.get_data(as_text=True)
    good = page.client.post(f"/requests/{request_id}/rerun",
                            data={"params": '{"min_seconds": 0, "max_seconds": 0}',
                                  "csrf_token": page.csrf})
    assert good.status_code == 303
    child = int(good.headers["Location"].rsplit("/", 1)[1])
    detail = page.get(f"/requests/{child}").get_data(as_text=True)
    assert f'id="parent-link" href="/requests/{request_id}"' in detail
    assert 'data-param="min_seconds"' in detail and 'data-param="max_seconds"' in detail
    parent = page.get(f"/requests/{request_id}").get_data(as_text=True)
    assert f'href="/requests/{child}">#{child}</a>' in parent


def test_file_download_with_the_sanitized_name(app, make_user, api, client):
    data = bytes(range(256)) * 4
    created = api.post("/api/requests", data={
        "job_type": "simulate", "params": "{}",
        "file": (io.BytesIO(data), '../etc/my scan (1).raw')}).get_json()
    page, _ = operator(app, make_user, "viewer")
    detail = page.get(f"/requests/{created['id']}").get_data(as_text=True)
    assert f'href="/requests/{created["id"]}/file"' in detail
    import hashlib
    assert hashlib.sha256(data).hexdigest() in detail
    answer = page.get(f"/requests/{created['id']}/file")
    assert answer.status_code == 200 and answer.data == data
    answer.close()  # the file it streamed from is closed with the response, as a server does
    assert answer.headers["Content-Disposition"] in ('attachment; filename=my_scan_1.raw',
                                                      'attachment; filename="my_scan_1.raw"')
    assert answer.headers["Content-Type"] == "application/octet-stream"
    assert client.get(f"/requests/{created['id']}/file").status_code in (302, 401)
    none = api.post("/api/requests", data={"job_type": "simulate", "params": "{}"}).get_json()
    assert page.get(f"/requests/{none['id']}/file").status_code == 404


def test_log_lines_are_escaped_and_only_new_ones_are_sent(app, make_user):
    [request_id] = failed_requests(app, 1)
    for n, message in enumerate(["<script>alert(1)</script>", "second", "third"]):
        sql(app, "INSERT INTO attempt_logs (request_id, attempt, at, level, message)"
                 " VALUES (:id, 1, now(), :level, :m)", id=request_id, m=message,
            level="ERROR" if n == 2 else "INFO")
    page, _ = operator(app, make_user, "viewer")
    first = page.get(f"/requests/{request_id}/log-lines?reset=1",
                     headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in first and "<script>alert" not in first
    assert first.count('class="log-line') == 3 and "end of log" in first
    [cursor] = [part.split("after=")[1].split('"')[0].split("&")[0]
                for part in first.split("hx-get=") if "after=" in part][-1:]
    rest = page.get(f"/requests/{request_id}/log-lines?after={cursor}&reset=1")
    assert rest.get_data(as_text=True).count('class="log-line') == 0
    errors = page.get(f"/requests/{request_id}/log-lines?level=ERROR&reset=1").get_data(
        as_text=True)
    assert errors.count('class="log-line') == 1 and "third" in errors


def test_detail_shows_params_and_result_as_key_value_tables(app, make_user):
    [request_id] = failed_requests(app, 1)
    sql(app, "UPDATE requests SET status = 'success', error = NULL, params = :p,"
             " result = :r, traceback = NULL WHERE id = :id", id=request_id,
        p=json.dumps({"min_seconds": 1, "nested": {"deep": "<b>x</b>"}}),
        r=json.dumps({"histogram": {"counts": list(range(100))}, "mean": 2.5}))
    page, _ = operator(app, make_user, "viewer")
    html = page.get(f"/requests/{request_id}").get_data(as_text=True)
    assert '<th scope="row">nested</th><td><table class="kv nested">' in html
    assert "&lt;b&gt;x&lt;/b&gt;" in html
    assert '<th scope="row">mean</th><td>2.5</td>' in html
    assert "(100 values)" in html
    assert 'id="timeline"' in html and 'id="log-lines"' in html
