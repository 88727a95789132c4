"""Head crops from person boxes, for the watch-list check of faces seen on perimeter cameras.

A face 50-100 m away is a few pixels; the face detector wants about 80 px. A crop of the top
of a person box is upscaled to that size, but only where the head has enough real pixels to be
worth it: upscaling adds no detail, and a match from a 10 px face would be a guess.
"""

from __future__ import annotations

import cv2

from gate.perimeter.drawing import Frame

HEAD_SHARE = 0.18  # a standing adult's head is about 1/7.5 of the height; keep some margin


def head_crop(frame: Frame, box: tuple[float, float, float, float], min_head_px: int = 16,
              target_head_px: int = 80) -> Frame | None:
    """The head of a person box, upscaled so the head is about ``target_head_px`` tall; None
    when the head is shorter than ``min_head_px`` in the frame."""
    x1, y1, x2, y2 = box
    head = (y2 - y1) * HEAD_SHARE
    if head < min_head_px:
        return None
    cx = (x1 + x2) / 2
    half = max(head, (x2 - x1) / 2) * 0.75
    h, w = frame.shape[:2]
    left, right = max(0, int(cx - half)), min(w, int(cx + half))
    top, bottom = max(0, int(y1 - head * 0.25)), min(h, int(y1 + head * 1.25))
    if right - left < 2 or bottom - top < 2:
        return None
    crop = frame[top:bottom, left:right]
    scale = max(1.0, target_head_px / head)
    if scale == 1.0:
        return crop.copy()
    return cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
