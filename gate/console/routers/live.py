"""The live page: recent events, the WebSocket feed and manual opens."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Query, WebSocket

from gate.console.deps import Console, Ctx, User, relay_queue, websocket_session
from gate.console.errors import Invalid, NotFound
from gate.console.hub import decision_json
from gate.console.schemas import OpenBody
from gate.console_queries import recent_events
from gate.evidence_views import list_viewed

router = APIRouter(prefix="/api", tags=["live"])


@router.get("/events")
def events(current: User, ctx: Ctx, limit: Annotated[int, Query(ge=1, le=500)] = 50
           ) -> list[dict[str, Any]]:
    """The live page's passage list as it opens. It is the guard's duty view, audited once
    per login (who, the people on it); the feed that follows over the WebSocket, the queue's
    refreshes and their thumbnails add no rows (README "Privacy and evidence")."""
    rows = recent_events(ctx.store, limit)
    if ctx.first_view(current, "live"):
        list_viewed(ctx.service.journal, current.username, "live", rows)
    return rows


@router.websocket("/live")
async def live(ws: WebSocket) -> None:
    ctx: Console = ws.app.state.console
    # A host sees their own visitors (/api/host/live), not the gate's feed.
    if await websocket_session(ws, host_role=False) is None:
        return
    # subscribed before the page hears "open": what the page loads then, or is sent after,
    # leaves no passage out (live.js: refreshFeed)
    q: asyncio.Queue[str | None] = asyncio.Queue()
    ctx.hub.queues.add(q)
    try:
        await ws.accept()
        await relay_queue(ws, q)
    finally:
        ctx.hub.queues.discard(q)


@router.post("/lanes/{lane_id}/open")
def manual_open(lane_id: str, body: OpenBody, current: User, ctx: Ctx) -> dict[str, Any]:
    try:
        d = ctx.engine.manual_open(lane_id, current.username, body.reason)
    except KeyError:
        raise NotFound("no such lane", code="no_such_lane") from None
    except ValueError as exc:  # the engine refuses (a reason under 2 characters)
        raise Invalid(str(exc), code="lane_refused") from None
    return decision_json(d)  # "opened": whether the relay really moved
