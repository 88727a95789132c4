"""The live view of a lane camera for the guard console: a small JPEG of the latest frame
with each face or plate boxed and labelled, a few times a second.

Drawn in the worker from the frame it has just analysed, so the boxes are the ones the
decisions use; downscaled first, so a view costs a few milliseconds and a few dozen KB.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import cv2

from recognition.face_engine import Image

if TYPE_CHECKING:
    from recognition.pipeline import FaceSighting

#: x, y, width, height in the full frame, the label, and whether it is known (green) or not.
Mark = tuple[tuple[int, int, int, int], str, bool]


@dataclass(frozen=True)
class CameraView:
    camera_id: str
    ts: float  # wall clock (epoch seconds) of the frame
    jpeg: bytes
    marks: int  # how many faces or plates are boxed


def draw_view(frame: Image, marks: Sequence[Mark], rgb: bool, width: int = 640,
              quality: int = 70) -> bytes:
    bgr = cv2.cvtColor(frame, cv2.COLOR_RGB2BGR) if rgb else frame.copy()
    scale = min(1.0, width / bgr.shape[1])
    if scale < 1.0:
        bgr = cv2.resize(bgr, (round(bgr.shape[1] * scale), round(bgr.shape[0] * scale)),
                         interpolation=cv2.INTER_AREA)
    for (x, y, w, h), label, known in marks:
        colour = (60, 200, 60) if known else (40, 160, 255)
        p1 = (round(x * scale), round(y * scale))
        p2 = (round((x + w) * scale), round((y + h) * scale))
        cv2.rectangle(bgr, p1, p2, colour, 2)
        cv2.putText(bgr, label, (p1[0], max(12, p1[1] - 4)), cv2.FONT_HERSHEY_SIMPLEX, 0.45,
                    colour, 1, cv2.LINE_AA)
    ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
    return buf.tobytes() if ok else b""


def face_marks(faces: Sequence[FaceSighting]) -> list[Mark]:
    """Boxes of tracked faces (``box`` is top, right, bottom, left)."""
    out: list[Mark] = []
    for f in faces:
        top, right, bottom, left = f.box
        out.append(((left, top, right - left, bottom - top),
                    f"#{f.track_id} {f.person_id or '?'}", f.person_id is not None))
    return out
