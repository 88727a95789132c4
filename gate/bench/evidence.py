"""What evidence and encryption cost, and where it is paid.

- on the decision path: handing a snapshot to the writer (a queue put) and
  sealing nothing (encodings are sealed at enrolment, opened once per gallery load);
- in the recognition worker: the scene and crop JPEGs of an encoded frame;
- off the decision path: sealing and writing a snapshot (the writer loop);
- at start and on enrolment: opening every sealed encoding for the gallery,
  against the plain rows (baseline).
The end-to-end decision with snapshots and encryption on is
``engine.decision_tracked_p50_ms`` (gate/bench/engine.py).
"""

from __future__ import annotations

import statistics
import tempfile
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

from gate.bench import Figure, timings_ms
from gate.bench.scenes import background
from gate.crypto import create_key_file, load_sealer
from gate.records import Person, rfc3339
from gate.snapshots import Shot, SnapshotJob, SnapshotStore, SnapshotWriter
from gate.store import Store
from recognition.snapshot import SnapshotSettings, crop_jpeg, scene_jpeg

TZ = ZoneInfo("Asia/Shanghai")


def _gallery_load_ms(tmp: Path, key: Path | None, rows: int) -> float:
    store = Store(tmp / ("sealed" if key else "plain"), TZ, load_sealer(key))
    try:
        rng = np.random.default_rng(0)
        for i in range(rows // 5):
            store.upsert_person(Person(f"p{i}", f"P{i}", face_consent=True))
            for j in range(5):
                store.add_face_encoding(f"p{i}", f"s{j}",
                                        rng.normal(0, 0.1, 128).astype(np.float32).tobytes())
        return statistics.median(timings_ms(store.face_encodings, 5))
    finally:
        store.close()


def run(quick: bool) -> list[Figure]:
    settings = SnapshotSettings()
    frame = background()  # 1280x720 RGB
    box = (200, 700, 420, 520)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        key = tmp / "gate.key"
        create_key_file(key)
        encode = statistics.median(timings_ms(
            lambda: (scene_jpeg(frame, settings), crop_jpeg(frame, box, settings)),
            5 if quick else 20))
        shot = Shot(scene_jpeg(frame, settings), crop_jpeg(frame, box, settings), "cam",
                    "face", 0.0)
        store = Store(tmp / "snap", TZ, load_sealer(key))
        try:
            writer = SnapshotWriter(SnapshotStore(store), max_queue=10_000)
            stamp = rfc3339(store.now())
            n = [0]

            def submit() -> None:
                n[0] += 1
                writer.submit(SnapshotJob(f"s{n[0]}", stamp, "L1", None, shot))

            path_ms = statistics.median(timings_ms(submit, 200 if quick else 1000))
            jobs = [SnapshotJob(f"w{i}", stamp, "L1", None, shot)
                    for i in range(10 if quick else 50)]
            it = iter(jobs)
            write_ms = statistics.median(timings_ms(
                lambda: writer.snapshots.write(next(it)), len(jobs) - 1))
        finally:
            store.close()
        rows = 500 if quick else 2000
        sealed = _gallery_load_ms(tmp, key, rows)
        plain = _gallery_load_ms(tmp, None, rows)
    return [
        Figure("evidence.decision_path_submit_us", path_ms * 1000, "us"),
        Figure("evidence.worker_jpegs_ms", encode, "ms"),
        Figure("evidence.snapshot_write_sealed_ms", write_ms, "ms"),
        Figure(f"evidence.gallery_open_{rows}_sealed_ms", sealed, "ms", plain),
    ]
