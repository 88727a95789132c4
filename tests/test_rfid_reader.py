"""The reader thread over real pseudo-terminals, with real pyserial on the slave side."""

from __future__ import annotations

import json
import queue
import subprocess
from pathlib import Path
from typing import IO

from gate.demo import em4100_frame
from rfid.protocols import BadFrame
from rfid.reader import CardRead, Debouncer, SerialCardReader
from tests.conftest import GATE
from tests.ptys import PtyPort, wait_for


def _reader(port: PtyPort, reads: queue.Queue[CardRead], bad: list[BadFrame],
            **kw: object) -> SerialCardReader:
    reader = SerialCardReader("R1", port.path, reads.put, direction="entry",
                              on_bad_frame=lambda _r, b: bad.append(b), max_backoff_s=0.2,
                              **kw)  # type: ignore[arg-type]
    reader.start()
    wait_for(lambda: reader.health.connected, what="reader to open the pty")
    return reader


def test_reads_arrive_and_garbage_is_skipped() -> None:
    port = PtyPort()
    reads: queue.Queue[CardRead] = queue.Queue()
    bad: list[BadFrame] = []
    reader = _reader(port, reads, bad)
    try:
        port.write(b"\x00\xffnoise" + em4100_frame("62E3086CED") + b"garbage\r\n"
                   + em4100_frame("0100073400", corrupt=True) + em4100_frame("100086F444"))
        first, second = reads.get(timeout=3), reads.get(timeout=3)
        assert (first.uid, first.card.dec10) == ("62E3086CED", "3808980205")
        assert second.uid == "100086F444"
        assert first.reader == "R1" and first.direction == "entry"
        assert first.ts.tzinfo is not None and second.mono >= first.mono
        wait_for(lambda: reader.health.bad_frames == 1, what="bad frame count")
        assert "checksum" in bad[0].reason
        assert reads.empty()
        assert reader.health.reads == 2
    finally:
        reader.stop()
        port.close()


def test_a_held_card_gives_one_read() -> None:
    port = PtyPort()
    reads: queue.Queue[CardRead] = queue.Queue()
    reader = _reader(port, reads, [], holdoff_s=0.5)
    try:
        for _ in range(20):  # the reader repeats the frame while the card stays in the field
            port.write(em4100_frame("62E3086CED"))
        port.write(em4100_frame("100086F444"))
        assert reads.get(timeout=3).uid == "62E3086CED"
        assert reads.get(timeout=3).uid == "100086F444"  # all 20 repeats came before this
        assert reads.empty()
    finally:
        reader.stop()
        port.close()


def test_debouncer_window_slides_with_repeats() -> None:
    d = Debouncer(0.5)
    assert d.accept("A", 0.0)
    assert not d.accept("A", 0.3)
    assert not d.accept("A", 0.7)  # still held: 0.4 s after the last repeat
    assert d.accept("A", 1.3)  # lifted and presented again
    assert d.accept("B", 1.31)


def test_unplug_and_replug_is_survived(tmp_path: Path) -> None:
    link = tmp_path / "usb-rdm6300-if00"
    port = PtyPort(link)
    reads: queue.Queue[CardRead] = queue.Queue()
    reader = _reader(port, reads, [])
    try:
        port.write(em4100_frame("62E3086CED"))
        assert reads.get(timeout=3).uid == "62E3086CED"
        port.unplug()
        wait_for(lambda: not reader.health.connected, what="reader to notice the unplug")
        assert reader.health.last_error
        port = PtyPort(link)  # plugged back in: same by-id name, new tty
        wait_for(lambda: reader.health.connected, what="reader to reconnect")
        port.write(em4100_frame("100086F444"))
        assert reads.get(timeout=3).uid == "100086F444"
        assert reader.health.reconnects >= 1
    finally:
        reader.stop()
        port.close()


def _line_with(stream: IO[str], text: str, limit: int = 10) -> str:
    """The next line of the child's stderr that mentions ``text`` (log lines may come between)."""
    for _ in range(limit):
        line = stream.readline()
        if text in line:
            return line
    raise AssertionError(f"no line with {text!r}")


def test_gate_rfid_listen_on_a_pty(tmp_path: Path) -> None:
    link = tmp_path / "reader"
    port = PtyPort(link)
    proc = subprocess.Popen([*GATE, "rfid", "listen", "--port", str(link), "--protocol",
                             "em4100", "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stderr is not None and proc.stdout is not None
        _line_with(proc.stderr, "connected")
        port.write(em4100_frame("0100073400", corrupt=True))  # must produce no read
        port.write(em4100_frame("100086F444"))
        line = json.loads(proc.stdout.readline())
        assert line["uid"] == "100086F444"
        assert line["dec10"] == "0008844356"
        assert line["protocol"] == "em4100" and line["reader"] == "listen"
        assert "checksum" in _line_with(proc.stderr, "bad frame")
        # unplug and replug under the same name: the same process keeps reading
        port.unplug()
        _line_with(proc.stderr, "waiting")
        port = PtyPort(link)
        _line_with(proc.stderr, ": connected")
        port.write(em4100_frame("62E3086CED"))
        assert json.loads(proc.stdout.readline())["dec10"] == "3808980205"
    finally:
        proc.terminate()
        proc.wait(5)
        port.close()


def test_gate_rfid_listen_rejects_bad_usage() -> None:
    result = subprocess.run([*GATE, "rfid", "listen", "--port", "/dev/null", "--protocol",
                             "morse"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert "--protocol" in result.stderr
