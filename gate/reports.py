"""Daily reports as a school office opens them: in Excel on a Chinese Windows desktop.

One set of columns for the CLI and the console; CSV with a UTF-8 BOM (without it Excel
reads UTF-8 as GBK and shows mojibake); no formula injection (a cell starting with
``= + - @`` or a control character is prefixed with ``'``, as OWASP recommends, so
``=HYPERLINK(...)`` typed as a visitor's name stays text); text tables padded by
display width, so Chinese names line up.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

from rich.cells import cell_len, set_cell_size

from gate.attendance import AttendanceRow

ATTENDANCE_COLUMNS = ("person_id", "name", "class", "first_arrival", "last_departure",
                      "on_campus", "late", "absent")
VISITOR_COLUMNS = ("id", "name", "id_type", "id_number", "purpose", "host_id", "status",
                   "screening", "valid_from", "valid_until", "checked_out_at", "route")

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
BOM = "\ufeff"


def safe_cell(value: Any) -> str:
    """A cell's text, neutralised if a spreadsheet would run it as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def csv_text(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    buf = io.StringIO()
    buf.write(BOM)
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([safe_cell(v) for v in row])
    return buf.getvalue()


def attendance_rows(rows: Iterable[AttendanceRow]) -> list[list[Any]]:
    return [[r.person_id, r.name, r.class_name, r.first_arrival or "", r.last_departure or "",
             r.on_campus, r.late, r.absent] for r in rows]


def visitor_rows(visits: Iterable[dict[str, Any]]) -> list[list[Any]]:
    return [[*(v[k] or "" for k in VISITOR_COLUMNS[:-1]),
             " > ".join(r["place"] for r in v["route"])] for v in visits]


def pad(text: str, width: int) -> str:
    """``text`` cut or padded to ``width`` terminal cells (a CJK character is two)."""
    return set_cell_size(text, width) if cell_len(text) != width else text
