"""Evidence pictures: the frame with the zone, the track's path and its box drawn on it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from gate.perimeter.geometry import Point

Frame = npt.NDArray[Any]  # H x W x 3 uint8 BGR (OpenCV's stubs type arrays loosely)
ZONE_COLOUR = (0, 200, 255)  # BGR amber
PATH_COLOUR = (0, 0, 255)
TRACK_COLOUR = (0, 255, 0)
MAX_WIDTH = 960  # snapshots travel to the police: keep them small


def draw_zone(img: Frame, polygon: Sequence[Point], label: str) -> None:
    pts = np.array(polygon, np.int32).reshape(-1, 1, 2)
    cv2.polylines(img, [pts], True, ZONE_COLOUR, 2, cv2.LINE_AA)
    x, y = (int(v) for v in polygon[0])
    cv2.putText(img, label, (x + 4, max(14, y - 6)), cv2.FONT_HERSHEY_SIMPLEX, 0.5, ZONE_COLOUR, 1,
                cv2.LINE_AA)


def draw_path(img: Frame, path: Sequence[Point],
              colour: tuple[int, int, int] = PATH_COLOUR) -> None:
    if len(path) > 1:
        pts = np.array(path, np.int32).reshape(-1, 1, 2)
        cv2.polylines(img, [pts], False, colour, 2, cv2.LINE_AA)
    if path:
        cv2.circle(img, (int(path[-1][0]), int(path[-1][1])), 4, colour, -1, cv2.LINE_AA)


def draw_box(img: Frame, box: tuple[float, float, float, float], label: str,
             colour: tuple[int, int, int] = TRACK_COLOUR) -> None:
    x1, y1, x2, y2 = (int(v) for v in box)
    cv2.rectangle(img, (x1, y1), (x2, y2), colour, 2)
    cv2.putText(img, label, (x1, max(12, y1 - 4)), cv2.FONT_HERSHEY_SIMPLEX, 0.45, colour, 1,
                cv2.LINE_AA)


def encode(img: Frame, quality: int = 80) -> bytes:
    h, w = img.shape[:2]
    if w > MAX_WIDTH:
        img = cv2.resize(img, (MAX_WIDTH, int(h * MAX_WIDTH / w)), interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return bytes(buf)


def snapshot(frame: Frame, zones: Iterable[tuple[str, Sequence[Point]]], path: Sequence[Point],
             box: tuple[float, float, float, float] | None, label: str) -> bytes:
    img = frame.copy()
    for zone_id, polygon in zones:
        draw_zone(img, polygon, zone_id)
    draw_path(img, path)
    if box is not None:
        draw_box(img, box, label, PATH_COLOUR)
    return encode(img)
