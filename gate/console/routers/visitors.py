"""The visitor desk: hosts to choose from, registration with screening, the guard's and the
host's decisions, a temporary card, the QR pass and check-out.

Desk errors are typed (``VisitorNotFound`` -> 404, any other ``VisitorError`` -> 422) and
mapped in ``gate.console.errors``; nothing here inspects an error's text.
"""

from __future__ import annotations

import base64
import io
from typing import Any

import segno
from fastapi import APIRouter, Response

from gate.console.deps import Ctx, User
from gate.console.errors import Conflict, Invalid
from gate.console.routers.attendance import Day, day_of
from gate.console.schemas import CardBody, GuardDecisionBody, HostDecisionBody, VisitorBody
from gate.console_queries import active_staff
from gate.visitors import Registration
from recognition.enrol import encode_enrolment_photo
from recognition.images import decode_rgb
from rfid.cards import registry_key

router = APIRouter(prefix="/api", tags=["visitors"])


@router.get("/staff")
def staff(_u: User, ctx: Ctx) -> list[dict[str, Any]]:
    return active_staff(ctx.store)


@router.post("/visitors")
def register_visitor(body: VisitorBody, current: User, ctx: Ctx) -> dict[str, Any]:
    service = ctx.service
    face = None
    if body.photo:
        try:
            rgb = decode_rgb(base64.b64decode(body.photo, validate=True), "photo")
            face = encode_enrolment_photo(service.face_engine(), rgb)
        except ValueError as exc:  # bad base64 (binascii.Error), non-ASCII, image, face
            raise Invalid(f"photo: {exc}") from None
    minutes = body.minutes or ctx.config.visitors.default_minutes
    reg = Registration(body.name, body.id_type, body.id_number, body.phone, body.purpose,
                       body.host_id, minutes, body.plate)
    visitor = service.visitors.register(reg, current.username, face)
    service.publisher.notify()
    return visitor


@router.get("/visitors")
def visitors(_u: User, ctx: Ctx, date: Day = None) -> list[dict[str, Any]]:
    return ctx.service.visitors.list(day_of(ctx.store, date))


@router.get("/visitors/{visitor_id}")
def visitor(visitor_id: str, current: User, ctx: Ctx) -> dict[str, Any]:
    found = ctx.service.visitors.get(visitor_id)
    ctx.store.audit(current.username, "visitor_viewed", visitor_id)
    return found


@router.post("/visitors/{visitor_id}/guard")
def visitor_guard(visitor_id: str, body: GuardDecisionBody, current: User, ctx: Ctx
                  ) -> dict[str, Any]:
    return ctx.service.visitors.guard_decision(visitor_id, current.username, body.admit,
                                               body.note)


@router.post("/visitors/{visitor_id}/host")
def visitor_host(visitor_id: str, body: HostDecisionBody, current: User, ctx: Ctx
                 ) -> dict[str, Any]:
    found = ctx.service.visitors.host_decision(visitor_id, current.username, body.approve,
                                               body.method)
    ctx.service.refresh_visitors()
    return found


@router.post("/visitors/{visitor_id}/card")
def visitor_card(visitor_id: str, body: CardBody, current: User, ctx: Ctx) -> dict[str, str]:
    key = registry_key(body.card)  # CardNumberError -> 422
    ctx.service.visitors.bind_card(visitor_id, key, current.username)
    return {"card": key}


@router.post("/visitors/{visitor_id}/checkout")
def visitor_checkout(visitor_id: str, current: User, ctx: Ctx) -> dict[str, Any]:
    ctx.engine.visitor_checkout(visitor_id, current.username)
    return ctx.service.visitors.get(visitor_id)


@router.get("/visitors/{visitor_id}/pass.svg", response_class=Response)
def visitor_pass(visitor_id: str, _u: User, ctx: Ctx) -> Response:
    found = ctx.service.visitors.get(visitor_id)
    if not found["pass_code"]:
        raise Conflict("no pass: the visit is not approved")
    buf = io.BytesIO()
    segno.make(found["pass_code"], error="m").save(buf, kind="svg", scale=6, xmldecl=False)
    return Response(buf.getvalue(), media_type="image/svg+xml")
