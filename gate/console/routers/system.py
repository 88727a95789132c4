"""The page itself, the health check and the API schema.

``/healthz`` needs no session (a supervisor polls it); ``/openapi.json`` does: the API's map
is for the console's users, not for anyone on the network.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse, JSONResponse

from gate.console.deps import Ctx, User

STATIC = Path(str(resources.files("gate") / "console" / "static"))
PROBE_TIMEOUT_S = 1.0

router = APIRouter(tags=["system"])


@router.get("/", include_in_schema=False)
def index() -> FileResponse:
    return FileResponse(STATIC / "index.html")


@router.get("/favicon.ico", include_in_schema=False)
def favicon() -> Response:
    return Response(status_code=204)


@router.get("/healthz")
def healthz(ctx: Ctx) -> JSONResponse:
    """200 when the decision path and the store answered within a second, else 503."""
    probe = ctx.prober.check(PROBE_TIMEOUT_S)
    config = ctx.config
    body: dict[str, Any] = {"status": "ok" if probe["ok"] else "unhealthy",
                            "site": config.site, "gate": config.gate,
                            "store_ms": probe.get("store_ms"),
                            "engine_ms": probe.get("engine_ms"),
                            "problems": list(probe.get("problems", []))}
    return JSONResponse(body, status_code=200 if probe["ok"] else 503)


@router.get("/openapi.json", include_in_schema=False)
def openapi(_u: User, request: Request) -> JSONResponse:
    return JSONResponse(request.app.openapi())
