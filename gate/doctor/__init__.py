"""``gate doctor``: live checks of every configured part, each with a verdict and its fix.

An installer must know before leaving the school that every reader, relay, camera, the fire
input and the broker really work; "the config parses" is not that. Each check here is a plain
function from configuration (and injected probes) to a ``Verdict``, so the console's devices
page can run the same ones. Checks touch hardware for seconds at most and never move a relay
unless asked (``pulse_relays``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from gate.config import Config
from gate.doctor.broker import check_broker
from gate.doctor.devices import (
    check_camera,
    check_desk_reader,
    check_fire,
    check_reader,
    check_relay,
    detect_protocols,
    reader_verdict,
)
from gate.doctor.host import Runner, check_clock, check_database, check_disk, check_key, run_command
from gate.doctor.verdict import STATUS_RANK, Status, Verdict, exit_code, fail, ok, warn

__all__ = ["DoctorOptions", "Status", "Verdict", "check_broker", "check_camera", "check_clock",
           "check_database", "check_desk_reader", "check_disk", "check_fire", "check_key",
           "check_reader", "check_relay", "detect_protocols", "exit_code", "fail", "ok",
           "reader_verdict", "render", "run_doctor", "warn"]


@dataclass(frozen=True)
class DoctorOptions:
    listen_s: float = 3.0
    camera_timeout_s: float = 8.0
    snapshot_dir: Path | None = None
    pulse_relays: bool = False
    broker: bool = True


def run_doctor(config: Config, data_dir: Path, options: DoctorOptions = DoctorOptions(),
               clock_runner: Runner = run_command) -> list[Verdict]:
    """Every check, run side by side (readers listen and cameras warm up at the same time);
    results in a fixed order: readers, the desk's ID-card reader, relays, cameras, fire,
    broker, disk, database, clock, key."""
    snapshot_dir = options.snapshot_dir or data_dir / "doctor"
    jobs: list[Callable[[], Verdict | list[Verdict]]] = []
    for lane in config.lanes:
        jobs += [partial(check_reader, reader, options.listen_s) for reader in lane.readers]
    if config.visitors.desk_reader is not None:
        jobs.append(partial(check_desk_reader, config.visitors.desk_reader))
    jobs += [partial(check_relay, lane, options.pulse_relays) for lane in config.lanes]
    jobs += [partial(check_camera, camera, snapshot_dir, options.camera_timeout_s)
             for camera in config.cameras]
    jobs.append(partial(check_fire, config.fire_alarm))
    if options.broker:
        jobs.append(partial(check_broker, config))
    jobs += [partial(check_disk, data_dir), partial(check_database, data_dir),
             partial(check_clock, config, clock_runner), partial(check_key, config)]
    with ThreadPoolExecutor(max_workers=min(16, len(jobs))) as pool:
        futures = [pool.submit(_guarded, job) for job in jobs]
        return [v for f in futures for v in f.result()]


def _guarded(job: Callable[[], Verdict | list[Verdict]]) -> list[Verdict]:
    """A bug in one check must not hide the others' results."""
    try:
        result = job()
        return [result] if isinstance(result, Verdict) else result
    except Exception as exc:
        return [fail("doctor", f"a check crashed: {exc.__class__.__name__}: {exc}",
                     "report this as a bug (with `gate doctor --json`)")]


def render(verdicts: Sequence[Verdict]) -> str:
    """Human text: one line per check, then the fix indented below it."""
    mark = {"ok": " ok ", "warn": "WARN", "fail": "FAIL"}
    lines = []
    for v in verdicts:
        lines.append(f"[{mark[v.status]}] {v.check}: {v.detail}")
        if v.fix and v.status != "ok":
            lines.append(f"       fix: {v.fix}")
    worst = max((v.status for v in verdicts), key=STATUS_RANK.__getitem__, default="ok")
    fails = sum(v.status == "fail" for v in verdicts)
    warns = sum(v.status == "warn" for v in verdicts)
    lines.append(f"{len(verdicts)} checks: {fails} failed, {warns} warning(s)"
                 + (" - all good" if worst == "ok" else ""))
    return "\n".join(lines)
