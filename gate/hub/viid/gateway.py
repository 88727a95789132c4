"""``gate hub viid``: the district hub as a GA/T 1400 lower platform.

Three loops in one process (run one per district):
- **intake** (thread): the gateway's own quorum queue on the cluster (``[viid] queue``, bound
  to every gate's alerts and events) -> ``viid_outbox`` in PostgreSQL, acknowledged after the
  commit. Its own queue, because the hub's ingest drops images and the crops must go up.
- **downward** (uvicorn thread): dispositions and subscriptions from the upper platform.
- **uplink** (the calling thread): register with Digest, keep alive every ``keepalive_s``,
  compare clocks, send the outbox in batches, register again on 401 (the platform restarted)
  and unregister on stop.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import pika
import pika.exceptions
import psycopg
from psycopg.types.json import Jsonb

from gate.hub.config import HubConfig, read_secret
from gate.hub.connect import amqp_urls, pg_connect
from gate.hub.ingest import Rejected, parse
from gate.hub.schema import migrate
from gate.hub.viid import outbox
from gate.hub.viid.client import NoAnswer, NotRegistered, Refused, ViidClient

log = logging.getLogger("gate.hub.viid")
Clock = Callable[[], dt.datetime]


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def binding_keys(root: str) -> list[str]:
    return [f"{root}.*.*.alerts.*", f"{root}.*.*.events.*"]


class Intake:
    """Gate messages from the cluster into ``viid_outbox``, each once."""

    def __init__(self, config: HubConfig, stop: threading.Event, now: Clock = _utc_now) -> None:
        self.config, self.stop, self.now = config, stop, now
        self.taken = 0

    def run(self) -> None:
        urls = amqp_urls(self.config)
        attempt = 0
        while not self.stop.is_set():
            try:
                with pg_connect(self.config) as conn:
                    migrate(conn)
                    self._consume(conn, urls[attempt % len(urls)])
            except (pika.exceptions.AMQPError, psycopg.OperationalError, OSError) as exc:
                log.warning("viid intake: %s: %s; reconnecting", type(exc).__name__, exc)
                attempt += 1
                self.stop.wait(1)

    def _consume(self, conn: psycopg.Connection[Any], url: str) -> None:
        params = pika.URLParameters(url)
        params.heartbeat = self.config.amqp.heartbeat_s
        connection = pika.BlockingConnection(params)
        try:
            channel = connection.channel()
            channel.basic_qos(prefetch_count=500)
            queue = self.config.viid.queue
            channel.queue_declare(queue, durable=True, arguments={"x-queue-type": "quorum"})
            for key in binding_keys(self.config.root):
                channel.queue_bind(queue, self.config.amqp.exchange, routing_key=key)
            batch: list[tuple[str, str, str, dict[str, Any]]] = []
            last_tag = 0
            for method, _props, body in channel.consume(queue, inactivity_timeout=0.05):
                if method is not None:
                    last_tag = method.delivery_tag
                    message = self._message(method.routing_key or "", body)
                    if message is not None:
                        batch.append(message)
                if last_tag and (method is None or len(batch) >= 200):
                    outbox.enqueue(self.config, conn, batch, self.now())
                    channel.basic_ack(last_tag, multiple=True)
                    self.taken += len(batch)
                    batch, last_tag = [], 0
                if self.stop.is_set():
                    break
            channel.cancel()
        finally:
            if connection.is_open:
                connection.close()

    def _message(self, key: str, body: bytes) -> tuple[str, str, str, dict[str, Any]] | None:
        """(kind, site, gate, payload with its images) of what the hub would accept."""
        try:
            record = parse(key, body, self.config.root)
        except Rejected:
            return None            # the hub's ingest keeps it in ``rejected``
        if record is None or record.kind == "status":
            return None
        return record.kind, record.site, record.gate, json.loads(body)


class Uplink:
    """Registration, liveness, the clock and the outbox towards the upper platform."""

    def __init__(self, config: HubConfig, stop: threading.Event, client: ViidClient,
                 connect: Callable[[], psycopg.Connection[Any]], now: Clock = _utc_now,
                 mono: Callable[[], float] = time.monotonic) -> None:
        self.config, self.stop, self.client, self.connect = config, stop, client, connect
        self.now, self.mono = now, mono
        self.registered = False
        self.skew_s: float | None = None
        self.sent = 0
        self._next_keepalive = 0.0
        self._skew_alerted = False

    def run(self) -> None:
        backoff = 0.5
        conn: psycopg.Connection[Any] | None = None
        while not self.stop.is_set():
            try:
                if conn is None or conn.closed:
                    conn = self.connect()
                if self.step(conn):
                    backoff = 0.5
                else:
                    self.stop.wait(0.2)
            except NotRegistered:
                log.warning("viid: the upper platform answered 401; registering again")
                self.registered = False
            except (Refused, NoAnswer) as exc:
                log.warning("viid: %s; retrying in %.1f s", exc, backoff)
                self.stop.wait(backoff)
                backoff = min(backoff * 2, 5.0)
            except psycopg.OperationalError as exc:
                log.warning("viid: database: %s", exc)
                conn = None
                self.stop.wait(1)
        if self.registered:
            try:
                self.client.unregister()
            except (NotRegistered, Refused, NoAnswer) as exc:
                log.warning("viid: unregister: %s", exc)
        if conn is not None:
            conn.close()

    def step(self, conn: psycopg.Connection[Any]) -> bool:
        """One round; True when it did something (so the loop goes on at once)."""
        if not self.registered:
            self.client.register()
            self.registered = True
            log.info("viid: registered with %s", self.config.viid.upper_url)
            self.check_clock(conn)
            self._next_keepalive = self.mono() + self.config.viid.keepalive_s
        if self.mono() >= self._next_keepalive:
            self.client.keepalive()
            self.check_clock(conn)
            self._next_keepalive = self.mono() + self.config.viid.keepalive_s
        busy = False
        for kind in outbox.KINDS:
            self.settle(conn, kind)
            busy |= self.send_batch(conn, kind)
        return busy

    def check_clock(self, conn: psycopg.Connection[Any]) -> None:
        before = self.mono()
        server = self.client.server_time(self.config.timezone)
        rtt = self.mono() - before
        # the platform's clock has whole seconds: it is the local time minus up to 1 s
        local = self.now() - dt.timedelta(seconds=rtt / 2)
        skew = (server - local).total_seconds() + 0.5
        self.skew_s = skew
        if abs(skew) > self.config.viid.max_skew_s:
            if not self._skew_alerted:
                self._skew_alerted = True
                log.warning("viid: the upper platform's clock differs by %.1f s", skew)
                self.alert(conn, "viid_clock_skew", {"skew_s": round(skew, 1)})
        else:
            self._skew_alerted = False

    def alert(self, conn: psycopg.Connection[Any], kind: str, details: dict[str, Any]) -> None:
        """An alert on the district page (site = the district, gate = "viid")."""
        now = self.now()
        payload = {"schema": "campus-gate/alert/1", "id": str(uuid.uuid4()),
                   "ts": now.isoformat(), "site": self.config.district, "gate": "viid",
                   "type": kind, "severity": "warning", **details}
        conn.execute("INSERT INTO alerts (site, gate, id, ts, type, severity, payload) VALUES"
                     " (%s, 'viid', %s, %s, %s, 'warning', %s)",
                     (self.config.district, payload["id"], now, kind, Jsonb(payload)))

    def settle(self, conn: psycopg.Connection[Any], kind: str) -> None:
        """Rows whose POST went unanswered: delivered if the platform has them, else again
        pending."""
        for object_id in outbox.inflight(conn, kind):
            if self.client.exists(kind, object_id):
                outbox.mark_sent(conn, [object_id])
            else:
                outbox.mark_pending(conn, [object_id])

    def send_batch(self, conn: psycopg.Connection[Any], kind: str) -> bool:
        rows = outbox.take(conn, kind, self.config.viid.batch)
        if not rows:
            return False
        ids_ = [oid for oid, _, _ in rows]
        try:
            codes = self.client.post(kind, [body for _, body, _ in rows])
        except (NotRegistered, Refused):
            outbox.mark_pending(conn, ids_)   # the platform answered: nothing was taken
            raise
        # NoAnswer propagates with the rows inflight: settled by lookup next round.
        # One transaction for the answer: a row set aside and its alert appear together (a
        # reader never sees a refused row without its alert, a crash never loses the alert).
        done = [oid for oid in ids_ if codes.get(oid) == 0]
        refused = [(oid, n) for oid, _, n in rows if codes.get(oid) != 0]
        given_up = [oid for oid, n in refused if n >= outbox.REFUSE_AFTER]
        with conn.transaction():
            outbox.mark_sent(conn, done)
            outbox.mark_refused(conn, given_up)
            outbox.mark_pending(conn, [oid for oid, n in refused if n < outbox.REFUSE_AFTER])
            for oid in given_up:
                self.alert(conn, "viid_refused", {"object_id": oid, "kind": kind,
                                                  "status_code": codes.get(oid)})
        self.sent += len(done)
        if not refused:
            return True
        log.warning("viid: %d of %d %s object(s) refused: %s", len(refused), len(ids_), kind,
                    {oid: codes.get(oid) for oid, _ in refused})
        if len(refused) == len(ids_):
            raise Refused(f"{kind}: the platform took none of {len(ids_)}")
        return True


def password(config: HubConfig) -> str:
    return read_secret(config.viid.password_file) or ""


def run_gateway(config: HubConfig, stop: threading.Event) -> None:
    """Everything of ``gate hub viid`` until ``stop``; unregisters on the way out."""
    from gate.hub.viid.digest import DigestVerifier
    from gate.hub.viid.downward import Controls, create_app
    from gate.hub.viid.server import ThreadServer, split_bind

    v = config.viid
    secret = password(config)
    with pg_connect(config) as conn:
        migrate(conn)
    threading.Thread(target=Intake(config, stop).run, name="viid-intake", daemon=True).start()
    verifier = DigestVerifier("VIID", {v.upper_id: secret}, time.monotonic)
    host, port = split_bind(v.bind)
    server = ThreadServer(create_app(config, Controls(config, lambda: pg_connect(config),
                                                      _utc_now), verifier), host, port).start()
    client = ViidClient(v.upper_url, v.platform_id, v.username, secret, v.timeout_s)
    try:
        Uplink(config, stop, client, lambda: pg_connect(config)).run()
    finally:
        client.close()
        server.stop()
