"""What the ``evaluate`` commands leave behind: per-image CSV and JSON Lines, the summary as
JSON, and PNG charts a school can choose its operating point from.

matplotlib draws the charts (Agg backend: no display on a gate computer).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def write_rows(out: Path, stem: str, rows: Sequence[dict[str, Any]]) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    csv_path, jsonl_path = out / f"{stem}.csv", out / f"{stem}.jsonl"
    fields: list[str] = []
    for row in rows:
        fields += [k for k in row if k not in fields]
    with csv_path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _cell(v) for k, v in row.items()})
    with jsonl_path.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    return [csv_path, jsonl_path]


def _cell(value: Any) -> Any:
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    return "" if value is None else value


def write_summary(out: Path, summary: dict[str, Any]) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    path = out / "summary.json"
    path.write_text(json.dumps(summary, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return path


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def threshold_chart(path: Path, sweep: list[dict[str, float]], chosen: float,
                    title: str) -> Path:
    """Identification and strangers accepted against the threshold, the chosen one marked."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=100)
    xs = [p["threshold"] for p in sweep]
    ax.plot(xs, [100 * p["identified"] for p in sweep], label="enrolled probes identified (%)",
            color="tab:green")
    ax.plot(xs, [100 * p["strangers_accepted"] for p in sweep],
            label="strangers accepted as someone (%)", color="tab:red")
    ax.axvline(chosen, color="gray", linestyle="--", label=f"configured threshold {chosen:.3f}")
    ax.set_xlabel("distance threshold (lower is stricter)")
    ax.set_ylabel("%")
    ax.set_ylim(-2, 102)
    ax.grid(alpha=0.3)
    ax.set_title(title)
    ax.legend(loc="center right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def confidence_chart(path: Path, buckets: list[dict[str, Any]], title: str) -> Path:
    """Exact-read rate per confidence bucket (a reliability diagram) with the bucket sizes."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=100)
    centres = [(b["low"] + b["high"]) / 2 for b in buckets]
    widths = [(b["high"] - b["low"]) * 0.9 for b in buckets]
    ax.bar(centres, [b["exact"] if b["reads"] else 0 for b in buckets], width=widths,
           color="tab:blue", alpha=0.7, label="exact reads in bucket")
    ax.plot([0, 1], [0, 1], color="gray", linestyle="--", label="perfect calibration")
    for c, b in zip(centres, buckets, strict=True):
        ax.text(c, 0.02, str(b["reads"]), ha="center", fontsize=8)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("read confidence (number of reads in each bar)")
    ax.set_ylabel("fraction exact")
    ax.set_title(title)
    ax.legend(loc="upper left", fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


DET_TICKS = (0.001, 0.01, 0.05, 0.2, 0.5, 0.8, 0.95, 0.99, 0.999)


def _deviate(rate: float) -> float:
    """A DET chart's axis: the normal deviate of an error rate, clipped to 0.1 %..99.9 %
    (0 and 1 have none) so that a perfect corner stays on the chart."""
    from statistics import NormalDist

    return NormalDist().inv_cdf(min(max(rate, DET_TICKS[0]), DET_TICKS[-1]))


def det_chart(path: Path, points: list[dict[str, float]], marks: list[dict[str, Any]],
              title: str) -> Path:
    """ISO/IEC 30107-3's DET curve: BPCER against APCER on normal-deviate axes, with the
    configured and the suggested thresholds marked (``marks``: threshold, apcer, bpcer, label)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 5.2), dpi=100)
    ax.plot([_deviate(p["apcer"]) for p in points], [_deviate(p["bpcer"]) for p in points],
            color="tab:blue", label="liveness check")
    for mark, colour in zip(marks, ("tab:red", "tab:green", "tab:orange"), strict=False):
        ax.plot(_deviate(mark["apcer"]), _deviate(mark["bpcer"]), "o", color=colour,
                label=f"{mark['label']}: threshold {mark['threshold']:.4g}, APCER "
                      f"{100 * mark['apcer']:.1f} %, BPCER {100 * mark['bpcer']:.1f} %")
    ticks = [_deviate(t) for t in DET_TICKS]
    labels = [f"{100 * t:g}" for t in DET_TICKS]
    ax.set_xticks(ticks, labels)
    ax.set_yticks(ticks, labels)
    lim = (ticks[0] - 0.2, ticks[-1] + 0.2)
    ax.set_xlim(*lim)
    ax.set_ylim(*lim)
    ax.set_xlabel("APCER: attacks taken as live (%)")
    ax.set_ylabel("BPCER: real faces refused (%)")
    ax.grid(alpha=0.3)
    ax.set_title(title, fontsize=10)
    ax.legend(loc="upper right", fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
