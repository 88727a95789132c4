"""The lane cameras' live view for the guard: the latest analysed frame of each camera,
with its faces or plates boxed (drawn by the recognition worker, a few times a second)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from gate.console.deps import Ctx, User
from gate.console.errors import NotFound

router = APIRouter(prefix="/api/cameras", tags=["cameras"])


@router.get("")
def cameras(_u: User, ctx: Ctx) -> list[dict[str, Any]]:
    service = ctx.service
    lanes = {lane.camera: lane.id for lane in service.config.lanes if lane.camera}
    lanes.update({lane.vehicle_camera: lane.id for lane in service.config.lanes
                  if lane.vehicle_camera})
    out = []
    for cam in service.config.cameras:
        if cam.role == "perimeter":
            continue  # the perimeter view shows those
        view = service.camera_views.get(cam.id)
        out.append({"id": cam.id, "role": cam.role, "lane": lanes.get(cam.id),
                    "ts": view.ts if view else None, "marks": view.marks if view else 0})
    return out


@router.get("/{camera_id}/view.jpg")
def view(camera_id: str, _u: User, ctx: Ctx) -> Response:
    found = ctx.service.camera_views.get(camera_id)
    if found is None:
        raise NotFound(f"no frame from camera {camera_id!r} yet")
    return Response(found.jpeg, media_type="image/jpeg",
                    headers={"Cache-Control": "private, no-store"})
