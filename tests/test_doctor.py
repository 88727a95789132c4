"""``gate doctor``: real ptys, a real video file, a real Mosquitto with the shipped ACL."""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import tomllib
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from gate.broker import find_mosquitto
from gate.config import Config, ReaderConfig, parse_config
from gate.demo import em4100_frame
from gate.doctor import (
    DoctorOptions,
    Verdict,
    check_clock,
    check_database,
    check_key,
    exit_code,
    reader_verdict,
    render,
    run_doctor,
)
from gate.store import DB_NAME, Store
from tests.conftest import TZ, run_gate
from tests.ptys import PtyPort

needs_broker = pytest.mark.skipif(find_mosquitto() is None, reason="mosquitto not installed")


# Pure judgements ------------------------------------------------------------------------

def _reader(protocol: str = "em4100") -> ReaderConfig:
    return ReaderConfig(id="L1-in", port="/dev/gate-reader-L1-in", protocol=protocol,  # type: ignore[arg-type]
                        direction="entry")


def test_reader_frames_and_protocol() -> None:
    data = em4100_frame("6200000001") * 5
    v = reader_verdict(_reader(), data, 3.0)
    assert v.status == "ok", v
    assert v.data["detected"] == "em4100" and v.data["frames"] == 5
    assert "5 frame(s)" in v.detail and "protocol em4100" in v.detail


def test_reader_auto_reports_the_protocol_it_finds() -> None:
    v = reader_verdict(_reader("auto"), b"Card UID: DE AD BE EF\r\n", 3.0)
    assert v.status == "ok" and v.data["detected"] == "uid-line"


def test_reader_wrong_protocol_names_the_right_one() -> None:
    v = reader_verdict(_reader("em4100"), b"DEADBEEF\r\n" * 3, 3.0)
    assert v.status == "fail"
    assert "sends uid-line frames but the config says protocol = 'em4100'" in v.detail
    assert v.fix == 'set protocol = "uid-line" for reader L1-in'


def test_reader_noise_and_silence() -> None:
    noise = reader_verdict(_reader(), b"\x80\x81\xfe" * 20, 3.0)
    assert noise.status == "fail" and "none a valid em4100 frame" in noise.detail
    quiet = reader_verdict(_reader(), b"", 3.0)
    assert quiet.status == "warn" and "no card presented" in quiet.detail
    bad = em4100_frame("6200000001", corrupt=True)
    mixed = reader_verdict(_reader(), em4100_frame("6200000001") + bad, 3.0)
    assert mixed.status == "warn" and "1 bad frame(s)" in mixed.detail


def _timedatectl(text: str) -> Any:
    return lambda _args: text


def test_clock_verdicts() -> None:
    config = Config()
    synced = check_clock(config, _timedatectl("NTP=yes\nNTPSynchronized=yes\nTimezone=UTC\n"))
    assert synced.status == "ok" and synced.data["system_timezone"] == "UTC"
    pending = check_clock(config, _timedatectl("NTP=yes\nNTPSynchronized=no\n"))
    assert pending.status == "warn"
    off = check_clock(config, _timedatectl("NTP=no\nNTPSynchronized=no\n"))
    assert off.status == "fail" and "set-ntp true" in off.fix

    def missing(_args: list[str]) -> str:
        raise FileNotFoundError("timedatectl")

    unknown = check_clock(config, missing)
    assert unknown.status == "warn" and "cannot tell" in unknown.detail


def test_key_verdicts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    assert check_key(Config()).status == "warn"  # no [privacy] section at all
    key = tmp_path / "biometric.key"
    conf: Any = SimpleNamespace(privacy=SimpleNamespace(key_file=key))
    missing = check_key(conf)
    assert missing.status == "fail" and str(key) in missing.detail
    key.write_text("a" * 44)
    key.chmod(0o644)
    loose = check_key(conf)
    assert loose.status == "warn" and loose.fix == f"chmod 600 {key}"
    key.chmod(0o600)
    good = check_key(conf)
    assert good.status == "ok" and good.data["key_id"].startswith("sha256:")
    assert "a" * 44 not in json.dumps(good.as_dict())
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "biometric-key").write_text("b" * 44)
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    assert check_key(Config()).data["path"] == str(creds / "biometric-key")


