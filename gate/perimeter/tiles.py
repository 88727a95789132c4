"""Zoomed looks at what moves: the SAHI idea (slicing aided inference), gated by motion.

A person 50-100 m away is 20-40 px tall in the frame and smaller still at the model input,
where YOLOX-nano finds fewer than half of them (README "Lens and resolution"). Slicing the whole
frame into tiles would multiply the cost of every frame; but on a fixed camera the motion gate
already knows where something moves. So each small moving region gets one square crop, enlarged
to the tile model's input (up to ``MAX_ZOOM`` times the frame's own pixels, and at least
``MIN_GAIN`` times the full-frame view's scale, or it is not worth a look), and the boxes found
there join the full-frame ones before non-maximum suppression. The number of crops per frame is
capped (``perimeter.tiles_per_frame``), which bounds the extra time per frame; a cap in crops,
not milliseconds, keeps ``gate perimeter analyse`` independent of how busy the machine is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from gate.perimeter.detector import Detections, Detector, concat, suppress

MAX_ZOOM = 2.0  # beyond twice the camera's pixels, enlarging adds no detail
MIN_GAIN = 1.5  # a crop must show the region at least this much larger than the full view
PAD = 1.6  # the crop is this much larger than the moving region (context for the model)
EDGE = 2.0  # px: a box this close to a crop's inner edge is a person cut in half: dropped

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class Tile:
    """A crop (frame pixels, x2/y2 exclusive) and its zoom (tile model pixels per frame pixel)."""

    x1: int
    y1: int
    x2: int
    y2: int
    zoom: float

    def contains(self, box: Box) -> bool:
        x1, y1, x2, y2 = box
        return x1 >= self.x1 and y1 >= self.y1 and x2 <= self.x2 and y2 <= self.y2


def plan_tiles(regions: Sequence[Box], width: int, height: int, tile_px: int,
               full_zoom: float, limit: int) -> list[Tile]:
    """At most ``limit`` crops for the moving ``regions`` (largest first), skipping regions too
    large to gain from a zoom and regions inside a crop already planned."""
    zoom = min(MAX_ZOOM, 2 * full_zoom)  # twice the full view's detail, where the camera has it
    tiles: list[Tile] = []
    for region in regions:
        if len(tiles) >= limit:
            break
        if any(t.contains(region) for t in tiles):
            continue
        x1, y1, x2, y2 = region
        side = max(tile_px / zoom, PAD * max(x2 - x1, y2 - y1))
        z = tile_px / side
        if z < MIN_GAIN * full_zoom:
            continue  # big enough for the full view already
        side = min(side, width, height)
        cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
        left = round(min(max(cx - side / 2, 0), width - side))
        top = round(min(max(cy - side / 2, 0), height - side))
        s = round(side)
        tiles.append(Tile(left, top, left + s, top + s, tile_px / s))
    return tiles


def inner_edge(box: Box, tile: Tile, width: int, height: int) -> bool:
    """True when the box touches a side of the crop that is not the frame's own edge."""
    x1, y1, x2, y2 = box
    return ((tile.x1 > 0 and x1 <= tile.x1 + EDGE) or (tile.y1 > 0 and y1 <= tile.y1 + EDGE)
            or (tile.x2 < width and x2 >= tile.x2 - EDGE)
            or (tile.y2 < height and y2 >= tile.y2 - EDGE))


def detect_tiles(detector: Detector, frame: npt.NDArray[Any], tiles: Sequence[Tile],
                 min_score: float = 0.1) -> Detections:
    """The candidates of every crop, in frame pixels, without those cut by a crop's edge."""
    h, w = frame.shape[:2]
    parts = []
    for tile in tiles:
        found = detector.candidates(frame[tile.y1:tile.y2, tile.x1:tile.x2], min_score)
        if not len(found):
            continue
        boxes = found.boxes + np.array([tile.x1, tile.y1, tile.x1, tile.y1], np.float32)
        keep = np.array([not inner_edge((float(b[0]), float(b[1]), float(b[2]), float(b[3])),
                                        tile, w, h) for b in boxes], dtype=np.bool_)
        parts.append(Detections(boxes, found.scores, found.classes).select(keep))
    return concat(parts)


def merge(full: Detections, zoomed: Detections, min_score: float = 0.1,
          iou: float = 0.45) -> Detections:
    """One set of boxes: where the full view and a crop saw the same object, the more
    confident box stays."""
    return suppress(concat([full, zoomed]), min_score, iou)
