"""Reading licence plates on camera frames: locate, crop tight, recognise, validate, vote.

PP-OCR on a whole 720p frame costs 277-520 ms, and recognition alone on a loose
crop misses half the Chinese plates (MEASUREMENTS.md). So plates are located
first, each candidate is warped to a tight, level text line, and only the
recogniser runs on it (about 10 ms). Two locators: a learned plate detector
(the SSD shipped in the hyperlpr2 wheel, recognition/plate_detector.py, a few
ms on a downscaled frame), whose loose boxes are tightened with the colour and
edge cues; and those cues over the whole frame (blue, yellow, green
new-energy and white plates per GA 36). The PP-OCR text detector runs on the
frame only as a last resort, when no candidate reads as a sure plate.
"""

from __future__ import annotations

import logging
import math
import re
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from recognition.face_engine import Image
from recognition.plate_detector import DetectorUnavailable, PlateDetector
from recognition.plate_formats import PlateText, find_generic, is_strong, validate

log = logging.getLogger(__name__)

Quad = list[tuple[int, int]]

# HSV ranges of plate backgrounds (OpenCV hue 0-179)
COLOURS: dict[str, tuple[tuple[int, int, int], tuple[int, int, int]]] = {
    "blue": ((100, 90, 50), (125, 255, 255)),
    "yellow": ((15, 90, 90), (35, 255, 255)),
    "green": ((35, 40, 80), (90, 255, 255)),
}
WHITE_MAX_SATURATION = 50
# Inside the learned detector's box the plate is known to be there: the white cue's floor of
# brightness is lowered to this, so a white plate at night (brightness 50-65 of 255) is still
# outlined and read tight, not as the detector's loose box.
BOXED_MIN_WHITE = 30
# The locator's masks hug a plate's background, and dark characters bite into a white one: the
# crop recognised first is grown by this much (left, right: of the width; top and bottom: of the
# height) so that the first and last characters are whole. Measured on the development sets:
# generic scenes 0.923 -> 0.962 exact, Chinese scenes unchanged.
PRIMARY_PAD = (0.03, 0.03, 0.06)
# The learned detector's input, long side in pixels: its smallest box is 51 px at that scale,
# so 320 finds plates wider than about a sixth of the frame (a car at the barrier), 640 those
# down to a twelfth, 1280 a twenty-fourth (a car across a car park). Each step costs about four
# times the one before and runs only while no plate has read surely.
DETECTOR_SIZES = (320, 640, 1280)
# Width over height of the narrowest plate the cues look for: two-row plates (GA 36 motorbike
# 220x140 mm, 1.57; a lorry's rear 440x220 mm, 2.0; European square plates about 1.4) as well as
# one-row ones (3-5). A bound of 2.0 left two-row plates to whole-frame OCR.
MIN_PLATE_ASPECT = 1.3


@dataclass(frozen=True)
class PlateRead:
    text: str
    confidence: float  # calibrated: about this fraction of reads at this confidence are exact
    box: tuple[int, int, int, int]  # x, y, width, height in the frame
    kind: str
    colour: str  # the locator's cue, or "detector" for the fallback path
    score: float = 0.0  # the recogniser's own score, before calibration
    agree: bool | None = None  # a second, looser crop read the same (fast path only)

    def as_dict(self) -> dict[str, Any]:
        return {"text": self.text, "confidence": round(self.confidence, 4),
                "box": list(self.box), "kind": self.kind, "colour": self.colour}


@dataclass(frozen=True)
class Candidate:
    quad: np.ndarray  # 4 x 2 float32, the plate's corners in the frame
    colour: str


def _order(pts: np.ndarray) -> np.ndarray:
    """Corners as top-left, top-right, bottom-right, bottom-left."""
    s, d = pts.sum(axis=1), np.diff(pts, axis=1).ravel()
    return np.array([pts[np.argmin(s)], pts[np.argmin(d)], pts[np.argmax(s)],
                     pts[np.argmax(d)]], dtype=np.float32)


