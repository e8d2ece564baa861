"""Celery callbacks: `link_error` records failures with their traceback, `link` notifies on success.

This module runs its own dispatcher and worker with SMTP_HOST/SMTP_PORT pointing at
a real local SMTP server (aiosmtpd), as a deployment with SMTP configured would.
"""

from tests.support.db import attempts, audit_rows, sql, wait_status
from tests.support.http import submit, TokenClient
from tests.support.mail import mail_stack, mailer, smtp  # noqa: F401  (the SMTP-configured stack)
from tests.support.procs import wait_for

FAIL = {"min_seconds": 0, "max_seconds": 0, "fail_rate": 1}
QUICK = {"min_seconds": 0, "max_seconds": 0}


def test_errback_records_failure_exception_and_traceback(app, mailer, api):
    """link_error: a job that raises ends as `failure` with the exception and full traceback."""
    request_id = submit(api, FAIL)
    row = wait_status(app, request_id, ("failure", "success", "timeout", "killed"), timeout=60)
    assert row["status"] == "failure"
    assert row["error"] == "SimulatedFailure: simulated failure (fail_rate=1)"
    tb = row["traceback"]
    assert tb.startswith("Traceback (most recent call last):")
    assert "dashboard/jobs/simulate.py" in tb and "raise SimulatedFailure" in tb
    assert "dashboard/tasks.py" in tb
    assert tb.rstrip().endswith("SimulatedFailure: simulated failure (fail_rate=1)")
    [attempt] = attempts(app, request_id)
    assert (attempt["status"], attempt["error"], attempt["traceback"]) == (
        "failure", row["error"], tb)
    body = api.get(f"/api/requests/{request_id}").get_json()
    assert body["error"] == row["error"]
    assert body["attempts"][0]["traceback"] == tb


def test_link_emails_the_submitter_on_success(app, mailer, make_user):
    """link: on success the notify task emails a submitter who has an email address."""
    _, _, token = make_user("operator", username="alice")
    sql(app, "UPDATE users SET email = 'alice@example.org' WHERE username = 'alice'")
    request_id = submit(TokenClient(app, token), QUICK)
    done = wait_status(app, request_id, ("success", "failure", "timeout", "killed"), timeout=60)
    assert done["status"] == "success", done["error"]
    wait_for(lambda: mailer.messages, 30, what="an email")
    [message] = mailer.messages
    assert message["to"] == ["alice@example.org"]
    assert message["subject"] == f"Request #{request_id} (simulate) succeeded"
    [entry] = wait_for(lambda: audit_rows(app, "notify", request_id), 30,
                       what="notify audit entry")
    assert entry["outcome"] == "sent" and entry["username"] == "system"


def test_link_without_email_leaves_an_audit_entry_only(app, mailer, api):
    """A submitter without an email gets no message; the notify task still leaves its trace."""
    request_id = submit(api, QUICK)
    wait_status(app, request_id, "success", timeout=60)
    entries = wait_for(lambda: audit_rows(app, "notify", request_id), 30,
                       what="notify audit entry")
    assert entries[0]["outcome"] == "skipped: submitter has no email"
    assert mailer.messages == []


def test_link_does_not_fire_on_failure(app, mailer, make_user):
    """The success email is the link's, per request; a (final) failure sends its own `failed`
    email instead (tests/integration/requests/test_failure_emails.py), never a `succeeded` one."""
    _, _, token = make_user("operator", username="bob")
    sql(app, "UPDATE users SET email = 'bob@example.org' WHERE username = 'bob'")
    bob = TokenClient(app, token)
    failed = submit(bob, FAIL)
    wait_status(app, failed, "failure", timeout=60)
    succeeded = submit(bob, QUICK)
    wait_status(app, succeeded, "success", timeout=60)
    wait_for(lambda: audit_rows(app, "notify", succeeded), 30, what="notify for the success")
    wait_for(lambda: audit_rows(app, "notify", failed), 30, what="notify for the failure")
    assert sorted(m["subject"] for m in mailer.messages) == sorted([
        f"Request #{succeeded} (simulate) succeeded", f"Request #{failed} (simulate) failed"])
