"""Attendance for a day, as JSON for the page and as CSV for the office."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse

from gate.attendance import attendance
from gate.console.deps import Ctx, User
from gate.console.errors import Invalid
from gate.reports import ATTENDANCE_COLUMNS, attendance_rows, csv_text
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
    """The same file as ``gate report attendance --csv`` (gate/reports.py): BOM, escaped
    formulas, the same headers."""
    day = day_of(ctx.store, date)
    text = csv_text(ATTENDANCE_COLUMNS,
                    attendance_rows(attendance(ctx.store, ctx.config.calendar, day)))
    return PlainTextResponse(text, media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="attendance-{day}.csv"'})
