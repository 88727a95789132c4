"""Runs every long-lived loop of the service, restarts it when it dies, and keeps the one
health model that the console, ``gate status``, the watchdog and the alerts read.

- A *loop* is ``run(stop)``: it returns only when ``stop`` is set. If it raises (or
  returns early) the supervisor records the crash, reports a ``service_fault`` and
  starts it again after a capped back-off (0.5 s doubling to ``max_backoff_s``).
- A *probe* says whether a device is up (a reader's port open, a camera delivering,
  the fire input readable, the broker connected). The monitor polls the probes and
  turns each change that lasts ``debounce_s`` into ``device_offline`` /
  ``device_online``.
- ``alive()`` is true only while every critical loop runs: the systemd watchdog is
  petted only then (gate/service.py), so a frozen or dead core gets restarted.

Callbacks (``on_fault``, ``on_device``) run on the supervisor's threads with no lock
held (docs/ARCHITECTURE.md, "Locks").
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

log = logging.getLogger("gate.supervisor")

Loop = Callable[[threading.Event], None]
Probe = Callable[[], tuple[bool | None, str | None]]  # None: not known yet


@dataclass
class Component:
    name: str
    kind: str  # reader, camera, recognition, mqtt, broker, fire, scheduler, console, ...
    critical: bool
    up: bool = False
    since: float = field(default_factory=time.time)
    error: str | None = None
    restarts: int = 0
    crashes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["crashes"] = self.crashes[-5:]
        return out


class Health:
    """The health model: one row per loop and per device."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rows: dict[str, Component] = {}

    def register(self, name: str, kind: str, critical: bool) -> None:
        with self._lock:
            self._rows.setdefault(name, Component(name, kind, critical))

    def set(self, name: str, up: bool, error: str | None = None) -> bool:
        """Returns True when the state changed."""
        with self._lock:
            row = self._rows[name]
            changed = row.up != up
            if changed:
                row.up, row.since = up, time.time()
            row.error = None if up else error
            return changed

    def crashed(self, name: str, why: str) -> None:
        with self._lock:
            row = self._rows[name]
            row.up, row.error = False, why
            row.restarts += 1
            row.crashes = [*row.crashes[-9:], why]

    def get(self, name: str) -> Component:
        with self._lock:
            return self._rows[name]

    def snapshot(self) -> list[dict[str, Any]]:
        with self._lock:
            return [r.as_dict() for r in self._rows.values()]


@dataclass
class _LoopSpec:
    name: str
    kind: str
    run: Loop
    critical: bool
    max_backoff_s: float
    thread: threading.Thread | None = None


@dataclass
class _ProbeSpec:
    name: str
    kind: str
    probe: Probe
    critical: bool
    debounce_s: float
    pending: bool | None = None
    pending_since: float = 0.0
    reported: bool | None = None


