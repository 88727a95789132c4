"""Doctor checks of the gate computer itself: disk, database, clock, encryption key."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Callable
from pathlib import Path

from gate.backup import (
    applied_migrations,
    configured_key_path,
    key_id,
    package_migrations,
    quick_check,
)
from gate.config import Config
from gate.doctor.verdict import Verdict, fail, ok, warn
from gate.store import DB_NAME

DISK_FAIL_BYTES = 500 * 1024**2
DISK_WARN_BYTES = 2 * 1024**3
DISK_WARN_FRACTION = 0.05


def check_disk(data_dir: Path) -> Verdict:
    check = "disk"
    probe = data_dir if data_dir.exists() else data_dir.parent
    try:
        usage = shutil.disk_usage(probe)
    except OSError as exc:
        return fail(check, f"cannot stat {probe}: {exc}", "check data_dir in the config")
    free_gb = usage.free / 1024**3
    info = {"path": str(probe), "free_bytes": usage.free, "total_bytes": usage.total}
    detail = f"{free_gb:.1f} GiB free of {usage.total / 1024**3:.1f} GiB on {probe}"
    if usage.free < DISK_FAIL_BYTES:
        return fail(check, detail, "free space now: the journal stops accepting events when the"
                    " disk is full (shorten [retention], move old backups off the gate)", **info)
    if usage.free < DISK_WARN_BYTES or usage.free < usage.total * DISK_WARN_FRACTION:
        return warn(check, detail + " (low)", "plan to free space: shorten [retention] or move "
                    "backups off the gate", **info)
    return ok(check, detail, **info)


def check_database(data_dir: Path) -> Verdict:
    check = "database"
    path = data_dir / DB_NAME
    if not path.is_file():
        return warn(check, f"{path} does not exist yet", "it is created at the first start "
                    "(`gate people import` or `systemctl start gate`); check --data-dir")
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
        try:
            problems = quick_check(db)
            applied = applied_migrations(db)
        finally:
            db.close()
    except sqlite3.Error as exc:
        return fail(check, f"{path}: cannot be read ({exc})", "restore the last backup: "
                    "`gate restore DIR` (README \"Backup\")")
    info = {"path": str(path), "migrations": applied}
    if problems:
        return fail(check, f"{path}: PRAGMA quick_check reports {problems[0]}"
                    + (f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""),
                    "stop the service and restore the last backup (`gate restore DIR`)",
                    **info, problems=problems[:20])
    known = package_migrations()
    newer = [m for m in applied if m not in known]
    if newer:
        return fail(check, f"{path}: schema {newer[-1]} is newer than this release",
                    "install the campus-gate release that wrote this database", **info)
    pending = [m for m in known if m not in applied]
    detail = f"{path}: quick_check ok, schema {applied[-1] if applied else 'empty'}"
    if pending:
        detail += f" ({len(pending)} migration(s) run at the next start, after a backup)"
    return ok(check, detail, **info)


Runner = Callable[[list[str]], str]


def run_command(args: list[str]) -> str:
    return subprocess.run(args, capture_output=True, text=True, check=True, timeout=5).stdout


def check_clock(config: Config, runner: Runner = run_command) -> Verdict:
    """Timestamps go to the police: the clock must be NTP-synchronised."""
    check = "clock"
    now = dt.datetime.now(config.tz).isoformat(timespec="seconds")
    try:
        out = runner(["timedatectl", "show"])
    except (OSError, subprocess.SubprocessError) as exc:
        why = (getattr(exc, "stderr", None) or "").strip().splitlines()[:1] or [type(exc).__name__]
        return warn(check, f"cannot tell whether the clock is synchronised "
                    f"(timedatectl: {why[0]}); now {now}", "on the gate computer run "
                    "`timedatectl` and enable NTP (`timedatectl set-ntp true`, or chrony)", now=now)
    props = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    info = {"now": now, "ntp": props.get("NTP"), "synchronized": props.get("NTPSynchronized"),
            "system_timezone": props.get("Timezone")}
    if props.get("NTPSynchronized") == "yes":
        return ok(check, f"NTP synchronised; now {now} ({config.timezone})", **info)
    if props.get("NTP") == "yes":
        return warn(check, f"NTP enabled but not synchronised yet; now {now}",
                    "check that the gate reaches its NTP server (`timedatectl "
                    "timesync-status`)", **info)
    return fail(check, f"NTP is off: timestamps sent to the police may be wrong; now {now}",
                "`timedatectl set-ntp true` (or install chrony) and check the time server",
                **info)


def check_key(config: Config) -> Verdict:
    check = "encryption key"
    path = configured_key_path(config)
    if path is None:
        return warn(check, "no encryption key configured: face data at rest is not encrypted",
                    "set [privacy] key_file and run `gate keys init` (or load the systemd "
                    "credential biometric-key)")
    try:
        st = path.stat()
        raw = path.read_bytes().strip()
    except OSError as exc:
        return fail(check, f"{path}: {exc.strerror}", "restore the key from its offline copy "
                    "(without it the encrypted face data cannot be read), or `gate keys init` "
                    "on a new install", path=str(path))
    if not raw:
        return fail(check, f"{path} is empty", "restore the key from its offline copy",
                    path=str(path))
    info = {"path": str(path), "key_id": key_id(raw)}
    if st.st_mode & 0o077 and not os.environ.get("CREDENTIALS_DIRECTORY"):
        return warn(check, f"{path} ({info['key_id']}) is readable by others "
                    f"(mode {st.st_mode & 0o777:o})", f"chmod 600 {path}", **info)
    return ok(check, f"{path} present ({info['key_id']})", **info)
