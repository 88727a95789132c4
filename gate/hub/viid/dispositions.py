"""Controls (布控) from the upper platform -> the district's watch list, and back.

A disposition names its target in ``TargetFeature`` as ``k=v`` terms (``(1=京A12345)``,
``PlateNo=京A12345``, ``IDNumber=...``; ``and``/``or``/``,`` between terms) and may carry the
person's photo in ``SubImageList``. What the target *is* is read from what it carries (a plate
makes a vehicle control; an ID number or a photo a person control), because platforms differ
in the ``DispositionCategory`` codes they use. Every active disposition is one entry of one
watch list (``[viid] watchlist``, "viid" by default): plates by plate, persons with the
DispositionID as their entry id, so a gate's hit names the disposition it is on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from gate.hub.viid.outbox import normalise_plate

_TERM = re.compile(r"([A-Za-z0-9_]+)\s*=\s*([^()\s,;]+)")
PLATE_KEYS = frozenset({"1", "PlateNo", "plateno"})
ID_KEYS = frozenset({"IDNumber", "idnumber"})


@dataclass(frozen=True)
class Target:
    disposition_id: str
    title: str
    reason: str
    plate: str | None
    id_number: str | None
    photos: list[str]           # base64 JPEG


class DispositionError(ValueError):
    """A disposition the gateway cannot turn into a watch-list entry."""


def target(obj: dict[str, Any]) -> Target:
    features = str(obj.get("TargetFeature") or "")
    plate = id_number = None
    for key, value in _TERM.findall(features):
        if key in PLATE_KEYS:
            plate = normalise_plate(value)
        elif key in ID_KEYS:
            id_number = value.upper()
    subs = (obj.get("SubImageList") or {}).get("SubImageInfoObject") or []
    photos = [str(s["Data"]) for s in subs if isinstance(s, dict) and s.get("Data")]
    if plate is None and id_number is None and not photos:
        raise DispositionError("TargetFeature names no plate or ID number and there is no photo")
    if plate is not None and not 2 <= len(plate) <= 16:
        raise DispositionError(f"plate {plate!r} is not 2 to 16 characters")
    return Target(str(obj["DispositionID"]), str(obj.get("Title") or "")[:100],
                  str(obj.get("Reason") or "")[:400], plate, id_number, photos)


def watchlist_payload(name: str, version: str, targets: list[Target]) -> dict[str, Any]:
    """The campus-gate/watchlist/1 list of every active disposition."""
    persons = [{"id": t.disposition_id, "name": t.title or "布控", "id_number": t.id_number or "",
                "reason": f"{t.disposition_id} {t.reason}".strip()[:500], "photos": t.photos}
               for t in targets if t.plate is None]
    plates = [{"text": t.plate, "reason": f"{t.disposition_id} {t.reason}".strip()[:500]}
              for t in targets if t.plate is not None]
    return {"schema": "campus-gate/watchlist/1", "list": name, "version": version,
            "persons": persons, "plates": plates}


def save(conn: psycopg.Connection[Any], obj: dict[str, Any], active: bool) -> None:
    t = target(obj) if active else None
    conn.execute(
        "INSERT INTO viid_dispositions (disposition_id, category, title, plate, id_number,"
        " active, body) VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (disposition_id) DO"
        " UPDATE SET active = excluded.active, body = CASE WHEN excluded.active THEN"
        " excluded.body ELSE viid_dispositions.body END, plate = coalesce(excluded.plate,"
        " viid_dispositions.plate), id_number = coalesce(excluded.id_number,"
        " viid_dispositions.id_number), updated_at = clock_timestamp()",
        (str(obj["DispositionID"]), str(obj.get("DispositionCategory") or ""),
         str(obj.get("Title") or ""), t.plate if t else None, t.id_number if t else None,
         active, Jsonb(obj)))


def active_targets(conn: psycopg.Connection[Any]) -> list[Target]:
    return [target(r[0]) for r in conn.execute(
        "SELECT body FROM viid_dispositions WHERE active ORDER BY disposition_id")]
