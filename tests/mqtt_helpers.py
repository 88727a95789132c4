"""A real Mosquitto with the shipped ACL and password file, and subscriber clients."""

from __future__ import annotations

import json
import queue
import shutil
import subprocess
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from gate.broker import LocalBroker
from gate.mqtt import close_client
from tests.conftest import ROOT

USERS = {"gate-zqxx-main": "gate-secret", "police": "police-secret", "guard-zqxx": "guard-secret",
         "G1": "parent-1", "G6": "parent-6", "bridge-zqxx": "bridge-secret",
         "gate-wrong": "wrong-acl-secret"}  # authenticates, but the ACL grants it nothing


def secured_broker(workdir: Path) -> LocalBroker:
    workdir.mkdir(parents=True, exist_ok=True)
    passwd = workdir / "passwd"
    passwd_bin = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"
    for i, (user, password) in enumerate(USERS.items()):
        args = [passwd_bin, "-b", str(passwd), user, password]
        if i == 0:
            args.insert(1, "-c")
        subprocess.run(args, check=True, capture_output=True)
    acl = workdir / "acl"
    shutil.copy(ROOT / "config" / "mosquitto" / "acl", acl)
    return LocalBroker(extra=f"allow_anonymous false\npassword_file {passwd}\nacl_file {acl}\n",
                       workdir=workdir)


def gate_mqtt_section(tmp_path: Path, port: int) -> dict[str, Any]:
    """The [mqtt] section for a gate that logs in as gate-zqxx-main."""
    secret = tmp_path / "mqtt.pass"
    secret.write_text("gate-secret\n")
    return {"host": "127.0.0.1", "port": port, "username": "gate-zqxx-main",
            "password_file": str(secret)}


class Subscriber:
    """A paho client that collects messages; persistent session so it misses nothing."""

    def __init__(self, port: int, user: str, topics: list[str], clean: bool = True,
                 client_id: str | None = None) -> None:
        self.messages: queue.Queue[tuple[str, dict[str, Any] | str]] = queue.Queue()
        self._subscribed = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2,
                                  client_id=client_id or f"test-{uuid.uuid4().hex[:8]}",
                                  clean_session=clean)
        self.client.username_pw_set(user, USERS[user])
        self.client.reconnect_delay_set(0.1, 0.5)
        self.topics = topics

        def on_connect(c: mqtt.Client, *_a: Any) -> None:
            c.subscribe([(t, 1) for t in topics])

        def on_subscribe(*_a: Any) -> None:
            self._subscribed.set()

        def on_message(_c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
            try:
                body: dict[str, Any] | str = json.loads(msg.payload)
            except ValueError:
                body = msg.payload.decode(errors="replace")
            self.messages.put((msg.topic, body))

        self.client.on_connect = on_connect
        self.client.on_subscribe = on_subscribe
        self.client.on_message = on_message
        self.client.connect("127.0.0.1", port, keepalive=5)
        self.client.loop_start()
        if not self._subscribed.wait(10):
            raise TimeoutError("no SUBACK")

    def get(self, timeout: float = 10) -> tuple[str, Any]:
        return self.messages.get(timeout=timeout)

    def drain(self, quiet: float = 0.5) -> list[tuple[str, Any]]:
        out = []
        while True:
            try:
                out.append(self.messages.get(timeout=quiet))
            except queue.Empty:
                return out

    def until(self, predicate: Any, timeout: float = 15) -> list[tuple[str, Any]]:
        """Collect messages until one satisfies ``predicate``; returns all collected."""
        got = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                item = self.messages.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            got.append(item)
            if predicate(item):
                return got
        raise AssertionError(f"condition not met; got {got}")

    def publish(self, topic: str, payload: str, retain: bool = False) -> None:
        self.client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(5)

    def close(self) -> None:
        close_client(self.client)
