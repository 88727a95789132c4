"""Login, logout and who-am-I: the only ``/api`` route without a session is the login."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from gate.console.auth import COOKIE
from gate.console.deps import Ctx, User
from gate.console.errors import Unsupported
from gate.console.schemas import LoginBody

router = APIRouter(prefix="/api", tags=["auth"])


@router.post("/login")
def login(body: LoginBody, request: Request, response: Response, ctx: Ctx) -> dict[str, Any]:
    if request.headers.get("content-type", "").split(";")[0] != "application/json":
        raise Unsupported("JSON only")  # a form post from another site cannot log in
    client = request.client.host if request.client else "unknown"
    old = request.cookies.get(COOKIE)
    if old:
        ctx.auth.logout(old)  # a new session id at every login
    token, current = ctx.auth.login(body.username, body.password, client)
    response.set_cookie(COOKIE, token, httponly=True, secure=True, samesite="strict",
                        path="/", max_age=ctx.config.console.session_absolute_hours * 3600)
    return {"user": current.username, "role": current.role, "csrf": current.csrf}


@router.post("/logout")
def logout(current: User, request: Request, response: Response, ctx: Ctx) -> dict[str, str]:
    token = request.cookies.get(COOKIE)
    if token:
        ctx.auth.logout(token)
    ctx.store.audit(current.username, "logout")
    response.delete_cookie(COOKIE, path="/", secure=True, httponly=True, samesite="strict")
    return {"status": "logged out"}


@router.get("/me")
def me(current: User, ctx: Ctx) -> dict[str, Any]:
    config = ctx.config
    return {"user": current.username, "role": current.role, "csrf": current.csrf,
            "site": config.site, "gate": config.gate, "language": config.console.language,
            "lanes": [lane.id for lane in config.lanes],
            "visit_minutes": config.visitors.default_minutes, "person_id": current.person_id,
            "school": config.console.school_name or config.site,
            "idle_s": ctx.auth.idle_s,
            # every role sees it: the devices page warns guards too (issue 15, item 3)
            "biometrics_encrypted": bool(ctx.store.encrypted)}
