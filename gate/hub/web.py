"""``gate hub serve``: the district page for the police station and the education bureau.

Same rules as the gate console: argon2 users, ``__Host-`` session cookie, CSRF header on every
state change, strict CSP, no-store API answers. Police acknowledgements are recorded here and
sent down to the gate (``{root}/{site}/{gate}/acks``) through the cluster and its bridge.
"""


import datetime as dt
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import Depends, FastAPI, HTTPException, Request, Response
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field

from gate.console.auth import AuthError
from gate.hub import downlink, views
from gate.hub.auth import COOKIE, Authenticator, Db, Session
from gate.hub.config import HubConfig

STATIC = Path(__file__).parent / "static"
Publish = Callable[[HubConfig, str, dict[str, Any]], None]


class LoginBody(BaseModel):
    username: str = Field(max_length=64)
    password: str = Field(max_length=256)


class AckBody(BaseModel):
    site: str = Field(max_length=64)
    gate: str = Field(max_length=64)
    alert_id: str = Field(max_length=128)
    note: str = Field(default="", max_length=500)


def create_app(config: HubConfig, db: Db, publish: Publish = downlink.publish,
               clock: Callable[[], dt.datetime] = views.utc_now) -> FastAPI:
    """The district page's API; ``clock`` gives "now" (tests pin it inside the site's day)."""
    tz = ZoneInfo(config.timezone)
    auth = Authenticator(db)
    app = FastAPI(title="campus-gate district hub", docs_url=None, redoc_url=None)

    @app.middleware("http")
    async def headers(request: Request,
                      call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        response = await call_next(request)
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; img-src 'self' data:; object-src 'none'; "
            "frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        if request.url.path.startswith("/api"):
            response.headers["Cache-Control"] = "no-store"
        return response

    @app.exception_handler(AuthError)
    async def _auth_error(_request: Request, exc: AuthError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=exc.status)

    def session(request: Request) -> Session:
        current = auth.session(request.cookies.get(COOKIE))
        if request.method not in ("GET", "HEAD", "OPTIONS") and \
                request.headers.get("x-csrf-token") != current.csrf:
            raise AuthError("missing or wrong CSRF token", 403)
        return current

    def police(current: Annotated[Session, Depends(session)]) -> Session:
        if current.role not in ("police", "admin"):
            raise AuthError("police only", 403)
        return current

    User = Annotated[Session, Depends(session)]
    Police = Annotated[Session, Depends(police)]

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok", "district": config.district}

    @app.post("/api/login")
    def login(body: LoginBody, request: Request, response: Response) -> dict[str, Any]:
        if request.headers.get("content-type", "").split(";")[0] != "application/json":
            raise HTTPException(415, "JSON only")
        client = request.client.host if request.client else "unknown"
        old = request.cookies.get(COOKIE)
        if old:
            auth.logout(old)
        token, current = auth.login(body.username, body.password, client)
        response.set_cookie(COOKIE, token, httponly=True, secure=True, samesite="strict",
                            path="/", max_age=12 * 3600)
        return {"user": current.username, "role": current.role, "csrf": current.csrf}

    @app.post("/api/logout")
    def logout(current: User, request: Request, response: Response) -> dict[str, str]:
        token = request.cookies.get(COOKIE)
        if token:
            auth.logout(token)
        db.audit(current.username, "logout")
        response.delete_cookie(COOKIE, path="/", secure=True, httponly=True, samesite="strict")
        return {"status": "logged out"}

    @app.get("/api/me")
    def me(current: User) -> dict[str, Any]:
        return {"user": current.username, "role": current.role, "csrf": current.csrf,
                "district": config.district, "ack_minutes": config.serve.ack_minutes,
                "timezone": config.timezone}

    @app.get("/api/overview")
    def overview(current: User) -> dict[str, Any]:
        now = clock()
        return {"gates": views.gates(db, now),
                "schools": views.schools(db, tz, config.serve.ack_minutes, now)}

    @app.get("/api/alerts")
    def alerts(current: User) -> list[dict[str, Any]]:
        found = views.open_alerts(db, clock())
        if current.role == "bureau":
            # the bureau follows the closed loop; who and which car are for the police
            found = [{**a, "person": None, "plate": None} for a in found]
        return found

    @app.post("/api/alerts/ack")
    def acknowledge(body: AckBody, current: Police) -> dict[str, Any]:
        if not db.rows("SELECT 1 FROM alerts WHERE site = %s AND gate = %s AND id = %s",
                       (body.site, body.gate, body.alert_id)):
            raise HTTPException(404, "no such alert")
        now = clock().astimezone(tz)
        message = {"schema": downlink.ACK_SCHEMA, "id": str(uuid.uuid4()),
                   "ts": now.isoformat(timespec="milliseconds"), "site": body.site,
                   "gate": body.gate, "type": "ack", "severity": "info",
                   "alert_id": body.alert_id, "by": current.username, "note": body.note}
        with db.lock, db.conn.transaction():
            inserted = db.conn.execute(
                "INSERT INTO alert_acks (site, gate, alert_id, by_user, note, ts)"
                " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                (body.site, body.gate, body.alert_id, current.username, body.note, now)).rowcount
            if inserted:
                # sent before the commit: if no node takes it, the acknowledgement is not kept
                publish(config, downlink.ack_routing_key(config.root, body.site, body.gate),
                        message)
        if not inserted:
            raise HTTPException(409, "already acknowledged")
        db.audit(current.username, "alert_ack", f"{body.site}/{body.gate}/{body.alert_id}")
        return {"status": "acknowledged", "ack": message}

    return app
