"""The roll call: who is on campus now (pupils by class, staff, visitors), for an
evacuation. The page opens by itself when the fire alarm goes off."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from gate.console.deps import Ctx, User
from gate.console_views import rollcall

router = APIRouter(prefix="/api", tags=["rollcall"])


@router.get("/rollcall")
def rollcall_now(current: User, ctx: Ctx) -> dict[str, Any]:
    ctx.store.audit(current.username, "rollcall_viewed")  # a list of names: an audited view
    return rollcall(ctx.store)
