"""``gate doctor``: live checks of every configured part, each with a verdict and its fix.

An installer must know before leaving the school that every reader, relay, camera, the fire
input and the broker really work; "the config parses" is not that. Each check here is a plain
function from configuration (and injected probes) to a ``Verdict``, so the console's devices
page can run the same ones. Checks touch hardware for seconds at most and never move a relay
unless asked (``pulse_relays``).
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import sqlite3
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Literal

import serial

from gate.backup import (
    applied_migrations,
    configured_key_path,
    key_id,
    package_migrations,
    quick_check,
)
from gate.config import CameraConfig, Config, FireAlarmConfig, LaneConfig, MqttConfig, ReaderConfig
from gate.store import DB_NAME

Status = Literal["ok", "warn", "fail"]
_RANK = {"ok": 0, "warn": 1, "fail": 2}

DISK_FAIL_BYTES = 500 * 1024**2
DISK_WARN_BYTES = 2 * 1024**3
DISK_WARN_FRACTION = 0.05


@dataclass(frozen=True)
class Verdict:
    """One check's outcome: ``fix`` says what to do when ``status`` is not ``ok``."""

    check: str
    status: Status
    detail: str
    fix: str = ""
    data: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def ok(check: str, detail: str, **data: Any) -> Verdict:
    return Verdict(check, "ok", detail, "", data)


def warn(check: str, detail: str, fix: str, **data: Any) -> Verdict:
    return Verdict(check, "warn", detail, fix, data)


def fail(check: str, detail: str, fix: str, **data: Any) -> Verdict:
    return Verdict(check, "fail", detail, fix, data)


def exit_code(verdicts: Sequence[Verdict]) -> int:
    return 1 if any(v.status == "fail" for v in verdicts) else 0


# Serial ports --------------------------------------------------------------------------

def _port_problem(check: str, port: str, what: str) -> Verdict | None:
    """A port that is missing or not ours, with the fix an installer can act on."""
    if not os.path.exists(port):
        return fail(check, f"{port} does not exist (is the {what} plugged in?)",
                    f"plug the {what} in, then check `ls -l /dev/serial/by-id/ /dev/gate-*` and "
                    "the port in the config (systemd/99-campus-gate.rules gives stable names)")
    if not os.access(port, os.R_OK | os.W_OK):
        return fail(check, f"{port}: permission denied",
                    "the service user needs the dialout group (SupplementaryGroups=dialout in "
                    "gate.service; `usermod -aG dialout USER` for a manual run)")
    return None


def _open_exclusive(check: str, port: str, baud: int, what: str
                    ) -> tuple[serial.Serial | None, Verdict | None]:
    try:
        return serial.Serial(port, baud, timeout=0.1, exclusive=True), None
    except (serial.SerialException, OSError) as exc:
        text = str(exc)
        if "lock" in text.lower() or "busy" in text.lower():
            return None, warn(check, f"{port} is in use by another process (the running "
                              "service?)", f"stop the service (`systemctl stop gate`) to test "
                              f"the {what} directly, or see its state on the console's devices "
                              "page")
        return None, fail(check, f"cannot open {port}: {text}",
                          f"check the {what}'s cable and the port in the config")


def _parsers(byte_order: Any) -> dict[str, Any]:
    from rfid.protocols import make_parser

    return {name: make_parser(name, byte_order)
            for name in ("em4100", "uid-line", "wiegand", "qr-line")}


def detect_protocols(data: bytes, configured: str, byte_order: Any = "as-is"
                     ) -> dict[str, dict[str, int]]:
    """Feed the same bytes to every frame parser; which families decode them, how often.

    Pure, so the console and tests can ask "which protocol is this reader speaking?".
    """
    from rfid.protocols import BadFrame

    counts: dict[str, dict[str, int]] = {}
    for name, parser in _parsers(byte_order).items():
        results = parser.feed(data + b"\n")  # a trailing newline completes a last text line
        good = sum(1 for r in results if not isinstance(r, BadFrame))
        bad = sum(1 for r in results if isinstance(r, BadFrame))
        counts[name] = {"frames": good, "bad": bad}
    if configured not in counts and configured != "auto":
        counts[configured] = {"frames": 0, "bad": 0}
    return counts


