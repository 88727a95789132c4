"""Perimeter cameras: ms per 1280x720 frame with motion gating against the detector on every
frame, and the smallest person the detector finds at the configured model input.

Footage: OpenCV's vtest.avi from Debian's opencv-doc (people on a campus walkway). Its median
over many frames is an empty background plate, so "empty street" frames are that plate plus
sensor noise, and "busy" frames are the footage itself, both stretched to 1280x720. Without
opencv-doc the figures come from a synthetic street (timing only, no smallest-person figure).
"""

from __future__ import annotations

import datetime as dt
import statistics
import time
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from gate.bench import Figure
from gate.config import PerimeterConfig
from gate.perimeter.analyse import open_video
from gate.perimeter.detector import Detector
from gate.perimeter.drawing import Frame
from gate.perimeter.pipeline import PerimeterPipeline

VTEST = (Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi"),
         Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi.gz"))
SIZE = (1280, 720)
HEIGHTS = (20, 25, 30, 35, 40, 50, 60, 80)


def find_vtest() -> Path | None:
    return next((p for p in VTEST if p.exists()), None)


def read_frames(path: Path, every: int, limit: int) -> list[Frame]:
    frames: list[Frame] = []
    with open_video(path) as cap:
        i = 0
        while len(frames) < limit:
            ok, frame = cap.read()
            if not ok:
                break
            if i % every == 0:
                frames.append(frame)
            i += 1
    return frames


def _scene(quick: bool) -> tuple[list[Frame], list[Frame], list[Frame]]:
    """(empty street frames, busy frames, native footage frames) at 1280x720."""
    rng = np.random.default_rng(7)
    n_busy = 15 if quick else 40
    path = find_vtest()
    if path is not None:
        native = read_frames(path, every=8, limit=100)
        plate = np.median(np.stack(native[::2]), axis=0).astype(np.uint8)
        busy = [cv2.resize(f, SIZE) for f in native[:n_busy]]
    else:
        native = []
        y, x = np.mgrid[0:SIZE[1], 0:SIZE[0]]
        plate = np.dstack([(x * 0.1 + y * 0.2) % 255] * 3).astype(np.uint8)
        busy = []
        for i in range(n_busy):
            f = plate.copy()
            cv2.rectangle(f, (100 + 20 * i, 300), (140 + 20 * i, 420), (30, 30, 30), -1)
            busy.append(f)
    plate = cv2.resize(plate, SIZE)
    empty = [cv2.add(plate, rng.integers(0, 4, plate.shape, dtype=np.uint8))
             for _ in range(3 * n_busy)]
    return empty, busy, native


def _ms_per_frame(pipes: list[PerimeterPipeline], frames: list[Frame]) -> list[list[float]]:
    """Each frame through each pipeline in turn, so both see the same machine load."""
    t0 = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)
    out: list[list[float]] = [[] for _ in pipes]
    for i, frame in enumerate(frames):
        for pipe, times in zip(pipes, out, strict=True):
            start = time.perf_counter()
            pipe.process(frame, t0 + dt.timedelta(seconds=i / pipe.fps))
            times.append((time.perf_counter() - start) * 1000)
    return out


def _recall(detector: Detector, samples: list[tuple[Frame, npt.NDArray[np.float32]]],
            plate: Frame, height: int, median: float) -> float:
    hit = total = 0
    scale = height / median
    for frame, ref in samples:
        small = cv2.resize(frame, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        canvas = plate.copy()
        h, w = min(SIZE[1], small.shape[0]), min(SIZE[0], small.shape[1])
        canvas[:h, :w] = small[:h, :w]
        boxes = ref * scale
        boxes = boxes[(boxes[:, 2] <= w) & (boxes[:, 3] <= h)]
        dets = detector.detect(canvas, min_score=0.3)
        found = dets.boxes[dets.classes == 0]
        total += len(boxes)
        for box in boxes:
            if len(found) and _iou(box, found).max() >= 0.3:
                hit += 1
    return hit / max(total, 1)


def _iou(box: npt.NDArray[np.float32], boxes: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
    x1 = np.maximum(box[0], boxes[:, 0])
    y1 = np.maximum(box[1], boxes[:, 1])
    x2 = np.minimum(box[2], boxes[:, 2])
    y2 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return np.asarray(inter / (area + areas - inter + 1e-9), dtype=np.float64)


def smallest_person(detector: Detector, native: list[Frame], plate: Frame,
                    quick: bool) -> tuple[int | None, dict[int, float]]:
    """The smallest person height (px in a 1280x720 frame) found with recall >= 50 %.

    Reference people: the detector's own confident (>= 0.5) people at the footage's native
    size, 40 px or taller; each frame is shrunk so the median reference person is H px tall
    and pasted on the empty background plate. An upper bound: no human labels.
    """
    ref_detector = Detector((768, 576))
    samples = []
    for frame in native[:: 8 if quick else 4][:12]:
        dets = ref_detector.detect(frame, min_score=0.5)
        people = dets.boxes[(dets.classes == 0) & (dets.boxes[:, 3] - dets.boxes[:, 1] >= 40)]
        if len(people):
            samples.append((frame, people))
    median = float(np.median(np.concatenate([b[:, 3] - b[:, 1] for _, b in samples])))
    recall = {h: _recall(detector, samples, plate, h, median) for h in HEIGHTS}
    found = [h for h in HEIGHTS if recall[h] >= 0.5]
    return (min(found) if found else None), recall


def run(quick: bool) -> list[Figure]:
    settings = PerimeterConfig()
    detector = Detector(settings.input_size)
    empty, busy, native = _scene(quick)
    detector.detect(busy[0])  # warm-up
    # a quiet street: empty for three frames in four, then people walk through
    sequence = empty + busy
    gated = PerimeterPipeline("bench", [], settings, detector=detector, ignore_schedule=True)
    plain = PerimeterPipeline("bench", [], settings.model_copy(update={"motion_gating": False}),
                              detector=detector, ignore_schedule=True)
    gated_ms, plain_ms = _ms_per_frame([gated, plain], sequence)
    n_empty = len(empty)
    figures = [
        Figure("perimeter.frame_ms", statistics.fmean(gated_ms), "ms",
               statistics.fmean(plain_ms)),
        Figure("perimeter.empty_frame_ms", statistics.median(gated_ms[n_empty // 2:n_empty]),
               "ms", statistics.median(plain_ms[n_empty // 2:n_empty])),
        Figure("perimeter.busy_frame_ms", statistics.median(gated_ms[n_empty:]), "ms",
               statistics.median(plain_ms[n_empty:])),
    ]
    if native:
        plate = empty[0]
        ours, _ = smallest_person(detector, native, plate, quick)
        base, _ = smallest_person(Detector((416, 416)), native, plate, quick)
        if ours is not None:
            figures.append(Figure("perimeter.smallest_person_px", float(ours), "px",
                                  None if base is None else float(base)))
    return figures
