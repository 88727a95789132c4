"""The face library, for admins: enrol or replace a pupil's face with consent recorded, see
the quality verdict, remove the face. Without recorded consent nothing is encoded (the
store refuses it too); withdrawing consent is the roster's job and removes every encoding."""

from __future__ import annotations

import base64
import binascii
import dataclasses
import tempfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter

from gate.console.deps import Admin, Ctx
from gate.console.errors import Invalid, NotFound, WorkerUnavailable
from gate.console.schemas import FaceBody
from gate.console_views import remove_faces
from gate.faces import FaceEnroller

router = APIRouter(prefix="/api", tags=["faces"])


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
            result = FaceEnroller(store, ctx.config, service.photo_workers).enrol(person_id,
                                                                                photo)
        if result.worker_failed:
            raise WorkerUnavailable(result.reason)
        store.audit(current.username, "face_enrolled", person_id,
                    {"outcome": result.outcome, "replace": body.replace})
    ctx.service.reload_gallery()  # the engine and the recognition workers
    return {"outcome": result.outcome, "reason": result.reason, "warning": result.warning}


@router.delete("/people/{person_id}/face")
def remove_face(person_id: str, current: Admin, ctx: Ctx) -> dict[str, Any]:
    if ctx.store.get_person(person_id) is None:
        raise NotFound("no such person", code="not_found")
    removed = remove_faces(ctx.store, person_id, current.username)
    ctx.service.reload_gallery()
    return {"removed": removed}
