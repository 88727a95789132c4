"""Identity documents of visitors: validation and masking. Pure logic.

Mainland resident identity numbers (GB 11643-1999): 6 digits of region, 8 of
birth date, 3 of sequence, and an ISO 7064 MOD 11-2 check character (checked by
python-stdnum's ``stdnum.cn.ric``, whether typed or read from the card's chip).
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from typing import Literal

from stdnum.cn import ric
from stdnum.exceptions import InvalidChecksum

IdType = Literal["resident-id", "passport", "hk-macau-permit", "taiwan-permit"]
ID_TYPES: tuple[str, ...] = ("resident-id", "passport", "hk-macau-permit", "taiwan-permit")

_PROVINCES = {11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45,
              46, 50, 51, 52, 53, 54, 61, 62, 63, 64, 65, 71, 81, 82, 83}


class IdentityError(ValueError):
    """The document number is not valid; the message says why."""


def validate_resident_id(number: str, today: dt.date | None = None) -> str:
    n = number.strip().upper()
    if not re.fullmatch(r"\d{17}[\dX]", n):
        raise IdentityError("a resident identity number has 17 digits and a check digit or X"
                            f" ({len(n)} characters given)")
    if int(n[:2]) not in _PROVINCES:
        raise IdentityError(f"{n[:2]} is not a province code")
    try:
        born = dt.date(int(n[6:10]), int(n[10:12]), int(n[12:14]))
    except ValueError:
        raise IdentityError(f"birth date {n[6:14]} does not exist") from None
    if born.year < 1900 or born > (today or dt.date.today()):
        raise IdentityError(f"birth date {born} is impossible")
    try:
        ric.validate(n)
    except InvalidChecksum:
        raise IdentityError("check digit does not match (mistyped number?)") from None
    except ValueError as exc:  # stdnum's other ValidationErrors (none expected past the above)
        raise IdentityError(f"not a resident identity number: {exc}") from None
    return n


def validate_document(id_type: str, number: str) -> str:
    """The normalised document number, or IdentityError.

    NFKC first: a number typed with a Chinese input method in full-width mode
    (``１１０１…２X``) is the same number, and must match the watch list as such.
    """
    n = re.sub(r"[\s\-]", "", unicodedata.normalize("NFKC", number)).upper()
    if id_type == "resident-id":
        return validate_resident_id(n)
    if id_type == "passport":
        if not re.fullmatch(r"[A-Z0-9]{5,20}", n):
            raise IdentityError("a passport number has 5-20 letters and digits")
        return n
    if id_type == "hk-macau-permit":  # 港澳居民来往内地通行证 / 往来港澳通行证
        if not re.fullmatch(r"[HMC][0-9A-Z]\d{7}(\d{2})?", n):
            raise IdentityError("a Hong Kong/Macau permit number is H, M or C and 8-10 more"
                                " characters")
        return n
    if id_type == "taiwan-permit":  # 台湾居民来往大陆通行证
        if not re.fullmatch(r"\d{8}(\d{2})?", n):
            raise IdentityError("a Taiwan permit number has 8 or 10 digits")
        return n
    raise IdentityError(f"unknown document type {id_type!r}; one of {', '.join(ID_TYPES)}")


def mask(number: str) -> str:
    """``330702********1234``: enough to recognise, not enough to misuse."""
    if len(number) <= 6:
        return "*" * len(number)
    keep_head = 6 if len(number) >= 15 else 2
    return number[:keep_head] + "*" * (len(number) - keep_head - 4) + number[-4:]
