"""The gate's side of the photo workers: every photo from outside is handled in a
supervised process, never in the safety core.

The safety core (card readers, rules, journal, relays, fire input) must outlive anything
a photo can do to dlib or OpenCV: a segfault, a hang, a decompression bomb. So enrolment
photos (console face library, roster import), visitor desk photos and watch-list photos go
to ``PhotoWorkers``: a fixed set of worker processes (``faces.photo_workers``), each doing
one job at a time (dlib is not thread-safe: two enrolments at once in one process answered
"153 faces found" and then crashed the gate). A job has a size limit before it is sent and
a time limit once it runs; a worker that dies or hangs is replaced at once and the caller
gets ``PhotoWorkerError`` with words to show, never a stopped gate. Only plain data crosses:
the photo's bytes in; an encoding, a quality report, a JPEG or a reason out
(recognition/photo_jobs.py).
"""

from __future__ import annotations

import contextlib
import logging
import queue
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.context import ForkServerContext, SpawnContext
from multiprocessing.process import BaseProcess
from typing import Literal

from recognition.enrol import Enrolment, EnrolmentQuality
from recognition.photo_jobs import CapPhoto, EnrolPhoto, PhotoJob, PhotoRejected, serve
from recognition.processes import worker_context

log = logging.getLogger("gate.photo_workers")

FailureKind = Literal["busy", "crashed", "timeout", "failed"]


