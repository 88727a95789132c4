"""The desk's ID-card reader over a serial port: poll find card -> select -> read base info.

Unlike a lane reader, an ID-card reader speaks only when asked, so this loop asks: every
``poll_s`` it sends find card, and on a card, select and read base info (frames in
``rfid.idcard``). A card left on the reader is reported once; it is reported again only after
the reader has said "no card". A frame with a bad checksum, a reader that does not answer,
or a text block that does not parse is counted and reported, and the next poll simply asks
again: the card is still there, so nothing is lost. The port is reopened with back-off after
an unplug, as ``rfid.reader`` does.
"""

from __future__ import annotations

import datetime as dt
import logging
import termios
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import serial

from rfid.idcard import (
    FIND_CARD,
    READ_BASE_INFO,
    SELECT_CARD,
    SW3_FOUND,
    SW3_OK,
    BadResponse,
    IdCard,
    IdCardError,
    Response,
    ResponseParser,
    parse_base_info,
)
from rfid.reader import ReaderHealth

log = logging.getLogger("rfid.idcard")


@dataclass(frozen=True)
class IdCardRead:
    """One presentation of an ID card at the desk reader."""

    card: IdCard
    reader: str
    ts: dt.datetime  # wall clock, for the record
    mono: float


class NoAnswer(Exception):
    """The reader sent no complete frame in time (busy, or not an ID-card reader)."""


class BadAnswer(Exception):
    """The reader answered with a frame that failed its checksum or length (counted)."""


class IdCardReader:
    """Polls one ID-card reader in the caller's thread (``run``) until ``stop`` is set."""

    def __init__(self, reader_id: str, port: str, on_card: Callable[[IdCardRead], object], *,
                 baud: int = 115200, poll_s: float = 0.5, answer_timeout_s: float = 1.5,
                 on_bad: Callable[[str, str], None] | None = None,
                 max_backoff_s: float = 5.0) -> None:
        self.reader_id = reader_id
        self.port = port
        self.baud = baud
        self.poll_s = poll_s
        self.answer_timeout_s = answer_timeout_s
        self.health = ReaderHealth()
        self._on_card = on_card
        self._on_bad = on_bad
        self._max_backoff = max_backoff_s
        self._present: str | None = None  # the number of the card lying on the reader
        self._stop = threading.Event()

    def run(self, stop: threading.Event) -> None:
        self._stop = stop
        backoff = 0.1
        while not stop.is_set():
            try:
                port = serial.Serial(self.port, self.baud, timeout=0.05, exclusive=True)
            except (serial.SerialException, OSError, ValueError) as exc:
                self._error(f"cannot open {self.port}: {exc}", connected=False)
                stop.wait(backoff)
                backoff = min(backoff * 2, self._max_backoff)
                continue
            backoff = 0.1
            log.info("ID-card reader %s: opened %s (%d baud)", self.reader_id, self.port,
                     self.baud)
            try:
                while not stop.is_set():
                    self.poll(port)
                    stop.wait(self.poll_s)
            except (serial.SerialException, OSError, termios.error) as exc:
                # termios.error: flushing the input of a port that has gone (pyserial does
                # not wrap it), the usual first sign of an unplugged USB reader
                self._error(f"{self.port} lost: {exc}", connected=False)
                self.health.reconnects += 1
                self._present = None
            finally:
                port.close()
        self.health.connected = False

    def poll(self, port: serial.Serial) -> IdCard | None:
        """One find/select/read round; the card read, if a new one was."""
        try:
            found = self._ask(port, FIND_CARD)
            self._answering()
            if found.sw3 != SW3_FOUND:  # SW3_NO_CARD, or a reader error
                self._present = None  # lifted: the next card (or this one again) is news
                return None
            selected = self._ask(port, SELECT_CARD)
            if selected.sw3 != SW3_OK:
                return None  # moved off mid-read: the next poll finds it again
            info = self._ask(port, READ_BASE_INFO)
            if info.sw3 != SW3_OK:
                return None
            card = parse_base_info(info.data)
        except NoAnswer as exc:
            self._error(str(exc), connected=False)
            return None
        except BadAnswer:  # counted in _ask; it did answer, so it is no less connected
            return None
        except IdCardError as exc:
            self._bad(f"base info: {exc}")
            return None
        if card.number == self._present:
            return None
        self._present = card.number
        read = IdCardRead(card, self.reader_id, dt.datetime.now().astimezone(), time.monotonic())
        self.health.reads += 1
        self.health.last_read = read.ts
        try:
            self._on_card(read)
        except Exception:  # a consumer bug must not kill the reader loop
            log.exception("ID-card reader %s: card handler failed", self.reader_id)
        return card

    def _ask(self, port: serial.Serial, frame: bytes) -> Response:
        """Send one command and wait for its answer. A bad frame is counted and ends the
        wait: the reader will not send it again unasked, and the next poll asks again."""
        port.reset_input_buffer()  # a late answer to an earlier command is not this one's
        port.write(frame)
        parser = ResponseParser()
        deadline = time.monotonic() + self.answer_timeout_s
        while time.monotonic() < deadline and not self._stop.is_set():
            chunk = port.read(max(1, port.in_waiting))
            for result in parser.feed(chunk):
                if isinstance(result, BadResponse):
                    self._bad(result.reason)
                    raise BadAnswer(result.reason)
                return result
        raise NoAnswer(f"no answer from the ID-card reader on {self.port} to"
                       f" {frame[7]:02X} {frame[8]:02X}")

    def _answering(self) -> None:
        if not self.health.connected:
            log.info("ID-card reader %s: answering on %s", self.reader_id, self.port)
        self.health.connected = True
        self.health.last_error = None

    def _bad(self, reason: str) -> None:
        self.health.bad_frames += 1
        self.health.last_error = reason
        log.warning("ID-card reader %s: %s", self.reader_id, reason)
        if self._on_bad:
            self._on_bad(self.reader_id, reason)

    def _error(self, reason: str, *, connected: bool) -> None:
        if self.health.connected or self.health.last_error != reason:
            log.warning("ID-card reader %s: %s", self.reader_id, reason)
        self.health.connected = connected
        self.health.last_error = reason
