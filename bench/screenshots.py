"""`make screenshots` (`python -m bench.screenshots [NAME ...]`): docs/screenshots/*.png, the
product as the README and the user guide show it.

The test suite's Chromium takes them from a live gunicorn with real workers and
dispatcher and seeded data: a volume that really loaded, a batch of short requests,
one request in each state. It runs on a database and broker vhost of its own
(dashboard_screenshots on the local services; TEST_DATABASE_URL / TEST_BROKER_URL in
the environment win), rebuilt from the migrations. NAMEs take only those pictures.

Not a test: it checks nothing about the product, but it fails loudly (exit status 1,
naming the picture) when a page does not answer 200, a script on it throws, or a
picture is not written.
"""
import sys
import time
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
PASSWORD = "correct horse battery"
# Who takes the pictures: an admin named "operator" (as the pictures show it), and a plain
# operator for the workers page the user guide describes as an operator's view.
USERS = {"admin": "operator", "operator": "worker-operator"}
# The same two roles for users who chose Korean (users.locale 'ko'): the *-ko pictures.
KOREAN_USERS = {"admin-ko": "kim", "operator-ko": "kim-operator"}


def _refused(page):
    """The new-request form after a refused submit: the error next to its field."""
    page.fill("#p-max_seconds", "2")
    page.fill("#p-fail_rate", "1.5")
    page.eval_on_selector("#new-request", "f => f.noValidate = true")
    page.click("#new-request button[type=submit]")
    page.wait_for_selector("#p-fail_rate-error")


def _schedule_refused(page):
    """The schedule form with primes' fields, after a refused value (shown at its field)."""
    page.select_option("#s-job-type", "primes")
    page.wait_for_selector('#param-fields[data-job-type="primes"]')
    page.fill("#s-name", "nightly primes")
    page.fill("#p-n", "1")
    page.fill("#s-cron", "0 2 * * *")
    page.fill("#s-tz", "Asia/Seoul")
    page.eval_on_selector("#schedule-form", "f => f.noValidate = true")
    page.click("#s-submit")
    page.wait_for_selector("#p-n-error")
    page.wait_for_selector("#next-runs tbody tr")
    return ".form-page"


def _one_paused(page):
    """The workers page after worker1's Pause (confirmed): one worker paused."""
    row = 'tr[data-worker="worker1@test"]'
    page.wait_for_selector(f'{row}[data-state="online"]')
    page.once("dialog", lambda dialog: dialog.accept())
    page.click(f'{row} button[data-action="pause"]')
    page.wait_for_selector(f'{row}[data-state="paused"]', timeout=20_000)


def _at_lesion(page):
    """The PET/CT phantom's viewer after a click on its lesion (the picture: the viewer)."""
    from tests.support.pet_samples import point_at_lesion
    return point_at_lesion(page)


