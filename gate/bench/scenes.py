"""Camera-like frames and labelled probe sets built from the shipped real photos.

The shipped set is small (five people), so the benchmarks and tests compose
the real photos onto 720p backgrounds and make variations of them (flip,
scale, blur, light, JPEG, tilt), as a gate camera would see them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from gate.demo_media import demo_data_dir
from recognition.face_engine import Box, FaceEngine, Image
from recognition.images import load_rgb

FACES = demo_data_dir() / "faces"

# Enrolment photos per person, and probe photos with the people in them from left to right
# (None: a person who is never enrolled).
TRAIN: dict[str, list[str]] = {
    "alex_lacamoire": ["train/alex_lacamoire/img1.jpg"],
    "biden": ["train/biden/biden.jpg", "train/biden/biden2.jpg"],
    "kit_harington": ["train/kit_harington/john1.jpeg", "train/kit_harington/john2.jpeg"],
    "obama": ["train/obama/obama.jpg", "train/obama/obama2.jpg"],
    "rose_leslie": ["train/rose_leslie/img1.jpg", "train/rose_leslie/img2.jpg"],
}
PROBES: list[tuple[str, list[str | None]]] = [
    ("test/alex_lacamoire1.jpg", ["alex_lacamoire"]),
    ("test/johnsnow_test1.jpg", ["kit_harington"]),
    ("test/kit_with_rose.jpg", ["rose_leslie", "kit_harington"]),
    ("test/obama1.jpg", ["obama"]),
    ("test/obama_and_biden.jpg", ["biden", "obama", None]),
    ("obama3.jpg", ["obama"]),
    ("obama_partial_face.jpg", ["obama"]),
]


def photo(rel: str) -> Image:
    return load_rgb(FACES / rel)


Affine = np.ndarray  # 2 x 3: original pixel coordinates -> variant pixel coordinates
_SAME: Affine = np.array([[1.0, 0, 0], [0, 1.0, 0]])


def variations(rgb: Image, quick: bool = False) -> Iterator[tuple[str, Image, Affine]]:
    """(name, image, where each original pixel went) for the ways a camera may see a photo."""
    h, w = rgb.shape[:2]
    yield "original", rgb, _SAME
    yield "mirrored", np.ascontiguousarray(rgb[:, ::-1]), np.array([[-1.0, 0, w - 1], [0, 1, 0]])
    yield "blurred", cv2.GaussianBlur(rgb, (5, 5), 0), _SAME
    if quick:
        return
    yield "small", cv2.resize(rgb, (int(w * 0.6), int(h * 0.6)), interpolation=cv2.INTER_AREA), \
        np.array([[0.6, 0, 0], [0, 0.6, 0]])
    dark = np.clip(255.0 * (rgb / 255.0) ** 1.8, 0, 255).astype(np.uint8)
    yield "dark", dark, _SAME
    yield "bright", cv2.convertScaleAbs(rgb, alpha=1.15, beta=35), _SAME
    ok, buf = cv2.imencode(".jpg", rgb, [cv2.IMWRITE_JPEG_QUALITY, 25])
    assert ok
    jpeg = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    assert jpeg is not None
    yield "jpeg25", jpeg, _SAME
    m = cv2.getRotationMatrix2D((w / 2, h / 2), 8, 1.0)
    yield "tilted", cv2.warpAffine(rgb, m, (w, h), borderMode=cv2.BORDER_REFLECT), m


def background(width: int = 1280, height: int = 720, seed: int = 0) -> Image:
    """A plausible gate scene without faces: sky-to-ground gradient, posts, texture."""
    rng = np.random.default_rng(seed)
    y = np.linspace(0, 1, height, dtype=np.float32)[:, None, None]
    top, bottom = np.array([170, 190, 210], np.float32), np.array([90, 85, 80], np.float32)
    img = (top * (1 - y) + bottom * y) * np.ones((1, width, 1), np.float32)
    for x in rng.integers(0, width, 6):
        img[:, x:x + 24] *= 0.6
    img += rng.normal(0, 6, img.shape)
    out: Image = np.clip(img, 0, 255).astype(np.uint8)
    return out


@dataclass(frozen=True)
class Head:
    """A head cut out of a real photo, to be pasted into scenes."""

    label: str
    rgb: Image
    face_height: int  # the face box height inside ``rgb``


def cut_head(engine: FaceEngine, rel: str, label: str, index: int = 0) -> Head:
    rgb = photo(rel)
    boxes: list[Box] = sorted(engine.detect(rgb, upsample=1), key=lambda b: b[3])
    top, right, bottom, left = boxes[index]
    fh, fw = bottom - top, right - left
    t, b = max(0, top - fh // 2), min(rgb.shape[0], bottom + fh // 3)
    lft, r = max(0, left - fw // 3), min(rgb.shape[1], right + fw // 3)
    return Head(label, np.ascontiguousarray(rgb[t:b, lft:r]), fh)


def paste(scene: Image, head: Head, center_x: int, center_y: int, face_px: int) -> Image:
    """Paste ``head`` so that its face is about ``face_px`` tall, centred at (x, y)."""
    scale = face_px / head.face_height
    h, w = head.rgb.shape[:2]
    nh, nw = max(1, int(h * scale)), max(1, int(w * scale))
    img = cv2.resize(head.rgb, (nw, nh), interpolation=cv2.INTER_AREA if scale < 1
                     else cv2.INTER_LINEAR)
    y0, x0 = center_y - nh // 2, center_x - nw // 2
    sy0, sx0 = max(0, -y0), max(0, -x0)
    y0, x0 = max(0, y0), max(0, x0)
    y1, x1 = min(scene.shape[0], y0 + nh - sy0), min(scene.shape[1], x0 + nw - sx0)
    scene[y0:y1, x0:x1] = img[sy0:sy0 + (y1 - y0), sx0:sx0 + (x1 - x0)]
    return scene


def walking_frames(heads: list[Head], frames: int, width: int = 1280, height: int = 720
                   ) -> Iterator[Image]:
    """People walking toward a gate camera: they cross the frame and grow as they approach."""
    base = background(width, height)
    for i in range(frames):
        scene = base.copy()
        t = i / max(1, frames - 1)
        for k, head in enumerate(heads):
            x = int(width * (0.2 + 0.3 * k) + 60 * np.sin(2 * np.pi * t + k))
            y = int(height * 0.45 + 20 * k)
            paste(scene, head, x, y, int(150 + 70 * t))
        yield scene
