"""What the console's evidence pages read: audited openings of a snapshot, thumbnails,
the review filter, a person's passages, the audit log. Plain functions over the store, so
the routers stay thin and the rules live here, tested without HTTP.

The audit records deliberate acts (issue 26): a snapshot opened full size is one row,
however many pictures it has; a list that shows thumbnails (the review, the live page's
first load) is one row naming the page and the people on it, and its thumbnails add none.
Refreshes a page makes by itself add nothing, so the log says who chose to look at whom.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from gate.journal import AuditRow, Entry, Journal
from gate.snapshots import PARTS, SnapshotWriter
from gate.store import Store
from gate.watchlist import listed_photos


@dataclass(frozen=True)
class Review:
    """The event review filter (Frigate's review page, for a guard)."""

    day: dt.date | None = None
    lane: str | None = None
    type: str | None = None
    person_id: str | None = None
    with_snapshot: bool = False
    limit: int = 200
    before: str | None = None  # RFC 3339: the page after this one


THUMB_WIDTH = 160  # a list's picture: enough to recognise a scene, not a face in detail


def open_snapshot(journal: Journal, writer: SnapshotWriter, snapshot_id: str,
                  actor: str) -> dict[str, Any] | None:
    """A snapshot opened full size (the scene and the close-up together): one act, one
    audit row (who opened whose picture, when), committed before the pictures are handed
    out. None when there is no picture (never taken, or purged)."""
    pictures = {part: jpeg for part in PARTS
                if (jpeg := writer.read(snapshot_id, part)) is not None}
    if not pictures:
        return None
    rows = journal.store.query("SELECT person_id, kind FROM snapshots WHERE id = ?",
                               (snapshot_id,))
    person = rows[0]["person_id"] if rows else None
    journal.record(Entry(audit=(AuditRow(actor, "snapshot_viewed", snapshot_id,
                                         {"parts": sorted(pictures), "person_id": person}),)))
    return {"id": snapshot_id, "kind": rows[0]["kind"] if rows else None,
            "person_id": person, "pictures": pictures}


def thumbnail(writer: SnapshotWriter, snapshot_id: str) -> bytes | None:
    """The small picture a list shows (the scene, else the close-up, downscaled to
    ``THUMB_WIDTH``). Not audited by itself: the list that named this snapshot was."""
    jpeg = writer.read(snapshot_id, "scene") or writer.read(snapshot_id, "crop")
    return None if jpeg is None else downscaled(jpeg, THUMB_WIDTH)


def downscaled(image: bytes, width: int) -> bytes | None:
    """A JPEG at most ``width`` pixels wide (an image already that small is left as it is);
    None if it is not an image."""
    import cv2
    import numpy as np

    bgr = cv2.imdecode(np.frombuffer(image, np.uint8), cv2.IMREAD_COLOR)
    if bgr is None:
        return None
    if bgr.shape[1] <= width and image[:2] == b"\xff\xd8":
        return image
    if bgr.shape[1] > width:
        height = max(1, round(bgr.shape[0] * width / bgr.shape[1]))
        bgr = cv2.resize(bgr, (width, height), interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 80])
    return buf.tobytes() if ok else None


LISTED_WIDTH = 480  # the listed photo beside the captured face: as wide as a scene


def open_watch_hit(journal: Journal, writer: SnapshotWriter, alert_id: str,
                   actor: str) -> dict[str, Any] | None:
    """A watch-list face hit opened to compare: who is listed (name as listed, the list, the
    reason), how close, the listed photo(s) and the face the camera caught. One deliberate
    act, one audit row (the listed entry, the alert, the snapshot). None when the alert is
    not a watch-list face hit."""
    rows = journal.store.query("SELECT type, snapshot, details FROM alerts WHERE id = ?",
                               (alert_id,))
    if not rows or rows[0]["type"] != "watchlist_face":
        return None
    details = json.loads(rows[0]["details"] or "{}")
    list_name, entry = str(details.get("list", "")), str(details.get("entry_id", ""))
    listed = [small for photo in listed_photos(journal.store, list_name, entry)
              if (small := downscaled(photo, LISTED_WIDTH)) is not None]
    snapshot = rows[0]["snapshot"]
    captured = None
    if snapshot:
        captured = writer.read(snapshot, "crop") or writer.read(snapshot, "scene")
    journal.record(Entry(audit=(AuditRow(actor, "watchlist_photo_viewed",
                                         f"{list_name}/{entry}",
                                         {"alert": alert_id, "snapshot": snapshot,
                                          "photos": len(listed)}),)))
    return {"alert": alert_id, "list": list_name, "entry_id": entry,
            "name": details.get("name"), "reason": details.get("reason"),
            "distance": details.get("distance"), "match": details.get("match"),
            "listed": listed, "captured": captured}


