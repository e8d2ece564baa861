"""Alert rules kept in PostgreSQL: reads, and the admin's writes, each audited.

Values (dicts, datetimes) cross this module's border, never SQL text. The
webhook secret is stored (beat needs it to sign) but never leaves here: answers
say only whether one is set.
"""
import json
from datetime import datetime, timezone
from urllib.parse import urlsplit

from flask_babel import gettext as _
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from dashboard import audit
from dashboard.alerts import rules
from dashboard.errors import Refused
from dashboard.extensions import db
from dashboard.serializers import iso

INSERT_SQL = """
INSERT INTO alert_rules (name, kind, params, emails, webhook_url, webhook_secret, enabled,
  created_by, updated_by)
VALUES (:name, :kind, :params, :emails, :webhook_url, :webhook_secret, :enabled, :who, :who)
RETURNING id
"""
UPDATE_SQL = """
UPDATE alert_rules SET name = :name, kind = :kind, params = :params, emails = :emails,
  webhook_url = :webhook_url, webhook_secret = :webhook_secret, enabled = :enabled,
  updated_by = :who, updated_at = now(),
  pending_since = CASE WHEN kind = :kind AND params = CAST(:params AS jsonb) THEN pending_since END
WHERE id = :id
"""
HISTORY_SQL = """
SELECT f.id, f.rule_id, r.name, r.kind, f.started_at, f.ended_at, f.detail, f.end_detail,
  f.notified
FROM alert_firings f JOIN alert_rules r ON r.id = f.rule_id
WHERE (CAST(:rule_id AS integer) IS NULL OR f.rule_id = :rule_id)
ORDER BY f.id DESC LIMIT :limit
"""


def _values(rule, who):
    return {**rule, "params": json.dumps(rule["params"]), "emails": json.dumps(rule["emails"]),
            "who": who}


def get(rule_id):
    """One rule as a dict, or None."""
    row = db.session.execute(text("SELECT * FROM alert_rules WHERE id = :id"),
                             {"id": rule_id}).mappings().first()
    return dict(row) if row else None


def all_rules():
    """Every rule, by name."""
    return [dict(r) for r in db.session.execute(text(
        "SELECT * FROM alert_rules ORDER BY name")).mappings()]


def history(rule_id=None, limit=50):
    """Firings, newest first (all rules', or one rule's)."""
    return [dict(r) for r in db.session.execute(text(HISTORY_SQL), {
        "rule_id": rule_id, "limit": limit}).mappings()]


def shown_state(row, now=None):
    """`ok`, `firing`, or `acknowledged` (firing while acknowledged)."""
    now = now or datetime.now(timezone.utc)
    if row["state"] == "firing" and row["acked_until"] and row["acked_until"] > now:
        return "acknowledged"
    return row["state"]


def webhook_site(url):
    """What non-admins see of a webhook URL: its scheme and host (a path may hold a token)."""
    if not url:
        return None
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}/…"


def as_dict(row, admin=False):
    """A rule as the API answers it: the secret never in clear (only whether one is set), the
    webhook URL whole for admins only."""
    now = datetime.now(timezone.utc)
    acked = row["acked_until"] if row["acked_until"] and row["acked_until"] > now else None
    url = row["webhook_url"] if admin else webhook_site(row["webhook_url"])
    return {"id": row["id"], "name": row["name"], "kind": row["kind"], "params": row["params"],
            "emails": row["emails"], "webhook_url": url,
            "webhook_secret": None, "webhook_secret_set": bool(row["webhook_secret"]),
            "enabled": row["enabled"], "state": shown_state(row, now), "since": iso(row["since"]),
            "acknowledged_until": iso(acked), "acknowledged_by": row["acked_by"] if acked else None,
            "created_by": row["created_by"], "updated_by": row["updated_by"],
            "created_at": iso(row["created_at"]), "updated_at": iso(row["updated_at"])}


def _named_twice(exc):
    db.session.rollback()
    if "alert_rules_name_key" in str(exc.orig):
        return Refused(_("name: another rule has this name"), 409)
    raise exc


def create(data, who):
    """Store a new rule; its id. Refused (422 naming the field, 409 name in use)."""
    rule = rules.validate(data)
    try:
        rule_id = db.session.execute(text(INSERT_SQL), _values(rule, who)).scalar()
    except IntegrityError as exc:
        raise _named_twice(exc) from None
    audit.record("alert_create", "ok", username=who,
                 detail={"rule_id": rule_id, "name": rule["name"], "kind": rule["kind"]})
    db.session.commit()
    return rule_id


def update(rule_id, data, who):
    """Change some of a rule's fields (a secret left out is kept); the new row, or None."""
    current = get(rule_id)
    if current is None:
        return None
    if isinstance(data, dict) and data.get("webhook_url") and not data.get("webhook_secret"):
        data = {k: v for k, v in data.items() if k != "webhook_secret"}
    rule = rules.validate(data, {k: current[k] for k in rules.FIELDS})
    try:
        db.session.execute(text(UPDATE_SQL), {**_values(rule, who), "id": rule_id})
    except IntegrityError as exc:
        raise _named_twice(exc) from None
    changed = sorted(k for k in rules.FIELDS if rule[k] != current[k])
    audit.record("alert_update", "ok", username=who,
                 detail={"rule_id": rule_id, "name": rule["name"], "changed": changed})
    db.session.commit()
    return get(rule_id)


def delete(rule_id, who):
    """Delete a rule with its history; False when there was none."""
    name = db.session.execute(text("DELETE FROM alert_rules WHERE id = :id RETURNING name"),
                              {"id": rule_id}).scalar()
    if name is None:
        db.session.rollback()
        return False
    audit.record("alert_delete", "ok", username=who, detail={"rule_id": rule_id, "name": name})
    db.session.commit()
    return True
