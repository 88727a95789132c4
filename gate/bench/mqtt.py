"""Alert latency from the engine's decision to a subscriber, and outbox drain after an outage,
through a private local Mosquitto."""

from __future__ import annotations

import datetime as dt
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from gate.bench import Figure, percentile
from gate.broker import LocalBroker, find_mosquitto
from gate.config import parse_config
from gate.mqtt import close_client
from gate.service import Service
from rfid.cards import CardId
from rfid.reader import CardRead


class _Receiver:
    def __init__(self, port: int) -> None:
        self.arrived: dict[str, float] = {}
        self.cond = threading.Condition()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-police",
                                  clean_session=False)
        ready = threading.Event()
        self.client.on_connect = lambda c, *_a: c.subscribe("campus/+/+/alerts/#", qos=1)
        self.client.on_subscribe = lambda *_a: ready.set()
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        ready.wait(10)

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        import json

        body = json.loads(msg.payload)
        with self.cond:
            self.arrived.setdefault(body["id"], time.perf_counter())
            self.cond.notify_all()

    def wait(self, n: int, timeout: float) -> bool:
        with self.cond:
            return self.cond.wait_for(lambda: len(self.arrived) >= n, timeout)

    def close(self) -> None:
        close_client(self.client)


def run(quick: bool) -> list[Figure]:
    if find_mosquitto() is None:
        return []
    with tempfile.TemporaryDirectory() as tmp, LocalBroker(workdir=Path(tmp) / "b") as broker:
        config = parse_config({"data_dir": tmp, "mqtt": {"port": broker.port},
                               "console": {"enabled": False},
                               "lanes": [{"id": "L1"}]})
        service = Service(config, Path(tmp) / "data")
        receiver = _Receiver(broker.port)
        service.start()
        try:
            latencies = []
            for i in range(30 if quick else 200):
                start = time.perf_counter()
                d = service.engine.on_card(CardRead(
                    CardId(i.to_bytes(5, "big")), "em4100", "L1-in", "entry",
                    dt.datetime.now(dt.UTC), time.monotonic()))
                assert d.alert is not None
                receiver.wait(i + 1, 10)
                latencies.append((receiver.arrived[d.alert.id] - start) * 1000)
            # outage: the broker goes away while alerts keep coming, then returns
            broker.stop()
            backlog = 300 if quick else 2000
            for i in range(backlog):
                service.engine.on_card(CardRead(
                    CardId((10_000 + i).to_bytes(5, "big")), "em4100", "L1-in", "entry",
                    dt.datetime.now(dt.UTC), time.monotonic()))
            before = set(receiver.arrived)
            broker.start()
            start = time.perf_counter()
            if not receiver.wait(len(before) + backlog, 120):
                raise RuntimeError("the outbox did not drain after the outage")
            times = sorted(t for k, t in receiver.arrived.items() if k not in before)
        finally:
            service.stop()
            receiver.close()
    return [Figure("mqtt.alert_latency_p50_ms", statistics.median(latencies), "ms"),
            Figure("mqtt.alert_latency_p99_ms", percentile(latencies, 99), "ms"),
            Figure("mqtt.outage_recovery_s", times[-1] - start, "s"),
            Figure("mqtt.outbox_drain_msgs_per_s", (len(times) - 1) / (times[-1] - times[0]),
                   "msg/s")]
