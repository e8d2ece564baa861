"""A real local SMTP server (aiosmtpd) for the success-email tests."""


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
