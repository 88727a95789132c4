"""Card identities and the forms in which schools find them printed.

A card has one canonical id (upper-case hex of its id bytes in the card's own
order). Schools, though, import whatever is printed on the card or on the
supplier's list: a 10-digit decimal or a Wiegand ``facility,card`` pair. Each
form maps to a registry key; a read carries all its keys, so any of them
matches.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_HEX_SEPARATORS = re.compile(r"0x|[\s:\-]", re.IGNORECASE)
_HEX = re.compile(r"^[0-9A-Fa-f]+$")


class CardNumberError(ValueError):
    """Text that is not a card number in any form this package knows."""


@dataclass(frozen=True)
class CardId:
    """The id bytes of a card, as the card itself orders them."""

    data: bytes

    def __post_init__(self) -> None:
        if not 3 <= len(self.data) <= 10:
            raise CardNumberError(f"a card id has 3 to 10 bytes, not {len(self.data)}")

    @property
    def uid(self) -> str:
        return self.data.hex().upper()

    @property
    def dec10(self) -> str:
        """The last four bytes as the zero-padded decimal printed on most cards and fobs."""
        return f"{int.from_bytes(self.data[-4:], 'big'):010d}"

    @property
    def w26(self) -> str:
        """The last three bytes as Wiegand-26 ``facility,card``."""
        return f"{self.data[-3]},{int.from_bytes(self.data[-2:], 'big')}"

    def keys(self) -> tuple[str, ...]:
        return (f"hex:{self.uid}", f"dec10:{self.dec10}", f"w26:{self.w26}")

    @classmethod
    def from_hex(cls, text: str) -> CardId:
        digits = _HEX_SEPARATORS.sub("", text)
        if not digits or not _HEX.match(digits):
            raise CardNumberError(f"{text!r} is not hexadecimal")
        if len(digits) % 2:
            raise CardNumberError(f"{text!r} has an odd number of hex digits (ambiguous bytes)")
        return cls(bytes.fromhex(digits))


def registry_key(text: str) -> str:
    """The registry key for a card number as a school writes it in a roster.

    - ``hex:…``, ``dec:…``/``dec10:…``, ``w26:…`` say the form explicitly;
    - ``116,23152`` is a Wiegand-26 facility and card number;
    - exactly ten decimal digits below 2**32 is the printed decimal form (``0008844356``);
    - anything else must be the card id in hex (``E3086CED``, ``04 A1 0B 22``, and ten
      digits above 2**32, which can only be an EM4100 id such as ``6200000001``).
      An EM4100 id of ten digits below 2**32 is ambiguous: write it ``hex:0100073400``.
    """
    raw = text.strip()
    if not raw:
        raise CardNumberError("empty card number")
    form, sep, rest = raw.partition(":")
    form = form.lower() if sep else ""
    if form in ("hex", "dec", "dec10", "w26"):
        raw = rest.strip()
    else:
        form = ""
    if form == "w26" or (not form and "," in raw):
        return _w26_key(raw)
    looks_dec10 = raw.isdigit() and len(raw) == 10 and int(raw) < 1 << 32
    if form in ("dec", "dec10") or (not form and looks_dec10):
        if not raw.isdigit():
            raise CardNumberError(f"{text!r} is not a decimal number")
        value = int(raw)
        if value >= 1 << 32:
            raise CardNumberError(f"{text!r} is larger than a 4-byte card number")
        return f"dec10:{value:010d}"
    return CardId.from_hex(raw).keys()[0]


def _w26_key(raw: str) -> str:
    facility_text, _, card_text = raw.partition(",")
    try:
        facility, card = int(facility_text), int(card_text)
    except ValueError:
        raise CardNumberError(f"{raw!r} is not 'facility,card'") from None
    if not (0 <= facility <= 255 and 0 <= card <= 65535):
        raise CardNumberError(f"{raw!r}: facility must be 0-255 and card 0-65535")
    return f"w26:{facility},{card}"
