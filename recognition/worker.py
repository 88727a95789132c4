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
import os
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from multiprocessing.process import BaseProcess
from typing import Any

from recognition.motion import LANE_WIDTH, DetectionGate, MotionGate
from recognition.pipeline import FaceSighting, PipelineSettings
from recognition.processes import worker_context
from recognition.snapshot import SnapshotSettings, crop_jpeg, plate_box, scene_jpeg
from recognition.view import CameraView, draw_view, face_marks

log = logging.getLogger("recognition.worker")
VIEW_EVERY_S = 0.5

GalleryRows = Sequence[tuple[str, bytes]]


@dataclass(frozen=True)
class CameraJob:
    camera_id: str
    source: str | int
    settings: PipelineSettings
    max_fps: float = 10.0
    loop: bool = False
    plates_region: str | None = None  # set: a vehicle camera, read plates instead of faces
    snapshots: SnapshotSettings | None = None  # evidence JPEGs of encoded faces / voted plates
    plates_fast_accept: float = 0.85  # below this confidence the surer (slow) path runs ...
    plates_fallback_s: float = 1.0  # ... at most this often per camera
    plates_home_province: str | None = None  # cn: assumed when a read lost its province


@dataclass(frozen=True)
class PlateSighting:
    """One vehicle pass: the plate voted over its frames."""

    camera_id: str
    plate: str
    confidence: float
    ts: float
    scene_jpeg: bytes | None = None  # the frame of the best read (evidence)
    crop_jpeg: bytes | None = None


@dataclass(frozen=True)
class Sightings:
    camera_id: str
    frame_seq: int
    ts: float  # time.monotonic() of the frame's processing; CLOCK_MONOTONIC is system-wide
    faces: tuple[FaceSighting, ...]
    # Evidence (recognition/snapshot.py): this frame, downscaled, and a crop per track
    # encoded in it; only on frames where a track was (re-)encoded.
    scene_jpeg: bytes | None = None
    crops: tuple[tuple[int, bytes], ...] = ()


@dataclass(frozen=True)
class GalleryUpdate:
    """New gallery rows for a worker; it answers ``GalleryApplied`` with the same
    generation once every sighting it sends after that uses them."""

    generation: int
    rows: list[tuple[str, bytes]]


@dataclass(frozen=True)
class GalleryApplied:
    worker: int
    generation: int


@dataclass(frozen=True)
class WorkerHealth:
    camera_id: str
    connected: bool
    fps: float
    processed_fps: float
    last_error: str | None


def _worker_main(jobs: list[CameraJob], rows: list[tuple[str, bytes]], out: Any, control: Any,
                 stop: Any, index: int = 0) -> None:
    from recognition.camera import Camera
    from recognition.face_engine import DlibFaceEngine
    from recognition.gallery import Gallery
    from recognition.pipeline import FacePipeline
    from recognition.plates import PlatePass, PlateReader
    from recognition.procname import name_process

    name_process("gate-recog-" + "-".join(j.camera_id for j in jobs))
    engine = DlibFaceEngine()
    gallery = Gallery.from_rows(rows)
    if any(j.settings.liveness for j in jobs):
        from recognition.liveness import default_checker

        default_checker()  # load the models now, not when the first face walks up
    cams = [Camera(j.camera_id, j.source, loop=j.loop, rgb=j.plates_region is None).start()
            for j in jobs]
    pipes = [FacePipeline(engine, gallery, j.settings) for j in jobs]
    gates = [DetectionGate(j.settings.idle_detect_seconds, MotionGate(width=LANE_WIDTH))
             for j in jobs]
    readers = {j.camera_id: PlateReader(j.plates_region, accept=j.plates_fast_accept,
                                        fallback_interval_s=j.plates_fallback_s,
                                        home_province=j.plates_home_province)
               for j in jobs if j.plates_region}
    passes = {j.camera_id: PlatePass() for j in jobs if j.plates_region}
    best_plate: dict[str, tuple[float, Any, Any]] = {}  # camera -> (confidence, frame, read)
    seen = [0] * len(jobs)
    next_due = [0.0] * len(jobs)
    view_at = [0.0] * len(jobs)  # the console's live view: a few JPEGs a second
    processed = [0] * len(jobs)
    health_at = time.monotonic()
    try:
        # the fork server (recognition/processes.py), which exits when the service does
        parent = os.getppid()
        while not stop.is_set():
            if os.getppid() != parent:  # the service died without stopping us: do not linger
                log.error("recognition worker: the service is gone; exiting")
                break
            try:
                update = control.get_nowait()
            except queue.Empty:
                pass
            else:
                gallery = Gallery.from_rows(update.rows)
                for p in pipes:
                    p.set_gallery(gallery)  # live tracks are identified again, at once
                # on the same queue as the sightings: everything sent before this used the
                # old gallery, everything after it the new one (an erasure waits for this)
                out.put(GalleryApplied(index, update.generation))
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
                    # a vehicle being read is read on every frame; an empty, still barrier
                    # once every idle_detect_seconds, and then without the slow path (whole-
                    # frame OCR, which there found nothing each second at half a core)
                    plate_pass = passes[job.camera_id]
                    reading = plate_pass.in_view(now)
                    reads = []
                    if gates[i].needed(frame, reading, now):
                        reads = readers[job.camera_id].read(  # BGR from this camera
                            frame, slow=reading or gates[i].moving)
                    if now - view_at[i] >= VIEW_EVERY_S:
                        view_at[i] = now
                        _put_view(out, job.camera_id, frame, [
                            (r.box, r.text, True) for r in reads], rgb=False)
                    if reads and job.snapshots and reads[0].confidence > best_plate.get(
                            job.camera_id, (-1.0, None, None))[0]:
                        best_plate[job.camera_id] = (reads[0].confidence, frame, reads[0])
                    # told as soon as the vote decides: the car waits at the closed barrier
                    voted = plate_pass.observe(reads, now)
                    if voted:
                        out.put(_plate_sighting(job, voted, now, best_plate.get(job.camera_id)))
                    if not plate_pass.in_view(now):  # the vehicle has gone
                        best_plate.pop(job.camera_id, None)
                    continue
                if gates[i].needed(frame, bool(pipe.tracker.tracks), now):
                    faces = pipe.process(frame, now)
                else:  # an empty, still lane: the detector would find nothing again
                    faces = []
                if now - view_at[i] >= VIEW_EVERY_S:
                    view_at[i] = now
                    _put_view(out, job.camera_id, frame, face_marks(faces), rgb=True)
                out.put(_with_evidence(Sightings(job.camera_id, seq, now, tuple(faces)),
                                       frame, job.snapshots))
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


