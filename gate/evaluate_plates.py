"""``gate plates evaluate DIR``: measure plate reading on a site's own labelled photos.

DIR holds images and ``labels.tsv`` (``file<TAB>plate``, the plate upper case
without separators; an optional third column names the plate type, e.g.
``blue``, ``green``, ``two-row``; without it the type is the plate format).
Generated plates read far better than real ones (96 % against 65-92 %), so
only a site's real photos say how the gate will do. Each read carries a
confidence; the per-bucket exact rate shows whether the confidence can be
trusted, and where a site should set the voter's minimum.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2

from recognition.images import ImageError, load_rgb
from recognition.plate_formats import normalise, validate
from recognition.plates import PlateRead, PlateReader

if TYPE_CHECKING:
    from gate.config import PlatesConfig

BUCKETS = [(0.0, 0.5), (0.5, 0.7), (0.7, 0.8), (0.8, 0.9), (0.9, 0.95), (0.95, 1.0001)]


class EvaluationError(ValueError):
    """DIR is not laid out as the contract says; the message says what is missing."""


@dataclass
class PlateRow:
    image: str
    truth: str
    type: str
    read: str | None = None
    confidence: float | None = None
    exact: bool = False
    exact_any: bool = False
    path: str = ""  # the last locator that ran: detector | fast | fallback (whole-frame OCR)
    reads: list[dict[str, Any]] = field(default_factory=list)
    ms: float = 0.0
    baseline_exact: bool | None = None
    baseline_ms: float | None = None
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["ms"] = round(self.ms, 1)
        if self.confidence is not None:
            d["confidence"] = round(self.confidence, 4)
        if self.baseline_ms is not None:
            d["baseline_ms"] = round(self.baseline_ms, 1)
        return d


def plate_reader(plates: PlatesConfig, region: str, home_province: str | None) -> PlateReader:
    """The reader ``gate plates read`` and ``gate plates evaluate`` both use: the config's
    settings, with the region and home province the command line chose. A photo file is a new
    scene, so the slow path's rate limit of a live camera does not apply."""
    return PlateReader(region, accept=plates.fast_accept, home_province=home_province)


def read_file(reader: PlateReader, path: Path) -> list[PlateRead]:
    """One photo read as ``gate plates read`` reads it (ImageError when it is not a picture):
    the evaluation's verdict on a file is the product's, by construction."""
    return reader.read(cv2.cvtColor(load_rgb(path), cv2.COLOR_RGB2BGR))


def load_labels(root: Path, region: str) -> list[tuple[str, str, str]]:
    """(file, plate, type) per labelled image, in file order."""
    path = root / "labels.tsv"
    if not path.is_file():
        raise EvaluationError(f"{root}: no labels.tsv (file<TAB>plate)")
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), 1):
        cells = line.rstrip("\n").split("\t")
        if not line.strip() or (n == 1 and cells[0].lower() == "file"):
            continue
        if len(cells) < 2 or not cells[1].strip():
            raise EvaluationError(f"{path}:{n}: expected file<TAB>plate")
        plate = normalise(cells[1])
        kind = cells[2].strip() if len(cells) > 2 and cells[2].strip() else _kind(plate, region)
        out.append((cells[0].strip(), plate, kind))
    if not out:
        raise EvaluationError(f"{path}: no labelled images")
    return out


def _kind(plate: str, region: str) -> str:
    parsed = validate(plate, region)
    return parsed.kind if parsed else "other"


def baseline_reads(reader: PlateReader, bgr: Any, region: str) -> set[str]:
    """Whole-frame PP-OCR, any text line (and any two stacked lines joined) as a plate."""
    lines = reader.ocr_frame(bgr)
    texts = {normalise(t) for t, _s, _q in lines}
    for a, b in reader.stacked_pairs(lines):
        texts.add(normalise(a[0] + b[0]))
    return texts


