"""The demo's morning as data (gate/demo_script.py): the school morning the README promises,
checked without starting anything."""

from __future__ import annotations

import datetime as dt
from collections import Counter

from gate import demo_script as script
from gate.config import CalendarConfig
from rfid.cards import CardId, registry_key


def test_two_hundred_pupils_with_cards_in_the_forms_schools_print() -> None:
    pupils = script.pupils()
    assert len(pupils) == 200 and len({p.id for p in pupils}) == 200
    assert len({p.card_hex for p in pupils}) == 200
    forms = Counter(registry_key(p.card).split(":")[0] for p in pupils)
    assert forms == {"hex": 100, "dec10": 100}
    for p in pupils[:10]:  # what the reader sends matches what the roster wrote
        assert registry_key(p.card) in CardId.from_hex(p.card_hex).keys()  # noqa: SIM118
    assert all(p.class_name in script.CLASSES for p in pupils)


def test_the_morning_has_one_of_each_thing_a_guard_must_see() -> None:
    pupils = script.pupils()
    steps = script.morning(pupils)
    kinds = Counter(s.kind for s in steps)
    assert kinds["face_tap"] == 2 and kinds["car"] == 3 and kinds["loiterer"] == 1
    assert kinds["visitor"] == 1 and kinds["flagged_visitor"] == 1 and kinds["fire"] == 1
    assert kinds["fire_clear"] == 1 and kinds["fire_reset"] == 1 and kinds["rollcall"] == 1
    assert [s.at for s in steps] == sorted(s.at for s in steps)
    assert all(script.MORNING_START <= s.at < script.MORNING_END for s in steps)
    taps = [s for s in steps if s.kind == "tap"]
    tapped = Counter(s.card for s in taps)
    assert max(tapped.values()) == 1, "nobody taps twice: no anti-passback alerts"
    pupil_cards = {p.card_hex for p in pupils}
    arrived = [s for s in taps if s.card in pupil_cards]
    assert len(arrived) == 200 - script.ABSENT
    late_after = CalendarConfig().late_after
    assert sum(1 for s in arrived if s.at > late_after) == script.LATE
    assert sum(1 for s in taps if s.card == script.UNKNOWN_CARD) == 1
    fire = next(s.at for s in steps if s.kind == "fire")
    assert all(s.at < fire for s in taps), "no tap while the lanes are released"
    assert script.GATE_OPENS < script.MORNING_START


def test_the_same_morning_every_run() -> None:
    assert script.morning(script.pupils()) == script.morning(script.pupils())
    assert dt.time(7, 35) <= sorted(s.at for s in script.morning(script.pupils())
                                    if s.kind == "tap")[100] <= dt.time(7, 52)
