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
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from gate.broker import LocalBroker, find_mosquitto
from gate.config import Config, LaneConfig, MqttConfig, ReaderConfig, RelayConfig
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
    Tap("L1-in", "6200000001", "student arrives"),
    Tap("L1-in", "6200000002", "student arrives"),
    Tap("L1-in", "6200000006", "card-only student (no face consent) arrives"),
    Tap("L1-in", "DEADBEEF01", "unknown card"),
    Tap("L1-in", "6200000003", "noise on the line: corrupted frame is rejected", corrupt=True),
    Tap("L1-in", "6200000003", "staff member arrives"),
    Tap("L1-out", "6200000001", "student leaves"),
)


def demo_data_dir() -> Path:
    return Path(str(resources.files("gate") / "demo_data"))


class _Pty:
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
    e = decision.event
    who = f"{decision.person.name} ({decision.person.id})" if decision.person else "-"
    action = "OPEN" if decision.opened else "DENY"
    line = f"{e.ts:%H:%M:%S} lane {e.lane} {e.direction:<5} {e.type:<10} {who:<28} {action}"
    if decision.alert:
        line += f"  ALERT {decision.alert.type} ({decision.alert.severity})"
    _print(line)


def run_demo(duration: float = 0.0, data_dir: Path | None = None, tap_interval: float = 2.0
             ) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="campus-gate-demo-"))
    ptys = {"L1-in": _Pty(), "L1-out": _Pty()}
    broker = None
    if find_mosquitto():
        broker = LocalBroker(workdir=workdir / "broker").start()
        _print(f"broker: private Mosquitto on 127.0.0.1:{broker.port}")
    else:
        _print("broker: mosquitto not installed; messages stay in the outbox")
    config = Config(
        site="demo", gate="main", data_dir=data_dir or workdir / "data",
        mqtt=MqttConfig(port=broker.port if broker else 1883),
        lanes=[LaneConfig(id="L1", relay=RelayConfig(kind="dry-run"), readers=[
            ReaderConfig(id="L1-in", port=ptys["L1-in"].path, direction="entry", holdoff_ms=500),
            ReaderConfig(id="L1-out", port=ptys["L1-out"].path, direction="exit",
                         holdoff_ms=500)])])
    service = Service(config, config.data_dir)
    try:
        summary = import_roster(service.store, demo_data_dir() / "roster.csv")
        _print(f"roster: {summary.people['added'] + summary.people['unchanged']} people, "
               f"{summary.cards['added'] + summary.cards['unchanged']} cards imported "
               f"into {service.store.path}")
        service.engine.subscribe(_show)
        service.start()
        _wait_connected(service)
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


def _wait_connected(service: Service, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(r.health.connected for r in service.readers):
            return
        time.sleep(0.05)
    raise RuntimeError("demo readers did not open their pseudo-terminals")


def _summarise(service: Service) -> None:
    store = service.store
    _print(f"journal: {store.count('events')} events, {store.count('alerts')} alerts, "
           f"{len(store.pending_outbox(10_000))} MQTT messages in the outbox; "
           f"bad frames rejected: {sum(r.health.bad_frames for r in service.readers)}")
