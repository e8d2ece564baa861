"""Fire times (dashboard/schedules/fire_times.py) and schedule validation (dashboard/schedules/manage.py), no services."""
from datetime import datetime, timedelta, timezone

import pytest

from dashboard.schedules import fire_times, manage
from dashboard.errors import Refused

UTC = timezone.utc
T = datetime(2026, 3, 28, 12, 0, 2, tzinfo=UTC)


def test_intervals_are_aligned_to_the_epoch():
    runs = fire_times.next_runs({"every_s": 5}, T)
    assert runs[0] == datetime(2026, 3, 28, 12, 0, 5, tzinfo=UTC)
    assert [(b - a).total_seconds() for a, b in zip(runs, runs[1:])] == [5] * 4
    assert fire_times.previous_time({"every_s": 5}, T) == datetime(2026, 3, 28, 12, 0, tzinfo=UTC)


def test_cron_in_a_timezone_across_daylight_saving():
    # Paris moves to summer time on 2026-03-29: 09:00 local is 08:00 UTC, then 07:00 UTC.
    runs = fire_times.next_runs({"cron": "0 9 * * *", "timezone": "Europe/Paris"}, T, count=3)
    assert [r.strftime("%d %H:%M") for r in runs] == ["29 07:00", "30 07:00", "31 07:00"]
    before = fire_times.next_runs({"cron": "0 9 * * *", "timezone": "Europe/Paris"},
                                 T - timedelta(days=2), count=1)
    assert before[0].strftime("%d %H:%M") == "27 08:00"  # still winter time


def test_due_separates_on_time_from_missed():
    timing = {"every_s": 5}
    now = datetime(2026, 1, 1, 0, 1, 1, tzinfo=UTC)
    # Beat ticked a second ago: the fire time at :01:00 is on time, nothing missed.
    on_time, missed = fire_times.due(timing, now - timedelta(seconds=1.5), now, grace_s=10)
    assert on_time == [datetime(2026, 1, 1, 0, 1, tzinfo=UTC)] and missed is None
    # Beat was away for a minute: the times within the grace are on time, the latest
    # older one is the one `catch_up: once` fires.
    on_time, missed = fire_times.due(timing, now - timedelta(seconds=60), now, grace_s=10)
    assert on_time == [datetime(2026, 1, 1, 0, 0, 55, tzinfo=UTC),
                       datetime(2026, 1, 1, 0, 1, tzinfo=UTC)]
    assert missed == datetime(2026, 1, 1, 0, 0, 50, tzinfo=UTC)
    # Nothing due when the last tick was after the last fire time.
    assert fire_times.due(timing, now - timedelta(seconds=0.5), now, 10) == ([], None)


@pytest.mark.parametrize("timing, words", [
    ({"every_s": 900}, "every 15 minutes"), ({"every_s": 5}, "every 5 seconds"),
    ({"every_s": 3600}, "every hour"), ({"every_s": 90}, "every 90 seconds"),
    ({"cron": "*/15 * * * *", "timezone": "UTC"}, "every 15 minutes (UTC)"),
])
def test_words(timing, words):
    assert fire_times.describe(timing) == words


@pytest.mark.parametrize("body, field", [
    ({"cron": "1 2 3 4"}, "cron"), ({"cron": "* * * * * *"}, "cron"),
    ({"cron": "0 24 * * *"}, "cron"), ({"cron": "0 0 31 2 *"}, "cron"),
    ({"every_s": 4}, "every_s"), ({"every_s": True}, "every_s"), ({"every_s": 5.5}, "every_s"),
    ({"every_s": 60, "timezone": "Europe/Atlantis"}, "timezone"),
    ({"every_s": 60, "catch_up": "all"}, "catch_up"), ({"every_s": 60, "enabled": "maybe"}, "enabled"),
    ({"every_s": 60, "params": {"fail_rate": 2}}, "params.fail_rate"),
    ({"every_s": 60, "params": "{not json"}, "params"),
    ({"every_s": 60, "name": "x" * 81}, "name"), ({"every_s": 60, "name": "a\x00b"}, "name"),
])
def test_validate_names_the_field(unit_ctx, body, field):
    with pytest.raises(Refused) as refused:
        manage.validate({"name": "n", "job_type": "simulate", **body})
    assert refused.value.message.startswith(f"{field}:"), refused.value.message


def test_validate_fills_defaults_like_a_submission(unit_ctx):
    out = manage.validate({"name": " n ", "job_type": "simulate", "every_s": "60",
                              "params": '{"max_seconds": 2}'})
    assert out["name"] == "n" and out["every_s"] == 60 and out["cron"] is None
    assert out["timezone"] == "UTC" and out["enabled"] is True and out["catch_up"] == "skip"
    assert out["params"]["max_seconds"] == 2 and "fail_rate" in out["params"]
