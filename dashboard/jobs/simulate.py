"""`simulate`: the original demo job: sleep a random time, maybe fail, maybe hang."""
import logging
import random
import time

from celery.exceptions import SoftTimeLimitExceeded
from flask_babel import gettext as _

from dashboard.errors import Refused
from dashboard.jobs import JobType

log = logging.getLogger(__name__)


class SimulatedFailure(RuntimeError):
    """Raised on purpose, with probability `fail_rate`."""


SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "min_seconds": {"type": "number", "minimum": 0, "maximum": 3600, "default": 1,
                        "title": "Shortest run (s)",
                        "description": "The job sleeps at least this long."},
        "max_seconds": {"type": "number", "minimum": 0, "maximum": 3600, "default": 5,
                        "title": "Longest run (s)",
                        "description": "The job sleeps at most this long (not less than the"
                                       " shortest)."},
        "fail_rate": {"type": "number", "minimum": 0, "maximum": 1, "default": 0,
                      "title": "Failure rate",
                      "description": "The chance (0 to 1) that the job fails on purpose."},
        "hang": {"type": "boolean", "default": False, "title": "Hang",
                 "description": "Loop until killed or timed out."},
        "ignore_soft_limit": {"type": "boolean", "default": False,
                              "title": "Ignore the soft time limit",
                              "description": "While hanging, swallow the soft limit so the"
                                             " hard one fires."},
        "timeout_seconds": {"type": "number", "exclusiveMinimum": 0, "maximum": 3600,
                            "title": "Time limit (s)",
                            "description": "Lowers the job type's time limits; empty keeps"
                                           " them."},
        "log_lines": {"type": "integer", "minimum": 0, "maximum": 100000,  # for tests
                      "title": "Extra log lines",
                      "description": "Lines the job logs before it starts sleeping."},
    },
}


def check(params, upload_meta):
    """Cross-field rule: min_seconds <= max_seconds."""
    if params["min_seconds"] > params["max_seconds"]:
        raise Refused(_("params.min_seconds: must not exceed max_seconds"))


def expected_s(params):
    """Its longest sleep; None for a hang or a burst of log lines (not short, whatever it says)."""
    if params.get("hang") or params.get("log_lines", 0) > 100:
        return None
    return params.get("max_seconds", SCHEMA["properties"]["max_seconds"]["default"])


def run(ctx):
    """Sleep between min and max seconds reporting progress; fail or hang on request."""
    p = ctx.params
    for n in range(p.get("log_lines", 0)):
        log.info("extra line %d of %d", n + 1, p["log_lines"])
    if p["hang"]:
        _hang(p["ignore_soft_limit"], ctx)
    duration = random.uniform(p["min_seconds"], p["max_seconds"])
    ctx.log(f"sleeping {duration:.2f} s")
    started, logged = time.monotonic(), 0
    while (elapsed := time.monotonic() - started) < duration:
        ctx.progress(100 * elapsed / duration)
        if int(elapsed) > logged:
            logged = int(elapsed)
            log.info("slept %d s of %.2f", logged, duration)
        time.sleep(min(0.25, duration - elapsed))
    if p["fail_rate"] and random.random() < p["fail_rate"]:
        log.error("failing on purpose (fail_rate=%s)", p["fail_rate"])
        raise SimulatedFailure(f"simulated failure (fail_rate={p['fail_rate']})")
    ctx.log(f"done after {duration:.2f} s")
    return {"slept_seconds": round(duration, 3)}


def _hang(ignore_soft_limit, ctx):
    """Loop forever; with ignore_soft_limit the soft limit is swallowed so the hard one fires."""
    ctx.log("hanging until killed or timed out", "WARNING")
    started, logged = time.monotonic(), 0
    while True:
        if int(time.monotonic() - started) > logged:
            logged = int(time.monotonic() - started)
            log.info("still hanging after %d s", logged)
        try:
            time.sleep(0.05)
        except SoftTimeLimitExceeded:
            if not ignore_soft_limit:
                raise


SIMULATE = JobType(
    name="simulate", title="Simulate (random sleep)", schema=SCHEMA, run=run, check=check,
    file="optional", soft_limit_s=600, hard_limit_s=630, max_attempts=1,
    max_wait_s=60, max_run_s=120, expected_s=expected_s,
)

SIMULATE_FLAKY = JobType(
    name="simulate_flaky", title="Simulate with auto-retry (3 attempts)", schema=SCHEMA, run=run,
    check=check, file="optional", soft_limit_s=600, hard_limit_s=630, max_attempts=3,
    max_wait_s=300, max_run_s=120, expected_s=expected_s,
    backoff_s=2.0,
)

JOB_TYPES = (SIMULATE, SIMULATE_FLAKY)
