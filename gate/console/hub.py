"""The live feed's fan-out: engine decisions, from any thread, to every open WebSocket."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from gate.engine import Decision
from gate.messages import person_fields

SHOWN_DETAILS = ("plate", "confidence", "visitor", "face_distance", "by", "late", "kind",
                 "owner")


def shown_details(details: dict[str, Any]) -> dict[str, Any]:
    """What the feed may show of an event's details (the plate text, the face distance);
    nothing with an ID number in it."""
    return {k: details[k] for k in SHOWN_DETAILS if k in details}


def decision_json(d: Decision) -> dict[str, Any]:
    e = d.event
    return {"id": e.id, "ts": e.ts.isoformat(timespec="seconds"), "type": e.type,
            "lane": e.lane, "direction": e.direction, "method": e.method,
            "decision": e.decision, "reason": e.reason, "person": person_fields(d.person),
            "snapshot": e.snapshot, "opened": d.opened, "details": shown_details(e.details),
            "alerts": [{"id": a.id, "type": a.type, "severity": a.severity} for a in d.alerts]}


class LiveHub:
    """Engine threads call ``publish``; the server's event loop delivers to each queue."""

    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self.queues: set[asyncio.Queue[str | None]] = set()

    def publish(self, decision: Decision) -> None:
        if self.loop is None or not (decision.journalled or decision.alerts):
            return  # an audit row or a state change alone: nothing for the feed
        kind = "decision" if decision.journalled else "alerts"  # alerts with no passage row
        text = json.dumps({"kind": kind, **decision_json(decision)}, ensure_ascii=False)
        for q in list(self.queues):
            self.loop.call_soon_threadsafe(q.put_nowait, text)

    def close(self) -> None:
        """The console is stopping: every page's feed is closed now, as "going away" (the
        page says so and reconnects), instead of being cut off after the server's grace."""
        if self.loop is not None:
            for q in list(self.queues):
                self.loop.call_soon_threadsafe(q.put_nowait, None)
