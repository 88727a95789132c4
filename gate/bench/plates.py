"""Plate reading: speed on 720p frames, our path against PP-OCR on the whole frame (the same
models in the same run, generated GA 36 plates, a quarter at night); accuracy only on real
photos (the development sets, when present), never on generated plates alone."""

from __future__ import annotations

import statistics
import time

import cv2

from gate.bench import Figure
from gate.bench.plates_data import plate_set
from recognition.plates import PlateReader


def _speed(reader: PlateReader, quick: bool) -> list[Figure]:
    frames = [cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR) for _spec, rgb in
              plate_set(20 if quick else 100)]
    reader.read(frames[0])  # warm-up: onnxruntime sessions
    ours_ms, plain_ms = [], []
    for bgr in frames:
        start = time.perf_counter()
        reader.read(bgr)
        ours_ms.append((time.perf_counter() - start) * 1000)
        start = time.perf_counter()
        reader.ocr_frame(bgr)
        plain_ms.append((time.perf_counter() - start) * 1000)
    return [Figure("plates.frame_720p_ms", statistics.median(ours_ms), "ms",
                   statistics.median(plain_ms))]


def real_accuracy(quick: bool) -> list[Figure]:
    """Exact reads on the development scenes, against whole-frame PP-OCR on the same images;
    and the mean time per real image against it."""
    from gate.bench.devdata import dev_set
    from gate.evaluate_plates import run

    figures = []
    for region in ("cn", "generic"):
        folder = dev_set(f"plates/{region}")
        if folder is None:
            continue
        rows, summary = run(folder, region, baseline=True,
                            sample=6 if quick else None)
        base = summary["baseline"]
        figures.append(Figure(f"plates.real_{region}_exact_pct", 100.0 * summary["exact"], "%",
                              100.0 * base["exact"]))
        mean_ms = statistics.fmean(r.ms for r in rows if r.error is None)
        figures.append(Figure(f"plates.real_{region}_ms_per_image", mean_ms, "ms",
                              base["ms_mean"]))
    return figures


def run(quick: bool) -> list[Figure]:
    reader = PlateReader("cn")
    return _speed(reader, quick) + real_accuracy(quick)
