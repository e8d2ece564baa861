"""Telling a submitter how their request ended: success (the `link` callback) or final failure.

A failure or timeout is final when no auto-retry will follow (timeouts are
never retried automatically; failures once the job type's attempts are used
up). Email only when SMTP is configured; a send error is logged and audited
and never changes the request.
"""
import logging
import smtplib
from email.message import EmailMessage

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import text

from dashboard import audit, jobs
from dashboard.extensions import db

log = logging.getLogger(__name__)



def request_succeeded(request_id):
    """Email the submitter when SMTP is configured; always leave an audit entry."""
    _tell(request_id, ("success",))


def request_failed(request_id):
    """After a failure or timeout: email the submitter if it is final (no auto-retry left)."""
    _tell(request_id, ("failure", "timeout"))


def is_final(row):
    """True when a failed/timed-out request will not be retried automatically."""
    if row["status"] == "timeout":
        return True
    job = jobs.REGISTRY.get(row["job_type"])
    return job is None or row["attempt"] >= job.max_attempts


def _tell(request_id, statuses):
    row = db.session.execute(text(
        "SELECT r.id, r.job_type, r.status, r.attempt, r.error, r.submitted_by, u.email,"
        " u.locale"
        " FROM requests r LEFT JOIN users u ON u.username = r.submitted_by WHERE r.id = :id"),
        {"id": request_id}).mappings().first()
    if row is None or row["status"] not in statuses:
        return  # retried, killed or deleted meanwhile: nothing to tell
    if row["status"] != "success" and not is_final(row):
        return
    host = current_app.config["SMTP_HOST"]
    outcome = "skipped: no SMTP_HOST" if not host else "skipped: submitter has no email"
    if host and row["email"]:
        outcome = _send(row, host)
    audit.record("notify", outcome, request_id=request_id, username="system",
                 detail={"to": row["email"], "status": row["status"]} if row["email"]
                 else {"status": row["status"]})
    db.session.commit()


def _words(row):
    """(subject, body) of the email, in the submitter's language (English when unset)."""
    with force_locale(row["locale"] or "en"):
        subject = {
            "success": _("Request #%(id)s (%(job_type)s) succeeded", **row),
            "failure": _("Request #%(id)s (%(job_type)s) failed", **row),
            "timeout": _("Request #%(id)s (%(job_type)s) timed out", **row),
        }[row["status"]]
        body = {
            "success": _("Request #%(id)s of type %(job_type)s finished with success.", **row),
            "failure": _("Request #%(id)s of type %(job_type)s finished with failure.", **row),
            "timeout": _("Request #%(id)s of type %(job_type)s finished with timeout.", **row),
        }[row["status"]]
        if row["status"] != "success" and row["error"]:
            body += "\n\n" + _("Error: %(error)s", error=row["error"][:1000])
    return subject, body


def _send(row, host):
    """Send one email; returns the audit outcome ('sent' or 'error: ...')."""
    link = f"{current_app.config['DASHBOARD_URL'].rstrip('/')}/requests/{row['id']}"
    subject, body = _words(row)
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = current_app.config["SMTP_FROM"]
    msg["To"] = row["email"]
    msg.set_content(f"{body}\n\n{link}\n")
    try:
        with smtplib.SMTP(host, current_app.config["SMTP_PORT"], timeout=10) as smtp:
            smtp.send_message(msg)
        return "sent"
    except (OSError, smtplib.SMTPException) as exc:
        log.warning("notify %s: %s", row["id"], exc)
        return f"error: {exc.__class__.__name__}"
