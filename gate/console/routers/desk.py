"""The visitor desk's ID-card reader (the page fills and locks the form from a card read) and
the host's phone: its WebSocket, and the web app manifest and service worker that make the
host page an installable app that raises system notifications.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, WebSocket
from fastapi.responses import FileResponse

from gate.console.auth import AuthError
from gate.console.deps import Console, Ctx, User, relay_queue, websocket_session
from gate.console.errors import Invalid
from gate.console.routers.system import STATIC
from gate.console.schemas import VisitorBody
from gate.visitors import Registration

router = APIRouter(tags=["desk"])


@router.get("/api/desk/idcard")
def desk_idcard(current: User, ctx: Ctx,
                after: Annotated[int, Query(ge=0)] = 0) -> dict[str, Any]:
    """The newest card read after ``after`` (the page's last ``seq``), and the reader's state;
    ``configured`` false means the desk types documents in."""
    if current.role == "host":
        raise AuthError("hosts answer their own visitors only", 403)
    reader = ctx.service.desk_reader
    if reader is None:
        return {"configured": False, "connected": False, "error": None, "read": None}
    return {"configured": True, "connected": reader.health.connected,
            "error": reader.health.last_error, "read": ctx.service.desk_cards.latest(after)}


def registration(ctx: Console, body: VisitorBody, minutes: int, plate: str | None
                 ) -> Registration:
    """The visit to register: with ``chip_token``, name and number are the chip's (the page
    locked them; the server does not take them from the page), else what was typed."""
    if not body.chip_token:
        return Registration(body.name, body.id_type, body.id_number, body.phone, body.purpose,
                            body.host_id, minutes, plate)
    card = ctx.service.desk_cards.card(body.chip_token)
    if card is None:
        raise Invalid("chip_token: the card read is no longer valid; read the card again",
                      code="chip_read_gone")
    return Registration(card.name, "resident-id", card.number, body.phone, body.purpose,
                        body.host_id, minutes, plate, read_from_chip=True,
                        document_valid_until=card.valid_to)


@router.websocket("/api/host/live")
async def host_live(ws: WebSocket) -> None:
    """A host's page hears of their own visitors: waiting for them, a pass re-issued."""
    current = await websocket_session(ws, host_role=True)
    if current is None or current.person_id is None:
        return
    await ws.accept()
    hub = ws.app.state.host_hub
    q = hub.join(current.person_id)
    try:
        await relay_queue(ws, q)
    finally:
        hub.leave(current.person_id, q)


@router.get("/manifest.webmanifest", include_in_schema=False)
def manifest() -> FileResponse:
    return FileResponse(STATIC / "manifest.webmanifest", media_type="application/manifest+json")


@router.get("/sw.js", include_in_schema=False)
def service_worker() -> FileResponse:
    """At the root, so its scope is the whole console (a worker's scope is its own path)."""
    return FileResponse(STATIC / "sw.js", media_type="text/javascript",
                        headers={"Cache-Control": "no-cache"})
