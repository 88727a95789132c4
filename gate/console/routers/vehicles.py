"""Registered vehicles and the watch lists in force (admins add entries)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from gate.console.deps import Admin, Ctx, User
from gate.console.errors import Invalid
from gate.console.schemas import PlateBody, VehicleBody
from gate.console_queries import add_local_plate, list_vehicles, register_vehicle, watchlists_view
from gate.watchlist import normalise_plate
from recognition.plate_formats import validate

router = APIRouter(prefix="/api", tags=["vehicles"])


@router.get("/vehicles")
def vehicles(_u: User, ctx: Ctx) -> list[dict[str, Any]]:
    return list_vehicles(ctx.store)


@router.post("/vehicles")
def add_vehicle(body: VehicleBody, current: Admin, ctx: Ctx) -> dict[str, Any]:
    region = ctx.config.plates.region
    plate = validate(body.plate, region)
    if plate is None:
        raise Invalid(f"plate: {body.plate!r} is not a valid {region} plate")
    until = register_vehicle(ctx.store, plate.text, body.kind, body.owner_id, body.days,
                             body.note, current.username)
    return {"plate": plate.text, "kind": body.kind,
            "valid_until": until.isoformat(timespec="seconds") if until else None}


@router.get("/watchlists")
def watchlists(_u: User, ctx: Ctx) -> dict[str, Any]:
    return watchlists_view(ctx.store)


@router.post("/watchlists/local/plates")
def add_plate(body: PlateBody, current: Admin, ctx: Ctx) -> dict[str, str]:
    plate = normalise_plate(body.plate)
    add_local_plate(ctx.store, plate, body.reason, current.username)
    return {"plate": plate, "list": "local"}
