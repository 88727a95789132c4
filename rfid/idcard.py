"""Resident ID card readers (二代证阅读器): frames of the common SAM command set, pure logic.

Desk readers of the second-generation resident identity card talk to their SAM (security
module) in one frame format both ways (the GA 450 family)::

    command:  AA AA AA 96 69 | LEN (2, big-endian) | CMD PARA [data] | CHK
    response: AA AA AA 96 69 | LEN (2, big-endian) | SW1 SW2 SW3 [data] | CHK

LEN counts everything after itself, the checksum included; CHK is the XOR of the LEN bytes
and everything after them. SW3 says how it went: ``0x90`` done, ``0x9F`` a card was found,
``0x80`` no card found, ``0x81`` the card could not be selected, ``0x41`` it could not be
read. Read base info (``30 01``) answers with 2 bytes of text length, 2 of photo length,
256 bytes of text (UCS-2 little-endian, padded with spaces) and 1024 bytes of photo (the
chip's own compressed ``wlt`` format: kept as bytes, never decoded here).

The parser is incremental, like ``rfid.protocols``: chunks split anywhere, noise before a
preamble skipped, a frame with a bad checksum or length reported (``BadResponse``), never
raised. The serial loop is ``rfid.idcard_reader``; sample frames are in
``docs/rfid-protocols.md``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

PREAMBLE = b"\xaa\xaa\xaa\x96\x69"
MAX_LEN = 4096  # base info with fingerprints is 2,321 bytes; anything longer is noise

SW3_OK = 0x90
SW3_FOUND = 0x9F
SW3_NO_CARD = 0x80
SW3_SELECT_FAILED = 0x81
SW3_READ_FAILED = 0x41

TEXT_BYTES = 256
PHOTO_BYTES = 1024
# (field, bytes) in the order of the 256-byte text block (GA 450 base info).
TEXT_LAYOUT: tuple[tuple[str, int], ...] = (
    ("name", 30), ("sex", 2), ("ethnicity", 4), ("birth", 16), ("address", 70),
    ("number", 36), ("issuer", 30), ("valid_from", 16), ("valid_to", 16), ("reserved", 36))
LONG_TERM = "长期"  # printed as the end of validity of a card valid for life


def _xor(data: bytes) -> int:
    out = 0
    for b in data:
        out ^= b
    return out


def command(cmd: int, para: int, data: bytes = b"") -> bytes:
    """A command frame (``command(0x20, 0x01)`` is find card: ``AA AA AA 96 69 00 03 20 01 22``)."""
    body = bytes([cmd, para]) + data
    length = (len(body) + 1).to_bytes(2, "big")
    return PREAMBLE + length + body + bytes([_xor(length + body)])


FIND_CARD = command(0x20, 0x01)
SELECT_CARD = command(0x20, 0x02)
READ_BASE_INFO = command(0x30, 0x01)


def response(sw3: int, data: bytes = b"", sw1: int = 0x00, sw2: int = 0x00) -> bytes:
    """A response frame, as the reader sends it (for simulators and tests)."""
    body = bytes([sw1, sw2, sw3]) + data
    length = (len(body) + 1).to_bytes(2, "big")
    return PREAMBLE + length + body + bytes([_xor(length + body)])


@dataclass(frozen=True)
class Response:
    sw1: int
    sw2: int
    sw3: int
    data: bytes


@dataclass(frozen=True)
class BadResponse:
    reason: str
    raw: bytes


class ResponseParser:
    """Bytes from the reader in, ``Response``/``BadResponse`` out; never raises."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, chunk: bytes) -> list[Response | BadResponse]:
        self._buf += chunk
        out: list[Response | BadResponse] = []
        while True:
            start = self._buf.find(PREAMBLE)
            if start < 0:  # keep a possible partial preamble at the end, drop the noise
                del self._buf[:max(0, len(self._buf) - len(PREAMBLE) + 1)]
                return out
            del self._buf[:start]
            if len(self._buf) < 7:
                return out
            length = int.from_bytes(self._buf[5:7], "big")
            if not 4 <= length <= MAX_LEN:
                out.append(BadResponse(f"length {length} outside 4..{MAX_LEN}",
                                       bytes(self._buf[:7])))
                del self._buf[:len(PREAMBLE)]  # resynchronise on the next preamble
                continue
            if len(self._buf) < 7 + length:
                return out
            frame = bytes(self._buf[:7 + length])
            del self._buf[:7 + length]
            computed = _xor(frame[5:-1])
            if computed != frame[-1]:
                out.append(BadResponse(f"checksum {frame[-1]:02X} != computed {computed:02X}",
                                       frame))
                continue
            out.append(Response(frame[7], frame[8], frame[9], frame[10:-1]))


