"""MQTT against a real Mosquitto with the shipped ACL: contract, access, and nothing lost."""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from gate.bench.scenes import FACES
from gate.broker import LocalBroker
from gate.demo import em4100_frame
from gate.store import Store
from tests.conftest import GATE, TZ
from tests.mqtt_helpers import Subscriber, gate_mqtt_section
from tests.ptys import PtyPort, wait_for
from tests.scenario import running_gate, seed_people

ALERT_FIELDS = {"schema", "id", "ts", "site", "gate", "type", "severity"}


def mqtt_section(tmp_path: Path, broker: LocalBroker) -> dict[str, Any]:
    return gate_mqtt_section(tmp_path, broker.port)


def test_police_receive_alerts_with_every_field(tmp_path: Path, broker: LocalBroker) -> None:
    police = Subscriber(broker.port, "police", ["campus/+/+/alerts/#"])
    with running_gate(tmp_path, FACES, site="zqxx", mqtt=mqtt_section(tmp_path, broker)) as gate:
        gate.tap("DEADBEEF01")
        topic, alert = police.get()
    police.close()
    assert topic == "campus/zqxx/main/alerts/unknown_card"
    assert alert.keys() >= ALERT_FIELDS
    assert alert["schema"] == "campus-gate/alert/1" and alert["severity"] == "warning"
    assert (alert["site"], alert["gate"], alert["type"]) == ("zqxx", "main", "unknown_card")
    assert dt.datetime.fromisoformat(alert["ts"]).utcoffset() == dt.timedelta(hours=8)
    assert alert["card"] == "DEADBEEF01" and alert["lane"] == "L1"


def test_parents_get_only_their_own_child(tmp_path: Path, broker: LocalBroker) -> None:
    parent1 = Subscriber(broker.port, "G1", ["campus/+/guardians/G1/#", "campus/+/guardians/G6/#",
                                             "campus/#"])
    parent6 = Subscriber(broker.port, "G6", ["campus/+/guardians/G6/#"])
    with running_gate(tmp_path, FACES, site="zqxx", mqtt=mqtt_section(tmp_path, broker)) as gate:
        gate.tap("nocons")  # G6's child
        gate.tap("obama")  # G1's child
        topic, note = parent1.get()
        assert topic == "campus/zqxx/guardians/G1/notifications"
        assert note["child"] == {"id": "obama", "name": "Obama"}
        assert note["type"] == "arrival" and note["schema"] == "campus-gate/notification/1"
        assert parent1.drain() == []  # nothing of G6's child, nothing else of the site
        topic6, note6 = parent6.get()
        assert topic6.endswith("/G6/notifications") and note6["child"]["id"] == "nocons"
    parent1.close()
    parent6.close()


def test_police_cannot_publish_on_the_gates_topics(tmp_path: Path, broker: LocalBroker) -> None:
    guard = Subscriber(broker.port, "guard-zqxx", ["campus/zqxx/#"])
    police = Subscriber(broker.port, "police", ["campus/+/+/status"])
    with running_gate(tmp_path, FACES, site="zqxx", mqtt=mqtt_section(tmp_path, broker)) as gate:
        guard.until(lambda m: m[0].endswith("/status"))
        police.publish("campus/zqxx/main/events/arrival", json.dumps({"forged": True}))
        gate.tap("obama")
        got = guard.until(lambda m: m[0] == "campus/zqxx/main/events/arrival")
        assert all("forged" not in str(body) for _t, body in got + guard.drain())
    guard.close()
    police.close()


def write_config(path: Path, data: Path, port: int, reader: str, secret: Path) -> Path:
    path.write_text(f"""
site = "zqxx"
gate = "main"
data_dir = "{data}"
[mqtt]
port = {port}
username = "gate-zqxx-main"
password_file = "{secret}"
keepalive = 5
[console]
enabled = false
[rules]
anti_passback = "off"
[[lanes]]
id = "L1"
  [[lanes.readers]]
  id = "L1-in"
  port = "{reader}"
  direction = "entry"
  holdoff_ms = 0
""")
    return path


