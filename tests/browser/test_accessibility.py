"""axe-core in Chromium on every page, light and dark, in English and Korean, with data on the pages.

The pages are listed in PAGES (a path, or a function of the seeded ids giving one):
a new page joins the check by adding a line there. The seeded ids are one request
per status (a failure with a traceback among them), a load_array request that
really ran (its page has the slice viewer with a real volume) and a schedule with
a run. The new-request form is also checked showing an inline error. A serious or
critical violation fails the test with axe's rule id, the elements and the help text.
"""
import pytest
from axe_playwright_python.sync_playwright import Axe

from tests.support.browser import browser_sign_in
from tests.support.db import sql

pytestmark = pytest.mark.browser

PAGES = [
    "/",
    "/?status=failure",
    lambda ids: f"/requests/{ids['failure']}",
    lambda ids: f"/requests/{ids['success']}",
    lambda ids: f"/requests/{ids['running']}",
    lambda ids: f"/requests/{ids['volume']}",
    "/requests/new",
    "/requests/new?job_type=load_array",
    lambda ids: f"/requests/{ids['failure']}/rerun",
    "/workers",
    "/job-types",
    "/processes",
    "/schedules",
    lambda ids: f"/schedules/{ids['schedule']}",
    "/audit",
    "/users",
    "/alerts",
]
SIGNED_OUT_PAGES = ["/login"]
BLOCKING = ("serious", "critical")


def blocking_violations(page):
    """axe's serious and critical violations on the page, one readable line each."""
    results = Axe().run(page)
    return [f"{v['id']} ({v['impact']}): {v['help']} -> "
            + "; ".join(" ".join(n["target"]) for n in v["nodes"][:5])
            for v in results.response["violations"] if v["impact"] in BLOCKING]


def themed_page(browser, scheme, language="en"):
    """A page in `scheme` whose browser asks for `language` (Accept-Language)."""
    context = browser.new_context(viewport={"width": 1400, "height": 900}, color_scheme=scheme,
                                  locale={"en": "en-US", "ko": "ko-KR"}[language])
    page = context.new_page()
    page.set_default_timeout(20_000)
    return context, page


def form_with_an_error(page, live_server):
    """The new-request form as a refused submit leaves it: the error next to its field."""
    page.goto(live_server + "/requests/new")
    page.fill("#p-fail_rate", "3")
    page.eval_on_selector("#new-request", "f => f.noValidate = true")
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.click("#new-request button[type=submit]")
    assert answer.value.status == 422
    assert page.get_attribute("#p-fail_rate", "aria-invalid") == "true"


@pytest.mark.parametrize("scheme, language", [("light", "en"), ("dark", "en"),
                                              ("light", "ko"), ("dark", "ko")])
def test_every_page_passes_axe(app, browser, live_server, make_user, seeded_volume, seeded_pages,
                               seeded_schedule, scheme, language):
    """No serious or critical violation on any page, signed in as admin and signed out, in
    English and in Korean (a Korean browser signed out, an admin who chose Korean)."""
    ids = {**seeded_pages, "volume": seeded_volume, "schedule": seeded_schedule}
    context, page = themed_page(browser, scheme, language)
    try:
        found = {}
        for path in SIGNED_OUT_PAGES:
            page.goto(live_server + path)
            assert page.get_attribute("html", "lang") == language, path
            found[path] = blocking_violations(page)
        username, password, _ = make_user("admin")
        sql(app, "UPDATE users SET locale = :l WHERE username = :u", l=language, u=username)
        browser_sign_in(page, live_server, username, password)
        for entry in PAGES:
            path = entry(ids) if callable(entry) else entry
            response = page.goto(live_server + path)
            assert response.status == 200, path
            assert page.get_attribute("html", "lang") == language, path
            if path == f"/requests/{seeded_volume}":
                page.wait_for_function("() => [...document.querySelectorAll('img.slice')]"
                                       ".every(i => i.complete && i.naturalWidth > 0)")
                assert page.locator("img.slice").count() == 3, "no slice viewer"
            if path == f"/schedules/{seeded_schedule}":
                assert "nightly-calibration" in page.inner_text("main")
            found[path] = blocking_violations(page)
        form_with_an_error(page, live_server)
        found["/requests/new (refused, inline error)"] = blocking_violations(page)
        dark = page.evaluate("getComputedStyle(document.body).backgroundColor")
        assert (dark == "rgb(18, 22, 30)") == (scheme == "dark"), dark
    finally:
        context.close()
    assert {p: v for p, v in found.items() if v} == {}


def test_theme_toggle_is_remembered(browser, live_server, make_user, seeded_pages):
    """The toggle overrides the system setting, survives a reload, and is keyboard-reachable."""
    context, page = themed_page(browser, "light")
    try:
        username, password, _ = make_user("viewer")
        browser_sign_in(page, live_server, username, password)
        toggle = page.locator("[data-theme-toggle]")
        assert toggle.get_attribute("aria-pressed") == "false"
        toggle.focus()
        assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") == "solid"
        page.keyboard.press("Enter")
        assert page.get_attribute("html", "data-theme") == "dark"
        page.reload()
        assert page.get_attribute("html", "data-theme") == "dark"
        assert page.locator("[data-theme-toggle]").get_attribute("aria-pressed") == "true"
        assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(18, 22, 30)"
        page.locator("[data-theme-toggle]").click()
        page.reload()
        assert page.get_attribute("html", "data-theme") == "light"
        assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(246, 247, 249)"
    finally:
        context.close()


def test_status_is_shown_by_text_and_shape(browser, live_server, make_user, seeded_pages):
    """Each status badge carries its name and a distinct symbol, not colour alone."""
    context, page = themed_page(browser, "light")
    try:
        username, password, _ = make_user("viewer")
        browser_sign_in(page, live_server, username, password)
        symbols = page.evaluate("""[...document.querySelectorAll('#requests tr[data-id] .badge')]
            .map(b => [b.textContent.trim(), getComputedStyle(b, '::before').content])""")
        assert sorted(t for t, _ in symbols) == sorted(
            ["failure", "success", "running", "pending", "unassigned", "killed", "timeout"])
        shapes = {s for _, s in symbols}
        assert len(shapes) == 7 and "none" not in shapes, symbols
    finally:
        context.close()
