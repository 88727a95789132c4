"""The gate's side of face recognition: enrolment into the store, and the people gallery.

Only people with recorded consent are ever encoded; the enrolment photo is not
kept unless the site asks for it (``retention.keep_enrolment_photos``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
from pathlib import Path

import numpy as np

from gate.config import Config, FacesConfig
from gate.roster import EnrolResult
from gate.store import Store
from recognition.enrol import EnrolmentQuality, QualityReport, enrol_photo
from recognition.face_engine import DlibFaceEngine, FaceEngine
from recognition.gallery import Gallery, scaled_threshold
from recognition.images import ImageError, load_rgb
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
                            liveness_frames=f.liveness_frames)


def liveness_enabled(config: Config, camera_id: str | None) -> bool:
    """Liveness costs ~10 ms per face and frame: only cameras of lanes that use it run it."""
    return camera_id is not None and any(
        lane.camera == camera_id and lane.liveness != "off" for lane in config.lanes)


def enrolment_quality(config: Config) -> EnrolmentQuality:
    return EnrolmentQuality(config.faces.min_face_px, config.faces.min_sharpness)


class FaceEnroller:
    """Implements roster.Enroller: one photo in, one stored encoding (or a reason) out."""

    def __init__(self, store: Store, config: Config, engine: FaceEngine | None = None) -> None:
        self.store = store
        self.config = config
        # Enrolment is offline: jittered encodings (an average over small shifts and flips of
        # the photo) make a steadier template for the same one-off cost.
        self.engine = engine or DlibFaceEngine(jitters=config.faces.enrol_jitters)
        self.quality = enrolment_quality(config)
        self._gallery = people_gallery(store)

    def enrol(self, person_id: str, photo: Path) -> EnrolResult:
        try:
            data = photo.read_bytes()
        except OSError as exc:
            return EnrolResult("not-enrolled", f"cannot read ({exc.strerror})")
        digest = hashlib.sha256(data).hexdigest()
        if self.store.query("SELECT 1 FROM face_encodings WHERE person_id = ? AND"
                            " source_sha256 = ?", (person_id, digest)):
            return EnrolResult("unchanged")  # the same photo again: no need to encode it
        try:
            result = enrol_photo(self.engine, load_rgb(photo), self.quality)
        except ImageError as exc:
            return EnrolResult("not-enrolled", str(exc).replace(str(photo) + ": ", ""))
        report = result.report
        record_quality(self.store, person_id, digest, photo.name, report)
        if result.encoding is None:
            return EnrolResult("not-enrolled", report.reason, quality=report.verdict)
        encoding = result.encoding
        warnings = [report.reason] if report.verdict == "warn" else []
        duplicate = self._duplicate_warning(person_id, encoding)
        if duplicate:
            warnings.append(duplicate)
        self.store.add_face_encoding(person_id, digest, encoding.astype(np.float32).tobytes())
        if self.config.retention.keep_enrolment_photos:
            self._keep_photo(person_id, digest, data)
        self._gallery = people_gallery(self.store)
        return EnrolResult("enrolled", warning="; ".join(warnings), quality=report.verdict)

    def _duplicate_warning(self, person_id: str, encoding: np.ndarray) -> str:
        """As commercial terminals do: a new face very close to someone else's is flagged."""
        for candidate in self._gallery.top(encoding, k=3):
            if candidate.person_id != person_id and \
                    candidate.distance < self.config.faces.duplicate_warning:
                return (f"face is very close to {candidate.person_id} (distance "
                        f"{candidate.distance:.3f}): the same person twice, or twins?")
        return ""

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
