"""Debian's Chromium under Playwright: the flags it is launched with, signing in by the form,
and Watch: what went wrong on a page (console, page and HTTP errors, CSP violations)."""
import os

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-quic",
                 "--disable-sync"]


def browser_sign_in(page, base_url, username, password):
    """Sign in through the login form in a real browser page; waits for the list."""
    page.goto(f"{base_url}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base_url}/")


# Runs before any page script and is not subject to the page's CSP.
WATCH = """
window.__csp = [];
window.__statuses = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__csp.push(e.violatedDirective + " " + (e.blockedURI || "inline"));
});
document.addEventListener("htmx:afterSettle", function () {
  var el = document.querySelector("#request-detail");
  if (el) window.__statuses.push(el.dataset.status);
});
"""


class Watch:
    """What went wrong on a page: console errors, page errors, HTTP errors; some may be expected."""

    def __init__(self, page):
        self.page, self.errors, self.expected = page, [], []
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        page.on("response", lambda r: self.errors.append(f"{r.status} {r.url}")
                if r.status >= 400 else None)
        page.add_init_script(WATCH)

    def expect(self, text):
        """Errors containing `text` are part of what the test provokes."""
        self.expected.append(text)

    def unexpected(self):
        return [e for e in self.errors if not any(t in e for t in self.expected)]

    def csp_violations(self):
        return self.page.evaluate("window.__csp")
