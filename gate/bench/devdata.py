"""Where the development photo sets are, if this checkout has them.

``gate bench`` reports accuracy only from real photos: generated plates read
96 % where real ones read 65-92 %, so a generated-only accuracy misleads. The
sets never enter the repository (their licences forbid it): ``GATE_DEV_DATA`` names
the folder that holds them (``faces_dev/``, ``plates/cn/``, ``plates/generic/``).
"""

from __future__ import annotations

import os
from pathlib import Path

ENV = "GATE_DEV_DATA"


def dev_data_dir() -> Path | None:
    env = os.environ.get(ENV)
    path = Path(env) if env else None
    return path.resolve() if path is not None and path.is_dir() else None


def dev_set(name: str) -> Path | None:
    """One set (``faces_dev``, ``plates/cn``, ``plates/generic``) if present."""
    root = dev_data_dir()
    if root is None:
        return None
    path = root / name
    return path if path.is_dir() else None
