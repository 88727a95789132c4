"""Devices and the service's health model, and the guard's reset after a fire alarm."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from gate.console.deps import Ctx, User
from gate.console.errors import Conflict
from gate.console.hub import decision_json
from gate.console.schemas import FireResetBody
from gate.engine import FireResetRefused

router = APIRouter(prefix="/api", tags=["devices"])


@router.get("/devices")
def devices(_u: User, ctx: Ctx) -> dict[str, Any]:
    return ctx.service.device_health()


@router.get("/health")
def health(_u: User, ctx: Ctx) -> dict[str, Any]:
    """The supervisor's health model (the same one ``gate status`` reads)."""
    return ctx.service.health_snapshot()


@router.post("/fire/reset")
def fire_reset(body: FireResetBody, current: User, ctx: Ctx) -> dict[str, Any]:
    """After a fire alarm the lanes stay released until the input clears and a guard resets
    them with a note; the engine journals and audits the reset."""
    try:
        d = ctx.engine.reset_fire(current.username, body.note.strip())
    except FireResetRefused as exc:  # the input is active or faulty, or nothing to reset
        raise Conflict(str(exc), code=exc.code) from None
    return {"status": "reset", "event": decision_json(d)}
