"""ByteTrack wrapping: stable ids, merged vehicle classes, bounded memory (no model needed)."""

from __future__ import annotations

import numpy as np

from gate.perimeter.detector import Detections
from gate.perimeter.tracking import Tracker


def dets(*objs: tuple[float, float, float, float, int], score: float = 0.9) -> Detections:
    if not objs:
        return Detections.empty()
    arr = np.array(objs, dtype=np.float32)
    return Detections(arr[:, :4], np.full(len(objs), score, np.float32),
                      arr[:, 4].astype(np.int64))


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


def jittered_walk(frames: int, seed: int) -> list[tuple[float, float, float, float, int]]:
    """A person 30 px tall, far away, walking 5 px a frame at 5 fps; the detector's box edges
    land up to 6 px off (under a stride of its finest grid at model scale 1, 8 px)."""
    rng = np.random.default_rng(seed)
    boxes = []
    for i in range(frames):
        x1, y1, x2, y2 = 400 + 5 * i, 300.0, 412 + 5 * i, 330.0
        j = rng.uniform(-6, 6, 4)
        boxes.append((x1 + j[0], y1 + j[1], x2 + j[2], y2 + j[3], 0))
    return boxes


def test_a_margin_of_two_strides_keeps_a_small_jittery_person_on_one_track() -> None:
    """Without the margin, ByteTrack's score-weighted overlap test (a new track needs 3 frames
    in a row) fails on most frames of a 12x30 px box: the person is never followed, or is
    followed in pieces. With the default margin at model scale 1 (2 strides of 8 px, as the
    pipeline computes it) one track."""
    for seed in range(5):
        walk = jittered_walk(25, seed)
        plain, margined = Tracker(fps=5), Tracker(fps=5)
        plain_ids: list[int] = []
        margin_ids: list[int] = []
        for box in walk:
            plain_ids += [t.id for t in plain.update(dets(box, score=0.6))]
            tracks = margined.update(dets(box, score=0.6), margin=16.0)
            margin_ids += [t.id for t in tracks]
            for t in tracks:  # the reported box is the detector's, not the grown one
                assert t.box == tuple(float(np.float32(v)) for v in box[:4])
        assert len(set(margin_ids)) == 1 and len(margin_ids) >= 20, (seed, margin_ids)
        assert len(plain_ids) < len(margin_ids), (seed, plain_ids)
