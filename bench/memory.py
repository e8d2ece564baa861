"""Web memory and CPU: RSS and CPU of gunicorn while simulated viewers poll the list page.

gunicorn runs as deploy/supervisord.conf runs it (gthread, 2 workers x 8 threads,
access log on). Each viewer is a signed-in requests.Session (one keep-alive
connection) on a thread of this process that polls what the list page's htmx
polls, every POLL_INTERVAL_S: the list partial with the token of its last answer,
and the overview with the digest of its last answer. A trickle of short requests
through the dispatcher and a worker keeps the list changing, so polls render as
well as answer 204. RSS (sum over the workers) is sampled after a warm-up and
every 5 s to the end; web CPU is read from /proc for the gunicorn master and its
workers only (the viewers run here, in the bench's process, and are not counted),
per viewer over the first and the last 20 % of the soak. Growth is end vs start.
"""
import json
import random
import re
import threading
import time

import requests

from dashboard import jobs, lifecycle
from dashboard.extensions import db

from . import dashboard as dash, stack, users
from .report import percentile

DATA_TOKEN_RE = re.compile(r'data-token="([0-9]+-[0-9]+(?:-[0-9.]+)?)"')
DIGEST_RE = re.compile(r'data-digest="([0-9a-f]+)"')


SIGN_INS = threading.BoundedSemaphore(4)


class Viewer(threading.Thread):
    """One browser tab on the list page, polling like htmx."""

    def __init__(self, base_url, username, interval, stop):
        super().__init__(daemon=True)
        self.base_url, self.username, self.interval, self.stop = base_url, username, interval, stop
        self.session = requests.Session()
        self.times, self.codes, self.errors, self.last_error = [], {}, 0, None
        self.overview_codes, self.signed_in = {}, False
        self.ready = threading.Event()

    def run(self):
        try:
            with SIGN_INS:   # argon2 at 64 MiB each: a few at a time, not 200 at once
                users.sign_in_session(self.session, self.base_url, self.username)
            self.signed_in = True
            page = self.session.get(f"{self.base_url}/", timeout=30)
            token = DATA_TOKEN_RE.search(page.text).group(1)
            digest = DIGEST_RE.search(page.text).group(1)
        except Exception as exc:
            self.errors, self.last_error = self.errors + 1, f"sign-in: {exc!r}"[:300]
            return
        finally:
            self.ready.set()
        self.stop.wait(random.uniform(0, self.interval))   # spread the viewers out
        while not self.stop.is_set():
            t0 = time.perf_counter()
            try:
                r = self.session.get(f"{self.base_url}/", params={"since": token}, timeout=30,
                                     headers={"HX-Request": "true"})
                self.times.append(1000 * (time.perf_counter() - t0))
                self.codes[r.status_code] = self.codes.get(r.status_code, 0) + 1
                if r.status_code == 200:
                    token = DATA_TOKEN_RE.search(r.text).group(1)
                o = self.session.get(f"{self.base_url}/overview", params={"since": digest},
                                     timeout=30, headers={"HX-Request": "true"})
                self.overview_codes[o.status_code] = self.overview_codes.get(o.status_code, 0) + 1
                if o.status_code == 200:
                    digest = DIGEST_RE.search(o.text).group(1)
            except Exception as exc:
                self.errors, self.last_error = self.errors + 1, f"poll: {exc!r}"[:300]
            self.stop.wait(max(0.0, self.interval - (time.perf_counter() - t0)))


def _workers_rss(master_pid):
    """(total kB, per-worker kB) of the gunicorn workers."""
    per = {pid: stack.rss_kb(pid) for pid in stack.children(master_pid)}
    return sum(per.values()), per


def _cpu_per_viewer(samples, viewers, start, end):
    """Web CPU in ms per second per viewer between fractions `start` and `end` of the soak."""
    span = samples[-1]["t"]
    if len(samples) < 2 or not span:
        return float("nan")
    if start == 0.0:   # from the first sample to the first one at `end` of the soak or later
        first = samples[0]
        last = next(s for s in samples[1:] if s["t"] >= end * span)
    else:              # from the last sample at `start` or earlier to the last one
        last = samples[-1]
        first = [s for s in samples[:-1] if s["t"] <= start * span][-1]
    if last["t"] <= first["t"] or not viewers:
        return float("nan")
    return 1000.0 * (last["cpu_s"] - first["cpu_s"]) / (last["t"] - first["t"]) / viewers


def _tally(per_viewer):
    """{status code: answers} summed over the viewers' own tallies."""
    total = {}
    for codes in per_viewer:
        for code, n in codes.items():
            total[code] = total.get(code, 0) + n
    return total


def _answered(codes, errors=0):
    """"200s / 204s / other" of a tally (`errors`: polls that got no answer, counted as other)."""
    other = sum(n for c, n in codes.items() if c not in (200, 204)) + errors
    return f"{codes.get(200, 0)} / {codes.get(204, 0)} / {other}"


def _trickle(app, stop, every_s=10.0):
    """Submit a short request every `every_s` until stopped: the list changes now and then,
    so most polls answer 204 and some render."""
    params = json.dumps(jobs.get("simulate").validate(
        {"min_seconds": 0.2, "max_seconds": 1.0}, None))
    while not stop.wait(every_s):
        with app.app_context():
            lifecycle.submit("simulate", params, None, "bench-trickle")
            db.session.commit()


