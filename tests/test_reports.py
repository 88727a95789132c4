"""Reports that open in Excel: BOM, no formula injection, the same columns everywhere."""

from __future__ import annotations

import csv
import datetime as dt
import io

from rich.cells import cell_len

from gate.attendance import attendance
from gate.config import CalendarConfig
from gate.records import Event, Person
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


def _on_roster_since(store: Store, day: dt.date) -> None:
    store.upsert_person(Person("S1", "Li Lei"))
    store.query("UPDATE people SET created_at = ?", (f"{day.isoformat()}T00:00:00.000+08:00",))


def test_attendance_days_run_from_local_midnight_whatever_the_offset_written(
        store: Store) -> None:
    # A fixed Monday, so the answer is the same at any hour of the machine's clock.
    day, before = dt.date(2026, 3, 2), dt.date(2026, 3, 1)
    _on_roster_since(store, before)

    def at(d: dt.date, hh: int, mm: int) -> dt.datetime:
        return dt.datetime.combine(d, dt.time(hh, mm), store.tz)

    utc = dt.UTC
    # 23:59 the day before, written with a UTC offset (15:59Z); 00:00 local; 00:01 as 16:01Z
    store.record_event(Event("arrival", at(before, 23, 59).astimezone(utc), lane="L1",
                             person_id="S1"))
    store.record_event(Event("arrival", at(day, 0, 0), lane="L1", person_id="S1"))
    store.record_event(Event("departure", at(day, 0, 1).astimezone(utc), lane="L1",
                             person_id="S1"))
    cal = CalendarConfig(school_days=[1, 2, 3, 4, 5, 6, 7], lessons=[])
    assert [p.ts[11:16] for p in store.passages(before)] == ["15:59"]
    assert [p.ts[11:16] for p in store.passages(day)] == ["00:00", "16:01"]
    [row] = attendance(store, cal, before, at(before, 23, 59))
    assert row.first_arrival is not None and row.on_campus and not row.absent
    [row] = attendance(store, cal, day, at(day, 0, 1).astimezone(utc))
    assert row.first_arrival == at(day, 0, 0).isoformat(timespec="milliseconds")
    assert not row.on_campus and not row.late   # left at 00:01, arrived before 07:55


def test_late_is_judged_on_the_site_clock_not_on_the_offset_written(store: Store) -> None:
    day = dt.date(2026, 3, 2)
    _on_roster_since(store, day)
    # 08:30 in Asia/Shanghai, written as 00:30Z: late (after 07:55), though "00:30" is not
    moment = dt.datetime.combine(day, dt.time(8, 30), store.tz).astimezone(dt.UTC)
    store.record_event(Event("arrival", moment, lane="L1", person_id="S1"))
    cal = CalendarConfig(school_days=[1, 2, 3, 4, 5], lessons=[])
    [row] = attendance(store, cal, day, moment)
    assert row.late and not row.absent
    # the absence cutoff (09:00) is the site's too: at 08:59 local nobody is absent yet
    store.query("DELETE FROM events")
    early = dt.datetime.combine(day, dt.time(8, 59), store.tz)
    assert not attendance(store, cal, day, early.astimezone(dt.UTC))[0].absent
    assert attendance(store, cal, day, early + dt.timedelta(minutes=1))[0].absent
