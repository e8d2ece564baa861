"""The schedule form builds its parameters from the job type's schema, as the new-request form
does: fields with their defaults and bounds, swapped when the job type changes, stored params
shown in them on the edit form; a refusal is shown next to the field it names, nothing stored."""
import pytest

from tests.integration.schedules.test_schedules_pages import FORM, stored
from tests.support.db import audit_rows
from tests.support.html import parse
from tests.support.http import Browserless

TIMING = {k: v for k, v in FORM.items() if k != "params"}


@pytest.fixture
def browser(app, make_user):
    """An operator's signed-in session (CSRF token from the pages)."""
    user, password, _ = make_user("operator", username="planner")
    return Browserless(app, user, password)


def _value(doc, control_id):
    return doc.find(id=control_id).attrs.get("value")


def test_the_form_shows_the_job_types_fields(browser, app, make_user):
    """simulate's fields with their defaults; primes' fields when the job type changes;
    a job type that needs a file has none (schedules send no file)."""
    doc = parse(browser.get("/schedules"))
    assert _value(doc, "p-min_seconds") == "1" and _value(doc, "p-max_seconds") == "5"
    assert doc.find(id="p-hang").attrs["type"] == "checkbox"
    assert doc.find("select", id="s-job-type").attrs["hx-get"] == "/schedules/fields"
    options = [o.attrs["value"] for o in doc.find("select", id="s-job-type").find_all("option")]
    assert "load_array" not in options and "primes" in options
    swapped = parse(browser.get("/schedules/fields?job_type=primes"))
    assert swapped.find(id="param-fields").attrs["data-job-type"] == "primes"
    assert swapped.find(id="p-n").attrs["min"] == "2"
    assert "file" not in swapped.find("p", class_="fields-note").text()
    assert browser.get("/schedules/fields?job_type=load_array").status_code == 404
    user, password, _ = make_user("viewer")
    assert Browserless(app, user, password).get("/schedules/fields?job_type=primes"
                                                ).status_code == 403


def test_a_schedule_made_from_the_fields(browser, app):
    """Posted fields become the params (empty ones left out, booleans as ticked)."""
    r = browser.action("/schedules", htmx=False, **TIMING, **{
        "p.min_seconds": "0", "p.max_seconds": "2.5", "p.fail_rate": "", "p.hang": "true"})
    assert r.status_code == 303, r.get_data(as_text=True)[:400]
    [row] = stored(app)
    assert row["params"]["min_seconds"] == 0 and row["params"]["max_seconds"] == 2.5
    assert row["params"]["hang"] is True and row["params"]["ignore_soft_limit"] is False
    assert "fail_rate" not in row["params"] or row["params"]["fail_rate"] == 0


def test_the_json_box_wins_when_filled(browser, app):
    r = browser.action("/schedules", htmx=False, **TIMING, **{
        "params": '{"max_seconds": 1}', "p.max_seconds": "9"})
    assert r.status_code == 303
    assert stored(app)[0]["params"]["max_seconds"] == 1


def test_a_bad_parameter_is_shown_at_its_field(browser, app):
    """Over the maximum: 422, the message under that field (aria-invalid), the values as
    entered, nothing stored, the refusal audited."""
    r = browser.action("/schedules", htmx=False, **TIMING, **{
        "p.min_seconds": "0", "p.max_seconds": "5000"})
    assert r.status_code == 422
    doc = parse(r)
    control = doc.find(id="p-max_seconds")
    assert control.attrs["aria-invalid"] == "true" and control.attrs["value"] == "5000"
    assert doc.find(id="p-max_seconds-error").text().startswith("params.max_seconds:")
    assert _value(doc, "p-min_seconds") == "0" and _value(doc, "s-name") == FORM["name"]
    assert doc.find(id="form-error") is not None and doc.find(id="p-min_seconds-error") is None
    assert stored(app) == []
    assert [e["outcome"] for e in audit_rows(app, "schedule_create")] == ["refused"]


@pytest.mark.parametrize("field, value, control, starts", [
    ("cron", "0 9 * *", "s-cron", "cron: needs five fields"),
    ("every_s", "3", "s-every", "every_s: must be from 5"),
    ("timezone", "Mars/Base", "s-tz", "timezone: unknown timezone"),
    ("name", "  ", "s-name", "name: is required"),
])
def test_a_bad_timing_or_name_is_shown_at_its_field(browser, app, field, value, control, starts):
    data = {**FORM, field: value}
    if field == "every_s":
        data["cron"] = ""
    r = browser.action("/schedules", htmx=False, **data)
    assert r.status_code == 422
    doc = parse(r)
    assert doc.find(id=control).attrs["aria-invalid"] == "true"
    assert doc.find(id=f"s-{field}-error").text().startswith(starts)
    assert stored(app) == []


def test_a_bad_json_box_is_shown_at_the_box(browser, app):
    r = browser.action("/schedules", htmx=False, **{**FORM, "params": "[1, 2]"})
    assert r.status_code == 422
    doc = parse(r)
    assert doc.find(id="s-params").attrs["aria-invalid"] == "true"
    assert "open" in doc.find("details", class_="advanced").attrs
    assert doc.find(id="s-params-error").text().startswith("params:")


def test_the_edit_form_shows_the_stored_params_in_the_fields(browser, app):
    """A stored schedule's params fill its job type's fields; saving the fields keeps them."""
    browser.action("/schedules", htmx=False, **{
        **TIMING, "job_type": "primes", "p.n": "5000", "p.delay_s": "2"})
    [row] = stored(app)
    doc = parse(browser.get(f"/schedules/{row['id']}"))
    assert doc.find(id="param-fields").attrs["data-job-type"] == "primes"
    assert _value(doc, "p-n") == "5000" and _value(doc, "p-delay_s") == "2"
    assert doc.find("textarea", id="s-params").text() == ""
    r = browser.action(f"/schedules/{row['id']}", htmx=False, **{
        **TIMING, "job_type": "primes", "p.n": "7000", "p.delay_s": "2"})
    assert r.status_code == 303
    assert stored(app)[0]["params"] == {"n": 7000, "delay_s": 2}
    r = browser.action(f"/schedules/{row['id']}", htmx=False, **{
        **TIMING, "job_type": "primes", "p.n": "1"})
    assert r.status_code == 422
    assert parse(r).find(id="p-n-error").text().startswith("params.n:")
    assert stored(app)[0]["params"]["n"] == 7000
