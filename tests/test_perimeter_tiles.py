"""Zoomed crops around small moving regions (gate/perimeter/tiles.py): the plan as plain logic,
the motion gate's regions and the detection gate (recognition/motion.py) on drawn frames, and
the real model finding a small person that the full view misses."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gate.perimeter.detector import Detections, Detector
from gate.perimeter.tiles import Tile, detect_tiles, inner_edge, merge, plan_tiles
from recognition.motion import DetectionGate, MotionGate


def test_a_small_region_gets_a_crop_at_twice_the_full_views_detail() -> None:
    # a 1280x720 frame at a 640-wide model input: the full view halves it; the crop is native
    plan = plan_tiles([(600, 300, 615, 340)], 1280, 720, tile_px=320, full_zoom=0.5, limit=3)
    assert len(plan) == 1
    t = plan[0]
    assert t.zoom == pytest.approx(1.0)
    assert (t.x2 - t.x1, t.y2 - t.y1) == (320, 320)
    assert t.contains((600, 300, 615, 340))
    # a 640x360 frame the model already sees 1:1: the crop is enlarged twice
    t = plan_tiles([(300, 100, 312, 130)], 640, 360, 320, 1.0, 3)[0]
    assert t.zoom == pytest.approx(2.0)


def test_regions_too_big_to_gain_are_left_to_the_full_view() -> None:
    assert plan_tiles([(100, 100, 400, 500)], 1280, 720, 320, 0.5, 3) == []


def test_crops_stay_inside_the_frame_and_are_capped() -> None:
    regions = [(0, 0, 10, 20), (1270, 700, 1280, 720), (600, 300, 610, 320),
               (100, 500, 110, 520)]
    plan = plan_tiles(regions, 1280, 720, 320, 0.5, limit=3)
    assert len(plan) == 3
    for t in plan:
        assert 0 <= t.x1 < t.x2 <= 1280 and 0 <= t.y1 < t.y2 <= 720
    assert plan[0].x1 == 0 and plan[0].y1 == 0
    assert (plan[1].x2, plan[1].y2) == (1280, 720)


def test_a_region_inside_a_planned_crop_gets_no_second_one() -> None:
    plan = plan_tiles([(600, 300, 615, 340), (620, 320, 630, 340)], 1280, 720, 320, 0.5, 3)
    assert len(plan) == 1


def test_boxes_cut_by_an_inner_crop_edge_are_dropped_but_not_at_the_frame_edge() -> None:
    tile = Tile(100, 100, 420, 420, 1.0)
    assert inner_edge((101, 200, 130, 260), tile, 1280, 720)
    assert not inner_edge((150, 200, 180, 260), tile, 1280, 720)
    corner = Tile(0, 0, 320, 320, 1.0)
    assert not inner_edge((0, 0, 30, 60), corner, 1280, 720)
    assert inner_edge((200, 200, 319, 260), corner, 1280, 720)


def test_merge_keeps_the_more_confident_of_two_views_of_one_person() -> None:
    full = Detections(np.array([[100, 100, 120, 150]], np.float32), np.array([0.2], np.float32),
                      np.array([0]))
    zoomed = Detections(np.array([[101, 99, 121, 151], [300, 300, 320, 350]], np.float32),
                        np.array([0.7, 0.5], np.float32), np.array([0, 0]))
    merged = merge(full, zoomed)
    assert len(merged) == 2
    assert sorted(merged.scores.tolist()) == pytest.approx([0.5, 0.7])


def _scene(x: int) -> np.ndarray:
    frame = np.full((360, 640, 3), 90, np.uint8)
    frame[200:230, x:x + 10] = 240  # a small bright figure walking right
    return frame


def test_motion_regions_follow_a_small_moving_figure() -> None:
    gate = MotionGate(fraction=0.0005, warmup=3)
    for _i in range(30):
        gate.moving(_scene(100))  # a still scene to learn
    assert gate.regions() == []
    assert gate.moving(_scene(300))
    regions = gate.regions()  # where it is now, and where it was (the uncovered background)
    here = [r for r in regions if r[0] <= 302 and r[2] >= 308 and r[1] <= 202 and r[3] >= 228]
    assert len(here) == 1, regions
    x1, y1, x2, y2 = here[0]
    assert x2 - x1 < 60 and y2 - y1 < 70  # tight: a crop around it can zoom


@pytest.mark.slow
def test_a_crop_finds_a_small_person_the_full_view_misses() -> None:
    """vtest.avi's people (opencv-doc) shrunk to about 24 px tall in a 1280x720 frame: the
    full 640x384 view finds few of them, the zoomed crops most."""
    import cv2

    vtest = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")
    if not vtest.exists():
        pytest.skip("vtest.avi not installed: apt-get install opencv-doc (./run.sh test does)")
    cap = cv2.VideoCapture(str(vtest))
    frames = []
    for _ in range(101):
        ok, f = cap.read()
        assert ok
        frames.append(f)
    cap.release()
    full_det = Detector((640, 384))
    tile_det = Detector((320, 320))
    frame = frames[100]
    full = full_det.detect(frame)
    people = full.boxes[(full.classes == 0) & (full.scores > 0.5)]
    assert len(people) >= 4  # the reference: confident people at the clip's own size
    small = cv2.resize(frame, None, fx=0.3, fy=0.3, interpolation=cv2.INTER_AREA)
    canvas = np.full((720, 1280, 3), 90, np.uint8)
    h, w = small.shape[:2]
    canvas[300:300 + h, 500:500 + w] = small
    moved = (people * 0.3 + np.array([500, 300, 500, 300], np.float32))
    plain = full_det.detect(canvas)
    plan = plan_tiles([tuple(map(float, b)) for b in moved], 1280, 720, 320,
                      full_det.scale_for(720, 1280), limit=3)
    both = merge(full_det.candidates(canvas), detect_tiles(tile_det, canvas, plan))

    def found(d: Detections) -> int:
        ok = (d.classes == 0) & (d.scores >= 0.3)
        hits = 0
        for b in moved:
            ious = [_iou(b, c) for c in d.boxes[ok]]
            hits += bool(ious) and max(ious) > 0.3
        return hits

    assert found(both) > found(plain)
    assert found(both) >= len(people) // 2


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    x1, y1 = max(a[0], b[0]), max(a[1], b[1])
    x2, y2 = min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, x2 - x1) * max(0.0, y2 - y1)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def test_one_small_person_far_away_wakes_the_detector() -> None:
    """A 24 px figure in a 1280x720 frame changes far less than the default share of the
    frame; it still counts as motion, and sensor noise does not."""
    rng = np.random.default_rng(3)

    def frame(x: int | None) -> np.ndarray:
        f = np.clip(rng.normal(90, 2, (720, 1280, 3)), 0, 255).astype(np.uint8)
        if x is not None:
            f[400:424, x:x + 8] = 230
        return f

    gate = MotionGate()  # the default fraction, 0.2 % of the frame
    for _ in range(30):
        gate.moving(frame(None))
    assert not gate.moving(frame(None))
    assert gate.moving(frame(600))
    assert gate.last_fraction < gate.fraction


def test_a_still_empty_view_is_detected_once_per_interval_and_motion_or_a_track_at_once() -> None:
    """The detection gate of lane and perimeter cameras, on drawn frames with a given clock."""
    gate = DetectionGate(every_s=1.0, motion=MotionGate(warmup=3))
    runs = [gate.needed(_scene(100), tracking=False, now=i * 0.125) for i in range(40)]
    # the motion gate's warm-up (frames 0-2), then once a second after the last run
    assert [i for i, run in enumerate(runs) if run] == [0, 1, 2, 10, 18, 26, 34]
    assert gate.needed(_scene(300), tracking=False, now=5.0)  # something moved: at once
    assert gate.moving
    t = 5.0
    while gate.moving:  # the figure stands still until the background model absorbs it
        t += 0.125
        gate.needed(_scene(300), tracking=False, now=t)
        assert t < 60
    assert gate.needed(_scene(300), tracking=True, now=t + 0.125)  # followed: every frame
    assert not gate.needed(_scene(300), tracking=False, now=t + 0.25)
    assert DetectionGate(every_s=0).needed(_scene(100), tracking=False, now=0.0)
