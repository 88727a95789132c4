"""OpenCV capture with a grabber thread that keeps only the latest frame.

Recognition is slower than the camera: queueing frames would make the gate
decide on what happened seconds ago. The grabber reads continuously, keeps
the newest frame, reconnects with back-off when an RTSP stream or USB camera
drops, and reports its frame rate and health.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass

import cv2

from recognition.face_engine import Image
from recognition.images import encode_jpeg

log = logging.getLogger("recognition.camera")


SOURCE_ENDED = "source ended"  # a video file without loop: a normal end, not a fault


@dataclass
class CameraHealth:
    connected: bool = False
    fps: float = 0.0
    frames: int = 0
    reconnects: int = 0
    last_frame_mono: float | None = None
    last_error: str | None = None


def parse_source(source: str | int) -> str | int:
    """A device index (``0`` or ``"0"``), an RTSP/HTTP URL, or a video file path."""
    if isinstance(source, int):
        return source
    return int(source) if source.isdigit() else source


class Camera:
    """``latest()`` returns the newest RGB frame and its sequence number (None before the first).

    A video file plays at its own frame rate and, with ``loop``, starts again at the end
    (for demos and tests); a live source is read as fast as it delivers.
    """

    def __init__(self, camera_id: str, source: str | int, *, loop: bool = False,
                 max_backoff_s: float = 10.0, rgb: bool = True) -> None:
        self.camera_id = camera_id
        self.source = parse_source(source)
        self.loop = loop
        self.rgb = rgb  # False: frames stay in OpenCV's BGR (the plate reader wants BGR)
        self.health = CameraHealth()
        self.ended = False  # a video file played to its end (without ``loop``)
        self._max_backoff = max_backoff_s
        self._frame: Image | None = None
        self._seq = 0
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._stamps: deque[float] = deque(maxlen=50)
        self._thread = threading.Thread(target=self._run, name=f"camera-{camera_id}", daemon=True)

    @property
    def is_file(self) -> bool:
        return isinstance(self.source, str) and "://" not in self.source

    def start(self) -> Camera:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        self._thread.join(3)

    def latest(self) -> tuple[int, Image | None]:
        with self._cond:
            return self._seq, self._frame

    def wait_newer(self, seq: int, timeout: float) -> tuple[int, Image | None]:
        """Block until a frame newer than ``seq`` arrives (or the timeout passes)."""
        with self._cond:
            self._cond.wait_for(lambda: self._seq > seq or self._stop.is_set(), timeout)
            return self._seq, self._frame

    def snapshot_jpeg(self, quality: int = 85) -> bytes | None:
        _, frame = self.latest()
        if frame is None:
            return None
        return encode_jpeg(frame if self.rgb else cv2.cvtColor(frame, cv2.COLOR_BGR2RGB),
                           quality)

    def _open(self) -> cv2.VideoCapture | None:
        cap = cv2.VideoCapture(self.source)
        if not cap.isOpened():
            cap.release()
            return None
        return cap

    def _run(self) -> None:
        backoff = 0.2
        while not self._stop.is_set():
            cap = self._open()
            if cap is None:
                self._lost(f"cannot open {self.source!r}")
                self._stop.wait(backoff)
                backoff = min(backoff * 2, self._max_backoff)
                continue
            backoff = 0.2
            self.health.connected, self.health.last_error = True, None
            period = 0.0
            if self.is_file:
                fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
                period = 1.0 / fps if fps > 0 else 0.04
            next_at = time.monotonic()
            while not self._stop.is_set():
                ok, bgr = cap.read()
                if not ok or bgr is None:
                    if self.is_file and self.loop and self.health.frames:
                        cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
                        continue
                    if self.is_file and not self.loop:  # a normal end, said once
                        log.info("camera %s: source ended after %d frames", self.camera_id,
                                 self.health.frames)
                        self.health.last_error = SOURCE_ENDED
                        self.ended = True
                        break
                    self._lost(f"{self.source!r} stopped delivering frames")
                    self.health.reconnects += 1
                    break
                self._publish(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB) if self.rgb else bgr)
                if period:
                    next_at += period
                    self._stop.wait(max(0.0, next_at - time.monotonic()))
            cap.release()
            if self.is_file and not self.loop:
                break
        self.health.connected = False

    def _publish(self, rgb: Image) -> None:
        now = time.monotonic()
        self._stamps.append(now)
        if len(self._stamps) > 1:
            self.health.fps = (len(self._stamps) - 1) / (self._stamps[-1] - self._stamps[0])
        self.health.frames += 1
        self.health.last_frame_mono = now
        with self._cond:
            self._frame, self._seq = rgb, self._seq + 1
            self._cond.notify_all()

    def _lost(self, reason: str) -> None:
        if self.health.connected or self.health.last_error != reason:
            log.warning("camera %s: %s", self.camera_id, reason)
        self.health.connected = False
        self.health.last_error = reason
