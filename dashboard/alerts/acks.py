"""Acknowledging a rule: no notifications from it until a time (an operator's action, audited)."""
from datetime import datetime, timezone

from flask_babel import gettext as _
from sqlalchemy import text

from dashboard import audit
from dashboard.alerts.store import get
from dashboard.errors import Refused
from dashboard.extensions import db
from dashboard.serializers import iso


def acknowledge(rule_id, until, who):
    """No notifications from the rule until `until` (None: acknowledgement lifted); the row."""
    if until is not None and until <= datetime.now(timezone.utc):
        raise Refused(_("until: must be in the future"))
    found = db.session.execute(text(
        "UPDATE alert_rules SET acked_until = :until, acked_by = :who WHERE id = :id RETURNING id"),
        {"until": until, "who": who if until else None, "id": rule_id}).scalar()
    if found is None:
        db.session.rollback()
        return None
    audit.record("alert_ack", "ok", username=who,
                 detail={"rule_id": rule_id, "until": iso(until)})
    db.session.commit()
    return get(rule_id)


def parse_until(value):
    """An ISO 8601 time (UTC when it names no zone), None for null/empty; Refused otherwise."""
    if value in (None, ""):
        return None
    if not isinstance(value, str) or len(value) > 40:
        raise Refused(_("until: an ISO 8601 time, e.g. 2026-12-07T18:00:00Z"))
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise Refused(_("until: an ISO 8601 time, e.g. 2026-12-07T18:00:00Z")) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
