"""Multi-object tracking with supervision's ByteTrack: one tracker for people and one for
vehicles and two-wheelers (their COCO labels flip between car, bus and truck; a track keeps the
kind it was given most often). Track ids are unique within the worker process."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import supervision as sv

from gate.perimeter.alerts import ObjectKind
from gate.perimeter.detector import KINDS, Detections


def grown(boxes: npt.NDArray[np.float32], margin: float) -> npt.NDArray[np.float32]:
    """Boxes (x1, y1, x2, y2) with ``margin`` px added on every side."""
    return boxes + np.array([-margin, -margin, margin, margin], np.float32)


@dataclass
class Track:
    id: int
    box: tuple[float, float, float, float]
    score: float
    kinds: Counter[ObjectKind] = field(default_factory=Counter)

    @property
    def kind(self) -> ObjectKind:
        return self.kinds.most_common(1)[0][0]

    @property
    def foot(self) -> tuple[float, float]:
        """Where the object touches the ground: bottom centre of its box."""
        x1, _y1, x2, y2 = self.box
        return ((x1 + x2) / 2, y2)


class Tracker:
    """``fps`` is the analysed frame rate; a track missing for ``lost_seconds`` ends."""

    def __init__(self, fps: float, lost_seconds: float = 3.0, activation: float = 0.3) -> None:
        buffer = max(1, round(lost_seconds * fps))
        # ByteTrack keeps a lost track for frame_rate / 30 * lost_track_buffer frames.
        self._trackers = {
            group: sv.ByteTrack(track_activation_threshold=activation, lost_track_buffer=buffer,
                                minimum_matching_threshold=0.8, frame_rate=30,
                                minimum_consecutive_frames=2)
            for group in ("person", "vehicle")}
        self._kinds: dict[int, Counter[ObjectKind]] = {}
        self._updates = 0

    def update(self, dets: Detections, margin: float = 0.0) -> list[Track]:
        """The tracks confirmed in this frame; call with empty detections on frames the motion
        gate skipped, so lost tracks age. ``margin`` px grow every box on each side for the
        matching only: the tracks carry the detector's own boxes."""
        out: list[Track] = []
        self._updates += 1
        if self._updates % 100 == 0:
            self._prune()
        is_person = dets.classes == 0
        for group, sel in (("person", is_person), ("vehicle", ~is_person)):
            part = dets.select(sel)
            boxes = part.boxes.astype(np.float32).reshape(-1, 4)
            tracked = self._trackers[group].update_with_detections(sv.Detections(
                xyxy=grown(boxes, margin),
                confidence=part.scores.astype(np.float32),
                class_id=part.classes.astype(int), data={"index": np.arange(len(boxes))}))
            if tracked.tracker_id is None or len(tracked) == 0:
                continue
            for index, score, cls, tid in zip(tracked.data["index"], tracked.confidence,
                                              tracked.class_id, tracked.tracker_id, strict=True):
                kinds = self._kinds.setdefault(int(tid), Counter())
                kinds[KINDS[int(cls)]] += 1
                x1, y1, x2, y2 = (float(v) for v in boxes[int(index)])
                out.append(Track(int(tid), (x1, y1, x2, y2), float(score), kinds))
        return out

    def _prune(self) -> None:
        """Drop the kind counts of tracks ByteTrack no longer holds (it never tells)."""
        alive = {int(t.external_track_id) for bt in self._trackers.values()
                 for t in [*bt.tracked_tracks, *bt.lost_tracks]}
        self._kinds = {k: v for k, v in self._kinds.items() if k in alive}
