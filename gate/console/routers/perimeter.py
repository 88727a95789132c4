"""The perimeter view: each perimeter camera's latest annotated frame (zones and live
tracks drawn by the worker), its health, and the perimeter alerts."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Response

from gate import console_queries as queries
from gate.console.deps import Ctx, User
from gate.console.errors import NotFound

router = APIRouter(prefix="/api/perimeter", tags=["perimeter"])

PERIMETER_ALERTS = ("loitering", "circling_vehicle", "intrusion", "watchlist_face",
                    "watchlist_plate")


@router.get("")
def perimeter(_u: User, ctx: Ctx) -> dict[str, Any]:
    link = ctx.service.perimeter
    cameras = []
    for cam in link.cameras:
        health = link.health.get(cam.id)
        view = link.views.get(cam.id)
        cameras.append({"id": cam.id, "zones": [{"id": z.id, "polygon": z.polygon}
                                                for z in cam.zones],
                        "health": asdict(health) if health else None,
                        "view_ts": view.ts.isoformat(timespec="seconds") if view else None})
    return {"cameras": cameras,
            "alerts": queries.alerts_of_types(ctx.service.store, PERIMETER_ALERTS, 50)}


@router.get("/{camera_id}/view.jpg")
def view(camera_id: str, _u: User, ctx: Ctx) -> Response:
    found = ctx.service.perimeter.views.get(camera_id)
    if found is None:
        raise NotFound(f"no frame from perimeter camera {camera_id!r} yet")
    return Response(found.jpeg, media_type="image/jpeg", headers={"Cache-Control": "no-store"})