class PhotoWorkerError(RuntimeError):
    """The photo could not be processed for a reason that is not the photo's fault (the
    worker died, hung or all workers stayed busy); ``kind`` says which."""

    def __init__(self, kind: FailureKind, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass
class PhotoWorkerHealth:
    jobs: int = 0
    crashes: int = 0
    timeouts: int = 0
    busy: int = 0
    last_error: str | None = None


def _signal_name(exitcode: int | None) -> str:
    if exitcode is None:
        return "no exit code"
    if exitcode < 0:
        with contextlib.suppress(ValueError):
            return signal.Signals(-exitcode).name
    return f"exit status {exitcode}"


class _Slot:
    """One worker process and its pipe; used by one caller at a time (the pool's queue)."""

    def __init__(self, ctx: ForkServerContext | SpawnContext, jitters: int, index: int) -> None:
        self._ctx = ctx
        self._jitters = jitters
        self.index = index
        self.proc: BaseProcess | None = None
        self.conn: Connection | None = None
        self.ready = False

    def spawn(self) -> None:
        parent, child = self._ctx.Pipe()
        proc = self._ctx.Process(target=serve, args=(child, self._jitters, self.index),
                                 name=f"photo-worker-{self.index}", daemon=True)
        proc.start()
        child.close()
        self.proc, self.conn, self.ready = proc, parent, False

    def wait_ready(self, timeout: float) -> None:
        if self.proc is None or self.conn is None or not self.proc.is_alive():
            self.spawn()
        assert self.conn is not None
        if self.ready:
            return
        if not self.conn.poll(timeout):
            raise PhotoWorkerError("timeout", "the photo worker did not start in time")
        try:
            self.conn.recv()  # ("ready", pid)
        except (EOFError, OSError):
            raise PhotoWorkerError("crashed", "the photo worker died while starting "
                                   f"({_signal_name(self.exitcode())})") from None
        self.ready = True

    def exitcode(self) -> int | None:
        if self.proc is None:
            return None
        self.proc.join(timeout=2)
        return self.proc.exitcode

    def kill(self) -> None:
        if self.proc is not None and self.proc.is_alive():
            self.proc.kill()
            self.proc.join(timeout=5)
        if self.conn is not None:
            self.conn.close()
        self.proc, self.conn, self.ready = None, None, False


class PhotoWorkers:
    """A pool of supervised photo worker processes (see the module docstring).

    ``run`` blocks its caller (a console request thread, the MQTT inbox loop, a roster
    import) until the job's answer, and raises ``PhotoRejected`` for a photo that cannot
    be used or ``PhotoWorkerError`` for a worker that failed it.
    """

    def __init__(self, size: int = 1, *, jitters: int = 5, timeout_s: float = 30.0,
                 max_bytes: int = 6_000_000, start_timeout_s: float = 60.0,
                 queue_timeout_s: float = 120.0,
                 on_crash: Callable[[str], None] | None = None,
                 context: ForkServerContext | SpawnContext | None = None) -> None:
        # forked from the fork server (recognition/processes.py); ``gate bench`` passes
        # multiprocessing's spawn to show what that saves
        self._ctx = context or worker_context()
        self._slots = [_Slot(self._ctx, jitters, i) for i in range(size)]
        self._free: queue.Queue[_Slot] = queue.Queue()
        for slot in self._slots:
            self._free.put(slot)
        self.timeout_s = timeout_s
        self.queue_timeout_s = queue_timeout_s  # a burst of photos waits its turn this long
        self.max_bytes = max_bytes
        self.start_timeout_s = start_timeout_s
        self.on_crash = on_crash
        self.health = PhotoWorkerHealth()
        self._lock = threading.Lock()  # leaf: health counters, jobs in flight, closed flag
        self._closed = False
        self._working: dict[int, int] = {}  # slot index -> pid of a worker on a job now

    def start(self) -> None:
        """Spawn the workers now (they load dlib in the background), so the first photo of
        the day does not wait for it."""
        for slot in self._slots:
            slot.spawn()

    def wait_ready(self) -> None:
        """Block until every worker has loaded its models (``gate bench`` times a start)."""
        for slot in self._slots:
            slot.wait_ready(self.start_timeout_s)

    def pids(self) -> list[int]:
        """The worker processes' ids (for ``gate status`` and the tests' SIGSEGV)."""
        return [s.proc.pid for s in self._slots
                if s.proc is not None and s.proc.pid is not None and s.proc.is_alive()]

    def busy_pids(self) -> list[int]:
        """The workers that are processing a job at this moment."""
        with self._lock:
            return list(self._working.values())

    def snapshot(self) -> dict[str, object]:
        """For the health model (``gate status``, the devices page)."""
        with self._lock:
            h = self.health
            return {"workers": len(self._slots), "busy": len(self._working), "jobs": h.jobs,
                    "crashes": h.crashes, "timeouts": h.timeouts, "refused_busy": h.busy,
                    "last_error": h.last_error}

    def close(self) -> None:
        with self._lock:
            self._closed = True
        for slot in self._slots:
            slot.kill()

    # The jobs ---------------------------------------------------------------------------

    def enrol(self, photo: bytes, quality: EnrolmentQuality, name: str = "photo") -> Enrolment:
        result = self.run(EnrolPhoto(photo, quality, name))
        assert isinstance(result, Enrolment)
        return result

    def cap_jpeg(self, job: CapPhoto) -> bytes:
        result = self.run(job)
        assert isinstance(result, bytes)
        return result

    def run(self, job: PhotoJob) -> object:
        if len(job.photo) > self.max_bytes:
            raise PhotoRejected(f"{job.name}: {len(job.photo):,} bytes, at most "
                                f"{self.max_bytes:,} are accepted")
        if not job.photo:
            raise PhotoRejected(f"{job.name}: empty file")
        waited = time.monotonic()
        try:
            slot = self._free.get(timeout=self.queue_timeout_s)
        except queue.Empty:
            self._count("busy", "all photo workers stayed busy")
            raise PhotoWorkerError("busy", "the photo workers are busy with other photos; "
                                   "try again in a moment") from None
        try:
            with self._lock:
                if self._closed:
                    raise PhotoWorkerError("failed", "the gate is stopping")
            slot.wait_ready(self.start_timeout_s)
            log.debug("photo job %s after %.0f ms in the queue", type(job).__name__,
                      (time.monotonic() - waited) * 1000)
            return self._exchange(slot, job)
        finally:
            self._free.put(slot)

    def _exchange(self, slot: _Slot, job: PhotoJob) -> object:
        conn = slot.conn
        assert conn is not None and slot.proc is not None and slot.proc.pid is not None
        with self._lock:
            self._working[slot.index] = slot.proc.pid
        try:
            return self._answer(slot, conn, job)
        finally:
            with self._lock:
                self._working.pop(slot.index, None)

    def _answer(self, slot: _Slot, conn: Connection, job: PhotoJob) -> object:
        try:
            conn.send(job)
            if not conn.poll(self.timeout_s):
                self._replace(slot, "timeout",
                              f"a {type(job).__name__} job ran over {self.timeout_s:.0f} s")
                raise PhotoWorkerError("timeout", f"the photo took longer than "
                                       f"{self.timeout_s:.0f} s to process and was abandoned;"
                                       " try a smaller photo")
            status, value = conn.recv()
        except (EOFError, OSError):
            why = _signal_name(slot.exitcode())
            self._replace(slot, "crashed", f"worker died ({why}) on a {type(job).__name__} job")
            raise PhotoWorkerError("crashed", f"the photo worker stopped on this photo ({why}) "
                                   "and was restarted; the gate was not affected. Try again, "
                                   "or use another photo") from None
        with self._lock:
            self.health.jobs += 1
        if status == "ok":
            return value
        if status == "rejected":
            raise PhotoRejected(str(value))
        raise PhotoWorkerError("failed", f"the photo could not be processed: {value}")

    def _replace(self, slot: _Slot, kind: Literal["crashed", "timeout"], why: str) -> None:
        """A dead or hung worker is killed and a new one spawned at once (it warms up while
        the caller is told); the crash is reported to the guard through ``on_crash``."""
        slot.kill()
        self._count(kind, why)
        log.error("photo worker %d: %s; restarting it", slot.index, why)
        with self._lock:
            closed = self._closed
        if not closed:
            slot.spawn()
        if self.on_crash is not None:
            try:
                self.on_crash(why)
            except Exception:
                log.exception("photo worker crash report failed")

    def _count(self, kind: Literal["busy", "crashed", "timeout"], why: str) -> None:
        with self._lock:
            if kind == "busy":
                self.health.busy += 1
            elif kind == "crashed":
                self.health.crashes += 1
            else:
                self.health.timeouts += 1
            self.health.last_error = why


class KeyedLocks:
    """One lock per key (a person's id): enrolments of the same person are serialised, those
    of different people are not. Entries are dropped when nobody holds or waits for them."""

    def __init__(self) -> None:
        self._guard = threading.Lock()  # leaf
        self._locks: dict[str, tuple[threading.Lock, int]] = {}

    @contextlib.contextmanager
    def hold(self, key: str) -> Iterator[None]:
        with self._guard:
            lock, users = self._locks.get(key, (threading.Lock(), 0))
            self._locks[key] = (lock, users + 1)
        try:
            with lock:
                yield
        finally:
            with self._guard:
                lock, users = self._locks[key]
                if users <= 1:
                    del self._locks[key]
                else:
                    self._locks[key] = (lock, users - 1)
