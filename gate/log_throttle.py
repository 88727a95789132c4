"""Repeated log lines, rate-limited: one line per cause per interval, with a count.

A reader fed 64 KiB of line noise produced 236 WARNING lines; the operator needs one
line that says what is wrong and how often, not a flooded journal that hides the
next real problem.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable


class Throttle:
    def __init__(self, logger: logging.Logger, interval_s: float = 30.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.logger = logger
        self.interval_s = interval_s
        self._clock = clock
        self._lock = threading.Lock()
        self._last: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}

    def log(self, level: int, key: str, msg: str, *args: object) -> bool:
        """Log ``msg`` unless ``key`` was logged within the interval; returns whether it
        was written. A written line says how many were held back since the last one."""
        now = self._clock()
        with self._lock:
            last = self._last.get(key)
            if last is not None and now - last < self.interval_s:
                self._suppressed[key] = self._suppressed.get(key, 0) + 1
                return False
            held = self._suppressed.pop(key, 0)
            self._last[key] = now
        if held:
            msg += f" ({held} more like this in the last {self.interval_s:.0f} s)"
        self.logger.log(level, msg, *args)
        return True
