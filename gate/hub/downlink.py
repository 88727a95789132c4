"""What the district sends down to gates: police acknowledgements and watch lists.

Published over AMQP to the MQTT plugin's exchange with publisher confirms, persistent: the
routing key ``{root}.{site}.{gate}.acks`` reaches MQTT subscribers of ``{root}/{site}/{gate}/acks``,
i.e. each gate's bridge, whose persistent session keeps it in a quorum queue while the gate is
away. (RabbitMQ's retained-message store is per node and AMQP publishes are never retained,
so nothing here relies on retained messages.)
"""

from __future__ import annotations

import json
from typing import Any

import pika
import pika.exceptions

from gate.hub.config import HubConfig
from gate.hub.connect import amqp_urls

ACK_SCHEMA = "campus-gate/ack/1"


def ack_routing_key(root: str, site: str, gate: str) -> str:
    return f"{root}.{site}.{gate}.acks"


def watchlist_routing_key(root: str, site: str, name: str) -> str:
    return f"{root}.{site}.watchlist.{name}"


def publish(config: HubConfig, routing_key: str, body: dict[str, Any]) -> None:
    """Publishes once, confirmed by the broker; raises if no node takes it."""
    publish_many(config, [(routing_key, json.dumps(
        body, ensure_ascii=False, separators=(",", ":")).encode())])


def publish_many(config: HubConfig, messages: list[tuple[str, bytes]]) -> None:
    """Publishes each (routing key, body) on one connection, every one confirmed."""
    last: Exception | None = None
    for url in amqp_urls(config):
        try:
            with pika.BlockingConnection(pika.URLParameters(url)) as conn:
                channel = conn.channel()
                channel.confirm_delivery()
                for key, data in messages:
                    channel.basic_publish(config.amqp.exchange, key, data, pika.BasicProperties(
                        delivery_mode=2, content_type="application/json"))
                return
        except pika.exceptions.AMQPError as exc:
            last = exc
    raise ConnectionError(f"no RabbitMQ node took the message: {last}")
