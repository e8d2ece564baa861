"""In Chromium: create a schedule through the form, watch the next-run preview follow the typing,
then watch its first request appear in the schedule's history (real beat, dispatcher, workers)."""
import pytest
from playwright.sync_api import expect

from tests.browser.test_accessibility import blocking_violations
from tests.support.browser import Watch, browser_sign_in
from tests.support.procs import beat_proc

pytestmark = pytest.mark.browser


@pytest.fixture
def beat():
    proc = beat_proc("beat-browser").start()
    yield proc
    proc.stop()


def test_create_schedule_preview_and_first_request(live_server, stack, page, make_user, beat):
    watch = Watch(page)
    user, password, _ = make_user("operator", username="clicker")
    browser_sign_in(page, live_server, user, password)
    page.goto(f"{live_server}/schedules")
    page.fill("#s-name", "browser <every five>")
    page.select_option("#s-job-type", "simulate")
    page.fill("#p-min_seconds", "0")
    page.fill("#p-max_seconds", "0")
    # The form starts with a cron expression; its preview is there on load.
    page.wait_for_selector("#next-runs tbody tr")
    assert page.locator("#preview [data-preview=words]").inner_text().startswith(
        "every 15 minutes")
    page.fill("#s-cron", "0 9 * * *")
    page.fill("#s-tz", "Asia/Tokyo")
    expect(page.locator("#preview")).to_contain_text("JST")
    rows = page.locator("#next-runs tbody tr")
    assert rows.count() == 5
    local, utc = rows.nth(0).locator("td").all_inner_texts()
    assert "09:00:00 JST" in local and utc.endswith("00:00:00")
    # A bad value: the preview says what is wrong, naming the field.
    page.fill("#s-cron", "0 9 * *")
    page.wait_for_selector("#preview [data-preview=error]")
    assert "cron: needs five fields" in page.locator("#preview").inner_text()
    # An interval instead.
    page.fill("#s-cron", "")
    page.fill("#s-every", "5")
    expect(page.locator("#preview [data-preview=words]")).to_have_text("every 5 seconds")
    page.click("#s-submit")
    page.wait_for_url(f"{live_server}/schedules/*")
    assert page.locator("#schedule-name").inner_text() == "browser <every five>"
    assert page.locator("#schedule-next-runs tbody tr").count() == 5
    # Beat fires it; the polled history shows the request, then its success.
    first = page.locator("#schedule-history tbody tr[data-request]").first
    first.wait_for(timeout=45_000)
    page.wait_for_selector("#schedule-history [data-status=success]", timeout=60_000)
    href = first.locator("a").first.get_attribute("href")
    assert href.startswith("/requests/")
    page.goto(f"{live_server}/schedules")
    row = page.locator("#schedules tbody tr[data-schedule]").first
    assert "browser <every five>" in row.inner_text()
    assert "every 5 seconds" in row.inner_text()
    assert watch.unexpected() == [] and watch.csp_violations() == []


def test_the_form_follows_the_job_type_and_shows_a_refusal_at_its_field(
        live_server, stack, page, make_user):
    """Choosing primes swaps in its fields (from its schema); a number under its minimum is
    refused next to that field with the other values kept; fixed, the schedule is saved with
    those params, and its edit form shows them in the fields. axe-core passes on the
    refused form."""
    watch = Watch(page)
    user, password, _ = make_user("operator", username="fielder")
    browser_sign_in(page, live_server, user, password)
    page.goto(f"{live_server}/schedules")
    expect(page.locator("#param-fields")).to_have_attribute("data-job-type", "simulate")
    page.select_option("#s-job-type", "primes")
    expect(page.locator("#param-fields")).to_have_attribute("data-job-type", "primes")
    expect(page.locator("#p-min_seconds")).to_have_count(0)
    page.fill("#s-name", "count primes")
    page.fill("#p-n", "1")
    page.fill("#p-delay_s", "0")
    page.fill("#s-cron", "")
    page.fill("#s-every", "600")
    page.locator("#p-n").evaluate("e => e.removeAttribute('min')")  # let the server judge
    watch.expect("422")
    page.click("#s-submit")
    expect(page.locator("#p-n-error")).to_contain_text("params.n:")
    expect(page.locator("#p-n")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#form-error")).to_contain_text("params.n:")
    assert page.locator("#s-name").input_value() == "count primes"
    assert page.locator("#s-every").input_value() == "600"
    assert page.locator("#s-job-type").input_value() == "primes"
    assert blocking_violations(page) == []  # axe-core: the refused form too
    page.fill("#p-n", "5000")
    page.click("#s-submit")
    page.wait_for_url(f"{live_server}/schedules/*")
    assert page.locator("#facts").inner_text().count("5000") == 1
    assert page.locator("#p-n").input_value() == "5000"
    assert page.locator("#s-params").input_value() == ""
    assert watch.unexpected() == [] and watch.csp_violations() == []
