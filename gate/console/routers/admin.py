"""Console users and the audit log: admins only."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from gate.console.auth import add_user
from gate.console.deps import Admin, Ctx
from gate.console.errors import Invalid
from gate.console.schemas import UserBody
from gate.console_queries import audit_entries, list_users

router = APIRouter(prefix="/api", tags=["admin"])


@router.get("/users")
def users(_a: Admin, ctx: Ctx) -> list[dict[str, Any]]:
    return list_users(ctx.store)


@router.post("/users")
def create_user(body: UserBody, current: Admin, ctx: Ctx) -> dict[str, str]:
    try:
        add_user(ctx.store, body.username, body.password,
                 "admin" if body.role == "admin" else "guard")
    except ValueError as exc:  # add_user's refusals (taken name, weak password) are ValueError
        raise Invalid(str(exc)) from None
    ctx.store.audit(current.username, "user_created", body.username, {"role": body.role})
    return {"username": body.username, "role": body.role}


@router.get("/audit")
def audit(_a: Admin, ctx: Ctx, limit: Annotated[int, Query(ge=1, le=1000)] = 200
          ) -> list[dict[str, Any]]:
    return audit_entries(ctx.store, limit)
