"""The face model seam: detect, encode, distance.

The pipeline, gallery and enrolment only talk to ``FaceEngine``; dlib via
face_recognition is the default implementation, and a site can plug in
another model without touching them.
"""

from __future__ import annotations

import warnings
from typing import Any, Protocol

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
        if not boxes:
            return np.empty((0, self.dimensions), dtype=np.float32)
        encodings = self._fr.face_encodings(rgb, known_face_locations=boxes,
                                            num_jitters=self.jitters,
                                            model=self.landmarks_model)
        return np.asarray(encodings, dtype=np.float32).reshape(len(boxes), self.dimensions)

    def landmarks(self, rgb: Image, boxes: list[Box]) -> list[dict[str, list[tuple[int, int]]]]:
        """The 68-point landmarks per box (eyes, nose, jaw), for enrolment quality checks."""
        marks: list[dict[str, list[tuple[int, int]]]] = self._fr.face_landmarks(
            rgb, face_locations=boxes, model="large")
        return marks

