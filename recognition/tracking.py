"""Face tracks across frames: each face is encoded once per track, not once per frame.

A greedy IoU tracker is enough at a gate (people walk toward a fixed camera,
a few at a time). The track's template is the quality-weighted mean of its
encodings, so its identity is decided over several frames, not from one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from recognition.face_engine import Box, Vectors


def iou(a: Box, b: Box) -> float:
    top, right = max(a[0], b[0]), min(a[1], b[1])
    bottom, left = min(a[2], b[2]), max(a[3], b[3])
    inter = max(0, bottom - top) * max(0, right - left)
    area_a = (a[2] - a[0]) * (a[1] - a[3])
    area_b = (b[2] - b[0]) * (b[1] - b[3])
    union = area_a + area_b - inter
    return inter / union if union > 0 else 0.0


@dataclass
class Track:
    id: int
    box: Box
    first_seen: float
    last_seen: float
    frames: int = 1
    encodings: int = 0
    last_encoded_frame: int = -1
    best_weight: float = 0.0
    _sum: Vectors | None = field(default=None, repr=False)
    _weights: float = 0.0

    def add_encoding(self, encoding: Vectors, weight: float) -> None:
        vec = np.asarray(encoding, dtype=np.float32) * weight
        self._sum = vec if self._sum is None else self._sum + vec
        self._weights += weight
        self.encodings += 1
        self.best_weight = max(self.best_weight, weight)

    @property
    def template(self) -> Vectors | None:
        if self._sum is None:
            return None
        return (self._sum / self._weights).astype(np.float32)


class Tracker:
    def __init__(self, iou_match: float = 0.3, max_age_s: float = 1.0) -> None:
        self.iou_match = iou_match
        self.max_age_s = max_age_s
        self.tracks: dict[int, Track] = {}
        self._next = 1

    def update(self, boxes: list[Box], ts: float) -> list[Track]:
        """Assign each detection to a track (creating new ones); returns them in box order."""
        for tid in [t.id for t in self.tracks.values() if ts - t.last_seen > self.max_age_s]:
            del self.tracks[tid]
        pairs = sorted(((iou(t.box, b), t.id, i) for t in self.tracks.values()
                        for i, b in enumerate(boxes)), reverse=True)
        assigned: dict[int, Track] = {}
        used: set[int] = set()
        for score, tid, i in pairs:
            if score < self.iou_match:
                break
            if i in assigned or tid in used:
                continue
            track = self.tracks[tid]
            track.box, track.last_seen = boxes[i], ts
            track.frames += 1
            assigned[i] = track
            used.add(tid)
        for i, box in enumerate(boxes):
            if i not in assigned:
                track = Track(id=self._next, box=box, first_seen=ts, last_seen=ts)
                self._next += 1
                self.tracks[track.id] = track
                assigned[i] = track
        return [assigned[i] for i in range(len(boxes))]
