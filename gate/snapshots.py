"""Evidence snapshots on disk: written once, off the decision path, encrypted with a key.

The engine references a snapshot by the id of the event it is evidence of (the
event's and its alerts' ``snapshot`` field) and hands the JPEGs to
:class:`SnapshotWriter`, a queue drained by a supervised loop; a decision never
waits for a disk write or an encryption. A full queue drops the snapshot (counted
and logged), never the decision.

Files: ``DATA_DIR/snapshots/YYYY-MM-DD/<id>.<part>.jpg`` (no key) or ``.enc``
(AES-256-GCM, sealed to ``snapshots/<id>/<part>``: a file renamed onto another id
does not open). The ``snapshots`` table indexes them for retention, erasure,
export and the console. Visitors' desk photos (``visitors.keep_photo``) live in
``DATA_DIR/visitor-photos`` the same way.
"""

from __future__ import annotations

import logging
import os
import queue
import sqlite3
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from gate.crypto import Sealer
from gate.store import Store

log = logging.getLogger("gate.snapshots")

PARTS = ("scene", "crop")


@dataclass(frozen=True)
class Shot:
    """The JPEGs of one frame: the downscaled scene and the face or plate crop."""

    scene: bytes | None
    crop: bytes | None
    camera: str
    kind: str  # face | plate
    ts: float  # monotonic time of the frame

    def part(self, name: str) -> bytes | None:
        return self.scene if name == "scene" else self.crop

    @property
    def best_inline(self) -> bytes | None:
        """For police payloads: the crop identifies, the scene shows what happened."""
        return self.crop or self.scene


@dataclass(frozen=True)
class SnapshotJob:
    snapshot_id: str
    ts: str  # RFC 3339 of the event
    lane: str | None
    person_id: str | None
    shot: Shot


