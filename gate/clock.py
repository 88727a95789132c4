"""Noticing wall-clock jumps (an NTP correction, an RTC reset) while durations stay monotonic.

Timestamps on events go to the police, so a wall clock that jumps must be noticed and
journalled; durations (pulse lengths, face windows, overstays) are measured on the monotonic
clock and never see the jump. The detector is pure: both clocks are injected, and the caller
decides what to do with a jump (log it, count it in metrics, raise an alert).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass
from zoneinfo import ZoneInfo


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


@dataclass(frozen=True)
class SiteClock:
    """The site's wall clock, real or compressed: what ``Store.now`` and the perimeter process
    read, so that everything the service stamps agrees on one time.

    The real gate uses the plain wall clock (``SiteClock.real(tz)``). ``gate demo`` plays a
    school morning faster than real time: from ``start`` the clock runs ``speed`` times
    faster until ``until``, then at real speed, so that what follows the script (escalations,
    the absence job) is not rushed. Monotonic seconds drive it (CLOCK_MONOTONIC is
    system-wide, so a worker process started later reads the same time); it is picklable for
    the processes the service spawns.
    """

    tz: ZoneInfo
    start: dt.datetime | None = None  # None: the real wall clock
    speed: float = 1.0
    until: dt.datetime | None = None
    mono0: float = 0.0
    mono: Callable[[], float] = time.monotonic

    @classmethod
    def real(cls, tz: ZoneInfo) -> SiteClock:
        return cls(tz)

    @classmethod
    def compressed(cls, start: dt.datetime, until: dt.datetime, speed: float,
                   mono: Callable[[], float] = time.monotonic) -> SiteClock:
        if speed < 1 or until < start or start.tzinfo is None:
            raise ValueError("a compressed clock runs forward, at least at real speed, "
                             "from an aware start")
        assert isinstance(start.tzinfo, ZoneInfo)
        return cls(start.tzinfo, start, speed, until, mono(), mono)

    def __call__(self) -> dt.datetime:
        if self.start is None:
            return dt.datetime.now(self.tz)
        return self.at(self.mono())

    def at(self, mono: float) -> dt.datetime:
        """The site time at monotonic time ``mono``."""
        assert self.start is not None and self.until is not None
        elapsed = mono - self.mono0
        fast = (self.until - self.start).total_seconds() / self.speed
        if elapsed <= fast:
            return self.start + dt.timedelta(seconds=elapsed * self.speed)
        return self.until + dt.timedelta(seconds=elapsed - fast)

    def mono_at(self, when: dt.datetime) -> float:
        """The monotonic time at which the site clock shows ``when`` (the demo waits for it)."""
        if self.start is None or self.until is None:
            return self.mono() + (when - dt.datetime.now(self.tz)).total_seconds()
        fast = (self.until - self.start).total_seconds() / self.speed
        if when <= self.until:
            return self.mono0 + (when - self.start).total_seconds() / self.speed
        return self.mono0 + fast + (when - self.until).total_seconds()
