"""Snapshots: cut in the worker from the deciding frame, written off the decision path,
sent to the police (by reference, or inline under a cap), never to parents."""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np
import pytest

from gate.bench.scenes import FACES, background, cut_head, paste
from gate.broker import LocalBroker
from gate.config import parse_config
from gate.crypto import create_key_file
from gate.demo import em4100_frame
from gate.engine import Decision
from gate.service import Service
from gate.snapshots import SnapshotStore
from recognition.face_engine import DlibFaceEngine, Image
from recognition.gallery import Gallery
from recognition.pipeline import FacePipeline, PipelineSettings
from recognition.snapshot import SnapshotSettings, jpeg_capped
from recognition.worker import Sightings, _with_evidence
from tests.mqtt_helpers import Subscriber, gate_mqtt_section
from tests.ptys import PtyPort, wait_for
from tests.scenario import CARDS, running_gate, seed_people
from tests.test_mqtt import _walking_video

SETTINGS = SnapshotSettings(quality=70, max_width=480, max_bytes=40_000, crop_max_width=160)


@pytest.fixture(scope="module")
def engine() -> DlibFaceEngine:
    return DlibFaceEngine()


@pytest.fixture(scope="module")
def obama_frame(engine: DlibFaceEngine) -> Image:
    return paste(background(), cut_head(engine, "test/obama1.jpg", "obama"), 640, 330, 190)


def decode(jpeg: bytes) -> Image:
    img = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert img is not None
    return img


def test_worker_cuts_capped_jpegs_only_from_frames_that_encoded_a_face(
        engine: DlibFaceEngine, obama_frame: Image) -> None:
    pipeline = FacePipeline(engine, Gallery.from_rows([]))
    first = pipeline.process(obama_frame, 1.0)
    sightings = _with_evidence(Sightings("gate-cam", 1, 1.0, tuple(first)), obama_frame,
                               SETTINGS)
    assert first[0].encoded_now and sightings.scene_jpeg is not None
    scene = decode(sightings.scene_jpeg)
    assert scene.shape[1] == 480 and len(sightings.scene_jpeg) <= 40_000
    [(track, crop)] = sightings.crops
    assert track == first[0].track_id and decode(crop).shape[1] <= 160
    again = pipeline.process(obama_frame, 1.1)  # same track, nothing re-encoded
    later = _with_evidence(Sightings("gate-cam", 2, 1.1, tuple(again)), obama_frame, SETTINGS)
    assert not again[0].encoded_now and later.scene_jpeg is None and later.crops == ()
    assert _with_evidence(Sightings("gate-cam", 1, 1.0, tuple(first)), obama_frame,
                          None).scene_jpeg is None  # evidence off


def test_jpeg_cap_steps_quality_then_size_down() -> None:
    noise = np.random.default_rng(1).integers(0, 255, (720, 1280, 3), dtype=np.uint8)
    capped = jpeg_capped(noise, 1280, 90, 20_000)
    assert capped is not None and len(capped) <= 20_000
    assert decode(capped).shape[1] < 1280  # noise does not fit at full size: it shrank


@contextmanager
def camera_gate(tmp_path: Path, **sections: object) -> Iterator[tuple[Service, PtyPort]]:
    """The service with a camera lane whose frames the test feeds (no worker process)."""
    data = tmp_path / "data"
    seed_people(data, FACES)
    reader = PtyPort()
    raw = {"data_dir": str(data), "console": {"enabled": False},
           "cameras": [{"id": "gate-cam", "source": 0, "role": "gate"}],
           "lanes": [{"id": "L1", "camera": "gate-cam", "readers": [
               {"id": "L1-in", "port": reader.path, "direction": "entry", "holdoff_ms": 0}]}],
           "calendar": {"lessons": [], "late_after": "23:59:59",
                        "school_days": [1, 2, 3, 4, 5, 6, 7]},
           "rules": {"anti_passback": "off"}, **sections}
    service = Service(parse_config(raw), data)
    service.recognition_jobs = []
    service.start()
    try:
        wait_for(lambda: service.readers[0].health.connected, what="reader")
        yield service, reader
    finally:
        service.stop()
        reader.close()


