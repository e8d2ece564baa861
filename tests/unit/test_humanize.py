"""Times and durations as the list shows them."""
from datetime import datetime, timedelta, timezone

import pytest

from dashboard.web.humanize import ago_text, duration_text, utc_text

NOW = datetime(2026, 12, 1, 8, 0, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("seconds, text", [
    (0.42, "0.42 s"), (4.25, "4.2 s"), (42, "42 s"), (60, "1 min"), (185, "3 min 5 s"),
    (3600, "1 h"), (3725, "1 h 2 min"), (86400 + 3 * 3600 + 5, "1 d 3 h"), (None, "—")])
def test_durations_read_like_a_person_says_them(seconds, text):
    assert duration_text(seconds) == text


@pytest.mark.parametrize("before, text", [
    (timedelta(seconds=3), "just now"), (timedelta(seconds=40), "40 s ago"),
    (timedelta(minutes=3, seconds=59), "3 min ago"), (timedelta(hours=2, minutes=5), "2 h ago"),
    (timedelta(days=3, hours=1), "3 d ago")])
def test_relative_times(before, text):
    assert ago_text(NOW - before, now=NOW) == text


def test_exact_time_is_utc_whatever_the_zone():
    local = NOW.astimezone(timezone(timedelta(hours=5, minutes=30)))
    assert utc_text(local) == "2026-12-01 08:00:00 UTC"
