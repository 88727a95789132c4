"""The visitor desk: hosts to choose from, registration with screening, the guard's and the
host's decisions, a temporary card, the QR pass and check-out.

Desk errors are typed (``VisitorNotFound`` -> 404, any other ``VisitorError`` -> 422) and
mapped in ``gate.console.errors``; nothing here inspects an error's text.
"""

from __future__ import annotations

import base64
import io
import unicodedata
from collections.abc import Callable
from typing import Any, TypeVar

import segno
from fastapi import APIRouter, Response
from fastapi.responses import PlainTextResponse

from gate.console.auth import AuthError, Session
from gate.console.deps import Console, Ctx, User
from gate.console.errors import Conflict, Invalid, NotFound, WorkerUnavailable
from gate.console.routers.attendance import Day, day_of
from gate.console.routers.desk import registration
from gate.console.schemas import CardBody, GuardDecisionBody, HostDecisionBody, VisitorBody
from gate.console_queries import active_staff
from gate.console_views import has_visitor_photo, person_names
from gate.faces import enrolment_quality
from gate.photo_workers import PhotoWorkerError
from gate.privacy import keep_visitor_photo
from gate.reports import VISITOR_COLUMNS, csv_text, visitor_rows
from recognition.photo_jobs import PhotoRejected
from rfid.cards import registry_key

router = APIRouter(prefix="/api", tags=["visitors"])
T = TypeVar("T")


@router.get("/staff")
def staff(_u: User, ctx: Ctx) -> list[dict[str, Any]]:
    return active_staff(ctx.store)


def _shown(ctx: Console, v: dict[str, Any]) -> dict[str, Any]:
    """A visit as the desk shows it: the host's name, whether there is a photo, the school."""
    names = person_names(ctx.store, [v["host_id"]])
    return {**v, "host_name": names.get(v["host_id"], v["host_id"]),
            "photo": has_visitor_photo(ctx.store, v["id"]),
            "school": ctx.config.console.school_name or ctx.config.site}


def _guard_or_admin(current: Session) -> None:
    if current.role == "host":
        raise AuthError("hosts answer their own visitors only", 403)


@router.post("/visitors")
def register_visitor(body: VisitorBody, current: User, ctx: Ctx) -> dict[str, Any]:
    service = ctx.service
    face = None
    raw: bytes | None = None
    if body.photo:
        try:
            raw = base64.b64decode(body.photo, validate=True)
        except ValueError as exc:  # bad base64 (binascii.Error), non-ASCII
            raise Invalid(f"photo: {exc}", code="photo") from None
        # decoded and encoded in a photo worker process, never in the gate's own
        face = _photo_call(lambda: service.photo_workers.enrol(
            raw, enrolment_quality(ctx.config), "photo")).encoding
        if face is None:
            raise Invalid("photo: no usable face (a clear, frontal face is needed)",
                          code="photo")
    minutes = body.minutes or ctx.config.visitors.default_minutes
    plate = unicodedata.normalize("NFKC", body.plate) if body.plate else None  # full-width
    reg = registration(ctx, body, minutes, plate)  # typed, or read from the ID card's chip
    visitor = service.visitors.register(reg, current.username, face)
    if body.chip_token:  # the card read is used up: the desk does not offer it again
        service.desk_cards.spend(body.chip_token)
    if raw is not None:  # kept (sealed, capped) only with visitors.keep_photo: for the pass
        photo = raw
        _photo_call(lambda: keep_visitor_photo(ctx.config, service.snapshots.snapshots,
                                               visitor["id"], photo, service.photo_workers))
    service.publisher.notify()
    return _shown(ctx, visitor)


def _photo_call(job: Callable[[], T]) -> T:
    """A photo worker's refusals as the desk shows them: the photo's fault (422) or the
    worker's (503, the same request may be sent again)."""
    try:
        return job()
    except PhotoRejected as exc:
        raise Invalid(str(exc), code="photo") from None
    except PhotoWorkerError as exc:
        raise WorkerUnavailable(str(exc)) from None


@router.get("/visitors")
def visitors(_u: User, ctx: Ctx, date: Day = None) -> list[dict[str, Any]]:
    rows = ctx.service.visitors.list(day_of(ctx.store, date))
    names = person_names(ctx.store, [v["host_id"] for v in rows])
    return [{**v, "host_name": names.get(v["host_id"], v["host_id"])} for v in rows]


