"""The face library, for admins: enrol or replace a pupil's face with consent recorded, see
the quality verdict, remove the face. Without recorded consent nothing is encoded (the
store refuses it too); withdrawing consent is the roster's job and removes every encoding."""

from __future__ import annotations

import base64
import binascii
import dataclasses
import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Response
from fastapi import Path as PathParam

from gate.console.deps import Admin, Ctx
from gate.console.errors import Invalid, NotFound, WorkerUnavailable
from gate.console.schemas import FaceBody
from gate.console_views import person_names, remove_faces
from gate.faces import FaceEnroller, enrolled_photo, enrolled_photos, remove_enrolled_photo

router = APIRouter(prefix="/api", tags=["faces"])

# A template's row id: SQLite's INTEGER is 64-bit signed, so a larger number is a 422 at the
# door, not an OverflowError in the query (the fuzz test found it).
FaceId = Annotated[int, PathParam(ge=1, le=2**63 - 1)]


@router.post("/people/{person_id}/face")
def enrol_face(person_id: str, body: FaceBody, current: Admin, ctx: Ctx) -> dict[str, Any]:
    store = ctx.store
    person = store.get_person(person_id)
    if person is None:
        raise NotFound("no such person", code="not_found")
    if not body.consent:
        raise Invalid("consent: a face is enrolled only with recorded consent",
                      code="consent_required")
    try:
        raw = base64.b64decode(body.photo, validate=True)
    except (binascii.Error, ValueError):
        raise Invalid("photo: not base64", code="photo") from None
    service = ctx.service
    # One enrolment of a person at a time (a double click, two admins): each answer is the
    # verdict on the photo its own request sent. The photo itself is decoded and encoded in
    # a photo worker process (gate/photo_workers.py), never in the gate's own.
    with service.enrolment_locks.hold(person_id):
        if not person.face_consent:
            store.upsert_person(dataclasses.replace(person, face_consent=True))
            store.audit(current.username, "face_consent_recorded", person_id)
        if body.replace:
            remove_faces(store, person_id, current.username)
        with tempfile.TemporaryDirectory() as tmp:  # the enroller reads a file, as a roster
            photo = Path(tmp) / "photo.jpg"
            photo.write_bytes(raw)
            result = FaceEnroller(store, ctx.config, service.photo_workers).enrol(
                person_id, photo, body.confirm_reason)
        if result.worker_failed:
            raise WorkerUnavailable(result.reason)
        details: dict[str, Any] = {"outcome": result.outcome, "replace": body.replace}
        if result.match is not None:
            details["matches"] = {"person": result.match[0],
                                  "distance": round(result.match[1], 3)}
            if result.outcome == "enrolled":
                details["reason"] = body.confirm_reason.strip()
        if result.match is not None and result.outcome == "enrolled":
            store.audit(current.username, "face_enrolled_despite_match", person_id, details)
        else:
            store.audit(current.username, "face_enrolled", person_id, details)
    ctx.service.reload_gallery()  # the engine and the recognition workers
    match = None
    if result.match is not None:
        other, distance = result.match
        match = {"person_id": other, "name": person_names(store, [other]).get(other, other),
                 "distance": round(distance, 3), "closeness": closeness(distance)}
    return {"outcome": result.outcome, "reason": result.reason, "warning": result.warning,
            "quality": result.quality, "match": match}


def closeness(distance: float) -> str:
    """A face distance in words for the admin (translated by the page)."""
    return "same_person" if distance < 0.35 else "very_close" if distance < 0.45 else "close"


@router.get("/people/{person_id}/faces")
def faces_of(person_id: str, _admin: Admin, ctx: Ctx) -> list[dict[str, Any]]:
    """The person's enrolled photos (templates): when, quality, whether the photo is kept."""
    if ctx.store.get_person(person_id) is None:
        raise NotFound("no such person", code="not_found")
    return enrolled_photos(ctx.store, person_id)


@router.get("/people/{person_id}/faces/{face_id}/photo", response_class=Response)
def face_photo(person_id: str, face_id: FaceId, current: Admin, ctx: Ctx) -> Response:
    """A kept enrolment photo, opened deliberately (audited)."""
    jpeg = enrolled_photo(ctx.store, person_id, face_id)
    if jpeg is None:
        raise NotFound("the photo of this template is not kept")
    ctx.store.audit(current.username, "enrolment_photo_viewed", person_id, {"face": face_id})
    return Response(jpeg, media_type="image/jpeg", headers={"Cache-Control": "no-store"})


@router.delete("/people/{person_id}/faces/{face_id}")
def remove_one_face(person_id: str, face_id: FaceId, current: Admin, ctx: Ctx) -> dict[str, Any]:
    if not remove_enrolled_photo(ctx.store, person_id, face_id, current.username):
        raise NotFound("no such enrolled photo")
    ctx.service.reload_gallery()
    return {"removed": 1}


@router.delete("/people/{person_id}/face")
def remove_face(person_id: str, current: Admin, ctx: Ctx) -> dict[str, Any]:
    if ctx.store.get_person(person_id) is None:
        raise NotFound("no such person", code="not_found")
    removed = remove_faces(ctx.store, person_id, current.username)
    ctx.service.reload_gallery()
    return {"removed": removed}
