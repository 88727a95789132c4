"""Transport on the real RabbitMQ cluster: per-gate permissions and a gate's Mosquitto bridge."""

from __future__ import annotations

import json
import os
import queue
import time
import uuid
from typing import Any

import paho.mqtt.client as mqtt
import pika
import psycopg
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from gate.broker import LocalBroker
from gate.hub import downlink
from gate.hub.config import HubConfig
from gate.hub.schema import migrate
from gate.mqtt import close_client
from tests.hub_helpers import (
    GATE_PASSWORD,
    CuttableProxy,
    RabbitCluster,
    bridge_config,
    hub_config,  # noqa: F401
    needs_hub,
    postgres,  # noqa: F401
    rabbit,  # noqa: F401
    wait_for,
)
from tests.test_hub_ingest import declare_queue, event, running_consumer

pytestmark = [pytest.mark.slow, needs_hub]
CUT_S = float(os.environ.get("HUB_CUT_SECONDS", "60"))  # the 60 s outage


class Client:
    """A paho client (MQTT 3.1.1, as RabbitMQ 3.10 speaks) that collects what it receives."""

    def __init__(self, port: int, user: str | None = None, password: str = GATE_PASSWORD,
                 subscribe: list[str] | None = None, client_id: str | None = None) -> None:
        self.received: queue.Queue[tuple[str, Any]] = queue.Queue()
        name = client_id or f"{user or 'local'}-t{uuid.uuid4().hex[:6]}"
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=name,
                                  protocol=mqtt.MQTTv311)
        if user:
            self.client.username_pw_set(user, password)
        self.suback: queue.Queue[list[Any]] = queue.Queue()
        self.client.on_message = lambda _c, _u, m: self.received.put(
            (m.topic, json.loads(m.payload)))
        self.client.on_subscribe = lambda _c, _u, _m, codes, _p: self.suback.put(list(codes))
        self.client.connect("127.0.0.1", port, keepalive=10)
        self.client.loop_start()
        wait_for(self.client.is_connected, 10, "MQTT connect")
        self.granted = True
        for topic in subscribe or []:
            self.client.subscribe(topic, qos=1)
            self.granted &= self._granted()

    def _granted(self) -> bool:
        """RabbitMQ answers a forbidden subscription by closing the connection."""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and self.client.is_connected():
            try:
                return all(not c.is_failure for c in self.suback.get(timeout=0.1))
            except queue.Empty:
                continue
        return False

    def publish(self, topic: str, body: dict[str, Any], timeout: float = 5) -> bool:
        info = self.client.publish(topic, json.dumps(body), qos=1)
        deadline = time.monotonic() + timeout
        while not info.is_published() and time.monotonic() < deadline:
            if not self.client.is_connected():
                return False
            time.sleep(0.02)
        return info.is_published()

    def next(self, timeout: float = 15) -> tuple[str, Any]:
        return self.received.get(timeout=timeout)

    def close(self) -> None:
        close_client(self.client)


