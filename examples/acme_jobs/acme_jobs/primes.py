"""`primes`: how many primes there are up to `n`, and the largest (parameters only)."""
import math
import time

from dashboard.jobs import JobType

SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["n"],
    "properties": {
        "n": {"type": "integer", "minimum": 2, "maximum": 10_000_000,
              "title": "Up to",
              "description": "Count the primes from 2 up to this number (at most 10 million)."},
        "delay_s": {"type": "number", "minimum": 0, "maximum": 600, "default": 0,
                    "title": "Wait first (s)",
                    "description": "Seconds to wait before counting, to watch it run."},
    },
}


def run(ctx):
    """A sieve of Eratosthenes up to n, with progress and a log line per quarter."""
    n, delay = ctx.params["n"], ctx.params["delay_s"]
    if delay:
        ctx.log(f"waiting {delay} s first")
        started = time.monotonic()
        while time.monotonic() - started < delay:
            time.sleep(min(0.1, delay))
    ctx.log(f"sieving up to {n}")
    sieve = bytearray([1]) * (n + 1)
    sieve[0:2] = b"\0\0"
    limit = math.isqrt(n)
    for p in range(2, limit + 1):
        if sieve[p]:
            sieve[p * p::p] = bytes(len(range(p * p, n + 1, p)))
            ctx.progress(100 * p / limit)
    count = sieve.count(1)
    largest = sieve.rindex(1)
    ctx.log(f"{count} primes up to {n}, the largest {largest}")
    return {"n": n, "count": count, "largest": largest}


def expected_s(params):
    """Short enough to share a message with others when it does not wait."""
    return None if params.get("delay_s") else params["n"] / 5_000_000


PRIMES = JobType(
    name="primes",
    title="Count primes",
    description="Counts the primes up to n with a sieve; a parameters-only example.",
    schema=SCHEMA,
    run=run,
    file="none",
    soft_limit_s=60, hard_limit_s=90,
    max_wait_s=60, max_run_s=30,
    expected_s=expected_s,
)
