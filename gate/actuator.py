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
    """LCUS-1/2/4 USB relay board on a serial port (9600 8N1)."""

    def __init__(self, lane: str, config: RelayConfig, port: serial.Serial | None = None) -> None:
        super().__init__(lane, config)
        assert config.port
        self._port = port or serial.Serial(config.port, config.baud, timeout=1,
                                           write_timeout=1)

    def _set(self, on: bool) -> None:
        try:
            self._port.write(lcus_command(self.config.channel, on))
            self._port.flush()
        except (serial.SerialException, OSError) as exc:
            log.error("lane %s: relay board on %s failed: %s", self.lane, self.config.port, exc)
            raise


def make_relay(lane: str, config: RelayConfig, shared: dict[str, serial.Serial]) -> Relay:
    """One relay per lane; lanes on the same multi-channel board share its port."""
    if config.kind == "dry-run":
        return DryRunRelay(lane, config)
    assert config.port
    if config.port not in shared:
        shared[config.port] = serial.Serial(config.port, config.baud, timeout=1, write_timeout=1)
    return LcusRelay(lane, config, shared[config.port])
