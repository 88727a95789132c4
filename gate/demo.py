"""``gate demo``: the real service on bundled sample data, with simulated hardware.

Nothing here is a shortcut through the product: card taps are written as
EM4100 frames into pseudo-terminals that the real reader threads open with
pyserial, the real engine decides, the real store journals, and (when the
``mosquitto`` binary is installed) a private broker receives the outbox.
Only the relay is a dry run, because there is no gate to open.
"""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from gate.broker import LocalBroker, find_mosquitto, free_port
from gate.config import (
    CameraConfig,
    Config,
    ConsoleConfig,
    LaneConfig,
    MqttConfig,
    ReaderConfig,
    RelayConfig,
)
from gate.demo_media import demo_data_dir
from gate.engine import Decision
from gate.roster import import_roster
from gate.service import Service


def em4100_frame(card_hex: str, corrupt: bool = False) -> bytes:
    """The 14 bytes an RDM6300-type reader sends for a card (``corrupt`` flips the checksum)."""
    data = bytes.fromhex(card_hex)
    checksum = 0
    for b in data:
        checksum ^= b
    if corrupt:
        checksum ^= 0x5A
    return b"\x02" + f"{card_hex.upper()}{checksum:02X}".encode() + b"\x03"


@dataclass(frozen=True)
class Tap:
    reader: str
    card: str
    note: str
    corrupt: bool = False


SCRIPT = (
    Tap("L1-in", "6200000001", "Obama taps his card while the camera sees him"),
    Tap("L1-in", "6200000002", "Biden's card, but the camera sees Obama: a lent card"),
    Tap("L2-in", "6200000006", "card-only student (no face consent) arrives at lane 2"),
    Tap("L2-in", "DEADBEEF01", "unknown card at lane 2"),
    Tap("L2-in", "6200000003", "noise on the line: a corrupted frame is rejected",
        corrupt=True),
    Tap("L2-in", "6200000003", "staff member arrives at lane 2"),
    Tap("L2-out", "6200000006", "card-only student leaves by lane 2"),
)


class PtyPair:
    """A pseudo-terminal standing in for a USB-serial reader: readers open ``path``."""
    def __init__(self) -> None:
        self.master, self.slave = os.openpty()
        self.path = os.ttyname(self.slave)

    def write(self, data: bytes) -> None:
        os.write(self.master, data)

    def close(self) -> None:
        os.close(self.master)
        os.close(self.slave)


