"""What must reach a guard whatever the state of their session.

``/api/alarm`` needs no session: the login form polls it too, so a fire alarm or an open
critical alert shows over the login form. It carries no personal data: the fire input and
release, and a count of open critical alerts. ``session`` says only whether the caller's own
cookie is still good (so the page asks for ``/api/me`` only when it will get an answer).

``/api/heartbeat`` is sent by a live page that is open and visible: it restarts the idle
timer, never past the absolute time-out.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from gate.console.auth import COOKIE, AuthError
from gate.console.deps import Ctx, User
from gate.console_views import open_critical

router = APIRouter(prefix="/api", tags=["alarm"])


@router.get("/alarm")
def alarm(request: Request, ctx: Ctx) -> dict[str, Any]:
    try:
        ctx.auth.session(request.cookies.get(COOKIE), touch=False)
        logged_in = True
    except AuthError:
        logged_in = False
    return {"fire": ctx.engine.fire_state(),
            "critical_open": open_critical(ctx.store), "session": logged_in,
            "ts": ctx.store.now().isoformat(timespec="seconds")}


@router.post("/heartbeat")
def heartbeat(_u: User, request: Request, ctx: Ctx) -> dict[str, Any]:
    left = ctx.auth.renew(request.cookies.get(COOKIE))
    return {"status": "alive", "absolute_left_s": int(left)}
