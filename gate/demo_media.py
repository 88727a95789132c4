"""Where the shipped demo media live (faces, roster), for the demo and the benchmarks alike.

Its own module so that ``gate.bench.scenes`` and ``gate.demo`` both depend on it instead of
on each other (they formed an import cycle).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def demo_data_dir() -> Path:
    return Path(str(resources.files("gate") / "demo_data"))