def _put_view(out: Any, camera_id: str, frame: Any, marks: list[Any], rgb: bool) -> None:
    out.put(CameraView(camera_id, time.time(), draw_view(frame, marks, rgb), len(marks)))


def _with_evidence(sightings: Sightings, rgb: Any, s: SnapshotSettings | None) -> Sightings:
    """JPEGs only for the frames whose templates decisions will rest on (a few ms each)."""
    encoded = [f for f in sightings.faces if f.encoded_now]
    if s is None or not encoded:
        return sightings
    crops = tuple((f.track_id, jpeg) for f in encoded
                  if (jpeg := crop_jpeg(rgb, f.box, s)) is not None)
    return replace(sightings, scene_jpeg=scene_jpeg(rgb, s), crops=crops)


def _plate_sighting(job: CameraJob, voted: tuple[str, float], now: float,
                    best: tuple[float, Any, Any] | None) -> PlateSighting:
    if job.snapshots is None or best is None:
        return PlateSighting(job.camera_id, voted[0], voted[1], now)
    _conf, bgr, read = best
    return PlateSighting(job.camera_id, voted[0], voted[1], now,
                         scene_jpeg(bgr, job.snapshots, rgb=False),
                         crop_jpeg(bgr, plate_box(read.box), job.snapshots, rgb=False))


class RecognitionWorkers:
    """Starts the worker processes and pumps their results to ``on_sightings``/``on_health``."""

    def __init__(self, jobs: Sequence[CameraJob], rows: GalleryRows, workers: int,
                 on_sightings: Callable[[Sightings], None],
                 on_health: Callable[[WorkerHealth], None] | None = None,
                 on_plate: Callable[[PlateSighting], None] | None = None,
                 on_view: Callable[[CameraView], None] | None = None) -> None:
        self._on_plate = on_plate
        self._on_view = on_view
        self._ctx = worker_context()  # forked by a single-threaded fork server
        self._out = self._ctx.Queue()
        self._stop = self._ctx.Event()
        self._controls: list[Any] = []
        self._procs: list[BaseProcess] = []
        self._on_sightings = on_sightings
        self._on_health = on_health
        self._generation = 0
        self._applied: dict[int, int] = {}  # worker -> gallery generation it confirmed
        self._applied_cond = threading.Condition()  # leaf
        n = max(1, min(workers, len(jobs)))
        for w in range(n):
            mine = list(jobs[w::n])
            control = self._ctx.Queue()
            self._controls.append(control)
            self._procs.append(self._ctx.Process(
                target=_worker_main, args=(mine, list(rows), self._out, control, self._stop, w),
                name=f"recognition-{w}", daemon=True))
        self._pump = threading.Thread(target=self._drain, name="recognition-pump", daemon=True)

    def start(self) -> None:
        for proc in self._procs:
            proc.start()
        self._pump.start()

    def set_gallery(self, rows: GalleryRows) -> int:
        """Send new rows to every worker; returns the generation to wait for."""
        with self._applied_cond:
            self._generation += 1
            generation = self._generation
        for control in self._controls:
            control.put(GalleryUpdate(generation, list(rows)))
        return generation

    def wait_applied(self, generation: int, timeout: float) -> bool:
        """True once every live worker has confirmed ``generation`` (and the pump has handed
        on every sighting it sent before): from then on no sighting uses an older gallery."""
        deadline = time.monotonic() + timeout

        def done() -> bool:
            return all(self._applied.get(w, 0) >= generation or not p.is_alive()
                       for w, p in enumerate(self._procs))

        with self._applied_cond:
            while not done():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._applied_cond.wait(min(left, 0.2))
        return True

    def alive(self) -> bool:
        return all(p.is_alive() for p in self._procs)

    def exit_codes(self) -> dict[str, int | None]:
        """Worker processes that have exited, with their exit codes (-9: SIGKILL)."""
        return {p.name: p.exitcode for p in self._procs if not p.is_alive()}

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
                elif isinstance(item, CameraView):
                    if self._on_view is not None:
                        self._on_view(item)
                elif isinstance(item, GalleryApplied):
                    with self._applied_cond:
                        self._applied[item.worker] = max(self._applied.get(item.worker, 0),
                                                         item.generation)
                        self._applied_cond.notify_all()
                elif self._on_health is not None:
                    self._on_health(item)
            except Exception:
                log.exception("recognition result handler failed")
