"""``faces.enrol_photo_ms``: one enrolment photo through the supervised photo worker (what the
console, the desk and the watch-list inbox now do) against the same job in the asking process
(what they did before the safety core moved it out): the price of the process boundary."""

from __future__ import annotations

import statistics

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
    return [Figure("faces.enrol_photo_ms", ours, "ms", plain)]