def test_database_integrity(tmp_path: Path) -> None:
    assert check_database(tmp_path).status == "warn"  # nothing yet
    store = Store(tmp_path, TZ)
    store.close()
    good = check_database(tmp_path)
    assert good.status == "ok" and "quick_check ok" in good.detail
    db = sqlite3.connect(tmp_path / DB_NAME)
    db.execute("CREATE TABLE filler (x TEXT)")
    db.executemany("INSERT INTO filler VALUES (?)", [("x" * 500,)] * 400)
    db.execute("CREATE INDEX filler_x ON filler (x)")
    db.commit()
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    raw = bytearray((tmp_path / DB_NAME).read_bytes())
    for offset in range(4096 * 4, len(raw) - 4096, 4096 * 3):
        raw[offset + 8: offset + 300] = b"\xff" * 292
    (tmp_path / DB_NAME).write_bytes(bytes(raw))
    broken = check_database(tmp_path)
    assert broken.status == "fail"
    assert "gate restore" in broken.fix


def test_exit_code_and_render() -> None:
    ok = Verdict("disk", "ok", "plenty")
    warned = Verdict("clock", "warn", "unknown", "enable NTP")
    failed = Verdict("reader L1-in", "fail", "/dev/x does not exist", "plug it in")
    assert exit_code([ok, warned]) == 0
    assert exit_code([ok, failed]) == 1
    text = render([ok, warned, failed])
    assert "[FAIL] reader L1-in: /dev/x does not exist\n       fix: plug it in" in text
    assert text.endswith("3 checks: 1 failed, 1 warning(s)")


# The live checks on a demo-like gate ------------------------------------------------------

def _video(path: Path) -> Path:
    import cv2
    import numpy as np

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 10, (320, 240))
    for i in range(20):
        frame = np.full((240, 320, 3), (i * 12) % 255, np.uint8)
        writer.write(frame)
    writer.release()
    return path


class CardHeld(threading.Thread):
    """A card held on an EM4100 reader: the frame repeats every 50 ms, as RDM6300s do."""

    def __init__(self, pty: PtyPort) -> None:
        super().__init__(daemon=True)
        self.pty, self.stop = pty, threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.05):
            self.pty.write(em4100_frame("6200000001"))


def _gate_config(tmp_path: Path, broker_port: int, reader_port: str, video: str,
                 password: str = "gate-secret", gate: str = "main") -> dict[str, Any]:
    secret = tmp_path / f"mqtt-{password}.pass"
    secret.write_text(password + "\n")
    fire = tmp_path / "fire"
    fire.write_text("0\n")
    return {
        "site": "zqxx", "gate": gate, "data_dir": str(tmp_path / "data"),
        "mqtt": {"host": "127.0.0.1", "port": broker_port, "username": "gate-zqxx-main",
                 "password_file": str(secret)},
        "fire_alarm": {"kind": "simulated", "path": str(fire), "active": "closed"},
        "cameras": [{"id": "gate-cam", "source": video, "role": "gate"}],
        "lanes": [{"id": "L1", "camera": "gate-cam", "relay": {"kind": "dry-run"},
                   "readers": [{"id": "L1-in", "port": reader_port, "direction": "entry"}]}],
    }


def _by_check(verdicts: list[Verdict]) -> dict[str, Verdict]:
    return {v.check: v for v in verdicts}


def _push_watchlist(port: int) -> None:
    from tests.mqtt_helpers import Subscriber

    police = Subscriber(port, "police", ["campus/zqxx/watchlist/#"])
    police.publish("campus/zqxx/watchlist/persons", json.dumps({"schema": "x", "entries": []}),
                   retain=True)
    police.close()


def _no_clock(_args: list[str]) -> str:
    return "NTP=yes\nNTPSynchronized=yes\n"


@pytest.mark.slow
@needs_broker
def test_doctor_passes_on_a_working_gate(tmp_path: Path, broker: Any) -> None:
    pty = PtyPort(tmp_path / "gate-reader-L1-in")
    video = _video(tmp_path / "gate-cam.avi")
    config = parse_config(_gate_config(tmp_path, broker.port, pty.path, str(video)))
    Store(config.data_dir, TZ).close()
    _push_watchlist(broker.port)
    from tests.mqtt_helpers import Subscriber

    guard = Subscriber(broker.port, "guard-zqxx", ["campus/zqxx/main/doctor"])
    card = CardHeld(pty)
    card.start()
    try:
        verdicts = run_doctor(config, config.data_dir, DoctorOptions(listen_s=1.5),
                              clock_runner=_no_clock)
        topic, probe = guard.get(timeout=5)  # the probe really went through the broker
    finally:
        guard.close()
        card.stop.set()
        card.join()
        pty.close()
    assert topic == "campus/zqxx/main/doctor"
    assert {"schema", "id", "ts", "site", "gate", "type", "severity"} <= set(probe)
    assert probe["type"] == "doctor" and probe["ts"].endswith("+08:00")
    checks = _by_check(verdicts)
    print(render(verdicts))
    assert exit_code(verdicts) == 0, render(verdicts)
    reader = checks["reader L1-in"]
    assert reader.status == "ok" and reader.data["detected"] == "em4100"
    assert reader.data["frames"] >= 5
    assert checks["relay L1"].status == "ok" and "dry run" in checks["relay L1"].detail
    cam = checks["camera gate-cam"]
    assert cam.status == "ok", cam
    assert (cam.data["width"], cam.data["height"]) == (320, 240)
    assert 5 < cam.data["fps"] < 15
    snapshot = Path(cam.data["snapshot"])
    assert snapshot.read_bytes()[:2] == b"\xff\xd8"
    assert snapshot.stat().st_mode & 0o777 == 0o600
    assert checks["fire input"].status == "ok" and "no alarm" in checks["fire input"].detail
    assert checks["broker login"].status == "ok"
    assert checks["broker publish"].status == "ok"
    assert checks["broker publish"].data["code"] in (0x00, 0x10)
    assert checks["broker watch lists"].status == "ok"
    assert checks["broker watch lists"].data["lists"] == ["campus/zqxx/watchlist/persons"]
    assert checks["database"].status == "ok"


