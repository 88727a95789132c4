"""Alerts: the list (open or all), the grouped queue of the live page, and the guard's
acknowledgement with a note: one alert, one group of repeats, or every low-severity one."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from gate.console.deps import Ctx, User
from gate.console.errors import Invalid, NotFound
from gate.console.pictures import data_url
from gate.console.schemas import AckBody, AckManyBody, BulkAckBody
from gate.console_queries import list_alerts
from gate.console_views import acknowledge_low, acknowledge_many, alert_groups, recent_handled
from gate.evidence_views import open_watch_hit

router = APIRouter(prefix="/api", tags=["alerts"])


@router.get("/alerts")
def alerts(_u: User, ctx: Ctx, open_only: Annotated[bool, Query(alias="open")] = False,
           limit: Annotated[int, Query(ge=1, le=500)] = 100) -> list[dict[str, Any]]:
    return list_alerts(ctx.store, open_only, limit)


@router.get("/alerts/queue")
def queue(_u: User, ctx: Ctx) -> dict[str, Any]:
    """Open alerts grouped by cause, most severe first; recently handled ones with the
    police's acknowledgement beside the guard's."""
    return {"groups": alert_groups(ctx.store), "handled": recent_handled(ctx.store)}


@router.get("/alerts/{alert_id}/watch-photo")
def watch_photo(alert_id: str, current: User, ctx: Ctx) -> dict[str, Any]:
    """A watch-list face hit, opened to compare the listed photo with the captured face:
    one deliberate act, one audit row (README "Privacy and evidence")."""
    found = open_watch_hit(ctx.service.journal, ctx.service.snapshots, alert_id,
                           current.username)
    if found is None:
        raise NotFound("no watch-list face hit with that id")
    return {**found, "listed": [data_url(p) for p in found["listed"]],
            "captured": data_url(found["captured"]) if found["captured"] else None}


@router.post("/alerts/{alert_id}/ack")
def ack(alert_id: str, body: AckBody, current: User, ctx: Ctx) -> dict[str, str]:
    if not body.note.strip():
        raise Invalid("note: an acknowledgement needs a note", code="note_required")
    if not acknowledge_many(ctx.store, [alert_id], current.username, body.note.strip()):
        raise NotFound("no open alert with that id")
    return {"status": "acknowledged"}


@router.post("/alerts/ack")
def ack_many(body: AckManyBody, current: User, ctx: Ctx) -> dict[str, Any]:
    """A group of repeats of one cause, with one note."""
    note = body.note.strip()
    if not note:
        raise Invalid("note: an acknowledgement needs a note", code="note_required")
    done = acknowledge_many(ctx.store, body.ids, current.username, note)
    if not done:
        raise NotFound("no open alert with those ids")
    return {"status": "acknowledged", "count": done}


@router.post("/alerts/bulk-ack")
def bulk_ack(body: BulkAckBody, current: User, ctx: Ctx) -> dict[str, Any]:
    """Every open info (or info and warning) alert at once; critical ones never."""
    note = body.note.strip()
    if not note:
        raise Invalid("note: an acknowledgement needs a note", code="note_required")
    return {"status": "acknowledged",
            "count": acknowledge_low(ctx.store, body.max_severity, current.username, note)}