class SnapshotStore:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.root = store.data_dir / "snapshots"
        self.photos = store.data_dir / "visitor-photos"

    @property
    def sealer(self) -> Sealer:
        return self.store.sealer

    def path(self, snapshot_id: str, ts: str, part: str, sealed: bool) -> Path:
        _safe(snapshot_id)
        return self.root / ts[:10] / f"{snapshot_id}.{part}.{'enc' if sealed else 'jpg'}"

    def write(self, job: SnapshotJob) -> int:
        """Index, then encrypt and write the parts; returns bytes written."""
        with self.store.transaction() as db:
            self.index(job)(db)
        return self.write_files(job)

    def index(self, job: SnapshotJob) -> Callable[[sqlite3.Connection], None]:
        """The index row as a journal write: it commits with the event it is evidence of
        (no transaction of its own, so no extra fsync under the store lock); the files
        follow from the writer loop."""
        parts = [p for p in PARTS if job.shot.part(p) is not None]
        size = sum(len(job.shot.part(p) or b"") for p in parts)
        kid = self.sealer.keys.current if self.sealer.keys else None

        def insert(db: sqlite3.Connection) -> None:
            if parts:
                db.execute("INSERT OR REPLACE INTO snapshots (id, ts, lane, camera, kind,"
                           " person_id, parts, bytes, key_id) VALUES (?,?,?,?,?,?,?,?,?)",
                           (job.snapshot_id, job.ts, job.lane, job.shot.camera, job.shot.kind,
                            job.person_id, ",".join(parts), size, kid))

        return insert

    def write_files(self, job: SnapshotJob) -> int:
        total = 0
        for part in PARTS:
            jpeg = job.shot.part(part)
            if jpeg is None:
                continue
            blob = self.sealer.seal(jpeg, f"snapshots/{job.snapshot_id}/{part}")
            _write_file(self.path(job.snapshot_id, job.ts, part, self.sealer.encrypted), blob)
            total += len(blob)
        return total

    def read(self, snapshot_id: str, part: str = "scene") -> bytes | None:
        """The decrypted JPEG, or None when there is none (never taken, or purged)."""
        if part not in PARTS:
            raise ValueError(f"part must be one of {PARTS}")
        rows = self.store.query("SELECT ts, parts, key_id FROM snapshots WHERE id = ?",
                                (snapshot_id,))
        if not rows or part not in rows[0]["parts"].split(","):
            return None
        ts = rows[0]["ts"]
        for sealed in (True, False):
            path = self.path(snapshot_id, ts, part, sealed)
            if path.exists():
                return self.sealer.open(path.read_bytes(), f"snapshots/{snapshot_id}/{part}")
        return None

    def files(self, snapshot_id: str, ts: str) -> list[Path]:
        return [p for part in PARTS for sealed in (True, False)
                if (p := self.path(snapshot_id, ts, part, sealed)).exists()]

    def delete(self, rows: Iterable[tuple[str, str]]) -> int:
        """Files first, then the index rows; returns the number of snapshots removed."""
        ids = []
        for snapshot_id, ts in rows:
            for path in self.files(snapshot_id, ts):
                path.unlink(missing_ok=True)
            ids.append(snapshot_id)
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            with self.store.transaction() as db:
                db.execute(f"DELETE FROM snapshots WHERE id IN ({','.join('?' * len(chunk))})",
                           chunk)
        _prune_empty_dirs(self.root)
        return len(ids)

    def reseal(self) -> int:
        """Re-encrypt every file not sealed with the current key (``gate keys rotate``);
        a plain JPEG left from before encryption is sealed and the plain file removed."""
        if self.sealer.keys is None:
            return 0
        done = 0
        for row in self.store.query("SELECT id, ts, parts FROM snapshots"):
            for part in row["parts"].split(","):
                aad = f"snapshots/{row['id']}/{part}"
                sealed = self.path(row["id"], row["ts"], part, True)
                plain = self.path(row["id"], row["ts"], part, False)
                source = sealed if sealed.exists() else plain
                if not source.exists():
                    continue
                blob = source.read_bytes()
                if not self.sealer.needs_reseal(blob):
                    continue
                _write_file(sealed, self.sealer.seal(self.sealer.open(blob, aad), aad))
                if source == plain:
                    plain.unlink()
                done += 1
            with self.store.transaction() as db:
                db.execute("UPDATE snapshots SET key_id = ? WHERE id = ?",
                           (self.sealer.keys.current, row["id"]))
        for photo in sorted((self.store.data_dir / "enrolment-photos").glob("*/*")):
            aad = f"enrolment-photos/{photo.parent.name}/{photo.name.split('.')[0]}"
            blob = photo.read_bytes()
            if photo.suffix in (".jpg", ".enc") and self.sealer.needs_reseal(blob):
                _write_file(photo.with_suffix(".enc"),
                            self.sealer.seal(self.sealer.open(blob, aad), aad))
                if photo.suffix == ".jpg":
                    photo.unlink()
                done += 1
        for row in self.store.query("SELECT visitor_id FROM visitor_photos"):
            vid = row[0]
            jpeg = self.visitor_photo(vid)
            if jpeg is not None and self._photo_needs_reseal(vid):
                self.save_visitor_photo(vid, jpeg)
                done += 1
        return done

    # Visitors' desk photos -------------------------------------------------------------

    def _photo_path(self, visitor_id: str, sealed: bool) -> Path:
        _safe(visitor_id)
        return self.photos / f"{visitor_id}.{'enc' if sealed else 'jpg'}"

    def save_visitor_photo(self, visitor_id: str, jpeg: bytes) -> None:
        """The desk camera's photo of a visitor (only with ``visitors.keep_photo``)."""
        sealed = self.sealer.encrypted
        blob = self.sealer.seal(jpeg, f"visitor-photos/{visitor_id}")
        _write_file(self._photo_path(visitor_id, sealed), blob)
        self._photo_path(visitor_id, not sealed).unlink(missing_ok=True)
        kid = self.sealer.keys.current if self.sealer.keys else None
        with self.store.transaction() as db:
            db.execute("INSERT OR REPLACE INTO visitor_photos (visitor_id, bytes, key_id,"
                       " created_at) VALUES (?,?,?,?)",
                       (visitor_id, len(blob), kid, self.store.now().isoformat()))

    def visitor_photo(self, visitor_id: str) -> bytes | None:
        for sealed in (True, False):
            path = self._photo_path(visitor_id, sealed)
            if path.exists():
                return self.sealer.open(path.read_bytes(), f"visitor-photos/{visitor_id}")
        return None

    def _photo_needs_reseal(self, visitor_id: str) -> bool:
        sealed = self._photo_path(visitor_id, True)
        return not sealed.exists() or self.sealer.needs_reseal(sealed.read_bytes())

    def delete_visitor_photos(self, visitor_ids: Iterable[str]) -> int:
        ids = list(visitor_ids)
        for vid in ids:
            for sealed in (True, False):
                self._photo_path(vid, sealed).unlink(missing_ok=True)
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            with self.store.transaction() as db:
                db.execute("DELETE FROM visitor_photos WHERE visitor_id IN"
                           f" ({','.join('?' * len(chunk))})", chunk)
        return len(ids)


