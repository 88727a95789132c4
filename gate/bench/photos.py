"""``faces.enrol_photo_ms``: one enrolment photo through the supervised photo worker (what the
console, the desk and the watch-list inbox now do) against the same job in the asking process
(what they did before the safety core moved it out): the price of the process boundary.

``faces.photo_worker_start_ms``: a photo worker started (or restarted after a crash) until it
is ready, forked from the fork server that has face_recognition loaded
(recognition/processes.py), against a worker spawned from a fresh interpreter."""

from __future__ import annotations

import multiprocessing as mp
import statistics
import time
from multiprocessing.context import SpawnContext

from gate.bench import Figure, timings_ms
from gate.bench.scenes import FACES
from gate.photo_workers import PhotoWorkers
from recognition.enrol import EnrolmentQuality
from recognition.face_engine import DlibFaceEngine
from recognition.photo_jobs import InProcess


def run(quick: bool) -> list[Figure]:
    photo = (FACES / "obama.jpg").read_bytes()
    quality = EnrolmentQuality()
    repeat = 3 if quick else 10
    local = InProcess(DlibFaceEngine(jitters=5))
    plain = statistics.median(timings_ms(lambda: local.enrol(photo, quality), repeat))
    workers = PhotoWorkers(1, jitters=5)
    workers.start()
    try:
        ours = statistics.median(timings_ms(lambda: workers.enrol(photo, quality), repeat))
    finally:
        workers.close()
    spawned = _start_ms(mp.get_context("spawn"), 2 if quick else 5)
    forked = _start_ms(None, 3 if quick else 10)  # the fork server is up: enrolment used it
    return [Figure("faces.enrol_photo_ms", ours, "ms", plain),
            Figure("faces.photo_worker_start_ms", forked, "ms", spawned)]


def _start_ms(context: SpawnContext | None, repeat: int) -> float:
    """Median time from a new worker to its "ready" (its models loaded)."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        workers = PhotoWorkers(1, context=context)
        workers.start()
        workers.wait_ready()
        times.append((time.perf_counter() - start) * 1000)
        workers.close()
    return statistics.median(times)
