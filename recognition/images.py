"""Loading images with a clear error for anything that is not one."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from recognition.face_engine import Image


class ImageError(ValueError):
    """A file that cannot be used as an image; the message says why."""


def decode_rgb(data: bytes, name: str = "image") -> Image:
    if not data:
        raise ImageError(f"{name}: empty file")
    bgr = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    if bgr is None:
        raise ImageError(f"{name}: not a readable image (corrupt or unsupported format)")
    return np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))


def load_rgb(path: Path) -> Image:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ImageError(f"{path}: cannot read ({exc.strerror})") from None
    return decode_rgb(data, str(path))


def encode_jpeg(rgb: Image, quality: int = 85) -> bytes:
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR),
                           [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ImageError("JPEG encoding failed")
    return bytes(buf)
