"""People: search, a person's page (an audited view of personal data), exit permissions."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from gate.console.deps import Ctx, User
from gate.console.errors import NotFound
from gate.console.schemas import ExitPermissionBody
from gate.console_queries import grant_exit_permission, person_detail, search_people
from gate.evidence_views import person_viewed

router = APIRouter(prefix="/api", tags=["people"])


@router.get("/people")
def people(_u: User, ctx: Ctx, q: Annotated[str, Query(max_length=64)] = "",
           limit: Annotated[int, Query(ge=1, le=200)] = 50) -> list[dict[str, Any]]:
    return search_people(ctx.store, q, limit)


@router.get("/people/{person_id}")
def person(person_id: str, current: User, ctx: Ctx) -> dict[str, Any]:
    found = person_detail(ctx.store, person_id)
    if found is None:
        raise NotFound("no such person", code="not_found")
    person_viewed(ctx.service.journal, person_id, current.username)  # ASVS: access to PII
    return found


@router.post("/people/{person_id}/exit-permissions")
def exit_permission(person_id: str, body: ExitPermissionBody, current: User, ctx: Ctx
                    ) -> dict[str, Any]:
    until = grant_exit_permission(ctx.store, person_id, body.minutes, current.username,
                                  body.reason)
    if until is None:
        raise NotFound("no such person", code="not_found")
    return {"person_id": person_id, "valid_until": until.isoformat(timespec="seconds")}
