"""One evaluation of every rule: state changes, firings opened and closed, notifications queued.

The rules are locked for the tick (`FOR UPDATE SKIP LOCKED`), so a second beat
evaluating at the same moment skips them; a notification is a row unique per
(firing, state, channel), inserted with ON CONFLICT DO NOTHING, so even a
repeated transition queues one email and one webhook. Nothing is sent here:
dashboard/alerts/deliver.py sends what is queued.
"""
import json
import logging

from sqlalchemy import text

from dashboard.alerts import conditions
from dashboard.alerts.facts import Facts
from dashboard.extensions import db
from dashboard.serializers import iso

log = logging.getLogger(__name__)

LOCK_SQL = """
SELECT r.*, f.notified FROM alert_rules r LEFT JOIN alert_firings f ON f.id = r.firing_id
WHERE r.enabled OR r.state = 'firing' ORDER BY r.id FOR UPDATE OF r SKIP LOCKED
"""
OPEN_SQL = """
INSERT INTO alert_firings (rule_id, started_at, detail, notified)
VALUES (:rule_id, :now, :detail, :notified) RETURNING id
"""
QUEUE_SQL = """
INSERT INTO alert_notifications (firing_id, state, channel, body, next_try_at)
VALUES (:firing_id, :state, :channel, :body, :now)
ON CONFLICT (firing_id, state, channel) DO NOTHING
"""


def _queue(rule, firing_id, state, now, detail):
    """Queue this state's email and webhook for the rule's channels; how many were new."""
    body = json.dumps({"alert": rule["name"], "kind": rule["kind"], "state": state,
                       "at": iso(now), "detail": detail})
    channels = (["email"] if rule["emails"] else []) + (["webhook"] if rule["webhook_url"] else [])
    made = 0
    for channel in channels:
        made += db.session.execute(text(QUEUE_SQL), {"firing_id": firing_id, "state": state,
                                                     "channel": channel, "body": body,
                                                     "now": now}).rowcount
    return made


def _judge(rule, facts):
    """(holds, detail) with the hold time applied; holds None when unknown this tick."""
    if not rule["enabled"]:
        return False, {"text": "rule disabled"}
    holds, detail = conditions.CHECKS[rule["kind"]](rule, facts)
    if rule["kind"] in conditions.HELD_FOR and holds is not None:
        since = rule["pending_since"] if holds else None
        if holds and since is None:
            since = facts.now
        if since != rule["pending_since"]:
            db.session.execute(text("UPDATE alert_rules SET pending_since = :t WHERE id = :id"),
                               {"t": since, "id": rule["id"]})
        holds = holds and (facts.now - since).total_seconds() >= rule["params"]["for_s"]
    return holds, detail


def _step(rule, facts):
    """Move one rule; the number of notifications queued."""
    now = facts.now
    holds, detail = _judge(rule, facts)
    quiet = bool(rule["acked_until"] and rule["acked_until"] > now)
    tell = rule["enabled"] and not quiet
    if holds and rule["state"] == "ok":
        firing_id = db.session.execute(text(OPEN_SQL), {
            "rule_id": rule["id"], "now": now, "detail": json.dumps(detail),
            "notified": tell}).scalar()
        db.session.execute(text("UPDATE alert_rules SET state = 'firing', since = :now,"
                                " firing_id = :f WHERE id = :id"),
                           {"now": now, "f": firing_id, "id": rule["id"]})
        log.info("alert %s firing: %s", rule["name"], detail.get("text"))
        return _queue(rule, firing_id, "firing", now, detail) if tell else 0
    if holds and rule["state"] == "firing" and tell and not rule["notified"]:
        # Fired while acknowledged and still firing now that it is not: tell once, late.
        db.session.execute(text("UPDATE alert_firings SET notified = true WHERE id = :f"),
                           {"f": rule["firing_id"]})
        return _queue(rule, rule["firing_id"], "firing", now, detail)
    if holds is False and rule["state"] == "firing":
        db.session.execute(text("UPDATE alert_firings SET ended_at = :now, end_detail = :d"
                                " WHERE id = :f"),
                           {"now": now, "d": json.dumps(detail), "f": rule["firing_id"]})
        db.session.execute(text("UPDATE alert_rules SET state = 'ok', since = :now,"
                                " firing_id = NULL WHERE id = :id"), {"now": now, "id": rule["id"]})
        log.info("alert %s resolved: %s", rule["name"], detail.get("text"))
        if tell and rule["notified"]:
            return _queue(rule, rule["firing_id"], "resolved", now, detail)
    return 0


def evaluate(pinged_at=None):
    """Judge every enabled (or still firing) rule once, in one transaction; (rules, queued)."""
    rows = [dict(r) for r in db.session.execute(text(LOCK_SQL)).mappings()]
    facts, queued = Facts.read(pinged_at), 0
    facts.widest_window_s = max([r["params"]["window_s"] for r in rows
                                 if r["kind"] == "failure_rate"], default=0.0)
    for rule in rows:
        queued += _step(rule, facts)
    db.session.commit()
    return len(rows), queued