def reader_verdict(reader: ReaderConfig, data: bytes, seconds: float) -> Verdict:
    """Judge what a reader sent during the listening window (pure)."""
    check = f"reader {reader.id}"
    counts = detect_protocols(data, reader.protocol, reader.byte_order)
    speaking = [name for name, c in counts.items() if c["frames"] and name != "qr-line"]
    if reader.protocol == "qr-line" and counts["qr-line"]["frames"]:
        speaking = ["qr-line"]
    detected = max(speaking, key=lambda n: counts[n]["frames"]) if speaking else None
    info = {"port": reader.port, "bytes": len(data), "protocol": reader.protocol,
            "detected": detected, "seconds": seconds}
    if not data:
        return warn(check, f"{reader.port} open, but no card presented in {seconds:.1f} s",
                    "hold a card on the reader while `gate doctor` runs to see its frames and "
                    "protocol (--listen SECONDS for longer)", **info, frames=0)
    if reader.protocol in ("auto", detected) and detected is not None:
        mine = counts[detected]
        detail = (f"{reader.port}: {mine['frames']} frame(s) in {seconds:.1f} s, "
                  f"protocol {detected}")
        if mine["bad"]:
            return warn(check, detail + f", {mine['bad']} bad frame(s)",
                        "bad frames mean line noise or a wrong baud rate: check the cable, "
                        "its length and screening, and `baud`", **info, frames=mine["frames"])
        return ok(check, detail, **info, frames=mine["frames"])
    if detected is not None:
        return fail(check, f"{reader.port} sends {detected} frames but the config says "
                    f"protocol = {reader.protocol!r}",
                    f"set protocol = \"{detected}\" for reader {reader.id}", **info, frames=0)
    return fail(check, f"{reader.port}: {len(data)} byte(s) in {seconds:.1f} s, none a valid "
                f"{reader.protocol} frame (wrong baud rate or protocol?)",
                f"check baud (now {reader.baud}) and protocol; `gate rfid listen --port "
                f"{reader.port} --protocol auto` shows what arrives", **info, frames=0)


def check_reader(reader: ReaderConfig, listen_s: float = 3.0) -> Verdict:
    """Open the reader's port, listen ``listen_s`` seconds, and judge the frames seen."""
    check = f"reader {reader.id}"
    problem = _port_problem(check, reader.port, "reader")
    if problem:
        return problem
    port, problem = _open_exclusive(check, reader.port, reader.baud, "reader")
    if port is None:
        assert problem is not None
        return problem
    data = b""
    started = time.monotonic()
    try:
        while time.monotonic() - started < listen_s:
            data += port.read(max(1, port.in_waiting))
    except (serial.SerialException, OSError) as exc:
        return fail(check, f"{reader.port} failed while reading: {exc}",
                    "the reader was unplugged or its USB adapter reset; check the cable")
    finally:
        port.close()
    return reader_verdict(reader, data, time.monotonic() - started)


# Relays --------------------------------------------------------------------------------

def check_relay(lane: LaneConfig, pulse: bool = False) -> Verdict:
    """A dry-run relay passes with a note; a board must open and accept a command.

    LCUS boards do not answer, so "answering" means the port opens and takes the command; with
    ``pulse`` the relay is really clicked (the installer listens for it).
    """
    check = f"relay {lane.id}"
    relay = lane.relay
    if relay.kind == "dry-run":
        return ok(check, "dry run: no relay board, nothing is switched (note: the gate will "
                  "not open by itself)", kind="dry-run")
    assert relay.port
    problem = _port_problem(check, relay.port, "relay board")
    if problem:
        return problem
    port, problem = _open_exclusive(check, relay.port, relay.baud, "relay board")
    if port is None:
        assert problem is not None
        return problem
    from gate.actuator import lcus_command

    try:
        port.write_timeout = 1
        if pulse:
            port.write(lcus_command(relay.channel, True))
            port.flush()
            time.sleep(relay.pulse_ms / 1000)
        port.write(lcus_command(relay.channel, False))
        port.flush()
    except (serial.SerialException, OSError) as exc:
        return fail(check, f"{relay.port} does not take commands: {exc}",
                    "check the relay board's USB cable and that it is an LCUS board")
    finally:
        port.close()
    what = f"channel {relay.channel} pulsed {relay.pulse_ms} ms" if pulse else \
        f"channel {relay.channel} accepted a command"
    return ok(check, f"{relay.port}: {what} (fail mode {relay.fail})", kind=relay.kind,
              port=relay.port, pulsed=pulse)


