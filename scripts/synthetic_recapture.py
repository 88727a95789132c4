"""Synthetic print and screen recaptures of face photos, for a first look at ``gate faces
liveness-evaluate`` when no real attack recordings exist yet.

    python scripts/synthetic_recapture.py PHOTO_DIR OUT_DIR

writes ``OUT_DIR/live/`` (the photos as a camera would see the person: mild blur, sensor noise,
JPEG) and ``OUT_DIR/spoof/print/`` and ``OUT_DIR/spoof/screen/`` (the same photos as a printed
sheet or a phone screen held up to that camera). Why simulate: the recapture artefacts the
liveness models look for are print halftone and paper tone, screen sub-pixel moire, glare and
the sheet's or bezel's edge, and those can be drawn. What this cannot be: a real attack. Real
prints and screens differ in ways no simulation covers (paper gloss, hand tremor, the camera's
own moire), so a figure from this set is a smoke test of the pipeline and a lower bound on
what an attacker needs, never a certification. Record real attacks at the gate (README
"Liveness").
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

Image = npt.NDArray[np.uint8]
SUFFIXES = {".jpg", ".jpeg", ".png"}


def camera(bgr: Image, rng: np.random.Generator) -> Image:
    """What a gate camera adds to anything it looks at: a little blur, noise and JPEG."""
    out = cv2.GaussianBlur(bgr, (3, 3), 0.6).astype(np.float32)
    out += rng.normal(0, 2.5, out.shape)
    ok, buf = cv2.imencode(".jpg", np.clip(out, 0, 255).astype(np.uint8),
                           [cv2.IMWRITE_JPEG_QUALITY, 88])
    assert ok
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)


def held_up(sheet: Image, border: tuple[int, int, int], rng: np.random.Generator) -> Image:
    """The sheet (print or screen, with its border) slightly turned in front of a plain scene
    at about the size of the original photo, so the face stays about as large."""
    h, w = sheet.shape[:2]
    scene = np.full((int(h * 1.25), int(w * 1.25), 3), border, np.uint8)
    scene = cv2.GaussianBlur(scene + rng.integers(0, 25, scene.shape, dtype=np.uint8),
                             (0, 0), 8)
    sh, sw = scene.shape[:2]
    x0, y0 = (sw - w) / 2, (sh - h) / 2
    jitter = 0.04 * min(w, h)
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    dst = np.float32([[x0, y0], [x0 + w, y0], [x0 + w, y0 + h], [x0, y0 + h]])
    dst += rng.uniform(-jitter, jitter, dst.shape).astype(np.float32)
    matrix = cv2.getPerspectiveTransform(src, dst)
    warped = cv2.warpPerspective(sheet, matrix, (sw, sh))
    mask = cv2.warpPerspective(np.full((h, w), 255, np.uint8), matrix, (sw, sh)) > 0
    scene[mask] = warped[mask]
    return scene


def printed(bgr: Image, rng: np.random.Generator) -> Image:
    """A colour print: paper-white highlights, weak blacks, halftone dots, a white margin."""
    h, w = bgr.shape[:2]
    img = bgr.astype(np.float32) / 255
    img = 0.08 + 0.82 * img  # ink never reaches black, paper is not pure white
    grey = img.mean(axis=2, keepdims=True)
    img = grey + 0.75 * (img - grey)  # prints lose saturation
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    period = max(3.0, min(h, w) / 110)  # a halftone screen visible at the camera's resolution
    dots = 0.5 + 0.5 * np.cos(2 * np.pi * (xx + yy) / period) * np.cos(
        2 * np.pi * (xx - yy) / period)
    img = img * (0.88 + 0.12 * dots[..., None])
    tone = np.array([0.93, 0.97, 1.0], np.float32)  # warm paper (BGR)
    sheet = np.clip(img * tone * 255, 0, 255).astype(np.uint8)
    margin = max(4, min(h, w) // 20)
    sheet = cv2.copyMakeBorder(sheet, margin, margin, margin, margin, cv2.BORDER_CONSTANT,
                               value=(228, 236, 240))
    return held_up(sheet, (90, 100, 110), rng)


def screen(bgr: Image, rng: np.random.Generator) -> Image:
    """A phone screen: the photo on an RGB sub-pixel grid (moire once resampled), lifted
    blacks, a glare gradient and a black bezel."""
    h, w = bgr.shape[:2]
    big = cv2.resize(bgr, (w * 3, h * 3), interpolation=cv2.INTER_NEAREST).astype(np.float32)
    stripes = np.zeros((1, w * 3, 3), np.float32)
    for channel, offset in ((2, 0), (1, 1), (0, 2)):  # R, G, B columns (BGR order)
        stripes[0, offset::3, channel] = 1.0
    big = big * (0.35 + 0.65 * stripes)
    img = cv2.resize(big, (int(w * 1.07), int(h * 1.07)), interpolation=cv2.INTER_AREA)
    img = cv2.resize(img, (w, h), interpolation=cv2.INTER_LINEAR) / 255
    img = 0.06 + 0.94 * np.power(img, 0.85)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    cx, cy = rng.uniform(0.2, 0.8) * w, rng.uniform(0.1, 0.5) * h
    glare = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * (0.35 * max(h, w)) ** 2))
    img = img + 0.18 * glare[..., None]
    sheet = np.clip(img * 255, 0, 255).astype(np.uint8)
    bezel = max(6, min(h, w) // 14)
    sheet = cv2.copyMakeBorder(sheet, bezel, bezel, bezel, bezel, cv2.BORDER_CONSTANT,
                               value=(12, 12, 12))
    return held_up(sheet, (120, 115, 105), rng)


def main(src: Path, out: Path) -> int:
    photos = sorted(p for p in src.rglob("*") if p.suffix.lower() in SUFFIXES)
    if not photos:
        print(f"{src}: no photos", file=sys.stderr)
        return 2
    for folder in ("live", "spoof/print", "spoof/screen"):
        (out / folder).mkdir(parents=True, exist_ok=True)
    for i, path in enumerate(photos):
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            continue
        rng = np.random.default_rng(i)  # reproducible per photo
        name = "_".join(path.relative_to(src).with_suffix(".jpg").parts)
        cv2.imwrite(str(out / "live" / name), camera(bgr, rng))
        cv2.imwrite(str(out / "spoof" / "print" / name), camera(printed(bgr, rng), rng))
        cv2.imwrite(str(out / "spoof" / "screen" / name), camera(screen(bgr, rng), rng))
    print(f"{len(photos)} photos -> {out}/live, spoof/print, spoof/screen")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        raise SystemExit(2)
    raise SystemExit(main(Path(sys.argv[1]), Path(sys.argv[2])))
