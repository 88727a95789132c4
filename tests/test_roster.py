from __future__ import annotations

import json
import random
from pathlib import Path

from gate.records import Guardian, Person
from gate.roster import import_roster
from gate.store import Store
from tests.conftest import TZ, run_gate

HEADER = ("person_id,name,role,class,card_uid,photo,face_consent,guardian_id,guardian_name,"
          "guardian_phone")

BAD_ROWS = [
    (",No Id,student,,,,,,,", "person_id is empty"),
    ("X{n},,student,,,,,,,", "name is empty"),
    ("X{n},Bad Role,pupil,,,,,,,", "role must be student or staff"),
    ("X{n},Bad Card,student,,ZZZZ,,,,,", "card_uid"),
    ("X{n},Bad Consent,student,,,,maybe,,,", "face_consent must be yes or no"),
    ("X{n},Bad Phone,student,,,,,G{n},Mum,call me", "not a phone number"),
    ("X{n},Missing Photo,student,,,nowhere/{n}.jpg,yes,,,", "not found"),
    ("X{n},Orphan Guardian,student,,,,,,Mum,13800000000", "without guardian_id"),
    ("X{n},Card Thief,student,,6200000001,,,,,", "already belongs to S0001"),
    ("bad id {n},Spaces,student,,,,,,,", "may only use"),
]


def _roster(path: Path, good: int = 1950, bad: int = 50) -> dict[int, str]:
    """Write a roster with `good` valid rows and `bad` invalid ones; return line -> reason."""
    rng = random.Random(7)
    lines = [HEADER]
    expected: dict[int, str] = {}
    bad_at = set(rng.sample(range(5, good + bad), bad))  # S0001 comes first
    g = 0
    for i in range(good + bad):
        if i in bad_at:
            template, reason = BAD_ROWS[len(expected) % len(BAD_ROWS)]
            lines.append(template.format(n=i))
            expected[len(lines)] = reason
        else:
            g += 1
            lines.append(f"S{g:04d},学生{g},student,{g % 12 + 1}-1,{0x6200000000 + g:010X},,,"
                         f"G{g:04d},家长{g},+86 138 {g:04d} 0000")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return expected


def test_2000_row_roster_with_50_bad_rows(tmp_path: Path, store: Store) -> None:
    roster = tmp_path / "roster.csv"
    expected = _roster(roster)
    summary = import_roster(store, roster)
    assert summary.people["added"] == 1950
    assert {r.line: r.reason for r in summary.rejected}.keys() == expected.keys()
    for r in summary.rejected:
        assert expected[r.line] in r.reason, (r.line, r.reason)
    assert store.count("people") == 1950
    assert store.count("cards") == 1950
    assert store.get_person("S0007") == Person("S0007", "学生7", class_name="8-1")
    assert store.guardians_of("S0007") == [Guardian("G0007", "家长7", "+86 138 0007 0000")]

    again = import_roster(store, roster)
    assert again.changed == 0
    assert again.people["unchanged"] == 1950
    assert len(again.rejected) == 50


def test_several_rows_add_to_one_person(tmp_path: Path, store: Store) -> None:
    roster = tmp_path / "r.csv"
    roster.write_text(HEADER + "\n"
                      "S1,Li Hua,student,7-1,0008844356,,no,G1,Mum,13800000001\n"
                      "S1,Li Hua,student,7-1,116,23152,no,G2,Dad,13800000002\n", encoding="utf-8")
    summary = import_roster(store, roster)
    # the unquoted comma made the second row one field too long: rejected, not misread
    assert [r.line for r in summary.rejected] == [3]
    roster.write_text(HEADER + "\n"
                      "S1,Li Hua,student,7-1,0008844356,,no,G1,Mum,13800000001\n"
                      'S1,Li Hua,student,7-1,"116,23152",,no,G2,Dad,13800000002\n',
                      encoding="utf-8")
    summary = import_roster(store, roster)
    assert summary.rejected == []
    assert [g.id for g in store.guardians_of("S1")] == ["G1", "G2"]
    assert store.person_for_card(["dec10:0008844356"]) is not None
    assert store.person_for_card(["w26:116,23152"]) is not None


def test_people_import_cli(tmp_path: Path) -> None:
    roster = tmp_path / "roster.csv"
    _roster(roster, good=95, bad=5)
    env = {"GATE_DATA_DIR": str(tmp_path / "data")}
    first = run_gate("people", "import", str(roster), "--json", env=env)
    assert first.returncode == 0, first.stderr
    result = json.loads(first.stdout)
    assert result["people"] == {"added": 95}
    assert len(result["rejected"]) == 5
    second = json.loads(run_gate("people", "import", str(roster), "--json", env=env).stdout)
    assert second["people"] == {"unchanged": 95}

    text = run_gate("people", "import", str(roster), env=env)
    assert "rejected: 5 row(s)" in text.stdout
    assert text.stderr.count("rejected:") == 5

    missing_column = tmp_path / "bad.csv"
    missing_column.write_text("id,name\n1,x\n")
    bad = run_gate("people", "import", str(missing_column), env=env)
    assert bad.returncode == 2
    assert "person_id" in bad.stderr
    store = Store(tmp_path / "data", TZ)
    try:
        assert store.count("people") == 95
    finally:
        store.close()
