"""Faces in still photos (enrolment, ``gate faces identify``, evaluation), not camera frames.

Photos for enrolment are often passport-style or tightly cropped: the face
fills the picture. dlib's HOG detector scans an 80 px window and needs some
background around the face, and the encoder cuts a chip 25 % wider than the
face, so a tight crop gives "no face" or an encoding of a chip half made of
black border. So a small or tight photo is padded with its own edge colours
and upscaled before detection, and the boxes are mapped back for display.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from recognition.face_engine import Box, FaceEngine, Image
from recognition.gallery import Gallery, Identification
from recognition.quality import box_size

MIN_SIDE = 320  # photos smaller than this are upscaled (after padding) to about this size
# (pad fraction, extra upsampling) tried in turn until a face is found: measured on 214 aligned
# 112 px crops, one padding alone left 5 without a face, these four together 3 (profiles).
TRIES = ((0.35, 0), (0.2, 0), (0.5, 1), (0.8, 0))


@dataclass(frozen=True)
class PhotoFaces:
    """The faces of one photo, as boxes on ``image`` (the padded, rescaled photo)."""

    image: Image
    boxes: list[Box]
    scale: float
    pad: int

    def original_box(self, box: Box) -> Box:
        """A box on the photo as given (for display); clipped to it."""
        h, w = (round(s / self.scale) - 2 * self.pad for s in self.image.shape[:2])
        top, right, bottom, left = (round(v / self.scale) - self.pad for v in box)
        return max(0, top), min(w, right), min(h, bottom), max(0, left)


def prepare(rgb: Image, pad_fraction: float) -> tuple[Image, float, int]:
    """The photo padded by ``pad_fraction`` of its shorter side on every edge (edge colours,
    blurred so no hard line looks like a face border), then upscaled if small."""
    h, w = rgb.shape[:2]
    pad = round(min(h, w) * pad_fraction)
    img = rgb
    if pad:
        img = cv2.copyMakeBorder(rgb, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
        k = max(3, (pad // 2) | 1)
        blurred = cv2.GaussianBlur(img, (k, k), 0)
        mask = np.ones(img.shape[:2], dtype=bool)
        mask[pad:pad + h, pad:pad + w] = False
        img[mask] = blurred[mask]
    scale = 1.0
    side = min(img.shape[:2])
    if side < MIN_SIDE:
        scale = MIN_SIDE / side
        img = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    return np.ascontiguousarray(img), scale, pad


def find_faces(engine: FaceEngine, rgb: Image, upsample: int = 1) -> PhotoFaces:
    """Faces of a photo: as it is first when it is large; padded when it is small or when
    nothing was found (a tight crop), which is when the face is likely to fill it."""
    h, w = rgb.shape[:2]
    tight = min(h, w) < MIN_SIDE
    if not tight:
        boxes = engine.detect(rgb, upsample=upsample)
        if boxes:
            return PhotoFaces(rgb, boxes, 1.0, 0)
    found = PhotoFaces(rgb, [], 1.0, 0)
    # HOG is sensitive to where the face falls on its grid: small photos get every try; a large
    # photo with no face found gets one padded look (a face cut by the edge), not the costly
    # upsampled ones.
    for pad_fraction, extra in TRIES if tight else TRIES[1:2]:
        img, scale, pad = prepare(rgb, pad_fraction)
        found = PhotoFaces(img, engine.detect(img, upsample=upsample + extra), scale, pad)
        if found.boxes:
            break
    return found


@dataclass(frozen=True)
class PhotoMatch:
    """One face of a photo: its box on the photo as given, and who it is."""

    box: Box
    identification: Identification


def identify_photo(engine: FaceEngine, gallery: Gallery, rgb: Image, threshold: float,
                   margin: float) -> list[PhotoMatch]:
    """Every face of a still photo, identified: the one path of ``gate faces identify`` and
    of ``gate faces evaluate``'s probes, so a school's measurement is what the product says."""
    found = find_faces(engine, rgb, upsample=1)
    vectors = engine.encode(found.image, found.boxes)
    return [PhotoMatch(found.original_box(box), gallery.identify(vec, threshold, margin))
            for box, vec in zip(found.boxes, vectors, strict=True)]


def main_face(matches: list[PhotoMatch]) -> PhotoMatch | None:
    """The face a photo is about: the largest (the first of equals, in detection order)."""
    return max(matches, key=lambda m: box_size(m.box), default=None)