def shots(ids, batched, volume, fusion=0):
    """(name, path, color scheme, what to do first: None, a selector to take alone, or a
    function of the page, the role of the user signed in)."""
    return [("list", "/", "light", None, "admin"), ("list-dark", "/", "dark", None, "admin"),
            ("request-failed", f"/requests/{ids['failure']}", "light", None, "admin"),
            ("request-batched", f"/requests/{batched}", "light", None, "admin"),
            ("request-batched-dark", f"/requests/{batched}", "dark", None, "admin"),
            ("volume", f"/requests/{volume}", "light", "#volume-viewer", "admin"),
            ("volume-fusion", f"/requests/{fusion}", "light", _at_lesion, "admin"),
            ("volume-fusion-dark", f"/requests/{fusion}", "dark", _at_lesion, "admin"),
            ("new-request", "/requests/new", "light", None, "admin"),
            ("new-request-dark", "/requests/new?job_type=load_array", "dark", None, "admin"),
            ("new-request-error", "/requests/new", "light", _refused, "admin"),
            ("new-request-error-dark", "/requests/new", "dark", _refused, "admin"),
            ("workers", "/workers", "light", _one_paused, "operator"),
            ("workers-dark", "/workers", "dark", None, "operator"),
            ("job-types", "/job-types", "light", None, "admin"),
            ("job-types-dark", "/job-types", "dark", None, "admin"),
            ("schedules", "/schedules", "light", None, "admin"),
            ("schedules-dark", "/schedules", "dark", None, "admin"),
            ("schedule-form", "/schedules", "light", _schedule_refused, "admin"),
            ("schedule-form-dark", "/schedules", "dark", _schedule_refused, "admin"),
            ("alerts", "/alerts", "light", None, "admin"),
            ("alerts-dark", "/alerts", "dark", None, "admin"),
            # The same product for a user who chose Korean.
            ("list-ko", "/", "light", None, "admin-ko"),
            ("list-ko-dark", "/", "dark", None, "admin-ko"),
            ("request-failed-ko", f"/requests/{ids['failure']}", "light", None, "admin-ko"),
            ("request-failed-ko-dark", f"/requests/{ids['failure']}", "dark", None, "admin-ko"),
            ("volume-ko", f"/requests/{volume}", "light", "#volume-viewer", "admin-ko"),
            ("new-request-error-ko", "/requests/new", "light", _refused, "admin-ko"),
            ("workers-ko", "/workers", "light", None, "operator-ko"),
            ("workers-ko-dark", "/workers", "dark", None, "operator-ko"),
            ("job-types-ko", "/job-types", "light", None, "admin-ko"),
            ("schedules-ko", "/schedules", "light", None, "admin-ko"),
            ("schedule-form-ko", "/schedules", "light", _schedule_refused, "admin-ko"),
            ("alerts-ko", "/alerts", "light", None, "admin-ko"),
            ("alerts-ko-dark", "/alerts", "dark", None, "admin-ko")]


NAMES = [name for name, *_ in shots({"failure": 0}, 0, 0)]


def _seed_alerts(app):
    """Three alert rules (one firing, one acknowledged, one ok) and a firing that ended."""
    from tests.support.db import sql
    rules = [("dispatcher silent", "dispatcher_down", '{"for_s": 15}', "firing", None),
             ("worker1 offline", "worker_offline", '{"worker": "worker1@test", "for_s": 60}',
              "firing", "2 hours"),
             ("backlog over 500", "backlog", '{"waiting": 500, "for_s": 120}', "ok", None)]
    for name, kind, params, state, acked in rules:
        rule_id = sql(app, "INSERT INTO alert_rules (name, kind, params, emails, webhook_url,"
                           " webhook_secret, state, since, acked_until, acked_by) VALUES (:n, :k,"
                           " CAST(:p AS jsonb), '[\"ops@example.org\"]',"
                           " 'https://hooks.example.org/dashboard', 'secret', :s,"
                           " now() - interval '3 minutes', now() + CAST(:a AS interval),"
                           " CASE WHEN :a IS NOT NULL THEN 'admin' END) RETURNING id",
                      n=name, k=kind, p=params, s=state, a=acked)[0]["id"]
        if state == "firing":
            sql(app, "INSERT INTO alert_firings (rule_id, started_at, detail, notified) VALUES"
                     " (:r, now() - interval '3 minutes', CAST(:d AS jsonb), :told)",
                r=rule_id, d='{"text": "%s over its limit"}' % name, told=acked is None)
            sql(app, "UPDATE alert_rules SET firing_id = (SELECT max(id) FROM alert_firings)"
                     " WHERE id = :r", r=rule_id)
        else:
            sql(app, "INSERT INTO alert_firings (rule_id, started_at, ended_at, detail,"
                     " end_detail, notified) VALUES (:r, now() - interval '5 hours',"
                     " now() - interval '4 hours 40 minutes',"
                     " '{\"text\": \"812 requests waiting (limit 500)\"}',"
                     " '{\"text\": \"37 requests waiting (limit 500)\"}', true)", r=rule_id)


