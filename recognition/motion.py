"""Motion gating: background subtraction on a small grey copy of the frame decides whether the
detector needs to run, so an empty street or an empty lane costs a few milliseconds a frame,
not a detection (the perimeter's person detector, gate/perimeter/pipeline.py; a lane camera's
face detector, ``DetectionGate`` below and recognition/worker.py).

A share of the frame alone misses the people this is for: one person 24 px tall in a 1280x720
frame changes 0.02 % of it, a tenth of the default ``fraction``. So any moving blob of a
person's size also counts, and the copy is 640 px wide, not 320: at 320 such a person is 2 px
wide and the noise filter (a 3 px opening) erased them.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

WIDTH = 640  # pixels across the copy that is compared (never enlarged): a 24 px person is 12
LANE_WIDTH = 320  # a lane camera's faces (60 px and more) and cars are large: a quarter the cost
MIN_BLOB = 12  # px of the copy in one blob: motion, whatever share of the frame it is


class MotionGate:
    """``moving(frame)`` is True when more than ``fraction`` of the view changed, or one blob
    of ``MIN_BLOB`` pixels of the copy did (a small person far away).

    MOG2 learns the background (trees in wind, light changes) and so ignores what keeps
    moving in place; the first ``warmup`` frames count as motion while it learns.
    """

    def __init__(self, fraction: float = 0.002, warmup: int = 5, width: int = WIDTH) -> None:
        self.fraction = fraction
        self.warmup = warmup
        self.width = width
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
        width = min(self.width, w)
        scale = width / w
        small = cv2.resize(bgr, (width, max(1, int(h * scale))), interpolation=cv2.INTER_AREA)
        grey = cv2.GaussianBlur(cv2.cvtColor(small, cv2.COLOR_BGR2GRAY), (5, 5), 0)
        mask = self._mog.apply(grey)
        mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, self._kernel)
        self._mask, self._scale = mask, scale
        self.last_fraction = float(np.count_nonzero(mask)) / mask.size
        self.seen += 1
        if self.seen <= self.warmup or self.last_fraction > self.fraction:
            return True
        if np.count_nonzero(mask) < MIN_BLOB:
            return False
        count, _labels, stats, _c = cv2.connectedComponentsWithStats(mask, connectivity=8)
        return bool(count > 1 and stats[1:, cv2.CC_STAT_AREA].max() >= MIN_BLOB)

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


class DetectionGate:
    """Whether a frame needs the detector: a lane camera's face detector (a HOG pass of
    60-120 ms on the 2-core gate; at 8 fps an empty lane kept one core busy all night) or the
    perimeter's person detector.

    It does while someone is followed (a pupil standing still at the reader, a loiterer), when
    something moved, and at least every ``every_s`` seconds whatever the motion gate says, so
    someone the background model absorbed is still found within that time. The frames it
    skips are ones whose detection would have found what the last one found: nothing.
    """

    def __init__(self, every_s: float = 1.0, motion: MotionGate | None = None) -> None:
        self.every_s = every_s
        self.motion = motion or MotionGate()
        self._last: float | None = None
        self.moving = False  # what the motion gate said of the last frame

    def needed(self, frame: npt.NDArray[Any], tracking: bool, now: float) -> bool:
        """``tracking``: someone the detector must keep following; ``now``: seconds."""
        self.moving = self.motion.moving(frame)  # every frame: the background stays current
        if (tracking or self.moving or self.every_s <= 0 or self._last is None
                or now - self._last >= self.every_s):
            self._last = now
            return True
        return False
