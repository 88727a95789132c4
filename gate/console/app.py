"""The guard console: a FastAPI app served from the gate computer, with no internet needed.

Every page is the static app in ``static/`` (no CDN: scripts, styles and
sounds are local) talking to the REST API under ``/api`` and the live feed on
``/api/live``. ``/healthz`` and the login are the only routes without a session.
"""

# No ``from __future__ import annotations`` here: FastAPI must see the dependency types
# (``User``, ``Admin``) that are defined inside create_app.
import asyncio
import base64
import csv
import datetime as dt
import io
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import segno
from fastapi import Depends, FastAPI, HTTPException, Query, Request, Response, WebSocket
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field
from starlette.websockets import WebSocketDisconnect

from gate.attendance import attendance
from gate.console.auth import COOKIE, Authenticator, AuthError, Session, add_user
from gate.engine import Decision
from gate.messages import person_fields
from gate.visitors import Registration, VisitorError
from gate.watchlist import lists_in_force, normalise_plate
from recognition.enrol import encode_enrolment_photo
from recognition.images import decode_rgb
from recognition.plate_formats import validate
from rfid.cards import CardNumberError, registry_key

if TYPE_CHECKING:
    from gate.service import Service

log = logging.getLogger("gate.console")
STATIC = Path(str(resources.files("gate") / "console" / "static"))


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoginBody(_Body):
    username: Annotated[str, Field(min_length=1, max_length=64)]
    password: Annotated[str, Field(min_length=1, max_length=256)]


class AckBody(_Body):
    note: Annotated[str, Field(min_length=1, max_length=500)]


class OpenBody(_Body):
    reason: Annotated[str, Field(min_length=3, max_length=200)]


class ExitPermissionBody(_Body):
    minutes: Annotated[int, Field(ge=5, le=600)] = 60
    reason: Annotated[str, Field(min_length=2, max_length=200)]


class PlateBody(_Body):
    plate: Annotated[str, Field(min_length=2, max_length=16)]
    reason: Annotated[str, Field(min_length=2, max_length=200)]


class VisitorBody(_Body):
    name: Annotated[str, Field(min_length=1, max_length=100)]
    id_type: Annotated[str, Field(pattern="^(resident-id|passport|hk-macau-permit|taiwan-permit)$")]
    id_number: Annotated[str, Field(min_length=4, max_length=32)]
    phone: Annotated[str, Field(max_length=32)] = ""
    purpose: Annotated[str, Field(min_length=1, max_length=200)]
    host_id: Annotated[str, Field(min_length=1, max_length=64)]
    minutes: Annotated[int, Field(ge=5, le=1440)] = 120
    plate: Annotated[str | None, Field(max_length=16)] = None
    photo: Annotated[str | None, Field(max_length=4_000_000)] = None  # base64 JPEG/PNG


class GuardDecisionBody(_Body):
    admit: bool
    note: Annotated[str, Field(min_length=2, max_length=500)]


class HostDecisionBody(_Body):
    approve: bool
    method: Annotated[str, Field(pattern="^(console|phone)$")] = "console"


class CardBody(_Body):
    card: Annotated[str, Field(min_length=3, max_length=40)]


class VehicleBody(_Body):
    plate: Annotated[str, Field(min_length=2, max_length=16)]
    kind: Annotated[str, Field(pattern="^(staff|parent|delivery|other)$")] = "staff"
    owner_id: Annotated[str | None, Field(max_length=64)] = None
    days: Annotated[int | None, Field(ge=1, le=3650)] = None  # valid for this many days
    note: Annotated[str, Field(max_length=200)] = ""


class UserBody(_Body):
    username: Annotated[str, Field(min_length=2, max_length=32)]
    password: Annotated[str, Field(min_length=10, max_length=256)]
    role: Annotated[str, Field(pattern="^(guard|admin)$")]


def decision_json(d: Decision) -> dict[str, Any]:
    e = d.event
    return {"id": e.id, "ts": e.ts.isoformat(timespec="seconds"), "type": e.type,
            "lane": e.lane, "direction": e.direction, "method": e.method,
            "decision": e.decision, "reason": e.reason, "person": person_fields(d.person),
            "snapshot": e.snapshot,
            "alerts": [{"id": a.id, "type": a.type, "severity": a.severity} for a in d.alerts]}


