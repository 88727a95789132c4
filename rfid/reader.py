"""A serial card reader: one thread per port, exclusive open, debounce, reconnect.

Readers at a gate are USB-serial dongles that get kicked, unplugged and
re-plugged. The thread survives that: it reopens the port with back-off until
it comes back (point ``port`` at a stable ``/dev/serial/by-id/...`` link).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import serial

from rfid.cards import CardId
from rfid.protocols import BadFrame, ByteOrder, CodeFrame, Frame, make_parser

log = logging.getLogger("rfid.reader")


@dataclass(frozen=True)
class CardRead:
    """One presentation of a card at a reader."""

    card: CardId | None  # None for a scanned code
    protocol: str
    reader: str
    direction: str
    ts: dt.datetime  # wall clock, for the record
    mono: float  # monotonic clock, for correlation and debounce
    code: str | None = None  # the text of a scanned QR code or barcode

    @property
    def uid(self) -> str:
        return self.card.uid if self.card else (self.code or "")

    def as_dict(self) -> dict[str, str]:
        if self.card is None:
            return {"code": self.code or "", "protocol": self.protocol, "reader": self.reader,
                    "ts": self.ts.isoformat(timespec="milliseconds")}
        return {"uid": self.card.uid, "protocol": self.protocol, "reader": self.reader,
                "ts": self.ts.isoformat(timespec="milliseconds"), "dec10": self.card.dec10,
                "w26": self.card.w26}


@dataclass
class ReaderHealth:
    connected: bool = False
    last_read: dt.datetime | None = None
    reads: int = 0
    bad_frames: int = 0
    reconnects: int = 0
    last_error: str | None = None
    since: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))


class Debouncer:
    """One read per presentation: repeats of a held card are dropped.

    EM4100 readers repeat the frame about every 50 ms while a card stays in
    the field; the window slides with each repeat, so a card held for a minute
    is still one read, and the card read again after ``holdoff`` of silence is
    a new presentation.
    """

    def __init__(self, holdoff_s: float) -> None:
        self.holdoff_s = holdoff_s
        self._last: dict[str, float] = {}

    def accept(self, uid: str, mono: float) -> bool:
        last = self._last.get(uid)
        self._last[uid] = mono
        if len(self._last) > 1024:
            self._last = {k: v for k, v in self._last.items() if mono - v < self.holdoff_s}
        return last is None or mono - last >= self.holdoff_s


class SerialCardReader:
    """Reads one serial port in a background thread and calls back per card presentation."""

    def __init__(
        self,
        reader_id: str,
        port: str,
        on_read: Callable[[CardRead], object],
        *,
        protocol: str = "em4100",
        baud: int = 9600,
        direction: str = "entry",
        byte_order: ByteOrder = "as-is",
        holdoff_s: float = 1.0,
        on_bad_frame: Callable[[str, BadFrame], None] | None = None,
        max_backoff_s: float = 5.0,
    ) -> None:
        self.reader_id = reader_id
        self.port = port
        self.protocol = protocol
        self.baud = baud
        self.direction = direction
        self.byte_order: ByteOrder = byte_order
        self.health = ReaderHealth()
        self._on_read = on_read
        self._on_bad = on_bad_frame
        self._debounce = Debouncer(holdoff_s)
        self._max_backoff = max_backoff_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"reader-{reader_id}",
                                        daemon=True)

    def start(self) -> None:
        self._thread.start()

    def run(self, stop: threading.Event) -> None:
        """The read loop on the caller's thread until ``stop`` (the gate's supervisor runs
        it, and starts it again if a bug ever kills it)."""
        self._stop = stop
        self._run()

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        if self._thread.ident is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        backoff = 0.1
        while not self._stop.is_set():
            try:
                port = serial.Serial(self.port, self.baud, timeout=0.2, exclusive=True)
            except (serial.SerialException, OSError, ValueError) as exc:
                self._disconnected(f"cannot open {self.port}: {exc}")
                self._stop.wait(backoff)
                backoff = min(backoff * 2, self._max_backoff)
                continue
            backoff = 0.1
            self.health.connected = True
            self.health.last_error = None
            log.info("reader %s: connected on %s (%s, %d baud)", self.reader_id, self.port,
                     self.protocol, self.baud)
            parser = make_parser(self.protocol, self.byte_order)  # a fresh sync after replug
            try:
                while not self._stop.is_set():
                    chunk = port.read(max(1, port.in_waiting))
                    if chunk:
                        self._handle(parser.feed(chunk))
            except (serial.SerialException, OSError) as exc:
                self._disconnected(f"{self.port} lost: {exc}")
                self.health.reconnects += 1
            finally:
                port.close()
        self.health.connected = False

    def _disconnected(self, reason: str) -> None:
        if self.health.connected or self.health.last_error != reason:
            log.warning("reader %s: %s", self.reader_id, reason)
        self.health.connected = False
        self.health.last_error = reason

    def _handle(self, results: list[Frame | CodeFrame | BadFrame]) -> None:
        for result in results:
            if isinstance(result, BadFrame):
                self.health.bad_frames += 1
                if self._on_bad:
                    self._on_bad(self.reader_id, result)
                continue
            mono = time.monotonic()
            key = result.card.uid if isinstance(result, Frame) else result.text
            if not self._debounce.accept(key, mono):
                continue
            read = CardRead(card=result.card if isinstance(result, Frame) else None,
                            protocol=result.protocol, reader=self.reader_id,
                            direction=self.direction, ts=dt.datetime.now().astimezone(),
                            mono=mono,
                            code=result.text if isinstance(result, CodeFrame) else None)
            self.health.reads += 1
            self.health.last_read = read.ts
            try:
                self._on_read(read)
            except Exception:  # a consumer bug must not kill the reader thread
                log.exception("reader %s: card read handler failed", self.reader_id)
