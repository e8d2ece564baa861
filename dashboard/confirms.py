"""Publisher confirms by the batch: publish many messages on one confirm-mode channel, wait once.

RabbitMQ numbers every message published on a channel in confirm mode
(delivery tags 1, 2, 3, ...) and acknowledges them, often many at once
(`basic.ack` with `multiple`). A `BatchPublisher` publishes without waiting
and `wait()` blocks until every message published so far is confirmed, so a
batch of N costs one round trip instead of N. A negative confirm, a timeout or
a lost connection raises: the caller rolls back, and the publisher is not used
again. Messages are published without kombu's own retry, which would
republish on a fresh channel whose confirms this object would not see.
"""
import time

from amqp.exceptions import MessageNacked


class BatchPublisher:
    """One broker connection with a confirm-mode channel, and a producer on it."""

    def __init__(self, celery_app, confirm_timeout=10.0):
        # confirm_publish off: the channel must not wait for each message by itself.
        self.connection = celery_app.connection_for_write(
            transport_options={"confirm_publish": False})
        self.connection.ensure_connection(max_retries=1)
        self.channel = self.connection.default_channel
        self.channel.confirm_select()
        self.timeout = confirm_timeout
        self.unconfirmed, self.last_tag, self.refused = set(), 0, 0
        self.channel.events["basic_ack"].add(self._on_ack)
        self.channel.events["basic_nack"].add(self._on_nack)
        publish = self.channel.basic_publish

        def counted(*args, **kwargs):
            self.last_tag += 1
            self.unconfirmed.add(self.last_tag)
            return publish(*args, **kwargs)

        self.channel.basic_publish = counted
        self.producer = celery_app.amqp.Producer(self.channel, auto_declare=True)

    def _settle(self, tag, multiple):
        if multiple:
            self.unconfirmed = {t for t in self.unconfirmed if t > tag}
        else:
            self.unconfirmed.discard(tag)

    def _on_ack(self, tag, multiple):
        self._settle(tag, multiple)

    def _on_nack(self, tag, multiple):
        self.refused += 1
        self._settle(tag, multiple)

    def wait(self):
        """Block until the broker confirmed every message published so far; raise otherwise."""
        deadline = time.monotonic() + self.timeout
        while self.unconfirmed and not self.refused:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"{len(self.unconfirmed)} messages not confirmed"
                                   f" within {self.timeout:g} s")
            self.connection.drain_events(timeout=remaining)
        if self.refused:
            raise MessageNacked(f"the broker refused {self.refused} messages")

    def close(self):
        """Close the connection (errors ignored: it may be gone already)."""
        try:
            self.connection.release()
        except Exception:  # noqa: BLE001  the connection may already be dead
            pass