def list_viewed(journal: Journal, actor: str, page: str, rows: list[dict[str, Any]],
                query: dict[str, Any] | None = None) -> None:
    """A list with names and thumbnails was asked for by a person (not refreshed by the
    page): one row with the page, what was asked, and the people on it, which covers
    every thumbnail the list shows."""
    people = sorted({pid for r in rows
                     if (pid := r.get("person_id") or (r.get("person") or {}).get("id"))})
    shown = sum(1 for r in rows if r.get("snapshot"))
    details = {"page": page, "people": people, "rows": len(rows), "snapshots": shown,
               **({"query": {k: v for k, v in query.items() if v not in (None, "", False)}}
                  if query else {})}
    journal.record(Entry(audit=(AuditRow(actor, "list_viewed", page, details),)))


def snapshot_parts(store: Store, snapshot_id: str) -> dict[str, Any] | None:
    """Which pictures a snapshot has (no image, so not an audited view)."""
    rows = store.query("SELECT parts, kind FROM snapshots WHERE id = ?", (snapshot_id,))
    if not rows:
        return None
    return {"id": snapshot_id, "kind": rows[0]["kind"],
            "parts": [p for p in rows[0]["parts"].split(",") if p]}


def person_viewed(journal: Journal, person_id: str, actor: str) -> None:
    """A person's page was opened (the console calls this before rendering it)."""
    journal.record(Entry(audit=(AuditRow(actor, "person_viewed", person_id),)))


def review_events(store: Store, f: Review) -> list[dict[str, Any]]:
    where: list[str] = ["1 = 1"]
    args: list[Any] = []
    if f.day is not None:
        where.append("e.ts >= ? AND e.ts < ?")
        args += [f.day.isoformat(), (f.day + dt.timedelta(days=1)).isoformat()]
    for column, value in (("e.lane", f.lane), ("e.type", f.type), ("e.person_id", f.person_id)):
        if value is not None:
            where.append(f"{column} = ?")
            args.append(value)
    if f.with_snapshot:
        where.append("s.id IS NOT NULL")
    if f.before is not None:
        where.append("e.ts < ?")
        args.append(f.before)
    rows = store.query(
        "SELECT e.id, e.ts, e.type, e.lane, e.direction, e.method, e.person_id, e.decision,"
        " e.reason, s.id AS snapshot, s.parts FROM events e LEFT JOIN snapshots s"
        f" ON s.id = e.snapshot WHERE {' AND '.join(where)} ORDER BY e.ts DESC LIMIT ?",
        [*args, min(max(1, f.limit), 1000)])
    return [{**dict(r), "parts": r["parts"].split(",") if r["parts"] else []} for r in rows]


def person_passages(store: Store, person_id: str, limit: int = 50) -> list[dict[str, Any]]:
    """A person's recent passages with their snapshot ids (thumbnails on their page)."""
    return review_events(store, Review(person_id=person_id, limit=limit))


def audit_log(store: Store, *, action: str | None = None, actor: str | None = None,
              target: str | None = None, limit: int = 200, before_id: int | None = None
              ) -> list[dict[str, Any]]:
    """Newest first; read-only: nothing in the gate updates or deletes audit rows except
    the retention job (``retention.audit_days``)."""
    where: list[str] = ["1 = 1"]
    args: list[Any] = []
    for column, value in (("action", action), ("actor", actor), ("target", target)):
        if value is not None:
            where.append(f"{column} = ?")
            args.append(value)
    if before_id is not None:
        where.append("id < ?")
        args.append(before_id)
    rows = store.query(f"SELECT id, ts, actor, action, target, details FROM audit_log WHERE"
                       f" {' AND '.join(where)} ORDER BY id DESC LIMIT ?",
                       [*args, min(max(1, limit), 1000)])
    # A target that is a visit, a person or an alert is named (an id alone tells a reader
    # nothing); erased people and purged visits keep their bare id.
    targets = sorted({r["target"] for r in rows if r["target"]})
    named: dict[str, tuple[str, str]] = {}
    for i in range(0, len(targets), 500):
        chunk = targets[i:i + 500]
        marks = ",".join("?" * len(chunk))
        for table, label, kind in (("visitors", "name", "visitor"), ("people", "name", "person"),
                                   ("alerts", "type", "alert")):
            named.update({r["id"]: (kind, r["label"]) for r in store.query(
                f"SELECT id, {label} AS label FROM {table} WHERE id IN ({marks})", chunk)})
    out = []
    for r in rows:
        hit = named.get(r["target"] or "")
        out.append({**dict(r), "target_kind": hit[0] if hit else None,
                    "target_name": hit[1] if hit else None})
    return out
