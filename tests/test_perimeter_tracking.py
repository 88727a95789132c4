"""ByteTrack wrapping: stable ids, merged vehicle classes, bounded memory (no model needed)."""

from __future__ import annotations

import numpy as np

from gate.perimeter.detector import Detections
from gate.perimeter.tracking import Tracker


def dets(*objs: tuple[float, float, float, float, int]) -> Detections:
    if not objs:
        return Detections.empty()
    arr = np.array(objs, dtype=np.float32)
    return Detections(arr[:, :4], np.full(len(objs), 0.9, np.float32), arr[:, 4].astype(np.int64))


def test_a_walking_person_and_a_car_keep_their_ids() -> None:
    tracker = Tracker(fps=5, lost_seconds=2)
    ids: dict[str, set[int]] = {"person": set(), "vehicle": set()}
    for i in range(20):
        car_class = (2, 7, 5)[i % 3]  # seen from above a car flips between car, truck and bus
        tracks = tracker.update(dets((100 + 4 * i, 200, 130 + 4 * i, 280, 0),
                                     (110 + 6 * i, 210, 210 + 6 * i, 270, car_class)))
        for t in tracks:
            ids[t.kind].add(t.id)
    assert len(ids["person"]) == 1 and len(ids["vehicle"]) == 1
    assert ids["person"] != ids["vehicle"]
    person = next(t for t in tracks if t.kind == "person")
    assert person.foot == (100 + 4 * 19 + 15, 280)


def test_the_tracker_forgets_tracks_that_ended() -> None:
    tracker = Tracker(fps=5, lost_seconds=1)
    for i in range(10):
        tracker.update(dets((100 + 5 * i, 200, 130 + 5 * i, 280, 0)))
    assert tracker._kinds
    for _ in range(200):
        assert tracker.update(dets()) == []
    assert tracker._kinds == {}
