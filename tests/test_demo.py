"""README's first command ends in `gate demo`: it must run the whole chain on embedded defaults."""

from __future__ import annotations

import re

import pytest

from tests.conftest import run_gate

pytestmark = pytest.mark.slow


def test_demo_runs_the_real_chain() -> None:
    result = run_gate("demo", "--duration", "16", timeout=180)
    assert result.returncode == 0, result.stderr[-2000:]
    out = result.stdout
    assert "6 face photos enrolled" in out
    assert "the worker process sees a face at lane 1" in out
    assert re.search(r"console: http://localhost:\d+/  login: demo / \S+", out)
    assert re.search(r"Barack Obama \(S001\)\s+card\+face OPEN", out)
    assert re.search(r"Joe Biden \(S002\)\s+card\+face DENY\s+ALERT card_face_mismatch", out)
    assert re.search(r"李华 \(S006\)\s+card\s+OPEN", out)
    assert "ALERT unknown_card" in out
    assert re.search(r"lane V1 entry vehicle_in 京A12345\s+plate\s+OPEN", out)
    assert "bad frames rejected: 1" in out
    sent = re.search(r"MQTT: (\d+) messages acknowledged by the broker, 0 waiting", out)
    assert sent and int(sent.group(1)) > 0
