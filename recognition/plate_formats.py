"""Licence-plate text: normalising, validating per region, and fixing OCR confusions.

A fix is made only where the plate format allows exactly one reading of the
position (``O`` where only a digit may stand is ``0``; ``8`` where only a
letter may stand is ``B``), never where both readings are legal. Pure logic.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rapidfuzz.distance import Levenshtein

PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"  # I and O never appear on Chinese plates
DIGITS = "0123456789"
SUFFIXES = "学警挂港澳领"
NEW_ENERGY = "ABCDEFGHJK"  # the energy-type letter of green plates (D, F most common)
SEPARATORS = re.compile(r"[\s·•・.\-_:|]+")

# What OCR may have read in place of what: a round glyph read as O, D or Q was a 0 wherever
# only a digit (or no O) fits; a 0 where only a letter fits may be D or Q, so it is never fixed.
CONFUSIONS: dict[str, str] = {
    "0": "ODQ", "O": "0", "D": "0", "Q": "0", "1": "I", "I": "1", "8": "B", "B": "8",
    "2": "Z", "Z": "2", "5": "S", "S": "5",
}

_CLASSES = {"P": PROVINCES, "L": LETTERS, "A": LETTERS + DIGITS, "D": DIGITS,
            "X": NEW_ENERGY, "S": SUFFIXES}
# Position classes: P province, L letter, A letter-or-digit, D digit, X energy letter, S suffix
CN_FORMATS: dict[str, str] = {
    "standard": "PLAAAAA",  # 京A12345 (blue, yellow)
    "suffix": "PLAAAAS",  # 京A1234学 / 警 / 挂 / 港 / 澳 / 领
    "new-energy-small": "PLXDDDDD",  # 粤BD12345 (green)
    "new-energy-large": "PLDDDDDX",  # 粤B12345D (green)
}


@dataclass(frozen=True)
class PlateText:
    text: str
    kind: str
    fixes: int  # how many characters were corrected by position
    assumed_province: bool = False  # the site's home province stood in for an unread one


def province(value: str) -> str:
    """``value`` if it is one province character (a site's home province); ValueError naming
    the choices otherwise."""
    if len(value) != 1 or value not in PROVINCES:
        raise ValueError(f"must be one province character of {PROVINCES}")
    return value


def normalise(raw: str) -> str:
    """Separators removed, upper case (what is printed, not how it is spaced)."""
    return SEPARATORS.sub("", raw).upper()


def _fit(text: str, pattern: str) -> tuple[str, int] | None:
    out, fixes = [], 0
    for ch, cls in zip(text, pattern, strict=True):
        allowed = _CLASSES[cls]
        if ch in allowed:
            out.append(ch)
            continue
        options = [c for c in CONFUSIONS.get(ch, "") if c in allowed]
        if len(options) != 1:
            return None  # not this format, or ambiguous: never guess
        out.append(options[0])
        fixes += 1
    return "".join(out), fixes


def validate_cn(raw: str, home_province: str | None = None) -> PlateText | None:
    """A GA 36 plate; with ``home_province``, also a read whose province character was lost.

    The province is the one character the general-purpose recogniser most often drops or
    garbles on a small or blurred plate (its strokes are the finest), while the six or seven
    letters and digits after it read well. A site's own plates are mostly local, so, as
    installers set a "default province" on commercial plate cameras, the home province then
    stands in: marked ``assumed_province``, which lowers the read's confidence."""
    text = normalise(raw)
    best: PlateText | None = None
    for kind, pattern in CN_FORMATS.items():
        if len(text) != len(pattern):
            continue
        fitted = _fit(text, pattern)
        if fitted and (best is None or fitted[1] < best.fixes):
            best = PlateText(fitted[0], kind, fitted[1])
    if best is not None or home_province is None:
        return best
    # The province missing; failing that, read as something that is not a province. Keeping
    # every character read comes first: 'AF05568' is a green 皖AF05568, not a blue 皖F05568.
    # One guess is enough: the rest must fit as read, with no character fixed by position
    # (but O and I, which never appear on a Chinese plate, are the 0 and 1 they always are).
    plain = text.replace("O", "0").replace("I", "1")
    for drop in (0, 1):
        for kind, pattern in CN_FORMATS.items():
            if len(text) != len(pattern) - 1 + drop or (drop and text[0] in PROVINCES):
                continue
            fitted = _fit(plain[drop:], pattern[1:])
            if fitted and fitted[1] == 0:
                return PlateText(home_province + fitted[0], kind, 0, assumed_province=True)
    return None


# Common national layouts (letters/digits only, separators removed). A read that fits one is far
# more likely to be a whole, correct plate than any 4-10 characters with a digit: the formats
# feed the read's confidence.
# Classes: L any Latin letter, D digit, A letter or digit.
GENERIC_FORMATS: dict[str, str] = {
    "LLDDDDLL": "ua-bg",  # AA1234BB (Ukraine, Bulgaria)
    "LLDDDLL": "fr-it",  # AB123CD (France, Italy)
    "DDDDLLL": "es",  # 1234BCD (Spain)
    "LLDDLLL": "uk",  # AB12CDE (United Kingdom)
    "LLLDADD": "br",  # ABC1D23 (Brazil Mercosur) / ABC1234 (Brazil old)
}
_GENERIC_CLASSES = {"L": "[A-Z]", "D": "[0-9]", "A": "[A-Z0-9]"}
_GENERIC_RE = {re.compile("".join(_GENERIC_CLASSES[c] for c in pattern)): kind
               for pattern, kind in GENERIC_FORMATS.items()}


def validate_generic(raw: str) -> PlateText | None:
    """A known layout (kind names the layout) or, failing that, 4-10 letters and digits with at
    least one digit (kind ``generic``: a weaker read). Nothing is "fixed" here: with many
    national layouts and unusual plates (two-row, trailers), a fix to the nearest layout turned
    right reads wrong (B8233XA into BB233XA); the layout only raises the read's confidence."""
    text = normalise(raw)
    for layout, kind in _GENERIC_RE.items():
        if layout.fullmatch(text):
            return PlateText(text, kind, 0)
    if re.fullmatch(r"[A-Z0-9]{4,10}", text) and re.search(r"\d", text):
        return PlateText(text, "generic", 0)
    return None


def find_generic(raw: str) -> PlateText | None:
    """A known layout inside a longer line (a country code, a dealer's frame text around it)."""
    text = re.sub(r"[^A-Z0-9]", "", normalise(raw))
    for layout, kind in _GENERIC_RE.items():
        found = layout.search(text)
        if found:
            return PlateText(found.group(0), kind, 1)  # counted as one fix: text was dropped
    return None


def is_strong(plate: PlateText) -> bool:
    """A national layout (any Chinese plate, or a known generic layout), not a loose match."""
    return plate.kind != "generic"


def validate(raw: str, region: str, home_province: str | None = None) -> PlateText | None:
    return validate_cn(raw, home_province) if region == "cn" else validate_generic(raw)


def plate_distance(a: str, b: str) -> int:
    """Levenshtein distance between two normalised plates."""
    return int(Levenshtein.distance(a, b))


def is_confusion(a: str, b: str) -> bool:
    """Same length, and the only differences are characters OCR is known to confuse."""
    return len(a) == len(b) and a != b and all(
        x == y or y in CONFUSIONS.get(x, "") for x, y in zip(a, b, strict=True))
