"""The fire-alarm input: a dry contact from the alarm panel, polled, debounced.

No software may be the only thing between pupils and the exit: the panel must
also cut the lock power in hardware (README). This input adds the software
release: every lane held open, and the guard and the police told.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

import serial

from gate.config import FireAlarmConfig

log = logging.getLogger("gate.fire")


class LoopFault(ValueError):
    """A supervised input reports its loop open (a cut wire) or shorted: the input says
    nothing about a fire, so it is read as a fault of the input, never as an alarm."""


# Supervised inputs (an end-of-line resistor on the loop) report four states instead of a bare
# contact; a bridge or I/O module that knows them writes these words.
SUPERVISED_STATES = {"normal": False, "alarm": True}
LOOP_FAULTS = {"open": "supervised loop open (cut wire?)", "short": "supervised loop shorted"}


def parse_state(text: str, active: str = "closed") -> bool:
    """A reading as written by a file-based input, as a contact state: ``1``/``0`` (contact
    closed or not) or a supervised state (``normal``, ``alarm``, ``open``, ``short``), which
    says alarm or not whatever the contact polarity ``active`` is. Raises ``LoopFault`` for a
    faulty loop and ValueError for anything else."""
    word = text.strip().lower()
    if word in ("1", "0"):
        return word == "1"
    if word in SUPERVISED_STATES:
        alarm = SUPERVISED_STATES[word]
        return alarm if active == "closed" else not alarm
    if word in LOOP_FAULTS:
        raise LoopFault(LOOP_FAULTS[word])
    raise ValueError(f"unreadable fire input state {text.strip()[:20]!r}")


class FireInput:
    """Reads the contact; ``read()`` is True when the contact is closed (or, for a
    supervised input, when it reports ``alarm``)."""

    def __init__(self, config: FireAlarmConfig) -> None:
        self.config = config
        self._port: serial.Serial | None = None

    def read(self) -> bool:
        c = self.config
        if c.kind == "serial-io":
            if self._port is None:
                assert c.port
                self._port = serial.Serial(c.port, timeout=0)
                self._port.dtr = True  # DTR powers the contact loop
            return bool(getattr(self._port, c.line))
        if c.kind == "gpio":
            return parse_state(Path(f"/sys/class/gpio/gpio{c.gpio_line}/value").read_text())
        if c.kind == "simulated":
            assert c.path
            return parse_state(c.path.read_text(), c.active)
        return False

    def close(self) -> None:
        if self._port is not None:
            self._port.close()
            self._port = None


class FireMonitor:
    """Polls the input; two equal readings in a row change the state (contact bounce).

    ``on_change`` is called with the new state; it must not raise, but if it does the
    loop goes on (a failed record must never stop the next reading). ``on_lost`` is
    called once when the input has been unreadable for ``lost_after_s`` (the installer's
    ``on_input_lost`` policy is applied there), and again with False once it reads.
    """

    def __init__(self, config: FireAlarmConfig, on_change: Callable[[bool], None],
                 on_lost: Callable[[bool], None] | None = None,
                 lost_after_s: float = 1.0) -> None:
        self.config = config
        self.input = FireInput(config)
        self.on_change = on_change
        self.on_lost = on_lost
        self.lost_after_s = lost_after_s
        self.active = False
        self.healthy = True
        self.lost = False
        self.last_error: str | None = None

    @property
    def enabled(self) -> bool:
        return self.config.kind != "none"

    def _alarm(self, closed: bool) -> bool:
        return closed if self.config.active == "closed" else not closed

    def run(self, stop: threading.Event) -> None:
        """The polling loop (run by the supervisor until ``stop``)."""
        previous: bool | None = None
        failing_since: float | None = None
        try:
            while not stop.wait(self.config.poll_ms / 1000):
                try:
                    reading = self._alarm(self.input.read())
                except (OSError, serial.SerialException, ValueError) as exc:
                    if self.healthy:
                        log.error("fire-alarm input unreadable: %s", exc)
                    self.healthy, self.last_error = False, str(exc)
                    self.input.close()
                    now = time.monotonic()
                    failing_since = failing_since or now
                    if not self.lost and now - failing_since >= self.lost_after_s:
                        self.lost = True
                        self._call(self.on_lost, True)
                    continue
                failing_since = None
                self.healthy, self.last_error = True, None
                if self.lost:
                    self.lost = False
                    log.warning("fire-alarm input readable again")
                    self._call(self.on_lost, False)
                if reading == previous and reading != self.active:
                    self.active = reading
                    log.critical("FIRE ALARM input %s", "ACTIVE" if reading else "cleared")
                    self._call(self.on_change, reading)
                previous = reading
        finally:
            self.input.close()

    @staticmethod
    def _call(callback: Callable[[bool], None] | None, value: bool) -> None:
        if callback is None:
            return
        try:
            callback(value)
        except Exception:
            log.exception("fire-alarm handler failed (the input is still watched)")