class SnapshotWriter:
    """The queue between the decision path and the disk, drained by a supervised loop
    (``Service`` registers :meth:`run`); snapshots still queued are served from memory."""

    def __init__(self, snapshots: SnapshotStore, max_queue: int = 256) -> None:
        self.snapshots = snapshots
        self._queue: queue.Queue[SnapshotJob] = queue.Queue(max_queue)
        self._pending: dict[str, SnapshotJob] = {}
        self._lock = threading.Lock()  # leaf: guards _pending, _erased, _writing
        self._written_cond = threading.Condition(self._lock)
        self._erased: set[str] = set()  # people being erased: their jobs are never written
        self._writing: SnapshotJob | None = None
        self.written = 0
        self.dropped = 0
        self.discarded = 0

    def submit(self, job: SnapshotJob) -> bool:
        """Never blocks: False (and counted) when the writer is that far behind."""
        with self._lock:
            self._pending[job.snapshot_id] = job
        try:
            self._queue.put_nowait(job)
        except queue.Full:
            with self._lock:
                self._pending.pop(job.snapshot_id, None)
            self.dropped += 1
            log.warning("snapshot %s dropped: the writer is %d behind", job.snapshot_id,
                        self._queue.qsize())
            return False
        return True

    def index(self, job: SnapshotJob) -> Callable[[sqlite3.Connection], None]:
        return self.snapshots.index(job)

    def pending(self, snapshot_id: str, part: str) -> bytes | None:
        with self._lock:
            job = self._pending.get(snapshot_id)
        return job.shot.part(part) if job else None

    def read(self, snapshot_id: str, part: str = "scene") -> bytes | None:
        return self.pending(snapshot_id, part) or self.snapshots.read(snapshot_id, part)

    def discard(self, person_id: str, timeout: float = 10.0) -> int:
        """An erasure's third step: the person's queued snapshots are never written, and a
        write of theirs already under way has finished when this returns. Returns how many
        queued jobs were dropped."""
        with self._lock:
            self._erased.add(person_id)
            dropped = [i for i, j in self._pending.items() if j.person_id == person_id]
            for snapshot_id in dropped:
                del self._pending[snapshot_id]
            self._written_cond.wait_for(
                lambda: self._writing is None or self._writing.person_id != person_id, timeout)
            self.discarded += len(dropped)
        return len(dropped)

    def run(self, stop: threading.Event) -> None:
        while True:
            try:
                job = self._queue.get(timeout=0.2)
            except queue.Empty:
                if stop.is_set():
                    return
                continue
            with self._lock:
                if job.person_id is not None and job.person_id in self._erased:
                    self._pending.pop(job.snapshot_id, None)
                    continue
                self._writing = job
            try:
                self.snapshots.write_files(job)
                self.written += 1
            finally:
                with self._lock:
                    self._pending.pop(job.snapshot_id, None)
                    self._writing = None
                    self._written_cond.notify_all()

    def drain(self) -> None:
        """Write what is queued now (tests, the CLI)."""
        stop = threading.Event()
        stop.set()
        self.run(stop)


def _safe(name: str) -> None:
    if not name or "/" in name or name.startswith(".") or "\\" in name:
        raise ValueError(f"bad snapshot id {name!r}")


def _write_file(path: Path, data: bytes) -> None:
    """Atomically (a reader sees the whole file or none), 0600 from the first byte, durable
    when it returns."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    tmp.replace(path)


def _prune_empty_dirs(root: Path) -> None:
    if not root.exists():
        return
    for day in root.iterdir():
        if day.is_dir() and not any(day.iterdir()):
            day.rmdir()


__all__ = ["PARTS", "Shot", "SnapshotJob", "SnapshotStore", "SnapshotWriter"]