def _clockwise(pts: np.ndarray) -> np.ndarray:
    """Four corners as top-left, top-right, bottom-right, bottom-left along the plate's own
    axes: the first edge is a long one running left to right, so a plate seen steeply from the
    side (rotated 45 degrees and foreshortened) still starts at its first character."""
    centre = pts.mean(axis=0)
    pts = pts[np.argsort(np.arctan2(pts[:, 1] - centre[1], pts[:, 0] - centre[0]))]
    best, best_key = pts, -math.inf
    for k in range(4):
        q = np.roll(pts, -k, axis=0)
        top, side = q[1] - q[0], q[3] - q[0]
        key = float(np.linalg.norm(top) - np.linalg.norm(side)) + (0.0 if top[0] > 0 else -1e6)
        if key > best_key:
            best, best_key = q, key
    return best.astype(np.float32)


def plate_quad(contour: np.ndarray) -> np.ndarray | None:
    """The plate's own four corners, when its outline is a clean quadrilateral.

    A plate seen from the side is a parallelogram or a trapezium, not a rectangle: warping the
    smallest enclosing rectangle leaves its characters slanted and squashed, and the recogniser
    then reads C as 6 or drops one. Warping the outline's own corners levels the text."""
    hull = cv2.convexHull(contour)
    hull_area = cv2.contourArea(hull)
    perimeter = cv2.arcLength(hull, True)
    if hull_area <= 0:
        return None
    for eps in (0.02, 0.035, 0.05, 0.07):
        approx = cv2.approxPolyDP(hull, eps * perimeter, True).reshape(-1, 2)
        if len(approx) == 4:
            if cv2.contourArea(approx) < 0.85 * hull_area:
                return None
            return _clockwise(approx.astype(np.float32))
        if len(approx) < 4:
            return None
    return None


def white_gains(bgr: Image) -> npt.NDArray[np.float32]:
    """Per-channel gains (B, G, R) that make the brightest unclipped pixels grey. Only pixels
    that are nearly grey already count (lowest channel at least 55 % of the highest: white
    under a sodium lamp is about 68 %), so a bright red or magenta car is not taken for the
    colour of the light."""
    small = np.ascontiguousarray(bgr[::4, ::4])
    b, g, r = cv2.split(small)
    top, low = cv2.max(cv2.max(b, g), r), cv2.min(cv2.min(b, g), r)
    greyish = (low.astype(np.uint16) * 100 >= top.astype(np.uint16) * 55) & (low < 250)
    cumulative = np.cumsum(np.bincount(top[greyish].ravel(), minlength=256))
    if cumulative[-1] < 20:
        return np.ones(3, np.float32)
    cut = int(np.searchsorted(cumulative, 0.97 * cumulative[-1]))
    bright = small[greyish & (top >= cut)]
    if len(bright) < 20:
        return np.ones(3, np.float32)
    means = bright.mean(axis=0, dtype=np.float32)
    gains: npt.NDArray[np.float32] = np.clip(means.mean() / np.maximum(means, 1.0), 0.7, 1.4
                                             ).astype(np.float32)
    return gains


def white_balanced(bgr: Image) -> Image:
    """The frame with the colour of its light taken out ("white patch"): the brightest
    unclipped pixels (white plates, paint, lamps) are made grey. Under a sodium street lamp or a
    cold dusk a white plate is orange or blue and more saturated than the white cue allows; a
    camera's own white balance does not always correct it. Gains are bounded, so a scene whose
    brightest things are coloured (a blue sky) changes little, and a cast under 10 % (which the
    white cue's saturation limit already allows for) is left alone."""
    gains = white_gains(bgr)
    if np.all(np.abs(gains - 1.0) < 0.1):
        return bgr
    ramp = np.arange(256, dtype=np.float32)
    return cv2.merge([cv2.LUT(channel, np.clip(ramp * gain, 0, 255).astype(np.uint8))
                      for channel, gain in zip(cv2.split(bgr), gains, strict=True)])


