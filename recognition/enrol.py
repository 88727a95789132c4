"""Enrolment photos: one usable face, a template worth keeping, or a reason the admin can act on.

A weak enrolment photo costs more than a missing one: a blurred, turned or
eyes-closed template sits closer to strangers and further from its owner, so
the gate either misses the child every morning or needs a looser threshold
for everybody. Each photo gets a verdict: ``ok``, ``warn`` (enrolled, but the
admin should replace it) or ``reject`` (not enrolled), with its reasons.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np

from recognition.face_engine import Box, FaceEngine, Image, Vectors
from recognition.photos import PhotoFaces, find_faces
from recognition.quality import box_size, sharpness

Verdict = Literal["ok", "warn", "reject"]


class EnrolmentRejected(ValueError):
    """The photo cannot be enrolled; the message says why."""


@runtime_checkable
class LandmarkEngine(Protocol):
    def landmarks(self, rgb: Image, boxes: list[Box]) -> list[dict[str, list[tuple[int, int]]]]:
        ...


@dataclass(frozen=True)
class EnrolmentQuality:
    min_face_px: int = 60
    min_sharpness: float = 15.0
    warn_sharpness: float = 30.0  # below this (and above min_sharpness): enrolled with a warning
    min_eye_openness: float = 0.17  # eye aspect ratio; open eyes are about 0.25-0.35
    max_yaw_ratio: float = 2.5  # nose-to-jaw distance, far side over near side; frontal is 1
    warn_yaw_ratio: float = 1.7


@dataclass(frozen=True)
class QualityReport:
    verdict: Verdict
    reasons: tuple[str, ...]
    face_px: int = 0
    sharpness: float = 0.0
    faces: int = 1

    @property
    def reason(self) -> str:
        return "; ".join(self.reasons)

    def as_dict(self) -> dict[str, Any]:
        return {"verdict": self.verdict, "reasons": list(self.reasons), "face_px": self.face_px,
                "sharpness": round(self.sharpness, 1), "faces": self.faces}


@dataclass(frozen=True)
class Enrolment:
    encoding: Vectors | None  # None when rejected
    report: QualityReport


def _eye_openness(eye: list[tuple[int, int]]) -> float:
    """Eye aspect ratio (Soukupova and Cech 2016): eyelid gap over eye width."""
    p = np.asarray(eye, dtype=np.float64)
    gap = np.linalg.norm(p[1] - p[5]) + np.linalg.norm(p[2] - p[4])
    width = np.linalg.norm(p[0] - p[3])
    return float(gap / (2.0 * width)) if width else 0.0


def _yaw_ratio(marks: dict[str, list[tuple[int, int]]]) -> float:
    """How turned the head is: the nose tip's distance to the two jaw ends, larger over smaller."""
    chin = np.asarray(marks["chin"], dtype=np.float64)
    nose = np.asarray(marks["nose_tip"], dtype=np.float64).mean(axis=0)
    left = float(np.linalg.norm(nose - chin[0]))
    right = float(np.linalg.norm(nose - chin[-1]))
    return max(left, right) / max(min(left, right), 1e-6)


def assess(engine: FaceEngine, faces: PhotoFaces, quality: EnrolmentQuality) -> QualityReport:
    """The verdict on one photo's faces, worst reason first."""
    if not faces.boxes:
        return QualityReport("reject", ("no face found",), faces=0)
    if len(faces.boxes) > 1:
        return QualityReport("reject", (f"{len(faces.boxes)} faces found; an enrolment photo "
                                        "must show one",), faces=len(faces.boxes))
    box = faces.boxes[0]
    size = box_size(faces.original_box(box))
    sharp = sharpness(faces.image, box)
    rejects: list[str] = []
    warns: list[str] = []
    if size < quality.min_face_px:
        rejects.append(f"face too small ({size} px, at least {quality.min_face_px})")
    if sharp < quality.min_sharpness:
        rejects.append(f"face too blurred (sharpness {sharp:.1f}, at least "
                       f"{quality.min_sharpness})")
    elif sharp < quality.warn_sharpness:
        warns.append(f"face slightly blurred (sharpness {sharp:.1f})")
    if isinstance(engine, LandmarkEngine):
        marks = engine.landmarks(faces.image, [box])[0]
        openness = min(_eye_openness(marks["left_eye"]), _eye_openness(marks["right_eye"]))
        if openness < quality.min_eye_openness:
            warns.append(f"eyes look closed (openness {openness:.2f})")
        yaw = _yaw_ratio(marks)
        if yaw > quality.max_yaw_ratio:
            rejects.append(f"head strongly turned (ratio {yaw:.1f}); face the camera")
        elif yaw > quality.warn_yaw_ratio:
            warns.append(f"head somewhat turned (ratio {yaw:.1f})")
    if rejects:
        return QualityReport("reject", tuple(rejects + warns), size, sharp)
    return QualityReport("warn" if warns else "ok", tuple(warns), size, sharp)


def enrol_photo(engine: FaceEngine, rgb: Image,
                quality: EnrolmentQuality = EnrolmentQuality()) -> Enrolment:
    """Assess a photo and, unless rejected, encode its face. Detection upsamples once and pads
    small or tight photos: enrolment is offline, and photos may be small crops."""
    faces = find_faces(engine, rgb, upsample=1)
    report = assess(engine, faces, quality)
    if report.verdict == "reject":
        return Enrolment(None, report)
    encoding: Vectors = engine.encode(faces.image, faces.boxes)[0]
    return Enrolment(encoding, report)


def encode_enrolment_photo(engine: FaceEngine, rgb: Image,
                           quality: EnrolmentQuality = EnrolmentQuality()) -> Vectors:
    """The encoding of the one face in ``rgb``; EnrolmentRejected with the reasons if the photo
    would make a weak template."""
    result = enrol_photo(engine, rgb, quality)
    if result.encoding is None:
        raise EnrolmentRejected(result.report.reason)
    return result.encoding