class GateProcess:
    """``gate run`` as systemd would run it, in a child process."""

    def __init__(self, config: Path) -> None:
        self.config = config
        self.log = config.parent / "gate.log"
        with self.log.open("ab") as log:  # a file, not a pipe nobody reads: it never blocks
            self.proc = subprocess.Popen([*GATE, "--config", str(config), "run"],
                                         stdout=subprocess.DEVNULL, stderr=log)

    def kill(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


@pytest.fixture
def gate_proc_setup(tmp_path: Path, broker: LocalBroker) -> tuple[Path, PtyPort]:
    data = tmp_path / "data"
    seed_people(data, FACES)
    secret = tmp_path / "mqtt.pass"
    secret.write_text("gate-secret")
    reader = PtyPort(tmp_path / "reader")
    return write_config(tmp_path / "gate.toml", data, broker.port, reader.path, secret), reader


def test_status_turns_offline_when_the_service_is_killed(
        broker: LocalBroker, gate_proc_setup: tuple[Path, PtyPort]) -> None:
    config, reader = gate_proc_setup
    police = Subscriber(broker.port, "police", ["campus/+/+/status"])
    gate = GateProcess(config)
    try:
        _t, status = police.until(lambda m: m[1].get("state") == "online", timeout=30)[-1]
        assert status["schema"] == "campus-gate/status/1" and status["version"]
        gate.kill()
        _t, status = police.until(lambda m: m[1].get("state") == "offline", timeout=15)[-1]
        assert status["gate"] == "main"
    finally:
        gate.stop()
        police.close()
        reader.close()


def _alert_ids(data: Path) -> list[str]:
    store = Store(data, TZ)
    try:
        return [r[0] for r in store.query("SELECT id FROM alerts ORDER BY rowid")]
    finally:
        store.close()


def _ready(reader: PtyPort, police: Subscriber, tag: int = 0) -> list[str]:
    """Tap a probe card until its alert reaches the police: the whole chain is up.
    Returns the ids of every alert received meanwhile."""
    ids: list[str] = []
    for attempt in range(30):
        card = f"F{tag:01X}{attempt:08X}"
        reader.write(em4100_frame(card))
        deadline = time.monotonic() + 1
        while time.monotonic() < deadline:
            try:
                _t, body = police.get(timeout=max(0.01, deadline - time.monotonic()))
            except Exception:
                break
            ids.append(body["id"])
            if body.get("card") == card:
                return ids
    raise AssertionError("the gate never came up")


def _tap_stream(reader: PtyPort, start: int, count: int, gap: float = 0.03) -> None:
    for i in range(start, start + count):
        reader.write(em4100_frame(f"DE{i:08X}"))
        time.sleep(gap)


def test_broker_outage_loses_nothing_and_keeps_order(
        tmp_path: Path, broker: LocalBroker, gate_proc_setup: tuple[Path, PtyPort]) -> None:
    config, reader = gate_proc_setup
    police = Subscriber(broker.port, "police", ["campus/+/+/alerts/#"], clean=False,
                        client_id="police-station")
    gate = GateProcess(config)
    try:
        seen = _ready(reader, police)
        _tap_stream(reader, 0, 20)
        broker.stop()  # a 30 s outage in the middle of the stream, alerts raised throughout
        outage = time.monotonic()
        _tap_stream(reader, 20, 60, gap=0.5)
        assert time.monotonic() - outage >= 30
        broker.start()  # same port, same persistence
        back = time.monotonic()
        _tap_stream(reader, 80, 20)
        data = config.parent / "data"
        wait_for(lambda: len(_alert_ids(data)) >= len(seen) + 100, timeout=20,
                 what="100 alerts journalled")
        expected = _alert_ids(data)
        deadline = time.monotonic() + 30
        while set(seen) != set(expected) and time.monotonic() < deadline:
            try:
                _t, body = police.get(timeout=1)
            except Exception:
                continue
            if body["id"] not in seen:
                seen.append(body["id"])
        assert seen == expected  # every alert, in order, each once after de-duplication
        print(f"outage: {len(expected)} alerts delivered; backlog drained"
              f" {time.monotonic() - back:.1f} s after the broker came back")
    finally:
        gate.stop()
        police.close()
        reader.close()


def test_sigkill_mid_stream_replays_the_outbox(
        tmp_path: Path, broker: LocalBroker, gate_proc_setup: tuple[Path, PtyPort]) -> None:
    config, reader = gate_proc_setup
    police = Subscriber(broker.port, "police", ["campus/+/+/alerts/#"], clean=False,
                        client_id="police-station-2")
    data = config.parent / "data"
    gate = GateProcess(config)
    try:
        seen = _ready(reader, police)
        _tap_stream(reader, 0, 25, gap=0.01)
        gate.kill()  # mid-stream: some alerts journalled but not yet acknowledged
        journalled = _alert_ids(data)
        assert journalled
        gate = GateProcess(config)
        seen += _ready(reader, police, tag=1)  # the replay may come first: kept in `seen`
        _tap_stream(reader, 100, 10, gap=0.05)
        wait_for(lambda: len(_alert_ids(data)) >= len(journalled) + 11, timeout=20,
                 what="the new alerts")
        expected = set(_alert_ids(data))
        deadline = time.monotonic() + 30
        while not expected <= set(seen) and time.monotonic() < deadline:
            try:
                seen.append(police.get(timeout=1)[1]["id"])
            except Exception:
                continue
        assert expected <= set(seen)
        assert set(seen) <= expected  # duplicates only of real alerts, with the same id
    finally:
        gate.stop()
        police.close()
        reader.close()


def _watchlist(version: str, **extra: Any) -> str:
    payload = {"schema": "campus-gate/watchlist/1", "list": "police", "version": version,
               "persons": [{"id": "P1", "name": "Zhang San", "id_number": "110101199003074514",
                            "reason": "wanted"}],
               "plates": [{"text": "京A·12345", "reason": "stolen"}]}
    payload.update(extra)
    return json.dumps(payload, ensure_ascii=False)


def test_watchlist_push_and_malformed_payload(tmp_path: Path, broker: LocalBroker) -> None:
    police = Subscriber(broker.port, "police", ["campus/+/+/alerts/#"])
    with running_gate(tmp_path, FACES, site="zqxx", mqtt=mqtt_section(tmp_path, broker)) as gate:
        store = gate.service.store
        police.publish("campus/zqxx/watchlist/police", _watchlist("v1"), retain=True)
        wait_for(lambda: bool(store.query("SELECT 1 FROM watchlists")), what="list applied")
        assert [r[0] for r in store.query("SELECT plate FROM watchlist_plates")] == ["京A12345"]
        bad = _watchlist("v2", persons=[{"id": "P2", "name": "x", "encodings": [[0.1, 0.2]]}])
        police.publish("campus/zqxx/watchlist/police", bad, retain=True)
        _t, alert = police.until(lambda m: m[1].get("type") == "watchlist_rejected")[-1]
        assert "encodings" in alert["reason"] and alert["list"] == "police"
        [row] = store.query("SELECT version, entries FROM watchlists")
        assert tuple(row) == ("v1", 2)  # the previous list stays in force
    police.close()


def test_watchlisted_face_near_the_gate_alerts_the_police(
        tmp_path: Path, broker: LocalBroker) -> None:
    photo = base64.b64encode((FACES / "train/obama/obama2.jpg").read_bytes()).decode()
    police = Subscriber(broker.port, "police", ["campus/+/+/alerts/#"])
    video = _walking_video(tmp_path)
    with running_gate(tmp_path, FACES, video, site="zqxx",
                      mqtt=mqtt_section(tmp_path, broker)) as gate:
        police.publish("campus/zqxx/watchlist/police", _watchlist(
            "v3", persons=[{"id": "P9", "name": "Person of interest", "photos": [photo],
                            "reason": "court order"}]), retain=True)
        _t, alert = police.until(lambda m: m[1].get("type") == "watchlist_face", timeout=60)[-1]
        assert alert["severity"] == "critical" and alert["name"] == "Person of interest"
        assert alert["camera"] == "gate-cam" and alert["distance"] < 0.5
        assert gate.service.store.count("watchlist_faces") == 1
    police.close()


def _walking_video(tmp_path: Path) -> Path:
    from gate.bench.scenes import cut_head, walking_frames
    from recognition.face_engine import DlibFaceEngine
    from tests.test_camera import write_video

    head = cut_head(DlibFaceEngine(), "test/obama1.jpg", "obama")
    return write_video(tmp_path / "obama.avi", list(walking_frames([head], 60)))


def test_police_acknowledgement_comes_down_to_the_gate(tmp_path: Path,
                                                       broker: LocalBroker) -> None:
    """The district page (or the police's own client) acknowledges on .../acks; the gate
    records it on the alert for the guard's console, and audits it."""
    police = Subscriber(broker.port, "police", ["campus/+/+/alerts/#"])
    try:
        with running_gate(tmp_path, FACES, site="zqxx",
                          mqtt=mqtt_section(tmp_path, broker)) as gate:
            d = gate.tap("DEADBEEF01")
            assert d.alert is not None
            police.until(lambda m: m[1].get("id") == d.alert.id)  # type: ignore[union-attr]
            ack = {"schema": "campus-gate/ack/1", "alert_id": d.alert.id, "by": "officer 0231",
                   "ts": "2026-11-27T08:00:00+08:00", "note": "patrol sent"}
            police.publish("campus/zqxx/main/acks", json.dumps(ack))
            store = gate.service.store
            wait_for(lambda: bool(store.query("SELECT 1 FROM alerts WHERE id = ? AND"
                                              " police_ack_at IS NOT NULL", (d.alert.id,))),
                     what="the police acknowledgement recorded")
            [row] = store.query("SELECT police_ack_by, police_ack_note FROM alerts WHERE id = ?",
                                (d.alert.id,))
            assert tuple(row) == ("officer 0231", "patrol sent")
            assert store.query("SELECT actor FROM audit_log WHERE action ="
                               " 'alert_police_acknowledged'")[0][0] == "police:officer 0231"
            first = store.query("SELECT police_ack_at FROM alerts WHERE id = ?",
                                (d.alert.id,))[0][0]
            police.publish("campus/zqxx/main/acks", json.dumps(ack))  # redelivered (QoS 1)
            wait_for(lambda: len(store.query("SELECT 1 FROM audit_log WHERE action ="
                                             " 'alert_police_acknowledged'")) == 2,
                     what="the redelivery handled")
            assert store.query("SELECT police_ack_at FROM alerts WHERE id = ?",
                               (d.alert.id,))[0][0] == first
    finally:
        police.close()
