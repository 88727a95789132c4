"""``/healthz``'s probe: do the decision path and the store answer within a second?

``Service.probe(timeout)`` asks them (``{"ok", "store_ms", "engine_ms", "problems"}``).

The probe runs in its own daemon thread so that a wedged store or engine can never hold a
server worker: the caller waits at most ``timeout`` seconds and reports unhealthy. While a
probe is still out, later callers wait for that same probe instead of starting another, so
a hung gate costs one stuck thread, not one per health check.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

ProbeResult = dict[str, Any]  # {"ok", "store_ms", "engine_ms", "problems"}


class Prober:
    def __init__(self, probe: Callable[[float], ProbeResult],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._probe = probe
        self._clock = clock
        self._lock = threading.Lock()
        self._done: threading.Event | None = None
        self._result: list[ProbeResult] = []
        self._started = 0.0

    def check(self, timeout: float) -> ProbeResult:
        """The probe's answer, or unhealthy once ``timeout`` has passed since it started."""
        with self._lock:
            if self._done is None or self._done.is_set():  # no probe out: start one
                self._done, self._result, self._started = threading.Event(), [], self._clock()
                threading.Thread(target=self._run, args=(timeout, self._done, self._result),
                                 name="console-probe", daemon=True).start()
            done, result, started = self._done, self._result, self._started
        if not done.wait(max(0.0, started + timeout - self._clock())):
            waited = self._clock() - started
            return {"ok": False, "store_ms": None, "engine_ms": None,
                    "problems": [f"no answer from the gate for {waited:.1f} s"]}
        return result[0]

    def _run(self, timeout: float, done: threading.Event, result: list[ProbeResult]) -> None:
        try:
            answer = dict(self._probe(timeout))
        except Exception as exc:  # a failing probe is an unhealthy gate, not a 500
            answer = {"ok": False, "store_ms": None, "engine_ms": None,
                      "problems": [f"probe failed: {type(exc).__name__}: {exc}"]}
        result.append(answer)
        done.set()
