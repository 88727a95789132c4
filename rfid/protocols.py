"""Pure frame parsers, one per reader family: bytes in, card ids (and rejects) out.

Parsers are incremental: serial data arrives in chunks split anywhere, with
line noise and the bad frames cheap clone readers really send. They never
raise on input; they yield a ``Frame`` for every valid read and a ``BadFrame``
(with the reason) for every rejected one, so the reader can count and report
them. Formats and sample frames: ``docs/rfid-protocols.md``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, Protocol

from rfid.cards import CardId, CardNumberError

ProtocolName = Literal["em4100", "uid-line", "wiegand"]
ByteOrder = Literal["as-is", "reversed"]
PROTOCOLS: tuple[str, ...] = ("em4100", "uid-line", "wiegand", "qr-line", "auto")

STX, ETX = 0x02, 0x03
MAX_LINE = 256


@dataclass(frozen=True)
class Frame:
    card: CardId
    protocol: ProtocolName


@dataclass(frozen=True)
class CodeFrame:
    """A scanned code (QR, barcode) printed as a line of text by a serial scanner."""

    text: str
    protocol: str = "qr-line"


@dataclass(frozen=True)
class BadFrame:
    protocol: str
    reason: str
    raw: bytes


Result = Frame | CodeFrame | BadFrame


class Parser(Protocol):
    name: str

    def feed(self, chunk: bytes) -> list[Result]: ...


class Em4100Parser:
    """RDM6300-style 125 kHz readers: STX, 10 hex data, 2 hex XOR checksum, ETX."""

    name = "em4100"

    def __init__(self) -> None:
        self._buf = bytearray()
        self._in_frame = False

    def feed(self, chunk: bytes) -> list[Result]:
        out: list[Result] = []
        for byte in chunk:
            if not self._in_frame:
                if byte == STX:  # anything before STX is line noise
                    self._in_frame = True
                    self._buf.clear()
                continue
            if byte == STX:  # a new frame started before this one ended
                out.append(self._bad("truncated frame", bytes([STX]) + self._buf))
                self._buf.clear()
                continue
            if byte == ETX:
                out.append(self._decode(bytes(self._buf)))
                self._in_frame = False
                continue
            self._buf.append(byte)
            if len(self._buf) > 12:
                out.append(self._bad("frame too long", bytes([STX]) + self._buf))
                self._in_frame = False
        return out

    def _bad(self, reason: str, raw: bytes) -> BadFrame:
        return BadFrame(self.name, reason, raw)

    def _decode(self, body: bytes) -> Result:
        raw = bytes([STX]) + body + bytes([ETX])
        if len(body) != 12:
            return self._bad(f"{len(body)} characters between STX and ETX, expected 12", raw)
        try:
            text = body.decode("ascii")
            if not re.fullmatch(r"[0-9A-Fa-f]{12}", text):
                raise ValueError
        except (UnicodeDecodeError, ValueError):
            return self._bad("non-hex character in frame", raw)
        data = bytes.fromhex(text[:10])
        checksum = int(text[10:], 16)
        computed = 0
        for b in data:
            computed ^= b
        if computed != checksum:
            return self._bad(f"checksum {checksum:02X} != computed {computed:02X}", raw)
        return Frame(CardId(data), "em4100")


class _LineParser:
    """Shared line splitting for readers that print one read per text line."""

    name = "line"

    def __init__(self) -> None:
        self._buf = bytearray()
        self._overlong = False

    def feed(self, chunk: bytes) -> list[Result]:
        out: list[Result] = []
        for byte in chunk:
            if byte in (0x0A, 0x0D):
                if self._overlong:
                    self._overlong = False
                elif self._buf:
                    result = self._line(bytes(self._buf))
                    if result is not None:
                        out.append(result)
                self._buf.clear()
                continue
            if self._overlong:
                continue
            self._buf.append(byte)
            if len(self._buf) > MAX_LINE:
                out.append(BadFrame(self.name, "line too long", bytes(self._buf[:64])))
                self._buf.clear()
                self._overlong = True
        return out

    def _line(self, raw: bytes) -> Result | None:
        raise NotImplementedError


_LABEL = re.compile(r"^\s*[A-Za-z][A-Za-z ]*:")


class UidLineParser(_LineParser):
    """Desktop ISO 14443A / 125 kHz readers that print the card number as a text line.

    Accepts hex (``DEADBEEF``, ``DE AD BE EF``, ``0xDE 0xAD 0xBE 0xEF``; 4, 7
    or 10 bytes), the MFRC522/PN532 sketches' ``Card UID: ...``/``UID Value:
    ...`` lines, and the 10-digit decimal that keyboard-wedge readers type.
    Other ``Label: value`` chatter from those sketches is ignored, not counted.
    """

    name = "uid-line"

    def __init__(self, byte_order: ByteOrder = "as-is") -> None:
        super().__init__()
        self.byte_order = byte_order

    def _line(self, raw: bytes) -> Result | None:
        try:
            text = raw.decode("ascii").strip()
        except UnicodeDecodeError:
            return BadFrame(self.name, "non-ASCII line", raw)
        if not text:
            return None
        if _LABEL.match(text):
            label, _, value = text.partition(":")
            if "UID" not in label.upper():
                return None
            text = value.strip()
        try:
            if text.isdigit() and len(text) == 10:
                value_int = int(text)
                if value_int >= 1 << 32:
                    raise CardNumberError("decimal number larger than 4 bytes")
                data = value_int.to_bytes(4, "big")
            else:
                data = CardId.from_hex(text).data
                if len(data) not in (4, 7, 10):
                    raise CardNumberError(f"{len(data)}-byte UID; ISO 14443 UIDs have 4, 7 or 10")
        except CardNumberError as exc:
            return BadFrame(self.name, str(exc), raw)
        if self.byte_order == "reversed":
            data = data[::-1]
        return Frame(CardId(data), "uid-line")


class WiegandParser(_LineParser):
    """Wiegand-to-serial bridges that print each read as a line of bits (26 or 34)."""

    name = "wiegand"

    def _line(self, raw: bytes) -> Result | None:
        text = raw.decode("ascii", errors="replace").strip()
        if not text:
            return None
        if not re.fullmatch(r"[01]+", text):
            return BadFrame(self.name, "not a line of 0/1 bits", raw)
        bits = [int(c) for c in text]
        if len(bits) not in (26, 34):
            return BadFrame(self.name, f"{len(bits)} bits, expected 26 or 34", raw)
        half = len(bits) // 2
        if sum(bits[:half]) % 2 != 0:
            return BadFrame(self.name, "even parity error (leading half)", raw)
        if sum(bits[half:]) % 2 != 1:
            return BadFrame(self.name, "odd parity error (trailing half)", raw)
        value = int(text[1:-1], 2)
        return Frame(CardId(value.to_bytes((len(bits) - 2) // 8, "big")), "wiegand")


class QrLineParser(_LineParser):
    """Serial QR/barcode scanners (visitor passes): each scan is a line of printable text."""

    name = "qr-line"

    def _line(self, raw: bytes) -> Result | None:
        try:
            text = raw.decode("utf-8").strip()
        except UnicodeDecodeError:
            return BadFrame(self.name, "not UTF-8 text", raw)
        if not text:
            return None
        if not text.isprintable():
            return BadFrame(self.name, "control characters in the scanned code", raw)
        return CodeFrame(text)


class AutoParser:
    """Runs every family side by side and locks onto the first that decodes a valid frame.

    Until then nothing is reported as bad: what is garbage to one family is the
    frame of another.
    """

    name = "auto"

    def __init__(self, byte_order: ByteOrder = "as-is") -> None:
        self._candidates: list[Parser] = [Em4100Parser(), UidLineParser(byte_order),
                                          WiegandParser()]
        self.locked: Parser | None = None

    def feed(self, chunk: bytes) -> list[Result]:
        if self.locked is not None:
            return self.locked.feed(chunk)
        for parser in self._candidates:
            results = parser.feed(chunk)
            for i, result in enumerate(results):
                if isinstance(result, Frame):
                    self.locked = parser
                    return [r for r in results[i:]]
        return []


def make_parser(protocol: str, byte_order: ByteOrder = "as-is") -> Parser:
    if protocol == "em4100":
        return Em4100Parser()
    if protocol == "uid-line":
        return UidLineParser(byte_order)
    if protocol == "wiegand":
        return WiegandParser()
    if protocol == "qr-line":
        return QrLineParser()
    if protocol == "auto":
        return AutoParser(byte_order)
    raise ValueError(f"unknown protocol {protocol!r}; one of {', '.join(PROTOCOLS)}")