def _batched(app, wait_status):
    """Ten short requests committed together (so they share a batch message); one of them."""
    from tests.support.db import insert_requests
    ids = insert_requests(app, [{"min_seconds": 0, "max_seconds": 0.05}] * 10, "operator")
    for request_id in ids:
        wait_status(app, request_id, "success", timeout=60)
    return ids[4]


def take(browser, base_url, name, path, scheme, action, role):
    """One picture: docs/screenshots/NAME.png. Returns what went wrong ('' when nothing)."""
    from tests.support.browser import browser_sign_in
    context = browser.new_context(viewport={"width": 1400, "height": 1000},
                                  color_scheme=scheme)
    try:
        page = context.new_page()
        thrown = []
        page.on("pageerror", lambda exc: thrown.append(str(exc)))
        browser_sign_in(page, base_url, {**USERS, **KOREAN_USERS}[role], PASSWORD)
        response = page.goto(base_url + path)
        if response is None or response.status != 200:
            return f"GET {path} answered {response.status if response else 'nothing'}"
        if isinstance(action, str):   # only this part of the page
            page.wait_for_function("() => [...document.querySelectorAll('img.slice')]"
                                   ".every(i => i.complete && i.naturalWidth > 0)")
            page.wait_for_timeout(500)
            png = page.locator(action).screenshot()
        else:
            alone = action(page) if action else None   # an action may name the part to take
            page.wait_for_timeout(500)
            png = page.locator(alone).screenshot() if alone else page.screenshot(full_page=True)
        if thrown:
            return f"{path}: the page threw {thrown}"
    finally:
        context.close()
    target = OUT / f"{name}.png"
    target.write_bytes(png)
    if not png.startswith(b"\x89PNG\r\n\x1a\n") or target.read_bytes() != png:
        return f"{target} was not written as a PNG"
    return ""


def main(argv=None):
    wanted = sys.argv[1:] if argv is None else argv
    unknown = sorted(set(wanted) - set(NAMES))
    if unknown:
        print(f"unknown picture(s) {', '.join(unknown)}; known: {', '.join(NAMES)}",
              file=sys.stderr)
        return 2
    from tests.support.script import chromium, live_server, stack_session
    with stack_session("screenshots") as (app, stack):
        from tests.support.db import sql, wait_status
        from tests.support.pet_samples import seed_fusion
        from tests.support.seed import (
            create_user,
            seed_requests,
            seed_upload_name,
            seed_volume,
        )
        token = create_user(app, "admin", USERS["admin"], PASSWORD)
        create_user(app, "operator", USERS["operator"], PASSWORD)
        for role, username in KOREAN_USERS.items():
            create_user(app, role.removesuffix("-ko"), username, PASSWORD)
            sql(app, "UPDATE users SET locale = 'ko' WHERE username = :u", u=username)
        volume = seed_volume(app, token, wait_status)
        fusion = seed_fusion(app, token, wait_status) if not wanted or any(
            name.startswith("volume-fusion") for name in wanted) else 0
        batched = _batched(app, wait_status)
        stack.stop_dispatcher()
        ids = seed_requests(app)
        _seed_alerts(app)
        seed_upload_name(app, ids["success"])
        OUT.mkdir(parents=True, exist_ok=True)
        failed, started = [], time.monotonic()
        with live_server() as base_url, chromium() as browser:
            for name, path, scheme, action, role in shots(ids, batched, volume, fusion):
                if wanted and name not in wanted:
                    continue
                try:
                    problem = take(browser, base_url, name, path, scheme, action, role)
                except Exception as exc:  # a page that never got there: say which, go on
                    problem = f"{exc.__class__.__name__}: {str(exc).splitlines()[0]}"
                print(f"{'FAILED' if problem else 'wrote '} {OUT / name}.png"
                      f"{': ' + problem if problem else ''}", flush=True)
                if problem:
                    failed.append(name)
    print(f"{time.monotonic() - started:.0f} s;"
          f" {'failed: ' + ', '.join(failed) if failed else 'every picture written'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
