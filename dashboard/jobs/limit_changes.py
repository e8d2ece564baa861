"""An admin's change to a job type's limits: checked, stored in job_type_settings, audited.

`change(name, changes, username)` takes {priority?, max_running?, rate_per_min?, paused?}:
each given key is stored (an upsert of the type's row), `None` returns that key to the
declared value. A changed priority applies to requests submitted from then on: requests
already waiting keep the priority they were stored with. The dispatcher reads the stored
values at its next dispatch.
"""
from flask_babel import gettext as _
from sqlalchemy import text

from dashboard import audit, jobs
from dashboard.errors import Refused
from dashboard.extensions import db
from dashboard.jobs import limits

FIELDS = limits.FIELDS
INT_MAX = 2 ** 31 - 1  # the columns are PostgreSQL integers
PRIORITY = (-10, 10)

STORED_SQL = ("SELECT priority, max_running, rate_per_min, paused FROM job_type_settings"
              " WHERE name = :name")


def _integer(value):
    """True for a JSON integer (true/false are not numbers)."""
    return isinstance(value, int) and not isinstance(value, bool)


def check(changes):
    """The changes as {field: value}, or Refused (422) naming the first bad field."""
    if not isinstance(changes, dict) or not changes:
        raise Refused(_("body: give at least one of %(fields)s", fields=', '.join(FIELDS)))
    for key in changes:
        if key not in FIELDS:
            raise Refused(_("%(key)s: unknown field (one of %(fields)s)", key=str(key)[:80],
                             fields=', '.join(FIELDS)))
    for key, value in changes.items():
        if value is None:
            continue
        if key == "priority" and not (_integer(value) and PRIORITY[0] <= value <= PRIORITY[1]):
            raise Refused(_("priority: must be an integer from %(priority)s to %(priority2)s, "
                             "or null for the declared value", priority=PRIORITY[0],
                             priority2=PRIORITY[1]))
        if key in ("max_running", "rate_per_min") and not (_integer(value)
                                                          and 0 <= value <= INT_MAX):
            raise Refused(_("%(key)s: must be a non-negative integer (at most %(int_max)s), "
                             "or null for the declared value", key=key, int_max=INT_MAX))
        if key == "paused" and not isinstance(value, bool):
            raise Refused(_("paused: must be true or false, or null for the declared value"))
    return dict(changes)


def stored(name):
    """The type's stored overrides {field: value or None} (all None without a row)."""
    row = db.session.execute(text(STORED_SQL), {"name": name}).mappings().first()
    return {key: (row[key] if row else None) for key in FIELDS}


def stored_all():
    """Every type's stored overrides: {name: {field: value or None}}."""
    rows = db.session.execute(text(
        "SELECT name, priority, max_running, rate_per_min, paused FROM job_type_settings"))
    return {row["name"]: {key: row[key] for key in FIELDS} for row in rows.mappings()}


def change(name, changes, username):
    """Store `changes` to job type `name`'s limits and audit them (before -> after), in one
    transaction. Refused 404 for an unknown type, 422 naming a bad field (audited, nothing
    stored). Returns the limits now in force."""
    if name not in jobs.REGISTRY:
        raise Refused(_("job type %(name)r not found", name=name), 404)
    try:
        changes = check(changes)
    except Refused as exc:
        audit.record_now("job_type_change", "refused", username=username,
                         detail={"job_type": name, "reason": exc.message})
        raise
    columns = list(changes)
    assigned = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns)
    # Serialize changes to one type: the row lock of the upsert is taken before reading.
    db.session.execute(text("INSERT INTO job_type_settings (name) VALUES (:name)"
                            " ON CONFLICT (name) DO NOTHING"), {"name": name})
    db.session.execute(text("SELECT 1 FROM job_type_settings WHERE name = :name FOR UPDATE"),
                       {"name": name})
    old = limits.current(name)
    db.session.execute(text(
        f"INSERT INTO job_type_settings (name, {', '.join(columns)}, changed_by, changed_at)"
        f" VALUES (:name, {', '.join(':' + c for c in columns)}, :username, now())"
        f" ON CONFLICT (name) DO UPDATE SET {assigned}, changed_by = EXCLUDED.changed_by,"
        " changed_at = EXCLUDED.changed_at"), {"name": name, "username": username, **changes})
    new = limits.current(name)
    audit.record("job_type_change", "ok", username=username, detail={
        "job_type": name,
        "changes": {key: {"from": old[key], "to": new[key], "stored": changes[key]}
                    for key in columns}})
    db.session.commit()
    return new
