from __future__ import annotations

from pathlib import Path

import pytest

from gate.config import Config, ConfigError, load_config, parse_config
from tests.conftest import ROOT, run_gate

EXAMPLE = ROOT / "config" / "gate.example.toml"


def test_example_config_is_valid() -> None:
    config = load_config(EXAMPLE)
    assert config.site == "zqxx"
    assert [r.id for r in config.lanes[0].readers] == ["L1-in", "L1-out"]
    assert config.lanes[0].relay.kind == "lcus"


def test_defaults_are_usable() -> None:
    config = Config()
    assert config.mqtt.port == 1883
    assert config.console.port == 8080


def _error(data: dict[str, object]) -> str:
    with pytest.raises(ConfigError) as exc:
        parse_config(data)
    return str(exc.value)


def test_unknown_key_is_named() -> None:
    assert "mqtt.hots: unknown key" in _error({"mqtt": {"hots": "x"}})


def test_bad_baud_names_the_key_path() -> None:
    data = {"lanes": [{"id": "L1", "readers": [
        {"id": "a", "port": "/dev/a", "direction": "entry"},
        {"id": "b", "port": "/dev/b", "direction": "exit", "baud": 9601}]}]}
    message = _error(data)
    assert message.startswith("lanes[0].readers[1].baud: must be one of")
    assert "9600" in message


def test_home_province_must_be_one_province() -> None:
    assert parse_config({"plates": {"home_province": "皖"}}).plates.home_province == "皖"
    assert _error({"plates": {"home_province": "AH"}}).startswith("plates.home_province:")
    assert _error({"plates": {"home_province": "X"}}).startswith("plates.home_province:")


def test_wrong_type_is_named() -> None:
    assert _error({"mqtt": {"port": "eighty"}}).startswith("mqtt.port:")


def test_serial_port_shared_by_two_readers_is_rejected() -> None:
    data = {"lanes": [{"id": "L1", "readers": [
        {"id": "a", "port": "/dev/ttyUSB0", "direction": "entry"},
        {"id": "b", "port": "/dev/ttyUSB0", "direction": "exit"}]}]}
    assert "serial port /dev/ttyUSB0 is used by more than one device" in _error(data)


def test_relay_board_may_drive_several_lanes_on_distinct_channels() -> None:
    relay = {"kind": "lcus", "port": "/dev/ttyUSB9"}
    config = parse_config({"lanes": [{"id": "L1", "relay": {**relay, "channel": 1}},
                                     {"id": "L2", "relay": {**relay, "channel": 2}}]})
    assert len(config.lanes) == 2
    assert "drives more than one lane" in _error(
        {"lanes": [{"id": "L1", "relay": relay}, {"id": "L2", "relay": relay}]})


def test_lane_camera_must_exist_with_gate_role() -> None:
    assert "no camera with id 'cam'" in _error({"lanes": [{"id": "L1", "camera": "cam"}]})
    assert "expected 'gate'" in _error({
        "cameras": [{"id": "cam", "source": 0, "role": "vehicle"}],
        "lanes": [{"id": "L1", "camera": "cam"}]})


def test_bad_time_and_zone() -> None:
    assert "calendar.late_after" in _error({"calendar": {"late_after": "25:99"}})
    assert "timezone: unknown time zone" in _error({"timezone": "Mars/Olympus"})


def test_check_config_cli(tmp_path: Path) -> None:
    ok = run_gate("check-config", str(EXAMPLE))
    assert ok.returncode == 0, ok.stderr
    assert "OK" in ok.stdout

    bad_type = tmp_path / "type.toml"
    bad_type.write_text('site = "x"\n[mqtt]\nport = "not-a-port"\n')
    result = run_gate("check-config", str(bad_type))
    assert result.returncode == 2
    assert "mqtt.port" in result.stderr

    unknown = tmp_path / "unknown.toml"
    unknown.write_text('site = "x"\nsitee = "y"\n')
    result = run_gate("check-config", str(unknown))
    assert result.returncode == 2
    assert "sitee: unknown key" in result.stderr

    syntax = tmp_path / "syntax.toml"
    syntax.write_text("site = \n")
    result = run_gate("check-config", str(syntax))
    assert result.returncode == 2
    assert "TOML syntax error" in result.stderr

    missing = run_gate("check-config", str(tmp_path / "nope.toml"))
    assert missing.returncode == 2
    assert "cannot read" in missing.stderr


def test_help_lists_the_commands() -> None:
    result = run_gate("--help")
    assert result.returncode == 0
    for command in ("run", "demo", "check-config", "rfid", "people", "bench"):
        assert command in result.stdout
