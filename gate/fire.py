"""The fire-alarm input: a dry contact from the alarm panel, polled, debounced.

No software may be the only thing between pupils and the exit: the panel must
also cut the lock power in hardware (README). This input adds the software
release: every lane held open, and the guard and the police told.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

import serial

from gate.config import FireAlarmConfig

log = logging.getLogger("gate.fire")


class FireInput:
    """Reads the contact; ``read()`` is True when the contact is closed."""

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
            return _read_flag(Path(f"/sys/class/gpio/gpio{c.gpio_line}/value"))
        if c.kind == "simulated":
            assert c.path
            return _read_flag(c.path)
        return False

    def close(self) -> None:
        if self._port is not None:
            self._port.close()
            self._port = None


def _read_flag(path: Path) -> bool:
    return path.read_text().strip() == "1"


class FireMonitor:
    """Polls the input; two equal readings in a row change the state (contact bounce)."""

    def __init__(self, config: FireAlarmConfig, on_change: Callable[[bool], None]) -> None:
        self.config = config
        self.input = FireInput(config)
        self.on_change = on_change
        self.active = False
        self.healthy = True
        self.last_error: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fire-alarm", daemon=True)

    def start(self) -> None:
        if self.config.kind != "none":
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(2)
        self.input.close()

    def _alarm(self, closed: bool) -> bool:
        return closed if self.config.active == "closed" else not closed

    def _run(self) -> None:
        previous: bool | None = None
        while not self._stop.wait(self.config.poll_ms / 1000):
            try:
                reading = self._alarm(self.input.read())
            except (OSError, serial.SerialException, ValueError) as exc:
                if self.healthy:
                    log.error("fire-alarm input unreadable: %s", exc)
                self.healthy, self.last_error = False, str(exc)
                self.input.close()
                continue
            self.healthy, self.last_error = True, None
            if reading == previous and reading != self.active:
                self.active = reading
                log.critical("FIRE ALARM %s", "ACTIVE: all lanes released" if reading
                             else "cleared")
                self.on_change(reading)
            previous = reading
