"""Zone geometry and time windows: pure functions, no OpenCV, so rules test in microseconds."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

Point = tuple[float, float]
Window = tuple[dt.time, dt.time]


def inside(point: Point, polygon: Sequence[Point]) -> bool:
    """Even-odd ray casting; a point exactly on an edge may fall either way (a pixel's doubt)."""
    x, y = point
    hit = False
    n = len(polygon)
    for i in range(n):
        x1, y1 = polygon[i]
        x2, y2 = polygon[(i + 1) % n]
        if (y1 > y) != (y2 > y):
            cross = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
            if x < cross:
                hit = not hit
    return hit


def in_window(moment: dt.time, window: Window) -> bool:
    """``start <= moment < end``; a window whose end is not after its start wraps midnight."""
    start, end = window
    if start < end:
        return start <= moment < end
    return moment >= start or moment < end


def in_any(moment: dt.time, windows: Sequence[Window]) -> bool:
    return any(in_window(moment, w) for w in windows)
