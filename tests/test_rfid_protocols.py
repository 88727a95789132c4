"""Frame parsers against the datasheet/vendor sample frames (docs/rfid-protocols.md)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rfid.cards import CardId, CardNumberError, registry_key
from rfid.protocols import (
    AutoParser,
    BadFrame,
    Em4100Parser,
    Frame,
    UidLineParser,
    WiegandParser,
)


def h(text: str) -> bytes:
    return bytes.fromhex(text)


VALID_EM = [
    (h("02 36 32 45 33 30 38 36 43 45 44 30 38 03"), "62E3086CED", "3808980205"),
    (h("02 30 31 30 30 30 37 33 34 45 30 44 32 03"), "01000734E0", "0000472288"),
    (h("02 31 30 30 30 38 36 46 34 34 34 32 36 03"), "100086F444", "0008844356"),
    (b"\x02" + b"67003B51C6CB" + b"\x03", "67003B51C6", "0003887558"),
    (b"\x02" + b"67003BA86C98" + b"\x03", "67003BA86C", "0003909740"),
    (b"\x02" + b"67003BA86793" + b"\x03", "67003BA867", "0003909735"),
]
INVALID_EM = [
    (h("02 31 30 30 30 32 36 46 34 34 34 32 36 03"), "checksum"),
    (b"\x02" + b"68003B51C6CB" + b"\x03", "checksum"),
    (b"\x02" + b"68003B51C6CBDA" + b"\x03", "too long"),
    (h("02 30 32 30 30 34 44 42 30 30 35 46 43 03"), "checksum"),
    (h("02 30 36 30 30 37 35 45 41 36 44 44 36 03"), "checksum"),
    (h("02 30 36 30 30 37 35 38 32 34 45 3B 44 03"), "non-hex"),
]


def em_frame(data: bytes) -> bytes:
    checksum = 0
    for b in data:
        checksum ^= b
    return b"\x02" + (data.hex().upper() + f"{checksum:02X}").encode() + b"\x03"


@pytest.mark.parametrize(("raw", "uid", "dec10"), VALID_EM)
def test_em4100_datasheet_frames(raw: bytes, uid: str, dec10: str) -> None:
    [frame] = Em4100Parser().feed(raw)
    assert isinstance(frame, Frame)
    assert frame.card.uid == uid
    assert frame.card.dec10 == dec10


@pytest.mark.parametrize(("raw", "reason"), INVALID_EM)
def test_em4100_bad_frames_are_rejected(raw: bytes, reason: str) -> None:
    results = Em4100Parser().feed(raw)
    assert results and all(isinstance(r, BadFrame) for r in results)
    assert reason in results[0].reason  # type: ignore[union-attr]


def test_em4100_resyncs_after_a_truncated_frame_and_noise() -> None:
    stream = b"\xff\x00junk" + VALID_EM[0][0][:7] + VALID_EM[1][0] + b"\r\n" + VALID_EM[2][0]
    results = Em4100Parser().feed(stream)
    assert [type(r) for r in results] == [BadFrame, Frame, Frame]
    assert [r.card.uid for r in results if isinstance(r, Frame)] == ["01000734E0", "100086F444"]


def test_printed_forms() -> None:
    card = CardId(h("00745A70"))
    assert card.dec10 == "0007625328"
    assert card.w26 == "116,23152"
    assert card.keys() == ("hex:00745A70", "dec10:0007625328", "w26:116,23152")


def test_registry_keys_from_printed_numbers() -> None:
    assert registry_key("0008844356") == "dec10:0008844356"
    assert registry_key("116,23152") == "w26:116,23152"
    assert registry_key("de ad be ef") == "hex:DEADBEEF"
    assert registry_key("0xDE 0xAD 0xBE 0xEF") == "hex:DEADBEEF"
    assert registry_key("hex:0100073400") == "hex:0100073400"  # explicit beats the 10-digit rule
    assert registry_key("100086F444") == "hex:100086F444"
    assert registry_key("6200000001") == "hex:6200000001"  # above 2**32: only hex fits
    for bad in ("", "4a1b0", "999,1", "dec:9999999999", "xyz"):
        with pytest.raises(CardNumberError):
            registry_key(bad)


def test_uid_line_formats() -> None:
    parser = UidLineParser()
    out = parser.feed(b"Card UID: DE AD BE EF\r\nCard SAK: 08\r\nPICC type: MIFARE 1KB\r\n"
                      b"  UID Value: 0x04 0xC4 0x3B 0xC2 0x1C 0x26 0x80\n3220338716\r\n")
    assert [r.card.uid for r in out if isinstance(r, Frame)] == [
        "DEADBEEF", "04C43BC21C2680", "BFF2781C"]
    assert all(isinstance(r, Frame) for r in out)  # SAK/PICC chatter ignored, not counted


def test_uid_line_reversed_byte_order_matches_keyboard_wedge() -> None:
    # A wedge reader types UID 1C 78 F2 BF little-endian as 3220338716.
    [frame] = UidLineParser("reversed").feed(b"3220338716\n")
    assert isinstance(frame, Frame)
    assert frame.card.uid == "1C78F2BF"


def test_uid_line_rejects_ambiguous_and_wrong_lengths() -> None:
    out = UidLineParser().feed(b"4a1b\n4a1\nDEADBE\n\xff\xfe\n")
    assert all(isinstance(r, BadFrame) for r in out)
    assert len(out) == 4


def bits(value: int, width: int) -> str:
    return format(value, f"0{width}b")


def w26(facility: int, card: int) -> str:
    data = bits(facility, 8) + bits(card, 16)
    lead = "1" if data[:12].count("1") % 2 else "0"
    trail = "0" if data[12:].count("1") % 2 else "1"
    return lead + data + trail


def test_wiegand26_published_samples() -> None:
    parser = WiegandParser()
    out = parser.feed(b"10000110100110011000010110\r\n"
                      b"11010101001111011001001110\r\n"
                      b"10000000100000000000000010\r\n")
    assert [(r.card.w26, r.card.uid) for r in out if isinstance(r, Frame)] == [
        ("13,13067", "0D330B"), ("170,31527", "AA7B27"), ("1,1", "010001")]
    assert w26(13, 13067) == "10000110100110011000010110"


def test_wiegand_parity_errors_and_lengths() -> None:
    good = w26(170, 31527)
    flipped_lead = ("0" if good[0] == "1" else "1") + good[1:]
    flipped_trail = good[:-1] + ("0" if good[-1] == "1" else "1")
    out = WiegandParser().feed(f"{flipped_lead}\n{flipped_trail}\n101\n10x1\n".encode())
    assert [r.reason for r in out if isinstance(r, BadFrame)] == [
        "even parity error (leading half)", "odd parity error (trailing half)",
        "3 bits, expected 26 or 34", "not a line of 0/1 bits"]


def test_wiegand34() -> None:
    value = 0xDEADBEEF
    data = bits(value, 32)
    lead = "1" if data[:16].count("1") % 2 else "0"
    trail = "0" if data[16:].count("1") % 2 else "1"
    [frame] = WiegandParser().feed((lead + data + trail + "\n").encode())
    assert isinstance(frame, Frame)
    assert frame.card.uid == "DEADBEEF"
    assert frame.card.dec10 == f"{value:010d}"


@pytest.mark.parametrize(("stream", "protocol", "uid"), [
    (b"noise" + VALID_EM[0][0] + VALID_EM[1][0], "em4100", "62E3086CED"),
    (b"Card UID: DE AD BE EF\r\n", "uid-line", "DEADBEEF"),
    (b"10000110100110011000010110\r\n", "wiegand", "0D330B"),
])
def test_auto_locks_onto_the_first_valid_family(stream: bytes, protocol: str, uid: str) -> None:
    parser = AutoParser()
    out = parser.feed(stream)
    assert isinstance(out[0], Frame)
    assert (out[0].protocol, out[0].card.uid) == (protocol, uid)
    assert parser.locked is not None and parser.locked.name == protocol


# Properties ------------------------------------------------------------------

def _checksum_ok(frame: Frame) -> bool:
    """Independent check of a decoded EM4100 read: re-encode and verify the XOR."""
    data = frame.card.data
    x = 0
    for b in data:
        x ^= b
    return len(data) == 5 and em_frame(data)[11:13] == f"{x:02X}".encode()


@settings(max_examples=300)
@given(st.binary(max_size=400), st.lists(st.integers(1, 50), max_size=20))
def test_any_byte_stream_never_raises_and_yields_only_valid_reads(
        stream: bytes, cuts: list[int]) -> None:
    for make in (Em4100Parser, UidLineParser, WiegandParser, AutoParser):
        parser = make()
        pos = 0
        results = []
        for cut in [*cuts, len(stream)]:
            results += parser.feed(stream[pos:pos + cut])
            pos += cut
        results += parser.feed(stream[pos:])
        for r in results:
            assert isinstance(r, Frame | BadFrame)
            if isinstance(r, Frame) and r.protocol == "em4100":
                assert _checksum_ok(r)


@settings(max_examples=200)
@given(
    cards=st.lists(st.binary(min_size=5, max_size=5), min_size=1, max_size=8),
    noise=st.lists(st.binary(max_size=12).filter(lambda b: 2 not in b), min_size=9, max_size=9),
    cuts=st.lists(st.integers(1, 30), max_size=40),
)
def test_valid_frames_are_found_whatever_the_chunking(
        cards: list[bytes], noise: list[bytes], cuts: list[int]) -> None:
    stream = b"".join(noise[i] + em_frame(c) for i, c in enumerate(cards)) + noise[-1]
    parser = Em4100Parser()
    found: list[bytes] = []
    pos = 0
    for cut in cuts:
        found += [r.card.data for r in parser.feed(stream[pos:pos + cut]) if isinstance(r, Frame)]
        pos += cut
    found += [r.card.data for r in parser.feed(stream[pos:]) if isinstance(r, Frame)]
    assert found == cards
