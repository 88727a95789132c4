"""Where the development photo sets are, if this checkout has them.

``gate bench`` reports accuracy only from real photos: generated plates read
96 % where real ones read 65-92 %, so a generated-only accuracy misleads. The
sets live beside the checkout (``../shared/data``, never inside the
repository: their licences forbid it) or where ``GATE_DEV_DATA`` points.
"""

from __future__ import annotations

import os
from pathlib import Path

ENV = "GATE_DEV_DATA"


def dev_data_dir() -> Path | None:
    env = os.environ.get(ENV)
    candidates = [Path(env)] if env else []
    checkout = Path(__file__).resolve().parents[2]
    candidates += [checkout.parent / "shared" / "data", checkout / ".." / "shared" / "data"]
    for path in candidates:
        if path.is_dir():
            return path.resolve()
    return None


def dev_set(name: str) -> Path | None:
    """One set (``faces_dev``, ``plates/cn``, ``plates/generic``) if present."""
    root = dev_data_dir()
    if root is None:
        return None
    path = root / name
    return path if path.is_dir() else None
