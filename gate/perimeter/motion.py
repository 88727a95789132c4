"""Motion gating: background subtraction on a small grey copy of the frame decides whether the
detector needs to run, so an empty street costs about a millisecond a frame, not a detection."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

WIDTH = 320  # pixels across the copy that is compared; enough to see a 40 px person move


class MotionGate:
    """``moving(frame)`` is True when more than ``fraction`` of the view changed.

    MOG2 learns the background (trees in wind, light changes) and so ignores what keeps
    moving in place; the first ``warmup`` frames count as motion while it learns.
    """

    def __init__(self, fraction: float = 0.002, warmup: int = 5) -> None:
        self.fraction = fraction
        self.warmup = warmup
        self.seen = 0
        self.last_fraction = 0.0
        self._mog = cv2.createBackgroundSubtractorMOG2(history=300, varThreshold=25,
                                                       detectShadows=False)
        self._kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
        self._join = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 7))
        self._mask: npt.NDArray[Any] | None = None
        self._scale = 1.0

    def moving(self, bgr: npt.NDArray[Any]) -> bool:
        h, w = bgr.shape[:2]
        scale = WIDTH / w
        small = cv2.resize(bgr, (WIDTH, max(1, int(h * scale))), interpolation=cv2.INTER_AREA)
        grey = cv2.GaussianBlur(cv2.cvtColor(small, cv2.COLOR_BGR2GRAY), (5, 5), 0)
        mask = self._mog.apply(grey)
        mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, self._kernel)
        self._mask, self._scale = mask, scale
        self.last_fraction = float(np.count_nonzero(mask)) / mask.size
        self.seen += 1
        return self.seen <= self.warmup or self.last_fraction > self.fraction

    def regions(self, min_pixels: int = 4) -> list[tuple[float, float, float, float]]:
        """Boxes (x1, y1, x2, y2, frame pixels) around what moved in the last frame, largest
        area first; blobs a few pixels apart (a person's legs and head) are joined. Empty while
        the background is still being learnt: then everything "moves"."""
        if self._mask is None or self.seen <= self.warmup:
            return []
        joined = cv2.dilate(self._mask, self._join)
        count, _labels, stats, _c = cv2.connectedComponentsWithStats(joined, connectivity=8)
        out = []
        for x, y, w, h, area in stats[1:count]:
            if area >= min_pixels:
                out.append((int(area), (x / self._scale, y / self._scale,
                                        (x + w) / self._scale, (y + h) / self._scale)))
        out.sort(key=lambda a: -a[0])
        return [box for _area, box in out]
