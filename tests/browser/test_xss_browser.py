"""Text a user controls renders as text in Chromium: no script runs, nothing is injected.

Payloads go in through the real paths where they can (a file name through the submit form,
params through the form's error) and straight into the database where a worker would write
them (error text, tracebacks, stored params). Each payload would set window.__xss, open a
dialog or add an <img src=x>/<svg> element if it were ever parsed as HTML; the test asserts
none of that happened, that the payload is visible as text, and that the CSP reported no
violation (so the pages themselves need no inline script either).
"""
import json

import pytest

from tests.support.browser import browser_sign_in
from tests.support.db import sql
from tests.support.procs import wait_for

pytestmark = pytest.mark.browser

NAME = "<img src=x onerror=window.__xss=1;alert(1)>.bin"
KEY = "<script>window.__xss=2</script>"
ERROR = "<svg onload=window.__xss=3;alert(3)></svg>\"'><img src=x onerror=window.__xss=4>"
TRACE = "Traceback:\n  </pre><script>window.__xss=5</script><pre>"


@pytest.fixture
def watched(page):
    """The page, with dialogs and console CSP reports recorded."""
    seen = {"dialogs": [], "csp": []}
    page.on("dialog", lambda dialog: (seen["dialogs"].append(dialog.message), dialog.dismiss()))
    page.on("console", lambda msg: "Content Security Policy" in msg.text
            and seen["csp"].append(msg.text))
    page.seen = seen
    return page


def _clean(page):
    """Assert no payload ran or became an element."""
    assert page.evaluate("window.__xss") is None
    assert page.locator("img[src='x']").count() == 0
    # the overview's charts are the page's own SVGs; no other may appear
    assert page.locator("main svg:not(#overview svg), main script").count() == 0
    assert page.seen["dialogs"] == [] and page.seen["csp"] == []


def _failed_request(app):
    """A failed request whose stored text is all payloads, as a worker could have written it."""
    upload = sql(app, "INSERT INTO uploads (filename, safe_name, size, sha256, content_type,"
                      " data) VALUES (:f, 'x.bin', 1, repeat('0', 64), 'text/html', '\\x00')"
                      " RETURNING id", f=NAME)[0]["id"]
    row = sql(app, "INSERT INTO requests (job_type, params, status, error, traceback,"
                   " submitted_by, upload_id, finished_at) VALUES ('simulate', :p, 'failure',"
                   " :e, :t, :who, :u, now()) RETURNING id",
              p=json.dumps({"note": KEY, ERROR: 1}), e=ERROR, t=TRACE, who=KEY, u=upload)[0]
    sql(app, "INSERT INTO attempts (request_id, number, status, triggered_by, error, traceback)"
             " VALUES (:r, 1, 'failure', :who, :e, :t)", r=row["id"], who=KEY, e=ERROR, t=TRACE)
    return row["id"]


def test_file_name_from_the_form_renders_as_text(live_server, watched, make_user):
    """A file uploaded with an HTML name shows that name as text on the request's page."""
    page = watched
    username, password, _ = make_user("operator")
    browser_sign_in(page, live_server, username, password)
    page.goto(f"{live_server}/requests/new")
    page.select_option("#job_type", "simulate")
    page.set_input_files("#file", files=[{"name": NAME, "mimeType": "text/html",
                                          "buffer": b"<script>window.__xss=9</script>"}])
    page.click("#new-request details.advanced summary")  # the raw JSON box
    page.fill("#params", json.dumps({"hang": True}))
    page.click("#new-request button[type=submit]")
    page.wait_for_url(f"{live_server}/requests/*")
    file_fact = page.locator("dl.facts dt:text-is('File') + dd")
    assert file_fact.inner_text().startswith(NAME)
    _clean(page)
    page.goto(f"{live_server}/")
    assert NAME in page.locator("table.requests tbody tr").first.inner_text()
    _clean(page)


def test_params_in_the_form_error_render_as_text(live_server, watched, make_user, app):
    """Unknown-parameter names are echoed in the 422 error and the textarea, as text only."""
    page = watched
    username, password, _ = make_user("operator")
    browser_sign_in(page, live_server, username, password)
    page.goto(f"{live_server}/requests/new")
    params = json.dumps({KEY: 1})
    page.click("#new-request details.advanced summary")  # the raw JSON box
    page.fill("#params", params)
    page.click("#new-request button[type=submit]")
    page.wait_for_selector("#form-error")
    assert page.inner_text("#form-error") == f"params.{KEY}: unknown parameter"
    assert page.input_value("#params") == params
    _clean(page)
    page.goto(f"{live_server}/audit?action=submit")
    assert KEY in page.inner_text("table.audit")
    _clean(page)


def test_error_text_params_and_traceback_render_as_text(live_server, watched, make_user, app):
    """A failure's error, traceback, params and submitter show as text, also after a live poll."""
    page = watched
    request_id = _failed_request(app)
    username, password, _ = make_user("viewer")
    browser_sign_in(page, live_server, username, password)
    page.goto(f"{live_server}/requests/{request_id}")
    assert page.inner_text("#error") == ERROR
    page.click("#request-detail details summary")
    assert TRACE.strip() in page.locator("pre.traceback").first.inner_text()
    assert KEY in page.inner_text("#params-table")  # params as a key/value table
    _clean(page)

    page.goto(f"{live_server}/")
    row = page.locator(f"#request-{request_id}")
    assert NAME in row.inner_text() and KEY in row.inner_text()
    token = page.get_attribute("#requests", "data-token")
    sql(app, "UPDATE requests SET error = :e WHERE id = :i", e=ERROR + " (again)", i=request_id)
    wait_for(lambda: page.get_attribute("#requests", "data-token") != token, 15,
             what="the live list to poll and swap in the new rows")
    assert page.locator(f"#request-{request_id}").count() == 1
    _clean(page)
