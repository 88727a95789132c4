"""One perimeter camera's frames -> motion gate -> detector -> tracker -> zone rules -> alerts.

The same object runs in the service worker (live camera, wall clock) and in
``gate perimeter analyse`` (a video file, its own timeline), so what an installer tunes on
recorded footage is what runs at the gate.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass

from gate.config import CalendarConfig, PerimeterConfig, ZoneConfig
from gate.perimeter import drawing, tiles
from gate.perimeter.alerts import PerimeterAlert, TrackSummary
from gate.perimeter.detector import FINEST_STRIDE, Detections, Detector, concat, suppress
from gate.perimeter.rules import Sighting, ZoneRules
from gate.perimeter.tracking import Track, Tracker
from recognition.motion import DetectionGate, MotionGate

MOVED = 0.5  # a track has moved once its feet travelled half its height


@dataclass(frozen=True)
class FrameResult:
    alerts: list[PerimeterAlert]
    finished: list[TrackSummary]
    tracks: list[Track]
    detected: bool  # False: the motion gate skipped the detector on this frame


class PerimeterPipeline:
    def __init__(self, camera: str, zones: Sequence[ZoneConfig], settings: PerimeterConfig,
                 calendar: CalendarConfig | None = None, *, fps: float | None = None,
                 ignore_schedule: bool = False, detector: Detector | None = None) -> None:
        self.camera = camera
        self.zones = list(zones)
        self.settings = settings
        self.fps = fps or settings.fps
        self.detector = detector or Detector(settings.input_size)
        self.gate = (DetectionGate(settings.idle_detect_seconds,
                                   MotionGate(settings.motion_fraction))
                     if settings.motion_gating else None)
        self.motion = self.gate.motion if self.gate is not None else None
        # zoomed crops need the motion gate's regions; a second session at the tile's size
        self.tile_detector = (Detector((settings.tile_size, settings.tile_size))
                              if settings.tiles_per_frame and self.motion is not None else None)
        self.tiles = 0
        self.tracker = Tracker(self.fps, settings.track_lost_seconds, settings.min_confidence)
        self.rules = ZoneRules(camera, zones, settings, calendar, ignore_schedule)
        self.frames = 0
        self.detections = 0
        self.last_tracks: list[Track] = []
        self._origin: dict[int, tuple[float, float]] = {}
        self._moved: set[int] = set()

    def process(self, frame: drawing.Frame, now: dt.datetime) -> FrameResult:
        """Analyse one BGR frame taken at ``now``."""
        self.frames += 1
        # Keep detecting while a track that came moving is remembered: a loiterer standing
        # still makes no motion and is exactly who must not be lost. Objects that never moved
        # (parked cars, a post the model takes for a person) do not keep the detector awake.
        run, moving = True, True
        if self.gate is not None:
            run = self.gate.needed(frame, bool(self._moved & self.rules.track_ids()),
                                   now.timestamp())
            moving = self.gate.moving
        if run:
            dets = self._detect(frame, moving)
            self.detections += 1
        else:
            dets = Detections.empty()
        # A stride of the detector's finest grid, in frame pixels: how far apart two boxes of
        # one small person may land from one frame to the next (README "Tracking small people").
        stride_px = FINEST_STRIDE / self.detector.scale_for(*frame.shape[:2])
        tracks = self.tracker.update(dets, self.settings.track_margin_strides * stride_px)
        self.last_tracks = tracks
        alerts, finished = self.rules.observe(
            now, [Sighting(t.id, t.kind, t.foot) for t in tracks])
        for t in tracks:
            origin = self._origin.setdefault(t.id, t.foot)
            if math.dist(origin, t.foot) > MOVED * (t.box[3] - t.box[1]):
                self._moved.add(t.id)
        for f in finished:
            self._origin.pop(f.track, None)
            self._moved.discard(f.track)
        boxes = {t.id: t for t in tracks}
        return FrameResult([self._evidence(a, frame, boxes) for a in alerts], finished, tracks,
                           run)

    def _detect(self, frame: drawing.Frame, moving: bool) -> Detections:
        """The full view, plus zoomed crops around small moving regions (gate.perimeter.tiles)
        when something moved."""
        found = self.detector.candidates(frame, min_score=0.1)
        if self.tile_detector is not None and self.motion is not None and moving:
            h, w = frame.shape[:2]
            plan = tiles.plan_tiles(self.motion.regions(), w, h, self.settings.tile_size,
                                    self.detector.scale_for(h, w),
                                    self.settings.tiles_per_frame)
            if plan:
                self.tiles += len(plan)
                found = concat([found, tiles.detect_tiles(self.tile_detector, frame, plan)])
        return suppress(found)

    def finish(self, now: dt.datetime, frame: drawing.Frame | None) -> FrameResult:
        """End of the footage: close every track (final alert revisions, track summaries)."""
        alerts, finished = self.rules.finish(now)
        if frame is not None:
            alerts = [self._evidence(a, frame, {}) for a in alerts]
        return FrameResult(alerts, finished, [], False)

    def view_jpeg(self, frame: drawing.Frame) -> bytes:
        """The live view for the console: zones, live tracks with their paths and ids."""
        img = frame.copy()
        for zone in self.zones:
            drawing.draw_zone(img, zone.polygon, zone.id)
        paths = self.rules.paths()
        for t in self.last_tracks:
            drawing.draw_path(img, paths.get(t.id, ("person", []))[1], drawing.TRACK_COLOUR)
            drawing.draw_box(img, t.box, f"{t.kind} {t.id}")
        return drawing.encode(img)

    def _evidence(self, alert: PerimeterAlert, frame: drawing.Frame,
                  boxes: dict[int, Track]) -> PerimeterAlert:
        zones = [(z.id, z.polygon) for z in self.zones if z.id == alert.zone]
        track = boxes.get(alert.track) if alert.track is not None else None
        label = f"{alert.type} {alert.object or ''} {alert.track or ''}".strip()
        jpeg = drawing.snapshot(frame, zones, alert.path, track.box if track else None, label)
        return dataclasses.replace(alert, snapshot_jpeg=jpeg)
