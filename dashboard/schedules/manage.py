"""Schedules operators manage: validation, reads, and the writes, each audited.

A schedule is a row: a job type and params checked as
at submit, and a five-field cron expression in a timezone or an interval
`every_s` (dashboard/fire_times.py says when those fire). `handled_until` says
up to when a beat has dealt with the fire times; beat (dashboard/beat.py)
moves it. Values (dicts, datetimes) cross this module's border, never SQL text.
"""
import json
import math
import unicodedata
from datetime import datetime, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from croniter import CroniterError, croniter
from flask_babel import gettext as _
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from dashboard import audit, jobs, lifecycle, submission
from dashboard.errors import Refused
from dashboard.extensions import db

UTC = timezone.utc
MIN_EVERY_S = 5
MAX_EVERY_S = 366 * 86400
CATCH_UP = ("skip", "once")
FIELDS = ("name", "job_type", "params", "cron", "every_s", "timezone", "enabled", "catch_up")
CRON_FIELDS = ("minute", "hour", "day of month", "month", "day of week")
_TZ_NAMES = None  # the IANA names, read once

COLUMNS = """
s.id, s.name, s.job_type, s.params, s.cron, s.every_s, s.timezone, s.enabled, s.catch_up,
s.handled_until, s.last_run_at, s.last_request_id, s.created_by, s.updated_by, s.created_at,
s.updated_at, lr.status AS last_status
"""
FROM = "FROM schedules s LEFT JOIN requests lr ON lr.id = s.last_request_id"


# ---- validation ---------------------------------------------------------------------------

def _timezones():
    global _TZ_NAMES
    if _TZ_NAMES is None:
        _TZ_NAMES = frozenset(available_timezones()) | {"UTC"}
    return _TZ_NAMES


def timezone_names():
    """Every IANA timezone name, sorted (for the form's suggestions)."""
    return sorted(_timezones())


def check_cron(expr):
    """A five-field cron expression, normalised, or Refused naming the bad field."""
    if not isinstance(expr, str):
        raise Refused(_("cron: must be a string of five fields, e.g. '*/15 * * * *'"))
    if len(expr) > 120:
        raise Refused(_("cron: at most 120 characters"))
    fields = expr.split()
    if len(fields) != 5:
        raise Refused(_("cron: needs five fields (minute hour day-of-month month "
                         "day-of-week), got %(n)s", n=len(fields)))
    for position, field in enumerate(fields):
        probe = ["*"] * 5
        probe[position] = field
        if not croniter.is_valid(" ".join(probe)):
            raise Refused(_("cron: %(cron_fields)s field %(field)r is out of range or not "
                             "cron syntax", cron_fields=CRON_FIELDS[position], field=field[:40]))
    normal = " ".join(fields)
    try:
        croniter(normal, datetime.now(UTC)).get_next(datetime)
    except (CroniterError, ValueError, KeyError) as exc:
        raise Refused(_("cron: %(exc)s", exc=str(exc)[:120])) from None
    return normal


