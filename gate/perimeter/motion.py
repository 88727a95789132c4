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

    def moving(self, bgr: npt.NDArray[Any]) -> bool:
        h, w = bgr.shape[:2]
        scale = WIDTH / w
        small = cv2.resize(bgr, (WIDTH, max(1, int(h * scale))), interpolation=cv2.INTER_AREA)
        grey = cv2.GaussianBlur(cv2.cvtColor(small, cv2.COLOR_BGR2GRAY), (5, 5), 0)
        mask = self._mog.apply(grey)
        mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, self._kernel)
        self.last_fraction = float(np.count_nonzero(mask)) / mask.size
        self.seen += 1
        return self.seen <= self.warmup or self.last_fraction > self.fraction
