"""Cron schedules across clock changes (dashboard/schedules/fire_times.py), no services.

Each wall-clock time a cron names fires once: a time the clocks pass twice fires the
first time; a time they skip fires once, when they jump. Checked two ways, over zones
whose clocks move by an hour, by 30 minutes (Australia/Lord_Howe) and by two hours
(Antarctica/Troll), in both directions:
- a table of what a person expects on the day of each change;
- next_time and previous_time against an oracle that walks the day minute by minute
  with zoneinfo, at every 5 minutes around each change of 2026.
"""
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from croniter import croniter

from dashboard.schedules import fire_times

UTC = timezone.utc


def utc(*parts):
    return datetime(*parts, tzinfo=UTC)


# (zone, cron, from, to (UTC), the fire times in between (UTC), why)
DAYS = [
    ("America/New_York", "30 1 * * *", utc(2026, 11, 1, 0), utc(2026, 11, 2, 0),
     [utc(2026, 11, 1, 5, 30)], "01:30 EDT, not again at 01:30 EST"),
    ("America/New_York", "30 1 * * *", utc(2026, 10, 31, 0), utc(2026, 11, 3, 0),
     [utc(2026, 10, 31, 5, 30), utc(2026, 11, 1, 5, 30), utc(2026, 11, 2, 6, 30)],
     "one a day around the change"),
    ("America/New_York", "30 2 * * *", utc(2026, 3, 8, 0), utc(2026, 3, 9, 0),
     [utc(2026, 3, 8, 7, 0)], "02:30 is skipped: at 03:00 EDT, when the clocks jump"),
    ("America/New_York", "*/30 1-3 * * *", utc(2026, 3, 8, 5), utc(2026, 3, 8, 9),
     [utc(2026, 3, 8, 6, 0), utc(2026, 3, 8, 6, 30), utc(2026, 3, 8, 7, 0),
      utc(2026, 3, 8, 7, 30)], "02:00, 02:30 and 03:00 are one fire time"),
    ("America/New_York", "*/30 1-2 * * *", utc(2026, 11, 1, 4), utc(2026, 11, 1, 9),
     [utc(2026, 11, 1, 5, 0), utc(2026, 11, 1, 5, 30), utc(2026, 11, 1, 7, 0),
      utc(2026, 11, 1, 7, 30)], "01:00 and 01:30 once (EDT), then 02:00 and 02:30 EST"),
    ("Australia/Lord_Howe", "45 1 * * *", utc(2026, 4, 4, 0), utc(2026, 4, 5, 12),
     [utc(2026, 4, 4, 14, 45)], "01:45 +11, not again at 01:45 +10:30"),
    ("Australia/Lord_Howe", "15 2 * * *", utc(2026, 10, 3, 0), utc(2026, 10, 4, 12),
     [utc(2026, 10, 3, 15, 30)], "02:15 is skipped: at 02:30 +11, when the clocks jump"),
    ("Antarctica/Troll", "30 1 * * *", utc(2026, 10, 24, 12), utc(2026, 10, 25, 12),
     [utc(2026, 10, 24, 23, 30)], "01:30 +02, not again at 01:30 +00"),
    ("Antarctica/Troll", "30 2 * * *", utc(2026, 3, 28, 12), utc(2026, 3, 29, 12),
     [utc(2026, 3, 29, 1, 0)], "02:30 is skipped: at 03:00 +02, when the clocks jump"),
    ("Antarctica/Troll", "0 * * * *", utc(2026, 10, 24, 21, 59), utc(2026, 10, 25, 4, 1),
     [utc(2026, 10, 24, 22), utc(2026, 10, 24, 23), utc(2026, 10, 25, 0),
      utc(2026, 10, 25, 3), utc(2026, 10, 25, 4)], "01:00 and 02:00 come round twice: once"),
    ("Europe/Paris", "0 9 * * *", utc(2026, 3, 28, 0), utc(2026, 3, 31, 0),
     [utc(2026, 3, 28, 8), utc(2026, 3, 29, 7), utc(2026, 3, 30, 7)], "no change at 09:00"),
]


@pytest.mark.parametrize("zone, cron, start, end, expected, why", DAYS,
                         ids=[f"{d[0]} {d[1]} {d[5]}" for d in DAYS])
