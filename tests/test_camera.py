"""Camera capture from a real video file, and recognition in a real worker process."""

from __future__ import annotations

import queue
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from gate.bench.scenes import FACES, cut_head, walking_frames
from recognition.camera import Camera
from recognition.face_engine import DlibFaceEngine
from recognition.images import decode_rgb, load_rgb
from recognition.pipeline import PipelineSettings
from recognition.worker import CameraJob, RecognitionWorkers, Sightings, WorkerHealth
from tests.ptys import wait_for

pytestmark = pytest.mark.slow


def write_video(path: Path, frames: list[np.ndarray], fps: float = 25.0) -> Path:
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), fps, (w, h))
    assert writer.isOpened()
    for rgb in frames:
        writer.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


@pytest.fixture(scope="module")
def walking_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    engine = DlibFaceEngine()
    heads = [cut_head(engine, "test/obama1.jpg", "obama"),
             cut_head(engine, "test/johnsnow_test1.jpg", "kit_harington")]
    path = tmp_path_factory.mktemp("video") / "gate.avi"
    return write_video(path, list(walking_frames(heads, 40)))


def test_camera_keeps_the_latest_frame_and_snapshots(walking_video: Path) -> None:
    cam = Camera("gate-cam", str(walking_video), loop=True).start()
    try:
        seq, frame = cam.wait_newer(0, timeout=5)
        assert frame is not None and frame.shape == (720, 1280, 3)
        seq2, _ = cam.wait_newer(seq, timeout=5)
        assert seq2 > seq
        wait_for(lambda: cam.health.frames > 45, timeout=10, what="the file to loop")
        assert cam.health.connected and 10 < cam.health.fps < 40  # plays at its own 25 fps
        jpeg = cam.snapshot_jpeg()
        assert jpeg is not None and decode_rgb(jpeg).shape == (720, 1280, 3)
    finally:
        cam.stop()


def test_camera_waits_for_a_missing_source_and_connects_when_it_appears(
        tmp_path: Path, walking_video: Path) -> None:
    path = tmp_path / "later.avi"
    cam = Camera("cam", str(path), max_backoff_s=0.3).start()
    try:
        wait_for(lambda: cam.health.last_error is not None, what="the open failure")
        assert not cam.health.connected
        path.write_bytes(walking_video.read_bytes())
        _seq, frame = cam.wait_newer(0, timeout=10)
        assert frame is not None
    finally:
        cam.stop()


def test_recognition_runs_in_a_worker_process(walking_video: Path) -> None:
    engine = DlibFaceEngine()
    rows = []
    for person, rel in (("obama", "train/obama/obama.jpg"),
                        ("kit_harington", "train/kit_harington/john1.jpeg")):
        rgb = load_rgb(FACES / rel)
        rows.append((person, engine.encode(rgb, engine.detect(rgb, 1))[0].tobytes()))
    got: queue.Queue[Sightings] = queue.Queue()
    health: list[WorkerHealth] = []
    job = CameraJob("gate-cam", str(walking_video), PipelineSettings(), max_fps=10, loop=True)
    workers = RecognitionWorkers([job], rows, workers=1, on_sightings=got.put,
                                 on_health=health.append)
    main_thread_ticks = 0
    stop = threading.Event()

    def tick() -> None:  # the parent stays responsive while recognition runs
        nonlocal main_thread_ticks
        while not stop.is_set():
            main_thread_ticks += 1
            time.sleep(0.01)

    ticker = threading.Thread(target=tick)
    ticker.start()
    workers.start()
    try:
        names: set[str] = set()
        deadline = time.monotonic() + 60
        while names != {"obama", "kit_harington"} and time.monotonic() < deadline:
            batch = got.get(timeout=60)
            assert batch.camera_id == "gate-cam"
            names |= {f.person_id for f in batch.faces if f.person_id}
        assert names == {"obama", "kit_harington"}
        assert workers.alive()
        wait_for(lambda: bool(health), timeout=5, what="worker health")
        assert health[-1].camera_id == "gate-cam" and health[-1].connected
    finally:
        workers.stop()
        stop.set()
        ticker.join()
    assert main_thread_ticks > 50
