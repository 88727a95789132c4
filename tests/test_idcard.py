"""The desk ID-card reader: frames of the SAM command set (pure), then the poll loop over a
real pty with a simulated reader answering on the other end."""

from __future__ import annotations

import datetime as dt
import queue
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from rfid.idcard import (
    FIND_CARD,
    READ_BASE_INFO,
    SELECT_CARD,
    SW3_NO_CARD,
    SW3_OK,
    BadResponse,
    IdCard,
    IdCardError,
    Response,
    ResponseParser,
    encode_base_info,
    parse_base_info,
    response,
)
from rfid.idcard_reader import IdCardRead, IdCardReader
from tests.idcard_sim import SimulatedIdReader, sample_card
from tests.ptys import PtyPort, wait_for

# Built by hand from the published format (preamble, LEN big-endian, CMD PARA, XOR of the rest).
PUBLISHED_FIND = bytes.fromhex("AAAAAA9669 0003 2001 22")
PUBLISHED_SELECT = bytes.fromhex("AAAAAA9669 0003 2002 21")
PUBLISHED_READ = bytes.fromhex("AAAAAA9669 0003 3001 32")


def test_commands_match_the_published_frames() -> None:
    assert (FIND_CARD, SELECT_CARD, READ_BASE_INFO) == (PUBLISHED_FIND, PUBLISHED_SELECT,
                                                        PUBLISHED_READ)


def test_no_card_answer_parses() -> None:
    # "no card": SW1 SW2 SW3 = 00 00 80, LEN 4, checksum 00^04^00^00^80 = 84
    raw = bytes.fromhex("AAAAAA9669 0004 000080 84")
    assert response(SW3_NO_CARD) == raw
    assert ResponseParser().feed(raw) == [Response(0, 0, SW3_NO_CARD, b"")]


def _base_info_frame() -> bytes:
    return response(SW3_OK, encode_base_info(sample_card()))


def test_base_info_has_the_published_layout() -> None:
    frame = _base_info_frame()
    assert len(frame) == 7 + 1288 and frame[5:7] == bytes.fromhex("0508")  # 3+4+256+1024+1
    assert frame[10:14] == bytes.fromhex("01000400")  # text 256, photo 1024
    text = frame[14:14 + 256]
    assert text[:6].decode("utf-16-le") == "王小明" and text[6:8] == b" \x00"  # name, padded
    assert text[30:32].decode("utf-16-le") == "1"  # sex
    assert text[122:158].decode("utf-16-le") == "11010519491231002X"  # number at 30+2+4+16+70


def test_good_frame_gives_every_field_and_keeps_the_photo() -> None:
    [resp] = ResponseParser().feed(_base_info_frame())
    assert isinstance(resp, Response) and resp.sw3 == SW3_OK
    card = parse_base_info(resp.data)
    assert card == sample_card()
    assert (card.name, card.sex, card.ethnicity, card.number) == (
        "王小明", "1", "01", "11010519491231002X")
    assert card.birth == dt.date(1949, 12, 31) and card.valid_to == dt.date(2035, 3, 1)
    assert card.address == "北京市朝阳区建国路88号" and card.issuer == "北京市公安局朝阳分局"
    assert len(card.photo_wlt) == 1024 and card.photo_wlt[:4] == b"\x00\x01\x02\x03"


def test_frame_split_anywhere_and_noise_before_it() -> None:
    frame = b"\x00\xffjunk\xaa\xaa" + _base_info_frame() + response(SW3_NO_CARD)
    for cut in (1, 3, 6, 7, 9, 10, 200, len(frame) - 1):
        parser = ResponseParser()
        out = parser.feed(frame[:cut]) + parser.feed(frame[cut:])
        assert [type(r) for r in out] == [Response, Response], cut
        assert isinstance(out[0], Response) and parse_base_info(out[0].data) == sample_card()
    parser = ResponseParser()  # one byte at a time
    out = [r for b in frame for r in parser.feed(bytes([b]))]
    assert len(out) == 2 and all(isinstance(r, Response) for r in out)


def test_corrupted_checksum_is_reported_and_the_next_frame_still_parses() -> None:
    bad = bytearray(_base_info_frame())
    bad[300] ^= 0x01
    out = ResponseParser().feed(bytes(bad) + response(SW3_NO_CARD))
    assert isinstance(out[0], BadResponse) and "checksum" in out[0].reason
    assert out[1] == Response(0, 0, SW3_NO_CARD, b"")


def test_impossible_length_resynchronises() -> None:
    out = ResponseParser().feed(bytes.fromhex("AAAAAA9669 FFFF 00") + response(SW3_NO_CARD))
    assert isinstance(out[0], BadResponse) and "length" in out[0].reason
    assert out[1] == Response(0, 0, SW3_NO_CARD, b"")


