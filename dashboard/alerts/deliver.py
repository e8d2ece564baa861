"""Sending what evaluation queued: an email through SMTP, a webhook POST signed with
HMAC-SHA256, each retried with backoff until it goes through or the tries run out.

A resolved notice waits for its firing one on the same channel. One notification at a
time is claimed with `FOR UPDATE SKIP LOCKED` and kept locked
while it is sent, so two beats never send the same one; `sent_at` marks it done.
A receiver that hangs is cut off after ALERT_SEND_TIMEOUT_S and tried again later.
"""
import hashlib
import hmac
import json
import logging
import smtplib
from email.message import EmailMessage

import requests
from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import text

from dashboard import audit
from dashboard.extensions import db

log = logging.getLogger(__name__)

CLAIM_SQL = """
SELECT n.id, n.channel, n.state, n.body, n.attempts, r.name, r.emails, r.webhook_url,
  r.webhook_secret, r.acked_until > now() AS quiet
FROM alert_notifications n JOIN alert_firings f ON f.id = n.firing_id
JOIN alert_rules r ON r.id = f.rule_id
WHERE n.sent_at IS NULL AND n.gave_up_at IS NULL AND n.next_try_at <= now()
  AND NOT EXISTS (SELECT 1 FROM alert_notifications e WHERE e.firing_id = n.firing_id
                  AND e.channel = n.channel AND e.id < n.id
                  AND e.sent_at IS NULL AND e.gave_up_at IS NULL)
ORDER BY n.id LIMIT 1 FOR UPDATE OF n SKIP LOCKED
"""
DONE_SQL = "UPDATE alert_notifications SET sent_at = now(), attempts = attempts + 1 WHERE id = :id"
FAILED_SQL = """
UPDATE alert_notifications SET attempts = attempts + 1, last_error = :error,
  next_try_at = now() + make_interval(secs => :wait),
  gave_up_at = CASE WHEN :give_up THEN now() END
WHERE id = :id
"""


def signature(secret, body):
    """The X-Dashboard-Signature value: sha256=<hex HMAC-SHA256 of the body bytes>."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def post_webhook(url, secret, payload, timeout):
    """POST the JSON body, signed; raises unless the receiver answers 2xx within `timeout`."""
    body = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    # stream: only the status line and headers are awaited, never a body the receiver sends.
    with requests.post(url, data=body, timeout=(min(timeout, 5.0), timeout),
                       allow_redirects=False, stream=True,
                       headers={"Content-Type": "application/json",
                                "X-Dashboard-Signature": signature(secret, body),
                                "User-Agent": "dashboard-alerts"}) as response:
        if not 200 <= response.status_code < 300:
            raise OSError(f"HTTP {response.status_code}")


def _language_of(addresses):
    """Korean when every address is a user's who chose Korean, else English (one message)."""
    wanted = sorted({a.strip().lower() for a in addresses})
    chosen = db.session.execute(text(
        "SELECT lower(email) AS email, locale FROM users WHERE lower(email) = ANY(:e)"),
        {"e": wanted}).all()
    languages = {row.locale for row in chosen}
    return "ko" if wanted and len(chosen) >= len(wanted) and languages == {"ko"} else "en"


def send_email(to, payload, config):
    """One email to the rule's addresses; raises when SMTP refuses or is unset."""
    if not config["SMTP_HOST"]:
        raise OSError("no SMTP_HOST")
    msg = EmailMessage()
    with force_locale(_language_of(to)):
        firing = payload["state"] == "firing"
        word = _("FIRING") if firing else _("resolved")
        opening = (_("Alert %(name)s FIRING at %(at)s.", name=payload["alert"], at=payload["at"])
                   if firing else
                   _("Alert %(name)s resolved at %(at)s.", name=payload["alert"], at=payload["at"]))
    msg["Subject"] = f"[{word}] {payload['alert']} ({payload['kind']})"
    msg["From"] = config["SMTP_FROM"]
    msg["To"] = ", ".join(to)
    text_ = (payload.get("detail") or {}).get("text", "")
    link = f"{config['DASHBOARD_URL'].rstrip('/')}/alerts"
    msg.set_content(f"{opening}\n\n{text_}\n\n{link}\n")
    with smtplib.SMTP(config["SMTP_HOST"], config["SMTP_PORT"],
                      timeout=config["ALERT_SEND_TIMEOUT_S"]) as smtp:
        smtp.send_message(msg)


def _backoff(attempts, config):
    """Seconds before try number attempts + 2: base * 2^attempts, capped."""
    return min(config["ALERT_RETRY_MAX_S"], config["ALERT_RETRY_BASE_S"] * 2 ** attempts)


def deliver_one():
    """Claim, send and record one due notification; False when none is due."""
    config = current_app.config
    row = db.session.execute(text(CLAIM_SQL)).mappings().first()
    if row is None:
        db.session.rollback()
        return False
    outcome = "sent"
    try:
        if row["quiet"]:
            raise LookupError("acknowledged")
        if row["channel"] == "webhook":
            post_webhook(row["webhook_url"], row["webhook_secret"] or "", row["body"],
                         config["ALERT_SEND_TIMEOUT_S"])
        else:
            send_email(row["emails"], row["body"], config)
        db.session.execute(text(DONE_SQL), {"id": row["id"]})
    except (OSError, smtplib.SMTPException, requests.RequestException, LookupError) as exc:
        error = f"{exc.__class__.__name__}: {exc}"[:400]
        give_up = isinstance(exc, LookupError) or row["attempts"] + 1 >= config["ALERT_MAX_TRIES"]
        outcome = "gave_up" if give_up else "retrying"
        log.warning("alert %s %s %s: %s (%s)", row["name"], row["state"], row["channel"],
                    error, outcome)
        db.session.execute(text(FAILED_SQL), {"id": row["id"], "error": error,
                                              "wait": _backoff(row["attempts"], config),
                                              "give_up": give_up})
    if outcome != "retrying":
        audit.record("alert_notify", outcome, username="system",
                     detail={"alert": row["name"], "state": row["state"],
                             "channel": row["channel"], "attempts": row["attempts"] + 1})
    db.session.commit()
    return True


def deliver_due(limit=100):
    """Send every due notification (up to `limit`); how many were handled."""
    handled = 0
    while handled < limit and deliver_one():
        handled += 1
    return handled
