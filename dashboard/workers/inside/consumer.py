"""The worker's consumer: its event connection publishes without waiting for publisher confirms.

Celery's worker sends its events (heartbeats, task-received/started/succeeded)
on a connection of its own, made with the app's transport options; with
`confirm_publish` every event would be a round trip to the broker in the
worker's main loop, between two task messages. Events are monitoring (Flower),
not state: PostgreSQL holds each request's history. So this connection alone
publishes without confirms; tasks published by the dashboard keep theirs.
"""
from celery.worker.consumer import Consumer as CeleryConsumer


class Consumer(CeleryConsumer):
    """Celery's consumer; `connection_for_write` (used by its Events step) differs, and it
    has no native delayed delivery step."""

    class Blueprint(CeleryConsumer.Blueprint):
        """Celery's steps without DelayedDelivery: with quorum queues it would declare 28
        more quorum queues and bind every queue to them, once per broker URL, at every
        worker start, for ETA/countdown tasks, which this service never sends."""
        default_steps = [step for step in CeleryConsumer.Blueprint.default_steps
                         if not step.endswith(":DelayedDelivery")]

    def connection_for_write(self, url=None, heartbeat=None):
        return self.ensure_connected(self.app.connection_for_write(
            url=url, heartbeat=heartbeat, transport_options={"confirm_publish": False}))
