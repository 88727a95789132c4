from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
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


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Any]:
    """A real Mosquitto on a free loopback port, with the shipped ACL and test passwords."""
    from tests.mqtt_helpers import secured_broker

    b = secured_broker(tmp_path / "broker").start()
    yield b
    b.stop()


def run_gate(*args: str, input: str | None = None, timeout: float = 120,
             env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real `gate` command line in a child process."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([*GATE, *args], capture_output=True, text=True, input=input,
                          timeout=timeout, env=full_env)
