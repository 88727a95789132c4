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
    kept: list[list[bytes]] = []  # kept, sealed: the guard compares them with a hit
    for person in payload.persons:
        vectors = [np.asarray(e, dtype=np.float32) for e in person.encodings]
        images: list[bytes] = []
        for i, photo in enumerate(person.photos):
            if photos is None:
                raise WatchlistError(f"persons[{person.id}].photos: face recognition is off")
            try:
                image = base64.b64decode(photo, validate=True)
                found = photos.enrol(image, EnrolmentQuality(), f"photo {i}")
            except (ValueError, PhotoWorkerError) as exc:  # base64, non-ASCII, image, worker
                raise WatchlistError(f"persons[{person.id}].photos[{i}]: {exc}") from None
            if found.encoding is None:
                raise WatchlistError(f"persons[{person.id}].photos[{i}]: {found.report.reason}")
            vectors.append(found.encoding)
            images.append(image)
        faces.append(vectors)
        kept.append(images)
    with store.transaction() as db:
        db.execute("DELETE FROM watchlists WHERE name = ?", (payload.name,))
        db.execute("INSERT INTO watchlists (name, source, version, received_at, entries)"
                   " VALUES (?,?,?,?,?)", (payload.name, source, payload.version,
                                          store.now().isoformat(),
                                          len(payload.persons) + len(payload.plates)))
        for person, vectors, images in zip(payload.persons, faces, kept, strict=True):
            row = db.execute(
                "INSERT INTO watchlist_persons (list, entry_id, name, id_number, reason, severity)"
                " VALUES (?,?,?,?,?,?)", (payload.name, person.id, person.name,
                                          person.id_number.upper(), person.reason,
                                          person.severity)).lastrowid
            aad = f"watchlist_faces/{payload.name}/{person.id}"  # sealed like every face
            db.executemany("INSERT INTO watchlist_faces (person_row, encoding) VALUES (?,?)",
                           [(row, store.sealer.seal(v.tobytes(), aad)) for v in vectors])
            seal = photo_row_id(payload.name, person.id)
            db.executemany("INSERT INTO watchlist_photos (person_row, photo) VALUES (?,?)",
                           [(row, store.sealer.seal(image, seal)) for image in images])
        db.executemany(
            "INSERT INTO watchlist_plates (list, plate, reason, severity) VALUES (?,?,?,?)",
            [(payload.name, normalise_plate(p.text), p.reason, p.severity)
             for p in payload.plates])
    return len(payload.persons) + len(payload.plates)


def photo_row_id(list_name: str, entry_id: str) -> str:
    """The associated data a listed photo is sealed with: a photo moved onto another entry
    does not open."""
    return f"watchlist_photos/{list_name}/{entry_id}"


def listed_photos(store: Store, list_name: str, entry_id: str) -> list[bytes]:
    """The photos an entry was listed with, opened (for the guard's comparison only; the
    caller audits the view)."""
    rows = store.query("SELECT f.photo FROM watchlist_photos f JOIN watchlist_persons p ON"
                       " p.id = f.person_row WHERE p.list = ? AND p.entry_id = ? ORDER BY f.id",
                       (list_name, entry_id))
    return [store.sealer.open(bytes(r[0]), photo_row_id(list_name, entry_id)) for r in rows]


def watch_gallery(store: Store) -> Gallery:
    """Faces of every list in force; labels are ``list/entry_id``."""
    rows = store.query(
        "SELECT p.list || '/' || p.entry_id, f.encoding FROM watchlist_faces f"
        " JOIN watchlist_persons p ON p.id = f.person_row ORDER BY f.id")
    return Gallery.from_rows([(r[0], store.sealer.open(bytes(r[1]), f"watchlist_faces/{r[0]}"))
                              for r in rows])


def watch_entry(store: Store, label: str) -> dict[str, Any] | None:
    list_name, _, entry_id = label.partition("/")
    rows = store.query("SELECT p.list, p.entry_id, p.name, p.id_number, p.reason, p.severity,"
                       " (SELECT COUNT(*) FROM watchlist_photos f WHERE f.person_row = p.id)"
                       " AS listed_photos FROM watchlist_persons p WHERE p.list = ? AND"
                       " p.entry_id = ?", (list_name, entry_id))
    return dict(rows[0]) if rows else None


def lists_in_force(store: Store) -> list[dict[str, Any]]:
    return [dict(r) for r in store.query("SELECT * FROM watchlists ORDER BY name")]
