"""Attendance for a day, as JSON for the page and as CSV for the office."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse

from gate.attendance import attendance
from gate.console.deps import Ctx, User
from gate.console.errors import Invalid
from gate.store import Store

router = APIRouter(prefix="/api", tags=["attendance"])
Day = Annotated[str | None, Query(max_length=10)]


def day_of(store: Store, date: str | None) -> dt.date:
    """The day asked for (YYYY-MM-DD), today in the gate's time zone if none."""
    try:
        return dt.date.fromisoformat(date) if date else store.now().date()
    except ValueError:
        raise Invalid("date must be YYYY-MM-DD") from None


@router.get("/attendance")
def attendance_json(_u: User, ctx: Ctx, date: Day = None) -> dict[str, Any]:
    day = day_of(ctx.store, date)
    rows = [r.as_dict() for r in attendance(ctx.store, ctx.config.calendar, day)]
    return {"date": day.isoformat(), "rows": rows,
            "late": [r["person_id"] for r in rows if r["late"]],
            "absent": [r["person_id"] for r in rows if r["absent"]]}


@router.get("/attendance.csv", response_class=PlainTextResponse)
def attendance_csv(_u: User, ctx: Ctx, date: Day = None) -> PlainTextResponse:
    day = day_of(ctx.store, date)
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["person_id", "name", "class", "first_arrival", "last_departure",
                     "on_campus", "late", "absent"])
    for r in attendance(ctx.store, ctx.config.calendar, day):
        writer.writerow([r.person_id, r.name, r.class_name, r.first_arrival or "",
                         r.last_departure or "", r.on_campus, r.late, r.absent])
    return PlainTextResponse(buf.getvalue(), media_type="text/csv", headers={
        "Content-Disposition": f'attachment; filename="attendance-{day}.csv"'})
