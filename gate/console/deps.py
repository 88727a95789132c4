"""Dependencies shared by the console's routers: the console context, the session, the
admin role and the CSRF check.

``session`` is the one gate to the API: it needs a live session and, for every method that
can change state, the session's CSRF token. ``tests/test_console_routes.py`` walks every
route of the app to keep it that way.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import secrets
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request, WebSocket
from starlette.websockets import WebSocketDisconnect

from gate.config import Config
from gate.console.auth import COOKIE, Authenticator, AuthError, Session
from gate.console.health import Prober
from gate.console.hub import LiveHub
from gate.engine import Engine
from gate.store import Store

if TYPE_CHECKING:  # the service imports the console lazily; never the other way at run time
    from gate.service import Service

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# A host (a staff member on their phone) sees their own visitors and nothing else.
HOST_PATHS = re.compile(r"^/api/(me|logout|heartbeat|host/visitors|visitors/[^/]+/(host|photo))$")


@dataclass
class Console:
    """What the handlers work with; one per app, kept in ``app.state.console``."""

    service: Service
    auth: Authenticator
    hub: LiveHub
    prober: Prober
    # (session, page) pairs whose list view is already audited: the live page is one view
    # per login, however often it reloads its list (a reconnect, a language switch).
    _viewed: set[tuple[str, str]] = field(default_factory=set)
    _viewed_lock: threading.Lock = field(default_factory=threading.Lock)

    def first_view(self, current: Session, page: str) -> bool:
        """True once per login session and page; the session is named by a digest of its
        CSRF token (never the token itself). Bounded: a full set starts over, which at
        worst audits a view twice, never not at all."""
        key = (hashlib.sha256(current.csrf.encode()).hexdigest()[:24], page)
        with self._viewed_lock:
            if key in self._viewed:
                return False
            if len(self._viewed) >= 10_000:
                self._viewed.clear()
            self._viewed.add(key)
            return True

    @property
    def config(self) -> Config:
        return self.service.config

    @property
    def store(self) -> Store:
        return self.service.store

    @property
    def engine(self) -> Engine:
        return self.service.engine


async def websocket_session(ws: WebSocket, host_role: bool) -> Session | None:
    """The session of a WebSocket about to be accepted, or None once it has been closed:
    4401 without a session, 4403 for the wrong role (``host_role``: the host's own feed, else
    the gate's) or another site's page (cross-site WebSocket hijacking)."""
    ctx: Console = ws.app.state.console
    origin, host = ws.headers.get("origin"), ws.headers.get("host")
    try:
        current = ctx.auth.session(ws.cookies.get(COOKIE))
    except AuthError:
        await ws.close(code=4401)
        return None
    if (current.role == "host") != host_role or (host_role and not current.person_id) or (
            origin and host and origin.split("://", 1)[-1] != host):
        await ws.close(code=4403)
        return None
    return current


async def relay_queue(ws: WebSocket, q: asyncio.Queue[str | None]) -> None:
    """Send what arrives on ``q`` until the page goes away or the console stops (``None``
    on ``q``: closed as 1001 "going away"); the caller unsubscribes ``q``."""
    try:
        while (text := await q.get()) is not None:
            await ws.send_text(text)
        await ws.close(code=1001, reason="the gate is stopping")
    except (WebSocketDisconnect, RuntimeError):
        pass


def console(request: Request) -> Console:
    ctx: Console = request.app.state.console
    return ctx


Ctx = Annotated[Console, Depends(console)]


def session(request: Request, ctx: Ctx) -> Session:
    current = ctx.auth.session(request.cookies.get(COOKIE))
    if request.method not in SAFE_METHODS and not secrets.compare_digest(
            request.headers.get("x-csrf-token", "").encode(), current.csrf.encode()):
        raise AuthError("missing or wrong CSRF token", 403)
    if current.role == "host" and not HOST_PATHS.match(request.url.path):
        raise AuthError("hosts answer their own visitors only", 403)
    return current


def admin(current: Annotated[Session, Depends(session)]) -> Session:
    if current.role != "admin":
        raise AuthError("admins only", 403)
    return current


User = Annotated[Session, Depends(session)]
Admin = Annotated[Session, Depends(admin)]
