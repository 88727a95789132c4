"""Plate reading on 720p frames: our located-and-warped path against PP-OCR on the whole frame,
the same models in the same run, on generated GA 36 plates (a quarter at night)."""

from __future__ import annotations

import statistics
import time

import cv2

from gate.bench import Figure
from gate.bench.plates_data import plate_set
from recognition.plate_formats import validate
from recognition.plates import PlateReader


def run(quick: bool) -> list[Figure]:
    reader = PlateReader("cn", fallback=False)
    frames = [(spec, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
              for spec, rgb in plate_set(20 if quick else 100)]
    reader.read(frames[0][1])  # warm-up: onnxruntime sessions
    ours_ms, plain_ms, ours_ok, plain_ok = [], [], 0, 0
    for spec, bgr in frames:
        start = time.perf_counter()
        reads = reader.read(bgr)
        ours_ms.append((time.perf_counter() - start) * 1000)
        ours_ok += bool(reads) and reads[0].text == spec.text
        start = time.perf_counter()
        whole = reader.ocr_frame(bgr)
        plain_ms.append((time.perf_counter() - start) * 1000)
        texts = {p.text for p in (validate(t, "cn") for t, _s, _q in whole) if p}
        plain_ok += spec.text in texts
    n = len(frames)
    return [Figure("plates.frame_720p_ms", statistics.median(ours_ms), "ms",
                   statistics.median(plain_ms)),
            Figure("plates.exact_accuracy_pct", 100.0 * ours_ok / n, "%", 100.0 * plain_ok / n)]
