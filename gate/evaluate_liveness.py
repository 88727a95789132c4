"""``gate faces liveness-evaluate DIR``: measure the liveness check on a school's own recordings.

DIR holds ``live/`` (bona fide presentations: real people in front of the camera) and
``spoof/`` (attack presentations: printed photos, phone or tablet screens held up to it). Files
directly in ``spoof/`` form one attack species; subfolders (``spoof/print/``,
``spoof/screen/``) are separate species, because ISO/IEC 30107-3 reports the attack error per
presentation attack instrument species and the worst of them: a check that stops prints but not
phones is only as good as its result on phones.

The figures are ISO/IEC 30107-3's:

- APCER (attack presentation classification error rate): the share of attacks taken as live;
- BPCER (bona fide presentation classification error rate): the share of real faces refused.

Both are counted over presentations where a face was found at all; presentations without a face
are reported apart (the lane never scores them, so they neither pass nor fail liveness).

A photo is scored as ``gate faces identify`` finds its face (padded and enlarged when small), but
the score is taken on the photo as given, with the box mapped back: padding invents the context
the models look at. A clip (``.mp4``, ``.avi``, ...) goes through the lane's own
``FacePipeline``: detection at ``faces.detect_scale``, the quality gates, the tracker, and the
score fused over the track's first ``faces.liveness_frames`` frames, exactly as at the gate.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from gate.config import FacesConfig
from recognition.face_engine import DlibFaceEngine, FaceEngine, Image
from recognition.gallery import Gallery
from recognition.images import ImageError, load_rgb
from recognition.liveness import Scorer, is_live
from recognition.photos import find_faces
from recognition.pipeline import FacePipeline, PipelineSettings
from recognition.quality import box_size

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}
VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v"}
BONA_FIDE = "bona_fide"
ATTACK = "attack"
MAX_CLIP_FRAMES = 300  # a clip whose face is never scored in this many frames counts as no face


class EvaluationError(ValueError):
    """DIR is not laid out as the contract says; the message says what is missing."""


@dataclass
class LivenessRow:
    """One presentation's outcome; written to ``liveness.csv`` / ``liveness.jsonl``."""

    file: str
    label: str  # bona_fide | attack
    species: str  # "live" for bona fide; the attack's folder under spoof/ ("spoof" when flat)
    kind: str  # photo | clip
    faces: int = 0
    frames: int = 0  # frames read (clips) or 1 (photos)
    score: float | None = None  # fused probability that the face is live
    live: bool | None = None  # the verdict at the configured threshold
    ms: float = 0.0
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        if d["score"] is not None:
            d["score"] = round(d["score"], 4)
        d["ms"] = round(self.ms, 1)
        return d


@dataclass(frozen=True)
class Presentation:
    path: Path
    label: str
    species: str


def _media(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file()
                  and p.suffix.lower() in IMAGE_SUFFIXES | VIDEO_SUFFIXES)


def load_set(root: Path) -> list[Presentation]:
    """The presentations of DIR, bona fide first, in name order."""
    live_dir, spoof_dir = root / "live", root / "spoof"
    if not live_dir.is_dir() or not spoof_dir.is_dir():
        raise EvaluationError(f"{root}: needs live/ and spoof/ folders (photos or short clips)")
    out = [Presentation(p, BONA_FIDE, "live") for p in _media(live_dir)]
    if not out:
        raise EvaluationError(f"{live_dir}: no photos or clips")
    attacks = [Presentation(p, ATTACK, "spoof") for p in _media(spoof_dir)]
    for sub in sorted(d for d in spoof_dir.iterdir() if d.is_dir()):
        attacks += [Presentation(p, ATTACK, sub.name) for p in _media(sub)]
    if not attacks:
        raise EvaluationError(f"{spoof_dir}: no photos or clips")
    return out + attacks


# --- the metrics: pure functions of the scores ------------------------------------------------

def apcer(scores: Sequence[float], threshold: float) -> float:
    """Share of attack scores taken as live at ``threshold`` (the product's ``is_live``)."""
    return sum(is_live(s, threshold) for s in scores) / len(scores) if scores else 0.0


