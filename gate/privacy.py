"""Retention, erasure and the data subject's copy: what an inspector asks the gate to prove.

- :func:`purge` removes, per data class, what is older than its configured days:
  files first (snapshots, visitors' photos), then rows. The connection runs with
  ``PRAGMA secure_delete=ON`` (gate/store.py), so deleted biometrics are zeroed in
  the database file, and the WAL is checkpointed and truncated afterwards so no
  older page image of them stays in it either.
- :func:`erase_person` is the right to erasure: encodings, photos and snapshots go,
  passages stay without identity, and the audit row commits with the deletion
  through the journal (who erased whom, when).
- :func:`export_person` writes one person's copy: their record, passages and face
  crops, never a scene (other people are in it) nor another person's id.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import shutil
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gate.config import Config, RetentionConfig
from gate.journal import AuditRow, Entry, Journal
from gate.records import rfc3339
from gate.snapshots import Shot, SnapshotStore
from gate.store import Store, face_row_id
from recognition.photo_jobs import CapPhoto, PhotoEncoder
from recognition.snapshot import SnapshotSettings
from recognition.worker import PlateSighting

log = logging.getLogger("gate.privacy")

CLASSES = ("events", "alerts", "snapshots", "encodings", "visitors", "visitor_photos", "audit")


def snapshot_settings(config: Config) -> SnapshotSettings | None:
    e = config.evidence
    if not e.enabled:
        return None
    return SnapshotSettings(quality=e.jpeg_quality, max_width=e.max_width,
                            max_bytes=e.max_bytes, crop_max_width=e.crop_max_width)


def shot_of_plate(sighting: PlateSighting) -> Shot | None:
    if sighting.scene_jpeg is None and sighting.crop_jpeg is None:
        return None
    return Shot(sighting.scene_jpeg, sighting.crop_jpeg, sighting.camera_id, "plate",
                sighting.ts)


def encodings_fingerprint(store: Store) -> tuple[int, int]:
    """Changes whenever an encoding is added or erased (by this process or another)."""
    count, top = store.query("SELECT COUNT(*), COALESCE(MAX(id), 0) FROM face_encodings")[0]
    return int(count), int(top)


def visitor_row_id(visitor_id: str) -> str:
    return f"visitors/{visitor_id}"


def visitor_face_row_id(visitor_id: str) -> str:
    return f"visitor_faces/{visitor_id}"


def _days(retention: RetentionConfig, cls: str) -> int:
    return int(getattr(retention, {"audit": "audit_days", "encodings": "encodings_days",
                                   "visitor_photos": "visitor_photos_days"}.get(
        cls, f"{cls}_days")))


def _cutoff(now: dt.datetime, days: int) -> str:
    return rfc3339(now - dt.timedelta(days=days))


def purge(store: Store, snaps: SnapshotStore, retention: RetentionConfig, now: dt.datetime,
          *, vacuum: bool = False) -> dict[str, int]:
    """One retention run over every class; returns what each class lost."""
    done: dict[str, int] = {}
    old_snaps = store.query("SELECT id, ts FROM snapshots WHERE ts < ?",
                            (_cutoff(now, retention.snapshots_days),))
    done["snapshots"] = snaps.delete((r[0], r[1]) for r in old_snaps)
    photos = [r[0] for r in store.query(
        "SELECT p.visitor_id FROM visitor_photos p LEFT JOIN visitors v ON v.id = p.visitor_id"
        " WHERE p.created_at < ? OR v.created_at < ? OR v.id IS NULL",
        (_cutoff(now, retention.visitor_photos_days), _cutoff(now, retention.visitors_days)))]
    done["visitor_photos"] = snaps.delete_visitor_photos(photos)
    with store.transaction() as db:
        done["encodings"] = db.execute(
            "DELETE FROM face_encodings WHERE person_id IN (SELECT id FROM people WHERE"
            " active = 0 AND updated_at < ?)", (_cutoff(now, retention.encodings_days),)
        ).rowcount
        # Delivered police copies with an inline JPEG: the receiver has it, so should we not.
        db.execute("DELETE FROM outbox WHERE sent_at IS NOT NULL AND payload LIKE"
                   " '%\"snapshot_jpeg\"%'")
    rows = store.purge(retention, now)
    done["events"], done["alerts"] = rows["events"], rows["alerts"]
    done["audit"], done["visitors"] = rows["audit_log"], rows["visitors"]
    stamp = rfc3339(now)
    with store.transaction() as db:
        db.executemany("INSERT OR REPLACE INTO purge_log (class, last_run, removed, days)"
                       " VALUES (?,?,?,?)",
                       [(cls, stamp, done[cls], _days(retention, cls)) for cls in CLASSES])
    scrub(store, vacuum=vacuum)
    return done


def scrub(store: Store, vacuum: bool = False) -> None:
    """No older page image of deleted rows stays in the WAL; ``vacuum`` also rebuilds the
    file (slow on a big database: the CLI's choice, not the hourly job's)."""
    if vacuum:
        try:
            store.query("VACUUM")
        except sqlite3.OperationalError as exc:  # the running service was mid-write
            log.warning("VACUUM skipped (%s); secure_delete already zeroed the rows", exc)
    busy = store.query("PRAGMA wal_checkpoint(TRUNCATE)")[0][0]
    if busy:
        log.warning("WAL not truncated: a reader was active; the next purge retries")


@dataclass(frozen=True)
class RetentionRow:
    cls: str
    days: int
    oldest: str | None
    records: int
    last_purge: str | None
    removed: int | None

    def as_dict(self) -> dict[str, Any]:
        return {"class": self.cls, "days": self.days, "oldest": self.oldest,
                "records": self.records, "last_purge": self.last_purge,
                "removed": self.removed}


_OLDEST = {"events": ("events", "ts"), "alerts": ("alerts", "ts"),
           "snapshots": ("snapshots", "ts"), "encodings": ("face_encodings", "created_at"),
           "visitors": ("visitors", "created_at"),
           "visitor_photos": ("visitor_photos", "created_at"), "audit": ("audit_log", "ts")}


def retention_status(store: Store, retention: RetentionConfig) -> list[RetentionRow]:
    """The console's retention page: each class, its days, oldest record and last purge."""
    log = {r["class"]: r for r in store.query("SELECT * FROM purge_log")}
    out = []
    for cls in CLASSES:
        table, column = _OLDEST[cls]
        oldest, count = store.query(f"SELECT MIN({column}), COUNT(*) FROM {table}")[0]
        entry = log.get(cls)
        out.append(RetentionRow(cls, _days(retention, cls), oldest, int(count),
                                entry["last_run"] if entry else None,
                                entry["removed"] if entry else None))
    return out


