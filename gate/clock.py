"""Noticing wall-clock jumps (an NTP correction, an RTC reset) while durations stay monotonic.

Timestamps on events go to the police, so a wall clock that jumps must be noticed and
journalled; durations (pulse lengths, face windows, overstays) are measured on the monotonic
clock and never see the jump. The detector is pure: both clocks are injected, and the caller
decides what to do with a jump (log it, count it in metrics, raise an alert).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class ClockJump:
    """The wall clock moved ``offset_s`` more (positive: forward) than the monotonic clock."""

    offset_s: float
    wall_before: float
    wall_after: float
    elapsed_s: float  # monotonic seconds between the two samples


class ClockJumpDetector:
    """Compares wall-clock and monotonic progress between two ``check()`` calls.

    Between two samples both clocks should advance by the same amount; slewing NTP keeps the
    difference to milliseconds per minute, so anything over ``threshold_s`` is a step.
    """

    def __init__(self, threshold_s: float = 2.0, *,
                 wall: Callable[[], float] = time.time,
                 mono: Callable[[], float] = time.monotonic) -> None:
        if threshold_s <= 0:
            raise ValueError("threshold_s must be positive")
        self.threshold_s = threshold_s
        self._wall = wall
        self._mono = mono
        self._last_wall = wall()
        self._last_mono = mono()
        self.jumps = 0

    def check(self) -> ClockJump | None:
        """Sample both clocks; a jump since the previous sample is returned once."""
        wall, mono = self._wall(), self._mono()
        elapsed = mono - self._last_mono
        offset = (wall - self._last_wall) - elapsed
        jump = None
        if abs(offset) > self.threshold_s:
            jump = ClockJump(offset_s=offset, wall_before=self._last_wall, wall_after=wall,
                             elapsed_s=elapsed)
            self.jumps += 1
        self._last_wall, self._last_mono = wall, mono
        return jump


class Stopwatch:
    """Durations on the monotonic clock, so a wall-clock step never stretches or shrinks them."""

    def __init__(self, mono: Callable[[], float] = time.monotonic) -> None:
        self._mono = mono
        self._start = mono()

    def elapsed(self) -> float:
        return self._mono() - self._start

    def restart(self) -> float:
        now = self._mono()
        elapsed, self._start = now - self._start, now
        return elapsed
