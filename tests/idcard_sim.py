"""A simulated desk ID-card reader on the master side of a pty: it answers the SAM commands
(find card, select card, read base info) for whatever card lies on it, as a real reader does.
"""

from __future__ import annotations

import datetime as dt
import os
import select
import threading
import time

from rfid.idcard import (
    FIND_CARD,
    READ_BASE_INFO,
    SELECT_CARD,
    SW3_FOUND,
    SW3_NO_CARD,
    SW3_OK,
    IdCard,
    encode_base_info,
    response,
)
from tests.ptys import PtyPort


def sample_card(number: str = "11010519491231002X", name: str = "王小明",
                valid_to: dt.date | None = dt.date(2035, 3, 1)) -> IdCard:
    """A card as printed: the number is a valid GB 11643 number (check digit X)."""
    return IdCard(name=name, sex="1", ethnicity="01", birth=dt.date(1949, 12, 31),
                  address="北京市朝阳区建国路88号", number=number, issuer="北京市公安局朝阳分局",
                  valid_from=dt.date(2015, 3, 1), valid_to=valid_to,
                  photo_wlt=bytes(range(256)) * 4)


class SimulatedIdReader:
    """Answers commands written to ``port`` until closed. ``card`` is what lies on it;
    ``corrupt`` answers of read base info go out with a wrong checksum first; with
    ``split`` every answer goes out in three pieces."""

    def __init__(self, port: PtyPort) -> None:
        self.port = port
        self.card: IdCard | None = None
        self.corrupt = 0
        self.split = False
        self.commands: list[bytes] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="sim-idcard")
        self._thread.start()

    def _answer(self, frame: bytes) -> bytes | None:
        if frame == FIND_CARD:
            return response(SW3_FOUND if self.card else SW3_NO_CARD)
        if frame == SELECT_CARD:
            return response(SW3_OK if self.card else 0x81)
        if frame == READ_BASE_INFO and self.card is not None:
            out = response(SW3_OK, encode_base_info(self.card))
            if self.corrupt:
                self.corrupt -= 1
                out = out[:-1] + bytes([out[-1] ^ 0xFF])
            return out
        return None

    def _send(self, data: bytes) -> None:
        if not self.split:
            os.write(self.port.master, data)
            return
        third = len(data) // 3
        for piece in (data[:third], data[third:2 * third], data[2 * third:]):
            os.write(self.port.master, piece)
            time.sleep(0.02)  # pieces arrive in separate reads, as a slow USB bridge sends

    def _run(self) -> None:
        buf = b""
        while not self._stop.is_set():
            try:
                ready, _, _ = select.select([self.port.master], [], [], 0.05)
                if not ready:
                    continue
                buf += os.read(self.port.master, 1024)
            except OSError:
                return
            while len(buf) >= 10:
                start = buf.find(b"\xaa\xaa\xaa\x96\x69")
                if start < 0:
                    buf = b""
                    break
                if len(buf) - start < 10:
                    buf = buf[start:]
                    break
                frame, buf = buf[start:start + 10], buf[start + 10:]
                self.commands.append(frame)
                answer = self._answer(frame)
                if answer is not None:
                    try:
                        self._send(answer)
                    except OSError:
                        return

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