def test_a_passage_keeps_its_evidence_written_off_the_decision_path(
        tmp_path: Path, engine: DlibFaceEngine, obama_frame: Image,
        monkeypatch: pytest.MonkeyPatch) -> None:
    key = tmp_path / "gate.key"
    create_key_file(key)
    release = threading.Event()
    real_write = SnapshotStore.write_files

    def slow_write(self: SnapshotStore, job: object) -> int:
        release.wait(20)  # a disk that hangs: decisions must not notice
        return real_write(self, job)  # type: ignore[arg-type]

    monkeypatch.setattr(SnapshotStore, "write_files", slow_write)
    with camera_gate(tmp_path, privacy={"key_file": str(key)}) as (service, reader):
        decisions: list[Decision] = []
        service.engine.subscribe(decisions.append)
        pipeline = FacePipeline(engine, service.engine.gallery)
        faces = tuple(pipeline.process(obama_frame, time.monotonic()))
        service.engine.on_sightings(_with_evidence(
            Sightings("gate-cam", 1, time.monotonic(), faces), obama_frame, SETTINGS))
        for n, card in enumerate((CARDS["obama"], "DEADBEEF01")):
            reader.write(em4100_frame(card))
            wait_for(lambda n=n: len([d for d in decisions if d.event.method != "face"]) > n,
                     timeout=5, what="a decision while the snapshot writer hangs")
        passage, unknown = [d for d in decisions if d.event.method != "face"]
        assert passage.event.method == "card+face" and passage.opened
        assert passage.event.snapshot == passage.event.id
        assert unknown.alert is not None and unknown.alert.snapshot == unknown.event.id
        [row] = service.store.query("SELECT snapshot FROM events WHERE id = ?",
                                    (passage.event.id,))
        assert row[0] == passage.event.id
        [indexed] = service.store.query("SELECT person_id FROM snapshots WHERE id = ?",
                                        (passage.event.id,))  # committed with the event
        assert indexed[0] == "obama"
        writer = service.snapshots
        scene = writer.read(passage.event.id, "scene")  # served from memory meanwhile
        assert scene is not None and decode(scene).shape[1] == 480
        assert not list((tmp_path / "data" / "snapshots").rglob("*.enc"))
        release.set()
        wait_for(lambda: writer.written == 2, timeout=10, what="the writer to catch up")
        files = sorted(p.name for p in (tmp_path / "data" / "snapshots").rglob("*.enc"))
        assert files == sorted(f"{d.event.id}.{part}.enc" for d in (passage, unknown)
                               for part in ("crop", "scene"))
        crop = SnapshotStore(service.store).read(passage.event.id, "crop")
        assert crop is not None and decode(crop).shape[1] <= 160
        assert service.store.query("SELECT person_id, kind, key_id FROM snapshots WHERE id = ?",
                                   (passage.event.id,))[0][:] == ("obama", "face", "k1")


