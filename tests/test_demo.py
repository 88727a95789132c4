"""README's first command ends in `gate demo`: it must run the whole chain on embedded defaults."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import GATE, run_gate
from tests.ptys import wait_for


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True

pytestmark = pytest.mark.slow


def test_demo_plays_the_school_morning_and_raises_only_what_a_guard_should_see() -> None:
    result = run_gate("demo", "--speed", "20", "--duration", "200", timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    out = result.stdout
    assert "roster: 208 people, 208 cards, 6 face photos enrolled" in out
    assert re.search(r"console: http://localhost:\d+/  login: demo / \S+", out)
    assert re.search(r"李华 \(S006\)\s+card\s+OPEN", out)
    assert re.search(r"lane L[23] entry arrival\s+\S+ \(P\d{3}\)\s+card\s+OPEN  late", out)
    assert "ALERT unknown_card (warning)" in out
    assert "ALERT visitor_flagged (critical)" in out
    assert "ALERT fire_alarm (critical)" in out
    assert re.search(r"roll call: \d{3} pupils", out)
    assert re.search(r"fire_reset", out)
    assert "bad frames rejected: 1" in out
    # each staff car is read while it waits at the barrier, which opens for it there and then
    assert "did not read" not in out, out[-3000:]
    assert len(re.findall(r"lane V1 entry vehicle_in\s+\S+\s+plate\s+OPEN", out)) == 3, out
    summary = re.search(r"^alerts: (.*)$", out, re.M)
    assert summary, out[-3000:]
    counts = {m.group(1): int(m.group(2))
              for m in re.finditer(r"(\w+) (\d+) \((?:critical|warning|info)\)", summary[1])}
    # Nothing the script did not mean: no tailgating, no repeats, no device trouble.
    assert set(counts) <= {"visitor_registered", "visitor_flagged", "unknown_card",
                           "card_face_mismatch", "fire_alarm", "loitering", "alert_escalated"}
    assert counts["visitor_registered"] == 2 and counts["visitor_flagged"] == 1
    assert counts["unknown_card"] == 1 and counts["fire_alarm"] == 1
    # the walkway clip: two people stay (D and E of tests/data/vtest_walkway_truth.json);
    # a busy computer's tracker may lose one of them, never tell a third
    loitering = [line for line in out.splitlines() if "ALERT loitering" in line]
    assert counts.get("card_face_mismatch", 0) <= 1
    assert counts.get("loitering", 0) <= 2, loitering
    assert re.search(r"arrival (\d+)", out) and int(re.findall(r"arrival (\d+)", out)[-1]) >= 198
    sent = re.search(r"MQTT: (\d+) messages acknowledged by the broker, 0 waiting", out)
    assert sent and int(sent.group(1)) > 0


def test_demo_reruns_on_its_data_and_sigterm_stops_everything(tmp_path: Path) -> None:
    """Re-running on the same data directory works (the demo user is reset, not re-added),
    and SIGTERM ends every process the demo started: no lone worker, no stray broker."""
    data = tmp_path / "demo-data"
    first = run_gate("demo", "--data-dir", str(data), "--duration", "3", timeout=180)
    assert first.returncode == 0, first.stderr[-2000:]
    log = tmp_path / "demo.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([*GATE, "demo", "--data-dir", str(data)], stdout=out,
                                stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 180
        while "the morning of" not in log.read_text(errors="replace"):
            assert proc.poll() is None, log.read_text(errors="replace")[-2000:]
            assert time.monotonic() < deadline, "the demo did not come up"
            time.sleep(0.2)
        children = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True,
                                  text=True).stdout.split()
        assert children, "the demo should run a recognition worker (and a broker)"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0
        # multiprocessing's resource tracker leaves on its own once its pipe closes
        wait_for(lambda: not [pid for pid in map(int, children) if _alive(pid)],
                 timeout=10, what=f"children {children} of the demo to exit")
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "journal:" in log.read_text()  # it summarised on the way out
    assert "exists" not in log.read_text()


def test_an_audit_row_alone_is_not_printed_as_a_passage(tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]
                                                        ) -> None:
    """Opening a picture on the console journals an audit row with no event; the demo used
    to print it as ``lane - - system - DENY`` (issue 26). Real journal, real SQLite."""
    from gate.config import parse_config
    from gate.demo import _show
    from gate.journal import AuditRow, Entry, Journal
    from gate.store import Store

    config = parse_config({"data_dir": str(tmp_path)})
    store = Store(tmp_path, config.tz)
    journal = Journal(config, store)
    journal.subscribe(_show)
    journal.record(Entry(audit=(AuditRow("guard", "snapshot_viewed", "x"),)))
    assert capsys.readouterr().out == ""
    assert store.query("SELECT COUNT(*) FROM audit_log")[0][0] == 1
    store.close()
