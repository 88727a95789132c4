"""The gate's side of face recognition: enrolment into the store, and the people gallery.

Only people with recorded consent are ever encoded; the enrolment photo is not
kept unless the site asks for it (``retention.keep_enrolment_photos``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from gate.config import Config, FacesConfig
from gate.photo_workers import PhotoWorkerError, PhotoWorkers
from gate.roster import EnrolResult
from gate.store import Store
from recognition.enrol import EnrolmentQuality, QualityReport
from recognition.gallery import Gallery, scaled_threshold
from recognition.photo_jobs import PhotoEncoder, PhotoRejected
from recognition.pipeline import PipelineSettings

log = logging.getLogger("gate.faces")


def people_gallery(store: Store) -> Gallery:
    return Gallery.from_rows(store.face_encodings())


def identify_threshold(config: Config, identities: int) -> float:
    """The 1:N threshold for a gallery of this many people (``faces_threshold``)."""
    return faces_threshold(config.faces, identities)


def faces_threshold(f: FacesConfig, identities: int) -> float:
    """The 1:N threshold for a gallery of this many people (``faces.identify_threshold`` holds
    for 10 people; ``identify_threshold_per_decade`` is taken off per tenfold more)."""
    return scaled_threshold(f.identify_threshold, identities, f.identify_threshold_per_decade)


def pipeline_settings(config: Config, roi: tuple[int, int, int, int] | None = None,
                      camera_id: str | None = None) -> PipelineSettings:
    f = config.faces
    return PipelineSettings(detect_scale=f.detect_scale, roi=roi, min_face_px=f.min_face_px,
                            min_sharpness=f.min_sharpness,
                            identify_threshold=f.identify_threshold,
                            identify_margin=f.identify_margin,
                            identify_threshold_per_decade=f.identify_threshold_per_decade,
                            liveness=liveness_enabled(config, camera_id),
                            liveness_frames=f.liveness_frames,
                            idle_detect_seconds=f.idle_detect_seconds)


def liveness_enabled(config: Config, camera_id: str | None) -> bool:
    """Liveness costs ~10 ms per face and frame: only cameras of lanes that use it run it."""
    return camera_id is not None and any(
        lane.camera == camera_id and lane.liveness != "off" for lane in config.lanes)


def photo_workers(config: Config,
                  on_crash: Callable[[str], None] | None = None) -> PhotoWorkers:
    """The supervised photo workers with the site's settings (not started)."""
    f = config.faces
    return PhotoWorkers(f.photo_workers, jitters=f.enrol_jitters, timeout_s=f.photo_timeout_s,
                        max_bytes=f.photo_max_bytes, on_crash=on_crash)


@contextlib.contextmanager
def running_photo_workers(config: Config) -> Iterator[PhotoWorkers]:
    """Photo workers for one command (a roster import, the demo's set-up), closed after."""
    workers = photo_workers(config)
    workers.start()
    try:
        yield workers
    finally:
        workers.close()


def enrolment_quality(config: Config) -> EnrolmentQuality:
    return EnrolmentQuality(config.faces.min_face_px, config.faces.min_sharpness)


class FaceEnroller:
    """Implements roster.Enroller: one photo in, one stored encoding (or a reason) out."""

    def __init__(self, store: Store, config: Config, encoder: PhotoEncoder) -> None:
        self.store = store
        self.config = config
        # The photo is decoded and encoded by ``encoder``: in the gate and its tools the
        # supervised photo workers (gate/photo_workers.py, with ``faces.enrol_jitters``), so
        # a photo that crashes dlib costs one answer, never the process that asked.
        self.encoder = encoder
        self.quality = enrolment_quality(config)
        self._gallery = people_gallery(store)

    def enrol(self, person_id: str, photo: Path, confirm_reason: str = "") -> EnrolResult:
        """Enrol one photo of ``person_id``. A face that the gate would take for another
        enrolled person is refused (outcome ``refused``, the match named): the wrong
        pupil's photo must not become this pupil's template. An admin who knows better
        (twins, a sibling) passes ``confirm_reason``, which the caller audits."""
        try:
            data = photo.read_bytes()
        except OSError as exc:
            return EnrolResult("not-enrolled", f"cannot read ({exc.strerror})")
        digest = hashlib.sha256(data).hexdigest()
        if self.store.query("SELECT 1 FROM face_encodings WHERE person_id = ? AND"
                            " source_sha256 = ?", (person_id, digest)):
            return EnrolResult("unchanged")  # the same photo again: no need to encode it
        try:
            result = self.encoder.enrol(data, self.quality, photo.name)
        except PhotoRejected as exc:
            return EnrolResult("not-enrolled", str(exc).replace(photo.name + ": ", ""))
        except PhotoWorkerError as exc:  # not the photo's verdict: the worker failed it
            return EnrolResult("not-enrolled", str(exc), worker_failed=True)
        report = result.report
        record_quality(self.store, person_id, digest, photo.name, report)
        if result.encoding is None:
            return EnrolResult("not-enrolled", report.reason, quality=report.verdict)
        encoding = result.encoding
        warnings = [report.reason] if report.verdict == "warn" else []
        other = self.matching_other(person_id, encoding)
        if other is not None:
            who, distance = other
            if not confirm_reason.strip():
                return EnrolResult("refused", f"this face matches {who} (distance "
                                   f"{distance:.3f}): it looks like another person's photo",
                                   quality=report.verdict, match=(who, distance))
            warnings.append(f"matches {who} (distance {distance:.3f}); enrolled as confirmed")
        self.store.add_face_encoding(person_id, digest, encoding.astype(np.float32).tobytes())
        if self.config.retention.keep_enrolment_photos:
            self._keep_photo(person_id, digest, data)
        self._gallery = people_gallery(self.store)
        return EnrolResult("enrolled", warning="; ".join(warnings), quality=report.verdict,
                           match=other)

    def matching_other(self, person_id: str, encoding: np.ndarray) -> tuple[str, float] | None:
        """The other enrolled person this face would be identified as at the gate (under the
        1:N threshold for the gallery's size, or under ``faces.duplicate_warning`` whatever
        the size), with the distance; None when it is nobody else's."""
        limit = max(identify_threshold(self.config, len(self._gallery.identities)),
                    self.config.faces.duplicate_warning)
        for candidate in self._gallery.top(encoding, k=3):
            if candidate.person_id != person_id and candidate.distance < limit:
                return candidate.person_id, float(candidate.distance)
        return None

    def _keep_photo(self, person_id: str, digest: str, data: bytes) -> None:
        folder = self.store.data_dir / "enrolment-photos" / person_id
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        sealer = self.store.sealer  # encrypted like every biometric (gate/crypto.py)
        path = folder / f"{digest}.{'enc' if sealer.encrypted else 'jpg'}"
        fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(sealer.seal(data, f"enrolment-photos/{person_id}/{digest}"))


