"""Liveness cost per face: both MiniFASNet models, crop and resize included.

There is no plain way to compare with, so the figure has no baseline; what matters is that it
is paid a few times per face track in the recognition worker, never at the card tap.
"""

from __future__ import annotations

import statistics

from gate.bench import Figure, timings_ms
from gate.bench.scenes import photo
from recognition.face_engine import DlibFaceEngine
from recognition.liveness import LivenessChecker


def run(quick: bool) -> list[Figure]:
    rgb = photo("obama-720p.jpg")  # a 720p gate-camera frame with one face
    boxes = DlibFaceEngine().detect(rgb)
    if len(boxes) != 1:
        raise RuntimeError(f"expected one face in obama-720p.jpg, found {len(boxes)}")
    checker = LivenessChecker(threads=1)
    times = timings_ms(lambda: checker.score(rgb, boxes[0]), repeat=30 if quick else 100,
                       warmup=3)
    return [Figure("faces.liveness_ms", statistics.median(times), "ms")]