class Supervisor:
    def __init__(self, health: Health | None = None, *,
                 on_fault: Callable[[str, str, bool], None] | None = None,
                 on_device: Callable[[str, str, bool, str | None, bool], None] | None = None,
                 debounce_s: float = 1.0, poll_s: float = 0.25) -> None:
        self.health = health or Health()
        self.stop_event = threading.Event()
        self._loops: dict[str, _LoopSpec] = {}
        self._probes: list[_ProbeSpec] = []
        self._on_fault = on_fault
        self._on_device = on_device
        self.debounce_s = debounce_s
        self.poll_s = poll_s
        self._monitor: threading.Thread | None = None

    def add_loop(self, name: str, kind: str, run: Loop, *, critical: bool = False,
                 max_backoff_s: float = 10.0) -> None:
        self.health.register(name, kind, critical)
        self._loops[name] = _LoopSpec(name, kind, run, critical, max_backoff_s)

    def add_probe(self, name: str, kind: str, probe: Probe, *, critical: bool = False,
                  debounce_s: float | None = None) -> None:
        """``debounce_s``: how long a change must last to be reported (a camera needs a
        few seconds to connect at start; a reader's port opens at once)."""
        self.health.register(name, kind, critical)
        self._probes.append(_ProbeSpec(name, kind, probe, critical,
                                       self.debounce_s if debounce_s is None else debounce_s))

    def start(self) -> None:
        for spec in self._loops.values():
            spec.thread = threading.Thread(target=self._keep_running, args=(spec,),
                                           name=f"sup-{spec.name}", daemon=True)
            spec.thread.start()
        self._monitor = threading.Thread(target=self._watch, name="sup-monitor", daemon=True)
        self._monitor.start()

    def stop(self, timeout: float = 5.0) -> None:
        self.stop_event.set()
        deadline = time.monotonic() + timeout
        for spec in self._loops.values():
            if spec.thread is not None:
                spec.thread.join(max(0.0, deadline - time.monotonic()))
        if self._monitor is not None:
            self._monitor.join(1.0)

    def alive(self) -> bool:
        """Every critical loop is running (not dead, not waiting to be restarted)."""
        return not self.dead_critical()

    def dead_critical(self) -> list[str]:
        return [spec.name for spec in self._loops.values()
                if spec.critical and (spec.thread is None or not spec.thread.is_alive()
                                      or not self.health.get(spec.name).up)]

    def _keep_running(self, spec: _LoopSpec) -> None:
        backoff = 0.5
        while not self.stop_event.is_set():
            self.health.set(spec.name, True)
            started = time.monotonic()
            try:
                spec.run(self.stop_event)
                if self.stop_event.is_set():
                    break
                why = "the loop returned unexpectedly"
            except Exception as exc:
                why = f"{type(exc).__name__}: {exc}"
                log.exception("%s %s crashed; restarting in %.1f s", spec.kind, spec.name,
                              backoff)
            else:
                log.error("%s %s stopped by itself; restarting in %.1f s", spec.kind,
                          spec.name, backoff)
            self.health.crashed(spec.name, why)
            self._tell_fault(spec.name, why, spec.critical)
            if time.monotonic() - started > 60:
                backoff = 0.5  # it ran well for a while: a fresh fault, a fresh back-off
            if self.stop_event.wait(backoff):
                break
            backoff = min(backoff * 2, spec.max_backoff_s)
        self.health.set(spec.name, False, "stopped")

    def _tell_fault(self, name: str, why: str, critical: bool) -> None:
        if self._on_fault is None:
            return
        try:
            self._on_fault(name, why, critical)
        except Exception:
            log.exception("could not report the fault of %s", name)

    def poll_probes(self, now: float | None = None) -> None:
        """One round of device probes (the monitor thread calls this; tests may too)."""
        now = time.monotonic() if now is None else now
        for spec in self._probes:
            try:
                state, error = spec.probe()
            except Exception as exc:
                state, error = False, f"probe failed: {type(exc).__name__}: {exc}"
            if state is None:  # not known yet (a camera before its worker's first report)
                continue
            up = state
            self.health.set(spec.name, up, error)
            if up != spec.pending:
                spec.pending, spec.pending_since = up, now
            stable = now - spec.pending_since >= spec.debounce_s
            if stable and spec.reported != up:
                if not (spec.reported is None and up):  # coming up at start is not news
                    self._tell_device(spec, up, error)
                spec.reported = up

    def _tell_device(self, spec: _ProbeSpec, up: bool, error: str | None) -> None:
        if up:
            log.info("%s %s is back", spec.kind, spec.name)
        else:
            log.error("%s %s is offline: %s", spec.kind, spec.name, error)
        if self._on_device is None:
            return
        try:
            self._on_device(spec.name, spec.kind, up, error, spec.critical)
        except Exception:
            log.exception("could not report %s %s", spec.kind, spec.name)

    def _watch(self) -> None:
        while not self.stop_event.wait(self.poll_s):
            self.poll_probes()