# Erasure ------------------------------------------------------------------------------------

class ErasureError(ValueError):
    pass


def erase_person(journal: Journal, snaps: SnapshotStore, person_id: str, actor: str
                 ) -> dict[str, int]:
    """Everything that identifies the person goes; passages stay, anonymised. The deletion
    and its audit row are one journal entry."""
    store = journal.store
    if store.get_person(person_id) is None:
        raise ErasureError(f"no person {person_id!r}")
    shots: list[tuple[str, str]] = []
    counts: dict[str, int] = {}
    audited: dict[str, Any] = {}  # filled by the write, which runs before the audit insert

    def erase(db: sqlite3.Connection) -> None:
        p = (person_id,)
        # inside the transaction: no snapshot of theirs can be indexed between this and
        # the deletion below
        shots.extend((r[0], r[1]) for r in db.execute(
            "SELECT id, ts FROM snapshots WHERE person_id = ? OR id IN"
            " (SELECT snapshot FROM events WHERE person_id = ? AND snapshot IS NOT NULL)",
            (person_id, person_id)))
        audited["snapshots"] = len(shots)
        counts["encodings"] = db.execute("DELETE FROM face_encodings WHERE person_id = ?",
                                         p).rowcount
        counts["passages_anonymised"] = db.execute(
            "UPDATE events SET person_id = NULL, snapshot = NULL, details = '{}'"
            " WHERE person_id = ?", p).rowcount
        db.execute("UPDATE events SET details = json_remove(details, '$.other')"
                   " WHERE json_extract(details, '$.other') = ?", p)
        counts["alerts_anonymised"] = db.execute(
            "UPDATE alerts SET person_id = NULL, snapshot = NULL WHERE person_id = ?",
            p).rowcount
        db.execute("DELETE FROM exit_permissions WHERE person_id = ?", p)
        db.execute("UPDATE vehicles SET owner_id = NULL WHERE owner_id = ?", p)
        db.execute("DELETE FROM guardians WHERE id IN (SELECT guardian_id FROM person_guardians"
                   " WHERE person_id = ?) AND id NOT IN (SELECT guardian_id FROM"
                   " person_guardians WHERE person_id != ?)", (person_id, person_id))
        db.execute("DELETE FROM outbox WHERE sent_at IS NOT NULL AND payload LIKE ?",
                   (f'%"id":"{person_id}"%',))
        counts["cards"] = db.execute("DELETE FROM cards WHERE person_id = ?", p).rowcount
        db.execute("DELETE FROM people WHERE id = ?", p)
        marks = ",".join("?" * len(shots))
        if shots:
            db.execute(f"DELETE FROM snapshots WHERE id IN ({marks})", [s[0] for s in shots])

    journal.record(Entry(writes=(erase,), audit=(
        AuditRow(actor, "person_erased", person_id, audited),)))
    counts["snapshots"] = len(shots)
    snaps.delete(shots)  # the rows went with the entry; now the files
    photos = store.data_dir / "enrolment-photos" / person_id
    if photos.is_dir():
        shutil.rmtree(photos)
    scrub(store)
    return counts


