"""The demo's school morning as data: who arrives when, by which lane, and what happens.

Pure and deterministic (a seeded generator, no clock): ``gate demo`` plays these steps on
its compressed site clock (gate/clock.py), and tests/test_demo_script.py checks the
morning is the one the README promises without starting anything.
"""

from __future__ import annotations

import csv
import datetime as dt
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

GATE_OPENS = dt.time(7, 10)  # the site clock starts here: the cameras warm up before 07:20
MORNING_START = dt.time(7, 20)
MORNING_END = dt.time(8, 10)
PUPILS = 200
LATE = 6  # pupils who arrive after the calendar's late_after (07:55)
ABSENT = 4  # pupils who do not come at all (the absence job tells their guardians at 09:00)
CLASSES = [f"{grade}-{n}" for grade in (7, 8, 9) for n in (1, 2, 3, 4)]
SURNAMES = ("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁"
            "谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程")
GIVEN = "子梓浩宇欣怡轩涵思雨晨阳博文佳琪俊杰诗嘉一诺睿泽雅婷明远天佑若曦昊然可馨"


@dataclass(frozen=True)
class Pupil:
    id: str
    name: str
    class_name: str
    card: str  # as written in the roster: hex, or the 10-digit decimal printed on the fob
    card_hex: str  # what the EM4100 reader sends (10 hex digits)
    guardian_phone: str


@dataclass(frozen=True)
class Staff:
    id: str
    name: str
    card_hex: str
    plate: str


# The shipped roster's people (gate/demo_data/roster.csv) the script uses by name.
OBAMA = ("S001", "6200000001")
BIDEN = ("S002", "6200000002")
LI_HUA = ("S006", "6200000006")
STAFF = [Staff("T001", "Alex Lacamoire", "6200000003", "京A12345"),
         Staff("T002", "王建国", "6200000007", "京B7K261"),
         Staff("T003", "陈静", "6200000008", "京N3C880")]
UNKNOWN_CARD = "DEADBEEF01"
VISITOR_CARD = "7100000001"  # the desk's temporary card for the approved visitor
# The visitor the police list names (a checksum-valid resident ID of the mock list).
LISTED_VISITOR = ("赵某", "11010519491231002X")
WELCOME_VISITOR = ("周丽", "110101198003070025")


StepKind = Literal["tap", "face_tap", "car", "loiterer", "visitor", "flagged_visitor",
                   "fire", "fire_clear", "rollcall", "fire_reset", "bad_frame"]


@dataclass(frozen=True)
class Step:
    at: dt.time
    kind: StepKind
    reader: str = ""
    card: str = ""  # hex as the reader sends it
    note: str = ""
    extra: dict[str, str] = field(default_factory=dict)


def pupils(n: int = PUPILS, seed: int = 28) -> list[Pupil]:
    """Generated pupils with Chinese names; half the cards written as hex, half as the
    10-digit decimal printed on the fob (the roster accepts both, README "Roster CSV")."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        value = 0x6A000000 + i * 37 + 11
        card_hex = f"6A{value:08X}"
        card = card_hex if i % 2 == 0 else f"{value:010d}"
        name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))
        out.append(Pupil(f"P{i + 1:03d}", name, CLASSES[i % len(CLASSES)], card, card_hex,
                         f"+86 139 {rng.randrange(10**4):04d} {rng.randrange(10**4):04d}"))
    return out


def write_roster(path: Path, people: list[Pupil], staff: list[Staff]) -> Path:
    """The generated part of the demo roster, as a school would send it (card only)."""
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["person_id", "name", "role", "class", "card_uid", "photo", "face_consent",
                    "guardian_id", "guardian_name", "guardian_phone"])
        for p in people:
            w.writerow([p.id, p.name, "student", p.class_name, p.card, "", "no", f"G{p.id}",
                        f"{p.name[0]}家长", p.guardian_phone])
        for s in staff[1:]:  # T001 is in the shipped roster, with a photo
            w.writerow([s.id, s.name, "staff", "", s.card_hex, "", "no", "", "", ""])
    return path


def _at(minutes: float) -> dt.time:
    base = dt.datetime.combine(dt.date(2000, 1, 3), MORNING_START)
    return (base + dt.timedelta(minutes=minutes)).time()


def morning(people: list[Pupil], seed: int = 28) -> list[Step]:
    """07:20 to 08:10: the arrivals, and one of each thing a guard must see."""
    rng = random.Random(seed)
    present = people[:len(people) - ABSENT]
    late, on_time = present[:LATE], present[LATE:]
    steps: list[Step] = []
    readers = ("L2-in", "L3-in")
    for i, p in enumerate(on_time):  # the rush: most between 07:35 and 07:52
        minute = min(34.5, max(0.5, rng.gauss(24, 6)))
        steps.append(Step(_at(minute), "tap", readers[i % 2], p.card_hex))
    for k, p in enumerate(late):
        steps.append(Step(_at(36.5 + k * 0.7), "tap", readers[k % 2], p.card_hex,
                          f"{p.name} is late"))
    steps += [
        Step(_at(1.0), "tap", "L2-in", LI_HUA[1], "李华 (no face consent) taps at lane 2"),
        Step(_at(2.0), "face_tap", "L1-in", OBAMA[1],
             "Obama walks up to lane 1 and taps his card: card and face agree"),
        Step(_at(3.0), "car", extra={"car": "0"}, note=f"{STAFF[0].name}'s car at the barrier"),
        Step(_at(9.0), "car", extra={"car": "1"}, note=f"{STAFF[1].name}'s car at the barrier"),
        Step(_at(8.0), "loiterer", note="the walkway camera: people pass, two stay"),
        Step(_at(10.0), "bad_frame", "L3-in", people[-1].card_hex,
             "noise on the line: a corrupted frame is rejected"),
        Step(_at(12.0), "tap", "L2-in", STAFF[0].card_hex, f"{STAFF[0].name} walks in"),
        Step(_at(15.0), "car", extra={"car": "2"}, note=f"{STAFF[2].name}'s car at the barrier"),
        Step(_at(17.0), "visitor", note=f"visitor {WELCOME_VISITOR[0]} registers at the desk;"
                                        f" the host {STAFF[0].name} approves"),
        Step(_at(20.0), "tap", "L2-in", VISITOR_CARD, "the visitor passes lane 2 on her pass"),
        Step(_at(22.0), "flagged_visitor", note=f"visitor {LISTED_VISITOR[0]} registers: the"
                                                " police list names him"),
        Step(_at(25.0), "face_tap", "L1-in", BIDEN[1],
             "Biden's card, but the camera sees Obama: a lent card"),
        Step(_at(30.0), "tap", "L3-in", UNKNOWN_CARD, "a card nobody registered"),
        Step(_at(42.0), "fire", note="fire drill: the fire input closes"),
        Step(_at(44.0), "rollcall", note="roll call at the assembly point"),
        Step(_at(46.0), "fire_clear", note="the drill ends: the fire input opens again"),
        Step(_at(47.0), "fire_reset", note="the guard resets the release (note: 复位)"),
    ]
    return sorted(steps, key=lambda s: s.at)
