"""Fire times: when a schedule fires, which fire times are due or were missed, and in words.

Interval fire times are multiples of `every_s` since the Unix epoch (every beat
computes the same ones). A cron names wall-clock times in the schedule's timezone
(croniter steps through them, free of any zone), and each wall-clock time fires once:
- a time the clocks pass twice (they fall back) fires the first time, before the
  change: `30 1 * * *` in New York fires at 01:30 EDT, not again at 01:30 EST;
- a time the clocks skip (they spring forward) fires once, at the moment they jump:
  `30 2 * * *` in New York fires at 03:00 EDT that day; several skipped times of
  one jump are that one fire time.
Whatever the shift (an hour, 30 minutes on Lord Howe Island, two hours at Troll),
the fire times so defined only move forward as the wall-clock times do, so the next
and previous fire times are found by stepping through wall-clock times.
A `timing` is any mapping with `cron` or `every_s`, and `timezone`.
"""
import math
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from cron_descriptor import ExpressionDescriptor, Options, get_description
from croniter import croniter
from flask_babel import ngettext

from dashboard.web.humanize import reader_locale

UTC = timezone.utc


def _aware(moment):
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _wall(moment, zone):
    """The wall-clock time (naive) `zone` shows at the instant `moment`."""
    return moment.astimezone(zone).replace(tzinfo=None)


def _jump(wall, zone):
    """The instant the clocks jump over `wall`, a wall-clock time they skip: the offsets
    before and after the jump bound it; found to the second."""
    low = int(wall.replace(tzinfo=zone, fold=1).timestamp())   # read with the later offset
    high = int(wall.replace(tzinfo=zone, fold=0).timestamp())  # read with the earlier one
    before = datetime.fromtimestamp(low, zone).utcoffset()
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, zone).utcoffset() == before:
            low = middle
        else:
            high = middle
    return datetime.fromtimestamp(high, UTC)


def _fire_time(wall, zone):
    """The instant a cron's wall-clock time `wall` fires in `zone` (see the module's rules)."""
    first = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if _wall(first, zone) != wall:  # skipped: the clocks sprang forward over it
        return _jump(wall, zone)
    return first


def _cron(timing):
    return timing["cron"], ZoneInfo(timing.get("timezone") or "UTC")


def next_time(timing, after):
    """The first fire time strictly after `after` (UTC)."""
    after = _aware(after)
    if timing.get("every_s"):
        every = timing["every_s"]
        epoch = math.floor(after.timestamp() / every) * every + every
        return datetime.fromtimestamp(epoch, UTC)
    cron, zone = _cron(timing)
    # Every wall-clock time up to `after`'s fires at or before it; inside a repeated
    # hour, some later ones too (their first time was before `after`): stepped over.
    walls = croniter(cron, _wall(after, zone))
    while True:
        moment = _fire_time(walls.get_next(datetime), zone)
        if moment > after:
            return moment


def previous_time(timing, at):
    """The latest fire time at or before `at` (UTC)."""
    at = _aware(at)
    if timing.get("every_s"):
        every = timing["every_s"]
        return datetime.fromtimestamp(math.floor(at.timestamp() / every) * every, UTC)
    cron, zone = _cron(timing)
    wall = _wall(at, zone)
    latest = _fire_time(croniter(cron, wall + timedelta(microseconds=1)).get_prev(datetime),
                        zone)
    # Inside a repeated hour, later wall-clock times may have fired already (the first time).
    walls = croniter(cron, wall)
    while True:
        moment = _fire_time(walls.get_next(datetime), zone)
        if moment > at:
            return latest
        latest = moment


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
    """An interval in words, in the largest whole unit: 'every 15 minutes', 'every day'."""
    words = ((86400, lambda n: ngettext("every day", "every %(num)d days", n)),
             (3600, lambda n: ngettext("every hour", "every %(num)d hours", n)),
             (60, lambda n: ngettext("every minute", "every %(num)d minutes", n)),
             (1, lambda n: ngettext("every second", "every %(num)d seconds", n)))
    for size, say in words:
        if seconds % size == 0:
            return say(seconds // size)
    return ngettext("every second", "every %(num)d seconds", seconds)


def _cron_words(cron):
    """cron-descriptor's words for `cron`, in Korean for a Korean reader."""
    if str(reader_locale()) != "ko":
        return get_description(cron)
    options = Options()
    options.locale_code, options.use_24hour_time_format = "ko_KR", True
    return ExpressionDescriptor(cron, options).get_description()


def describe(timing):
    """The timing in words: 'every 15 minutes', 'At 09:00 AM, Monday through Friday'."""
    if timing.get("every_s"):
        return _unit(int(timing["every_s"]))
    try:
        words = _cron_words(timing["cron"])
    except Exception:  # the library's own errors for expressions it cannot word
        return f"cron {timing['cron']}"
    words = words[0].lower() + words[1:] if words.startswith("Every") else words
    zone = timing.get("timezone") or "UTC"
    return f"{words} ({zone})"
