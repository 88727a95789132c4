"""Enrolment photos: exactly one usable face, or a reason the admin can act on."""

from __future__ import annotations

from dataclasses import dataclass

from recognition.face_engine import FaceEngine, Image, Vectors
from recognition.quality import box_size, sharpness


class EnrolmentRejected(ValueError):
    """The photo cannot be enrolled; the message says why."""


@dataclass(frozen=True)
class EnrolmentQuality:
    min_face_px: int = 60
    min_sharpness: float = 15.0


def encode_enrolment_photo(engine: FaceEngine, rgb: Image,
                           quality: EnrolmentQuality = EnrolmentQuality()) -> Vectors:
    """The encoding of the one face in ``rgb``; EnrolmentRejected if there is not exactly one
    usable face. Detection upsamples once: enrolment is offline, and photos may be small."""
    boxes = engine.detect(rgb, upsample=1)
    if not boxes:
        raise EnrolmentRejected("no face found")
    if len(boxes) > 1:
        raise EnrolmentRejected(f"{len(boxes)} faces found; an enrolment photo must show one")
    box = boxes[0]
    size = box_size(box)
    if size < quality.min_face_px:
        raise EnrolmentRejected(f"face too small ({size} px, at least {quality.min_face_px})")
    sharp = sharpness(rgb, box)
    if sharp < quality.min_sharpness:
        raise EnrolmentRejected(f"face too blurred (sharpness {sharp:.1f}, at least "
                                f"{quality.min_sharpness})")
    encoding: Vectors = engine.encode(rgb, [box])[0]
    return encoding