@pytest.mark.slow
@needs_broker
def test_doctor_names_a_wrong_port_password_and_camera(tmp_path: Path, broker: Any) -> None:
    config = parse_config(_gate_config(tmp_path, broker.port, "/dev/gate-reader-L9-in",
                                       str(tmp_path / "missing.avi"), password="wrong"))
    verdicts = run_doctor(config, config.data_dir, DoctorOptions(
        listen_s=0.5, camera_timeout_s=2.0), clock_runner=_no_clock)
    checks = _by_check(verdicts)
    assert exit_code(verdicts) == 1
    reader = checks["reader L1-in"]
    assert reader.status == "fail"
    assert reader.detail == "/dev/gate-reader-L9-in does not exist (is the reader plugged in?)"
    assert "/dev/serial/by-id" in reader.fix
    login = checks["broker login"]
    assert login.status == "fail"
    # Mosquitto 2.0 says "Not authorized" for a wrong password under MQTT 5
    assert login.detail == (f"127.0.0.1:{broker.port} refused gate-zqxx-main: "
                            "Not authorized (0x87)")
    assert f"the password in {tmp_path / 'mqtt-wrong.pass'} is wrong" in login.fix
    assert "broker publish" not in checks  # nothing more to learn without a login
    cam = checks["camera gate-cam"]
    assert cam.status == "fail"
    assert cam.detail.startswith(f"no frame from '{tmp_path / 'missing.avi'}' in 2 s")


@pytest.mark.slow
@needs_broker
def test_doctor_reports_an_acl_that_denies_publishing(tmp_path: Path, broker: Any) -> None:
    # The gate logs in as gate-zqxx-main but is configured as gate "north": its own subtree
    # in the config is not the one the ACL lets it write.
    raw = _gate_config(tmp_path, broker.port, "/dev/null", "x", gate="north")
    raw["lanes"], raw["cameras"] = [], []
    verdicts = run_doctor(parse_config(raw), tmp_path, DoctorOptions(),
                          clock_runner=_no_clock)
    publish = _by_check(verdicts)["broker publish"]
    assert publish.status == "fail"
    assert publish.detail == ("the broker denied publishing to campus/zqxx/north/doctor: "
                              "Not authorized (0x87)")
    assert "topic write campus/zqxx/north/#" in publish.fix
    # nobody pushed a watch list: reading cannot be proved, which is a warning, not a pass
    assert _by_check(verdicts)["broker watch lists"].status == "warn"


@pytest.mark.slow
@needs_broker
def test_doctor_command_json_and_exit_status(tmp_path: Path, broker: Any) -> None:
    raw = _gate_config(tmp_path, broker.port, "/dev/gate-reader-L9-in", "x")
    raw["cameras"] = []
    raw["lanes"][0].pop("camera")
    path = tmp_path / "gate.toml"
    path.write_text(_toml(raw))
    assert tomllib.loads(path.read_text())["site"] == "zqxx"
    out = run_gate("--config", str(path), "doctor", "--json", "--listen", "0.5",
                   env={"PATH": os.environ.get("PATH", "")})
    assert out.returncode == 1, out.stderr
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    assert [ln["check"] for ln in lines][:2] == ["reader L1-in", "relay L1"]
    assert lines[0]["status"] == "fail" and lines[0]["fix"]
    assert {ln["check"] for ln in lines} >= {"broker login", "disk", "database", "clock"}
    text = run_gate("--config", str(path), "doctor", "--listen", "0.5")
    assert text.returncode == 1
    assert "[FAIL] reader L1-in: /dev/gate-reader-L9-in does not exist" in text.stdout


