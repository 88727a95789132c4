"""``gate faces evaluate DIR``: measure face recognition on a school's own labelled photos.

DIR holds ``known/<person_id>/*.jpg`` (the first N photos of each person,
sorted by name, are enrolled exactly as ``gate people import`` would; the
rest are probes) and ``strangers/*.jpg`` (never enrolled). A threshold is a
trade-off between children the gate greets and strangers it lets pass for
somebody, and it moves with the number of people enrolled: so the
evaluation records every probe's best and second-best identity and replays
the decision at every threshold, for the chart a school picks its operating
point from. An optional ``spoof/`` folder (printed or screen photos) adds a
liveness figure when the liveness model is installed.
"""

from __future__ import annotations

import importlib
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gate.config import FacesConfig
from gate.faces import faces_threshold
from recognition.enrol import EnrolmentQuality, enrol_photo
from recognition.face_engine import DlibFaceEngine, FaceEngine, Image, Vectors
from recognition.gallery import Gallery
from recognition.images import ImageError, load_rgb
from recognition.liveness import is_live
from recognition.photos import identify_photo, main_face

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}
SWEEP = [round(0.30 + 0.01 * i, 2) for i in range(36)]  # 0.30 .. 0.65


class EvaluationError(ValueError):
    """DIR is not laid out as the contract says; the message says what is missing."""


@dataclass
class FaceRow:
    """One image's outcome; written to ``faces.csv`` / ``faces.jsonl``."""

    image: str
    role: str  # enrol | probe | stranger | spoof
    truth: str | None
    faces: int = 0
    verdict: str = ""  # enrolment quality verdict (enrol rows)
    reason: str = ""
    person_id: str | None = None
    distance: float | None = None
    best: str | None = None
    best_distance: float | None = None
    second_distance: float | None = None
    correct: bool | None = None
    liveness: float | None = None
    ms: float = 0.0
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for key in ("distance", "best_distance", "second_distance", "liveness"):
            if d[key] is not None:
                d[key] = round(d[key], 4)
        d["ms"] = round(self.ms, 1)
        return d


@dataclass
class FaceSet:
    known: dict[str, list[Path]]
    strangers: list[Path]
    spoofs: list[Path] = field(default_factory=list)


def _images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def load_set(root: Path) -> FaceSet:
    known_dir = root / "known"
    if not known_dir.is_dir():
        raise EvaluationError(f"{root}: no known/ folder (known/<person_id>/*.jpg)")
    known = {d.name: _images(d) for d in sorted(known_dir.iterdir()) if d.is_dir()}
    known = {k: v for k, v in known.items() if v}
    if not known:
        raise EvaluationError(f"{known_dir}: no person folders with photos")
    strangers = _images(root / "strangers") if (root / "strangers").is_dir() else []
    spoofs = _images(root / "spoof") if (root / "spoof").is_dir() else []
    return FaceSet(known, strangers, spoofs)


def threshold_for(faces: FacesConfig, identities: int) -> float:
    """The configured 1:N threshold for a gallery of this many people: the product's own."""
    return faces_threshold(faces, identities)


def _load(path: Path, row: FaceRow, rows: list[FaceRow]) -> Image | None:
    """The photo, or None with the row recorded as unreadable (it still counts as a row)."""
    try:
        return load_rgb(path)
    except ImageError as exc:
        row.error = str(exc)
        rows.append(row)
        return None


class _Liveness:
    """recognition/liveness.py's ``liveness_score(frame_rgb, box) -> float`` (probability
    real), if it is installed and its models load; otherwise every score is None."""

    def __init__(self) -> None:
        self.score: Callable[[Image, Any], float] | None = None
        try:  # optional: written beside this module, models shipped separately
            module = importlib.import_module("recognition.liveness")
        except ImportError:
            return
        self.score = getattr(module, "liveness_score", None)

    def __call__(self, rgb: Image, box: Any) -> float | None:
        if self.score is None or box is None:
            return None
        try:
            return float(self.score(rgb, box))
        except Exception:  # a model that cannot load: no figure, not a crash
            self.score = None
            return None


