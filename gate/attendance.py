"""Attendance from the journal: who is on campus, who was late, who has not arrived."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Any

from gate.config import CalendarConfig, Config
from gate.journal import Entry, Journal
from gate.records import Event
from gate.store import Store
from gate.vocab import EventType, Method, Verdict


@dataclass(frozen=True)
class AttendanceRow:
    person_id: str
    name: str
    class_name: str
    first_arrival: str | None
    last_departure: str | None
    on_campus: bool
    late: bool
    absent: bool

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def attendance(store: Store, calendar: CalendarConfig, day: dt.date,
               now: dt.datetime | None = None) -> list[AttendanceRow]:
    # the site's day and clock: `now` and the stored timestamps may carry any offset
    now = (now or store.now()).astimezone(store.tz)
    passages: dict[str, list[tuple[str, str]]] = {}
    for p in store.passages(day):
        if p.person_id and p.type in ("arrival", "departure"):
            passages.setdefault(p.person_id, []).append((p.ts, p.type))
    cutoff_passed = day < now.date() or (day == now.date() and now.time() >= calendar.absent_cutoff)
    school = calendar.is_school_day(day)
    rows = []
    for person in store.students(existing_on=day):
        mine = passages.get(person.id, [])
        arrivals = [ts for ts, kind in mine if kind == "arrival"]
        departures = [ts for ts, kind in mine if kind == "departure"]
        first = arrivals[0] if arrivals else None
        late = (first is not None and dt.datetime.fromisoformat(first).astimezone(store.tz)
                .time() > calendar.late_after)
        rows.append(AttendanceRow(
            person.id, person.name, person.class_name, first,
            departures[-1] if departures else None,
            on_campus=bool(mine) and mine[-1][1] == "arrival",
            late=late and school, absent=school and cutoff_passed and first is None))
    return rows


def notify_absences(journal: Journal, config: Config, now: dt.datetime) -> int:
    """Once a school day, after the cut-off: tell the guardians of students not arrived.

    Restart-safe: a student already marked absent today is not marked again.
    """
    store = journal.store
    calendar = config.calendar
    if not calendar.is_school_day(now.date()) or now.time() < calendar.absent_cutoff:
        return 0
    done = {p.person_id for p in store.passages(now.date()) if p.type == "absent"}
    count = 0
    for row in attendance(store, calendar, now.date(), now):
        if not row.absent or row.person_id in done:
            continue
        person = store.get_person(row.person_id)
        assert person is not None
        event = Event(type=EventType.ABSENT, ts=now, person_id=person.id,
                      decision=Verdict.NONE, reason="not_arrived_by_cutoff", method=Method.SYSTEM)
        journal.record(Entry(event=event, person=person,
                             guardians=tuple(g.id for g in store.guardians_of(person.id))))
        count += 1
    return count