# Cameras -------------------------------------------------------------------------------

def check_camera(camera: CameraConfig, snapshot_dir: Path | None, timeout_s: float = 8.0,
                 measure_s: float = 2.0) -> Verdict:
    """Wait for frames, measure resolution and frame rate, write one snapshot (0600)."""
    from recognition.camera import Camera

    check = f"camera {camera.id}"
    cam = Camera(camera.id, camera.source, loop=True, max_backoff_s=1.0, rgb=False).start()
    try:
        seq, frame = cam.wait_newer(0, timeout_s)
        if frame is None:
            reason = cam.health.last_error or "no frame"
            return fail(check, f"no frame from {camera.source!r} in {timeout_s:.0f} s "
                        f"({reason})",
                        "check the source: the RTSP URL, user and password (try it in VLC), "
                        "the network cable, or the USB index (`ls /dev/video*`)",
                        source=str(camera.source))
        deadline = time.monotonic() + measure_s
        while time.monotonic() < deadline:
            seq, frame = cam.wait_newer(seq, max(0.05, deadline - time.monotonic()))
        assert frame is not None
        height, width = frame.shape[:2]
        fps = cam.health.fps
        info: dict[str, Any] = {"source": str(camera.source), "width": width,
                                "height": height, "fps": round(fps, 1)}
        detail = f"{width}x{height} at {fps:.1f} fps"
        if snapshot_dir is not None:
            try:
                info["snapshot"] = str(_write_snapshot(frame, snapshot_dir / f"doctor-"
                                                       f"{camera.id}.jpg"))
            except OSError as exc:
                return warn(check, detail + f"; snapshot not written ({exc})",
                            "run as the service user (scripts/gate-doctor) or pass "
                            "--snapshots DIR", **info)
            detail += f", snapshot {info['snapshot']}"
        if fps and fps < min(5.0, camera.max_fps):
            return warn(check, detail + " (slow)", "a low frame rate delays face matching: "
                        "check the stream settings and the network", **info)
        return ok(check, detail, **info)
    finally:
        cam.stop()


def _write_snapshot(bgr: Any, path: Path) -> Path:
    """A frame for the installer to look at; it may show pupils, so 0600 like every snapshot."""
    import cv2

    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    ok_jpeg, jpeg = cv2.imencode(".jpg", bgr)
    if not ok_jpeg:
        raise OSError("JPEG encoding failed")
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(jpeg.tobytes())
    return path


# Fire input ----------------------------------------------------------------------------

def check_fire(config: FireAlarmConfig) -> Verdict:
    from gate.fire import FireInput

    check = "fire input"
    if config.kind == "none":
        return warn(check, "no fire input configured: the lanes are released only by the "
                    "hardware wiring", "wire the alarm panel's dry contact (README \"Gate relays "
                    "and the fire release\") and set [fire_alarm]", kind="none")
    if config.kind == "serial-io" and config.port:
        problem = _port_problem(check, config.port, "fire input adapter")
        if problem:
            return problem
    source = config.port or str(config.path or f"gpio{config.gpio_line}")
    fire = FireInput(config)
    try:
        closed = fire.read()
    except (OSError, serial.SerialException, ValueError) as exc:
        return fail(check, f"cannot read the fire input ({config.kind} {source}): {exc}",
                    "check the adapter and its port, or the GPIO export / file path",
                    kind=config.kind)
    finally:
        fire.close()
    alarm = closed if config.active == "closed" else not closed
    state = f"contact {'closed' if closed else 'open'}"
    if alarm:
        return warn(check, f"{config.kind} {source}: {state} = FIRE ALARM ACTIVE (every lane "
                    "would be released)", "if there is no alarm, check the wiring and "
                    f"`active` (now {config.active!r})", kind=config.kind, alarm=True)
    return ok(check, f"{config.kind} {source}: {state}, no alarm", kind=config.kind,
              alarm=False)