def bpcer(scores: Sequence[float], threshold: float) -> float:
    """Share of bona fide scores refused at ``threshold``."""
    return sum(not is_live(s, threshold) for s in scores) / len(scores) if scores else 0.0


def error_rates(bona_fide: Sequence[float], attacks: dict[str, list[float]],
                threshold: float) -> dict[str, Any]:
    """APCER per attack species and its maximum (ISO/IEC 30107-3's APCER of the system), and
    BPCER, at one threshold."""
    per_species = {k: apcer(v, threshold) for k, v in sorted(attacks.items()) if v}
    return {"threshold": threshold, "apcer": max(per_species.values(), default=0.0),
            "apcer_per_species": per_species, "bpcer": bpcer(bona_fide, threshold)}


def threshold_for_apcer(attacks: dict[str, list[float]], target: float,
                        decimals: int = 4) -> float | None:
    """The lowest threshold (rounded up to ``decimals``) at which every species' APCER is at
    most ``target``: the lowest, because BPCER only grows with the threshold.

    With a species' scores sorted high to low, at most ``k = floor(target * n)`` may reach the
    threshold, so it must lie just above the (k+1)-th highest score. None when no attack was
    scored; above 1.0 when even the highest threshold lets too many through (unreachable)."""
    step = 10.0 ** -decimals
    needed = 0.0
    any_scored = False
    for scores in attacks.values():
        if not scores:
            continue
        any_scored = True
        ranked = sorted(scores, reverse=True)
        k = math.floor(target * len(ranked) + 1e-9)
        if k >= len(ranked):
            continue
        needed = max(needed, math.floor(ranked[k] / step + 1e-9) * step + step)
    if not any_scored:
        return None
    return round(max(needed, step), decimals)


def det_points(bona_fide: Sequence[float], attacks: dict[str, list[float]]
               ) -> list[dict[str, float]]:
    """(threshold, APCER, BPCER) at every distinct score and just above the highest: the
    whole DET curve, with the system APCER (worst species)."""
    values = sorted({*bona_fide, *(s for v in attacks.values() for s in v)})
    thresholds = [0.0, *values, (values[-1] + 1e-6) if values else 1.0]
    out = []
    for t in thresholds:
        rates = error_rates(bona_fide, attacks, t)
        out.append({"threshold": round(t, 6), "apcer": rates["apcer"], "bpcer": rates["bpcer"]})
    return out


# --- scoring presentations ------------------------------------------------------------------

def score_photo(engine: FaceEngine, scorer: Scorer, rgb: Image) -> tuple[int, float | None]:
    """(faces found, score of the largest) for a still photo; see the module docstring."""
    found = find_faces(engine, rgb, upsample=1)
    if not found.boxes:
        return 0, None
    box = found.original_box(max(found.boxes, key=box_size))
    top, right, bottom, left = box
    if bottom - top < 2 or right - left < 2:
        return len(found.boxes), None
    return len(found.boxes), float(scorer(rgb, box))


def clip_frames(path: Path, limit: int = MAX_CLIP_FRAMES) -> Iterator[Image]:
    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            raise ImageError(f"{path}: not a readable video")
        for _ in range(limit):
            ok, bgr = capture.read()
            if not ok:
                return
            yield np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    finally:
        capture.release()


def score_clip(engine: FaceEngine, scorer: Scorer, settings: PipelineSettings,
               frames: Iterator[Image]) -> tuple[int, int, float | None]:
    """(most faces seen in a frame, frames read, fused score of the first face track to get
    one) through the lane's pipeline; stops as soon as a score is final."""
    pipeline = FacePipeline(engine, Gallery.from_rows([]), settings, liveness_scorer=scorer)
    most, read = 0, 0
    for i, rgb in enumerate(frames):
        read += 1
        sightings = pipeline.process(rgb, i / 10)
        most = max(most, len(sightings))
        scored = [s.liveness for s in sightings if s.liveness is not None]
        if scored:
            return most, read, scored[0]
    return most, read, None


