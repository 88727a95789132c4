"""Devices and the service's health model, and the guard's reset after a fire alarm."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from gate.console.deps import Ctx, User
from gate.console.errors import Conflict, NotFound
from gate.console.schemas import FireResetBody

router = APIRouter(prefix="/api", tags=["devices"])


@router.get("/devices")
def devices(_u: User, ctx: Ctx) -> dict[str, Any]:
    return ctx.service.device_health()


@router.get("/health")
def health(_u: User, ctx: Ctx) -> dict[str, Any]:
    """The supervisor's health model (the same one ``gate status`` reads)."""
    snapshot = getattr(ctx.service, "health_snapshot", None)
    result: dict[str, Any] = snapshot() if snapshot is not None else ctx.service.device_health()
    return result


@router.post("/fire/reset")
def fire_reset(body: FireResetBody, current: User, ctx: Ctx) -> dict[str, str]:
    """After a fire alarm the lanes stay released until the input clears and a guard resets
    them with a note; the engine audits the reset."""
    reset = getattr(ctx.engine, "reset_fire", None)
    if reset is None:
        raise NotFound("this gate has no fire reset")
    try:
        reset(current.username, body.note.strip())
    except ValueError as exc:  # the fire input is still active
        raise Conflict(str(exc)) from None
    return {"status": "reset"}
