"""The job types page: every type with its limits, counts and a "New request" link; an
admin's form changes the limits (stored, audited, shown back), a bad value is shown next
to the type's form, and a description is text, never markup.
"""
import pytest

from dashboard import jobs
from dashboard.jobs import JobType
from tests.support.db import audit_rows, sql
from tests.support.html import Page, parse
from tests.support.http import csrf_token


@pytest.fixture
def no_overrides(app):
    """No stored limits before and after the test."""
    sql(app, "DELETE FROM job_type_settings")
    yield
    sql(app, "DELETE FROM job_type_settings")


def _section(html, name):
    """The page's section of job type `name`."""
    [section] = [n for n in parse(html).find_all("section")
                 if n.attrs.get("data-job-type") == name]
    return section


def _limits(section):
    """{limit: (declared, current)} as the section's table shows them."""
    rows = {}
    for row in section.find_all("tr"):
        if row.attrs.get("data-limit"):
            cells = row.find_all("td")
            rows[row.attrs["data-limit"]] = (cells[0].text(), cells[1].text())
    return rows


def test_a_viewer_sees_every_type_without_the_form(app, signed_in, no_overrides):
    for _ in range(2):
        sql(app, "INSERT INTO requests (job_type, status, task_id, finished_at)"
                 " VALUES ('simulate', 'success', gen_random_uuid()::text, now())")
    client, _, _ = signed_in("viewer")
    answer = client.get("/job-types")
    assert answer.status_code == 200
    html = answer.get_data(as_text=True)
    for name in ("simulate", "load_array", "checksum", "primes"):
        assert _section(html, name) is not None
    simulate = _section(html, "simulate")
    assert "Simulate" in simulate.find("h2").text()
    counts = {a.attrs["data-count"]: a for a in simulate.find_all("a", data_count=True)}
    assert counts["success"].find("b").text() == "2" and counts["failure"].find("b").text() == "0"
    assert counts["success"].attrs["href"] == "/?job_type=simulate&status=success"
    assert _limits(simulate)["max_running"] == ("no limit", "no limit")
    assert _limits(simulate)["paused"] == ("no", "no")
    assert not simulate.find_all("form"), "a viewer gets no form"
    assert not [a for a in simulate.find_all("a") if "/requests/new" in a.attrs.get("href", "")]
    nav = Page(html).find("a", href="/job-types")
    assert nav and nav[0].get("aria-current") == "page"


def test_an_operator_gets_a_new_request_link_that_picks_the_type(app, signed_in,
                                                                 no_overrides):
    client, _, _ = signed_in("operator")
    section = _section(client.get("/job-types").get_data(as_text=True), "load_array")
    [link] = [a for a in section.find_all("a") if "/requests/new" in a.attrs.get("href", "")]
    assert link.attrs["href"] == "/requests/new?job_type=load_array"
    assert not section.find_all("form")
    form = client.get(link.attrs["href"]).get_data(as_text=True)
    [chosen] = parse(form).find_all("option", selected=True)
    assert chosen.attrs["value"] == "load_array"