class LiveHub:
    """Fans decisions out to every open WebSocket, from whatever thread the engine runs in."""

    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self.queues: set[asyncio.Queue[str]] = set()

    def publish(self, decision: Decision) -> None:
        if self.loop is None:
            return
        text = json.dumps({"kind": "decision", **decision_json(decision)}, ensure_ascii=False)
        for q in list(self.queues):
            self.loop.call_soon_threadsafe(q.put_nowait, text)


def create_app(service: "Service") -> FastAPI:
    config, store, engine = service.config, service.store, service.engine
    auth = Authenticator(store, config.console.session_idle_minutes * 60,
                         config.console.session_absolute_hours * 3600)
    hub = LiveHub()
    engine.subscribe(hub.publish)
    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        hub.loop = asyncio.get_running_loop()  # the live feed is fed from engine threads
        yield

    app = FastAPI(title="campus-gate console", version="1", docs_url=None, redoc_url=None,
                  lifespan=lifespan)
    app.state.hub = hub

    @app.middleware("http")
    async def _security_headers(request: Request,
                                call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        response = await call_next(request)
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; img-src 'self' data:; connect-src 'self'; "
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

    def admin(current: Annotated[Session, Depends(session)]) -> Session:
        if current.role != "admin":
            raise AuthError("admins only", 403)
        return current

    User = Annotated[Session, Depends(session)]
    Admin = Annotated[Session, Depends(admin)]

    # Pages, health, login -------------------------------------------------------------

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> Response:
        return Response(status_code=204)

    @app.get("/healthz")
    def healthz() -> dict[str, Any]:
        return {"status": "ok", "site": config.site, "gate": config.gate}

    @app.post("/api/login")
    def login(body: LoginBody, request: Request, response: Response) -> dict[str, Any]:
        if request.headers.get("content-type", "").split(";")[0] != "application/json":
            raise HTTPException(415, "JSON only")
        client = request.client.host if request.client else "unknown"
        old = request.cookies.get(COOKIE)
        if old:
            auth.logout(old)  # a new session id at every login
        token, current = auth.login(body.username, body.password, client)
        response.set_cookie(COOKIE, token, httponly=True, secure=True, samesite="strict",
                            path="/", max_age=config.console.session_absolute_hours * 3600)
        return {"user": current.username, "role": current.role, "csrf": current.csrf}

    @app.post("/api/logout")
    def logout(current: User, request: Request, response: Response) -> dict[str, str]:
        token = request.cookies.get(COOKIE)
        if token:
            auth.logout(token)
        store.audit(current.username, "logout")
        response.delete_cookie(COOKIE, path="/", secure=True, httponly=True, samesite="strict")
        return {"status": "logged out"}

    @app.get("/api/me")
    def me(current: User) -> dict[str, Any]:
        return {"user": current.username, "role": current.role, "csrf": current.csrf,
                "site": config.site, "gate": config.gate, "language": config.console.language,
                "lanes": [lane.id for lane in config.lanes]}

    # Live page ------------------------------------------------------------------------------

    @app.get("/api/events")
    def events(_u: User, limit: Annotated[int, Query(ge=1, le=500)] = 50) -> list[dict[str, Any]]:
        rows = store.query(
            "SELECT e.*, p.name, p.role, p.class_name FROM events e LEFT JOIN people p"
            " ON p.id = e.person_id ORDER BY e.ts DESC LIMIT ?", (limit,))
        return [{"id": r["id"], "ts": r["ts"], "type": r["type"], "lane": r["lane"],
                 "direction": r["direction"], "method": r["method"], "decision": r["decision"],
                 "reason": r["reason"], "snapshot": r["snapshot"],
                 "person": None if r["person_id"] is None else {
                     "id": r["person_id"], "name": r["name"], "role": r["role"],
                     "class": r["class_name"]}} for r in rows]

    @app.get("/api/alerts")
    def alerts(_u: User, open_only: Annotated[bool, Query(alias="open")] = False,
               limit: Annotated[int, Query(ge=1, le=500)] = 100) -> list[dict[str, Any]]:
        where = "WHERE acknowledged_at IS NULL" if open_only else ""
        rows = store.query(f"SELECT * FROM alerts {where} ORDER BY ts DESC LIMIT ?", (limit,))
        return [{**{k: r[k] for k in ("id", "ts", "type", "severity", "lane", "person_id",
                                       "acknowledged_at", "acknowledged_by", "ack_note",
                                       "escalated_at")},
                 "details": json.loads(r["details"])} for r in rows]

    @app.post("/api/alerts/{alert_id}/ack")
    def ack(alert_id: str, body: AckBody, current: User) -> dict[str, str]:
        with store.transaction() as db:
            done = db.execute(
                "UPDATE alerts SET acknowledged_at = ?, acknowledged_by = ?, ack_note = ?"
                " WHERE id = ? AND acknowledged_at IS NULL",
                (store.now().isoformat(), current.username, body.note.strip(), alert_id))
            if not done.rowcount:
                raise HTTPException(404, "no open alert with that id")
            store.audit(current.username, "alert_acknowledged", alert_id,
                        {"note": body.note.strip()})
        return {"status": "acknowledged"}

    @app.websocket("/api/live")
    async def live(ws: WebSocket) -> None:
        origin = ws.headers.get("origin")
        host = ws.headers.get("host")
        try:
            auth.session(ws.cookies.get(COOKIE))
        except AuthError:
            await ws.close(code=4401)
            return
        if origin and host and origin.split("://", 1)[-1] != host:
            await ws.close(code=4403)  # cross-site WebSocket hijacking
            return
        await ws.accept()
        q: asyncio.Queue[str] = asyncio.Queue()
        hub.queues.add(q)
        try:
            while True:
                await ws.send_text(await q.get())
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            hub.queues.discard(q)

    @app.post("/api/lanes/{lane_id}/open")
    def manual_open(lane_id: str, body: OpenBody, current: User) -> dict[str, Any]:
        try:
            d = engine.manual_open(lane_id, current.username, body.reason)
        except KeyError:
            raise HTTPException(404, "no such lane") from None
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from None
        return decision_json(d)

    # People, attendance -------------------------------------------------------------------

    @app.get("/api/people")
    def people(_u: User, q: Annotated[str, Query(max_length=64)] = "",
               limit: Annotated[int, Query(ge=1, le=200)] = 50) -> list[dict[str, Any]]:
        like = f"%{q}%"
        rows = store.query("SELECT id, name, role, class_name FROM people WHERE id LIKE ? OR"
                           " name LIKE ? ORDER BY id LIMIT ?", (like, like, limit))
        return [{"id": r["id"], "name": r["name"], "role": r["role"], "class": r["class_name"]}
                for r in rows]

    @app.get("/api/people/{person_id}")
    def person(person_id: str, current: User) -> dict[str, Any]:
        p = store.get_person(person_id)
        if p is None:
            raise HTTPException(404, "no such person")
        store.audit(current.username, "person_viewed", person_id)  # ASVS: access to PII
        today = store.now().date()
        recent = store.query("SELECT ts, type, lane, direction, method, decision, reason FROM"
                             " events WHERE person_id = ? ORDER BY ts DESC LIMIT 20",
                             (person_id,))
        cards = store.query("SELECT card_key, active FROM cards WHERE person_id = ?",
                            (person_id,))
        permits = store.query("SELECT valid_from, valid_until, granted_by, reason FROM"
                              " exit_permissions WHERE person_id = ? ORDER BY id DESC LIMIT 5",
                              (person_id,))
        return {**(person_fields(p) or {}), "face_consent": p.face_consent,
                "face_enrolled": bool(store.query(
                    "SELECT 1 FROM face_encodings WHERE person_id = ?", (person_id,))),
                "on_campus": store.last_passage(person_id, today) == "arrival",
                "guardians": [{"id": g.id, "name": g.name, "phone": g.phone}
                              for g in store.guardians_of(person_id)],
                "cards": [dict(r) for r in cards], "recent": [dict(r) for r in recent],
                "exit_permissions": [dict(r) for r in permits]}

    @app.post("/api/people/{person_id}/exit-permissions")
    def exit_permission(person_id: str, body: ExitPermissionBody,
                        current: User) -> dict[str, Any]:
        if store.get_person(person_id) is None:
            raise HTTPException(404, "no such person")
        now = store.now()
        until = now + dt.timedelta(minutes=body.minutes)
        store.add_exit_permission(person_id, now, until, current.username, body.reason)
        store.audit(current.username, "exit_permission", person_id,
                    {"minutes": body.minutes, "reason": body.reason})
        return {"person_id": person_id, "valid_until": until.isoformat(timespec="seconds")}

    def _day(date: str | None) -> dt.date:
        try:
            return dt.date.fromisoformat(date) if date else store.now().date()
        except ValueError:
            raise HTTPException(422, "date must be YYYY-MM-DD") from None

    @app.get("/api/attendance")
    def attendance_json(_u: User, date: Annotated[str | None, Query(max_length=10)] = None
                        ) -> dict[str, Any]:
        day = _day(date)
        rows = [r.as_dict() for r in attendance(store, config.calendar, day)]
        return {"date": day.isoformat(), "rows": rows,
                "late": [r["person_id"] for r in rows if r["late"]],
                "absent": [r["person_id"] for r in rows if r["absent"]]}

    @app.get("/api/attendance.csv", response_class=PlainTextResponse)
    def attendance_csv(_u: User, date: Annotated[str | None, Query(max_length=10)] = None
                       ) -> PlainTextResponse:
        day = _day(date)
        buf = io.StringIO()
        rows = attendance(store, config.calendar, day)
        writer = csv.writer(buf)
        writer.writerow(["person_id", "name", "class", "first_arrival", "last_departure",
                         "on_campus", "late", "absent"])
        for r in rows:
            writer.writerow([r.person_id, r.name, r.class_name, r.first_arrival or "",
                             r.last_departure or "", r.on_campus, r.late, r.absent])
        return PlainTextResponse(buf.getvalue(), media_type="text/csv", headers={
            "Content-Disposition": f'attachment; filename="attendance-{day}.csv"'})

    # Vehicles, watch lists, devices -------------------------------------------------------

    @app.get("/api/vehicles")
    def vehicles(_u: User) -> list[dict[str, Any]]:
        return [dict(r) for r in store.query("SELECT * FROM vehicles ORDER BY plate")]

    @app.post("/api/vehicles")
    def add_vehicle(body: VehicleBody, current: Admin) -> dict[str, Any]:
        plate = validate(body.plate, config.plates.region)
        if plate is None:
            raise HTTPException(422, f"plate: {body.plate!r} is not a valid"
                                     f" {config.plates.region} plate")
        now = store.now()
        until = now + dt.timedelta(days=body.days) if body.days else None
        store.upsert_vehicle(plate.text, body.owner_id, body.kind, now, until, body.note)
        store.audit(current.username, "vehicle_registered", plate.text, {"kind": body.kind})
        return {"plate": plate.text, "kind": body.kind,
                "valid_until": until.isoformat(timespec="seconds") if until else None}

    @app.get("/api/watchlists")
    def watchlists(_u: User) -> dict[str, Any]:
        plates = store.query("SELECT list, plate, reason, severity FROM watchlist_plates"
                             " ORDER BY list, plate")
        persons = store.query("SELECT list, entry_id, name, reason, severity FROM"
                              " watchlist_persons ORDER BY list, entry_id")
        return {"lists": lists_in_force(store), "plates": [dict(r) for r in plates],
                "persons": [dict(r) for r in persons]}

    @app.post("/api/watchlists/local/plates")
    def add_local_plate(body: PlateBody, current: Admin) -> dict[str, str]:
        plate = normalise_plate(body.plate)
        with store.transaction() as db:
            db.execute("INSERT OR IGNORE INTO watchlists (name, source, version, received_at)"
                       " VALUES ('local', 'local', '', ?)", (store.now().isoformat(),))
            db.execute("INSERT INTO watchlist_plates (list, plate, reason) VALUES"
                       " ('local', ?, ?)", (plate, body.reason))
            db.execute("UPDATE watchlists SET entries = (SELECT COUNT(*) FROM watchlist_plates"
                       " WHERE list = 'local') WHERE name = 'local'")
            store.audit(current.username, "watchlist_local_plate", plate, {"reason": body.reason})
        return {"plate": plate, "list": "local"}

    @app.get("/api/devices")
    def devices(_u: User) -> dict[str, Any]:
        return service.device_health()

    # Visitors -----------------------------------------------------------------------------------

    desk = service.visitors

    def _visitor_error(exc: Exception) -> HTTPException:
        return HTTPException(404 if "no visitor" in str(exc) else 422, str(exc))

    @app.get("/api/staff")
    def staff(_u: User) -> list[dict[str, Any]]:
        return [{"id": r["id"], "name": r["name"]} for r in store.query(
            "SELECT id, name FROM people WHERE role = 'staff' AND active = 1 ORDER BY name")]

    @app.post("/api/visitors")
    def register_visitor(body: VisitorBody, current: User) -> dict[str, Any]:
        face = None
        if body.photo:
            try:
                rgb = decode_rgb(base64.b64decode(body.photo, validate=True), "photo")
                face = encode_enrolment_photo(service.face_engine(), rgb)
            except ValueError as exc:  # bad base64 (binascii.Error), non-ASCII, image, face
                raise HTTPException(422, f"photo: {exc}") from None
        reg = Registration(body.name, body.id_type, body.id_number, body.phone, body.purpose,
                           body.host_id, body.minutes, body.plate)
        try:
            visitor = desk.register(reg, current.username, face)
        except VisitorError as exc:
            raise HTTPException(422, str(exc)) from None
        service.publisher.notify()
        return visitor

    @app.get("/api/visitors")
    def visitors(_u: User, date: Annotated[str | None, Query(max_length=10)] = None
                 ) -> list[dict[str, Any]]:
        return desk.list(_day(date))

    @app.get("/api/visitors/{visitor_id}")
    def visitor(visitor_id: str, current: User) -> dict[str, Any]:
        try:
            found = desk.get(visitor_id)
        except VisitorError as exc:
            raise _visitor_error(exc) from None
        store.audit(current.username, "visitor_viewed", visitor_id)
        return found

    @app.post("/api/visitors/{visitor_id}/guard")
    def visitor_guard(visitor_id: str, body: GuardDecisionBody, current: User
                      ) -> dict[str, Any]:
        try:
            return desk.guard_decision(visitor_id, current.username, body.admit, body.note)
        except VisitorError as exc:
            raise _visitor_error(exc) from None

    @app.post("/api/visitors/{visitor_id}/host")
    def visitor_host(visitor_id: str, body: HostDecisionBody, current: User) -> dict[str, Any]:
        try:
            found = desk.host_decision(visitor_id, current.username, body.approve, body.method)
        except VisitorError as exc:
            raise _visitor_error(exc) from None
        service.refresh_visitors()
        return found

    @app.post("/api/visitors/{visitor_id}/card")
    def visitor_card(visitor_id: str, body: CardBody, current: User) -> dict[str, str]:
        try:
            key = registry_key(body.card)
            desk.bind_card(visitor_id, key, current.username)
        except (CardNumberError, VisitorError) as exc:
            raise _visitor_error(exc) from None
        return {"card": key}

    @app.post("/api/visitors/{visitor_id}/checkout")
    def visitor_checkout(visitor_id: str, current: User) -> dict[str, Any]:
        try:
            engine.visitor_checkout(visitor_id, current.username)
            return desk.get(visitor_id)
        except VisitorError as exc:
            raise _visitor_error(exc) from None

    @app.get("/api/visitors/{visitor_id}/pass.svg", response_class=Response)
    def visitor_pass(visitor_id: str, _u: User) -> Response:
        try:
            found = desk.get(visitor_id)
        except VisitorError as exc:
            raise _visitor_error(exc) from None
        if not found["pass_code"]:
            raise HTTPException(409, "no pass: the visit is not approved")
        buf = io.BytesIO()
        segno.make(found["pass_code"], error="m").save(buf, kind="svg", scale=6,
                                                     xmldecl=False)
        return Response(buf.getvalue(), media_type="image/svg+xml")

    # Users, audit (admin) -------------------------------------------------------------------

    @app.get("/api/users")
    def users(_a: Admin) -> list[dict[str, Any]]:
        return [dict(r) for r in store.query(
            "SELECT username, role, disabled, created_at FROM users ORDER BY username")]

    @app.post("/api/users")
    def create_user(body: UserBody, current: Admin) -> dict[str, str]:
        try:
            add_user(store, body.username, body.password, "admin" if body.role == "admin"
                     else "guard")
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from None
        store.audit(current.username, "user_created", body.username, {"role": body.role})
        return {"username": body.username, "role": body.role}

    @app.get("/api/audit")
    def audit(_a: Admin, limit: Annotated[int, Query(ge=1, le=1000)] = 200
              ) -> list[dict[str, Any]]:
        return [{**dict(r), "details": json.loads(r["details"])} for r in store.query(
            "SELECT * FROM audit_log ORDER BY id DESC LIMIT ?", (limit,))]

    return app
