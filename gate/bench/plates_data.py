"""Generated plate images: colours and layouts after GA 36-2018, on car-sized backgrounds.

No licensed set of real plate photos was at hand, so tests and benchmarks
render plates with a CJK font from Debian (fonts-wqy-microhei) and put them
through perspective, blur, noise and night lighting.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image as PILImage
from PIL import ImageDraw, ImageFont

from recognition.face_engine import Image
from recognition.plate_formats import DIGITS, LETTERS, PROVINCES

FONT_PATHS = ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
              "/usr/share/fonts/wqy-microhei/wqy-microhei.ttc")

# background, text colour, size (mm) per plate type
STYLES: dict[str, tuple[tuple[int, int, int], tuple[int, int, int], tuple[int, int]]] = {
    "blue": ((16, 66, 186), (255, 255, 255), (440, 140)),
    "yellow": ((245, 190, 20), (10, 10, 10), (440, 140)),
    "green": ((90, 200, 120), (10, 10, 10), (480, 140)),
    "white": ((240, 240, 240), (10, 10, 10), (440, 140)),
}


def font(size: int) -> ImageFont.FreeTypeFont:
    for path in FONT_PATHS:
        if Path(path).exists():
            return ImageFont.truetype(path, size)
    raise FileNotFoundError("install fonts-wqy-microhei for generated plates")


@dataclass(frozen=True)
class PlateSpec:
    text: str  # normalised plate text
    style: str

    @property
    def printed(self) -> str:
        return f"{self.text[:2]}·{self.text[2:]}"


def _blank_plate(style: str, w_mm: int, h_mm: int, radius_mm: int, scale: float
                 ) -> tuple[PILImage.Image, ImageDraw.ImageDraw]:
    """A plate's background and rounded border, without characters, one pixel per mm at
    scale 1."""
    bg, fg, _size = STYLES[style]
    w, h = int(w_mm * scale), int(h_mm * scale)
    img = PILImage.new("RGB", (w, h), bg)
    draw = ImageDraw.Draw(img)
    if style == "green":  # new-energy plates fade from white-green to green
        for y in range(h):
            t = y / h
            draw.line([(0, y), (w, y)], fill=(int(235 - 150 * t), int(250 - 50 * t),
                                              int(235 - 120 * t)))
    border = max(2, int(4 * scale))
    draw.rounded_rectangle([border, border, w - border - 1, h - border - 1],
                           radius=int(radius_mm * scale), outline=fg, width=max(1, int(3 * scale)))
    return img, draw


def render_plate(spec: PlateSpec, scale: float = 1.0) -> Image:
    """The plate as RGB, about 440x140 px at scale 1 (one pixel per millimetre)."""
    _bg, fg, (w_mm, h_mm) = STYLES[spec.style]
    img, draw = _blank_plate(spec.style, w_mm, h_mm, 10, scale)
    w, h = img.size
    # GA 36: characters 45 x 90 mm (43 on green plates), 12 mm apart, 34 mm around the dot
    n = len(spec.text)
    cw, ch_h, gap, dot_gap = (43 if n == 8 else 45) * scale, 90 * scale, 12 * scale, 34 * scale
    total = n * cw + (n - 2) * gap + dot_gap
    x = (w - total) / 2.0
    top = (h - ch_h) / 2.0
    for i, ch in enumerate(spec.text):
        colour = (200, 20, 20) if ch == "警" else fg
        img.paste(_glyph(colour, int(cw), int(ch_h)),
                  (int(x), int(top)), _glyph_mask(ch, int(cw), int(ch_h)))
        x += cw + (dot_gap if i == 1 else gap)
        if i == 1:
            cx = x - dot_gap / 2 - gap / 2
            r = 5 * scale
            draw.ellipse([cx - r, h / 2 - r, cx + r, h / 2 + r], fill=fg)
    return np.array(img)


def render_two_row_plate(top: str, bottom: str, style: str = "yellow", scale: float = 1.0
                         ) -> Image:
    """A two-row plate as RGB, 220x140 px at scale 1: GA 36's motorbike plate (the authority
    above, smaller; five characters below), and the shape of European square plates."""
    _bg, fg, _size = STYLES[style]
    img, _draw = _blank_plate(style, 220, 140, 8, scale)
    w = img.size[0]
    # character width, height, gap and top edge in mm: the upper row smaller
    rows = ((top, (30.0, 38.0, 10.0, 12.0)), (bottom, (30.0, 66.0, 8.0, 62.0)))
    for text, mm in rows:
        cw, ch_h, gap, y = (v * scale for v in mm)
        x = (w - (len(text) * cw + (len(text) - 1) * gap)) / 2.0
        for ch in text:
            img.paste(_glyph(fg, int(cw), int(ch_h)), (int(x), int(y)),
                      _glyph_mask(ch, int(cw), int(ch_h)))
            x += cw + gap
    return np.array(img)


def _glyph_mask(ch: str, w: int, h: int) -> PILImage.Image:
    """The character condensed into its slot, as the narrow plate typeface is."""
    f = font(200)
    canvas = PILImage.new("L", (260, 260), 0)
    ImageDraw.Draw(canvas).text((130, 130), ch, font=f, fill=255, anchor="mm")
    bbox = canvas.getbbox() or (0, 0, 260, 260)
    return canvas.crop(bbox).resize((w, h), PILImage.Resampling.LANCZOS)


def _glyph(colour: tuple[int, int, int], w: int, h: int) -> PILImage.Image:
    return PILImage.new("RGB", (w, h), colour)


def random_plate(rng: random.Random, style: str | None = None) -> PlateSpec:
    style = style or rng.choice(list(STYLES))
    prov, auth = rng.choice(PROVINCES), rng.choice(LETTERS)
    alnum = LETTERS + DIGITS * 3
    if style == "green":
        if rng.random() < 0.5:
            body = rng.choice("DF") + "".join(rng.choice(DIGITS) for _ in range(5))
        else:
            body = "".join(rng.choice(DIGITS) for _ in range(5)) + rng.choice("DF")
    elif style == "white":
        body = "".join(rng.choice(DIGITS) for _ in range(4)) + "警"
    else:
        body = "".join(rng.choice(alnum) for _ in range(5))
        if style == "yellow" and rng.random() < 0.5:
            body = body[:4] + rng.choice("学挂")
    return PlateSpec(prov + auth + body, style)


def car_scene(plate: Image, rng: random.Random, plate_width: int = 180, night: bool = False,
              size: tuple[int, int] = (1280, 720)) -> tuple[Image, tuple[int, int, int, int]]:
    """A frame with a car front and the plate on it, tilted in perspective; RGB and the
    plate's bounding box."""
    w, h = size
    frame: Any = np.zeros((h, w, 3), np.float32)
    frame[:] = (110, 115, 120)
    frame[int(h * 0.65):] = (70, 70, 72)  # road
    body = tuple(rng.randint(30, 220) for _ in range(3))
    cx = rng.randint(int(w * 0.3), int(w * 0.7))
    cy = rng.randint(int(h * 0.55), int(h * 0.75))
    car_w = int(plate_width * rng.uniform(4.5, 6.0))
    cv2.rectangle(frame, (cx - car_w // 2, cy - car_w // 3), (cx + car_w // 2, cy + car_w // 8),
                  body, -1)
    cv2.rectangle(frame, (cx - car_w // 3, cy - car_w // 3 - car_w // 5),
                  (cx + car_w // 3, cy - car_w // 3), (40, 50, 60), -1)  # windscreen
    for side in (-1, 1):
        cv2.circle(frame, (cx + side * car_w // 3, cy - car_w // 6), car_w // 14,
                   (230, 230, 200), -1)  # headlights
    ph, pw = plate.shape[:2]
    scale = plate_width / pw
    tw, th = plate_width, int(ph * scale)
    src = np.array([[0, 0], [pw, 0], [pw, ph], [0, ph]], np.float32)
    jitter = [rng.uniform(-0.06, 0.06) * tw for _ in range(8)]
    x0, y0 = cx - tw // 2, cy - th // 2
    dst = np.array([[x0 + jitter[0], y0 + jitter[1]], [x0 + tw + jitter[2], y0 + jitter[3]],
                    [x0 + tw + jitter[4], y0 + th + jitter[5]],
                    [x0 + jitter[6], y0 + th + jitter[7]]], np.float32)
    m = cv2.getPerspectiveTransform(src, dst)
    warped = cv2.warpPerspective(plate.astype(np.float32), m, (w, h))
    mask = cv2.warpPerspective(np.ones((ph, pw), np.float32), m, (w, h))[..., None]
    frame = frame * (1 - mask) + warped * mask
    if rng.random() < 0.5:
        frame = cv2.GaussianBlur(frame, (3, 3), 0)
    np_rng = np.random.default_rng(rng.randint(0, 2**31))
    if night:
        frame = frame * 0.45
        frame += np_rng.normal(0, 9, frame.shape)
    else:
        frame += np_rng.normal(0, 4, frame.shape)
    box = cv2.boundingRect(dst.astype(np.int32))
    return np.clip(frame, 0, 255).astype(np.uint8), (int(box[0]), int(box[1]), int(box[2]),
                                                     int(box[3]))


def plate_set(n: int, seed: int = 7) -> list[tuple[PlateSpec, Image]]:
    """``n`` labelled 720p frames, every style, a quarter of them at night."""
    rng = random.Random(seed)
    styles = list(STYLES)
    out = []
    for i in range(n):
        spec = random_plate(rng, styles[i % len(styles)])
        frame, _box = car_scene(render_plate(spec), rng, plate_width=rng.randint(150, 240),
                                night=i % 4 == 3)
        out.append((spec, frame))
    return out
