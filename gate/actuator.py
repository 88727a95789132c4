"""Gate relays: the LCUS USB relay boards schools buy, and a dry-run stand-in.

Every relay has a fail mode: what the gate does when the service stops or
crashes. ``open`` (fail-safe, the default) keeps the exit free for a fire
evacuation; ``closed`` (fail-secure) keeps the gate shut. The relay is driven
to its fail mode on a clean stop; a crash must be covered by the wiring
(normally-open vs normally-closed contact), which README tells installers.
"""

from __future__ import annotations

import logging
import threading
from typing import Protocol

import serial

from gate.config import RelayConfig

log = logging.getLogger("gate.relay")


def lcus_command(channel: int, on: bool) -> bytes:
    """LCUS frame: ``A0``, channel, state, checksum (sum of the three, low byte)."""
    state = 1 if on else 0
    return bytes([0xA0, channel, state, (0xA0 + channel + state) & 0xFF])


class Relay(Protocol):
    lane: str

    def pulse(self, ms: int | None = None) -> None: ...

    def hold(self, released: bool) -> None: ...

    def fail_safe(self) -> None: ...

    def close(self) -> None: ...


class _TimedRelay:
    """Pulse timing and hold state shared by every relay kind."""

    def __init__(self, lane: str, config: RelayConfig) -> None:
        self.lane = lane
        self.config = config
        self.energised = False
        self.held = False
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None

    def _set(self, on: bool) -> None:
        raise NotImplementedError

    def _apply(self, on: bool) -> None:
        with self._lock:
            self._set(on)
            self.energised = on

    def pulse(self, ms: int | None = None) -> None:
        """Open for ``ms`` (the lane's pulse length by default), then lock again."""
        if self._timer:
            self._timer.cancel()
        self._apply(True)
        self._timer = threading.Timer((ms or self.config.pulse_ms) / 1000, self._end_pulse)
        self._timer.daemon = True
        self._timer.start()

    def _end_pulse(self) -> None:
        if not self.held:
            self._apply(False)

    def hold(self, released: bool) -> None:
        """Keep the gate open (fire alarm, manual hold) until released again."""
        self.held = released
        if self._timer:
            self._timer.cancel()
        self._apply(released)

    def fail_safe(self) -> None:
        if self._timer:
            self._timer.cancel()
        self._apply(self.config.fail == "open")
        log.warning("lane %s: relay left %s (fail mode)", self.lane, self.config.fail)

    def close(self) -> None:
        self.fail_safe()


class DryRunRelay(_TimedRelay):
    """No hardware: logs and remembers what a relay would do."""

    def __init__(self, lane: str, config: RelayConfig) -> None:
        super().__init__(lane, config)
        self.history: list[bool] = []

    def _set(self, on: bool) -> None:
        self.history.append(on)
        log.debug("lane %s: relay %s (dry run)", self.lane, "on" if on else "off")


class LcusRelay(_TimedRelay):
    """LCUS-1/2/4 USB relay board on a serial port (9600 8N1).

    The port is opened when first needed and opened again after a failure: a board that
    is unplugged (or not there when the service starts) is a device that is offline,
    reported as such, not a service that cannot start. Lanes on one multi-channel board
    share its port through ``shared``.
    """

    def __init__(self, lane: str, config: RelayConfig,
                 shared: dict[str, serial.Serial] | None = None) -> None:
        super().__init__(lane, config)
        assert config.port
        self._path = config.port
        self._shared = shared if shared is not None else {}
        self.connected = False
        self.last_error: str | None = None
        try:
            self._port()
        except (serial.SerialException, OSError) as exc:
            log.error("lane %s: relay board on %s not available: %s", lane, self._path, exc)

    def _port(self) -> serial.Serial:
        port = self._shared.get(self._path)
        if port is None:
            port = serial.Serial(self._path, self.config.baud, timeout=1, write_timeout=1)
            self._shared[self._path] = port
        return port

    def _set(self, on: bool) -> None:
        port: serial.Serial | None = None
        try:
            port = self._port()
            port.write(lcus_command(self.config.channel, on))
            port.flush()
        except (serial.SerialException, OSError) as exc:
            self.connected, self.last_error = False, f"{self._path}: {exc}"
            if port is not None and self._shared.get(self._path) is port:
                del self._shared[self._path]  # reopened at the next command
                port.close()
            log.error("lane %s: relay board on %s failed: %s", self.lane, self._path, exc)
            raise
        self.connected, self.last_error = True, None

    def probe(self) -> tuple[bool, str | None]:
        """For the supervisor: can the board's port be opened (without switching anything)?"""
        with self._lock:  # the relay's own leaf lock: no second open beside a command
            try:
                self._port()
            except (serial.SerialException, OSError) as exc:
                self.connected, self.last_error = False, f"{self._path}: {exc}"
                return False, self.last_error
            self.connected, self.last_error = True, None
            return True, None


def make_relay(lane: str, config: RelayConfig, shared: dict[str, serial.Serial]) -> Relay:
    """One relay per lane; lanes on the same multi-channel board share its port."""
    if config.kind == "dry-run":
        return DryRunRelay(lane, config)
    return LcusRelay(lane, config, shared)
