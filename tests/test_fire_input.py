"""The fire input's readings as plain functions: contact flags and supervised loop states."""

from __future__ import annotations

import pytest

from gate.fire import LoopFault, parse_state


@pytest.mark.parametrize(("text", "active", "closed"), [
    ("1", "closed", True), ("0\n", "closed", False), ("1", "open", True),
    ("alarm", "closed", True), ("normal", "closed", False),
    # a supervised state says alarm or not whatever the contact polarity is
    ("alarm", "open", False), ("NORMAL ", "open", True),
])
def test_readings(text: str, active: str, closed: bool) -> None:
    assert parse_state(text, active) is closed


@pytest.mark.parametrize(("text", "why"), [("open", "cut wire"), ("short", "shorted")])
def test_loop_faults_are_faults_not_alarms(text: str, why: str) -> None:
    with pytest.raises(LoopFault, match=why):
        parse_state(text)


@pytest.mark.parametrize("text", ["", "2", "fire!", "\x00\x01"])
def test_garbage_is_unreadable(text: str) -> None:
    with pytest.raises(ValueError, match="unreadable"):
        parse_state(text)
