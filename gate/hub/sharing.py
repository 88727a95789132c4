"""Watch lists across districts (一地布控、两域双查) over RabbitMQ's shovel plugin.

The issuing district publishes a list to ``{root}.shared.watchlist.{name}``; a durable queue
there (``share.to.{us}``) holds it, and a dynamic shovel moves it into our
``hub.shared.in.{them}``. :class:`ShareConsumer` renames it ``{them}-{name}``, keeps it and
sends it to every school. A gate's hit on such a list is an ordinary ``watchlist_face`` /
``watchlist_plate`` alert naming the list; the hub consumer copies it (where, when, what) into
``hub.hits.to.{them}``, and a second shovel delivers it to the issuing district's exchange as
``{root}.shared.hits.{us}``, where its police read it (MQTT ``campus/shared/hits/#``).
Shovels acknowledge on confirm, so neither direction loses a message when a link drops.
"""

from __future__ import annotations

import json
import logging
import threading
from typing import Any

import pika
import pika.exceptions
import psycopg

from gate.hub import watchlists
from gate.hub.config import HubConfig
from gate.hub.connect import amqp_urls, pg_connect
from gate.hub.ingest import Record
from gate.hub.schema import migrate

log = logging.getLogger("gate.hub.sharing")
HIT_SCHEMA = "campus-gate/shared-hit/1"
HIT_TYPES = ("watchlist_face", "watchlist_plate")


def inbox(origin: str) -> str:
    return f"hub.shared.in.{origin}"


def hits_outbox(origin: str) -> str:
    return f"hub.hits.to.{origin}"


def hit_message(us: str, record: Record, neighbours: list[str]) -> tuple[str, bytes] | None:
    """(queue, body) reporting a hit on a neighbour's list back to it, or None."""
    if record.kind != "alert" or record.type not in HIT_TYPES:
        return None
    name = record.payload.get("list")
    origin = watchlists.origin_of(name, neighbours) if isinstance(name, str) else None
    if origin is None:
        return None
    keep = ("plate", "entry", "name", "reason", "camera", "match", "listed_plate", "severity",
            "lane", "snapshot")
    body = {"schema": HIT_SCHEMA, "id": record.id, "from_district": us,
            "list": str(name)[len(origin) + 1:], "site": record.site, "gate": record.gate,
            "ts": record.ts.isoformat(), "type": record.type,
            **{k: record.payload[k] for k in keep if k in record.payload}}
    return hits_outbox(origin), json.dumps(body, ensure_ascii=False).encode()


def shovel_definitions(us: str, them: str, *, our_uri: str, their_uri: str,
                       our_vhost: str = "/", their_vhost: str = "/",
                       root: str = "campus") -> dict[str, dict[str, list[dict[str, Any]]]]:
    """Definitions of one sharing agreement: ``theirs`` for the issuing district's cluster,
    ``ours`` for this one. Each side runs the shovel that reads its own queue.

    URIs follow the shovel plugin: ``amqp:///vhost`` is the local cluster, a remote one is
    ``amqps://user:password@host/vhost``. Import queues and bindings before the shovels: a
    shovel that starts before its source queue exists declares a classic queue instead.
    """
    quorum = {"x-queue-type": "quorum"}

    def queue(name: str, vhost: str) -> dict[str, Any]:
        return {"name": name, "vhost": vhost, "durable": True, "auto_delete": False,
                "arguments": quorum}

    theirs = {
        "queues": [queue(f"share.to.{us}", their_vhost)],
        "bindings": [{"source": "amq.topic", "vhost": their_vhost,
                      "destination": f"share.to.{us}", "destination_type": "queue",
                      "routing_key": f"{root}.shared.watchlist.*", "arguments": {}}],
        "parameters": [
            {"vhost": their_vhost, "component": "shovel", "name": f"lists-{them}-to-{us}",
             "value": {"src-protocol": "amqp091", "src-uri": their_uri,
                       "src-queue": f"share.to.{us}", "dest-protocol": "amqp091",
                       "dest-uri": our_uri, "dest-queue": inbox(them),
                       "ack-mode": "on-confirm", "reconnect-delay": 2}}],
    }
    ours = {
        "queues": [queue(inbox(them), our_vhost), queue(hits_outbox(them), our_vhost)],
        "bindings": [],
        "parameters": [
            {"vhost": our_vhost, "component": "shovel", "name": f"hits-{us}-to-{them}",
             "value": {"src-protocol": "amqp091", "src-uri": our_uri,
                       "src-queue": hits_outbox(them), "dest-protocol": "amqp091",
                       "dest-uri": their_uri, "dest-exchange": "amq.topic",
                       "dest-exchange-key": f"{root}.shared.hits.{us}",
                       "ack-mode": "on-confirm", "reconnect-delay": 2}}],
    }
    return {"theirs": theirs, "ours": ours}


class ShareConsumer:
    """Takes neighbours' shared lists in, keeps them and sends them to every school."""

    def __init__(self, config: HubConfig, stop: threading.Event | None = None) -> None:
        self.config = config
        self.stop = stop or threading.Event()
        self.received = 0

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                with pg_connect(self.config) as conn:
                    migrate(conn)
                    self._consume(conn)
            except (pika.exceptions.AMQPError, psycopg.OperationalError, OSError) as exc:
                log.warning("sharing: %s: %s; reconnecting", type(exc).__name__, exc)
                self.stop.wait(1)

    def _consume(self, conn: psycopg.Connection[Any]) -> None:
        urls = amqp_urls(self.config)
        connection = pika.BlockingConnection(pika.URLParameters(urls[self.received % len(urls)]))
        try:
            channel = connection.channel()
            channel.confirm_delivery()
            for origin in self.config.sharing.neighbours:
                for name in (inbox(origin), hits_outbox(origin)):
                    channel.queue_declare(name, durable=True,
                                          arguments={"x-queue-type": "quorum"})
            while not self.stop.is_set():
                idle = True
                for origin in self.config.sharing.neighbours:
                    method, _props, body = channel.basic_get(inbox(origin))
                    if method is None:
                        continue
                    idle = False
                    self._take(conn, channel, origin, body)
                    channel.basic_ack(method.delivery_tag)
                    self.received += 1
                if idle:
                    self.stop.wait(0.2)
        finally:
            if connection.is_open:
                connection.close()

    def _take(self, conn: psycopg.Connection[Any], channel: Any, origin: str,
              body: bytes) -> None:
        try:
            payload = json.loads(body)
            name = watchlists.shared_name(origin, str(payload["list"]))
        except (ValueError, KeyError, TypeError):
            log.warning("sharing: an unreadable list from %s was dropped", origin)
            return
        # only the name changes: gates validate lists strictly (no unknown keys)
        payload = {**payload, "list": name}
        watchlists.save(conn, payload, origin=origin)
        for key, data in watchlists.messages(self.config.root, watchlists.known_sites(conn),
                                             payload):
            channel.basic_publish(self.config.amqp.exchange, key, data,
                                  pika.BasicProperties(delivery_mode=2))
