"""``gate hub run``: a competing consumer from the hub queue into PostgreSQL.

Messages are taken in batches (up to ``batch`` or ``batch_ms``), written in one transaction,
and acknowledged with one multiple-ack only after the commit. A killed process or a dropped
connection leaves the batch unacknowledged: RabbitMQ hands it to another consumer, and the
database keys turn the second copy into a no-op. Every hub process runs this same loop on the
same queue; RabbitMQ spreads the messages between them.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import pika
import pika.exceptions
import psycopg

from gate.hub import sharing, topology, watchlists
from gate.hub.config import HubConfig
from gate.hub.connect import amqp_urls, pg_connect
from gate.hub.ingest import Rejected, parse
from gate.hub.schema import migrate
from gate.hub.writer import Batch, Writer

log = logging.getLogger("gate.hub")


class Consumer:
    def __init__(self, config: HubConfig, stop: threading.Event | None = None,
                 on_commit: Callable[[int], None] | None = None) -> None:
        self.config = config
        self.stop = stop or threading.Event()
        self.on_commit = on_commit
        self.handled = 0     # messages acknowledged, duplicates included
        self._urls = amqp_urls(config)
        self._next = 0
        self._publisher: Any = None

    def run(self) -> None:
        """Runs until ``stop`` is set; reconnects to the next node or database on failure."""
        while not self.stop.is_set():
            try:
                with pg_connect(self.config) as conn:
                    migrate(conn)
                    writer = Writer(conn)
                    writer.prepare(dt.datetime.now(dt.UTC))
                    self._consume(writer)
            except (pika.exceptions.AMQPError, psycopg.OperationalError, OSError) as exc:
                log.warning("hub consumer: %s: %s; reconnecting", type(exc).__name__, exc)
                self.stop.wait(0.5)

    def _connect(self) -> pika.BlockingConnection:
        last: Exception | None = None
        for _ in range(len(self._urls)):
            url = self._urls[self._next % len(self._urls)]
            self._next += 1
            params = pika.URLParameters(url)
            params.heartbeat = self.config.amqp.heartbeat_s
            params.blocked_connection_timeout = 30
            params.connection_attempts = 1
            params.socket_timeout = 5
            try:
                return pika.BlockingConnection(params)
            except pika.exceptions.AMQPError as exc:
                last = exc
        raise pika.exceptions.AMQPConnectionError(f"no node answered: {last}")

    @staticmethod
    def _write_one_by_one(writer: Writer, batch: Batch) -> None:
        refused = Batch(rejected=list(batch.rejected))
        for rec in batch.records:
            try:
                writer.write_batch(Batch(records=[rec]))
            except (psycopg.DataError, psycopg.IntegrityError) as exc:
                body = json.dumps(rec.payload, ensure_ascii=False)[:4096]
                refused.rejected.append((f"{rec.site}.{rec.gate}.{rec.kind}",
                                         f"refused by PostgreSQL: {type(exc).__name__}", body))
        writer.write_batch(refused)

    def _follow_up(self, conn: psycopg.Connection[Any], batch: Batch) -> None:
        """After the commit, before the ack (so a crash repeats it; receivers de-duplicate by
        id): hits on a neighbour's shared list go back to it, and a gate that reports online
        gets the watch lists in force again."""
        outgoing: list[tuple[str, str, bytes]] = []
        online: set[str] = set()
        for rec in batch.records:
            hit = sharing.hit_message(self.config.district, rec,
                                      self.config.sharing.neighbours)
            if hit:
                outgoing.append(("", *hit))
            if rec.kind == "status" and rec.type == "online":
                online.add(rec.site)
        for site in sorted(online):
            for payload in watchlists.lists_for(conn, site):
                outgoing += [(self.config.amqp.exchange, key, body)
                             for key, body in watchlists.messages(self.config.root, [site],
                                                                  payload)]
        if outgoing and self._publisher is not None:
            for exchange, key, body in outgoing:
                self._publisher.basic_publish(exchange, key, body,
                                              pika.BasicProperties(delivery_mode=2))

    def _consume(self, writer: Writer) -> None:
        amqp = self.config.amqp
        connection = self._connect()
        try:
            self._publisher = connection.channel()
            self._publisher.confirm_delivery()
            channel = connection.channel()
            channel.basic_qos(prefetch_count=amqp.prefetch)
            topology.declare(channel, amqp.queue, amqp.exchange, self.config.root)
            batch = Batch()
            last_tag = 0
            deadline: float | None = None
            for method, _props, body in channel.consume(
                    amqp.queue, inactivity_timeout=amqp.batch_ms / 1000):
                if method is not None:
                    key = method.routing_key or ""
                    try:
                        record = parse(key, body, self.config.root)
                        if record is not None:
                            batch.records.append(record)
                    except Rejected as exc:
                        batch.rejected.append((key, str(exc), body[:4096].decode(
                            "utf-8", "replace").replace("\x00", "\\0")))
                    last_tag = method.delivery_tag
                    if deadline is None:
                        deadline = time.monotonic() + amqp.batch_ms / 1000
                full = len(batch) >= amqp.batch
                due = deadline is not None and time.monotonic() >= deadline
                if last_tag and (full or due or method is None):
                    self._flush(writer, channel, batch, last_tag)
                    batch, last_tag, deadline = Batch(), 0, None
                if self.stop.is_set():
                    break
            channel.cancel()
        finally:
            if connection.is_open:
                connection.close()

    def _flush(self, writer: Writer, channel: Any, batch: Batch, last_tag: int) -> None:
        for attempt in range(5):
            try:
                writer.write_batch(batch)
                break
            except (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure):
                time.sleep(0.05 * (attempt + 1))
            except (psycopg.DataError, psycopg.IntegrityError):
                # one message PostgreSQL refuses (a \u0000 inside a string, which jsonb cannot
                # hold) must not hold up the others forever: store them one by one and keep
                # the refused one aside in ``rejected``
                self._write_one_by_one(writer, batch)
                break
        else:
            raise psycopg.OperationalError("batch kept deadlocking")
        self._follow_up(writer.conn, batch)
        channel.basic_ack(delivery_tag=last_tag, multiple=True)
        self.handled += len(batch)
        if self.on_commit:
            self.on_commit(len(batch))