class IdCardError(ValueError):
    """The chip's text block is not what the format says; the message says why."""


@dataclass(frozen=True)
class IdCard:
    """The base information of one card. ``valid_to`` is None for a card valid for life."""

    name: str
    sex: str  # GB/T 2261.1 code: "1" male, "2" female
    ethnicity: str  # GB 3304 code, two digits ("01" Han)
    birth: dt.date
    address: str
    number: str
    issuer: str
    valid_from: dt.date
    valid_to: dt.date | None
    photo_wlt: bytes = field(default=b"", repr=False)  # compressed, not decoded

    def expired(self, today: dt.date) -> bool:
        """A card is valid through its last printed day."""
        return self.valid_to is not None and today > self.valid_to

    def fields(self) -> dict[str, str | None]:
        """The text fields as strings (dates ISO), for JSON; the photo is left out."""
        return {"name": self.name, "sex": self.sex, "ethnicity": self.ethnicity,
                "birth": self.birth.isoformat(), "address": self.address,
                "number": self.number, "issuer": self.issuer,
                "valid_from": self.valid_from.isoformat(),
                "valid_to": self.valid_to.isoformat() if self.valid_to else None}


def _date(text: str, what: str) -> dt.date:
    try:
        if len(text) != 8 or not text.isdigit():
            raise ValueError
        return dt.date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        raise IdCardError(f"{what}: {text!r} is not a date YYYYMMDD") from None


def parse_base_info(data: bytes) -> IdCard:
    """The data of a ``30 01`` response: text and photo lengths, text, photo."""
    if len(data) < 4:
        raise IdCardError(f"base info of {len(data)} bytes: no length header")
    text_len = int.from_bytes(data[0:2], "big")
    photo_len = int.from_bytes(data[2:4], "big")
    if text_len != TEXT_BYTES:
        raise IdCardError(f"text block of {text_len} bytes, expected {TEXT_BYTES}")
    if len(data) < 4 + text_len + photo_len:
        raise IdCardError(f"base info of {len(data)} bytes, lengths say"
                          f" {4 + text_len + photo_len}")
    text = data[4:4 + text_len]
    photo = data[4 + text_len:4 + text_len + photo_len]
    values: dict[str, str] = {}
    offset = 0
    for name, size in TEXT_LAYOUT:
        try:
            values[name] = text[offset:offset + size].decode("utf-16-le").rstrip(" \x00")
        except UnicodeDecodeError:
            raise IdCardError(f"{name}: not UCS-2 text") from None
        offset += size
    for name in ("name", "number"):
        if not values[name]:
            raise IdCardError(f"{name}: empty")
    valid_to = values["valid_to"]
    return IdCard(
        name=values["name"], sex=values["sex"], ethnicity=values["ethnicity"],
        birth=_date(values["birth"], "birth"), address=values["address"],
        number=values["number"].upper(), issuer=values["issuer"],
        valid_from=_date(values["valid_from"], "valid_from"),
        valid_to=None if valid_to == LONG_TERM else _date(valid_to, "valid_to"),
        photo_wlt=photo)


def encode_base_info(card: IdCard) -> bytes:
    """The inverse of ``parse_base_info``: what a reader sends for this card (simulators,
    tests and the demo)."""
    values = {**{k: v or "" for k, v in card.fields().items()},
              "birth": card.birth.strftime("%Y%m%d"),
              "valid_from": card.valid_from.strftime("%Y%m%d"),
              "valid_to": card.valid_to.strftime("%Y%m%d") if card.valid_to else LONG_TERM,
              "reserved": ""}
    text = b""
    for name, size in TEXT_LAYOUT:
        raw = values[name].encode("utf-16-le")
        if len(raw) > size:
            raise IdCardError(f"{name}: {len(raw)} bytes, the field has {size}")
        text += raw + " ".encode("utf-16-le") * ((size - len(raw)) // 2)
    photo = card.photo_wlt.ljust(PHOTO_BYTES, b"\x00")[:PHOTO_BYTES]
    return TEXT_BYTES.to_bytes(2, "big") + PHOTO_BYTES.to_bytes(2, "big") + text + photo
