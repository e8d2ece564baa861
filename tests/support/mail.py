"""A real local SMTP server (aiosmtpd) for the email tests, and the fixtures of a stack whose
worker and dispatcher send through it (import them into a test module: module-scoped)."""
import pytest

from .procs import dispatcher_proc, free_port, wait_for, wait_online, worker_proc


class SmtpSink:
    """An SMTP server on 127.0.0.1:PORT that keeps every message it receives."""

    def __init__(self, port):
        from aiosmtpd.controller import Controller
        self.messages = []
        self.controller = Controller(self, hostname="127.0.0.1", port=port)
        self.port = port

    async def handle_DATA(self, server, session, envelope):
        """Keep the message; answer 250."""
        from email import message_from_bytes
        message = message_from_bytes(envelope.content)
        self.messages.append({"to": envelope.rcpt_tos, "from": envelope.mail_from,
                              "subject": message["Subject"], "body": message.get_payload()})
        return "250 OK"

    def start(self):
        self.controller.start()
        return self

    def stop(self):
        self.controller.stop()


@pytest.fixture(scope="module")
def smtp():
    """A local SMTP server collecting messages."""
    sink = SmtpSink(free_port()).start()
    yield sink
    sink.stop()


@pytest.fixture(scope="module")
def mail_stack(_stack, celery_app, smtp):
    """The stack's workers and dispatcher replaced by ones configured with SMTP."""
    _stack.stop_all()
    env = {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(smtp.port)}
    dispatcher, worker = dispatcher_proc("dispatcher-smtp"), worker_proc("mailer")
    dispatcher.env.update(env)
    worker.env.update(env)
    dispatcher.start()
    worker.start()
    try:
        wait_for(lambda: "dispatcher listening" in dispatcher.log(), 60,
                 what="SMTP dispatcher listening")
        wait_online(celery_app, ["mailer@test"])
        yield
    finally:
        dispatcher.stop()
        worker.stop()


@pytest.fixture
def mailer(mail_stack, clean_db, smtp):
    """The SMTP stack with empty tables and an empty mailbox."""
    smtp.messages.clear()
    return smtp
