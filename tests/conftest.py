from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from gate.store import Store

TZ = ZoneInfo("Asia/Shanghai")
# An instant for records whose time means nothing to the test (a backup's counts, a commit):
# fixed, so no test reads the wall clock it runs at.
AT = dt.datetime(2026, 3, 2, 9, 30, tzinfo=TZ)
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


# What a page must show may wait on a photo worker or on a core the suite's other processes
# share: wait up to 15 s for it (a wait ends as soon as it shows; a test that asserts speed
# gives its own shorter timeout).
expect.set_options(timeout=15_000)

# The suite runs with pytest-xdist, one process per core and one more (run.sh: `-n N --dist
# loadfile --no-loadscope-reorder`). Each test file is one unit of work, so its module fixtures
# (enrolled faces, loaded models, a browser) are made once per run, and the hub's files are one
# unit together (pytest_xdist_make_scheduler below: one RabbitMQ cluster and PostgreSQL,
# tests/hub_helpers.py). Units are handed out in collection order: longest first here, so the
# long real-time tests (the perimeter footage, the 60 s hammer, the bridge cut, the broker
# outage) run side by side instead of one behind another at the end.
# Seconds of each file in a two-process run on the 2-core machine, rounded; files not listed
# take under 10 s.
SERIAL_SECONDS = {
    "test_demo": 250, "test_perimeter_footage": 130, "test_hub_viid": 110, "test_faces": 100,
    "test_hub_transport": 90, "test_faults": 90, "test_hub_simulate": 90, "test_console_ui": 80,
    "test_console": 70, "test_evaluate": 70, "test_mqtt": 50, "test_engine": 50,
    "test_console_audit_ui": 30, "test_perimeter_service": 30, "test_safety_core": 30,
    "test_console_evidence_ui": 20, "test_plates": 20, "test_console_cameras": 20,
    "test_desk_ui": 20, "test_hub_watchlists": 20, "test_visitors": 14, "test_erasure_race": 13,
    "test_doctor": 11, "test_relay": 10,
}


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """With ``--dist loadfile``, the hub's files are one unit of work: one worker starts one
    RabbitMQ cluster and one PostgreSQL for all of them (about 17 s of CPU and 25-40 s each
    when every worker started its own)."""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class HubFilesTogether(LoadFileScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return "tests/test_hub_*" if Path(path).name.startswith("test_hub_") else path

    return HubFilesTogether(config, log)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # stable: within a file, and among the short files, the collection order stays
    items.sort(key=lambda item: -SERIAL_SECONDS.get(item.path.stem, 0))


def real_clock_env() -> dict[str, str]:
    """The environment to launch Chromium in, without scripts/at-site-time's libfaketime.

    Chromium aborts when libfaketime is preloaded into it ("clock_gettime(CLOCK_REALTIME)
    failed" in its child processes), so the browser keeps the real clock; the pages only format
    the timestamps the server sends, in the site's time zone. Without at-site-time, this is the
    environment as it is.
    """
    return {k: v for k, v in os.environ.items()
            if k != "LD_PRELOAD" and not k.startswith("FAKETIME") and k != "DONT_FAKE_MONOTONIC"}