def run(root: Path, region: str, reader: PlateReader | None = None, baseline: bool = False,
        sample: int | None = None) -> tuple[list[PlateRow], dict[str, Any]]:
    """Every labelled image, or ``sample`` of them evenly spaced (a quick look)."""
    labels = load_labels(root, region)
    if sample is not None and sample < len(labels):
        labels = [labels[i * len(labels) // sample] for i in range(sample)]
    reader = reader or PlateReader(region)
    rows: list[PlateRow] = []
    warmed = False
    for file, plate, kind in labels:
        row = PlateRow(file, plate, kind)
        rows.append(row)
        try:
            bgr = cv2.cvtColor(load_rgb(root / file), cv2.COLOR_RGB2BGR)
        except ImageError as exc:
            row.error = str(exc)
            continue
        if not warmed:  # onnxruntime's first run builds its sessions: not a per-image cost
            reader.read(bgr)
            warmed = True
        start = time.perf_counter()
        reads = read_file(reader, root / file)  # exactly what `gate plates read` does
        row.ms = (time.perf_counter() - start) * 1000
        row.reads = [r.as_dict() for r in reads]
        row.path = reader.last_path
        if reads:
            row.read, row.confidence = reads[0].text, reads[0].confidence
        row.exact = row.read == plate
        row.exact_any = any(r.text == plate for r in reads)
        if baseline:
            start = time.perf_counter()
            row.baseline_exact = plate in baseline_reads(reader, bgr, region)
            row.baseline_ms = (time.perf_counter() - start) * 1000
    return rows, {"region": region, "home_province": reader.home_province, **summarise(rows)}


def summarise(rows: list[PlateRow]) -> dict[str, Any]:
    ok = [r for r in rows if r.error is None]
    n = max(1, len(rows))
    per_type: dict[str, dict[str, Any]] = {}
    for r in rows:
        t = per_type.setdefault(r.type, {"images": 0, "exact": 0, "no_read": 0, "slow_path": 0})
        t["images"] += 1
        t["exact"] += r.exact
        t["no_read"] += r.error is None and r.read is None
        t["slow_path"] += r.path == "fallback"
    for t in per_type.values():
        t["exact"] = round(t["exact"] / t["images"], 4)
        # the share of this type's images that needed whole-frame OCR: what they cost
        t["slow_path"] = round(t["slow_path"] / t["images"], 4)
    buckets = []
    for low, high in BUCKETS:
        inside = [r for r in ok if r.confidence is not None and low <= r.confidence < high]
        buckets.append({"low": low, "high": min(high, 1.0), "reads": len(inside),
                        "exact": round(sum(r.exact for r in inside) / len(inside), 4)
                        if inside else None})
    times = [r.ms for r in ok]
    summary: dict[str, Any] = {
        "images": len(rows), "exact": round(sum(r.exact for r in rows) / n, 4),
        "exact_any": round(sum(r.exact_any for r in rows) / n, 4),
        "no_read": sum(r.read is None for r in ok), "errors": len(rows) - len(ok),
        "wrong_read": sum(r.read is not None and not r.exact for r in ok),
        "fallback": round(sum(r.path == "fallback" for r in ok) / max(1, len(ok)), 4),
        "per_type": per_type, "per_confidence": buckets,
        "ms_median": round(statistics.median(times), 1) if times else None,
        "ms_p90": round(statistics.quantiles(times, n=10)[-1], 1) if len(times) > 1 else None,
    }
    base = [r for r in ok if r.baseline_exact is not None]
    if base:
        base_ms = [r.baseline_ms for r in base if r.baseline_ms is not None]
        summary["baseline"] = {
            "what": "whole-frame PP-OCR, any text line (stacked lines joined)",
            "exact": round(sum(bool(r.baseline_exact) for r in base) / n, 4),
            "ms_median": round(statistics.median(base_ms), 1),
            "ms_mean": round(statistics.fmean(base_ms), 1),
        }
        mean_ours = statistics.fmean(times)
        summary["baseline"]["speedup_mean"] = round(statistics.fmean(base_ms) / mean_ours, 2)
    return summary
