"""Card tap to decision, through a real pty reader, the engine and a durable journal.

- tracked: the face was tracked and encoded before the tap, so the decision is a lookup;
- cold: the face appears with the tap and is detected and encoded on the spot;
- baseline: the plain way, encoding the face on the tap from the full frame
  (``face_locations`` + ``face_encodings`` + ``compare_faces``).

Evidence and encryption are on, as in production: the worker's JPEGs ride with the
sightings, the decision hands its snapshot to the writer, encodings are sealed.
"""

from __future__ import annotations

import datetime as dt
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from gate.bench import Figure, percentile, timings_ms
from gate.bench.faces import train_encodings
from gate.bench.scenes import Head, background, cut_head, paste
from gate.config import Config, parse_config
from gate.crypto import create_key_file
from gate.demo import PtyPair, em4100_frame
from gate.engine import Decision
from gate.records import Person
from gate.service import Service
from recognition.face_engine import DlibFaceEngine, Image, import_face_recognition
from recognition.gallery import Gallery
from recognition.pipeline import FacePipeline
from recognition.snapshot import SnapshotSettings
from recognition.worker import Sightings, _with_evidence
from rfid.cards import CardId
from rfid.reader import CardRead

PEOPLE = {"obama": ("test/obama1.jpg", "obama"), "kit": ("test/johnsnow_test1.jpg",
                                                          "kit_harington"),
          "alex": ("test/alex_lacamoire1.jpg", "alex_lacamoire")}


def _frame(head: Head) -> Image:
    return paste(background(), head, 640, 330, 190)


@contextmanager
def _gate(engine: DlibFaceEngine, reader_port: str, perimeter: Path | None = None
          ) -> Iterator[Service]:
    """A service with one lane; with ``perimeter`` (a video), two perimeter cameras playing
    it in their own worker processes, as a school with street cameras runs."""
    with tempfile.TemporaryDirectory() as tmp:
        readers = [{"id": "L1-in", "port": reader_port, "direction": "entry", "holdoff_ms": 0}]
        street = [{"id": f"street-{i}", "source": str(perimeter), "role": "perimeter",
                   "zones": [{"id": "pavement", "polygon": [[0, 200], [768, 115], [768, 576],
                                                            [0, 576]], "loiter_seconds": 60}]}
                  for i in (1, 2)] if perimeter else []
        create_key_file(Path(tmp) / "gate.key")
        config: Config = parse_config({
            "data_dir": tmp, "console": {"enabled": False},
            "privacy": {"key_file": str(Path(tmp) / "gate.key")},
            "cameras": [{"id": "gate-cam", "source": 0, "role": "gate"}, *street],
            "lanes": [{"id": "L1", "camera": "gate-cam", "readers": readers}],
            "calendar": {"lessons": [], "late_after": "23:59:59"},
            "rules": {"anti_passback": "off", "face_wait_ms": 2000}})
        service = Service(config, Path(tmp), loop_video=True)
        service.recognition_jobs = []  # frames are fed by the benchmark itself, in-process
        train = train_encodings(engine)
        for i, (person, vec) in enumerate(train):
            service.store.upsert_person(Person(person, person, face_consent=True))
            service.store.add_face_encoding(person, f"bench-{i}", vec.tobytes())
        for i, person in enumerate(dict.fromkeys(p for p, _ in train)):
            service.store.assign_card(f"hex:{0x6200000000 + i:010X}", person)
        service.engine.set_gallery(Gallery([p for p, _ in train],
                                           np.stack([v for _, v in train])))
        try:
            yield service
        finally:
            service.stop()


def _card_of(service: Service, person: str) -> str:
    row = service.store.query("SELECT card_key FROM cards WHERE person_id = ?", (person,))[0]
    return str(row[0]).removeprefix("hex:")


