"""Registered vehicles and the watch lists in force; admins register vehicles and keep the
gate's own ``local`` list (persons and plates: validated, de-duplicated, deletable, audited).
Police lists are shown, never edited here: they are replaced whole by the district."""

from __future__ import annotations

import unicodedata
from typing import Any

from fastapi import APIRouter

from gate.console.deps import Admin, Ctx, User
from gate.console.errors import Conflict, Invalid, NotFound
from gate.console.schemas import PlateBody, VehicleBody, WatchPersonBody
from gate.console_queries import (
    PlateRegistered,
    add_local_plate,
    register_vehicle,
    watchlists_view,
)
from gate.console_views import (
    add_local_person,
    local_plate_listed,
    remove_local,
    vehicles_named,
    watch_persons,
)
from gate.identity import IdentityError, validate_document
from gate.watchlist import normalise_plate
from recognition.plate_formats import validate

router = APIRouter(prefix="/api", tags=["vehicles"])


def _plate(ctx: Ctx, text: str) -> str:
    """NFKC first (a full-width plate typed on a Chinese keyboard), then the region's rules."""
    region = ctx.config.plates.region
    plate = validate(unicodedata.normalize("NFKC", text), region)
    if plate is None:
        raise Invalid(f"plate: {text!r} is not a valid {region} plate", code="plate")
    return plate.text


@router.get("/vehicles")
def vehicles(_u: User, ctx: Ctx) -> list[dict[str, Any]]:
    return vehicles_named(ctx.store)


@router.post("/vehicles")
def add_vehicle(body: VehicleBody, current: Admin, ctx: Ctx) -> dict[str, Any]:
    plate = _plate(ctx, body.plate)
    owner = body.owner_id or None
    if owner is not None and ctx.store.get_person(owner) is None:
        raise Invalid(f"owner: no person {owner!r}", code="not_found")
    try:
        until = register_vehicle(ctx.store, plate, body.kind, owner, body.days,
                                 body.note, current.username, replace=body.replace)
    except PlateRegistered as taken:  # asked before replacing: the page shows who has it
        raise Conflict(f"{plate} is registered already; send replace: true to replace it",
                       code="plate_registered", extra={"current": taken.current}) from None
    return {"plate": plate, "kind": body.kind,
            "valid_until": until.isoformat(timespec="seconds") if until else None}


@router.get("/watchlists")
def watchlists(_u: User, ctx: Ctx) -> dict[str, Any]:
    return {**watchlists_view(ctx.store), "persons": watch_persons(ctx.store)}


def _reason(text: str) -> str:
    """Why someone is watched is what a guard acts on and an inspector asks about: a listing
    without one (blank, or spaces) is refused with words that say so."""
    reason = text.strip()
    if len(reason) < 2:
        raise Invalid("reason: a listing needs a reason (at least 2 characters)",
                      code="reason_required")
    return reason


@router.post("/watchlists/local/plates")
def add_plate(body: PlateBody, current: Admin, ctx: Ctx) -> dict[str, str]:
    reason = _reason(body.reason)
    plate = normalise_plate(_plate(ctx, body.plate))
    if local_plate_listed(ctx.store, plate):
        raise Conflict(f"{plate} is already on the local list", code="duplicate")
    add_local_plate(ctx.store, plate, reason, current.username)
    return {"plate": plate, "list": "local"}


@router.delete("/watchlists/local/plates/{plate}")
def delete_plate(plate: str, current: Admin, ctx: Ctx) -> dict[str, str]:
    if not remove_local(ctx.store, "plate", normalise_plate(plate), current.username):
        raise NotFound("not on the local list")
    return {"status": "removed"}


@router.post("/watchlists/local/persons")
def add_person(body: WatchPersonBody, current: Admin, ctx: Ctx) -> dict[str, str]:
    reason = _reason(body.reason)
    number = ""
    if body.id_number.strip():
        try:
            number = validate_document(body.id_type, body.id_number)  # NFKC, check digit
        except IdentityError as exc:
            raise Invalid(f"id_number: {exc}", code="id_number") from None
    name = body.name.strip()
    if not name:
        raise Invalid("name: a listed person needs a name", code="visitor_name")
    entry = add_local_person(ctx.store, name, number, reason, current.username)
    if entry is None:
        raise Conflict("already on the local list", code="duplicate")
    return {"entry_id": entry, "list": "local"}


@router.delete("/watchlists/local/persons/{entry_id}")
def delete_person(entry_id: str, current: Admin, ctx: Ctx) -> dict[str, str]:
    if not remove_local(ctx.store, "person", entry_id, current.username):
        raise NotFound("not on the local list")
    return {"status": "removed"}