@pytest.mark.slow
def test_camera_alert_reaches_the_police_with_its_snapshot_parents_get_no_image(
        tmp_path: Path, broker: LocalBroker) -> None:
    police = Subscriber(broker.port, "police", ["campus/+/+/alerts/#"])
    parent = Subscriber(broker.port, "G1", ["campus/+/guardians/G1/#"])
    key = tmp_path / "gate.key"
    create_key_file(key)
    mqtt = {**gate_mqtt_section(tmp_path, broker.port), "snapshot": "inline",
            "snapshot_max_bytes": 30_000}
    with running_gate(tmp_path, FACES, _walking_video(tmp_path), site="zqxx", mqtt=mqtt,
                      privacy={"key_file": str(key)}) as gate:
        gate.wait_face()
        d = gate.tap("biden")  # Biden's card, Obama's face: decided by the camera's frame
        assert d.alert is not None and d.alert.type == "card_face_mismatch"
        _t, alert = police.until(lambda m: m[1].get("type") == "card_face_mismatch")[-1]
        assert alert["snapshot"] == d.event.id
        jpeg = base64.b64decode(alert["snapshot_jpeg"])
        assert jpeg.startswith(b"\xff\xd8") and len(alert["snapshot_jpeg"]) <= 30_000
        decode(jpeg)
        store = gate.service.store
        wait_for(lambda: bool(store.query("SELECT 1 FROM snapshots WHERE id = ?",
                                          (d.event.id,))), timeout=10, what="snapshot row")
        # the row commits with the event; the writer loop seals and writes the files after it
        parts = store.query("SELECT parts FROM snapshots WHERE id = ?", (d.event.id,))[0][0]
        snapshots = tmp_path / "data" / "snapshots"

        def written() -> list[Path]:
            return [f for f in snapshots.rglob(f"{d.event.id}.*") if f.suffix != ".tmp"]

        wait_for(lambda: len(written()) == len(parts.split(",")), timeout=10,
                 what="snapshot files")
        files = written()
        assert files and all(not f.read_bytes().startswith(b"\xff\xd8") for f in files)
        assert gate.service.snapshots.read(d.event.id, "crop") == jpeg  # the same crop
        arrival = gate.tap("obama")
        assert arrival.event.snapshot == arrival.event.id  # a camera-decided passage
        _t, note = parent.until(lambda m: m[1].get("type") == "arrival")[-1]
        raw = str(note)
        assert "snapshot" not in raw and "/9j/" not in raw and "jpeg" not in raw.lower()
        assert note["child"] == {"id": "obama", "name": "Obama"}
    police.close()
    parent.close()


def test_bench_reports_what_evidence_costs_and_where() -> None:
    from gate.bench import evidence

    figures = {f.name: f for f in evidence.run(True)}
    assert set(figures) == {"evidence.decision_path_submit_us", "evidence.worker_jpegs_ms",
                            "evidence.snapshot_write_sealed_ms",
                            "evidence.gallery_open_500_sealed_ms"}
    # The decision path only queues: far below the cost of sealing and writing the files.
    submit_ms = figures["evidence.decision_path_submit_us"].value / 1000
    assert submit_ms * 10 < figures["evidence.snapshot_write_sealed_ms"].value
    assert all(set(f.as_dict()) == {"name", "value", "unit", "baseline", "ratio"}
               for f in figures.values())


def test_a_voted_plate_carries_the_frame_of_its_best_read() -> None:
    from gate.privacy import shot_of_plate
    from recognition.plates import PlateRead
    from recognition.worker import CameraJob, _plate_sighting

    bgr = np.full((720, 1280, 3), 90, np.uint8)
    bgr[400:440, 600:740] = (200, 60, 20)  # a blue plate
    read = PlateRead("京A12345", 0.97, (600, 400, 140, 40), "regular", "blue")
    job = CameraJob("car-cam", 0, PipelineSettings(), plates_region="cn", snapshots=SETTINGS)
    sighting = _plate_sighting(job, ("京A12345", 0.95), 5.0, (0.97, bgr, read))
    assert sighting.scene_jpeg is not None and sighting.crop_jpeg is not None
    crop = decode(sighting.crop_jpeg)
    assert crop.shape[0] < 100 and abs(int(crop[crop.shape[0] // 2, crop.shape[1] // 2, 0])
                                       - 200) < 20  # the plate's own blue, in BGR
    shot = shot_of_plate(sighting)
    assert shot is not None and shot.kind == "plate" and shot.camera == "car-cam"
    bare = _plate_sighting(job, ("京A12345", 0.95), 5.0, None)
    assert bare.scene_jpeg is None and shot_of_plate(bare) is None
