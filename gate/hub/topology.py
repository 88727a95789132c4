"""The hub's queue on the cluster: one durable quorum queue bound to the MQTT plugin's exchange.

Declaring is idempotent, so every hub process declares on start; whichever comes first
creates it. Only what the hub stores is bound: guardian and staff notifications, watch lists
and acknowledgements never enter the hub's queue.
"""

from __future__ import annotations

from pika.adapters.blocking_connection import BlockingChannel


def binding_keys(root: str) -> list[str]:
    """AMQP binding keys for MQTT topics ``{root}/+/+/events/+``, ``.../alerts/+``, ``.../status``
    (the MQTT plugin turns ``/`` into ``.``)."""
    return [f"{root}.*.*.events.*", f"{root}.*.*.alerts.*", f"{root}.*.*.status"]


def declare(channel: BlockingChannel, queue: str, exchange: str, root: str) -> None:
    channel.queue_declare(queue, durable=True, arguments={"x-queue-type": "quorum"})
    for key in binding_keys(root):
        channel.queue_bind(queue, exchange, routing_key=key)
