"""In Chromium: the new-request form built from the job type's JSON Schema, and the upload.

A bad value is refused next to its field (aria-invalid, the error text it points at),
the entered values kept and nothing stored; a good one lands on the request's page
with the params entered. Changing the job type swaps the fields (htmx). A dropped
file of a few tens of MB uploads through gunicorn with the progress element moving,
and ends on the new request's page. Without JavaScript the plain form still posts.
"""
import re
import time

import pytest

from tests.support.browser import Watch, browser_sign_in
from tests.support.db import counts, fetch, sql

pytestmark = pytest.mark.browser

DETAIL = r"/requests/(\d+)$"


def _sign_in(page, live_server, make_user):
    username, password, _ = make_user("operator")
    browser_sign_in(page, live_server, username, password)
    page.goto(f"{live_server}/requests/new")


def _described_by(page, selector):
    """The texts an element's aria-describedby points at."""
    return page.evaluate("""s => (document.querySelector(s).getAttribute('aria-describedby') || '')
        .split(' ').filter(Boolean).map(id => document.getElementById(id).textContent.trim())""",
                         selector)


def test_schema_fields_refuse_a_bad_value_inline_then_submit(app, stack, live_server, page,
                                                             make_user):
    watch = Watch(page)
    _sign_in(page, live_server, make_user)
    low = page.locator("#p-min_seconds")
    assert (low.get_attribute("type"), low.get_attribute("min"), low.get_attribute("max")) == (
        "number", "0", "3600")
    assert low.input_value() == "1"                                # the default, shown
    assert page.locator("label[for=p-min_seconds]").inner_text().startswith("Shortest run (s)")
    assert "at least this long" in " ".join(_described_by(page, "#p-min_seconds"))
    assert page.locator("#p-hang").get_attribute("type") == "checkbox"
    assert not page.locator("#new-request details.advanced").evaluate("d => d.open")

    before = counts(app)
    page.fill("#p-min_seconds", "0.2")
    page.fill("#p-max_seconds", "0.4")
    page.fill("#p-fail_rate", "3")          # over its maximum of 1
    page.fill("#p-log_lines", "2")
    # The browser itself would stop the submit at max=1; the server's refusal is the one shown.
    page.eval_on_selector("#new-request", "f => f.noValidate = true")
    watch.expect("422")
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.click("#new-request button[type=submit]")
    assert answer.value.status == 422
    field = page.locator("#p-fail_rate")
    assert field.get_attribute("aria-invalid") == "true"
    error = page.locator("#p-fail_rate-error")
    assert error.inner_text() == "params.fail_rate: 3 is greater than the maximum of 1"
    assert "params.fail_rate: 3 is greater than the maximum of 1" in _described_by(
        page, "#p-fail_rate")
    assert page.locator("#p-max_seconds").get_attribute("aria-invalid") is None
    assert (field.input_value(), page.input_value("#p-min_seconds"),
            page.input_value("#p-log_lines")) == ("3", "0.2", "2")     # kept
    assert counts(app) == before                                       # nothing stored

    page.fill("#p-fail_rate", "0")
    page.click("#new-request button[type=submit]")
    page.wait_for_url(re.compile(re.escape(live_server) + DETAIL))
    request_id = int(re.search(DETAIL, page.url).group(1))
    params = fetch(app, request_id)["params"]
    assert (params["min_seconds"], params["max_seconds"], params["fail_rate"],
            params["log_lines"], params["hang"]) == (0.2, 0.4, 0, 2, False)
    table = page.locator("#request-detail").inner_text()
    assert "min_seconds" in table and "0.2" in table and "log_lines" in table
    assert watch.unexpected() == [] and watch.csp_violations() == []


def test_changing_the_job_type_swaps_the_fields(app, stack, live_server, page, make_user):
    watch = Watch(page)
    _sign_in(page, live_server, make_user)
    assert page.locator("#p-shape-0").count() == 0
    page.select_option("#job_type", "load_array")
    page.wait_for_selector("#p-shape-0")
    assert page.locator("#p-min_seconds").count() == 0
    assert [page.locator(f"label[for=p-shape-{i}]").inner_text().strip() for i in range(3)] == [
        "shape[0]", "shape[1]", "shape[2]"]
    shape = page.locator("#p-shape-1")
    assert (shape.get_attribute("min"), shape.get_attribute("max"), shape.get_attribute(
        "step")) == ("1", "4096", "1")
    assert page.locator("#p-dtype option").all_inner_texts()[:2] == ["— default —", "uint8"]

    # An array element out of range is marked on that element; the others keep their text.
    for i, value in enumerate(["4", "0", "4"]):
        page.fill(f"#p-shape-{i}", value)
    page.eval_on_selector("#new-request", "f => f.noValidate = true")
    watch.expect("422")
    page.click("#new-request button[type=submit]")
    page.wait_for_selector("#p-shape-error")
    assert page.locator("#p-shape-1").get_attribute("aria-invalid") == "true"
    assert page.locator("#p-shape-0").get_attribute("aria-invalid") is None
    assert page.inner_text("#p-shape-error").startswith("params.shape.1: 0 is less than")
    assert [page.input_value(f"#p-shape-{i}") for i in range(3)] == ["4", "0", "4"]
    assert page.input_value("#job_type") == "load_array"

    page.select_option("#job_type", "simulate")
    page.wait_for_selector("#p-min_seconds")
    assert page.locator("#p-shape-0").count() == 0
    assert watch.unexpected() == [] and watch.csp_violations() == []


