"""Evidence JPEGs cut in the recognition worker, from the very frame that was encoded.

A decision at the gate rests on a face template or a plate read taken from one
frame; the guard and the police need to see that frame, not a later one. The
worker therefore encodes, only when a track is (re-)encoded or a plate is voted,
a downscaled scene and a tight crop, each capped in bytes: quality steps down
until it fits, then the picture shrinks. Nothing here touches the disk: the
gate process encrypts and writes them off the decision path.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from recognition.face_engine import Box, Image


@dataclass(frozen=True)
class SnapshotSettings:
    quality: int = 70
    max_width: int = 640
    max_bytes: int = 120_000
    crop_max_width: int = 200


def jpeg_capped(image: Image, max_width: int, quality: int, max_bytes: int,
                rgb: bool = True) -> bytes | None:
    """A JPEG no wider than ``max_width`` and no larger than ``max_bytes``, or None."""
    if image.size == 0:
        return None
    bgr = cv2.cvtColor(image, cv2.COLOR_RGB2BGR) if rgb else image
    width = min(max_width, bgr.shape[1])
    q = quality
    while width >= 32:
        scaled = bgr if width == bgr.shape[1] else cv2.resize(
            bgr, (width, max(1, round(bgr.shape[0] * width / bgr.shape[1]))),
            interpolation=cv2.INTER_AREA)
        ok, buf = cv2.imencode(".jpg", scaled, [cv2.IMWRITE_JPEG_QUALITY, q])
        if ok and buf.nbytes <= max_bytes:
            return bytes(buf.tobytes())
        if q > 35:
            q -= 15
        else:
            width = int(width * 0.7)
    return None


def crop(image: Image, box: Box, margin: float = 0.35) -> Image:
    """The face box (top, right, bottom, left) with some margin around it."""
    top, right, bottom, left = box
    h, w = bottom - top, right - left
    y0, y1 = max(0, int(top - h * margin)), min(image.shape[0], int(bottom + h * margin))
    x0, x1 = max(0, int(left - w * margin)), min(image.shape[1], int(right + w * margin))
    return np.ascontiguousarray(image[y0:y1, x0:x1])


def scene_jpeg(frame: Image, s: SnapshotSettings, rgb: bool = True) -> bytes | None:
    return jpeg_capped(frame, s.max_width, s.quality, s.max_bytes, rgb)


def crop_jpeg(frame: Image, box: Box, s: SnapshotSettings, rgb: bool = True) -> bytes | None:
    return jpeg_capped(crop(frame, box), s.crop_max_width, s.quality, s.max_bytes, rgb)


def plate_box(xywh: tuple[int, int, int, int]) -> Box:
    x, y, w, h = xywh
    return (y, x + w, y + h, x)
