"""Alerts: the list (open or all) and the guard's acknowledgement with a note."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from gate.console.deps import Ctx, User
from gate.console.errors import NotFound
from gate.console.schemas import AckBody
from gate.console_queries import acknowledge_alert, list_alerts

router = APIRouter(prefix="/api", tags=["alerts"])


@router.get("/alerts")
def alerts(_u: User, ctx: Ctx, open_only: Annotated[bool, Query(alias="open")] = False,
           limit: Annotated[int, Query(ge=1, le=500)] = 100) -> list[dict[str, Any]]:
    return list_alerts(ctx.store, open_only, limit)


@router.post("/alerts/{alert_id}/ack")
def ack(alert_id: str, body: AckBody, current: User, ctx: Ctx) -> dict[str, str]:
    if not acknowledge_alert(ctx.store, alert_id, current.username, body.note.strip()):
        raise NotFound("no open alert with that id")
    return {"status": "acknowledged"}