def _tap_latencies(engine: DlibFaceEngine, quick: bool, cold: bool,
                   perimeter: Path | None = None) -> list[float]:
    pty = PtyPair()
    heads = {k: cut_head(engine, rel, label) for k, (rel, label) in PEOPLE.items()}
    frames = {k: _frame(h) for k, h in heads.items()}
    with _gate(engine, pty.path, perimeter) as service:
        decided = threading.Event()
        service.engine.subscribe(lambda _d: decided.set())
        service.start()
        while not service.readers[0].health.connected:
            time.sleep(0.01)
        if perimeter is not None:  # measure while both street cameras are being analysed
            deadline = time.monotonic() + 60
            while len(service.perimeter.health) < 2 and time.monotonic() < deadline:
                time.sleep(0.1)
        samples = []
        for n in range(8 if quick else 30):
            key = list(PEOPLE)[n % len(PEOPLE)]
            label = PEOPLE[key][1]
            pipeline = FacePipeline(engine, service.engine.gallery)

            def feed(k: str = key, p: FacePipeline = pipeline, seq: int = n) -> None:
                now = time.monotonic()
                faces = p.process(frames[k], now)
                service.engine.on_sightings(_with_evidence(
                    Sightings("gate-cam", seq, now, tuple(faces)), frames[k], SnapshotSettings()))

            if not cold:
                feed()  # tracked before the tap
            decided.clear()
            start = time.perf_counter()
            pty.write(em4100_frame(_card_of(service, label)))
            if cold:
                feed()  # the face appears with the tap
            decided.wait(5)
            samples.append((time.perf_counter() - start) * 1000)
            time.sleep(0.01)
            service.engine.evidence = type(service.engine.evidence)()  # the person has gone
    pty.close()
    return samples


def _plain_decision_ms(engine: DlibFaceEngine) -> float:
    fr = import_face_recognition()
    head = cut_head(engine, *PEOPLE["obama"])
    frame = _frame(head)
    known = [v for _, v in train_encodings(engine)]

    def plain() -> None:
        boxes = fr.face_locations(frame)
        for enc in fr.face_encodings(frame, boxes):
            fr.compare_faces(known, enc)

    return statistics.median(timings_ms(plain, 3))


def _rush_people_per_min(engine: DlibFaceEngine, quick: bool) -> float:
    """A morning rush: each pupil walks into view (10 frames at 25 fps) and taps."""
    heads = [cut_head(engine, rel, label) for rel, label in PEOPLE.values()]
    people = 15 if quick else 60
    pty = PtyPair()  # the reader is configured but not started: taps go straight to the engine
    with _gate(engine, pty.path) as service:
        gate = service.engine
        cards = {h.label: CardId(bytes.fromhex(_card_of(service, h.label))) for h in heads}
        pipeline = FacePipeline(engine, gate.gallery)
        opened = 0
        start = time.perf_counter()
        for n in range(people):
            head = heads[n % len(heads)]
            for i in range(10):
                scene = paste(background(seed=n), head, 500 + 20 * i, 330, 150 + 6 * i)
                stream_ts = n * 1.5 + i / 25  # on the camera's clock: a gap between pupils
                faces = tuple(pipeline.process(scene, stream_ts))
                gate.on_sightings(Sightings("gate-cam", n * 10 + i, time.monotonic(), faces))
            d: Decision = gate.on_card(CardRead(cards[head.label], "em4100", "L1-in", "entry",
                                                dt.datetime.now(dt.UTC), time.monotonic()))
            opened += d.opened and d.event.method == "card+face"
        elapsed = time.perf_counter() - start
    pty.close()
    if opened != people:
        raise RuntimeError(f"only {opened} of {people} pupils were let in on card and face")
    return people / elapsed * 60


def run(quick: bool) -> list[Figure]:
    engine = DlibFaceEngine()
    plain = _plain_decision_ms(engine)
    tracked = _tap_latencies(engine, quick, cold=False)
    cold = _tap_latencies(engine, quick, cold=True)
    figures = [
        Figure("engine.decision_tracked_p50_ms", statistics.median(tracked), "ms", plain),
        Figure("engine.decision_tracked_p99_ms", percentile(tracked, 99), "ms", plain),
        Figure("engine.decision_cold_p50_ms", statistics.median(cold), "ms", plain),
        Figure("engine.decision_cold_p99_ms", percentile(cold, 99), "ms", plain),
        Figure("engine.lane_people_per_min", _rush_people_per_min(engine, quick),
               "people/min"),
    ]
    with tempfile.TemporaryDirectory(prefix="gate-bench-street-") as tmp:
        street = _street_clip(Path(tmp))
        if street is not None:  # baseline: the same decision with no perimeter camera
            busy = _tap_latencies(engine, quick, cold=False, perimeter=street)
            figures.append(Figure("perimeter.decision_tracked_p50_ms",
                                  statistics.median(busy), "ms", statistics.median(tracked)))
    return figures


def _street_clip(folder: Path) -> Path | None:
    """OpenCV's vtest.avi (Debian opencv-doc, sometimes gzipped) as a looping MJPEG clip the
    perimeter workers can play, if installed."""
    import cv2

    from gate.bench.perimeter import find_vtest, read_frames

    source = find_vtest()
    if source is None:
        return None
    out = folder / "street.avi"
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter.fourcc(*"MJPG"), 10.0, (768, 576))
    for frame in read_frames(source, every=1, limit=200):
        writer.write(frame)
    writer.release()
    return out
