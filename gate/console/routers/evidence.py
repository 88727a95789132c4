"""Evidence and privacy on the console (README "Privacy and evidence"): snapshots for
logged-in users only, each view audited; the event review filter; a person's passages;
retention per data class; erasure and the audit log for admins."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from gate import evidence_views as views
from gate import privacy
from gate.console.deps import Admin, Ctx, User
from gate.console.errors import Invalid, NotFound
from gate.console.schemas import EraseBody
from gate.console_views import person_names

router = APIRouter(prefix="/api", tags=["evidence"])


@router.get("/snapshots/{snapshot_id}")
def snapshot(snapshot_id: str, current: User, ctx: Ctx,
             part: Annotated[str, Query(pattern="^(scene|crop)$")] = "scene") -> Response:
    try:
        jpeg = views.view_snapshot(ctx.service.journal, ctx.service.snapshots, snapshot_id,
                                   part, current.username)
    except ValueError as exc:
        raise Invalid(str(exc)) from None
    if jpeg is None:
        raise NotFound(f"no {part} for snapshot {snapshot_id!r} (none taken, or purged)")
    return Response(jpeg, media_type="image/jpeg",
                    headers={"Cache-Control": "private, no-store"})


@router.get("/snapshots/{snapshot_id}/parts")
def snapshot_parts(snapshot_id: str, _u: User, ctx: Ctx) -> dict[str, Any]:
    """Which parts a snapshot has, so the overlay asks only for pictures that exist (a
    404 for a missing crop would be an error in the guard's browser). No image: not
    audited."""
    found = views.snapshot_parts(ctx.service.store, snapshot_id)
    if found is None:
        raise NotFound(f"no snapshot {snapshot_id!r} (none taken, or purged)")
    return found


@router.get("/review")
def review(_u: User, ctx: Ctx,
           day: Annotated[dt.date | None, Query()] = None,
           lane: Annotated[str | None, Query(max_length=64)] = None,
           type: Annotated[str | None, Query(max_length=64)] = None,
           person: Annotated[str | None, Query(max_length=64)] = None,
           with_snapshot: bool = False,
           limit: Annotated[int, Query(ge=1, le=1000)] = 200,
           before: Annotated[str | None, Query(max_length=40)] = None) -> list[dict[str, Any]]:
    """What Frigate's review page gives a guard: passages filtered by day, lane, type and
    person, newest first, with their snapshot ids."""
    rows = views.review_events(ctx.service.store, views.Review(
        day=day, lane=lane, type=type, person_id=person, with_snapshot=with_snapshot,
        limit=limit, before=before))
    return _named(ctx, rows)


def _named(ctx: Ctx, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The guard reads names, not ids (the live feed shows them too)."""
    names = person_names(ctx.service.store, [r["person_id"] for r in rows])
    return [{**r, "person_name": names.get(r["person_id"])} for r in rows]


@router.get("/people/{person_id}/passages")
def passages(person_id: str, _u: User, ctx: Ctx,
             limit: Annotated[int, Query(ge=1, le=500)] = 50) -> list[dict[str, Any]]:
    """The person page's passage list (the page view itself is audited once, by
    ``GET /api/people/{id}``; each picture opened from it is audited as it is served)."""
    if ctx.service.store.get_person(person_id) is None:
        raise NotFound("no such person")
    return _named(ctx, views.person_passages(ctx.service.store, person_id, limit))


@router.get("/privacy")
def privacy_status(_a: Admin, ctx: Ctx) -> dict[str, Any]:
    """Each data class with its retention, oldest record and last purge; and whether
    biometrics are encrypted at rest."""
    store = ctx.service.store
    return {"encrypted": bool(store.encrypted),
            "retention": [r.as_dict() for r in privacy.retention_status(
                store, ctx.service.config.retention)]}


@router.post("/people/{person_id}/erase")
def erase(person_id: str, body: EraseBody, current: Admin, ctx: Ctx) -> dict[str, Any]:
    """The data subject's erasure: encodings, photos and snapshots go; passages stay,
    anonymised; the audit row names who erased."""
    try:  # capture stops first, then the data goes (Service.erase_person)
        erased = ctx.service.erase_person(person_id, current.username, body.reason)
    except privacy.ErasureError as exc:
        raise NotFound(str(exc)) from None
    return {"person_id": person_id, **erased}


@router.get("/audit/search")
def audit(_a: Admin, ctx: Ctx, action: Annotated[str | None, Query(max_length=64)] = None,
          actor: Annotated[str | None, Query(max_length=64)] = None,
          target: Annotated[str | None, Query(max_length=64)] = None,
          limit: Annotated[int, Query(ge=1, le=1000)] = 200,
          before_id: Annotated[int | None, Query(ge=0, le=2**62)] = None
          ) -> list[dict[str, Any]]:
    """Admins read the audit log (logins, opens, acks, enrolments, erasures, exports, views
    of faces); nobody edits or deletes it from the console."""
    return views.audit_log(ctx.service.store, action=action, actor=actor, target=target,
                           limit=limit, before_id=before_id)
