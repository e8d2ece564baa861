"""Times, durations and numbers in the reader's words: "3 min ago", "1 h 2 min", "1,234",
the exact UTC time on hover, in the reader's language (Flask-Babel's locale).

Jinja filters (registered by init_app) and plain functions the stats and SLA code
reuse. static/app.js keeps the relative times current between list updates with
the same wording (base.html's #ui-words carries the translated phrases).
"""
from datetime import datetime, timezone

from babel import Locale, dates, numbers
from flask import has_app_context
from flask_babel import get_locale
from flask_babel import gettext as _


def duration_text(seconds):
    """A length of time as a person reads it: 0.42 s, 4.2 s, 3 min 5 s, 1 h 2 min, 2 d 3 h."""
    if seconds is None:
        return "—"
    s = max(float(seconds), 0.0)
    if s < 10:
        return _("%(n)s s", n=numbers.format_decimal(s, "0.00" if s < 1 else "0.0",
                                                  locale=reader_locale()))
    if s < 60:
        return _("%(n)s s", n=int(s))
    if s < 3600:
        minutes, rest = divmod(int(s), 60)
        return _("%(m)s min %(s)s s", m=minutes, s=rest) if rest else _("%(n)s min", n=minutes)
    if s < 86400:
        hours, rest = divmod(int(s), 3600)
        return (_("%(h)s h %(m)s min", h=hours, m=rest // 60) if rest // 60
                else _("%(n)s h", n=hours))
    days, rest = divmod(int(s), 86400)
    return _("%(d)s d %(h)s h", d=days, h=rest // 3600) if rest // 3600 else _("%(n)s d", n=days)


def ago_text(value, now=None):
    """How long before `now` a moment was: "just now", "40 s ago", "3 min ago", "2 h ago", "3 d ago"."""
    now = now or datetime.now(timezone.utc)
    s = (now - value).total_seconds()
    if s < 10:
        return _("just now")
    if s < 60:
        return _("%(n)s s ago", n=int(s))
    if s < 3600:
        return _("%(n)s min ago", n=int(s // 60))
    if s < 86400:
        return _("%(n)s h ago", n=int(s // 3600))
    return _("%(n)s d ago", n=int(s // 86400))


def utc_text(value):
    """The exact moment in UTC, to the second: 2026-12-01 08:03:05 UTC in English, the
    locale's own way elsewhere (Korean: 2026. 12. 1. 오전 8:03:05 UTC)."""
    locale = reader_locale()
    if locale.language == "en":
        return utc_short(value) + " UTC"
    return dates.format_datetime(_as_utc(value), "medium", tzinfo=timezone.utc,
                                 locale=locale) + " UTC"


def utc_short(value):
    """A moment in UTC in a table cell: 2026-12-01 08:03:05 (the same in every language)."""
    return _as_utc(value).strftime("%Y-%m-%d %H:%M:%S")


def zoned_text(value):
    """A moment in its own time zone with the weekday: Wed 2026-12-09 02:00:00 KST (수 ... in
    Korean)."""
    day = dates.format_date(value, "EEE", locale=reader_locale())
    return f"{day} {value.strftime('%Y-%m-%d %H:%M:%S %Z')}"


def _as_utc(value):
    """A datetime in UTC (naive values are taken to be UTC already)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def seconds_between(start, end):
    """Seconds from `start` to `end`, or None when either is missing."""
    return (end - start).total_seconds() if start and end else None


def number(value):
    """A count with the locale's digit grouping: 12,345."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return value
    return numbers.format_decimal(value, locale=reader_locale())


def reader_locale():
    """The reader's locale (Flask-Babel's), English outside a request or app."""
    return (get_locale() if has_app_context() else None) or Locale("en")


def init_app(app):
    """The filters above in every template."""
    app.jinja_env.filters.update(ago=ago_text, utc=utc_text, utc_short=utc_short, zoned=zoned_text,
                                 duration_text=duration_text, number=number)
    app.jinja_env.globals.update(seconds_between=seconds_between)