def check_every(value):
    """An interval in whole seconds, >= 5."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise Refused(_("every_s: must be a whole number of seconds"))
    if not MIN_EVERY_S <= value <= MAX_EVERY_S:
        raise Refused(_("every_s: must be from %(min_every_s)s to %(max_every_s)s seconds, "
                         "got %(value)s", min_every_s=MIN_EVERY_S, max_every_s=MAX_EVERY_S,
                         value=value))
    return value


def check_timezone(name):
    """An IANA timezone name (default UTC)."""
    if name in (None, ""):
        return "UTC"
    if not isinstance(name, str) or len(name) > 64 or name not in _timezones():
        raise Refused(_("timezone: unknown timezone %(name)r (an IANA name such as 'UTC' or "
                         "'Europe/Paris')", name=str(name)[:64]))
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise Refused(_("timezone: unknown timezone %(name)r", name=name)) from None
    return name


def check_name(name):
    """A display name: 1-80 printable characters."""
    if not isinstance(name, str) or not name.strip():
        raise Refused(_("name: is required"))
    name = name.strip()
    if len(name) > 80:
        raise Refused(_("name: at most 80 characters"))
    if any(unicodedata.category(c)[0] == "C" for c in name):
        raise Refused(_("name: control characters are not allowed"))
    return name


def _bool(value, field):
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("on", "true", "1", "yes", "false", "0",
                                                    "off", "no", ""):
        return value.lower() in ("on", "true", "1", "yes")
    raise Refused(_("%(field)s: must be true or false", field=field))


def validate(data, current=None):
    """Clean column values from an API/form body (merged over `current` for PATCH).

    Params are checked exactly as at submit (the job type's JSON Schema and
    checks); schedules make requests without a file, so a job type that needs
    one is refused. Raises Refused naming the first bad field.
    """
    if not isinstance(data, dict):
        raise Refused(_("body: must be a JSON object"))
    unknown = sorted(set(data) - set(FIELDS))
    if unknown:
        raise Refused(_("%(unknown)s: unknown field (known: %(fields)s)",
                         unknown=str(unknown[0])[:40], fields=', '.join(FIELDS)))
    merged = dict(current or {})
    merged.update(data)
    if "cron" in data and data["cron"] not in (None, "") and "every_s" not in data:
        merged["every_s"] = None
    if "every_s" in data and data["every_s"] not in (None, "") and "cron" not in data:
        merged["cron"] = None
    out = {"name": check_name(merged.get("name"))}
    job = jobs.get(merged.get("job_type"))
    out["job_type"] = job.name
    params = merged.get("params")
    if isinstance(params, str) or params is None:
        params = submission.parse_params(params)
    elif not isinstance(params, dict):
        submission.parse_params(json.dumps(params))  # names the kind: "must be a JSON object"
    else:
        submission.parse_params(json.dumps(params, allow_nan=True))
    if job.file == "required":
        raise Refused(_("job_type: %(name)r needs a file; a schedule makes requests without "
                         "one", name=job.name))
    out["params"] = job.validate(params, None)
    cron, every = merged.get("cron"), merged.get("every_s")
    cron = None if cron in (None, "") else cron
    every = None if every in (None, "") else every
    if (cron is None) == (every is None):
        raise Refused(_("cron: give either cron (five fields) or every_s (seconds), not both")
                      if cron is not None else
                      _("cron: give either cron (five fields) or every_s (seconds), not"
                        " neither"))
    out["cron"] = check_cron(cron) if cron is not None else None
    out["every_s"] = check_every(every) if every is not None else None
    out["timezone"] = check_timezone(merged.get("timezone"))
    out["enabled"] = _bool(merged.get("enabled", True), "enabled")
    catch_up = merged.get("catch_up") or "skip"
    if catch_up not in CATCH_UP:
        raise Refused(_("catch_up: must be 'skip' or 'once', got %(catch_up)r",
                         catch_up=str(catch_up)[:20]))
    out["catch_up"] = catch_up
    return out


# ---- reads --------------------------------------------------------------------------------

def all_schedules():
    """Every schedule, by name, with its last request's status."""
    return [dict(r) for r in db.session.execute(
        text(f"SELECT {COLUMNS} {FROM} ORDER BY s.name")).mappings()]


def get(schedule_id):
    """One schedule as a dict, or None."""
    row = db.session.execute(text(f"SELECT {COLUMNS} {FROM} WHERE s.id = :id"),
                             {"id": schedule_id}).mappings().first()
    return dict(row) if row else None


def history(schedule_id, limit=100):
    """The requests a schedule made, newest first."""
    return db.session.execute(text(
        "SELECT id, status, scheduled_for, created_at, finished_at, submitted_by FROM requests"
        " WHERE schedule_id = :id ORDER BY id DESC LIMIT :limit"),
        {"id": schedule_id, "limit": limit}).mappings().all()


# ---- writes (each audited with before and after) -------------------------------------------

def _public(row):
    """What the audit keeps of a schedule."""
    return {k: row.get(k) for k in FIELDS} if row else None