def record_quality(store: Store, person_id: str, digest: str, photo: str,
                   report: QualityReport) -> None:
    """Keep the verdict on a photo beside the person (migration 0006), for the console."""
    with store.transaction() as db:
        row = db.execute("SELECT enrolment_quality FROM people WHERE id = ?",
                         (person_id,)).fetchone()
        if row is None:
            return
        verdicts = json.loads(row[0] or "{}")
        verdicts[digest] = {"photo": photo, "verdict": report.verdict,
                            "reasons": list(report.reasons),
                            "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
        db.execute("UPDATE people SET enrolment_quality = ? WHERE id = ?",
                   (json.dumps(verdicts, ensure_ascii=False), person_id))


def quality_verdicts(store: Store, person_id: str) -> list[dict[str, object]]:
    """The verdicts on a person's enrolment photos, newest first (for the console's page)."""
    rows = store.query("SELECT enrolment_quality FROM people WHERE id = ?", (person_id,))
    if not rows:
        return []
    verdicts: dict[str, dict[str, object]] = json.loads(rows[0][0] or "{}")
    return sorted(verdicts.values(), key=lambda v: str(v.get("at", "")), reverse=True)


def enrolled_photos(store: Store, person_id: str) -> list[dict[str, object]]:
    """A person's enrolled templates as the face library lists them: when, the photo's
    quality verdict and reasons, and whether the photo itself is kept (for a thumbnail)."""
    verdicts = {}
    rows = store.query("SELECT enrolment_quality FROM people WHERE id = ?", (person_id,))
    if rows:
        verdicts = json.loads(rows[0][0] or "{}")
    folder = store.data_dir / "enrolment-photos" / person_id
    out: list[dict[str, object]] = []
    for face_id, digest, created in store.query(
            "SELECT id, source_sha256, created_at FROM face_encodings WHERE person_id = ?"
            " ORDER BY created_at, id", (person_id,)):
        verdict = verdicts.get(digest, {})
        out.append({"id": face_id, "enrolled_at": created, "photo": verdict.get("photo"),
                    "verdict": verdict.get("verdict"), "reasons": verdict.get("reasons", []),
                    "photo_kept": any(folder.glob(f"{digest}.*"))})
    return out


def enrolled_photo(store: Store, person_id: str, face_id: int) -> bytes | None:
    """The kept enrolment photo behind one template (opened from its seal), or None."""
    rows = store.query("SELECT source_sha256 FROM face_encodings WHERE id = ? AND"
                       " person_id = ?", (face_id, person_id))
    if not rows:
        return None
    digest = rows[0][0]
    for path in (store.data_dir / "enrolment-photos" / person_id).glob(f"{digest}.*"):
        return store.sealer.open(path.read_bytes(), f"enrolment-photos/{person_id}/{digest}")
    return None


def remove_enrolled_photo(store: Store, person_id: str, face_id: int, actor: str) -> bool:
    """One template (and its kept photo, if any) removed, audited; the others stay."""
    with store.transaction() as db:
        row = db.execute("SELECT source_sha256 FROM face_encodings WHERE id = ? AND"
                         " person_id = ?", (face_id, person_id)).fetchone()
        if row is None:
            return False
        db.execute("DELETE FROM face_encodings WHERE id = ?", (face_id,))
        store.audit(actor, "face_photo_removed", person_id, {"face": face_id})
    for path in (store.data_dir / "enrolment-photos" / person_id).glob(f"{row[0]}.*"):
        path.unlink(missing_ok=True)
    return True
