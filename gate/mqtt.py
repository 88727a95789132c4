"""MQTT: drains the SQLite outbox to the broker, and receives watch lists.

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
import queue
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from gate import __version__
from gate.config import Config
from gate.messages import STATUS_SCHEMA, Topics
from gate.records import rfc3339
from gate.store import Store

log = logging.getLogger("gate.mqtt")


@dataclass
class LinkHealth:
    connected: bool = False
    last_error: str | None = None
    sent: int = 0
    pending: int = 0
    backlog_warning: bool = False
    last_ack_mono: float | None = None


def status_payload(config: Config, state: str, now: str) -> str:
    return json.dumps({"schema": STATUS_SCHEMA, "state": state, "version": __version__,
                       "ts": now, "site": config.site, "gate": config.gate})


class Publisher:
    def __init__(self, config: Config, store: Store,
                 on_watchlist: Callable[[str, bytes], None] | None = None,
                 window: int = 100) -> None:
        self.config = config
        self.store = store
        self.topics = Topics(config)
        self.health = LinkHealth()
        self.window = window
        self._on_watchlist = on_watchlist
        self._acks: queue.Queue[int] = queue.Queue()
        self._handed: dict[int, int] = {}  # paho mid -> outbox seq
        self._early: set[int] = set()  # mids acknowledged before publish() returned
        self._mid_lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._sender = threading.Thread(target=self._run, name="mqtt-sender", daemon=True)
        m = config.mqtt
        client_id = m.client_id or f"campus-gate-{config.site}-{config.gate}"
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                                  clean_session=False, protocol=mqtt.MQTTv311)
        self.client.max_inflight_messages_set(window)
        self.client.max_queued_messages_set(0)
        self.client.reconnect_delay_set(min_delay=1, max_delay=30)
        if m.username:
            password = m.password_file.read_text().strip() if m.password_file else None
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

    # Lifecycle ----------------------------------------------------------------------

    def start(self) -> None:
        m = self.config.mqtt
        # The broker publishes this if the gate vanishes; ts is when the gate came online.
        self.client.will_set(self.topics.status, status_payload(
            self.config, "offline", rfc3339(self.store.now())), qos=1, retain=True)
        self.client.connect_async(m.host, m.port, keepalive=m.keepalive)
        self.client.loop_start()
        self._sender.start()

    def stop(self, timeout: float = 3.0) -> None:
        """Flush what can be flushed, say ``offline`` and disconnect."""
        self._stop.set()
        self._wake.set()
        if self._sender.ident is not None:
            self._sender.join(timeout)
        if self.health.connected:
            info = self.client.publish(self.topics.status, status_payload(
                self.config, "offline", rfc3339(self.store.now())), qos=1, retain=True)
            with contextlib.suppress(RuntimeError, ValueError):
                info.wait_for_publish(timeout=2)
        self.client.disconnect()
        self.client.loop_stop()

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
        log.info("MQTT: connected to %s:%d", self.config.mqtt.host, self.config.mqtt.port)
        client.publish(self.topics.status, status_payload(
            self.config, "online", rfc3339(self.store.now())), qos=1, retain=True)
        client.subscribe(self.topics.watchlist(), qos=1)
        self._wake.set()

    def _on_disconnect(self, _client: mqtt.Client, _userdata: Any, _flags: Any,
                       reason: Any, _props: Any) -> None:
        if self.health.connected:
            log.warning("MQTT: disconnected (%s); events wait in the outbox", reason)
        self.health.connected = False
        self.health.last_error = str(reason)

    def _on_publish(self, _client: mqtt.Client, _userdata: Any, mid: int, _reason: Any,
                    _props: Any) -> None:
        with self._mid_lock:
            seq = self._handed.pop(mid, None)
            if seq is None:
                self._early.add(mid)
                return
        self._acks.put(seq)
        self._wake.set()

    def _on_message(self, _client: mqtt.Client, _userdata: Any, msg: mqtt.MQTTMessage) -> None:
        if self._on_watchlist is None:
            return
        name = msg.topic.rsplit("/", 1)[-1]
        try:
            self._on_watchlist(name, bytes(msg.payload))
        except Exception:
            log.exception("watch list %s: handler failed", name)

    # Sender thread ------------------------------------------------------------------------

    def _run(self) -> None:
        handed_seqs: set[int] = set()
        last_warn = 0.0
        while not self._stop.is_set():
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
            pending = self.store.pending_count()
            self.health.pending = pending
            last_warn = self._check_backlog(pending, last_warn)
            if not self.health.connected:
                continue
            room = self.window - len(handed_seqs)
            if room <= 0:
                continue
            for msg in self.store.pending_outbox(limit=room + len(handed_seqs)):
                if msg.seq in handed_seqs:
                    continue
                # Never hold our lock while calling paho: its network thread holds paho's
                # own lock when it calls _on_publish, which takes ours (lock-order deadlock).
                info = self.client.publish(msg.topic, msg.payload, qos=msg.qos,
                                           retain=msg.retain)
                if info.rc != mqtt.MQTT_ERR_SUCCESS and info.rc != mqtt.MQTT_ERR_NO_CONN:
                    log.error("MQTT: publish failed (%s); will retry", info.rc)
                    break
                with self._mid_lock:
                    if info.mid in self._early:
                        self._early.discard(info.mid)
                        self._acks.put(msg.seq)
                    else:
                        self._handed[info.mid] = msg.seq
                handed_seqs.add(msg.seq)
                if len(handed_seqs) >= self.window:
                    break

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
