"""Recognition in worker processes: dlib holds the GIL for the whole of a detection
or an encoding, so it must not run in the process that reads cards, drives
relays and serves the console.

Each worker process owns some cameras (``workers`` processes share all
cameras round-robin), runs the face pipeline on each camera's latest frame,
and sends the sightings back on a queue. Galleries are sent in as plain rows
when enrolments change.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from typing import Any

from recognition.pipeline import FaceSighting, PipelineSettings

log = logging.getLogger("recognition.worker")

GalleryRows = Sequence[tuple[str, bytes]]


@dataclass(frozen=True)
class CameraJob:
    camera_id: str
    source: str | int
    settings: PipelineSettings
    max_fps: float = 10.0
    loop: bool = False
    plates_region: str | None = None  # set: a vehicle camera, read plates instead of faces
    plates_fast_accept: float = 0.85  # below this confidence the surer (slow) path runs ...
    plates_fallback_s: float = 1.0  # ... at most this often per camera


@dataclass(frozen=True)
class PlateSighting:
    """One vehicle pass: the plate voted over its frames."""

    camera_id: str
    plate: str
    confidence: float
    ts: float


@dataclass(frozen=True)
class Sightings:
    camera_id: str
    frame_seq: int
    ts: float  # time.monotonic() of the frame's processing; CLOCK_MONOTONIC is system-wide
    faces: tuple[FaceSighting, ...]


@dataclass(frozen=True)
class WorkerHealth:
    camera_id: str
    connected: bool
    fps: float
    processed_fps: float
    last_error: str | None


def _worker_main(jobs: list[CameraJob], rows: list[tuple[str, bytes]], out: Any, control: Any,
                 stop: Any) -> None:
    from recognition.camera import Camera
    from recognition.face_engine import DlibFaceEngine
    from recognition.gallery import Gallery
    from recognition.pipeline import FacePipeline
    from recognition.plates import PlateReader, PlateVoter

    engine = DlibFaceEngine()
    gallery = Gallery.from_rows(rows)
    cams = [Camera(j.camera_id, j.source, loop=j.loop, rgb=j.plates_region is None).start()
            for j in jobs]
    pipes = [FacePipeline(engine, gallery, j.settings) for j in jobs]
    readers = {j.camera_id: PlateReader(j.plates_region, accept=j.plates_fast_accept,
                                        fallback_interval_s=j.plates_fallback_s)
               for j in jobs if j.plates_region}
    voters = {j.camera_id: PlateVoter() for j in jobs if j.plates_region}
    last_plate = dict.fromkeys(voters, 0.0)
    seen = [0] * len(jobs)
    next_due = [0.0] * len(jobs)
    processed = [0] * len(jobs)
    health_at = time.monotonic()
    try:
        while not stop.is_set():
            try:
                new_rows = control.get_nowait()
            except queue.Empty:
                pass
            else:
                gallery = Gallery.from_rows(new_rows)
                for p in pipes:
                    p.set_gallery(gallery)
            idle = True
            for i, (job, cam, pipe) in enumerate(zip(jobs, cams, pipes, strict=True)):
                now = time.monotonic()
                seq, frame = cam.latest()
                if frame is None or seq == seen[i] or now < next_due[i]:
                    continue
                idle = False
                seen[i], next_due[i] = seq, now + 1.0 / job.max_fps
                processed[i] += 1
                if job.plates_region:
                    reads = readers[job.camera_id].read(frame)  # BGR from this camera
                    voter = voters[job.camera_id]
                    if reads:
                        voter.add(reads, now)
                        last_plate[job.camera_id] = now
                    elif now - last_plate[job.camera_id] > 1.5:  # the vehicle has passed
                        voted = voter.result()
                        if voted:
                            out.put(PlateSighting(job.camera_id, voted[0], voted[1], now))
                        voter.reset()
                    continue
                faces = pipe.process(frame, now)
                out.put(Sightings(job.camera_id, seq, now, tuple(faces)))
            now = time.monotonic()
            if now - health_at >= 1.0:
                for i, cam in enumerate(cams):
                    out.put(WorkerHealth(cam.camera_id, cam.health.connected, cam.health.fps,
                                         processed[i] / (now - health_at), cam.health.last_error))
                    processed[i] = 0
                health_at = now
            if idle:
                time.sleep(0.005)
    finally:
        for cam in cams:
            cam.stop()


class RecognitionWorkers:
    """Starts the worker processes and pumps their results to ``on_sightings``/``on_health``."""

    def __init__(self, jobs: Sequence[CameraJob], rows: GalleryRows, workers: int,
                 on_sightings: Callable[[Sightings], None],
                 on_health: Callable[[WorkerHealth], None] | None = None,
                 on_plate: Callable[[PlateSighting], None] | None = None) -> None:
        self._on_plate = on_plate
        self._ctx = mp.get_context("spawn")  # never fork a process that runs threads
        self._out = self._ctx.Queue()
        self._stop = self._ctx.Event()
        self._controls: list[Any] = []
        self._procs: list[BaseProcess] = []
        self._on_sightings = on_sightings
        self._on_health = on_health
        n = max(1, min(workers, len(jobs)))
        for w in range(n):
            mine = list(jobs[w::n])
            control = self._ctx.Queue()
            self._controls.append(control)
            self._procs.append(self._ctx.Process(
                target=_worker_main, args=(mine, list(rows), self._out, control, self._stop),
                name=f"recognition-{w}", daemon=True))
        self._pump = threading.Thread(target=self._drain, name="recognition-pump", daemon=True)

    def start(self) -> None:
        for proc in self._procs:
            proc.start()
        self._pump.start()

    def set_gallery(self, rows: GalleryRows) -> None:
        for control in self._controls:
            control.put(list(rows))

    def alive(self) -> bool:
        return all(p.is_alive() for p in self._procs)

    def stop(self) -> None:
        self._stop.set()
        for proc in self._procs:
            proc.join(5)
            if proc.is_alive():
                proc.terminate()
                proc.join(2)
        self._out.put(None)
        self._pump.join(2)

    def _drain(self) -> None:
        while True:
            item = self._out.get()
            if item is None:
                return
            try:
                if isinstance(item, Sightings):
                    self._on_sightings(item)
                elif isinstance(item, PlateSighting):
                    if self._on_plate is not None:
                        self._on_plate(item)
                elif self._on_health is not None:
                    self._on_health(item)
            except Exception:
                log.exception("recognition result handler failed")