# The data subject's copy -----------------------------------------------------------------------

def export_person(journal: Journal, snaps: SnapshotStore, person_id: str, out_dir: Path,
                  actor: str) -> Path:
    """``out_dir/person.json`` and ``out_dir/snapshots/<id>.jpg`` (their face crops)."""
    store = journal.store
    person = store.get_person(person_id)
    if person is None:
        raise ErasureError(f"no person {person_id!r}")
    out_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    p = (person_id,)
    row = store.query("SELECT created_at, consent_recorded_at FROM people WHERE id = ?", p)[0]
    passages = [dict(r) for r in store.query(
        "SELECT id, ts, type, lane, direction, method, decision, reason, snapshot FROM events"
        " WHERE person_id = ? ORDER BY ts", p)]
    crops = []
    (out_dir / "snapshots").mkdir(exist_ok=True, mode=0o700)
    for r in store.query("SELECT id, ts, lane, kind FROM snapshots WHERE person_id = ?"
                         " ORDER BY ts", p):
        jpeg = snaps.read(r["id"], "crop")
        if jpeg is None:
            continue
        name = f"snapshots/{r['id']}.jpg"
        (out_dir / name).write_bytes(jpeg)
        crops.append({"id": r["id"], "ts": r["ts"], "lane": r["lane"], "file": name})
    doc = {
        "person": {"id": person.id, "name": person.name, "role": person.role,
                   "class": person.class_name, "active": person.active,
                   "face_consent": person.face_consent, "created_at": row["created_at"],
                   "consent_recorded_at": row["consent_recorded_at"]},
        "cards": [r[0] for r in store.query(
            "SELECT card_key FROM cards WHERE person_id = ?", p)],
        "guardians": [r[0] for r in store.query(
            "SELECT guardian_id FROM person_guardians WHERE person_id = ?", p)],
        "face_encodings": [{"created_at": r[0]} for r in store.query(
            "SELECT created_at FROM face_encodings WHERE person_id = ?", p)],
        "exit_permissions": [dict(r) for r in store.query(
            "SELECT valid_from, valid_until, granted_by, reason FROM exit_permissions"
            " WHERE person_id = ?", p)],
        "passages": passages,
        "alerts": [dict(r) for r in store.query(
            "SELECT id, ts, type, severity, lane FROM alerts WHERE person_id = ? ORDER BY ts",
            p)],
        "snapshots": crops,
        "accesses": [dict(r) for r in store.query(
            "SELECT ts, actor, action FROM audit_log WHERE target = ? ORDER BY id", p)],
        "exported_at": rfc3339(store.now()),
    }
    path = out_dir / "person.json"
    path.write_text(json.dumps(doc, ensure_ascii=False, indent=2))
    journal.record(Entry(audit=(AuditRow(actor, "person_exported", person_id,
                                         {"passages": len(passages),
                                          "snapshots": len(crops)}),)))
    return path


# Key rotation -----------------------------------------------------------------------------------