def test_a_day_of_clock_change(zone, cron, start, end, expected, why):
    timing = {"cron": cron, "timezone": zone}
    fired, moment = [], start
    while (moment := fire_times.next_time(timing, moment)) < end:
        fired.append(moment)
    assert fired == expected, why
    for earlier, later in zip(expected, expected[1:] + [end]):
        for probe in (earlier, earlier + (later - earlier) / 2, later - timedelta(seconds=1)):
            assert fire_times.previous_time(timing, probe) == earlier, (why, probe)


def test_catch_up_once_inside_the_repeated_hour():
    """Beat away from 00:50 to 01:50 EST (06:50 UTC): the missed fire time is 01:30 EDT's,
    the one that fired, not a second 01:30."""
    timing = {"cron": "30 1 * * *", "timezone": "America/New_York"}
    now = utc(2026, 11, 1, 6, 50)
    on_time, missed = fire_times.due(timing, utc(2026, 11, 1, 4, 50), now, grace_s=10)
    assert on_time == [] and missed == utc(2026, 11, 1, 5, 30)
    on_time, missed = fire_times.due(timing, utc(2026, 11, 1, 5, 40), now, grace_s=10)
    assert on_time == [] and missed is None  # 01:30 fired already; nothing was missed


# ---- the oracle ---------------------------------------------------------------------------

ZONES = ["America/New_York", "Europe/Paris", "Australia/Sydney", "Australia/Lord_Howe",
         "Antarctica/Troll", "Pacific/Chatham"]
CRONS = ["30 1 * * *", "0 2 * * *", "15 2 * * *", "45 1 * * *", "10 3 * * *",
         "*/30 * * * *", "0 * * * *"]


def changes(zone, year=2026):
    """The instants (to the minute) the zone's offset changes in `year`."""
    out, hour = [], datetime(year, 1, 1, tzinfo=UTC)
    while hour.year == year:
        later = hour + timedelta(hours=1)
        if hour.astimezone(zone).utcoffset() != later.astimezone(zone).utcoffset():
            minute = hour
            while minute.astimezone(zone).utcoffset() == hour.astimezone(zone).utcoffset():
                minute += timedelta(minutes=1)
            out.append(minute)
        hour = later
    return out


def oracle(cron, zone, start, end):
    """The fire times in [start, end) by the rule, from zoneinfo minute by minute: each wall
    time the cron names (croniter, on zone-free wall times) fires at the first minute
    showing it or, skipped by the clocks, at the minute they jump to."""
    first, previous = {}, None
    moment = start - timedelta(hours=3)
    while moment < end + timedelta(hours=3):
        wall = moment.astimezone(zone).replace(tzinfo=None)
        first.setdefault(wall, moment)
        skipped = previous + timedelta(minutes=1) if previous else wall
        while skipped < wall:  # the clocks jumped over these
            first.setdefault(skipped, moment)
            skipped += timedelta(minutes=1)
        previous, moment = wall, moment + timedelta(minutes=1)
    walls = croniter(cron, min(first) - timedelta(minutes=1))
    fires = set()
    while (wall := walls.get_next(datetime)) <= max(first):
        fires.add(first[wall])
    return sorted(f for f in fires if start <= f < end)


CASES = [(zone, cron, change) for zone in ZONES for change in changes(ZoneInfo(zone))
         for cron in CRONS]


def test_each_zone_changes_its_clocks_twice():
    for zone in ZONES:
        assert len(changes(ZoneInfo(zone))) == 2, zone


@pytest.mark.parametrize("zone, cron, change", CASES,
                         ids=[f"{z} {c} {t:%m-%d}" for z, c, t in CASES])
def test_next_and_previous_match_the_oracle(zone, cron, change):
    """Around the change, every 5 minutes: next_time is the oracle's first fire time after
    the moment, previous_time its last at or before it; each wall time fires once."""
    fires = oracle(cron, ZoneInfo(zone), change - timedelta(hours=30),
                   change + timedelta(hours=30))
    walls = [f.astimezone(ZoneInfo(zone)).replace(tzinfo=None) for f in fires]
    assert len(walls) == len(set(walls)), "a wall-clock time fired twice in the oracle"
    timing = {"cron": cron, "timezone": zone}
    probe = change - timedelta(hours=4)
    while probe <= change + timedelta(hours=4):
        for moment in (probe, probe + timedelta(seconds=30)):
            assert fire_times.next_time(timing, moment) == min(f for f in fires if f > moment), \
                moment
            assert fire_times.previous_time(timing, moment) == max(
                f for f in fires if f <= moment), moment
        probe += timedelta(minutes=5)
