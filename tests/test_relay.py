"""LCUS relay boards over real pseudo-terminals: the exact bytes, and the fail mode on stop."""

from __future__ import annotations

from pathlib import Path

import pytest

from gate.actuator import lcus_command
from gate.config import parse_config
from gate.service import Service
from tests.ptys import PtyPort, wait_for

ON_1, OFF_1 = bytes.fromhex("A0 01 01 A2"), bytes.fromhex("A0 01 00 A1")


def test_lcus_frames_match_the_vendor_examples() -> None:
    assert lcus_command(1, True) == ON_1
    assert lcus_command(1, False) == OFF_1
    assert lcus_command(2, True) == bytes.fromhex("A0 02 01 A3")


@pytest.mark.parametrize(("fail", "last"), [("open", ON_1), ("closed", OFF_1)])
def test_pulse_bytes_and_fail_mode_on_stop(tmp_path: Path, fail: str, last: bytes) -> None:
    board = PtyPort()
    config = parse_config({"console": {"enabled": False}, "lanes": [{"id": "L1", "relay": {
        "kind": "lcus", "port": board.path, "channel": 1, "pulse_ms": 150, "fail": fail}}]})
    service = Service(config, tmp_path / "data")
    service.start()
    try:
        decision = service.engine.manual_open("L1", "guard", "test")
        assert decision.opened
        assert board.read_available(timeout=2, want=8) == ON_1 + OFF_1  # on, then off after 150 ms
    finally:
        service.stop()
    assert board.read_available(timeout=2, want=4) == last
    board.close()


def test_two_lanes_share_one_board_on_their_channels(tmp_path: Path) -> None:
    board = PtyPort()
    relay = {"kind": "lcus", "port": board.path, "pulse_ms": 5000}
    config = parse_config({"console": {"enabled": False},
                           "lanes": [{"id": "L1", "relay": {**relay, "channel": 1}},
                                     {"id": "L2", "relay": {**relay, "channel": 2}}]})
    service = Service(config, tmp_path / "data")
    service.start()
    try:
        service.engine.manual_open("L2", "guard", "delivery")
        assert board.read_available(timeout=2, want=4) == bytes.fromhex("A0 02 01 A3")
        service.engine.set_fire_alarm(True)
        got = board.read_available(timeout=2, want=8)
        assert sorted([got[:4], got[4:]]) == sorted([ON_1, bytes.fromhex("A0 02 01 A3")])
    finally:
        service.stop()
    board.close()


def test_a_missing_board_is_a_device_offline_not_a_service_that_cannot_start(
        tmp_path: Path) -> None:
    """The relay board is unplugged when the service starts: cards are still decided and
    journalled, the guard is told, and the board works once it is plugged in."""
    link = tmp_path / "gate-relay"
    config = parse_config({"console": {"enabled": False}, "lanes": [{"id": "L1", "relay": {
        "kind": "lcus", "port": str(link), "channel": 1, "pulse_ms": 150}}]})
    service = Service(config, tmp_path / "data")
    service.start()
    board: PtyPort | None = None
    try:
        wait_for(lambda: bool(service.store.query(
            "SELECT 1 FROM alerts WHERE type = 'device_offline' AND details LIKE '%relay L1%'")),
            timeout=5, what="device_offline for the relay")
        decision = service.engine.manual_open("L1", "guard", "board missing")
        assert decision.opened  # journalled; the pulse itself failed and was logged
        board = PtyPort(link)  # plugged in
        wait_for(lambda: bool(service.store.query(
            "SELECT 1 FROM alerts WHERE type = 'device_online' AND details LIKE '%relay L1%'")),
            timeout=5, what="device_online for the relay")
        service.engine.manual_open("L1", "guard", "board back")
        assert board.read_available(timeout=2, want=8) == ON_1 + OFF_1
    finally:
        service.stop()
        if board is not None:
            board.close()
