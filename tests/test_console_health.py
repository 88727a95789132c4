"""``/healthz``'s prober: a wedged probe makes the gate unhealthy fast, never a 500, and
never one stuck thread per health check."""

from __future__ import annotations

import threading
import time

from gate.console.health import Prober, ProbeResult


def test_an_answer_passes_through() -> None:
    answer = {"ok": True, "store_ms": 0.3, "engine_ms": 0.1, "problems": []}
    assert Prober(lambda timeout: answer).check(1.0) == answer


def test_a_failing_probe_is_unhealthy_not_an_error() -> None:
    def broken(timeout: float) -> ProbeResult:
        raise OSError("disk gone")

    result = Prober(broken).check(1.0)
    assert result["ok"] is False and "disk gone" in result["problems"][0]


def test_a_wedged_probe_is_unhealthy_within_the_timeout_and_shared() -> None:
    release = threading.Event()
    calls: list[float] = []

    def wedged(timeout: float) -> ProbeResult:
        calls.append(timeout)
        release.wait(10)
        return {"ok": True, "store_ms": 1.0, "engine_ms": 1.0, "problems": []}

    prober = Prober(wedged)
    start = time.monotonic()
    first = prober.check(0.2)
    assert first["ok"] is False and "no answer" in first["problems"][0]
    assert 0.2 <= time.monotonic() - start < 1.0
    start = time.monotonic()
    second = prober.check(0.2)  # the same probe is still out: no second thread, no wait
    assert second["ok"] is False and time.monotonic() - start < 0.1
    assert len(calls) == 1
    release.set()
    deadline = time.monotonic() + 5
    while not prober.check(0.2)["ok"]:  # recovers once the store answers again
        assert time.monotonic() < deadline
