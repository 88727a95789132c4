"""What the console's evidence pages read: audited image views, the review filter, a
person's passages, the audit log. Plain functions over the store, so the routers stay
thin and the rules (every view of a face is audited, guards cannot touch the audit
log) live here, tested without HTTP.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from gate.journal import AuditRow, Entry, Journal
from gate.snapshots import PARTS, SnapshotWriter
from gate.store import Store


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


def view_snapshot(journal: Journal, writer: SnapshotWriter, snapshot_id: str, part: str,
                  actor: str) -> bytes | None:
    """The decrypted JPEG for a logged-in user; each view is an audit row (who looked at
    whose picture, when), committed before the picture is handed out."""
    if part not in PARTS:
        raise ValueError(f"part must be one of {PARTS}")
    jpeg = writer.read(snapshot_id, part)
    if jpeg is None:
        return None
    rows = journal.store.query("SELECT person_id, lane FROM snapshots WHERE id = ?",
                               (snapshot_id,))
    person = rows[0]["person_id"] if rows else None
    journal.record(Entry(audit=(AuditRow(actor, "snapshot_viewed", snapshot_id,
                                         {"part": part, "person_id": person}),)))
    return jpeg


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
