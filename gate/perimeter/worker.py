"""The perimeter worker process: one per perimeter camera, below the gate lane in priority.

The gate lane always wins on the 2-core gate computer: the worker lowers its own priority
(``os.nice``), analyses only the newest frame at the configured rate (the camera grabber keeps
one frame, so frames the worker cannot keep up with are dropped, never queued), and reports
the rate it achieved. Alerts go to ``out_queue`` as ``PerimeterAlert``; every few seconds a
``PerimeterHealth`` and, if asked, a ``PerimeterView`` (annotated JPEG for the console).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import queue
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from gate.config import CalendarConfig, CameraConfig, PerimeterConfig, ZoneConfig
from gate.perimeter.alerts import PerimeterHealth

log = logging.getLogger("gate.perimeter")


@dataclass(frozen=True)
class PerimeterView:
    """The latest annotated frame of a perimeter camera (zones, live tracks and their paths)."""

    camera: str
    ts: dt.datetime
    jpeg: bytes
    tracks: int


def _put(out: Any, item: object, block: bool) -> bool:
    try:
        out.put(item, block, 2.0 if block else None)
    except queue.Full:
        return False
    return True


def run_perimeter_worker(camera: CameraConfig, zones: Sequence[ZoneConfig] | None, out_queue: Any,
                         stop_event: Any, *, settings: PerimeterConfig | None = None,
                         calendar: CalendarConfig | None = None,
                         timezone: str = "Asia/Shanghai", loop: bool = False,
                         clock: Callable[[], dt.datetime] | None = None,
                         health_every_s: float = 5.0, view_every_s: float | None = 2.0) -> None:
    """Process entry point (``multiprocessing.Process(target=run_perimeter_worker, ...)``).

    ``zones`` defaults to ``camera.zones``. Runs until ``stop_event`` is set; all arguments are
    picklable (pydantic models, a multiprocessing queue and event).
    """
    from gate.perimeter.pipeline import PerimeterPipeline
    from recognition.camera import SOURCE_ENDED, Camera
    from recognition.procname import name_process

    name_process(f"gate-per-{camera.id}")

    settings = settings or PerimeterConfig()
    tz = ZoneInfo(timezone)
    now: Callable[[], dt.datetime] = clock or (lambda: dt.datetime.now(tz))
    try:
        os.nice(settings.nice)
    except OSError:  # not permitted: run at the priority we have
        log.warning("perimeter %s: cannot lower priority", camera.id)
    fps = min(settings.fps, camera.max_fps)
    pipeline = PerimeterPipeline(camera.id, camera.zones if zones is None else zones, settings,
                                 calendar, fps=fps)
    cam = Camera(camera.id, camera.source, loop=loop, rgb=False).start()
    period = 1.0 / fps
    seq = processed = detected = 0
    frames_at_report = cam.health.frames
    report_at = view_at = time.monotonic()
    next_due = 0.0
    error: str | None = None
    try:
        while not stop_event.is_set():
            new_seq, frame = cam.wait_newer(seq, timeout=0.5)
            now_mono = time.monotonic()
            if frame is not None and new_seq != seq and now_mono >= next_due:
                seq = new_seq
                # the configured rate, and no burst to catch up after a slow frame
                next_due = max(next_due + period, now_mono + period / 2)
                try:
                    result = pipeline.process(frame, now())
                except Exception as exc:  # one bad frame must not stop the camera's watch
                    log.exception("perimeter %s: frame failed", camera.id)
                    error = f"frame failed: {exc}"
                    continue
                error = None
                processed += 1
                detected += result.detected
                for alert in result.alerts:
                    if not _put(out_queue, alert, block=True):
                        log.error("perimeter %s: alert queue full, alert %s lost", camera.id,
                                  alert.id)
                if view_every_s is not None and now_mono - view_at >= view_every_s:
                    view_at = now_mono
                    _put(out_queue, PerimeterView(camera.id, now(),
                                                  pipeline.view_jpeg(frame),
                                                  len(result.tracks)), block=False)
            elif frame is not None and new_seq != seq:
                seq = new_seq  # not due yet: this frame is dropped
            elapsed = now_mono - report_at
            if elapsed >= health_every_s:
                frames = cam.health.frames
                dropped = max(0, frames - frames_at_report - processed)
                _put(out_queue, PerimeterHealth(
                    camera.id, cam.health.connected, cam.health.fps, processed / elapsed,
                    detected / elapsed, dropped, pipeline.rules.live_tracks, os.nice(0),
                    error or cam.health.last_error), block=False)
                frames_at_report, processed, detected, report_at = frames, 0, 0, now_mono
            if cam.ended:  # a video file played to its end: a normal end, told once
                _put(out_queue, PerimeterHealth(
                    camera.id, False, 0.0, 0.0, 0.0, 0, pipeline.rules.live_tracks, os.nice(0),
                    SOURCE_ENDED, ended=True), block=True)
                break
    finally:
        cam.stop()
