"""Face quality: too small or too blurred faces are not worth an 80 ms encoding."""

from __future__ import annotations

import cv2
import numpy as np

from recognition.face_engine import Box, Image


def box_size(box: Box) -> int:
    top, right, bottom, left = box
    return min(bottom - top, right - left)


def sharpness(rgb: Image, box: Box) -> float:
    """Variance of the Laplacian of the face, normalised to a 96 px crop so sizes compare."""
    top, right, bottom, left = box
    h, w = rgb.shape[:2]
    crop = rgb[max(0, top):min(h, bottom), max(0, left):min(w, right)]
    if crop.size == 0:
        return 0.0
    gray = cv2.cvtColor(np.ascontiguousarray(crop), cv2.COLOR_RGB2GRAY)
    gray = cv2.resize(gray, (96, 96), interpolation=cv2.INTER_AREA)
    return float(cv2.Laplacian(gray, cv2.CV_64F).var())


def quality_weight(size: int, sharp: float) -> float:
    """How much one observation counts toward a track's identity: bigger and sharper count more."""
    return float(min(size, 200) / 200.0 * min(sharp, 300.0) / 300.0) + 1e-3
