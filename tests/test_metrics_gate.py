"""/metrics on the running gate's console: decision counts rise with real card taps."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from gate.bench.scenes import FACES
from gate.broker import free_port
from tests.scenario import running_gate
from tests.test_metrics import _value

pytestmark = pytest.mark.slow
TOKEN = "scrape-token-1"


def test_metrics_decision_counts_rise_with_taps(tmp_path: Path) -> None:
    port = free_port()
    with running_gate(tmp_path, FACES, console={"enabled": True, "bind": f"127.0.0.1:{port}",
                                                "metrics_token": TOKEN}) as gate, \
            httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
        assert client.get("/metrics").status_code == 401  # the token is required

        def scrape() -> str:
            r = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
            assert r.status_code == 200
            return r.text

        def count(text: str, verdict: str) -> float:
            line = f'gate_decisions_total{{verdict="{verdict}"}}'
            return _value(text, line) if line in text else 0.0

        before = scrape()
        gate.tap("obama")
        gate.tap("DEADBEEF01")
        gate.tap("biden")
        after = scrape()
        assert count(after, "open") - count(before, "open") == 2
        assert count(after, "deny") - count(before, "deny") == 1
        assert _value(after, "gate_decision_seconds_count") >= 3
