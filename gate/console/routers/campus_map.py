"""The campus map: an admin uploads the school's plan and places lanes, readers and
cameras on it; the live page marks where each open alert happened."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from fastapi import APIRouter, Response

from gate.console.deps import Admin, Ctx, User
from gate.console.errors import Invalid, NotFound
from gate.console.schemas import MapImageBody, MapPointBody
from gate.console_views import (
    MAP_KINDS,
    map_image,
    map_view,
    place_on_map,
    remove_from_map,
    set_map_image,
)

router = APIRouter(prefix="/api", tags=["map"])
_TYPES = {b"\x89PNG": "image/png", b"\xff\xd8\xff": "image/jpeg"}


def _places(ctx: Ctx) -> dict[str, list[str]]:
    config = ctx.config
    return {"lane": [lane.id for lane in config.lanes],
            "reader": [r.id for lane in config.lanes for r in lane.readers],
            "camera": [c.id for c in config.cameras]}


@router.get("/map")
def campus_map(_u: User, ctx: Ctx) -> dict[str, Any]:
    return {**map_view(ctx.store), "places": _places(ctx)}


@router.get("/map/image", response_class=Response)
def campus_map_image(_u: User, ctx: Ctx) -> Response:
    found = map_image(ctx.store)
    if found is None:
        raise NotFound("no campus map yet")
    return Response(found[0], media_type=found[1])


@router.put("/map/image")
def upload_map(body: MapImageBody, current: Admin, ctx: Ctx) -> dict[str, Any]:
    try:
        raw = base64.b64decode(body.image, validate=True)
    except (binascii.Error, ValueError):
        raise Invalid("image: not base64", code="map_image") from None
    media = next((t for magic, t in _TYPES.items() if raw.startswith(magic)), None)
    if media is None:
        raise Invalid("image: a JPEG or PNG plan", code="map_image")
    set_map_image(ctx.store, raw, media, current.username)
    return {"status": "saved", "bytes": len(raw)}


@router.put("/map/points/{kind}/{ref}")
def place(kind: str, ref: str, body: MapPointBody, current: Admin, ctx: Ctx
          ) -> dict[str, Any]:
    if kind not in MAP_KINDS or ref not in _places(ctx)[kind]:
        raise Invalid(f"no {kind} {ref!r} in the configuration", code="map_place")
    place_on_map(ctx.store, kind, ref, body.x, body.y, current.username)
    return {"kind": kind, "ref": ref, "x": body.x, "y": body.y}


@router.delete("/map/points/{kind}/{ref}")
def unplace(kind: str, ref: str, current: Admin, ctx: Ctx) -> dict[str, str]:
    if not remove_from_map(ctx.store, kind, ref, current.username):
        raise NotFound("not on the map")
    return {"status": "removed"}
