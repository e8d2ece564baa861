"""Emails on a request's final failure or timeout (after auto-retries are used up), through a
real SMTP server (aiosmtpd); a send failure is audited and never changes the request."""
import os
import time

from sqlalchemy import text

from tests.support.db import audit_rows, sql, wait_status
from tests.support.env import BIN, RUN_DIR
from tests.support.http import submit, TokenClient
from tests.support.procs import free_port, Proc, wait_for
from dashboard.requests import notify
from dashboard.extensions import db
from tests.support.mail import mail_stack, mailer, smtp  # noqa: F401  (the SMTP-configured stack)

FAIL = {"min_seconds": 0, "max_seconds": 0, "fail_rate": 1}


def _user_with_email(app, make_user, name):
    _, _, token = make_user("operator", username=name)
    sql(app, "UPDATE users SET email = :e WHERE username = :u", e=f"{name}@example.org", u=name)
    return TokenClient(app, token)


def test_final_failure_emails_the_submitter_with_a_link(app, mailer, make_user):
    client = _user_with_email(app, make_user, "carol")
    request_id = submit(client, FAIL)
    wait_status(app, request_id, "failure", timeout=60)
    wait_for(lambda: mailer.messages, 30, what="an email")
    [message] = mailer.messages
    assert message["to"] == ["carol@example.org"]
    assert message["subject"] == f"Request #{request_id} (simulate) failed"
    assert f"/requests/{request_id}" in message["body"]
    assert "SimulatedFailure" in message["body"]
    [entry] = wait_for(lambda: audit_rows(app, "notify", request_id), 30, what="notify audit")
    assert entry["outcome"] == "sent" and entry["detail"]["status"] == "failure"


def test_timeout_emails_the_submitter(app, mailer, make_user):
    client = _user_with_email(app, make_user, "tim")
    request_id = submit(client, {"hang": True, "timeout_seconds": 2})
    wait_status(app, request_id, "timeout", timeout=60)
    wait_for(lambda: mailer.messages, 30, what="an email")
    assert [m["subject"] for m in mailer.messages] == [
        f"Request #{request_id} (simulate) timed out"]


def test_only_the_last_auto_retried_failure_emails(app, mailer, make_user):
    """simulate_flaky has three attempts: attempts 1 and 2 fail silently, the third emails."""
    client = _user_with_email(app, make_user, "flo")
    request_id = submit(client, FAIL, job_type="simulate_flaky")
    wait_status(app, request_id, "failure", timeout=60)
    # Attempt 1 (an auto-retry follows) sends nothing: the one message at the end proves
    # it, as its email would have come seconds before the third attempt's.
    assert mailer.messages == []
    beat = Proc("beat-mail", [os.path.join(BIN, "celery"), "-A", "worker", "beat",
                              "-s", os.path.join(RUN_DIR, "beat-mail-schedule"),
                              "--pidfile", os.path.join(RUN_DIR, "beat-mail.pid")]).start()
    try:
        def third_failed():
            with app.app_context():
                row = db.session.execute(text("SELECT status, attempt FROM requests"
                                              " WHERE id = :id"), {"id": request_id}).one()
                db.session.rollback()
            return tuple(row) == ("failure", 3)
        wait_for(third_failed, 90, interval=0.2, what="attempt 3 failed")
    finally:
        beat.stop()
    wait_for(lambda: mailer.messages, 30, what="the final failure's email")
    time.sleep(2)
    assert [m["subject"] for m in mailer.messages] == [
        f"Request #{request_id} (simulate_flaky) failed"]


def test_send_failure_is_audited_and_changes_nothing(app, mailer, make_user):
    """SMTP refusing the connection: logged and audited; the request stays as it was."""
    client = _user_with_email(app, make_user, "dora")
    request_id = submit(client, FAIL)
    wait_status(app, request_id, "failure", timeout=60)
    wait_for(lambda: audit_rows(app, "notify", request_id), 30, what="the first notify")
    closed = free_port()
    with app.app_context():
        before = dict(db.session.execute(text("SELECT * FROM requests WHERE id = :id"),
                                         {"id": request_id}).mappings().one())
        saved = dict(app.config)
        app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=closed)
        try:
            notify.request_failed(request_id)
        finally:
            app.config.update(SMTP_HOST=saved["SMTP_HOST"], SMTP_PORT=saved["SMTP_PORT"])
        after = dict(db.session.execute(text("SELECT * FROM requests WHERE id = :id"),
                                        {"id": request_id}).mappings().one())
        db.session.rollback()
    assert after == before
    entries = audit_rows(app, "notify", request_id)
    assert entries[-1]["outcome"] == "error: ConnectionRefusedError"


def test_a_reaped_attempt_is_a_final_failure_too(app, mailer, make_user):
    """The lost-attempt reaper ends a running attempt its worker no longer holds as failure;
    the submitter hears of it like of any final failure."""
    from dashboard import tasks
    _user_with_email(app, make_user, "rita")
    sql(app, "INSERT INTO requests (job_type, status, attempt, task_id, worker, submitted_by,"
        " started_at) VALUES ('simulate', 'running', 1, gen_random_uuid()::text, 'mailer@test',"
        " 'rita', now() - interval '2 minutes')")
    sql(app, "INSERT INTO attempts (request_id, number, status, task_id, worker, triggered_by)"
        " SELECT id, 1, 'running', task_id, worker, 'rita' FROM requests")
    with app.app_context():
        request_id = db.session.execute(text("SELECT id FROM requests")).scalar()
        db.session.rollback()
        saved = dict(app.config)
        app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=mailer.port)
        try:
            assert tasks.reap_lost.run() == 1  # queues the email task for the SMTP worker
        finally:
            app.config.update(SMTP_HOST=saved["SMTP_HOST"], SMTP_PORT=saved["SMTP_PORT"])
    wait_for(lambda: mailer.messages, 30, what="the reaped failure's email")
    [message] = mailer.messages
    assert message["subject"] == f"Request #{request_id} (simulate) failed"
    assert "no longer runs this attempt" in message["body"]
