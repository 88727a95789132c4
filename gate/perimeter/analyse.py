"""Offline analysis of a video file with one camera's zones and rules: the tuning tool.

Frames are sampled at the configured perimeter rate on the video's own timeline (frame index
over its frame rate), so results do not depend on how fast this machine is.
"""

from __future__ import annotations

import datetime as dt
import gzip
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import cv2

from gate.config import CalendarConfig, PerimeterConfig, ZoneConfig
from gate.perimeter.alerts import PerimeterAlert, TrackSummary
from gate.perimeter.pipeline import PerimeterPipeline

# A video without a wall time gets this one; it only matters with schedules switched on.
EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)


class VideoError(ValueError):
    """The file cannot be read as video."""


@dataclass(frozen=True)
class AnalyseResult:
    alerts: list[PerimeterAlert]
    tracks: list[TrackSummary]
    frames: int  # frames analysed (sampled)
    detected: int  # frames the motion gate sent to the detector
    duration_s: float


@contextmanager
def open_video(path: Path) -> Iterator[cv2.VideoCapture]:
    """OpenCV cannot read ``.gz`` (Debian compresses some example files): unpack to a temp file."""
    with tempfile.TemporaryDirectory() as tmp:
        source = path
        if path.suffix == ".gz":
            source = Path(tmp) / path.stem
            with gzip.open(path, "rb") as src, source.open("wb") as dst:
                shutil.copyfileobj(src, dst)
        cap = cv2.VideoCapture(str(source))
        try:
            if not cap.isOpened():
                raise VideoError(f"{path}: cannot open as video")
            yield cap
        finally:
            cap.release()


def analyse(path: Path, camera: str, zones: list[ZoneConfig], settings: PerimeterConfig,
            calendar: CalendarConfig | None = None, start: dt.datetime | None = None,
            fps: float | None = None, pipeline: PerimeterPipeline | None = None,
            ) -> Iterator[PerimeterAlert | TrackSummary]:
    """Yields alerts and finished tracks in the order they happen. Without ``start`` the time
    conditions (school hours, school-run and armed windows) are off and every rule runs."""
    rate = fps or settings.fps
    pipe = pipeline or PerimeterPipeline(camera, zones, settings, calendar, fps=rate,
                                         ignore_schedule=start is None)
    t0 = start or EPOCH
    with open_video(path) as cap:
        video_fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
        index, next_t, last = 0, 0.0, None
        while True:
            ok, frame = cap.read()
            if not ok or frame is None:
                break
            t = index / video_fps
            index += 1
            if t + 1e-6 < next_t:
                continue
            next_t += 1.0 / rate
            last = frame
            result = pipe.process(frame, t0 + dt.timedelta(seconds=t))
            yield from result.alerts
            yield from result.finished
        end = pipe.finish(t0 + dt.timedelta(seconds=max(0, index - 1) / video_fps), last)
        yield from end.alerts
        yield from end.finished


def analyse_all(path: Path, camera: str, zones: list[ZoneConfig], settings: PerimeterConfig,
                calendar: CalendarConfig | None = None, start: dt.datetime | None = None,
                fps: float | None = None) -> AnalyseResult:
    pipe = PerimeterPipeline(camera, zones, settings, calendar, fps=fps or settings.fps,
                             ignore_schedule=start is None)
    alerts: list[PerimeterAlert] = []
    tracks: list[TrackSummary] = []
    for item in analyse(path, camera, zones, settings, calendar, start, fps, pipe):
        if isinstance(item, PerimeterAlert):
            alerts.append(item)
        else:
            tracks.append(item)
    return AnalyseResult(alerts, tracks, pipe.frames, pipe.detections,
                         pipe.frames / (fps or settings.fps))