def _name_taken(name, except_id=None):
    return db.session.execute(text(
        "SELECT 1 FROM schedules WHERE name = :n AND id IS DISTINCT FROM :id"),
        {"n": name, "id": except_id}).first() is not None


def _duplicate(name):
    return Refused(_("name: a schedule called %(name)r already exists", name=name[:80]), status=409)


def _commit_or_duplicate(name):
    try:
        db.session.commit()
    except IntegrityError as exc:
        db.session.rollback()
        if "schedules_name_key" in str(exc.orig):
            raise _duplicate(name) from None
        raise


def create(data, username):
    """Store a new schedule; returns its id. Refused (422/409): nothing stored."""
    values = validate(data)
    if _name_taken(values["name"]):
        raise _duplicate(values["name"])
    schedule_id = db.session.execute(text(
        "INSERT INTO schedules (name, job_type, params, cron, every_s, timezone, enabled,"
        " catch_up, created_by, updated_by) VALUES (:name, :job_type, CAST(:params AS jsonb),"
        " :cron, :every_s, :timezone, :enabled, :catch_up, :by, :by) RETURNING id"),
        {**values, "params": json.dumps(values["params"]), "by": username}).scalar_one()
    audit.record("schedule_create", "ok", username=username,
                 detail={"schedule_id": schedule_id, "before": None, "after": values})
    _commit_or_duplicate(values["name"])
    return schedule_id


def update(schedule_id, data, username):
    """Change a schedule (fields as for create, any subset); returns the new row or None."""
    current = get(schedule_id)
    if current is None:
        return None
    values = validate(data, _public(current))
    if _name_taken(values["name"], schedule_id):
        raise _duplicate(values["name"])
    timing = ("cron", "every_s", "timezone")
    restart = (any(values[k] != current[k] for k in timing)
               or (values["enabled"] and not current["enabled"]))
    # A new timing, or enabling again, counts from now: nothing "missed" fires for the past.
    db.session.execute(text(
        "UPDATE schedules SET name = :name, job_type = :job_type, params = CAST(:params AS jsonb),"
        " cron = :cron, every_s = :every_s, timezone = :timezone, enabled = :enabled,"
        " catch_up = :catch_up, updated_by = :by, updated_at = now(),"
        " handled_until = CASE WHEN :restart THEN clock_timestamp() ELSE handled_until END"
        " WHERE id = :id"),
        {**values, "params": json.dumps(values["params"]), "by": username, "id": schedule_id,
         "restart": restart})
    audit.record("schedule_update", "ok", username=username,
                 detail={"schedule_id": schedule_id, "before": _public(current), "after": values})
    _commit_or_duplicate(values["name"])
    return get(schedule_id)


def delete(schedule_id, username):
    """Remove a schedule (its requests stay, without the link); False when unknown."""
    current = get(schedule_id)
    if current is None:
        return False
    db.session.execute(text("DELETE FROM schedules WHERE id = :id"), {"id": schedule_id})
    audit.record("schedule_delete", "ok", username=username,
                 detail={"schedule_id": schedule_id, "before": _public(current), "after": None})
    db.session.commit()
    return True


def run_now(schedule_id, username):
    """One request at once, marked manual (no fire time, so no slot taken); its id or None."""
    row = db.session.execute(text("SELECT * FROM schedules WHERE id = :id FOR UPDATE"),
                             {"id": schedule_id}).mappings().first()
    if row is None:
        db.session.rollback()
        return None
    request_id = lifecycle.submit_scheduled(row["job_type"], json.dumps(row["params"]),
                                            schedule_id, None, username, username)
    db.session.execute(text(
        "UPDATE schedules SET last_run_at = clock_timestamp(), last_request_id = :r"
        " WHERE id = :id"), {"r": request_id, "id": schedule_id})
    audit.record("schedule_run", "ok", request_id=request_id, username=username,
                 detail={"schedule_id": schedule_id, "name": row["name"], "manual": True})
    db.session.commit()
    return request_id
