"""The soak's own arithmetic and config: what it prints must be what the service was given."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from gate.bench.soak import _config, _cpu_seconds, _process_names, p99
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


def test_two_workers_with_one_kernel_name_are_both_counted() -> None:
    """Perimeter workers of street1 and street2 are both "gate-per-street" to the kernel."""
    code = ("import sys; from recognition.procname import name_process; "
            "name_process('gate-per-street1'); sys.stdout.write('ok\\n'); sys.stdout.flush(); "
            "sys.stdin.read()")
    children = [subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, text=True) for _ in range(2)]
    try:
        for child in children:
            assert child.stdout is not None and child.stdout.readline() == "ok\n"
        names = _process_names(os.getpid())
        first, second = sorted(c.pid for c in children)
        assert names["gate-per-street"] == first and names["gate-per-street#2"] == second
    finally:
        for child in children:
            child.kill()
            child.wait()