def test_dropped_file_uploads_with_progress_to_the_request_page(app, stack, live_server, page,
                                                                make_user):
    watch = Watch(page)
    _sign_in(page, live_server, make_user)
    page.fill("#p-min_seconds", "0")
    page.fill("#p-max_seconds", "0.1")
    size = 40 * 1024 * 1024
    # Every value the progress element takes, as the page sets it (kept past the navigation).
    seen = []
    page.expose_function("__progress", lambda value: seen.append(value))
    page.evaluate("""() => {
        new MutationObserver(() => window.__progress(
            Number(document.getElementById('upload-progress').getAttribute('value'))))
          .observe(document.getElementById('upload-progress'), {attributes: true}); }""")
    page.evaluate("""size => {
        const bytes = new Uint8Array(size);
        for (let i = 0; i < size; i += 4096) bytes[i] = i % 251;
        const data = new DataTransfer();
        data.items.add(new File([bytes], 'scan-40mb.bin', {type: 'application/octet-stream'}));
        const zone = document.querySelector('[data-dropzone]');
        for (const type of ['dragenter', 'dragover', 'drop'])
          zone.dispatchEvent(new DragEvent(type, {dataTransfer: data, bubbles: true,
                                                  cancelable: true}));
    }""", size)
    assert page.inner_text("#file-chosen") == "Chosen: scan-40mb.bin (40.0 MB)"
    # Slow the upload to ~25 MB/s so the progress has time to move.
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", {
        "offline": False, "latency": 0, "downloadThroughput": -1,
        "uploadThroughput": 25 * 1024 * 1024})
    started = time.monotonic()
    page.click("#new-request button[type=submit]")
    page.wait_for_selector("#upload-status:not([hidden])")
    page.wait_for_url(re.compile(re.escape(live_server) + DETAIL), timeout=60_000)
    print(f"40 MB dropped file: on its request's page after {time.monotonic() - started:.1f} s;"
          f" progress values seen: {seen}")
    assert seen[0] == 0 and seen[-1] == 100 and any(0 < v < 100 for v in seen), seen
    assert seen == sorted(seen)
    request_id = int(re.search(DETAIL, page.url).group(1))
    assert page.locator(".notice").first.inner_text() == f"Request #{request_id} submitted."
    facts = page.locator("dl.facts dt:text-is('File') + dd").inner_text()
    assert facts.startswith("scan-40mb.bin") and "40" in facts
    stored = sql(app, "SELECT u.size FROM requests r JOIN uploads u ON u.id = r.upload_id"
                      " WHERE r.id = :id", id=request_id)
    assert stored == [{"size": size}]
    assert watch.unexpected() == [] and watch.csp_violations() == []


def test_upload_refusal_shows_the_servers_error(app, stack, live_server, page, make_user):
    """load_array with a file that is no volume: the form comes back with the file's error."""
    watch = Watch(page)
    _sign_in(page, live_server, make_user)
    page.select_option("#job_type", "load_array")
    page.wait_for_selector("#p-shape-0")
    page.set_input_files("#file", files=[{"name": "notes.txt", "mimeType": "text/plain",
                                          "buffer": b"not a volume" * 1000}])
    before = counts(app)
    watch.expect("422")
    page.click("#new-request button[type=submit]")
    page.wait_for_selector("#form-alert")
    assert page.url == f"{live_server}/requests/new"
    assert page.evaluate("document.activeElement.id") == "form-alert"
    message = page.inner_text("#form-error")
    assert message.startswith("file:") or message.startswith("params."), message
    assert counts(app) == before
    assert watch.unexpected() == [] and watch.csp_violations() == []


def test_without_javascript_the_plain_form_posts(app, stack, browser, live_server, make_user):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        username, password, _ = make_user("operator")
        browser_sign_in(page, live_server, username, password)
        page.goto(f"{live_server}/requests/new")
        page.click("a:text-is('load_array')")
        page.wait_for_selector("#p-shape-0")
        assert page.input_value("#job_type") == "load_array"
        page.click("a:text-is('simulate')")
        page.wait_for_selector("#p-min_seconds")
        page.fill("#p-min_seconds", "0")
        page.fill("#p-max_seconds", "0.2")
        page.check("#p-hang")
        page.uncheck("#p-hang")
        page.click("#new-request button[type=submit].primary")
        page.wait_for_url(re.compile(re.escape(live_server) + DETAIL))
        request_id = int(re.search(DETAIL, page.url).group(1))
        params = fetch(app, request_id)["params"]
        assert (params["min_seconds"], params["max_seconds"], params["hang"]) == (0, 0.2, False)
    finally:
        context.close()