def _toml(data: dict[str, Any]) -> str:
    """A tiny TOML writer for this test's shapes (tables, arrays of tables, scalars)."""
    def scalar(v: Any) -> str:
        return json.dumps(v) if not isinstance(v, bool) else str(v).lower()

    lines = [f"{k} = {scalar(v)}" for k, v in data.items() if not isinstance(v, dict | list)]
    for k, v in data.items():
        if isinstance(v, dict):
            lines.append(f"[{k}]")
            lines += [f"{kk} = {scalar(vv)}" for kk, vv in v.items()]
    for lane in data.get("lanes", []):
        lines.append("[[lanes]]")
        lines += [f"{k} = {scalar(v)}" for k, v in lane.items() if k not in ("relay", "readers")]
        lines.append('relay = { kind = "dry-run" }')
        for reader in lane["readers"]:
            lines.append("[[lanes.readers]]")
            lines += [f"{k} = {scalar(v)}" for k, v in reader.items()]
    return "\n".join(lines) + "\n"


def test_real_timedatectl_gives_a_verdict() -> None:
    """Whatever this machine's clock state, the real probe is parsed into a verdict."""
    verdict = check_clock(Config())
    assert verdict.data["now"].startswith("20")
    if verdict.status == "ok":
        assert verdict.data["synchronized"] == "yes"


def test_a_crashing_check_is_reported_not_raised(tmp_path: Path) -> None:
    from gate.doctor import _guarded

    def broken() -> Verdict:
        raise KeyError("bug")

    (verdict,) = _guarded(broken)
    assert verdict.status == "fail" and "KeyError" in verdict.detail


def test_reader_held_by_the_running_service_is_reported_in_use(tmp_path: Path) -> None:
    import serial

    from gate.doctor import check_reader

    pty = PtyPort()
    held = serial.Serial(pty.path, 9600, exclusive=True)  # as SerialCardReader opens it
    try:
        verdict = check_reader(_reader().model_copy(update={"port": pty.path}), 0.5)
    finally:
        held.close()
        pty.close()
    assert verdict.status == "warn"
    assert "in use by another process" in verdict.detail and "systemctl stop gate" in verdict.fix


def test_lcus_relay_board_takes_commands(tmp_path: Path) -> None:
    from gate.actuator import lcus_command
    from gate.config import LaneConfig, RelayConfig
    from gate.doctor import check_relay

    pty = PtyPort()
    try:
        lane = LaneConfig(id="L1", relay=RelayConfig(kind="lcus", port=pty.path, channel=2,
                                                     pulse_ms=100))
        quiet = check_relay(lane)
        assert quiet.status == "ok" and "channel 2 accepted a command" in quiet.detail
        assert pty.read_available(want=4) == lcus_command(2, False)  # locked, never opened
        pulsed = check_relay(lane, pulse=True)
        assert pulsed.status == "ok" and "pulsed 100 ms" in pulsed.detail
        assert pty.read_available(want=8) == lcus_command(2, True) + lcus_command(2, False)
    finally:
        pty.close()
    gone = check_relay(LaneConfig(id="L1", relay=RelayConfig(kind="lcus",
                                                             port="/dev/gate-relay-9")))
    assert gone.status == "fail" and gone.detail.startswith("/dev/gate-relay-9 does not exist")


def test_fire_input_states(tmp_path: Path) -> None:
    from gate.config import FireAlarmConfig
    from gate.doctor import check_fire

    flag = tmp_path / "fire"
    flag.write_text("1\n")
    alarm = check_fire(FireAlarmConfig(kind="simulated", path=flag))
    assert alarm.status == "warn" and "FIRE ALARM ACTIVE" in alarm.detail
    normally_closed = check_fire(FireAlarmConfig(kind="simulated", path=flag, active="open"))
    assert normally_closed.status == "ok" and "contact closed, no alarm" in normally_closed.detail
    flag.unlink()
    unreadable = check_fire(FireAlarmConfig(kind="simulated", path=flag))
    assert unreadable.status == "fail" and "cannot read the fire input" in unreadable.detail
    assert check_fire(FireAlarmConfig()).status == "warn"  # none: hardware release only


@pytest.mark.slow
def test_camera_snapshot_that_cannot_be_written_is_a_warning(tmp_path: Path) -> None:
    from gate.config import CameraConfig
    from gate.doctor import check_camera

    video = _video(tmp_path / "cam.avi")
    (tmp_path / "not-a-dir").write_text("")
    verdict = check_camera(CameraConfig(id="gate-cam", source=str(video), role="gate"),
                           tmp_path / "not-a-dir" / "doctor", measure_s=0.5)
    assert verdict.status == "warn"
    assert verdict.detail.startswith("320x240 at ") and "snapshot not written" in verdict.detail
    assert "snapshot" not in verdict.data
