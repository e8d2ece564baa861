"""Fire times: when a schedule fires, which fire times are due or were missed, and in words.

Interval fire times are multiples of `every_s` since the Unix epoch (every beat
computes the same ones); cron times are croniter's in the schedule's timezone.
A `timing` is any mapping with `cron` or `every_s`, and `timezone`.
"""
import math
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from cron_descriptor import get_description
from croniter import croniter

UTC = timezone.utc


def _aware(moment):
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def next_time(timing, after):
    """The first fire time strictly after `after` (UTC)."""
    after = _aware(after)
    if timing.get("every_s"):
        every = timing["every_s"]
        epoch = math.floor(after.timestamp() / every) * every + every
        return datetime.fromtimestamp(epoch, UTC)
    zone = ZoneInfo(timing.get("timezone") or "UTC")
    return croniter(timing["cron"], after.astimezone(zone)).get_next(datetime).astimezone(UTC)


def previous_time(timing, at):
    """The latest fire time at or before `at` (UTC)."""
    at = _aware(at)
    if timing.get("every_s"):
        every = timing["every_s"]
        return datetime.fromtimestamp(math.floor(at.timestamp() / every) * every, UTC)
    zone = ZoneInfo(timing.get("timezone") or "UTC")
    probe = at.astimezone(zone) + timedelta(microseconds=1)
    return croniter(timing["cron"], probe).get_prev(datetime).astimezone(UTC)


def next_runs(timing, now=None, count=5):
    """The next `count` fire times after `now`, as UTC datetimes."""
    moment, out = _aware(now or datetime.now(UTC)), []
    for _ in range(count):
        moment = next_time(timing, moment)
        out.append(moment)
    return out


def due(timing, handled_until, now, grace_s):
    """(fire times to fire on time, latest missed fire time or None) in (handled_until, now].

    A fire time is on time when `now` is within `grace_s` of it; older ones were
    missed (no beat ticked then): `catch_up` decides whether the latest fires once.
    """
    cutoff = now - timedelta(seconds=grace_s)
    on_time, moment = [], max(_aware(handled_until), cutoff)
    while True:
        moment = next_time(timing, moment)
        if moment > now:
            break
        on_time.append(moment)
    missed = None
    if handled_until < cutoff:
        latest = previous_time(timing, cutoff)
        if latest > handled_until and latest <= cutoff:
            missed = latest
    return on_time, missed


def _unit(seconds):
    for size, unit in ((86400, "day"), (3600, "hour"), (60, "minute"), (1, "second")):
        if seconds % size == 0:
            n = seconds // size
            return f"every {unit}" if n == 1 else f"every {n} {unit}s"
    return f"every {seconds} seconds"


def describe(timing):
    """The timing in words: 'every 15 minutes', 'At 09:00 AM, Monday through Friday'."""
    if timing.get("every_s"):
        return _unit(int(timing["every_s"]))
    try:
        words = get_description(timing["cron"])
    except Exception:  # the library's own errors for expressions it cannot word
        return f"cron {timing['cron']}"
    words = words[0].lower() + words[1:] if words.startswith("Every") else words
    zone = timing.get("timezone") or "UTC"
    return f"{words} ({zone})"
