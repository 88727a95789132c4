"""``gate bench``: figures measured on this machine, each against the plain way where there is one.

Contract (DESIGN.md): one figure is ``{"name", "value", "unit", "baseline",
"ratio"}`` with ``ratio = baseline / value`` (how many times better than the
plain way, for times). Benchmarks live in modules of this package and are
registered in ``SUITES``.
"""

from __future__ import annotations

import importlib
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Figure:
    name: str
    value: float
    unit: str
    baseline: float | None = None

    @property
    def ratio(self) -> float | None:
        if self.baseline is None or self.value == 0:
            return None
        return self.baseline / self.value

    def as_dict(self) -> dict[str, Any]:
        ratio = self.ratio
        return {"name": self.name, "value": round(self.value, 4), "unit": self.unit,
                "baseline": None if self.baseline is None else round(self.baseline, 4),
                "ratio": None if ratio is None else round(ratio, 2)}


def timings_ms(fn: Callable[[], object], repeat: int, warmup: int = 1) -> list[float]:
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1000)
    return out


def percentile(values: list[float], pct: float) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(pct) - 1]


Suite = Callable[[bool], list[Figure]]


def _suites() -> list[Suite]:
    from gate.bench import core, mqtt

    suites: list[Suite] = [core.run, mqtt.run]
    for name in ("gate.bench.faces", "gate.bench.engine", "gate.bench.plates",
                 "gate.bench.liveness", "gate.bench.perimeter", "gate.bench.evidence",
                 "gate.bench.photos"):
        try:
            module = importlib.import_module(name)
        except ImportError:  # face_recognition not installed
            continue
        suites.append(module.run)
    suites.append(_hub)
    return suites


def _hub(quick: bool) -> list[Figure]:
    """``hub.ingest_events_per_s`` / ``hub.latency_p99_ms``: simulated gates through a local
    two-node RabbitMQ cluster into PostgreSQL (gate/hub/bench.py). Starting the cluster
    takes over a minute, so only the full run has them, and only where both are installed."""
    if quick:
        return []
    from gate.hub import bench

    return [Figure(f["name"], f["value"], f["unit"], f["baseline"]) for f in bench.run(False)]


def run_benchmarks(quick: bool = False) -> list[Figure]:
    figures: list[Figure] = []
    for suite in _suites():
        figures.extend(suite(quick))
    return figures
