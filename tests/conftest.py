from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from gate.store import Store

TZ = ZoneInfo("Asia/Shanghai")
ROOT = Path(__file__).resolve().parent.parent
GATE = [sys.executable, "-m", "gate"]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "data", TZ)
    yield s
    s.close()


def run_gate(*args: str, input: str | None = None, timeout: float = 120,
             env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real `gate` command line in a child process."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([*GATE, *args], capture_output=True, text=True, input=input,
                          timeout=timeout, env=full_env)