def test_a_gate_writes_only_its_own_subtree_and_reads_only_its_site(
        rabbit: RabbitCluster, hub_config: HubConfig) -> None:  # noqa: F811
    port = rabbit.mqtt_ports[0]
    with pika.BlockingConnection(pika.URLParameters(hub_config.amqp.urls[0])) as conn:
        channel = conn.channel()
        tap = "hub.test.tap"
        channel.queue_declare(tap, exclusive=True)
        channel.queue_bind(tap, "amq.topic", "campus.#")
        allowed = {"campus/zqxx/main/events/arrival": event(),
                   "campus/zqxx/guardians/G1/notifications": {"id": "n1"}}
        forbidden = {"campus/zqxx/east/events/arrival": event(gate="east"),
                     "campus/hxxx/main/alerts/unknown_card": event(site="hxxx"),
                     "campus/zqxx/watchlist/police": {"id": "fake-list"},
                     "campus/zqxx/east/acks": {"id": "fake-ack"}}
        for topic, body in allowed.items():
            gate = Client(port, "gate-zqxx-main")
            assert gate.publish(topic, body), topic
            gate.close()
        for topic, body in forbidden.items():
            gate = Client(port, "gate-zqxx-main")
            assert not gate.publish(topic, body, timeout=3), topic
            gate.close()
        wait_for(lambda: channel.queue_declare(tap, passive=True).method.message_count
                 >= len(allowed), 10, "the allowed messages")
        got = []
        while (msg := channel.basic_get(tap, auto_ack=True))[0] is not None:
            got.append(msg[0].routing_key)
        assert sorted(got) == sorted(t.replace("/", ".") for t in allowed)

    # reading: its own site's watch lists, never another site's (the client id is the user
    # name, as in the shipped bridge, so the subscription queue is the one it may create)
    other = Client(port, "gate-zqxx-main", subscribe=["campus/hxxx/watchlist/#"],
                   client_id="gate-zqxx-main")
    assert not other.granted
    other.close()
    own = Client(port, "gate-zqxx-main", subscribe=["campus/zqxx/watchlist/#"],
                 client_id="gate-zqxx-main")
    other = Client(port, "gate-zqxx-east", subscribe=["campus/zqxx/watchlist/#"],
                   client_id="gate-zqxx-east")
    try:
        assert own.granted and other.granted
        downlink.publish(hub_config, "campus.hxxx.watchlist.police", {"id": "hx-list"})
        downlink.publish(hub_config, "campus.zqxx.watchlist.police", {"id": "zq-list"})
        assert own.next()[1]["id"] == "zq-list"
        assert other.next()[1]["id"] == "zq-list"
        with pytest.raises(queue.Empty):
            own.next(timeout=2)
    finally:
        own.close()
        other.close()


def test_bridge_carries_events_up_and_lists_down_and_keeps_a_backlog_through_a_cut(
        rabbit: RabbitCluster, hub_config: HubConfig) -> None:  # noqa: F811
    declare_queue(hub_config)
    proxies = [CuttableProxy(p) for p in rabbit.mqtt_ports]
    broker = LocalBroker(extra=bridge_config([p.port for p in proxies])).start()
    guard = Client(broker.port, subscribe=["campus/zqxx/watchlist/#", "campus/zqxx/main/acks"])
    gate = Client(broker.port)
    db = psycopg.connect(hub_config.postgres.dsn, autocommit=True)
    migrate(db)

    def stored() -> int:
        return int(db.execute("SELECT count(*) FROM events").fetchone()[0])  # type: ignore[index]

    try:
        with running_consumer(hub_config):
            assert gate.publish("campus/zqxx/main/events/arrival", event())
            wait_for(lambda: stored() == 1, 30, "the first event through the bridge")
            downlink.publish(hub_config, "campus.zqxx.watchlist.police", {"id": "list-1"})
            downlink.publish(hub_config, downlink.ack_routing_key("campus", "zqxx", "main"),
                             {"alert_id": "a1", "by": "officer"})
            got = {guard.next()[1].get("id") or "ack" for _ in range(2)}
            assert got == {"list-1", "ack"}

            for p in proxies:
                p.cut()
            cut_at = time.monotonic()
            backlog = [event() for _ in range(100)]
            for body in backlog:
                assert gate.publish("campus/zqxx/main/events/arrival", body)  # local PUBACK
            downlink.publish(hub_config, "campus.zqxx.watchlist.police", {"id": "list-2"})
            while time.monotonic() - cut_at < CUT_S:
                assert stored() == 1          # nothing gets through while the link is cut
                time.sleep(1)
            for p in proxies:
                p.restore()
            wait_for(lambda: stored() == 101, 60, "the backlog after the link returns")
            # QoS 1 is at least once: a message whose PUBACK the cut swallowed (the ack, list-1)
            # may come again when the bridge's session resumes, before list-2; nothing else may
            redelivered = []
            while (body := guard.next(timeout=30)[1]).get("id") != "list-2":
                redelivered.append(body)
            assert all(b.get("id") == "list-1" or b.get("alert_id") == "a1" for b in redelivered)
            ids = {r[0] for r in db.execute("SELECT id FROM events")}
            assert {b["id"] for b in backlog} <= ids
    finally:
        db.close()
        guard.close()
        gate.close()
        broker.stop()
        for p in proxies:
            p.close()
