"""The soak's own arithmetic and config: what it prints must be what the service was given."""

from __future__ import annotations

import os
from pathlib import Path

from gate.bench.soak import _config, _cpu_seconds, p99
from gate.config import load_config
from gate.demo import PtyPair


def test_n_perimeter_cameras_are_n_cameras_of_the_service(tmp_path: Path) -> None:
    clip = tmp_path / "street.avi"
    clip.write_bytes(b"")
    ptys = {name: PtyPair() for name in ("L1-in", "L1-out")}
    try:
        path = _config(tmp_path, ptys, 1883, 8080, (clip, clip, clip), perimeter_cameras=3)
    finally:
        for p in ptys.values():
            p.close()
    cameras = load_config(path).cameras
    assert [c.id for c in cameras if c.role == "perimeter"] == ["street1", "street2", "street3"]
    assert {c.role for c in cameras} == {"gate", "vehicle", "perimeter"}


def test_cpu_seconds_grow_with_work() -> None:
    before = _cpu_seconds(os.getpid())
    sum(i * i for i in range(2_000_000))
    after = _cpu_seconds(os.getpid())
    assert before is not None and after is not None and after > before
    assert _cpu_seconds(2**22 + 12345) is None  # no such process


def test_p99_of_few_values_is_the_largest() -> None:
    assert p99([]) is None
    assert p99([3.0, 1.0, 2.0]) == 3.0
    assert p99([float(i) for i in range(1, 201)]) == 199.0
