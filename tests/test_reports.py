"""Reports that open in Excel: BOM, no formula injection, the same columns everywhere."""

from __future__ import annotations

import csv
import datetime as dt
import io

from rich.cells import cell_len

from gate.attendance import attendance
from gate.config import CalendarConfig
from gate.records import Person
from gate.reports import ATTENDANCE_COLUMNS, BOM, csv_text, pad, safe_cell
from gate.store import Store


def test_csv_has_a_bom_and_neutralises_formulas() -> None:
    text = csv_text(["name", "note"], [["=HYPERLINK(\"http://x\",\"y\")", "+1"],
                                       ["张三", "-2"], ["@SUM(A1)", "ok"]])
    assert text.startswith(BOM)
    rows = list(csv.reader(io.StringIO(text.removeprefix(BOM))))
    assert rows[0] == ["name", "note"]
    assert rows[1] == ["'=HYPERLINK(\"http://x\",\"y\")", "'+1"]
    assert rows[2] == ["张三", "'-2"] and rows[3] == ["'@SUM(A1)", "ok"]
    assert safe_cell(None) == "" and safe_cell(3) == "3"


def test_cjk_names_line_up() -> None:
    assert cell_len(pad("王小明", 10)) == 10 and cell_len(pad("Li Lei", 10)) == 10
    assert cell_len(pad("一二三四五六七八九十", 6)) == 6


def test_attendance_columns_are_the_consoles() -> None:
    assert ATTENDANCE_COLUMNS[:3] == ("person_id", "name", "class")


def test_no_absence_before_a_pupil_was_on_the_roster(store: Store) -> None:
    store.upsert_person(Person("S1", "Li Lei"))
    today = store.now().date()
    cal = CalendarConfig(school_days=[1, 2, 3, 4, 5, 6, 7], lessons=[])
    before = attendance(store, cal, today - dt.timedelta(days=3), store.now())
    assert before == []
    [row] = attendance(store, cal, today, store.now().replace(hour=23, minute=59))
    assert row.person_id == "S1"
