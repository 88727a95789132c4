"""``gate hub simulate``: a generated morning rush from N gates straight into the cluster's MQTT.

Each simulated gate is its own MQTT client (client id and user ``gate-{site}-{gate}``, a
persistent session, QoS 1), publishing the same payloads a gate publishes (campus-gate/event/1,
campus-gate/alert/1, campus-gate/status/1). Arrivals follow a Poisson process per gate; the
``ts`` of each payload is the real moment of publication, so ``stored_at - ts`` in PostgreSQL is
the gate-to-row latency.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from gate.mqtt import close_client

ALERT_TYPES = ("unknown_card", "card_face_mismatch", "tailgating")


@dataclass(frozen=True)
class Planned:
    at_s: float          # seconds of simulated time from the start of the rush
    gate: int
    kind: str            # event | alert
    type: str


def site_of(index: int) -> str:
    return f"s{index + 1:03d}"


def plan_rush(gates: int, minutes: float, per_minute: float, seed: int = 1,
              alert_ratio: float = 0.01) -> list[Planned]:
    """The whole rush, ordered by time: pure, so a test can check what should arrive."""
    rng = random.Random(seed)
    out: list[Planned] = []
    horizon = minutes * 60
    for g in range(gates):
        t = rng.expovariate(per_minute / 60)
        while t < horizon:
            if rng.random() < alert_ratio:
                out.append(Planned(t, g, "alert", rng.choice(ALERT_TYPES)))
            else:
                out.append(Planned(t, g, "event", "arrival"))
            t += rng.expovariate(per_minute / 60)
    out.sort(key=lambda p: (p.at_s, p.gate))
    return out


def now_rfc3339() -> str:
    return dt.datetime.now(dt.UTC).astimezone().isoformat(timespec="milliseconds")


def payload(site: str, gate: str, item: Planned, n: int) -> tuple[str, dict[str, Any]]:
    msg_id = str(uuid.uuid4())
    body: dict[str, Any] = {
        "schema": f"campus-gate/{item.kind}/1", "id": msg_id, "ts": now_rfc3339(), "site": site,
        "gate": gate, "type": item.type, "lane": "L1",
        "severity": "warning" if item.kind == "alert" else "info",
        "person": {"id": f"{site}-p{n:05d}", "name": f"pupil {n}", "role": "student",
                   "class": f"{1 + n % 6}-{1 + n % 4}"},
    }
    if item.kind == "event":
        body.update(direction="entry", method="card", decision="admit", reason=None)
    else:
        body.update(snapshot=None)
    return msg_id, body


@dataclass
class SimGate:
    site: str
    gate: str
    port: int
    client: mqtt.Client
    infos: list[tuple[str, str, int]] = field(default_factory=list)   # id, kind, mid
    # PUBACKs by message id (mid); paho keeps a QoS 1 message published while disconnected and
    # sends it after reconnecting, but its MQTTMessageInfo then reports an error, so the
    # acknowledgements are taken from on_publish instead.
    acked: set[int] = field(default_factory=set)
    sent: int = 0

    def all_acked(self) -> bool:
        return all(mid in self.acked for _i, _k, mid in self.infos)


@dataclass
class SimResult:
    gates: int
    minutes: float
    published: int
    acked: int
    elapsed_s: float
    ids: list[tuple[str, str, str, str]]   # site, gate, id, kind of every acknowledged message

    def summary(self) -> dict[str, Any]:
        return {"gates": self.gates, "minutes": self.minutes, "published": self.published,
                "acked": self.acked, "elapsed_s": round(self.elapsed_s, 2)}


def _client(site: str, gate: str, host: str, port: int, password: str, root: str,
            acked: set[int]) -> mqtt.Client:
    name = f"gate-{site}-{gate}"
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=name, clean_session=False,
                         protocol=mqtt.MQTTv311)
    client.on_publish = lambda _c, _u, mid, _rc, _p: acked.add(mid)
    client.username_pw_set(name, password)
    client.max_inflight_messages_set(200)
    client.max_queued_messages_set(0)
    client.reconnect_delay_set(1, 2)
    offline = json.dumps({"schema": "campus-gate/status/1", "state": "offline",
                          "version": "sim", "ts": now_rfc3339(), "site": site, "gate": gate})
    client.will_set(f"{root}/{site}/{gate}/status", offline, qos=1, retain=True)
    client.connect_async(host, port, keepalive=10)
    client.loop_start()
    return client


def _unacknowledged(sims: list[SimGate], waited_s: float) -> str:
    """Which gates the broker left without a PUBACK, and on which port: in a cluster, the
    node behind that port is the one to look at."""
    stuck = [f"gate-{s.site}-{s.gate} (port {s.port}"
             f"{', connected' if s.client.is_connected() else ', not connected'})"
             for s in sims if not s.all_acked()]
    return (f"{len(stuck)} of {len(sims)} simulated gates had their 'online' status "
            f"unacknowledged after {waited_s:.0f} s: {', '.join(stuck[:10])}"
            f"{' ...' if len(stuck) > 10 else ''}")


def simulate(gates: int, minutes: float, *, host: str = "127.0.0.1", ports: list[int],
             password: str, per_minute: float = 120, speed: float = 1.0, seed: int = 1,
             root: str = "campus", gate_name: str = "main", drain_timeout: float = 120,
             ) -> SimResult:
    """Publishes the planned rush; returns once every message is acknowledged (or the drain
    timeout passes). ``speed`` compresses time (4 = four simulated minutes per real minute);
    0 publishes as fast as the clients can."""
    plan = plan_rush(gates, minutes, per_minute, seed)
    if per_minute * minutes > 50_000:
        raise ValueError("at most 50,000 messages per simulated gate (MQTT message ids wrap)")
    sims = []
    for i in range(gates):
        acked: set[int] = set()
        port = ports[i % len(ports)]
        client = _client(site_of(i), gate_name, host, port, password, root, acked)
        sims.append(SimGate(site_of(i), gate_name, port, client, acked=acked))
    deadline = time.monotonic() + 30
    while not all(s.client.is_connected() for s in sims):
        if time.monotonic() > deadline:
            raise TimeoutError("simulated gates could not connect")
        time.sleep(0.05)
    for s in sims:
        online = json.dumps({"schema": "campus-gate/status/1", "state": "online",
                             "version": "sim", "ts": now_rfc3339(), "site": s.site,
                             "gate": s.gate})
        info = s.client.publish(f"{root}/{s.site}/{s.gate}/status", online, qos=1, retain=True)
        s.infos.append(("", "status", info.mid))
    # the gates are up before the rush, as at a school: the clock starts once every gate's
    # "online" is acknowledged, within the same drain timeout the rush's messages get
    status_deadline = time.monotonic() + drain_timeout
    while not all(s.all_acked() for s in sims):
        if time.monotonic() > status_deadline:
            said = _unacknowledged(sims, drain_timeout)  # while the clients still say
            for s in sims:
                close_client(s.client)
            raise TimeoutError(said)
        time.sleep(0.05)
    for s in sims:
        s.infos.clear()
    start = time.monotonic()
    for item in plan:
        if speed > 0:
            delay = start + item.at_s / speed - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        sim = sims[item.gate]
        sim.sent += 1
        msg_id, body = payload(sim.site, sim.gate, item, sim.sent)
        topic = f"{root}/{sim.site}/{sim.gate}/{item.kind}s/{item.type}"
        info = sim.client.publish(topic, json.dumps(body, separators=(",", ":")), qos=1)
        sim.infos.append((msg_id, item.kind, info.mid))
    drain_deadline = time.monotonic() + drain_timeout
    while time.monotonic() < drain_deadline and not all(s.all_acked() for s in sims):
        time.sleep(0.05)
    elapsed = time.monotonic() - start
    ids = [(s.site, s.gate, msg_id, kind) for s in sims for msg_id, kind, mid in s.infos
           if mid in s.acked]
    for s in sims:
        close_client(s.client)
    return SimResult(gates, minutes, len(plan), len(ids), elapsed, ids)