def run(app, opts):
    """Live gunicorn + dispatcher + worker; opts.viewers viewers for opts.soak seconds."""
    if dash.row_count(app) != opts.rows:   # the dashboard section's seed, or the same anew
        dash.seed(app, opts.rows)
    for i in range(opts.viewers):
        users.ensure_user(app, f"viewer{i}", "viewer")
    interval = app.config["POLL_INTERVAL_S"]
    port = stack.free_port()
    base_url = f"http://127.0.0.1:{port}"
    web = stack.Proc("web", stack.web_argv(port) + ["--access-logfile", "-"]).start()
    worker = stack.worker("pipe", concurrency=opts.concurrency).start()
    dispatcher = stack.dispatcher().start()
    stop, trickle_stop = threading.Event(), threading.Event()
    viewers = []
    samples, idle_kb = [], 0
    try:
        stack.wait_for(lambda: stack.answers(f"{base_url}/healthz"), 60,
                       what="gunicorn answering")
        stack.wait_online(app.extensions["celery"], ["pipe@bench"])
        idle_kb = _workers_rss(web.pid)[0]
        trickle = threading.Thread(target=_trickle, args=(app, trickle_stop), daemon=True)
        trickle.start()
        viewers = [Viewer(base_url, f"viewer{i}", interval, stop) for i in range(opts.viewers)]
        for v in viewers:
            v.start()
        # Sign-in hashes passwords with argon2 (64 MiB each): measure after, not during.
        for v in viewers:
            v.ready.wait(300)
        warmup = min(30.0, max(2.0, opts.soak / 5))
        time.sleep(warmup)
        t0 = time.monotonic()
        while True:
            total, per = _workers_rss(web.pid)
            samples.append({"t": round(time.monotonic() - t0, 1), "rss_kb": total, "per": per,
                            "cpu_s": stack.cpu_seconds(web.pid)})
            if time.monotonic() - t0 >= opts.soak:
                break
            time.sleep(min(5.0, opts.soak / 10, max(0.0, opts.soak - (time.monotonic() - t0))))
    finally:
        stop.set()
        trickle_stop.set()
        for v in viewers:
            v.join(35)
        dispatcher.stop()
        worker.stop()
        web.stop()
    start, end = samples[0]["rss_kb"], samples[-1]["rss_kb"]
    peak = max(s["rss_kb"] for s in samples)
    times = [t for v in viewers for t in v.times]
    codes = _tally(v.codes for v in viewers)
    overview_codes = _tally(v.overview_codes for v in viewers)
    errors = sum(v.errors for v in viewers)
    growth = 100.0 * (end - start) / start if start else float("nan")
    active = sum(1 for v in viewers if v.signed_in and v.times)   # viewers that polled
    first_cpu, last_cpu = _cpu_per_viewer(samples, active, 0.0, 0.2), \
        _cpu_per_viewer(samples, active, 0.8, 1.0)
    cpu_growth = 100.0 * (last_cpu - first_cpu) / first_cpu if first_cpu else float("nan")
    total_cpu = (samples[-1]["cpu_s"] - samples[0]["cpu_s"]) / max(samples[-1]["t"], 1e-9)
    metrics = [
        {"name": f"web RSS growth over {opts.soak:.0f} s, {opts.viewers} viewers",
         "value": growth, "unit": "%", "goal": 10.0, "cmp": "<="},
        {"name": "web CPU per viewer growth (first vs last 20 % of the soak)",
         "value": cpu_growth, "unit": "%", "goal": 10.0, "cmp": "<="},
        {"name": "  web CPU per viewer, first / last 20 %",
         "value": f"{first_cpu:.2f} / {last_cpu:.2f}", "unit": "ms CPU/s"},
        {"name": "  web CPU, all viewers", "value": 100.0 * total_cpu, "unit": "% of a core"},
        {"name": "  viewers signed in and polling", "value": active, "unit": ""},
        {"name": "  polls per viewer per second (one poll: list + overview)",
         "value": (sum(codes.values()) / active / max(samples[-1]["t"], 1e-9)) if active else 0.0,
         "unit": f"(goal 1/{interval:g} s)"},
        {"name": "  RSS start / end / peak (all workers)",
         "value": f"{start / 1024:.1f} / {end / 1024:.1f} / {peak / 1024:.1f}", "unit": "MB"},
        {"name": "  polls answered (200 / 204 / other)", "value": _answered(codes, errors),
         "unit": ""},
        {"name": "  overview polls (200 / 204 / other)", "value": _answered(overview_codes),
         "unit": ""},
        {"name": "  list poll over HTTP p50 / p95", "value": f"{percentile(times, 50):.1f} / "
         f"{percentile(times, 95):.1f}", "unit": "ms"},
    ]
    details = {"idle_rss_kb": idle_kb, "soak_s": opts.soak, "warmup_s": warmup,
               "viewers": opts.viewers, "active_viewers": active,
               "samples": samples, "codes": codes, "overview_codes": overview_codes,
               "errors": errors, "cpu_ms_per_viewer_s": [first_cpu, last_cpu],
               "error_examples": sorted({v.last_error for v in viewers if v.last_error})[:5],
               "rows": dash.row_count(app)}
    return metrics, details