def run(root: Path, faces: FacesConfig, enrol: int = 5, engine: FaceEngine | None = None,
        enrol_engine: FaceEngine | None = None) -> tuple[list[FaceRow], dict[str, Any]]:
    """Enrol, then identify every probe and stranger photo exactly as ``gate faces identify``
    does (``identify_photo``, the same engine settings and threshold); a photo's verdict is
    that of its largest face. Returns the per-image rows (in order) and the summary."""
    data = load_set(root)
    engine = engine or DlibFaceEngine(jitters=faces.photo_jitters)
    enrol_engine = enrol_engine or DlibFaceEngine(jitters=faces.enrol_jitters)
    quality = EnrolmentQuality(faces.min_face_px, faces.min_sharpness)
    rows: list[FaceRow] = []
    labels: list[str] = []
    vectors: list[Vectors] = []
    later: list[tuple[FaceRow, Path]] = []
    for person, photos in data.known.items():
        for i, path in enumerate(photos):
            row = FaceRow(_rel(path, root), "enrol" if i < enrol else "probe", person)
            if row.role == "probe":
                later.append((row, path))
                continue
            start = time.perf_counter()
            rgb = _load(path, row, rows)
            if rgb is None:
                continue
            result = enrol_photo(enrol_engine, rgb, quality)
            row.verdict, row.reason = result.report.verdict, result.report.reason
            row.faces = result.report.faces
            if result.encoding is not None:
                labels.append(person)
                vectors.append(result.encoding)
            row.ms = (time.perf_counter() - start) * 1000
            rows.append(row)
    if not vectors:
        raise EvaluationError(f"{root}: no enrolment photo could be enrolled")
    gallery = Gallery(labels, np.stack(vectors))
    threshold = threshold_for(faces, len(gallery))
    later += [(FaceRow(_rel(p, root), "stranger", None), p) for p in data.strangers]
    later += [(FaceRow(_rel(p, root), "spoof", None), p) for p in data.spoofs]
    live = _Liveness()
    want_liveness = live.score is not None and bool(data.spoofs)
    for row, path in later:
        start = time.perf_counter()
        rgb = _load(path, row, rows)
        if rgb is None:
            continue
        matches = identify_photo(engine, gallery, rgb, threshold, faces.identify_margin)
        row.ms = (time.perf_counter() - start) * 1000
        row.faces = len(matches)
        face = main_face(matches)
        rows.append(row)
        if face is None:
            if row.role != "spoof":
                row.correct = row.role == "stranger"
            continue
        if row.role == "spoof" or (want_liveness and row.role == "probe"):
            row.liveness = live(rgb, face.box)  # on the photo as given, as liveness-evaluate
        if row.role == "spoof":
            continue
        ident = face.identification
        cands = ident.candidates
        row.best, row.best_distance = cands[0].person_id, cands[0].distance
        row.second_distance = cands[1].distance if len(cands) > 1 else None
        row.person_id, row.distance, row.reason = ident.person_id, ident.distance, ident.reason
        row.correct = (row.person_id == row.truth) if row.role == "probe" \
            else row.person_id is None
    order = {r.image: i for i, r in enumerate(
        [FaceRow(_rel(p, root), "", None) for photos in data.known.values() for p in photos]
        + [FaceRow(_rel(p, root), "", None) for p in [*data.strangers, *data.spoofs]])}
    rows.sort(key=lambda r: order[r.image])
    return rows, summarise(rows, gallery, threshold, faces.identify_margin,
                           liveness_available=live.score is not None,
                           liveness_threshold=faces.liveness_threshold)


def _rel(path: Path, root: Path) -> str:
    return str(path.relative_to(root))


def decide(row: FaceRow, threshold: float, margin: float) -> str | None:
    """Replay the gallery's rule on a row's evidence at another threshold."""
    if row.best_distance is None or row.best_distance >= threshold:
        return None
    if row.second_distance is not None and row.second_distance - row.best_distance < margin:
        return None
    return row.best


def sweep(rows: list[FaceRow], margin: float) -> list[dict[str, float]]:
    probes = [r for r in rows if r.role == "probe"]
    strangers = [r for r in rows if r.role == "stranger"]
    out = []
    for t in SWEEP:
        ident = sum(decide(r, t, margin) == r.truth for r in probes)
        accepted = sum(decide(r, t, margin) is not None for r in strangers)
        out.append({"threshold": t, "identified": ident / max(1, len(probes)),
                    "strangers_accepted": accepted / max(1, len(strangers))})
    return out


def summarise(rows: list[FaceRow], gallery: Gallery, threshold: float, margin: float,
              liveness_available: bool = False, liveness_threshold: float = 0.5
              ) -> dict[str, Any]:
    probes = [r for r in rows if r.role == "probe"]
    strangers = [r for r in rows if r.role == "stranger"]
    enrols = [r for r in rows if r.role == "enrol"]
    spoofs = [r for r in rows if r.role == "spoof"]
    identified = sum(r.person_id == r.truth for r in probes)
    wrong = sum(r.person_id is not None and r.person_id != r.truth for r in probes)
    accepted = sum(r.person_id is not None for r in strangers)
    times = [r.ms for r in probes + strangers if r.error is None]
    summary: dict[str, Any] = {
        "people": len(gallery), "enrolled_photos": gallery.size,
        "enrol_rejected": sum(r.verdict == "reject" for r in enrols),
        "enrol_warned": sum(r.verdict == "warn" for r in enrols),
        "probes": len(probes), "identified": identified / max(1, len(probes)),
        "wrong_person": wrong / max(1, len(probes)),
        "strangers": len(strangers), "strangers_accepted": accepted / max(1, len(strangers)),
        "no_face": sum(r.faces == 0 and r.error is None for r in probes + strangers),
        "errors": sum(r.error is not None for r in rows),
        "threshold": round(threshold, 4), "margin": margin,
        "ms_median": round(statistics.median(times), 1) if times else None,
        "sweep": sweep(rows, margin),
    }
    if spoofs:
        summary["liveness"] = _liveness_summary(probes, spoofs, liveness_threshold) \
            if liveness_available else None
    return summary


def _liveness_summary(probes: list[FaceRow], spoofs: list[FaceRow], threshold: float
                      ) -> dict[str, Any]:
    real = [r.liveness for r in probes if r.liveness is not None]
    fake = [r.liveness for r in spoofs if r.liveness is not None]
    return {"spoofs": len(spoofs),
            "spoofs_caught": sum(not is_live(s, threshold) for s in fake) / max(1, len(fake)),
            "real_passed": sum(is_live(s, threshold) for s in real) / max(1, len(real))}


def best_operating_point(points: list[dict[str, float]], max_strangers: float
                         ) -> dict[str, float] | None:
    """The threshold that identifies most while accepting at most ``max_strangers``."""
    ok = [p for p in points if p["strangers_accepted"] <= max_strangers]
    return max(ok, key=lambda p: (p["identified"], -p["threshold"])) if ok else None


def iter_csv_rows(rows: list[FaceRow]) -> Iterator[dict[str, Any]]:
    for r in rows:
        yield r.as_dict()
