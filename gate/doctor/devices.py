"""Doctor checks of the lane hardware: card readers, relays, cameras, the fire input.

Each opens the device itself for a few seconds (the running service holds serial ports
exclusively, so a busy port is reported as such rather than as broken).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import serial

from gate.config import CameraConfig, DeskReaderConfig, FireAlarmConfig, LaneConfig, ReaderConfig
from gate.doctor.verdict import Verdict, fail, ok, warn

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
    """The port opened for this check alone, or the verdict saying why it cannot be."""
    problem = _port_problem(check, port, what)
    if problem:
        return None, problem
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


def check_desk_reader(desk: DeskReaderConfig) -> Verdict:
    """Ask the desk's ID-card reader for a card once (find card, and on a card select and
    read): a reader that answers passes, whether or not a card lies on it. No personal data
    goes into the verdict."""
    import termios

    from rfid.idcard_reader import IdCardRead, IdCardReader

    check = "desk ID-card reader"
    port, problem = _open_exclusive(check, desk.port, desk.baud, "ID-card reader")
    if port is None:
        assert problem is not None
        return problem
    cards: list[IdCardRead] = []
    reader = IdCardReader("desk", desk.port, cards.append, baud=desk.baud)
    try:
        reader.poll(port)
    except (serial.SerialException, OSError, termios.error) as exc:
        return fail(check, f"{desk.port} failed while asking for a card: {exc}",
                    "the reader was unplugged or its USB adapter reset; check the cable")
    finally:
        port.close()
    h = reader.health
    info = {"port": desk.port, "baud": desk.baud, "bad_frames": h.bad_frames,
            "card_read": bool(cards)}
    if not h.connected:
        return fail(check, f"{desk.port}: no valid answer to find card",
                    f"check baud (now {desk.baud}; most readers use 115200) and that this is a "
                    "resident ID-card reader (SAM command set, docs/rfid-protocols.md)", **info)
    said = "a card was read" if cards else "answers, no card on it"
    if h.bad_frames:
        return warn(check, f"{desk.port} {said}, {h.bad_frames} bad frame(s)",
                    "bad frames mean line noise or a wrong baud rate: check the cable", **info)
    return ok(check, f"{desk.port} {said}", **info)


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
