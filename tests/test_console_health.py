"""``/healthz``'s prober: a wedged probe makes the gate unhealthy fast, never a 500, and
never one stuck thread per health check."""

from __future__ import annotations

import re
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

    later = [0.0]  # the prober's clock runs ahead of the real one by this much
    prober = Prober(wedged, clock=lambda: time.monotonic() + later[0])
    start = time.monotonic()
    first = prober.check(0.2)
    # it waited its timeout, not the probe (which answers only when released, or after 10 s)
    assert first["ok"] is False and "no answer" in first["problems"][0]
    assert time.monotonic() - start >= 0.2
    later[0] = 60.0
    # a minute on, the same probe is still out: no second thread, and no wait, as its time
    # is up (a check that waited for the probe would get its ok, 10 s later)
    second = prober.check(30.0)
    assert second["ok"] is False and second["store_ms"] is None
    waited = re.fullmatch(r"no answer from the gate for ([\d.]+) s", second["problems"][0])
    assert waited and float(waited[1]) >= 60
    assert len(calls) == 1
    release.set()
    deadline = time.monotonic() + 5
    while not prober.check(0.2)["ok"]:  # recovers once the store answers again
        assert time.monotonic() < deadline