def test_long_term_card_and_expiry() -> None:
    card = parse_base_info(encode_base_info(sample_card(valid_to=None)))
    assert card.valid_to is None and not card.expired(dt.date(2100, 1, 1))
    short = sample_card(valid_to=dt.date(2020, 5, 1))
    assert not short.expired(dt.date(2020, 5, 1))  # valid through its last day
    assert short.expired(dt.date(2020, 5, 2))


def test_a_garbled_text_block_is_a_clear_error() -> None:
    data = bytearray(encode_base_info(sample_card()))
    data[4 + 36:4 + 52] = "2019二月01".encode("utf-16-le").ljust(16, b" ")  # birth field
    with pytest.raises(IdCardError, match="birth"):
        parse_base_info(bytes(data))
    with pytest.raises(IdCardError, match="text block"):
        parse_base_info(b"\x00\x10\x04\x00" + bytes(2000))


# Over a pty, with a simulated reader answering --------------------------------------------------


class Rig:
    """A simulated reader on a pty (behind a by-id style link) and the poll loop reading it."""

    def __init__(self, tmp_path: Path) -> None:
        self.link = tmp_path / "usb-idreader-if00"
        self.port = PtyPort(self.link)
        self.sim = SimulatedIdReader(self.port)
        self.reads: queue.Queue[IdCardRead] = queue.Queue()
        self.bad: list[str] = []
        self.reader = IdCardReader("desk", self.port.path, self.reads.put, poll_s=0.05,
                                   answer_timeout_s=0.5, max_backoff_s=0.2,
                                   on_bad=lambda _r, why: self.bad.append(why))
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.reader.run, args=(self.stop,), daemon=True)
        self.thread.start()
        wait_for(lambda: self.reader.health.connected, what="the reader to answer find card")

    def card(self, timeout: float = 5) -> IdCard:
        return self.reads.get(timeout=timeout).card

    def close(self) -> None:
        self.stop.set()
        self.thread.join(3)
        self.sim.close()
        self.port.close()


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    r = Rig(tmp_path)
    yield r
    r.close()


@pytest.mark.slow
def test_pty_no_card_then_good_card_read_once(rig: Rig) -> None:
    sim, reader = rig.sim, rig.reader
    wait_for(lambda: sim.commands.count(FIND_CARD) >= 3, what="polls with no card")
    assert rig.reads.empty() and SELECT_CARD not in sim.commands  # no card: nothing else asked
    sim.card = sample_card()
    read = rig.reads.get(timeout=3)
    assert read.card == sample_card() and read.reader == "desk" and read.ts.tzinfo
    polls = len(sim.commands)
    wait_for(lambda: len(sim.commands) > polls + 6, what="more polls with the card held")
    assert rig.reads.empty()  # held on the reader: one read
    sim.card = None
    wait_for(lambda: sim.commands[-1] == FIND_CARD and reader._present is None,
             what="the card lifted")
    sim.card = sample_card()
    assert rig.card().number == "11010519491231002X"  # laid down again
    assert rig.bad == [] and reader.health.reads == 2


@pytest.mark.slow
def test_pty_split_answers(rig: Rig) -> None:
    rig.sim.split = True
    rig.sim.card = sample_card(name="李华")
    assert rig.card().name == "李华"
    assert rig.bad == []


@pytest.mark.slow
def test_pty_corrupted_answer_is_counted_and_the_card_still_read(rig: Rig) -> None:
    rig.sim.corrupt = 2
    rig.sim.card = sample_card()
    assert rig.card() == sample_card()  # asked again, read whole
    assert len(rig.bad) == 2 and all("checksum" in b for b in rig.bad)
    assert rig.reader.health.bad_frames == 2
    assert rig.reader.health.connected  # a bad frame is an answer: not reported offline


@pytest.mark.slow
def test_pty_expired_card_is_read_and_says_so(rig: Rig) -> None:
    rig.sim.card = sample_card(valid_to=dt.date(2021, 6, 30))
    card = rig.card()
    assert card.valid_to == dt.date(2021, 6, 30) and card.expired(dt.date(2021, 7, 1))


@pytest.mark.slow
def test_pty_unplug_and_replug(rig: Rig) -> None:
    rig.sim.close()
    rig.port.unplug()
    wait_for(lambda: not rig.reader.health.connected, what="the unplug to be noticed")
    assert rig.reader.health.last_error
    rig.port = PtyPort(rig.link)  # the same by-id link comes back
    rig.sim = SimulatedIdReader(rig.port)
    rig.sim.card = sample_card()
    assert rig.card(timeout=8).number == "11010519491231002X"
    assert rig.reader.health.connected and rig.reader.health.reconnects >= 1
