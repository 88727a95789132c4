"""Plate text rules (pure): normalising, formats per region, fixes only where unambiguous."""

from __future__ import annotations

import pytest

from recognition.plate_formats import (
    PlateText,
    is_confusion,
    normalise,
    plate_distance,
    validate_cn,
    validate_generic,
)


def test_normalise_strips_separators_and_upper_cases() -> None:
    assert normalise("京a·12345") == "京A12345"
    assert normalise(" 粤B - D12345 ") == "粤BD12345"


@pytest.mark.parametrize(("raw", "text", "kind"), [
    ("京A·12345", "京A12345", "standard"),
    ("沪C·1234学", "沪C1234学", "suffix"),
    ("京A·1234警", "京A1234警", "suffix"),
    ("冀B·1234挂", "冀B1234挂", "suffix"),
    ("粤Z·1234港", "粤Z1234港", "suffix"),
    ("粤Z·1234澳", "粤Z1234澳", "suffix"),
    ("沪A·1234领", "沪A1234领", "suffix"),
    ("粤B·D12345", "粤BD12345", "new-energy-small"),
    ("粤B·12345F", "粤B12345F", "new-energy-large"),
])
def test_every_cn_type_and_suffix(raw: str, text: str, kind: str) -> None:
    plate = validate_cn(raw)
    assert plate is not None and (plate.text, plate.kind, plate.fixes) == (text, kind, 0)


def test_confusions_fixed_only_where_the_format_allows_one_reading() -> None:
    # O never appears on a Chinese plate: where a letter or digit may stand, O can only be 0
    assert validate_cn("京AO1234").text == "京A01234"  # type: ignore[union-attr]
    # the issuing-authority position takes letters only: 8 -> B, 2 -> Z, 5 -> S
    fixed = validate_cn("京812345")
    assert fixed is not None and fixed.text == "京B12345" and fixed.fixes == 1
    assert validate_cn("京212345").text == "京Z12345"  # type: ignore[union-attr]
    # new-energy digits: B -> 8, S -> 5, Z -> 2, I -> 1
    assert validate_cn("粤BDB2S4I").text == "粤BD82541"  # type: ignore[union-attr]
    # ambiguous: 0 in a letter-only position could be D or Q -> not guessed, not a plate
    assert validate_cn("京012345") is None
    # B in a letter-or-digit position is legal as it is: left alone
    assert validate_cn("京AB1234").text == "京AB1234"  # type: ignore[union-attr]
    # not a province, wrong length, I in the letter position: rejected
    assert validate_cn("X A12345") is None
    assert validate_cn("京A1234") is None
    assert validate_cn("京112345") is None


def test_home_province_stands_in_only_for_a_lost_one() -> None:
    # without a home province, a read that lost its province is no plate
    assert validate_cn("A·YL375") is None
    assert validate_cn("A·YL375", "皖") == PlateText("皖AYL375", "standard", 0,
                                                     assumed_province=True)
    # every character read is kept first: seven read characters are a green plate's last seven
    green = validate_cn("AF05568", "皖")
    assert green is not None and (green.text, green.kind) == ("皖AF05568", "new-energy-small")
    # a first character that is no province (a bolt, a frame edge) gives way to it
    assert validate_cn("MAYL375", "皖").text == "皖AYL375"  # type: ignore[union-attr]
    # O and I never appear on a plate: they stay the 0 and 1 they always are
    assert validate_cn("AON718", "皖").text == "皖A0N718"  # type: ignore[union-attr]
    # but no other fix on top of a guess: '2' as the authority letter would be a second guess
    assert validate_cn("225472", "皖") is None
    # a province that was read is never replaced, even a foreign one
    read = validate_cn("苏CFY773", "皖")
    assert read is not None and read.text == "苏CFY773" and not read.assumed_province


def test_generic_region() -> None:
    assert validate_generic("ab-123-cd").text == "AB123CD"  # type: ignore[union-attr]
    assert validate_generic("ABCDEF") is None  # no digit: a word, not a plate
    assert validate_generic("A1") is None


def test_distances_for_watch_list_matching() -> None:
    assert plate_distance("京A12345", "京A12345") == 0
    assert plate_distance("京A12345", "京A12346") == 1
    assert plate_distance("京A12345", "京A1234") == 1
    assert plate_distance("京A12345", "沪B12346") == 3
    assert is_confusion("京AB1234", "京A81234")
    assert not is_confusion("京A12345", "京A12346")