def reseal_all(store: Store, snaps: SnapshotStore, batch: int = 200) -> dict[str, int]:
    """Every sealed value under the current key (plain ones sealed): ``gate keys init`` and
    ``gate keys rotate``. Batches keep the gate's lock short; each row stays readable
    throughout (it carries its key id)."""
    sealer = store.sealer
    done = {"face_encodings": 0, "visitor_faces": 0, "watchlist_faces": 0, "visitor_ids": 0,
            "files": 0}
    faces = store.query("SELECT id, person_id, source_sha256, encoding FROM face_encodings")
    updates: list[tuple[bytes, Any]] = []
    for r in faces:
        blob, aad = bytes(r["encoding"]), face_row_id(r["person_id"], r["source_sha256"])
        if sealer.needs_reseal(blob):
            updates.append((sealer.seal(sealer.open(blob, aad), aad), r["id"]))
    done["face_encodings"] = _apply(store, "UPDATE face_encodings SET encoding = ? WHERE id = ?",
                                    updates, batch)
    updates = []
    for r in store.query("SELECT visitor_id, encoding FROM visitor_faces"):
        blob, aad = bytes(r[1]), visitor_face_row_id(r[0])
        if sealer.needs_reseal(blob):
            updates.append((sealer.seal(sealer.open(blob, aad), aad), r[0]))
    done["visitor_faces"] = _apply(
        store, "UPDATE visitor_faces SET encoding = ? WHERE visitor_id = ?", updates, batch)
    updates = []
    for r in store.query("SELECT f.id, p.list || '/' || p.entry_id, f.encoding FROM"
                         " watchlist_faces f JOIN watchlist_persons p ON p.id = f.person_row"):
        blob, aad = bytes(r[2]), f"watchlist_faces/{r[1]}"
        if sealer.needs_reseal(blob):
            updates.append((sealer.seal(sealer.open(blob, aad), aad), r[0]))
    done["watchlist_faces"] = _apply(
        store, "UPDATE watchlist_faces SET encoding = ? WHERE id = ?", updates, batch)
    texts: list[tuple[str, str]] = []
    for r in store.query("SELECT id, id_number FROM visitors"):
        aad = visitor_row_id(r[0])
        plain = sealer.open_text(r[1], aad)
        if sealer.encrypted and _text_needs_reseal(store, r[1]):
            texts.append((sealer.seal_text(plain, aad), r[0]))
    done["visitor_ids"] = _apply(store, "UPDATE visitors SET id_number = ? WHERE id = ?",
                                 texts, batch)
    done["files"] = snaps.reseal()
    scrub(store, vacuum=True)
    return done


def _text_needs_reseal(store: Store, value: str) -> bool:
    from gate.crypto import TEXT_PREFIX

    if not value.startswith(TEXT_PREFIX):
        return True
    return store.sealer.needs_reseal(base64.b64decode(value[len(TEXT_PREFIX):]))


def _apply(store: Store, sql: str, updates: Sequence[tuple[Any, ...]], batch: int) -> int:
    for i in range(0, len(updates), batch):
        with store.transaction() as db:
            db.executemany(sql, updates[i:i + batch])
    return len(updates)


def keys_in_use(store: Store) -> set[str]:
    """Key ids any stored value still needs (``gate keys rotate --retire`` keeps these)."""
    from gate.crypto import TEXT_PREFIX, key_id_of

    used = {key_id_of(bytes(r[0])) for r in store.query("SELECT encoding FROM face_encodings")}
    used |= {key_id_of(bytes(r[0])) for r in store.query("SELECT encoding FROM visitor_faces")}
    used |= {key_id_of(bytes(r[0])) for r in store.query("SELECT encoding FROM watchlist_faces")}
    used |= {key_id_of(base64.b64decode(r[0][len(TEXT_PREFIX):])) for r in store.query(
        "SELECT id_number FROM visitors WHERE id_number LIKE 'enc1:%'")}
    used |= {r[0] for r in store.query("SELECT key_id FROM snapshots")}
    used |= {r[0] for r in store.query("SELECT key_id FROM visitor_photos")}
    return {k for k in used if k}


def keep_visitor_photo(config: Config, snaps: SnapshotStore, visitor_id: str,
                       image: bytes, photos: PhotoEncoder) -> bool:
    """The desk camera's photo of a visitor, kept (encrypted, capped like a snapshot) only
    when ``visitors.keep_photo`` is set; returns whether it was kept. The uploaded bytes are
    decoded and re-encoded by ``photos`` (a photo worker in the gate): what is stored is our
    own JPEG."""
    if not config.visitors.keep_photo:
        return False
    e = config.evidence
    jpeg = photos.cap_jpeg(CapPhoto(image, e.max_width, e.jpeg_quality, e.max_bytes, "photo"))
    snaps.save_visitor_photo(visitor_id, jpeg)
    return True
