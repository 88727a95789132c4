"""MQTT: drains the SQLite outbox to the broker, and receives watch lists.

MQTT 5, so that delivery is confirmed per message: Mosquitto answers a publish its
ACL denies with PUBACK reason 0x87 "Not authorized" (under 3.1.1 it acknowledges and
drops it silently). A refused message is *not* marked sent: it stays in the outbox,
is tried again later, and the guard sees a ``service_fault``. Every SUBACK is checked.

Store-and-forward: every message was committed to the outbox with the record
it announces. The sender hands pending rows to paho in order, a bounded
window at a time, and marks a row sent only on the broker's PUBACK. While the
broker or the network is down, rows wait in SQLite (paho re-sends what it was
already handed when it reconnects); after a restart of the service, every
unacknowledged row is sent again with the same ``id``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from gate import __version__, metrics
from gate.config import Config
from gate.messages import STATUS_SCHEMA, Topics
from gate.records import rfc3339
from gate.store import Store


def close_client(client: mqtt.Client) -> None:
    """Disconnect a paho client and stop its network thread.

    ``disconnect()`` ends the thread, which clears ``client._thread`` as it exits; a
    ``loop_stop()`` that read it just before then joins None (paho-mqtt issue #872, open in
    2.1: AttributeError). The thread has ended then, which is all ``loop_stop`` waits for."""
    client.disconnect()
    with contextlib.suppress(AttributeError):
        client.loop_stop()


log = logging.getLogger("gate.mqtt")


@dataclass
class LinkHealth:
    connected: bool = False
    last_error: str | None = None
    sent: int = 0
    pending: int = 0
    backlog_warning: bool = False
    last_ack_mono: float | None = None
    refused: int = 0  # publishes the broker refused (ACL): kept in the outbox
    last_refusal: str | None = None
    subscribed: bool = False


def _password(path: Path | None) -> str | None:
    """The MQTT password: the configured file, else the systemd credential
    ``mqtt-password`` (``LoadCredentialEncrypted=`` in systemd/gate.service)."""
    if path is not None:
        return path.read_text().strip()
    creds = os.environ.get("CREDENTIALS_DIRECTORY")
    if creds and (Path(creds) / "mqtt-password").is_file():
        return (Path(creds) / "mqtt-password").read_text().strip()
    return None


def status_payload(config: Config, state: str, now: str) -> str:
    return json.dumps({"schema": STATUS_SCHEMA, "state": state, "version": __version__,
                       "ts": now, "site": config.site, "gate": config.gate})


Fault = Callable[[str, dict[str, Any]], None]

#: How long a message the broker refused waits before it is offered again.
REFUSED_RETRY_S = 30.0
#: Reconnect back-off: quick once the broker is back (paho doubles up to this cap).
RECONNECT_MAX_S = 4


class Publisher:
    """The outbox sender and the watch-list inbox.

    Threads: paho's network thread only moves acknowledgements and received messages
    onto queues (it must never wait on our locks or do heavy work: a watch list with
    photos needs dlib); ``run_sender`` and ``run_inbox`` are loops the supervisor runs.
    """

    def __init__(self, config: Config, store: Store,
                 on_watchlist: Callable[[str, bytes], None] | None = None,
                 window: int = 100, on_fault: Fault | None = None,
                 on_ack: Callable[[bytes], None] | None = None) -> None:
        self.config = config
        self.store = store
        self.topics = Topics(config)
        self.health = LinkHealth()
        self.window = window
        self._on_watchlist = on_watchlist
        self._on_fault = on_fault
        self._on_police_ack = on_ack
        self._inbox: queue.Queue[tuple[str, bytes] | None] = queue.Queue()
        self._acks: queue.Queue[int] = queue.Queue()
        self._refused: queue.Queue[tuple[int, str]] = queue.Queue()
        self._refused_until: dict[int, float] = {}
        self._fault_reported: set[str] = set()
        self._handed: dict[int, int] = {}  # paho mid -> outbox seq
        # mids answered before publish() returned: None accepted, else the refusal's reason
        self._early: dict[int, str | None] = {}
        self._own_mids: set[int] = set()  # status publishes: not outbox rows
        self._mid_lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        m = config.mqtt
        client_id = m.client_id or f"campus-gate-{config.site}-{config.gate}"
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                                  protocol=mqtt.MQTTv5)
        self.client.max_inflight_messages_set(window)
        self.client.max_queued_messages_set(0)
        self.client.reconnect_delay_set(min_delay=1, max_delay=RECONNECT_MAX_S)
        if m.username:
            password = _password(m.password_file)
            self.client.username_pw_set(m.username, password)
        if m.tls:
            self.client.tls_set(ca_certs=str(m.ca_file) if m.ca_file else None,
                                certfile=str(m.cert_file) if m.cert_file else None,
                                keyfile=str(m.key_file) if m.key_file else None,
                                cert_reqs=ssl.CERT_REQUIRED)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_publish = self._on_publish
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe

    # Lifecycle ----------------------------------------------------------------------

    def start(self) -> None:
        """Connect in the background (paho's network thread); the sender and inbox loops
        are run by the supervisor (gate/service.py)."""
        m = self.config.mqtt
        # The broker publishes this if the gate vanishes; ts is when the gate came online.
        self.client.will_set(self.topics.status, status_payload(
            self.config, "offline", rfc3339(self.store.now())), qos=1, retain=True)
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = 7 * 24 * 3600  # keep our session (and QoS 1) a week
        self.client.connect_async(m.host, m.port, keepalive=m.keepalive, clean_start=False,
                                  properties=props)
        self.client.loop_start()

    def stop(self) -> None:
        """Stop the loops, say ``offline`` and disconnect (unsent rows stay in the outbox)."""
        self._stop.set()
        self._wake.set()
        self._inbox.put(None)
        if self.health.connected:
            info = self.client.publish(self.topics.status, status_payload(
                self.config, "offline", rfc3339(self.store.now())), qos=1, retain=True)
            with contextlib.suppress(RuntimeError, ValueError):
                info.wait_for_publish(timeout=2)
        close_client(self.client)

    def notify(self) -> None:
        """A new outbox row: wake the sender now rather than at its next poll."""
        self._wake.set()

    # paho callbacks (network thread) ------------------------------------------------------

    def _on_connect(self, client: mqtt.Client, _userdata: Any, _flags: Any,
                    reason: Any, _props: Any) -> None:
        if reason.is_failure:
            self.health.last_error = f"broker refused: {reason}"
            log.error("MQTT: broker %s:%d refused the connection: %s", self.config.mqtt.host,
                      self.config.mqtt.port, reason)
            return
        self.health.connected, self.health.last_error = True, None
        metrics.set_broker_connected(True)
        log.info("MQTT: connected to %s:%d", self.config.mqtt.host, self.config.mqtt.port)
        info = client.publish(self.topics.status, status_payload(
            self.config, "online", rfc3339(self.store.now())), qos=1, retain=True)
        with self._mid_lock:  # its PUBACK must never be taken for an outbox row's
            self._own_mids.add(info.mid)
        client.subscribe([(self.topics.watchlist(), 1), (self.topics.acks, 1)])
        with self._mid_lock:  # refused messages get another chance on a new connection
            self._refused_until.clear()
        self._fault_reported.clear()
        self._wake.set()

    def _on_subscribe(self, _client: mqtt.Client, _userdata: Any, _mid: int,
                      reasons: list[Any], _props: Any) -> None:
        failed = [str(r) for r in reasons if r.is_failure]
        self.health.subscribed = not failed
        if failed:
            log.error("MQTT: the broker refused our subscriptions: %s", ", ".join(failed))
            self._queue_fault("subscribe_refused", {
                "what": "watch-list subscription refused by the broker",
                "reasons": failed})

    def _on_disconnect(self, _client: mqtt.Client, _userdata: Any, _flags: Any,
                       reason: Any, _props: Any) -> None:
        if self.health.connected:
            log.warning("MQTT: disconnected (%s); events wait in the outbox", reason)
        self.health.connected = False
        self.health.last_error = str(reason)
        metrics.set_broker_connected(False)

    def _on_publish(self, _client: mqtt.Client, _userdata: Any, mid: int, reason: Any,
                    _props: Any) -> None:
        refusal = str(reason) if getattr(reason, "is_failure", False) else None
        with self._mid_lock:
            if mid in self._own_mids:
                self._own_mids.discard(mid)
                return
            seq = self._handed.pop(mid, None)
            if seq is None:
                self._early[mid] = refusal
                return
        self._settle(seq, refusal)

    def _settle(self, seq: int, refusal: str | None) -> None:
        """The broker's answer for one outbox row: sent, or refused (kept for later)."""
        if refusal is None:
            self._acks.put(seq)
        else:
            self._refused.put((seq, refusal))
        self._wake.set()

    def _on_message(self, _client: mqtt.Client, _userdata: Any, msg: mqtt.MQTTMessage) -> None:
        self._inbox.put((msg.topic, bytes(msg.payload)))  # handled on the inbox loop

    def _queue_fault(self, key: str, details: dict[str, Any]) -> None:
        """Report a delivery fault once per kind per connection (the guard sees it)."""
        if key in self._fault_reported:
            return
        self._fault_reported.add(key)
        if self._on_fault is not None:
            self._inbox.put(("\0fault", json.dumps({"key": key, **details}).encode()))

    # Inbox loop -------------------------------------------------------------------------

    def run_inbox(self, stop: threading.Event) -> None:
        """Watch lists, police acknowledgements and fault reports, off paho's thread."""
        while not stop.is_set():
            try:
                item = self._inbox.get(timeout=0.5)
            except queue.Empty:
                continue
            if item is None:
                return
            topic, payload = item
            if topic == "\0fault":
                details = json.loads(payload)
                if self._on_fault is not None:
                    self._on_fault(details.pop("key"), details)
            elif topic == self.topics.acks:
                if self._on_police_ack is not None:
                    self._on_police_ack(payload)
            elif self._on_watchlist is not None:
                name = topic.rsplit("/", 1)[-1]
                try:
                    self._on_watchlist(name, payload)
                except Exception:
                    log.exception("watch list %s: handler failed", name)

    # Sender thread ------------------------------------------------------------------------

    def run_sender(self, stop: threading.Event) -> None:
        """The sender loop (run by the supervisor until ``stop``)."""
        handed_seqs: set[int] = set()
        last_warn = 0.0
        while not stop.is_set() and not self._stop.is_set():
            self._wake.wait(1.0)
            self._wake.clear()
            acked = []
            while True:
                try:
                    acked.append(self._acks.get_nowait())
                except queue.Empty:
                    break
            if acked:
                self.store.mark_sent_many(acked)
                handed_seqs.difference_update(acked)
                self.health.sent += len(acked)
                self.health.last_ack_mono = time.monotonic()
            self._take_refusals(handed_seqs)
            pending = self.store.pending_count()
            self.health.pending = pending
            last_warn = self._check_backlog(pending, last_warn)
            if not self.health.connected:
                continue
            room = self.window - len(handed_seqs)
            if room <= 0:
                continue
            now = time.monotonic()
            with self._mid_lock:
                waiting = {s for s, t in self._refused_until.items() if t > now}
            for msg in self.store.pending_outbox(limit=room + len(handed_seqs) + len(waiting)):
                if msg.seq in handed_seqs or msg.seq in waiting:
                    continue
                # Never hold our lock while calling paho: its network thread holds paho's
                # own lock when it calls _on_publish, which takes ours (lock-order deadlock).
                info = self.client.publish(msg.topic, msg.payload, qos=msg.qos,
                                           retain=msg.retain)
                if info.rc != mqtt.MQTT_ERR_SUCCESS and info.rc != mqtt.MQTT_ERR_NO_CONN:
                    log.error("MQTT: publish failed (%s); will retry", info.rc)
                    break
                with self._mid_lock:
                    answered = info.mid in self._early
                    refusal = self._early.pop(info.mid, None)
                    if not answered:
                        self._handed[info.mid] = msg.seq
                if answered:
                    self._settle(msg.seq, refusal)
                handed_seqs.add(msg.seq)
                if len(handed_seqs) >= self.window:
                    break

    def _take_refusals(self, handed_seqs: set[int]) -> None:
        """Messages the broker refused stay in the outbox, wait, and are reported."""
        refused: list[tuple[int, str]] = []
        while True:
            try:
                refused.append(self._refused.get_nowait())
            except queue.Empty:
                break
        if not refused:
            return
        until = time.monotonic() + REFUSED_RETRY_S
        with self._mid_lock:
            for seq, _why in refused:
                self._refused_until[seq] = until
        handed_seqs.difference_update(seq for seq, _ in refused)
        self.health.refused += len(refused)
        self.health.last_refusal = refused[-1][1]
        topics = self.store.outbox_topics([seq for seq, _ in refused])
        log.error("MQTT: the broker refused %d message(s) (%s), e.g. on %s: kept in the "
                  "outbox; check the MQTT username and the broker's ACL", len(refused),
                  refused[-1][1], topics[0] if topics else "?")
        self._queue_fault("publish_refused", {
            "what": "the broker refused to accept messages (ACL): they wait in the outbox",
            "reason": refused[-1][1], "topic": topics[0] if topics else None,
            "username": self.config.mqtt.username})

    def _check_backlog(self, pending: int, last_warn: float) -> float:
        """Warn the operator long before the outbox cap; nothing unsent is ever dropped."""
        cap = self.config.mqtt.outbox_max_messages
        warn_at = cap * self.config.mqtt.outbox_warn_fraction
        self.health.backlog_warning = pending >= warn_at
        now = time.monotonic()
        if self.health.backlog_warning and now - last_warn > 60:
            log.error("MQTT: %d messages waiting in the outbox (warning at %d, cap %d): is the "
                      "broker reachable? Nothing is dropped; the disk fills.", pending,
                      int(warn_at), cap)
            return now
        return last_warn
