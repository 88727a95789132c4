"""A running gate service on real pseudo-terminal readers and recorded camera frames."""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from gate.broker import free_port
from gate.config import parse_config
from gate.demo import em4100_frame
from gate.engine import Decision
from gate.faces import FaceEnroller
from gate.records import Person
from gate.service import Service
from gate.store import DB_NAME, Store
from recognition.face_engine import DlibFaceEngine
from recognition.photo_jobs import InProcess
from tests.conftest import TZ
from tests.ptys import PtyPort, wait_for

CARDS = {"obama": "6200000001", "biden": "6200000002", "kit_harington": "6200000004",
         "nocons": "6200000006", "staff": "6200000003"}


_TEMPLATES: dict[Path, Path] = {}


def seed_people(data_dir: Path, faces_dir: Path) -> None:
    """Obama, Biden, Kit (students with consent and enrolled faces), a card-only student,
    and a staff member; Obama and the card-only student have guardians.

    The first call enrols with dlib for real; later calls copy that database (a closed,
    checkpointed SQLite file), so each scenario does not pay for enrolment again."""
    template = _TEMPLATES.get(faces_dir)
    if template is None:
        template = Path(tempfile.mkdtemp(prefix="gate-seed-")) / "data"
        _seed(template, faces_dir)
        _TEMPLATES[faces_dir] = template
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    shutil.copy2(template / DB_NAME, data_dir / DB_NAME)


def _seed(data_dir: Path, faces_dir: Path) -> None:
    from gate.records import Guardian

    store = Store(data_dir, TZ)
    try:
        config = parse_config({})
        enroller = FaceEnroller(store, config,
                                InProcess(DlibFaceEngine(jitters=config.faces.enrol_jitters)))
        for pid, photo in (("obama", "train/obama/obama.jpg"), ("biden", "train/biden/biden.jpg"),
                           ("kit_harington", "train/kit_harington/john1.jpeg")):
            store.upsert_person(Person(pid, pid.title(), face_consent=True, class_name="7-1"))
            assert enroller.enrol(pid, faces_dir / photo).outcome == "enrolled"
        store.upsert_person(Person("nocons", "Card Only", class_name="7-1"))
        store.upsert_person(Person("staff", "Teacher Wang", role="staff"))
        for pid, card in CARDS.items():
            store.assign_card(f"hex:{card}", pid)
        store.upsert_guardian(Guardian("G1", "Obama's mother", "13800000001"), "obama")
        store.upsert_guardian(Guardian("G6", "Card Only's father", "13800000006"), "nocons")
    finally:
        store.close()


class Gate:
    """The service plus its simulated hardware, with helpers to tap and to read the journal."""

    def __init__(self, service: Service, ptys: dict[str, PtyPort]) -> None:
        self.service = service
        self.ptys = ptys
        self.decisions: list[Decision] = []
        service.engine.subscribe(self.decisions.append)

    def tap(self, person: str, reader: str = "L1-in") -> Decision:
        seen = len(self.decisions)
        card = CARDS.get(person, person)
        self.ptys[reader].write(em4100_frame(card))

        def on_the_card() -> Decision | None:
            # not a face's decision, nor the gate's own (a device going offline meanwhile)
            return next((d for d in self.decisions[seen:] if d.event.method not in
                         ("face", "system") and d.event.type != "face_seen"), None)

        wait_for(lambda: on_the_card() is not None, timeout=10,
                 what=f"a decision on {person}'s card")
        found = on_the_card()
        assert found is not None
        return found

    def wait_face(self, camera: str = "gate-cam", timeout: float = 60) -> None:
        engine = self.service.engine
        wait_for(lambda: engine.evidence.face_at_reader(camera, time.monotonic() - 1) is not None,
                 timeout=timeout, what="the recognition worker to deliver a face")

    def alerts(self) -> list[str]:
        """Alerts about people and vehicles (device and service health alerts apart: these
        gates run without a broker, which the gate rightly reports)."""
        return [r[0] for r in self.service.store.query(
            "SELECT type FROM alerts WHERE type NOT IN ('device_offline', 'device_online',"
            " 'service_fault') ORDER BY ts")]

    def outbox(self, topic_part: str) -> list[dict[str, Any]]:
        return [json.loads(m.payload) for m in self.service.store.pending_outbox(10_000)
                if topic_part in m.topic]


@contextmanager
def running_gate(tmp_path: Path, faces_dir: Path, video: Path | None = None,
                 extra_lanes: list[dict[str, Any]] | None = None,
                 lane: dict[str, Any] | None = None,
                 prepare: Callable[[Store], None] | None = None,
                 **sections: Any) -> Iterator[Gate]:
    """``prepare`` writes to the seeded database before the service (and its cameras) start."""
    data = tmp_path / "data"
    seed_people(data, faces_dir)
    if prepare is not None:
        store = Store(data, TZ)
        try:
            prepare(store)
        finally:
            store.close()
    ptys = {name: PtyPort() for name in ("L1-in", "L1-out")}
    raw: dict[str, Any] = {
        "site": "test", "gate": "main", "data_dir": str(data), "console": {"enabled": False},
        "lanes": [{"id": "L1", "readers": [
            {"id": "L1-in", "port": ptys["L1-in"].path, "direction": "entry", "holdoff_ms": 200},
            {"id": "L1-out", "port": ptys["L1-out"].path, "direction": "exit",
             "holdoff_ms": 200}]}],
        "calendar": {"school_days": [1, 2, 3, 4, 5, 6, 7], "late_after": "23:59:59",
                     "lessons": []},
    }
    raw["lanes"][0].update(lane or {})
    raw["lanes"] += extra_lanes or []
    if video is not None:
        raw["cameras"] = [{"id": "gate-cam", "source": str(video), "role": "gate",
                           "max_fps": 10}]
        raw["lanes"][0]["camera"] = "gate-cam"
    for key, value in sections.items():
        if isinstance(value, dict) and isinstance(raw.get(key), dict):
            raw[key] = {**raw[key], **value}
        else:
            raw[key] = value
    service = Service(parse_config(raw), data, loop_video=True)
    service.start()
    try:
        wait_for(lambda: all(r.health.connected for r in service.readers), what="readers")
        yield Gate(service, ptys)
    finally:
        service.stop()
        for p in ptys.values():
            p.close()


def console_gate_config(tmp_path: Path, data: Path) -> tuple[Path, int]:
    """A gate.toml for ``gate run`` in a child process: one lane, no readers, the console on a
    free loopback port (the tests that kill the process under a client)."""
    port = free_port()
    config = tmp_path / "gate.toml"
    config.write_text(f'site = "test"\ndata_dir = "{data}"\n[console]\nenabled = true\n'
                      f'bind = "127.0.0.1:{port}"\n[[lanes]]\nid = "L1"\n')
    return config, port