def clip_settings(faces: FacesConfig) -> PipelineSettings:
    """The lane's pipeline settings with liveness on (as ``gate.faces.pipeline_settings``)."""
    return PipelineSettings(detect_scale=faces.detect_scale, min_face_px=faces.min_face_px,
                            min_sharpness=faces.min_sharpness, liveness=True,
                            liveness_frames=faces.liveness_frames)


def run(root: Path, faces: FacesConfig, target_apcer: float = 0.05,
        engine: FaceEngine | None = None, scorer: Scorer | None = None,
        progress: Callable[[LivenessRow], None] | None = None
        ) -> tuple[list[LivenessRow], dict[str, Any]]:
    """Score every presentation; returns the rows (in order) and the summary."""
    presentations = load_set(root)
    engine = engine or DlibFaceEngine()
    if scorer is None:
        from recognition.liveness import liveness_score

        scorer = liveness_score
    settings = clip_settings(faces)
    rows = []
    for p in presentations:
        clip = p.path.suffix.lower() in VIDEO_SUFFIXES
        row = LivenessRow(str(p.path.relative_to(root)), p.label, p.species,
                          "clip" if clip else "photo")
        start = time.perf_counter()
        try:
            if clip:
                row.faces, row.frames, row.score = score_clip(engine, scorer, settings,
                                                              clip_frames(p.path))
            else:
                row.frames = 1
                row.faces, row.score = score_photo(engine, scorer, load_rgb(p.path))
        except ImageError as exc:
            row.error = str(exc)
        row.ms = (time.perf_counter() - start) * 1000
        if row.score is not None:
            row.live = is_live(row.score, faces.liveness_threshold)
        rows.append(row)
        if progress:
            progress(row)
    return rows, summarise(rows, faces.liveness_threshold, target_apcer)


def summarise(rows: list[LivenessRow], threshold: float, target_apcer: float
              ) -> dict[str, Any]:
    bona = [r.score for r in rows if r.label == BONA_FIDE and r.score is not None]
    attacks: dict[str, list[float]] = {}
    for r in rows:
        if r.label == ATTACK:
            scores = attacks.setdefault(r.species, [])
            if r.score is not None:
                scores.append(r.score)
    if not bona or not any(attacks.values()):
        raise EvaluationError("no face was found in any live photo or in any spoof: "
                              "nothing to measure")
    chosen = threshold_for_apcer(attacks, target_apcer)
    at_chosen = error_rates(bona, attacks, chosen) if chosen is not None and chosen <= 1 \
        else None
    times = [r.ms for r in rows if r.error is None]
    return {
        "bona_fide": sum(r.label == BONA_FIDE for r in rows),
        "attacks": sum(r.label == ATTACK for r in rows),
        "attack_species": {k: sum(r.label == ATTACK and r.species == k for r in rows)
                           for k in sorted(attacks)},
        "scored_bona_fide": len(bona), "scored_attacks": sum(len(v) for v in attacks.values()),
        "no_face_bona_fide": sum(r.label == BONA_FIDE and r.score is None and r.error is None
                                 for r in rows),
        "no_face_attacks": sum(r.label == ATTACK and r.score is None and r.error is None
                               for r in rows),
        "errors": sum(r.error is not None for r in rows),
        "configured": error_rates(bona, attacks, threshold),
        "target_apcer": target_apcer,
        "threshold_for_target": chosen,
        "at_target": at_chosen,
        "bona_fide_scores": _spread(bona),
        "attack_scores": _spread([s for v in attacks.values() for s in v]),
        "ms_median": round(statistics.median(times), 1) if times else None,
        "det": det_points(bona, attacks),
    }


def _spread(scores: list[float]) -> dict[str, float]:
    q = np.quantile(np.asarray(scores), [0.0, 0.1, 0.5, 0.9, 1.0])
    return dict(zip(("min", "p10", "median", "p90", "max"), (round(float(v), 4) for v in q),
                    strict=True))
