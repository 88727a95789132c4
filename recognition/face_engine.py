"""The face model seam: detect, encode, distance.

The pipeline, gallery and enrolment only talk to ``FaceEngine``; dlib via
face_recognition is the default implementation, and a site can plug in
another model without touching them.
"""

from __future__ import annotations

import functools
import math
import warnings
from typing import Any, Protocol

import cv2
import numpy as np
import numpy.typing as npt

Box = tuple[int, int, int, int]  # top, right, bottom, left (face_recognition's order)
Image = npt.NDArray[Any]  # H x W x 3, uint8, RGB (OpenCV's own stubs type arrays loosely)
Vectors = npt.NDArray[np.float32]


class FaceEngine(Protocol):
    name: str
    dimensions: int

    def detect(self, rgb: Image, upsample: int = 0) -> list[Box]: ...

    def encode(self, rgb: Image, boxes: list[Box]) -> Vectors: ...


def import_face_recognition() -> Any:
    """face_recognition, without the pkg_resources deprecation warning its model package
    prints on every start (pyproject pins a setuptools that still has pkg_resources)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="pkg_resources is deprecated")
        import face_recognition
    return face_recognition


CHIP_SIZE = 150  # dlib's aligned face chip for the ResNet encoder (get_face_chip's default)
CHIP_PADDING = 0.25


@functools.cache
def jitter_transforms(count: int) -> tuple[npt.NDArray[np.float64], ...]:
    """``count`` fixed 2x3 affine maps of a face chip: the first the chip itself, then small
    shifts (2 %), scalings (3 %), rotations (3 degrees) and every other one mirrored, the
    perturbations dlib's own jitter draws. Fixed, not drawn: dlib draws them from one random
    generator that lives as long as the process, so the same photo encoded twice got
    encodings 0.06 apart (more than the identification margin), and ``gate faces evaluate``
    could not give the verdicts of ``gate faces identify`` on the same file."""
    rng = np.random.default_rng(20261205)
    centre = (CHIP_SIZE - 1) / 2
    out = []
    for i in range(count):
        if i == 0:
            out.append(np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]))
            continue
        angle = math.radians(rng.uniform(-3, 3))
        scale = 1 + rng.uniform(-0.03, 0.03)
        dx, dy = rng.uniform(-0.02, 0.02, 2) * CHIP_SIZE
        m = cv2.getRotationMatrix2D((centre, centre), math.degrees(angle), scale)
        m[:, 2] += (dx, dy)
        if i % 2:
            m = np.array([[-1.0, 0.0, CHIP_SIZE - 1], [0.0, 1.0, 0.0]]) @ np.vstack(
                [m, [0.0, 0.0, 1.0]])
        out.append(m)
    return tuple(out)


class DlibFaceEngine:
    """face_recognition (dlib): HOG detector and the 128-d ResNet encoder.

    The CNN detector is not offered: it takes seconds per frame on a CPU. Faces are aligned
    for the encoder with the 68-point landmarks, not the 5-point ones: on 214 real photos of 23
    people (README "Tuning face thresholds") the same encoder then identified 0.952 instead of
    0.905 of held-out probes near the chosen threshold, for about 1 ms more per encoding.
    """

    name = "dlib-resnet-128-68pt"
    dimensions = 128

    def __init__(self, jitters: int = 1, landmarks: str = "large") -> None:
        self._fr = import_face_recognition()  # heavy (loads models): only when an engine is made
        self.jitters = jitters
        self.landmarks_model = landmarks

    def detect(self, rgb: Image, upsample: int = 0) -> list[Box]:
        found = self._fr.face_locations(rgb, number_of_times_to_upsample=upsample, model="hog")
        return [(int(t), int(r), int(b), int(lft)) for t, r, b, lft in found]

    def encode(self, rgb: Image, boxes: list[Box]) -> Vectors:
        """One encoding per box; with ``jitters`` > 1 the mean over that many fixed
        perturbations of the aligned chip (``jitter_transforms``), so the same face in the
        same photo always gets the same encoding."""
        if not boxes:
            return np.empty((0, self.dimensions), dtype=np.float32)
        if self.jitters <= 1:
            encodings = self._fr.face_encodings(rgb, known_face_locations=boxes,
                                                num_jitters=1, model=self.landmarks_model)
            return np.asarray(encodings, dtype=np.float32).reshape(len(boxes), self.dimensions)
        import dlib

        api = self._fr.api
        predictor = (api.pose_predictor_68_point if self.landmarks_model == "large"
                     else api.pose_predictor_5_point)
        image = np.ascontiguousarray(rgb, dtype=np.uint8)
        out = np.empty((len(boxes), self.dimensions), dtype=np.float32)
        for i, (top, right, bottom, left) in enumerate(boxes):
            shape = predictor(image, dlib.rectangle(left, top, right, bottom))
            chip = dlib.get_face_chip(image, shape, size=CHIP_SIZE, padding=CHIP_PADDING)
            chips = [chip if j == 0 else
                     cv2.warpAffine(chip, m, (CHIP_SIZE, CHIP_SIZE), flags=cv2.INTER_LINEAR,
                                    borderMode=cv2.BORDER_REFLECT)
                     for j, m in enumerate(jitter_transforms(self.jitters))]
            vectors = np.asarray(api.face_encoder.compute_face_descriptor(chips))
            out[i] = vectors.mean(axis=0)
        return out

    def landmarks(self, rgb: Image, boxes: list[Box]) -> list[dict[str, list[tuple[int, int]]]]:
        """The 68-point landmarks per box (eyes, nose, jaw), for enrolment quality checks."""
        marks: list[dict[str, list[tuple[int, int]]]] = self._fr.face_landmarks(
            rgb, face_locations=boxes, model="large")
        return marks