def test_an_admin_changes_the_limits_through_the_form(app, signed_in, no_overrides):
    client, username, _ = signed_in("admin")
    html = client.get("/job-types").get_data(as_text=True)
    section = _section(html, "simulate")
    [form] = section.find_all("form")
    assert form.attrs["action"] == "/job-types/simulate"
    answer = client.post("/job-types/simulate", data={
        "csrf_token": csrf_token(html), "priority": "4", "max_running": "3",
        "rate_per_min": "", "paused": "yes"})
    assert answer.status_code == 303 and answer.headers["Location"].endswith(
        "/job-types#type-simulate")
    stored = sql(app, "SELECT priority, max_running, rate_per_min, paused, changed_by"
                      " FROM job_type_settings WHERE name = 'simulate'")
    assert stored == [{"priority": 4, "max_running": 3, "rate_per_min": None, "paused": True,
                       "changed_by": username}]
    [entry] = audit_rows(app, "job_type_change")
    assert entry["outcome"] == "ok" and entry["username"] == username
    assert entry["detail"]["changes"]["max_running"] == {"from": None, "to": 3, "stored": 3}
    assert entry["detail"]["via"] == "session"

    page = client.get("/job-types").get_data(as_text=True)
    assert "Limits of simulate saved." in page
    section = _section(page, "simulate")
    assert _limits(section)["max_running"] == ("no limit", "3")
    assert _limits(section)["priority"] == ("0", "4")
    assert _limits(section)["paused"] == ("no", "yes")
    fields = {i.attrs["name"]: i.attrs.get("value") for i in section.find_all("input")}
    assert fields["max_running"] == "3" and fields["rate_per_min"] == ""
    [chosen] = [o for o in section.find_all("option") if "selected" in o.attrs]
    assert chosen.attrs["value"] == "yes"

    # Emptied fields: back to the declared values.
    client.post("/job-types/simulate", data={"csrf_token": csrf_token(page), "priority": "",
                                            "max_running": "", "rate_per_min": "",
                                            "paused": ""})
    assert _limits(_section(client.get("/job-types").get_data(as_text=True),
                            "simulate"))["max_running"] == ("no limit", "no limit")


@pytest.mark.parametrize("field, value, message", [
    ("max_running", "-2", "max_running: must be a non-negative integer"),
    ("max_running", "lots", "max_running: must be a non-negative integer"),
    ("priority", "11", "priority: must be an integer from -10 to 10"),
    ("paused", "maybe", "paused: must be true or false"),
])
def test_a_bad_value_is_shown_next_to_the_form(app, signed_in, no_overrides, field, value,
                                               message):
    client, _, _ = signed_in("admin")
    html = client.get("/job-types").get_data(as_text=True)
    data = {"csrf_token": csrf_token(html), "priority": "", "max_running": "",
            "rate_per_min": "", "paused": "", field: value}
    answer = client.post("/job-types/primes", data=data)
    assert answer.status_code == 422
    section = _section(answer.get_data(as_text=True), "primes")
    [alert] = [p for p in section.find_all("p") if p.attrs.get("role") == "alert"]
    assert alert.text().startswith(message)
    if field != "paused":
        typed = [i for i in section.find_all("input") if i.attrs.get("name") == field]
        assert typed[0].attrs["value"] == value
    assert sql(app, "SELECT count(*) AS n FROM job_type_settings")[0]["n"] == 0
    assert [r["outcome"] for r in audit_rows(app, "job_type_change")] == ["refused"]


def test_only_admins_post_the_form(app, signed_in, client, no_overrides):
    operator, _, _ = signed_in("operator")
    token = csrf_token(operator.get("/job-types").get_data(as_text=True))
    answer = operator.post("/job-types/simulate", data={"csrf_token": token, "paused": "yes"})
    assert answer.status_code == 403
    admin, _, _ = signed_in("admin")
    token = csrf_token(admin.get("/job-types").get_data(as_text=True))
    assert admin.post("/job-types/nope", data={"csrf_token": token}).status_code == 404
    assert admin.post("/job-types/simulate", data={"paused": "yes"}).status_code == 400
    assert sql(app, "SELECT count(*) AS n FROM job_type_settings")[0]["n"] == 0
    assert client.get("/job-types").status_code == 302


def test_a_description_with_markup_is_shown_as_text(app, signed_in, no_overrides):
    hostile = JobType(name="hostile", title="Hostile <b>title</b>",
                      description='<script>alert("x")</script> & <img src=x onerror=alert(1)>',
                      schema={"type": "object", "properties": {}, "additionalProperties": False},
                      run=lambda ctx: {})
    jobs.register(hostile)
    try:
        client, _, _ = signed_in("admin")
        html = client.get("/job-types").get_data(as_text=True)
    finally:
        del jobs.REGISTRY["hostile"]
    assert "<script>alert" not in html and "<img src=x" not in html and "<b>title" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &lt;img" in html
    section = _section(html, "hostile")
    assert section.find("p", **{"class": "description"}) is not None
    assert all(s.attrs.get("src") or s.attrs.get("type") == "application/json"
               for s in parse(html).find_all("script"))   # no script but the files and data
