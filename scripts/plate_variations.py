"""Variations of real plate photos, to see how plate reading holds beyond the light, lens and
distance of one development set.

    python scripts/plate_variations.py SRC_DIR OUT_DIR [--half odd|even|all]

SRC_DIR is a ``gate plates evaluate`` folder (images and ``labels.tsv``). OUT_DIR gets one such
folder per variation, the same file names and labels, ready for ``gate plates evaluate``:

- ``night``: dim light, a steeper tone curve and the sensor noise of a camera at high gain;
- ``blur``: motion blur of a car moving past, about 1 % of the frame's width;
- ``tilt``: the camera rolled by 6-10 degrees and looking from one side (one edge 15 % shorter);
- ``colour``: the white balance off, a warm street lamp or a cold dusk, and colours weaker;
- ``small``: the frame at half its size, as a car twice as far away.

Why variations of real photos and not generated plates: generated plates read 96 % and predict
nothing (README "Licence plates"), while one set of real photos comes from one city, one season
and a few cameras. A variation keeps the real plate, vehicle and clutter and changes one thing a
gate camera will meet. They are still not new photos: a school measures its own camera.
``--half odd`` (the default) keeps to the files the project never tuned on (odd numbers).
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

Image = npt.NDArray[Any]  # a BGR frame as OpenCV gives it


def night(bgr: Image, rng: np.random.Generator) -> Image:
    """Dim light: the tone curve pushes shadows down, the gain lifts noise; the camera's own
    noise reduction softens it a little."""
    out = 255.0 * (bgr.astype(np.float32) / 255.0) ** 1.8 * rng.uniform(0.45, 0.6)
    out += rng.normal(0, 7, out.shape)
    dark: Image = cv2.GaussianBlur(np.clip(out, 0, 255).astype(np.uint8), (3, 3), 0.7)
    return dark


def blur(bgr: Image, rng: np.random.Generator) -> Image:
    """A car moving past: a line kernel along a direction near the horizontal."""
    length = max(5, int(bgr.shape[1] * 0.01)) | 1
    line = np.zeros((length, length), np.float32)
    line[length // 2, :] = 1.0
    angle = rng.uniform(-15, 15)
    rot = cv2.getRotationMatrix2D((length / 2 - 0.5, length / 2 - 0.5), angle, 1.0)
    kernel = cv2.warpAffine(line, rot, (length, length))
    return cv2.filter2D(bgr, -1, kernel / kernel.sum())


def tilt(bgr: Image, rng: np.random.Generator) -> Image:
    """The camera rolled and looking from one side: a rotation, then one vertical edge of the
    frame 15 % shorter than the other."""
    h, w = bgr.shape[:2]
    side = rng.choice([-1.0, 1.0])
    rot = cv2.getRotationMatrix2D((w / 2, h / 2), side * rng.uniform(6, 10), 1.0)
    rolled = cv2.warpAffine(bgr, rot, (w, h), borderMode=cv2.BORDER_REPLICATE)
    shrink = 0.075 * h
    src = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
    near, far = (0.0, shrink) if side > 0 else (shrink, 0.0)
    dst = np.array([[0, near], [w, far], [w, h - far], [0, h - near]], np.float32)
    matrix = cv2.getPerspectiveTransform(src, dst)
    return cv2.warpPerspective(rolled, matrix, (w, h), borderMode=cv2.BORDER_REPLICATE)


def colour(bgr: Image, rng: np.random.Generator) -> Image:
    """White balance off: a sodium lamp's orange or dusk's blue, with weaker colours."""
    gains = (0.72, 0.95, 1.2) if rng.random() < 0.5 else (1.2, 1.0, 0.78)  # B, G, R
    out = bgr.astype(np.float32) * np.array(gains, np.float32)
    grey = out.mean(axis=2, keepdims=True)
    out = grey + (out - grey) * 0.7
    faded: Image = np.clip(out, 0, 255).astype(np.uint8)
    return faded


def small(bgr: Image, rng: np.random.Generator) -> Image:
    """The same scene from twice as far: half the pixels on the plate."""
    h, w = bgr.shape[:2]
    return cv2.resize(bgr, (w // 2, h // 2), interpolation=cv2.INTER_AREA)


VARIATIONS: dict[str, Callable[[Image, np.random.Generator], Image]] = {
    "night": night, "blur": blur, "tilt": tilt, "colour": colour, "small": small}


def number(name: str) -> int | None:
    """The file's number, which decides its half (gen_0007.jpg: 7)."""
    found = re.search(r"(\d+)", Path(name).stem)
    return int(found.group(1)) if found else None


def make(src: Path, out: Path, half: str = "odd") -> dict[str, int]:
    """Every variation of the chosen half of SRC; returns how many images each got."""
    rows = [line.split("\t") for line in (src / "labels.tsv").read_text("utf-8").splitlines()]
    header, body = (rows[0], rows[1:]) if rows and rows[0][0] == "file" else (None, rows)
    keep = [r for r in body if half == "all" or (
        (n := number(r[0])) is not None and n % 2 == (1 if half == "odd" else 0))]
    made: dict[str, int] = {}
    for index, (name, vary) in enumerate(VARIATIONS.items()):
        folder = out / name
        folder.mkdir(parents=True, exist_ok=True)
        written = []
        for row in keep:
            image = cv2.imread(str(src / row[0]), cv2.IMREAD_COLOR)
            if image is None:
                print(f"skipped {row[0]}: not an image OpenCV can read", file=sys.stderr)
                continue
            rng = np.random.default_rng([index, number(row[0]) or 0])
            ok = cv2.imwrite(str(folder / row[0]), vary(image, rng),
                             [cv2.IMWRITE_JPEG_QUALITY, 90])
            if not ok:
                raise OSError(f"could not write {folder / row[0]}")
            written.append("\t".join(row))
        lines = (["\t".join(header)] if header else []) + written
        (folder / "labels.tsv").write_text("\n".join(lines) + "\n", "utf-8")
        made[name] = len(written)
    return made


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("src", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--half", choices=("odd", "even", "all"), default="odd")
    args = parser.parse_args(argv)
    if not (args.src / "labels.tsv").is_file():
        parser.error(f"{args.src / 'labels.tsv'} not found: SRC must be a plates evaluate folder")
    for name, n in make(args.src, args.out, args.half).items():
        print(f"{name}: {n} images in {args.out / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
