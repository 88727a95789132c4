"""The core under faults and concurrency, on real components: socat serial links, a real
tmpfs that fills up, real worker processes killed with SIGKILL, real uvicorn under load,
real Mosquitto with the shipped ACL."""

from __future__ import annotations

import datetime as dt
import errno
import os
import shutil
import signal
import subprocess
import threading
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gate.bench.scenes import FACES
from gate.broker import LocalBroker, free_port
from gate.config import parse_config
from gate.console.auth import add_user
from gate.demo import em4100_frame
from gate.journal import Decision
from gate.records import Alert
from gate.service import Service
from gate.vocab import AlertType, Severity
from tests.conftest import ROOT
from tests.mqtt_helpers import Subscriber, gate_mqtt_section
from tests.ptys import wait_for
from tests.scenario import running_gate, seed_people

pytestmark = pytest.mark.slow


class SocatLink:
    """A virtual serial cable: ``device`` is what the gate opens (as a udev by-id link),
    ``end`` is where the test writes card frames. Killing socat unplugs the device."""

    def __init__(self, folder: Path) -> None:
        self.device = folder / "reader"
        self.end = folder / "reader-end"
        self.proc: subprocess.Popen[bytes] | None = None
        self.fd: int | None = None

    def plug(self) -> None:
        socat = shutil.which("socat")
        if socat is None:
            pytest.skip("socat is not installed (run.sh installs it)")
        self.proc = subprocess.Popen([socat, f"pty,raw,echo=0,link={self.device}",
                                      f"pty,raw,echo=0,link={self.end}"],
                                     stderr=subprocess.DEVNULL)
        wait_for(lambda: self.device.exists() and self.end.exists(), what="socat links")
        self.fd = os.open(self.end, os.O_RDWR | os.O_NOCTTY)

    def unplug(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(5)
            self.proc = None

    def write(self, data: bytes) -> None:
        assert self.fd is not None
        os.write(self.fd, data)


def _alerts(service: Service, kind: str) -> list[Any]:
    return service.store.query("SELECT * FROM alerts WHERE type = ? ORDER BY ts", (kind,))


def test_reader_unplugged_and_replugged(tmp_path: Path) -> None:
    link = SocatLink(tmp_path)
    link.plug()
    data = tmp_path / "data"
    seed_people(data, FACES)
    config = parse_config({
        "site": "test", "data_dir": str(data), "console": {"enabled": False},
        "lanes": [{"id": "L1", "readers": [{"id": "L1-in", "port": str(link.device),
                                            "direction": "entry", "holdoff_ms": 0}]}]})
    service = Service(config, data)
    decisions: list[Decision] = []
    service.engine.subscribe(decisions.append)
    service.start()
    try:
        wait_for(lambda: service.readers[0].health.connected, what="reader")
        link.write(em4100_frame("6200000001"))
        wait_for(lambda: any(d.event.type == "arrival" for d in decisions), what="first tap")
        unplugged = time.monotonic()
        link.unplug()
        def about_the_reader(kind: str) -> list[Any]:  # not the broker's, should it show
            return [a for a in _alerts(service, kind) if '"reader L1-in"' in a["details"]]

        wait_for(lambda: bool(about_the_reader("device_offline")), timeout=5,
                 what="device_offline within 5 s")
        offline_after = time.monotonic() - unplugged
        [alert] = about_the_reader("device_offline")
        assert alert["severity"] == "warning"
        link.plug()
        wait_for(lambda: bool(about_the_reader("device_online")), timeout=10,
                 what="device_online after replug")
        taps = len(decisions)
        link.write(em4100_frame("6200000002"))
        wait_for(lambda: len(decisions) > taps and decisions[-1].person is not None,
                 what="a tap after the replug, without a restart")
        assert decisions[-1].person is not None and decisions[-1].person.id == "biden"
        print(f"device_offline {offline_after:.2f} s after the unplug")
    finally:
        service.stop()
        link.unplug()


@pytest.fixture
def full_tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A real filesystem that will be full: a 3 MiB tmpfs (needs root, as CI is)."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m,mode=0700", "tmpfs",
                           str(mnt)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def _fill(folder: Path) -> None:
    """Write until the filesystem says it is full (ENOSPC, at a write or at the close)."""
    try:
        with (folder / "filler").open("wb") as f:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
    except OSError as exc:
        assert exc.errno == errno.ENOSPC, exc


def test_fire_alarm_on_a_full_disk_releases_every_lane(tmp_path: Path,
                                                       full_tmpfs: Path) -> None:
    fire = tmp_path / "fire"
    fire.write_text("0")
    data = full_tmpfs / "data"
    config = parse_config({
        "site": "test", "data_dir": str(data), "console": {"enabled": False},
        "fire_alarm": {"kind": "simulated", "path": str(fire), "poll_ms": 20},
        "lanes": [{"id": "L1"}, {"id": "L2"}]})
    service = Service(config, data)
    service.start()
    try:
        _fill(full_tmpfs)
        with pytest.raises(Exception, match=r"full|disk"):  # the disk really is full
            service.engine.raise_alert(AlertType.GATE_FORCED, Severity.WARNING, "L1", {})
        fire.write_text("1")
        relays = list(service.relays.values())
        wait_for(lambda: all(getattr(r, "held", False) for r in relays), timeout=3,
                 what="every lane released")
        assert all(getattr(r, "energised", False) for r in relays)
        assert service.engine.fire_active
        assert service.supervisor.alive()  # the fire loop did not die with the failed write
        fire.write_text("0")
        wait_for(lambda: not service.fire.active, what="input cleared")
        assert all(getattr(r, "held", False) for r in relays)  # held until a guard resets
        (full_tmpfs / "filler").unlink()
        service.engine.reset_fire("guard1", "drill over, panel reset")
        assert not any(getattr(r, "held", False) for r in relays)
        [audit] = service.store.query("SELECT actor FROM audit_log WHERE action = 'fire_reset'")
        assert audit[0] == "guard1"
    finally:
        service.stop()


def _fire_service(tmp_path: Path, on_lost: str) -> tuple[Service, Path]:
    fire = tmp_path / "fire"
    fire.write_text("0")
    data = tmp_path / "data"
    config = parse_config({
        "site": "test", "data_dir": str(data), "console": {"enabled": False},
        "fire_alarm": {"kind": "simulated", "path": str(fire), "poll_ms": 20,
                       "on_input_lost": on_lost},
        "lanes": [{"id": "L1"}, {"id": "L2"}]})
    service = Service(config, data)
    service.start()
    wait_for(lambda: service.fire.healthy and service.health.get("fire-loop").up,
             what="fire loop")
    return service, fire


def test_unreadable_fire_input_is_a_fault_not_a_fire_and_releases(tmp_path: Path) -> None:
    service, fire = _fire_service(tmp_path, "release")
    try:
        fire.unlink()  # the wire is cut
        wait_for(lambda: bool(_alerts(service, "fire_input_fault")), timeout=5,
                 what="fire_input_fault")
        [alert] = _alerts(service, "fire_input_fault")
        assert alert["severity"] == "critical"
        assert '"released": 2' in alert["details"] and '"on_input_lost": "release"' in \
            alert["details"]
        assert service.engine.fire_active  # released as a precaution ...
        assert all(getattr(r, "held", False) for r in service.relays.values())
        assert service.engine.fire_state() == {"active": False, "released": True,
                                               "fault": True, "cause": "fire_input_fault"}
        # ... but it is not a fire: no fire_alarm alert, no device_offline double
        assert _alerts(service, "fire_alarm") == [] and _alerts(service, "device_offline") == []
        [sent] = service.store.query("SELECT topic FROM outbox WHERE topic LIKE '%/alerts/%'")
        assert sent[0].endswith("/alerts/fire_input_fault")
        with pytest.raises(ValueError, match="wiring"):  # no reset while it cannot be read
            service.engine.reset_fire("guard1", "checked")
        fire.write_text("normal")  # a supervised input reports its loop healthy again
        wait_for(lambda: bool(_alerts(service, "fire_input_restored")), timeout=5,
                 what="fire_input_restored")
        assert service.engine.fire_active  # the release holds until a guard resets
        service.engine.reset_fire("guard1", "wire repaired")
        assert not service.engine.fire_active
        assert not any(getattr(r, "held", False) for r in service.relays.values())
    finally:
        service.stop()


def test_a_fire_during_an_input_fault_is_still_a_fire(tmp_path: Path) -> None:
    service, fire = _fire_service(tmp_path, "hold")
    try:
        fire.write_text("open")  # a supervised loop reports a cut wire
        wait_for(lambda: bool(_alerts(service, "fire_input_fault")), timeout=5,
                 what="fire_input_fault")
        assert '"released": 0' in _alerts(service, "fire_input_fault")[0]["details"]
        assert not service.engine.fire_active  # on_input_lost = hold: lanes as they are
        assert "open" in (service.fire.last_error or "")
        fire.write_text("alarm")
        wait_for(lambda: bool(_alerts(service, "fire_alarm")), timeout=5, what="fire_alarm")
        assert service.engine.fire_state()["cause"] == "fire_alarm"
        assert all(getattr(r, "held", False) for r in service.relays.values())
    finally:
        service.stop()


def test_killed_recognition_worker_is_restarted(tmp_path: Path) -> None:
    from gate.bench.scenes import cut_head, walking_frames
    from recognition.face_engine import DlibFaceEngine
    from tests.test_camera import write_video

    obama = cut_head(DlibFaceEngine(), "test/obama1.jpg", "obama")
    video = write_video(tmp_path / "obama.avi", list(walking_frames([obama], 60)))
    with running_gate(tmp_path, FACES, video) as gate:
        gate.wait_face()
        workers = gate.service.recognition
        assert workers is not None
        [proc] = workers._procs
        os.kill(proc.pid or 0, signal.SIGKILL)
        killed = time.monotonic()
        wait_for(lambda: gate.service.health.get("recognition").restarts >= 1, timeout=10,
                 what="the supervisor noticed")
        wait_for(lambda: (gate.service.engine.evidence.last_seen("gate-cam") or 0) > killed + 1,
                 timeout=60, what="recognition resumed")
        faults = _alerts(gate.service, "service_fault")
        assert faults and "recognition" in faults[0]["details"]
        assert gate.service.recognition is not None and gate.service.recognition.alive()


def _example_config(tmp_path: Path, broker: LocalBroker, username: str) -> dict[str, Any]:
    """The shipped example's site, gate and MQTT identity; local ports for the rest."""
    raw = tomllib.loads((ROOT / "config" / "gate.example.toml").read_text())
    mqtt = {**raw["mqtt"], **gate_mqtt_section(tmp_path, broker.port)}
    mqtt["username"] = username
    mqtt.pop("client_id", None)
    if username != raw["mqtt"]["username"]:
        (tmp_path / "mqtt.pass").write_text("wrong-acl-secret\n")
    return {"site": raw["site"], "gate": raw["gate"], "mqtt": mqtt}


def test_shipped_example_config_and_acl_agree(tmp_path: Path, broker: LocalBroker) -> None:
    raw = tomllib.loads((ROOT / "config" / "gate.example.toml").read_text())
    mine = _example_config(tmp_path, broker, raw["mqtt"]["username"])
    police = Subscriber(broker.port, "police", ["campus/+/+/alerts/#"])
    parent = Subscriber(broker.port, "G1", ["campus/+/guardians/G1/#"])
    guard = Subscriber(broker.port, "guard-zqxx", ["campus/zqxx/#"])
    try:
        with running_gate(tmp_path, FACES, site=mine["site"], gate=mine["gate"],
                          mqtt=mine["mqtt"]) as gate:
            d = gate.tap("obama")
            gate.tap("DEADBEEF01")
            assert d.event.type == "arrival"
            police.until(lambda m: m[0].endswith("/alerts/unknown_card"))
            parent.until(lambda m: m[1].get("type") == "arrival")
            guard.until(lambda m: m[0].endswith("/events/arrival"))
            wait_for(lambda: gate.service.store.pending_count() == 0, timeout=10,
                     what="outbox drained")
            assert gate.service.publisher.health.refused == 0
    finally:
        for s in (police, parent, guard):
            s.close()


def test_wrong_username_keeps_messages_and_tells_the_guard(tmp_path: Path,
                                                           broker: LocalBroker) -> None:
    mine = _example_config(tmp_path, broker, "gate-wrong")
    police = Subscriber(broker.port, "police", ["campus/+/+/alerts/#"])
    try:
        with running_gate(tmp_path, FACES, site=mine["site"], gate=mine["gate"],
                          mqtt=mine["mqtt"]) as gate:
            gate.tap("DEADBEEF01")
            wait_for(lambda: gate.service.publisher.health.refused > 0, timeout=15,
                     what="the broker's refusal (PUBACK 0x87)")
            wait_for(lambda: bool(_alerts(gate.service, "service_fault")), timeout=10,
                     what="service_fault for the guard")
            [fault] = _alerts(gate.service, "service_fault")
            assert "refused" in fault["details"] and "gate-wrong" in fault["details"]
            assert gate.service.store.pending_count() >= 2  # nothing marked sent
            assert gate.service.device_health()["broker"]["refused"] > 0
            assert police.drain(1.0) == []  # and indeed nothing arrived
    finally:
        police.close()


def test_hammer_taps_manual_opens_reads_and_escalations(tmp_path: Path) -> None:
    """60 s of taps at 10/s, console manual opens and reads, and escalations, together:
    the gate must keep deciding and /healthz must answer within a second throughout."""
    port = free_port()
    with running_gate(tmp_path, FACES, console={"enabled": True, "bind": f"127.0.0.1:{port}",
                                                "alert_escalate_minutes": 1},
                      rules={"anti_passback": "off"}) as gate:
        service = gate.service
        add_user(service.store, "guard", "guard-password-1", "guard")
        url = f"http://localhost:{port}"
        stop = threading.Event()
        errors: list[str] = []
        health_ms: list[float] = []
        opens = [0]
        duration = 60.0

        def taps() -> None:
            n = 0
            while not stop.wait(0.1):
                card = ["6200000001", "6200000002", f"DE{n:08X}"][n % 3]
                gate.ptys["L1-in" if n % 2 else "L1-out"].write(em4100_frame(card))
                n += 1

        def console() -> None:
            with httpx.Client(base_url=url, timeout=10) as c:
                r = c.post("/api/login", json={"username": "guard",
                                               "password": "guard-password-1"})
                c.cookies.set("__Host-gate_session",
                              r.headers["set-cookie"].split(";")[0].split("=", 1)[1])
                h = {"X-CSRF-Token": r.json()["csrf"]}
                while not stop.is_set():
                    r = c.post("/api/lanes/L1/open", json={"reason": "hammer test"}, headers=h)
                    if r.status_code != 200:
                        errors.append(f"open {r.status_code}")
                    opens[0] += 1
                    for path in ("/api/events?limit=50", "/api/alerts?open=true",
                                 "/api/devices"):
                        if c.get(path).status_code != 200:
                            errors.append(f"read {path}")
                    stop.wait(0.2)

        def escalations() -> None:
            while not stop.wait(0.3):
                old = service.store.now() - dt.timedelta(minutes=3)
                service.store.record_alert(Alert(type=AlertType.TAILGATING,
                                                 severity=Severity.CRITICAL, ts=old, lane="L1"))
                service.escalate_alerts()

        def healthz() -> None:
            with httpx.Client(base_url=url, timeout=5) as c:
                while not stop.wait(0.5):
                    t0 = time.monotonic()
                    r = c.get("/healthz")
                    health_ms.append((time.monotonic() - t0) * 1000)
                    if r.status_code != 200:
                        errors.append(f"healthz {r.status_code} {r.text}")

        before = service.store.count("events")
        threads = [threading.Thread(target=f, daemon=True)
                   for f in (taps, console, escalations, healthz)]
        for t in threads:
            t.start()
        time.sleep(duration)  # the hammer's length: measured work happens in the threads
        stop.set()
        for t in threads:
            t.join(15)
        assert not any(t.is_alive() for t in threads), "a client thread is stuck"
        recorded = service.store.count("events") - before
        escalated = service.store.query("SELECT COUNT(*) FROM alerts WHERE type ="
                                        " 'alert_escalated'")[0][0]
        assert not errors, errors[:5]
        assert recorded >= 0.8 * 10 * duration  # taps (10/s) + opens + escalations
        assert opens[0] > 50 and escalated > 50
        assert max(health_ms) < 1000 and len(health_ms) > 100
        assert service.probe(1.0)["ok"]
        print(f"hammer: {recorded} events in {duration:.0f} s, {opens[0]} manual opens,"
              f" {escalated} escalations, /healthz max {max(health_ms):.0f} ms")
