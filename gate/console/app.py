"""The guard console: a FastAPI app served from the gate computer, with no internet needed.

Every page is the static app in ``static/`` (no CDN: scripts, styles and sounds are local)
talking to the REST API under ``/api`` and the live feed on ``/api/live``. ``create_app``
builds the app from the routers in ``gate.console.routers``; ``/healthz``, the page, its
static files and the login are the only routes without a session.

The service is imported here only for type checking: ``gate.service`` imports this module
lazily, so there is no import cycle between them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from fastapi import FastAPI, Request, Response
from fastapi.staticfiles import StaticFiles

from gate import metrics
from gate.console import errors
from gate.console.auth import Authenticator
from gate.console.deps import Console
from gate.console.health import Prober
from gate.console.host_hub import HostHub
from gate.console.hub import LiveHub
from gate.console.routers import (
    admin,
    alarm,
    alerts,
    attendance,
    auth,
    cameras,
    campus_map,
    desk,
    devices,
    evidence,
    faces,
    live,
    people,
    perimeter,
    rollcall,
    system,
    vehicles,
    visitors,
)
from gate.console.routers.system import STATIC

if TYPE_CHECKING:
    from gate.service import Service

ROUTERS = (system, auth, live, alerts, people, attendance, visitors, vehicles, devices, admin,
           perimeter, evidence, alarm, rollcall, campus_map, faces, cameras, desk)

_CSP = ("default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; "
        "connect-src 'self'; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'self'")


def create_app(service: Service) -> FastAPI:
    config = service.config
    authenticator = Authenticator(service.store, config.console.session_idle_minutes * 60,
                                  config.console.session_absolute_hours * 3600)
    hub = LiveHub()
    service.engine.subscribe(hub.publish)
    host_hub = HostHub()
    service.visitors.host_listeners.append(host_hub.publish)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        hub.loop = asyncio.get_running_loop()  # the live feed is fed from engine threads
        host_hub.loop = hub.loop
        yield

    app = FastAPI(title="campus-gate console", version="1", docs_url=None, redoc_url=None,
                  openapi_url=None, lifespan=lifespan)  # the schema is served behind a session
    app.state.console = Console(service, authenticator, hub, Prober(service.probe))
    app.state.host_hub = host_hub

    def close_feeds(within_s: float = 1.0) -> None:
        """ConsoleServer.stop, before the server's own shutdown (called off the event loop).

        Each feed closes itself as 1001 on the loop; the server's shutdown would close what
        is still open as 1012 ("restart"), so a loaded gate waits for its feeds, a little."""
        hub.close()
        host_hub.close()
        deadline = time.monotonic() + within_s
        while (hub.queues or any(host_hub.queues.values())) and time.monotonic() < deadline:
            time.sleep(0.01)

    app.state.close_feeds = close_feeds

    @app.middleware("http")
    async def _security_headers(request: Request,
                                call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        response = await call_next(request)
        response.headers["Content-Security-Policy"] = _CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        if request.url.path.startswith("/api"):
            response.headers["Cache-Control"] = "no-store"
        return response

    errors.install(app)
    for module in ROUTERS:
        app.include_router(module.router)
    # Prometheus, behind its own bearer token (console.metrics_token; 404 without one).
    app.include_router(metrics.metrics_router(config.console.metrics_token))
    metrics.watch_store(service.store)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app