@router.get("/visitors.csv", response_class=PlainTextResponse)
def visitors_csv(_u: User, ctx: Ctx, date: Day = None) -> PlainTextResponse:
    """The same file as ``gate report visitors --csv`` (gate/reports.py)."""
    day = day_of(ctx.store, date)
    text = csv_text(VISITOR_COLUMNS, visitor_rows(ctx.service.visitors.list(day)))
    return PlainTextResponse(text, media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="visitors-{day}.csv"'})


@router.get("/host/visitors")
def host_visitors(current: User, ctx: Ctx) -> list[dict[str, Any]]:
    """A host's own visitors of today and those still waiting for them."""
    if current.role != "host" or not current.person_id:
        raise AuthError("hosts answer their own visitors only", 403)
    ids = [r[0] for r in ctx.store.query(
        "SELECT id FROM visitors WHERE host_id = ? AND (status = 'awaiting_host' OR"
        " created_at >= ?) ORDER BY status != 'awaiting_host', created_at DESC LIMIT 50",
        (current.person_id, ctx.store.now().date().isoformat()))]
    return [_shown(ctx, ctx.service.visitors.get(i)) for i in ids]


@router.get("/visitors/{visitor_id}")
def visitor(visitor_id: str, current: User, ctx: Ctx) -> dict[str, Any]:
    _guard_or_admin(current)
    found = ctx.service.visitors.get(visitor_id)
    ctx.store.audit(current.username, "visitor_viewed", visitor_id)
    return _shown(ctx, found)


@router.get("/visitors/{visitor_id}/photo", response_class=Response)
def visitor_photo_route(visitor_id: str, current: User, ctx: Ctx) -> Response:
    found = ctx.service.visitors.get(visitor_id)
    if current.role == "host" and found["host_id"] != current.person_id:
        raise AuthError("hosts answer their own visitors only", 403)
    jpeg = ctx.service.snapshots.snapshots.visitor_photo(visitor_id)
    if jpeg is None:
        raise NotFound("no photo of this visitor")
    ctx.store.audit(current.username, "visitor_photo_viewed", visitor_id)
    return Response(jpeg, media_type="image/jpeg", headers={"Cache-Control": "no-store"})


@router.post("/visitors/{visitor_id}/guard")
def visitor_guard(visitor_id: str, body: GuardDecisionBody, current: User, ctx: Ctx
                  ) -> dict[str, Any]:
    return ctx.service.visitors.guard_decision(visitor_id, current.username, body.admit,
                                               body.note)


@router.post("/visitors/{visitor_id}/host")
def visitor_host(visitor_id: str, body: HostDecisionBody, current: User, ctx: Ctx
                 ) -> dict[str, Any]:
    """The host answers for themself (role ``host``, their own visitors only); a guard can
    only record an answer the host gave by phone, with a note of the call (audited)."""
    desk = ctx.service.visitors
    v = desk.get(visitor_id)
    if current.role == "host":
        if v["host_id"] != current.person_id:
            raise Invalid("not this host's visitor", code="not_your_visitor")
        method = "console"
    else:
        note = body.note.strip()
        if body.method != "phone" or len(note) < 2:
            raise Invalid("note: a guard records the host's phone answer with a note",
                          code="phone_note")
        method = "phone"
        ctx.store.audit(current.username, "visitor_host_phone", visitor_id,
                        {"approve": body.approve, "note": note})
    found = desk.host_decision(visitor_id, current.username, body.approve, method)
    ctx.service.refresh_visitors()
    return _shown(ctx, found)


@router.post("/visitors/{visitor_id}/card")
def visitor_card(visitor_id: str, body: CardBody, current: User, ctx: Ctx) -> dict[str, str]:
    key = registry_key(body.card)  # CardNumberError -> 422
    ctx.service.visitors.bind_card(visitor_id, key, current.username)
    return {"card": key}


@router.post("/visitors/{visitor_id}/checkout")
def visitor_checkout(visitor_id: str, current: User, ctx: Ctx) -> dict[str, Any]:
    ctx.engine.visitor_checkout(visitor_id, current.username)
    return _shown(ctx, ctx.service.visitors.get(visitor_id))


@router.get("/visitors/{visitor_id}/pass.svg", response_class=Response)
def visitor_pass(visitor_id: str, _u: User, ctx: Ctx) -> Response:
    found = ctx.service.visitors.get(visitor_id)
    if not found["pass_code"]:
        raise Conflict("no pass: the visit is not approved", code="no_pass")
    buf = io.BytesIO()
    segno.make(found["pass_code"], error="m").save(buf, kind="svg", scale=6, xmldecl=False)
    return Response(buf.getvalue(), media_type="image/svg+xml")
