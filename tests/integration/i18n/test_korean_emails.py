"""Emails in their reader's language, through a real SMTP server (aiosmtpd): the
submitter's "your request ended" email follows their users.locale, and an alert rule's
email is Korean when every address belongs to a user who chose Korean."""
import base64
import binascii
import quopri
from email.header import decode_header, make_header

from dashboard.alerts import deliver
from tests.support.db import sql, wait_status
from tests.support.http import TokenClient, submit
from tests.support.mail import mail_stack, mailer, smtp  # noqa: F401
from tests.support.procs import wait_for

FAIL = {"min_seconds": 0, "max_seconds": 0, "fail_rate": 1}


def _subject(message):
    """The Subject header as text (RFC 2047 words decoded)."""
    return str(make_header(decode_header(message["subject"])))


def _body(message):
    """The body as text, whichever transfer encoding the sender picked."""
    raw = message["body"]
    if not raw.isascii():  # sent as 8bit: already text
        return raw
    try:
        return base64.b64decode("".join(raw.split()), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return quopri.decodestring(raw.encode()).decode("utf-8")


def _user(app, make_user, name, locale):
    """An operator with an email address and `locale`; its API client."""
    _, _, token = make_user("operator", username=name)
    sql(app, "UPDATE users SET email = :e, locale = :l WHERE username = :u",
        e=f"{name}@example.org", l=locale, u=name)
    return TokenClient(app, token)


def test_the_submitters_email_is_in_their_language(app, mailer, make_user):  # noqa: F811
    korean = _user(app, make_user, "minji", "ko")
    english = _user(app, make_user, "mark", None)
    ko_id, en_id = submit(korean, FAIL), submit(english, FAIL)
    for request_id in (ko_id, en_id):
        wait_status(app, request_id, "failure", timeout=60)
    wait_for(lambda: len(mailer.messages) == 2, 30, what="two emails")
    by_to = {m["to"][0]: m for m in mailer.messages}
    ko, en = by_to["minji@example.org"], by_to["mark@example.org"]
    assert _subject(ko) == f"요청 #{ko_id} (simulate) 실패"
    assert f"작업 유형 simulate의 요청 #{ko_id}이(가) 실패로 끝났습니다." in _body(ko)
    assert "오류: " in _body(ko) and f"/requests/{ko_id}" in _body(ko)
    assert _subject(en) == f"Request #{en_id} (simulate) failed"


def test_an_alert_email_to_korean_users_is_korean(app, smtp, make_user):  # noqa: F811
    smtp.messages.clear()
    _user(app, make_user, "jiwoo", "ko")
    _user(app, make_user, "sora", "ko")
    _user(app, make_user, "paul", "en")
    config = {**app.config, "SMTP_HOST": "127.0.0.1", "SMTP_PORT": smtp.port}
    payload = {"alert": "worker2 gone", "kind": "worker_offline", "state": "firing",
               "at": "2026-12-07T18:00:00+00:00", "detail": {"text": "worker2@test silent"}}
    with app.app_context():
        deliver.send_email(["jiwoo@example.org", "SORA@example.org"], payload, config)
        deliver.send_email(["jiwoo@example.org", "paul@example.org"], payload, config)
        deliver.send_email(["ops@example.org"], {**payload, "state": "resolved"}, config)
    wait_for(lambda: len(smtp.messages) == 3, 30, what="three alert emails")
    korean, mixed, outside = smtp.messages
    assert _subject(korean) == "[발생] worker2 gone (worker_offline)"
    assert "알림 worker2 gone이(가) 2026-12-07T18:00:00+00:00에 발생했습니다." in _body(korean)
    assert _subject(mixed) == "[FIRING] worker2 gone (worker_offline)"
    assert _subject(outside) == "[resolved] worker2 gone (worker_offline)"
