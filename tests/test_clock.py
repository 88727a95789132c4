"""The clock-jump detector on injected clocks: steps are noticed once, slewing is not."""

from __future__ import annotations

import pytest

from gate.clock import ClockJumpDetector, Stopwatch


class Clocks:
    def __init__(self) -> None:
        self.wall = 1_800_000_000.0
        self.mono = 100.0

    def tick(self, seconds: float) -> None:
        self.wall += seconds
        self.mono += seconds


def test_steady_clocks_report_no_jump() -> None:
    c = Clocks()
    d = ClockJumpDetector(2.0, wall=lambda: c.wall, mono=lambda: c.mono)
    for _ in range(10):
        c.tick(5)
        assert d.check() is None
    assert d.jumps == 0


def test_ntp_step_backwards_is_reported_once_with_its_size() -> None:
    c = Clocks()
    d = ClockJumpDetector(2.0, wall=lambda: c.wall, mono=lambda: c.mono)
    c.tick(5)
    c.wall -= 30  # NTP corrects a clock that ran 30 s fast
    jump = d.check()
    assert jump is not None
    assert jump.offset_s == pytest.approx(-30)
    assert jump.elapsed_s == pytest.approx(5)
    c.tick(5)
    assert d.check() is None  # the same step is not reported again
    assert d.jumps == 1


def test_forward_step_and_threshold() -> None:
    c = Clocks()
    d = ClockJumpDetector(2.0, wall=lambda: c.wall, mono=lambda: c.mono)
    c.tick(1)
    c.wall += 1.5  # under the threshold: slew-sized, ignored
    assert d.check() is None
    c.tick(1)
    c.wall += 3600  # an RTC reset an hour off
    jump = d.check()
    assert jump is not None and jump.offset_s == pytest.approx(3600)


def test_threshold_must_be_positive() -> None:
    with pytest.raises(ValueError):
        ClockJumpDetector(0)


def test_stopwatch_ignores_wall_clock() -> None:
    c = Clocks()
    sw = Stopwatch(mono=lambda: c.mono)
    c.tick(2)
    c.wall -= 100  # a wall-clock step changes nothing
    assert sw.elapsed() == pytest.approx(2)
    assert sw.restart() == pytest.approx(2)
    c.tick(0.5)
    assert sw.elapsed() == pytest.approx(0.5)


def test_a_compressed_site_clock_plays_the_morning_fast_then_real_time() -> None:
    import datetime as dt
    import pickle
    from zoneinfo import ZoneInfo

    from gate.clock import SiteClock

    tz = ZoneInfo("Asia/Shanghai")
    start = dt.datetime(2026, 11, 23, 7, 20, tzinfo=tz)
    until = dt.datetime(2026, 11, 23, 8, 10, tzinfo=tz)
    mono = [100.0]
    clock = SiteClock.compressed(start, until, 10.0, mono=lambda: mono[0])
    assert clock() == start
    mono[0] = 160.0  # one real minute: ten minutes of the morning
    assert clock() == dt.datetime(2026, 11, 23, 7, 30, tzinfo=tz)
    mono[0] = 500.0  # the morning took 300 s; 100 s later the clock runs at real speed
    assert clock() == until + dt.timedelta(seconds=100)
    assert clock.mono_at(dt.datetime(2026, 11, 23, 7, 55, tzinfo=tz)) == 310.0
    assert clock.mono_at(until + dt.timedelta(seconds=30)) == 430.0
    assert clock.at(clock.mono_at(until - dt.timedelta(minutes=1))) == until - dt.timedelta(
        minutes=1)
    real = SiteClock.real(tz)
    assert real().tzinfo is tz and pickle.loads(pickle.dumps(real)).tz == tz
    with pytest.raises(ValueError):
        SiteClock.compressed(until, start, 10.0)
