"""Times and durations in the operator's words: "3 min ago", "1 h 2 min", exact UTC on hover.

Jinja filters (registered by init_app) and plain functions the stats and SLA code
reuse. static/app.js keeps the relative times current between list updates with
the same wording.
"""
from datetime import datetime, timezone


def duration_text(seconds):
    """A length of time as a person reads it: 0.42 s, 4.2 s, 3 min 5 s, 1 h 2 min, 2 d 3 h."""
    if seconds is None:
        return "—"
    s = max(float(seconds), 0.0)
    if s < 10:
        return f"{s:.2f} s" if s < 1 else f"{s:.1f} s"
    if s < 60:
        return f"{int(s)} s"
    if s < 3600:
        minutes, rest = divmod(int(s), 60)
        return f"{minutes} min {rest} s" if rest else f"{minutes} min"
    if s < 86400:
        hours, rest = divmod(int(s), 3600)
        return f"{hours} h {rest // 60} min" if rest // 60 else f"{hours} h"
    days, rest = divmod(int(s), 86400)
    return f"{days} d {rest // 3600} h" if rest // 3600 else f"{days} d"


def ago_text(value, now=None):
    """How long before `now` a moment was: "just now", "40 s ago", "3 min ago", "2 h ago", "3 d ago"."""
    now = now or datetime.now(timezone.utc)
    s = (now - value).total_seconds()
    if s < 10:
        return "just now"
    if s < 60:
        return f"{int(s)} s ago"
    if s < 3600:
        return f"{int(s // 60)} min ago"
    if s < 86400:
        return f"{int(s // 3600)} h ago"
    return f"{int(s // 86400)} d ago"


def utc_text(value):
    """The exact moment, in UTC, to the second: 2026-12-01 08:03:05 UTC."""
    return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def seconds_between(start, end):
    return (end - start).total_seconds() if start and end else None


def init_app(app):
    app.jinja_env.filters.update(ago=ago_text, utc=utc_text, duration_text=duration_text)
    app.jinja_env.globals.update(seconds_between=seconds_between)