def _print(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _show(decision: Decision) -> None:
    """One line per passage or alert. An entry with neither (an audit row alone: a login, a
    picture opened) is not a passage: it used to print as ``lane - - system - DENY``."""
    if not decision.journalled and not decision.alerts:
        return
    e = decision.event
    who = f"{decision.person.name} ({decision.person.id})" if decision.person else \
        str(e.details.get("plate", "-"))
    action = "OPEN" if decision.opened else "DENY"
    direction = e.direction or "-"
    line = (f"{e.ts:%H:%M:%S} lane {e.lane or '-'} {direction:<5} {e.type:<10} {who:<22} "
            f"{e.method or '':<9} {action}")
    if decision.alert:
        line += f"  ALERT {decision.alert.type} ({decision.alert.severity})"
    _print(line)


def _stop_on_sigterm() -> None:
    """SIGTERM ends the demo like Ctrl-C does: through ``finally``, so the recognition
    worker, the private broker and the pseudo-terminals all go with it."""

    def _raise(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _raise)


def run_demo(duration: float = 0.0, data_dir: Path | None = None, tap_interval: float = 2.0
             ) -> None:
    _stop_on_sigterm()
    workdir = Path(tempfile.mkdtemp(prefix="campus-gate-demo-"))
    ptys = {name: PtyPair() for name in ("L1-in", "L2-in", "L2-out")}
    video = _demo_video(workdir / "gate-cam.avi")
    car_video = _car_video(workdir / "car-cam.avi")
    _print(f"cameras: gate-cam plays {video.name} (composed from a real photo), car-cam plays "
           f"{car_video.name} (a generated plate)")
    broker = None
    if find_mosquitto():
        broker = LocalBroker(workdir=workdir / "broker").start()
        _print(f"broker: private Mosquitto on 127.0.0.1:{broker.port}")
    else:
        _print("broker: mosquitto not installed; messages stay in the outbox")
    config = Config(
        site="demo", gate="main", data_dir=data_dir or workdir / "data",
        mqtt=MqttConfig(port=broker.port if broker else 1883),
        console=ConsoleConfig(bind=f"127.0.0.1:{free_port()}"),
        cameras=[CameraConfig(id="gate-cam", source=str(video), role="gate", max_fps=8),
                 CameraConfig(id="car-cam", source=str(car_video), role="vehicle", max_fps=4)],
        lanes=[
            LaneConfig(id="L1", camera="gate-cam", relay=RelayConfig(kind="dry-run"), readers=[
                ReaderConfig(id="L1-in", port=ptys["L1-in"].path, direction="entry",
                             holdoff_ms=500)]),
            LaneConfig(id="V1", vehicle_camera="car-cam", relay=RelayConfig(kind="dry-run")),
            LaneConfig(id="L2", relay=RelayConfig(kind="dry-run"), readers=[
                ReaderConfig(id="L2-in", port=ptys["L2-in"].path, direction="entry",
                             holdoff_ms=500),
                ReaderConfig(id="L2-out", port=ptys["L2-out"].path, direction="exit",
                             holdoff_ms=500)])])
    _import_roster(config)
    login = _demo_user(config)
    service = Service(config, config.data_dir, loop_video=True)
    try:
        service.engine.subscribe(_show)
        service.start()
        _wait_connected(service)
        if service.console:
            _print(f"console: http://localhost:{service.console.port}/  login: {login[0]}"
                   f" / {login[1]}")
        _wait_face(service)
        _print(f"readers: {', '.join(f'{k} on {p.path}' for k, p in ptys.items())}")
        _print("simulated card taps follow (Ctrl-C to stop)")
        stop = threading.Event()
        deadline = time.monotonic() + duration if duration > 0 else None
        for tap in itertools.cycle(SCRIPT):
            _print(f"  tap: {tap.note}")
            ptys[tap.reader].write(em4100_frame(tap.card, tap.corrupt))
            wait = tap_interval
            if deadline is not None:
                wait = min(wait, deadline - time.monotonic())
                if wait <= 0 or stop.wait(wait):
                    break
                if time.monotonic() >= deadline:
                    break
            else:
                stop.wait(wait)
        _summarise(service)
    except KeyboardInterrupt:
        _summarise(service)
    finally:
        service.stop()
        for p in ptys.values():
            p.close()
        if broker:
            broker.stop()
        if data_dir is None:
            shutil.rmtree(workdir, ignore_errors=True)


def _import_roster(config: Config) -> None:
    from gate.faces import FaceEnroller, running_photo_workers
    from gate.store import Store

    store = Store(config.data_dir, config.tz)
    try:
        with running_photo_workers(config) as workers:  # dlib never in the service's process
            summary = import_roster(store, demo_data_dir() / "roster.csv",
                                    FaceEnroller(store, config, workers))
        store.upsert_vehicle(DEMO_PLATE, "T001", "staff", note="demo: the teacher's car")
        _print(f"roster: {sum(summary.people.values())} people, {sum(summary.cards.values())}"
               f" cards, {summary.photos['enrolled']} face photos enrolled (with consent) into "
               f"{store.path}")
    finally:
        store.close()


def _demo_user(config: Config) -> tuple[str, str]:
    """The demo's admin, with a new random password each run (printed once); a re-run on
    the same data directory resets it instead of failing."""
    import secrets

    from gate.console.auth import add_user, set_password
    from gate.store import Store

    password = secrets.token_urlsafe(9)
    store = Store(config.data_dir, config.tz)
    try:
        if store.query("SELECT 1 FROM users WHERE username = 'demo'"):
            set_password(store, "demo", password)
        else:
            add_user(store, "demo", password, "admin")
    finally:
        store.close()
    return "demo", password


def _demo_video(path: Path) -> Path:
    """A looping clip of a pupil walking up to lane 1, composed from a shipped real photo."""
    import cv2

    from gate.bench.scenes import cut_head, walking_frames
    from recognition.face_engine import DlibFaceEngine

    head = cut_head(DlibFaceEngine(), "test/obama1.jpg", "obama")
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 25, (1280, 720))
    for rgb in walking_frames([head], 75):
        writer.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


DEMO_PLATE = "京A12345"


def _car_video(path: Path) -> Path:
    """A registered staff car stops at the barrier for 2 s, then the lane is empty for 4 s."""
    import random

    import cv2

    from gate.bench.plates_data import PlateSpec, car_scene, render_plate
    from gate.bench.scenes import background

    rgb, _box = car_scene(render_plate(PlateSpec(DEMO_PLATE, "blue")), random.Random(22),
                          plate_width=210)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 25, (1280, 720))
    for frame in [rgb] * 50 + [background()] * 100:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def _wait_face(service: Service, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if service.engine.evidence.face_at_reader("gate-cam", time.monotonic() - 2):
            _print("recognition: the worker process sees a face at lane 1")
            return
        time.sleep(0.1)
    _print("recognition: no face seen yet; lane 1 decides on cards alone")


def _wait_connected(service: Service, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(r.health.connected for r in service.readers):
            return
        time.sleep(0.05)
    raise RuntimeError("demo readers did not open their pseudo-terminals")


def _summarise(service: Service) -> None:
    store = service.store
    service.publisher.notify()
    time.sleep(0.5)  # let the sender hand over what the last decisions queued
    sent = store.count("outbox") - store.pending_count()
    _print(f"journal: {store.count('events')} events, {store.count('alerts')} alerts; MQTT: "
           f"{sent} messages acknowledged by the broker, {store.pending_count()} waiting; "
           f"bad frames rejected: {sum(r.health.bad_frames for r in service.readers)}")
