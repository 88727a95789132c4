"""Which gate messages go up, and as what: pure, a message in, captures out.

- A face alert (a watch-list face, a card whose face is someone else's, a face refused as a
  spoof) becomes a ``Face`` with the crop the gate sent inline (``snapshot_jpeg``).
- A ``watchlist_plate`` alert (exact or possible) becomes a ``MotorVehicle`` with its crop.
  Gates' vehicle events carry no plate text today; one that does (a ``plate`` field) becomes
  a ``MotorVehicle`` too, except the refusal whose alert already went up.
- An ordinary passage with a face (method ``card+face`` or ``face``) becomes a ``Face`` only
  for adults; a pupil's (role ``student``) only when ``[viid] pupils = "all"``.
- A hit on the list made from the upper platform's dispositions also becomes a
  ``DispositionNotification`` naming the disposition.

Everything else (health, fire, visitors' desk, attendance) stays at the district.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Literal

from gate.hub.viid.objects import IMAGE_FACE, IMAGE_PLATE_SMALL, Jpeg

FACE_ALERTS = frozenset({"watchlist_face", "card_face_mismatch", "spoof_attempt"})
VEHICLE_EVENTS = frozenset({"vehicle_in", "vehicle_out", "vehicle_denied"})
FACE_METHODS = frozenset({"card+face", "face"})


@dataclass(frozen=True)
class Hit:
    """A hit on the dispositions' list: by entry id (a person) or by plate."""

    entry_id: str | None = None
    plate: str | None = None


@dataclass(frozen=True)
class Capture:
    kind: Literal["face", "vehicle"]
    site: str
    gate: str
    source_id: str          # the gate message's id
    shot: dt.datetime
    plate: str | None = None
    images: list[Jpeg] = field(default_factory=list)
    hit: Hit | None = None


def _jpeg(payload: dict[str, Any], type_code: str) -> list[Jpeg]:
    data = payload.get("snapshot_jpeg")
    if not isinstance(data, str):
        return []
    try:
        return [Jpeg(base64.b64decode(data, validate=True), type_code)]
    except (binascii.Error, ValueError):
        return []


def captures(kind: str, site: str, gate: str, payload: dict[str, Any], *, pupils: str,
             watchlist: str) -> list[Capture]:
    """What goes up for one gate message (``kind``: event or alert); usually zero or one."""
    msg_id, ts, mtype = payload.get("id"), payload.get("ts"), payload.get("type")
    if not isinstance(msg_id, str) or not isinstance(ts, str) or not isinstance(mtype, str):
        return []
    try:
        shot = dt.datetime.fromisoformat(ts)
    except ValueError:
        return []
    if shot.tzinfo is None:
        return []
    on_our_list = payload.get("list") == watchlist
    if kind == "alert" and mtype in FACE_ALERTS:
        hit = None
        if mtype == "watchlist_face" and on_our_list and isinstance(payload.get("entry_id"), str):
            hit = Hit(entry_id=payload["entry_id"])
        return [Capture("face", site, gate, msg_id, shot, images=_jpeg(payload, IMAGE_FACE),
                        hit=hit)]
    if kind == "alert" and mtype == "watchlist_plate":
        plate = payload.get("plate")
        if not isinstance(plate, str):
            return []
        exact = payload.get("match") == "exact"
        return [Capture("vehicle", site, gate, msg_id, shot, plate=plate,
                        images=_jpeg(payload, IMAGE_PLATE_SMALL),
                        hit=Hit(plate=plate) if on_our_list and exact else None)]
    if kind != "event":
        return []
    if mtype in VEHICLE_EVENTS:
        plate = payload.get("plate")
        if not isinstance(plate, str) or payload.get("reason") == "watchlist_plate":
            return []                        # the alert of the same pass goes up instead
        return [Capture("vehicle", site, gate, msg_id, shot, plate=plate)]
    if payload.get("method") in FACE_METHODS:
        person = payload.get("person")
        role = person.get("role") if isinstance(person, dict) else None
        if role == "student" and pupils != "all":
            return []
        return [Capture("face", site, gate, msg_id, shot)]
    return []