# Broker --------------------------------------------------------------------------------

_REFUSED_FIX = {
    134: "the password in {pw} does not match the broker's password file for {user} "
         "(`mosquitto_passwd /etc/mosquitto/campus-gate.passwd {user}`)",
    # Mosquitto 2.0 answers a wrong password or an unknown user with 0x87 under MQTT 5.
    135: "the password in {pw} is wrong for {user}, or the broker has no such account: "
         "check both against the broker's password file (`mosquitto_passwd "
         "/etc/mosquitto/campus-gate.passwd {user}` sets it)",
    133: "the broker refuses the client id: another client may use it",
}


def _read_password(m: MqttConfig) -> str | None:
    creds = os.environ.get("CREDENTIALS_DIRECTORY")
    if creds and (Path(creds) / "mqtt-password").is_file():
        return (Path(creds) / "mqtt-password").read_text().strip()
    return m.password_file.read_text().strip() if m.password_file else None


def check_broker(config: Config, timeout_s: float = 5.0, listen_s: float = 1.5
                 ) -> list[Verdict]:
    """Connect with the gate's credentials (MQTT 5), publish to the own subtree and check the
    PUBACK reason code, and prove the watch lists are readable by receiving one."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    m = config.mqtt
    where = f"{m.host}:{m.port}"
    user = m.username or "(anonymous)"
    try:
        password = _read_password(m)
    except OSError as exc:
        return [fail("broker login", f"cannot read the MQTT password file {m.password_file}: "
                     f"{exc.strerror}", "create it (one line, the password; mode 0600) or "
                     "use LoadCredentialEncrypted=mqtt-password")]
    base = m.client_id or f"campus-gate-{config.site}-{config.gate}"
    # Never the service's own client id: the broker would drop the running service's session.
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"{base}-doctor-"
                         f"{uuid.uuid4().hex[:6]}", protocol=mqtt.MQTTv5)
    if m.username:
        client.username_pw_set(m.username, password)
    if m.tls:
        client.tls_set(ca_certs=str(m.ca_file) if m.ca_file else None,
                       certfile=str(m.cert_file) if m.cert_file else None,
                       keyfile=str(m.key_file) if m.key_file else None)
    connected = threading.Event()
    connack: list[Any] = []
    pubacks: dict[int, Any] = {}
    suback: list[Any] = []
    retained: list[str] = []
    acked = threading.Condition()

    def on_connect(_c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        connack.append(reason)
        connected.set()

    def on_publish(_c: Any, _u: Any, mid: int, reason: Any, _p: Any) -> None:
        with acked:
            pubacks[mid] = reason
            acked.notify_all()

    def on_subscribe(_c: Any, _u: Any, _mid: int, reasons: Any, _p: Any) -> None:
        with acked:
            suback.extend(reasons)
            acked.notify_all()

    def on_message(_c: Any, _u: Any, msg: Any) -> None:
        with acked:
            retained.append(msg.topic)
            acked.notify_all()

    client.on_connect = on_connect
    client.on_publish = on_publish
    client.on_subscribe = on_subscribe
    client.on_message = on_message
    login_fix = "check [mqtt] host and port, that Mosquitto runs (`systemctl status mosquitto`)" \
        " and that a firewall lets the gate reach it"
    try:
        client.connect(m.host, m.port, keepalive=10)
    except (OSError, ValueError) as exc:
        return [fail("broker login", f"cannot reach the broker at {where}: {exc}", login_fix)]
    client.loop_start()
    try:
        if not connected.wait(timeout_s):
            return [fail("broker login", f"no answer from {where} within {timeout_s:.0f} s",
                         login_fix)]
        reason = connack[0]
        if reason.is_failure:
            fix = _REFUSED_FIX.get(reason.value, "check the broker's log").format(
                pw=m.password_file, user=user)
            return [fail("broker login", f"{where} refused {user}: {reason} "
                         f"(0x{reason.value:02X})", fix, code=reason.value)]
        out = [ok("broker login", f"connected to {where} as {user} (MQTT 5)")]
        topic = f"{m.root}/{config.site}/{config.gate}/doctor"
        props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
        props.MessageExpiryInterval = 60
        info = client.publish(topic, b'{"schema":"campus-gate/doctor/1"}', qos=1,
                              properties=props)
        with acked:
            acked.wait_for(lambda: info.mid in pubacks, timeout_s)
        puback = pubacks.get(info.mid)
        if puback is None:
            out.append(fail("broker publish", f"no PUBACK for {topic} within {timeout_s:.0f} s",
                            "check the broker's log"))
        elif puback.is_failure:
            out.append(fail("broker publish", f"the broker denied publishing to {topic}: "
                            f"{puback} (0x{puback.value:02X})",
                            f"the ACL must give {user} `topic write {m.root}/{config.site}/"
                            f"{config.gate}/#`; check site and gate ids in config and ACL",
                            code=puback.value))
        else:
            out.append(ok("broker publish", f"PUBACK for {topic}: {puback} "
                          f"(0x{puback.value:02X})", code=puback.value))
        out.append(_check_watchlist_read(client, config, acked, suback, retained,
                                         timeout_s, listen_s))
        return out
    finally:
        client.disconnect()
        client.loop_stop()


def _check_watchlist_read(client: Any, config: Config, acked: threading.Condition,
                          suback: list[Any], retained: list[str], timeout_s: float,
                          listen_s: float) -> Verdict:
    """Mosquitto grants a SUBACK even where the ACL forbids reading: only a received message
    proves the right, so the retained watch lists the police push are the round trip."""
    topic = f"{config.mqtt.root}/{config.site}/watchlist/#"
    client.subscribe(topic, qos=1)
    with acked:
        acked.wait_for(lambda: bool(suback), timeout_s)
        if not suback:
            return fail("broker watch lists", f"no SUBACK for {topic}", "check the broker's log")
        if suback[0].is_failure:
            return fail("broker watch lists", f"the broker refused {topic}: {suback[0]}",
                        "the ACL must give the gate `topic read " + topic + "`")
        acked.wait_for(lambda: bool(retained), listen_s)
        if retained:
            return ok("broker watch lists", f"read {len(retained)} retained watch list(s) on "
                      f"{topic}", lists=sorted(set(retained)))
    return warn("broker watch lists", f"subscribed to {topic} but no retained watch list "
                f"arrived in {listen_s:.1f} s: none pushed yet, or the ACL denies reading (the "
                "broker grants the subscription either way)",
                f"ask the police/admin to push a list; check the ACL has `topic read {topic}` "
                "for the gate")


# Disk, database, clock, key ------------------------------------------------------------

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


def _run(args: list[str]) -> str:
    return subprocess.run(args, capture_output=True, text=True, check=True, timeout=5).stdout


def check_clock(config: Config, runner: Runner = _run) -> Verdict:
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


# All together --------------------------------------------------------------------------

@dataclass(frozen=True)
class DoctorOptions:
    listen_s: float = 3.0
    camera_timeout_s: float = 8.0
    snapshot_dir: Path | None = None
    pulse_relays: bool = False
    broker: bool = True


def run_doctor(config: Config, data_dir: Path, options: DoctorOptions = DoctorOptions(),
               clock_runner: Runner = _run) -> list[Verdict]:
    """Every check, run side by side (readers listen and cameras warm up at the same time);
    results in a fixed order: readers, relays, cameras, fire, broker, disk, database, clock,
    key."""
    snapshot_dir = options.snapshot_dir or data_dir / "doctor"
    jobs: list[Callable[[], Verdict | list[Verdict]]] = []
    for lane in config.lanes:
        jobs += [partial(check_reader, reader, options.listen_s) for reader in lane.readers]
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
    worst = max((v.status for v in verdicts), key=_RANK.__getitem__, default="ok")
    fails = sum(v.status == "fail" for v in verdicts)
    warns = sum(v.status == "warn" for v in verdicts)
    lines.append(f"{len(verdicts)} checks: {fails} failed, {warns} warning(s)"
                 + (" - all good" if worst == "ok" else ""))
    return "\n".join(lines)
