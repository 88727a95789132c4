"""Photo jobs: what the photo worker process does with an uploaded or imported photo.

An enrolment photo, a visitor's desk photo or a watch-list photo comes from outside: a
phone, a roster folder, the police. Decoding it (OpenCV) and running dlib on it are the
least trusted work the gate does, and dlib is not safe to call from several threads at
once. So every such photo is handled here, one job at a time, in a process of its own
(``serve``), and only plain data goes back: an encoding, a quality report, a capped JPEG,
or the reason the photo cannot be used. The gate's side of the pipe is
``gate/photo_workers.py``; docs/ARCHITECTURE.md ("The safety core and its workers") says
what runs where.
"""

from __future__ import annotations

import contextlib
import logging
import os
import resource
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Protocol

from recognition.enrol import Enrolment, EnrolmentQuality, enrol_photo
from recognition.face_engine import FaceEngine
from recognition.images import ImageError, decode_rgb
from recognition.procname import name_process

log = logging.getLogger("recognition.photo_jobs")

# A worker that a crafted photo drives past this much address space fails that one job with
# MemoryError instead of taking the gate computer's memory (dlib and its models need ~1 GiB).
ADDRESS_SPACE_LIMIT = 6 * 1024**3
WORKER_NICENESS = 10  # below the gate process (0): the scheduler serves the safety core first


class PhotoRejected(ValueError):
    """This photo cannot be used (not an image, no face, a weak template): the message says
    why, in words an admin or a guard can act on."""


@dataclass(frozen=True)
class EnrolPhoto:
    """Assess one face photo and, unless rejected, encode its face (enrolment, visitors and
    watch lists all keep templates of this grade)."""

    photo: bytes
    quality: EnrolmentQuality
    name: str = "photo"


@dataclass(frozen=True)
class CapPhoto:
    """Re-encode an uploaded photo as a JPEG within the evidence limits (the visitor's
    badge photo): what is stored is then our own JPEG, never the uploaded bytes."""

    photo: bytes
    max_width: int
    quality: int
    max_bytes: int
    name: str = "photo"


PhotoJob = EnrolPhoto | CapPhoto


class PhotoEncoder(Protocol):
    """Where enrolment-grade work runs: ``gate.photo_workers.PhotoWorkers`` (a supervised
    process, what the gate uses) or ``InProcess`` (tools and tests that own their process)."""

    def enrol(self, photo: bytes, quality: EnrolmentQuality, name: str = "photo") -> Enrolment:
        ...

    def cap_jpeg(self, job: CapPhoto) -> bytes:
        ...


class InProcess:
    """The jobs run in the calling process, on an engine it owns (the worker itself uses this,
    as do command-line evaluations and tests that measure the models)."""

    def __init__(self, engine: FaceEngine | None = None) -> None:
        self.engine = engine  # None: only photos to re-encode (``cap_jpeg``), no faces

    def enrol(self, photo: bytes, quality: EnrolmentQuality, name: str = "photo") -> Enrolment:
        if self.engine is None:
            raise PhotoRejected(f"{name}: face recognition is off")
        try:
            rgb = decode_rgb(photo, name)
        except ImageError as exc:
            raise PhotoRejected(str(exc)) from None
        return enrol_photo(self.engine, rgb, quality)

    def cap_jpeg(self, job: CapPhoto) -> bytes:
        from recognition.snapshot import jpeg_capped

        try:
            rgb = decode_rgb(job.photo, job.name)
        except ImageError as exc:
            raise PhotoRejected(str(exc)) from None
        jpeg = jpeg_capped(rgb, job.max_width, job.quality, job.max_bytes)
        if jpeg is None:
            raise PhotoRejected(f"{job.name}: cannot be made small enough")
        return jpeg

    def run(self, job: PhotoJob) -> object:
        if isinstance(job, EnrolPhoto):
            return self.enrol(job.photo, job.quality, job.name)
        return self.cap_jpeg(job)


def serve(conn: Connection, jitters: int, index: int = 0) -> None:
    """The worker process: load the models once, say ready, then one job at a time until
    the gate closes its end of the pipe (or dies: the pipe then reads EOF)."""
    name_process(f"gate-photo-{index}")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    with contextlib.suppress(ValueError, OSError):  # a lower hard limit already: keep it
        resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE_LIMIT, ADDRESS_SPACE_LIMIT))
    # A photo job is a console, import or desk request that can wait a moment; the card taps
    # the gate decides meanwhile cannot. With workers at the gate's own priority, ten
    # enrolments on a busy 2-core machine pushed the decision p99 to 110 ms.
    with contextlib.suppress(OSError):
        os.nice(WORKER_NICENESS)
    from recognition.face_engine import DlibFaceEngine

    worker = InProcess(DlibFaceEngine(jitters=jitters))
    conn.send(("ready", os.getpid()))
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        try:
            reply: tuple[str, object] = ("ok", worker.run(job))
        except PhotoRejected as exc:
            reply = ("rejected", str(exc))
        except MemoryError:
            reply = ("rejected", f"{job.name}: too large to decode")
        except Exception as exc:  # a library error on this photo: the next job still runs
            log.exception("photo job failed")
            reply = ("failed", f"{type(exc).__name__}: {exc}")
        try:
            conn.send(reply)
        except (BrokenPipeError, OSError):
            return