def locate(bgr: Image, min_width: int = 60, max_candidates: int = 8, min_white: int = 70
           ) -> list[Candidate]:
    """Plate-shaped regions: coloured backgrounds first, then dense vertical edges (white plates
    and anything the colour masks miss). A white plate is among the brightest things in view
    and at least ``min_white`` bright: over a whole frame that floor keeps dark, noisy patches
    out; inside a box the learned detector has found, a dim plate at night may be under it."""
    h, w = bgr.shape[:2]
    hsv = cv2.cvtColor(bgr, cv2.COLOR_BGR2HSV)
    found: list[tuple[float, Candidate]] = []
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (max(3, w // 160), max(3, h // 240)))
    masks = {name: cv2.inRange(hsv, np.array(lo), np.array(hi))
             for name, (lo, hi) in COLOURS.items()}
    # White plates: unsaturated and among the brightest things in view (at night too), once
    # the light's own colour is taken out.
    balanced = cv2.cvtColor(white_balanced(bgr), cv2.COLOR_BGR2HSV)
    bright = max(min_white, int(np.percentile(balanced[..., 2], 97) * 0.8))
    masks["white"] = cv2.inRange(balanced, np.array((0, 0, bright)),
                                 np.array((179, WHITE_MAX_SATURATION, 255)))
    gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    edges = cv2.convertScaleAbs(cv2.Sobel(gray, cv2.CV_16S, 1, 0, ksize=3))
    _, edge_mask = cv2.threshold(edges, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    masks["edges"] = cv2.morphologyEx(edge_mask, cv2.MORPH_CLOSE,
                                      cv2.getStructuringElement(cv2.MORPH_RECT, (17, 5)))
    for colour, mask in masks.items():
        closed = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, kernel)
        contours, _ = cv2.findContours(closed, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        for contour in contours:
            rect = cv2.minAreaRect(contour)
            (_cx, _cy), (rw, rh), _angle = rect
            long_side, short_side = max(rw, rh), min(rw, rh)
            if long_side < min_width or short_side < 12:
                continue
            aspect = long_side / short_side
            if not MIN_PLATE_ASPECT <= aspect <= 6.0:
                continue
            fill = cv2.contourArea(contour) / max(1.0, rw * rh)
            if fill < 0.45:
                continue
            quad = plate_quad(contour)
            # a coloured background is the surest cue; white and edges also match text blobs
            weight = {"edges": 0.5, "white": 0.8}.get(colour, 1.0)
            score = fill * weight - abs(aspect - 3.3) * 0.05
            corners = quad if quad is not None else _order(cv2.boxPoints(rect))
            found.append((score, Candidate(corners, colour)))
    found.sort(key=lambda f: -f[0])
    out: list[Candidate] = []
    for _score, cand in found:  # drop near-duplicates (same plate through two cues)
        c = cand.quad.mean(axis=0)
        if all(np.linalg.norm(c - o.quad.mean(axis=0)) > 10 for o in out):
            out.append(cand)
        if len(out) >= max_candidates:
            break
    return out


def aspect(quad: np.ndarray) -> float:
    """Width over height of the outline along its own axes (the longer of each pair of sides),
    however tilted: one-row plates are 3-5, two-row ones 1.4-2."""
    tl, tr, br, bl = quad
    width = float(max(np.linalg.norm(tr - tl), np.linalg.norm(br - bl)))
    return width / max(1.0, float(max(np.linalg.norm(bl - tl), np.linalg.norm(br - tr))))


def warp(bgr: Image, quad: np.ndarray, height: int = 48) -> Image:
    """The plate as a level text line of fixed height, trimmed of its frame."""
    out_w = max(16, round(height * aspect(quad)))
    dst = np.array([[0, 0], [out_w - 1, 0], [out_w - 1, height - 1], [0, height - 1]],
                   dtype=np.float32)
    m = cv2.getPerspectiveTransform(quad.astype(np.float32), dst)
    flat = cv2.warpPerspective(bgr, m, (out_w, height), flags=cv2.INTER_CUBIC,
                               borderMode=cv2.BORDER_REPLICATE)
    mx, my = max(1, out_w // 40), max(1, height // 12)
    return np.ascontiguousarray(flat[my:height - my, mx:out_w - mx])


def plate_colour(bgr: Image, quad: np.ndarray) -> str:
    """The plate's background colour (GA 36: blue, yellow, green, white; else "other"), from the
    median of its central part: the background fills most of a plate, the characters less."""
    flat = warp(bgr, quad, height=24)
    h, w = flat.shape[:2]
    inner = flat[h // 5:h - h // 5, w // 10:w - w // 10]
    if inner.size == 0:
        return "other"
    hue, sat, val = (int(v) for v in np.median(
        cv2.cvtColor(inner, cv2.COLOR_BGR2HSV).reshape(-1, 3), axis=0))
    white_sat = int(np.median(cv2.cvtColor(white_balanced(inner), cv2.COLOR_BGR2HSV)[..., 1]))
    if min(sat, white_sat) < WHITE_MAX_SATURATION:
        return "white" if val >= 110 else "other"
    for name, (lo, hi) in COLOURS.items():
        if lo[0] <= hue <= hi[0] and sat >= lo[1] and val >= lo[2]:
            return name
    return "other"


def boxed_candidates(bgr: Image, box: tuple[float, float, float, float],
                     max_candidates: int = 2) -> list[Candidate]:
    """Tight plate outlines inside a detector's loose box, then the box itself.

    The learned detector finds plates the frame-wide cues miss (clutter, dim light), but its
    box is axis-aligned and loose, and the recogniser reads a loose crop badly. Inside the box,
    grown a little, the colour and edge cues have little clutter to be fooled by: their outline
    (centred in the box) is warped level; the box stays as a last candidate, its colour judged
    from its own pixels."""
    h, w = bgr.shape[:2]
    x1, y1, x2, y2 = box
    bw, bh = x2 - x1, y2 - y1
    cx1, cy1 = max(0, int(x1 - 0.15 * bw)), max(0, int(y1 - 0.4 * bh))
    cx2, cy2 = min(w, int(x2 + 0.15 * bw) + 1), min(h, int(y2 + 0.4 * bh) + 1)
    crop = bgr[cy1:cy2, cx1:cx2]
    out: list[Candidate] = []
    if crop.shape[0] >= 16 and crop.shape[1] >= 32:
        offset = np.array([cx1, cy1], dtype=np.float32)
        for cand in locate(crop, min_width=max(24, int(0.45 * bw)), max_candidates=4,
                           min_white=BOXED_MIN_WHITE):
            quad = cand.quad + offset
            cx, cy = quad.mean(axis=0)
            if x1 <= cx <= x2 and y1 <= cy <= y2:
                out.append(Candidate(quad, cand.colour))
            if len(out) >= max_candidates:
                break
    rect = np.array([[x1, y1], [x2, y1], [x2, y2], [x1, y2]], dtype=np.float32)
    rect = np.clip(rect, 0, [w - 1, h - 1]).astype(np.float32)
    out.append(Candidate(rect, plate_colour(bgr, rect)))
    return out


Line = tuple[str, float, Quad]


def _rect(quad: np.ndarray) -> tuple[int, int, int, int]:
    x, y, w, h = cv2.boundingRect(quad.astype(np.int32))
    return int(x), int(y), int(w), int(h)  # text, recogniser score, corners in the frame

# Calibration of a read's confidence: a logistic model over what predicts an exact read, fitted
# on labelled real scenes (README "Licence plates"). Features: the recogniser's score (as a
# logit), whether the text fits a national layout, how many characters were fixed by position,
# whether the plate came from the detector path, and whether a second, looser crop of the same
# candidate read the same text (a crop that cut a character off reads differently). Fitted
# (L2-regularised logistic regression) on the even-numbered images of the development sets,
# 213 reads; "fixes" had too few examples to fit and keeps a small prior penalty.
CALIBRATION = {"bias": -1.07, "score": 0.89, "strong": 1.15, "fixes": -0.3, "detector": -0.6,
               "agree": 0.85, "disagree": -0.25}
# A read whose province was assumed (plate_formats.validate_cn) is right only if the vehicle is
# local: its confidence is the rest's, times this prior share of local vehicles. A prior, not
# fitted: the development set's plates are nearly all of one province, which would make the guess
# look surer than it is at a gate where visitors come from elsewhere. It keeps such a read below
# the fast path's acceptance (the surer path still looks) and the voter's single-read level.
ASSUMED_PROVINCE_SHARE = 0.75


def calibrated(score: float, plate: PlateText, detector: bool, agree: bool | None = None
               ) -> float:
    s = min(max(score, 1e-4), 1 - 1e-4)
    c = CALIBRATION
    z = (c["bias"] + c["score"] * math.log(s / (1 - s)) + c["strong"] * is_strong(plate)
         + c["fixes"] * plate.fixes + c["detector"] * detector
         # a wider crop reading the same says nothing about a province that was assumed
         + (0.0 if agree is None or plate.assumed_province
            else c["agree"] if agree else c["disagree"]))
    p = 1.0 / (1.0 + math.exp(-z))
    return p * ASSUMED_PROVINCE_SHARE if plate.assumed_province else p


def widen(quad: np.ndarray, left: float, right: float, vertical: float) -> np.ndarray:
    """The quad grown along its own axes: by fractions of its width and of its height."""
    tl, tr, br, bl = quad.astype(np.float32)
    ux, uy = (tr - tl + br - bl) / 2, (bl - tl + br - tr) / 2
    return np.array([tl - ux * left - uy * vertical, tr + ux * right - uy * vertical,
                     br + ux * right + uy * vertical, bl - ux * left + uy * vertical],
                    dtype=np.float32)


def stacked_pairs(lines: list[Line]) -> list[tuple[Line, Line]]:
    """Pairs of text lines stacked like the two rows of one plate (motorbikes, trucks, trailers):
    the upper one directly above the lower, overlapping it across, of a similar size. Measured
    along the upper line's own direction, so a tilted plate pairs too. The detector's boxes are
    padded, so the rows of one plate overlap by up to half a row."""
    out = []
    for a in lines:
        qa = np.asarray(a[2], dtype=np.float64)
        along = qa[1] - qa[0]
        if not np.any(along):
            continue
        u = along / np.linalg.norm(along)
        n = np.array([-u[1], u[0]])  # pointing down the image for a left-to-right line
        for b in lines:
            if a is b:
                continue
            qb = np.asarray(b[2], dtype=np.float64)
            ax, bx = qa @ u, qb @ u
            ay, by = qa @ n, qb @ n
            ah, bh = np.ptp(ay), np.ptp(by)
            aw, bw = np.ptp(ax), np.ptp(bx)
            if min(ah, bh, aw, bw) <= 0:
                continue
            overlap = min(ax.max(), bx.max()) - max(ax.min(), bx.min())
            gap = by.min() - ay.max()
            if (overlap >= 0.5 * min(aw, bw) and -0.5 * ah <= gap <= 0.8 * max(ah, bh)
                    and 0.4 <= ah / bh <= 2.5 and 0.3 <= aw / bw <= 3.0):
                out.append((a, b))
    return out


def _iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - ix * iy
    return ix * iy / union if union > 0 else 0.0


def _merge(reads: list[PlateRead], more: list[PlateRead]) -> list[PlateRead]:
    """One read per text, the surest kept; surest first."""
    merged = {r.text: r for r in reads}
    for r in more:
        old = merged.get(r.text)
        if old is None or r.confidence > old.confidence:
            merged[r.text] = r
    return sorted(merged.values(), key=lambda r: -r.confidence)


def _load_detector() -> PlateDetector | None:
    """The learned plate detector, or None (logged) when its package is not installed: the
    cues and whole-frame OCR still read plates, only more slowly."""
    try:
        return PlateDetector()
    except DetectorUnavailable as exc:
        log.warning("plates: %s; reading with the colour cues and whole-frame OCR only", exc)
        return None


class PlateReader:
    """rapidocr (PP-OCR ONNX models shipped inside the wheel, run by onnxruntime).

    Two paths. The fast one locates plate-coloured and edge-dense regions and runs only the
    recogniser on each, warped level (10-60 ms). When none of its reads is confident (a white
    European plate the colour cues miss, a loose crop, an odd layout), the surer path runs the
    PP-OCR text detector over the whole frame at its own scale, where plates look as they were
    trained to, and also joins two stacked lines into one two-row plate. Every read carries a
    calibrated confidence, so the voter over frames and the engine can weigh it.
    """

    def __init__(self, region: str = "cn", fallback: bool = True, accept: float = 0.85,
                 fallback_interval_s: float = 0.0, home_province: str | None = None,
                 detector: bool = True) -> None:
        from rapidocr import RapidOCR

        self.region = region
        self.home_province = home_province if region == "cn" else None
        self.fallback = fallback
        self.accept = accept
        self.fallback_interval_s = fallback_interval_s
        self.last_path = ""
        self._last_fallback = -math.inf
        self._ocr = RapidOCR(params={"Global.log_level": "error"})
        self._lock = threading.Lock()  # one onnxruntime session, used by one thread at a time
        self.detector = _load_detector() if detector else None

    def recognise(self, crop: Image) -> tuple[str, float]:
        with self._lock:
            result: Any = self._ocr(crop, use_det=False, use_cls=False)
        texts: tuple[str, ...] = tuple(result.txts or ())
        scores: tuple[float, ...] = tuple(result.scores or ())
        if not texts:
            return "", 0.0
        return str(texts[0]), float(scores[0])

    def ocr_frame(self, bgr: Image) -> list[Line]:
        """The plain way: detection + recognition over the whole frame."""
        with self._lock:
            # explicit flags: rapidocr keeps the previous call's use_det/use_cls otherwise
            result: Any = self._ocr(bgr, use_det=True, use_cls=False, use_rec=True)
        texts, scores = getattr(result, "txts", None), getattr(result, "scores", None)
        boxes = getattr(result, "boxes", None)  # absent when nothing was detected
        if texts is None or scores is None or boxes is None:
            return []
        return [(str(t), float(s), [(int(x), int(y)) for x, y in box])
                for t, s, box in zip(texts, scores, boxes, strict=True)]

    stacked_pairs = staticmethod(stacked_pairs)

    def _validate(self, text: str) -> PlateText | None:
        plate = validate(text, self.region, self.home_province)
        if self.region != "cn" and (plate is None or not is_strong(plate)):
            plate = find_generic(text) or plate
        return plate

    def recognise_many(self, crops: list[Image]) -> list[tuple[str, float]]:
        """One by one: batching pads every crop to the widest and measured slower here."""
        return [self.recognise(c) for c in crops]

    def read_fast(self, bgr: Image) -> list[PlateRead]:
        """The colour and edge cues over the whole frame."""
        return self.read_candidates(bgr, locate(bgr))

    def read_learned(self, bgr: Image) -> list[PlateRead]:
        """The learned detector's boxes, each tightened by the cues inside it."""
        if self.detector is None:
            return []
        reads: list[PlateRead] = []
        tried: list[tuple[float, float, float, float]] = []
        for size in DETECTOR_SIZES:  # coarse first: near plates cost a quarter as much
            for det in self.detector.detect(bgr, size)[:3]:
                if any(_iou(det.box, t) > 0.5 for t in tried):
                    continue  # the same plate, seen again at a finer scale
                tried.append(det.box)
                # the tightest outline first; the looser ones only while none read surely
                for cand in boxed_candidates(bgr, det.box):
                    more = self.read_candidates(bgr, [cand])
                    reads = _merge(reads, more)
                    if more and more[0].confidence >= self.accept:
                        break
            if reads and reads[0].confidence >= self.accept:
                break
        return reads

    def read_candidates(self, bgr: Image, located: list[Candidate]) -> list[PlateRead]:
        """Each candidate warped level and recognised; checked by a wider crop where its text
        alone cannot tell a cut-off read; square ones also read as two rows."""
        reads: dict[str, PlateRead] = {}
        cands = []
        for cand in located:
            if aspect(cand.quad) >= MIN_PLATE_ASPECT:  # not a rectangle standing on end
                cands.append((cand, warp(bgr, widen(cand.quad, *PRIMARY_PAD))))
        lines = self.recognise_many([f for _c, f in cands])
        # Square-ish and not read as a whole plate in one line: perhaps two rows. A two-row
        # plate read as one line gives one of its rows (the larger), which alone may pass for a
        # plate: such a row is not kept, as in read_detector. A square that reads as less than
        # two characters is no plate's row (most are walls, windows, signs): not tried.
        alone = [self._validate(text) for text, _score in lines]
        two_rows: dict[int, tuple[PlateText, float]] = {}
        for (cand, _flat), (text, _score), plate in zip(cands, lines, alone, strict=True):
            if (aspect(cand.quad) < 2.3 and (plate is None or not is_strong(plate))
                    and len(re.sub(r"[^0-9A-Z]", "", text.upper())) >= 2):
                two = self._two_rows(bgr, cand.quad)
                if two is not None:
                    two_rows[id(cand)] = two
        found = [(cand, plate, score)
                 for (cand, _flat), (_text, score), plate in zip(cands, lines, alone, strict=True)
                 if plate is not None and id(cand) not in two_rows]
        # Check a plate by a second crop, a little wider: a locator box that cut off the first
        # or last character (a flag strip, a frame) reads differently once widened. A Chinese
        # plate checks itself (a province, a letter, five more: a cut one no longer fits),
        # except a green one read as seven (its eighth character may have been cut off) and one
        # whose province was assumed (the crop may have cut the province off).
        check = [f for f in found if self.region != "cn" or f[1].assumed_province or (
            f[0].colour == "green" and not f[1].kind.startswith("new-energy"))]
        wides = dict(zip((id(f) for f in check), self.recognise_many(
            [warp(bgr, widen(c.quad, 0.1, 0.1, 0.12)) for c, _p, _s in check]), strict=True))
        for item in found:
            cand, plate, score = item
            box = _rect(cand.quad)
            if id(item) not in wides:
                self._keep(reads, plate, score, box, cand.colour)
                continue
            wide_text, wide_score = wides[id(item)]
            wide = self._validate(wide_text)
            agree = wide is not None and wide.text == plate.text
            self._keep(reads, plate, score, box, cand.colour, agree=agree)
            if wide is not None and not agree:
                self._keep(reads, wide, wide_score, box, cand.colour, agree=False)
        for cand, _flat in cands:
            if id(cand) in two_rows:
                plate, score = two_rows[id(cand)]
                self._keep(reads, plate, score, _rect(cand.quad), cand.colour)
        return sorted(reads.values(), key=lambda r: -r.confidence)

    def _two_rows(self, bgr: Image, quad: np.ndarray) -> tuple[PlateText, float] | None:
        flat = warp(bgr, quad, height=96)
        h = flat.shape[0]
        split = int(h * (0.4 if self.region == "cn" else 0.5))  # GA 36: the top row is smaller
        (top, top_s), (bottom, bottom_s) = self.recognise_many([
            cv2.resize(flat[:split], None, fx=48 / split, fy=48 / split),
            cv2.resize(flat[split:], None, fx=48 / (h - split), fy=48 / (h - split))])
        if not top.strip() or not bottom.strip():
            return None  # one row read: a one-row plate, or a row lost; the line read stands
        plate = self._validate(top + bottom)
        if plate is None:
            return None
        return plate, min(top_s, bottom_s)

    def read_detector(self, bgr: Image) -> list[PlateRead]:
        """The surer path: PP-OCR detection over the frame, stacked lines joined."""
        reads: dict[str, PlateRead] = {}
        lines = self.ocr_frame(bgr)
        consumed: set[int] = set()
        for a, b in stacked_pairs(lines):  # two-row plates first: their rows alone mislead
            plate = self._validate(a[0] + b[0])
            if plate is None:
                continue
            for part in (a, b):
                alone = self._validate(part[0])
                if alone is None or not is_strong(alone):
                    consumed.add(id(part))
            x, y, w, h = cv2.boundingRect(np.array(a[2] + b[2], dtype=np.int32))
            self._keep(reads, plate, min(a[1], b[1]), (x, y, w, h), "detector")
        for line in lines:
            text, score, quad = line
            plate = self._validate(text)
            if plate is not None and id(line) not in consumed:
                x, y, w, h = cv2.boundingRect(np.array(quad, dtype=np.int32))
                self._keep(reads, plate, score, (x, y, w, h), "detector")
        return sorted(reads.values(), key=lambda r: -r.confidence)

    def read(self, bgr: Image, now: float | None = None, slow: bool = True) -> list[PlateRead]:
        """The cheapest locator that gives a sure read wins: the learned detector, then the
        frame-wide cues, then (at most every ``fallback_interval_s``, and not with ``slow``
        False) whole-frame PP-OCR. ``last_path`` names the last one that ran: detector, fast
        or fallback."""
        reads: list[PlateRead] = []
        for path, step in (("detector", self.read_learned), ("fast", self.read_fast)):
            if path == "detector" and self.detector is None:
                continue
            reads = _merge(reads, step(bgr))
            self.last_path = path
            if reads and reads[0].confidence >= self.accept:
                return reads
        if not self.fallback or not slow:
            return reads
        now = time.monotonic() if now is None else now
        if now - self._last_fallback < self.fallback_interval_s:
            return reads  # a live camera: the slow path at most this often
        self._last_fallback = now
        self.last_path = "fallback"
        return _merge(reads, self.read_detector(bgr))

    @staticmethod
    def _keep(reads: dict[str, PlateRead], plate: PlateText, score: float,
              box: tuple[int, int, int, int], colour: str, agree: bool | None = None) -> None:
        confidence = calibrated(score, plate, colour == "detector", agree)
        old = reads.get(plate.text)
        if old is None or confidence > old.confidence:
            reads[plate.text] = PlateRead(plate.text, confidence, box, plate.kind, colour,
                                          score, agree)


@dataclass
class PlateVoter:
    """One vehicle, one read: readings over the frames of a pass are voted into one plate.

    Votes are weighed by each read's calibrated confidence: reads below ``min_confidence``
    do not vote, and a plate needs ``min_votes`` reads, or one read sure enough on its own
    (``single_read``), before it is reported.
    """

    window_s: float = 3.0
    min_votes: int = 2
    min_confidence: float = 0.3
    single_read: float = 0.97
    _votes: dict[str, list[tuple[float, float]]] = field(default_factory=lambda: defaultdict(list))
    _last: float = 0.0

    def add(self, reads: list[PlateRead], ts: float) -> None:
        if ts - self._last > self.window_s:
            self._votes.clear()
        self._last = ts
        for r in reads:
            if r.confidence >= self.min_confidence:
                self._votes[r.text].append((ts, r.confidence))

    def result(self) -> tuple[str, float] | None:
        """The plate with the largest summed confidence, and its share of all votes."""
        if not self._votes:
            return None
        totals = Counter({p: sum(c for _t, c in v) for p, v in self._votes.items()})
        plate, score = totals.most_common(1)[0]
        votes = self._votes[plate]
        if len(votes) < self.min_votes and max(c for _t, c in votes) < self.single_read:
            return None
        return plate, score / sum(totals.values())

    def reset(self) -> None:
        self._votes.clear()


@dataclass
class PlatePass:
    """One vehicle in front of a barrier camera, told once: as soon as the vote decides its
    plate, not when it leaves. A car waits at a closed barrier in full view of the camera, so a
    plate told only once the car had gone would never open the barrier for it. The pass ends
    when no plate has been read for ``passed_s``; the next read starts another."""

    voter: PlateVoter = field(default_factory=PlateVoter)
    passed_s: float = 1.5  # no plate read for this long: the vehicle has gone
    min_share: float = 0.5  # the decided plate holds more than this share of the votes
    told: bool = False
    _last_read: float = -math.inf

    def in_view(self, now: float) -> bool:
        """A plate was read within ``passed_s``: the vehicle is still there."""
        return now - self._last_read <= self.passed_s

    def observe(self, reads: list[PlateRead], now: float) -> tuple[str, float] | None:
        """The plate and its share of the votes, on the frame that decides the pass; else None."""
        if not reads:
            if not self.in_view(now):  # the vehicle has gone: the next read is a new pass
                self.voter.reset()
                self.told = False
            return None
        self.voter.add(reads, now)
        self._last_read = now
        if self.told:
            return None
        voted = self.voter.result()
        if voted is None or voted[1] <= self.min_share:
            return None
        self.told = True
        return voted
