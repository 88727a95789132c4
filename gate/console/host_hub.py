"""The host's own feed: what the visitor desk tells a host, to that host's open pages only.

``VisitorDesk`` calls ``publish`` after COMMIT from whatever thread recorded the visit (a
console request, the scheduler); the server's event loop delivers to the WebSocket queues of
that host's sessions (``/api/host/live``), where the page raises a system notification. It
never blocks the caller: ``call_soon_threadsafe`` only.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any


class HostHub:
    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self.queues: dict[str, set[asyncio.Queue[str | None]]] = {}

    def publish(self, host_id: str, said: dict[str, Any]) -> None:
        if self.loop is None:
            return
        text = json.dumps(said, ensure_ascii=False)
        for q in list(self.queues.get(host_id, ())):
            self.loop.call_soon_threadsafe(q.put_nowait, text)

    def close(self) -> None:
        """The console is stopping: each host page's feed is closed as "going away"."""
        if self.loop is not None:
            for queues in list(self.queues.values()):
                for q in list(queues):
                    self.loop.call_soon_threadsafe(q.put_nowait, None)

    def join(self, host_id: str) -> asyncio.Queue[str | None]:
        q: asyncio.Queue[str | None] = asyncio.Queue()
        self.queues.setdefault(host_id, set()).add(q)
        return q

    def leave(self, host_id: str, q: asyncio.Queue[str | None]) -> None:
        self.queues.get(host_id, set()).discard(q)
