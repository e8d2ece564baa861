"""Telling a submitter their request succeeded (the `link` callback's work)."""
import logging
import smtplib
from email.message import EmailMessage

from flask import current_app
from sqlalchemy import text

from . import audit
from .extensions import db

log = logging.getLogger(__name__)


def request_succeeded(request_id):
    """Email the submitter when SMTP is configured; always leave an audit entry."""
    row = db.session.execute(text(
        "SELECT r.id, r.job_type, r.submitted_by, u.email FROM requests r"
        " LEFT JOIN users u ON u.username = r.submitted_by WHERE r.id = :id"),
        {"id": request_id}).mappings().first()
    if row is None:
        return
    host = current_app.config["SMTP_HOST"]
    outcome = "skipped: no SMTP_HOST" if not host else "skipped: submitter has no email"
    if host and row["email"]:
        msg = EmailMessage()
        msg["Subject"] = f"Request #{row['id']} ({row['job_type']}) succeeded"
        msg["From"] = current_app.config["SMTP_FROM"]
        msg["To"] = row["email"]
        msg.set_content(f"Request #{row['id']} of type {row['job_type']} finished with success.")
        try:
            with smtplib.SMTP(host, current_app.config["SMTP_PORT"], timeout=10) as smtp:
                smtp.send_message(msg)
            outcome = "sent"
        except OSError as exc:
            log.warning("notify %s: %s", request_id, exc)
            outcome = f"error: {exc.__class__.__name__}"
    audit.record("notify", outcome, request_id=request_id, username="system",
                 detail={"to": row["email"]} if row["email"] else None)
    db.session.commit()
