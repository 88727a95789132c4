"""Watch lists from the police (over MQTT, retained) or entered locally.

A payload is validated whole before anything changes: a bad one is rejected,
logged and reported with an alert, and the list already in force stays. The
last good copy lives in SQLite, so the gate screens offline too.
"""

from __future__ import annotations

import base64
import json
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from gate.photo_workers import PhotoWorkerError
from gate.store import Store
from recognition.enrol import EnrolmentQuality
from recognition.gallery import Gallery
from recognition.photo_jobs import PhotoEncoder

WATCHLIST_SCHEMA = "campus-gate/watchlist/1"
MAX_PHOTO_BYTES = 2_000_000


class WatchlistError(ValueError):
    """A payload that cannot be applied; the message says why."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WatchPerson(_Strict):
    id: Annotated[str, Field(min_length=1, max_length=64)]
    name: Annotated[str, Field(min_length=1, max_length=100)]
    id_number: Annotated[str, Field(max_length=32)] = ""
    reason: Annotated[str, Field(max_length=500)] = ""
    severity: Literal["warning", "critical"] = "critical"
    encodings: list[Annotated[list[float], Field(min_length=128, max_length=128)]] = []
    photos: list[str] = []  # base64 JPEG/PNG

    @field_validator("photos")
    @classmethod
    def _sizes(cls, photos: list[str]) -> list[str]:
        for p in photos:
            if len(p) * 3 // 4 > MAX_PHOTO_BYTES:
                raise ValueError(f"photo larger than {MAX_PHOTO_BYTES} bytes")
        return photos


class WatchPlate(_Strict):
    text: Annotated[str, Field(min_length=2, max_length=16)]
    reason: Annotated[str, Field(max_length=500)] = ""
    severity: Literal["warning", "critical"] = "critical"


class WatchlistPayload(_Strict):
    schema_: Annotated[Literal["campus-gate/watchlist/1"], Field(alias="schema")]
    name: Annotated[str, Field(alias="list", pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")]
    version: str = ""
    issued_at: str = ""
    persons: list[WatchPerson] = []
    plates: list[WatchPlate] = []


def parse_payload(raw: bytes) -> WatchlistPayload:
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WatchlistError(f"not JSON: {exc}") from None
    try:
        return WatchlistPayload.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise WatchlistError(f"{where}: {first['msg']} ({exc.error_count()} problem(s))") from None


def normalise_plate(text: str) -> str:
    return "".join(ch for ch in text.upper() if ch.isalnum())


def apply_watchlist(store: Store, payload: WatchlistPayload, source: str,
                    photos: PhotoEncoder | None) -> int:
    """Replace the named list atomically; photos are encoded first (by ``photos``: a photo
    worker process in the gate), so a bad photo rejects the whole payload before anything
    changes. Returns the number of entries."""
    faces: list[list[np.ndarray]] = []
    for person in payload.persons:
        vectors = [np.asarray(e, dtype=np.float32) for e in person.encodings]
        for i, photo in enumerate(person.photos):
            if photos is None:
                raise WatchlistError(f"persons[{person.id}].photos: face recognition is off")
            try:
                found = photos.enrol(base64.b64decode(photo, validate=True),
                                     EnrolmentQuality(), f"photo {i}")
            except (ValueError, PhotoWorkerError) as exc:  # base64, non-ASCII, image, worker
                raise WatchlistError(f"persons[{person.id}].photos[{i}]: {exc}") from None
            if found.encoding is None:
                raise WatchlistError(f"persons[{person.id}].photos[{i}]: {found.report.reason}")
            vectors.append(found.encoding)
        faces.append(vectors)
    with store.transaction() as db:
        db.execute("DELETE FROM watchlists WHERE name = ?", (payload.name,))
        db.execute("INSERT INTO watchlists (name, source, version, received_at, entries)"
                   " VALUES (?,?,?,?,?)", (payload.name, source, payload.version,
                                          store.now().isoformat(),
                                          len(payload.persons) + len(payload.plates)))
        for person, vectors in zip(payload.persons, faces, strict=True):
            row = db.execute(
                "INSERT INTO watchlist_persons (list, entry_id, name, id_number, reason, severity)"
                " VALUES (?,?,?,?,?,?)", (payload.name, person.id, person.name,
                                          person.id_number.upper(), person.reason,
                                          person.severity)).lastrowid
            aad = f"watchlist_faces/{payload.name}/{person.id}"  # sealed like every face
            db.executemany("INSERT INTO watchlist_faces (person_row, encoding) VALUES (?,?)",
                           [(row, store.sealer.seal(v.tobytes(), aad)) for v in vectors])
        db.executemany(
            "INSERT INTO watchlist_plates (list, plate, reason, severity) VALUES (?,?,?,?)",
            [(payload.name, normalise_plate(p.text), p.reason, p.severity)
             for p in payload.plates])
    return len(payload.persons) + len(payload.plates)


def watch_gallery(store: Store) -> Gallery:
    """Faces of every list in force; labels are ``list/entry_id``."""
    rows = store.query(
        "SELECT p.list || '/' || p.entry_id, f.encoding FROM watchlist_faces f"
        " JOIN watchlist_persons p ON p.id = f.person_row ORDER BY f.id")
    return Gallery.from_rows([(r[0], store.sealer.open(bytes(r[1]), f"watchlist_faces/{r[0]}"))
                              for r in rows])


def watch_entry(store: Store, label: str) -> dict[str, Any] | None:
    list_name, _, entry_id = label.partition("/")
    rows = store.query("SELECT list, entry_id, name, id_number, reason, severity FROM"
                       " watchlist_persons WHERE list = ? AND entry_id = ?",
                       (list_name, entry_id))
    return dict(rows[0]) if rows else None


def lists_in_force(store: Store) -> list[dict[str, Any]]:
    return [dict(r) for r in store.query("SELECT * FROM watchlists ORDER BY name")]
