"""Reads and small writes behind the console's working pages (issue 16): the grouped alert
queue, bulk acknowledgement, the roll call, the campus map, visitor photos and the local
watch list. Like ``gate.console_queries``: functions over a ``Store``, no HTTP, JSON-ready
rows; kept apart so each file stays about one job.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from typing import Any

from gate.identity import mask
from gate.messages import redact
from gate.store import Store
from gate.vocab import PASSAGES, EventType

SEVERITY_RANK = {"critical": 0, "warning": 1, "info": 2}
_LOW = {"info": ("info",), "warning": ("info", "warning")}
MAP_KINDS = ("lane", "reader", "camera")


# Alerts -----------------------------------------------------------------------------------------

def _cause(row: Any, details: dict[str, Any]) -> str:
    """Who or what an alert is about: the person, the visitor, the plate or the card."""
    visitor = details.get("visitor")
    listed = (f"{details['list']}/{details['entry_id']}"
              if details.get("list") and details.get("entry_id") else None)
    return (row["person_id"] or (visitor.get("id") if isinstance(visitor, dict) else None)
            or listed or details.get("plate") or details.get("card") or details.get("device")
            or details.get("component") or "")


def alert_groups(store: Store, limit: int = 2000) -> list[dict[str, Any]]:
    """Open alerts, repeats of one cause (type + lane + person) folded into one group with
    its count, first and last time; most severe first, then the most recent."""
    rows = store.query(
        "SELECT a.*, p.name AS person_name, p.class_name FROM alerts a LEFT JOIN people p ON"
        " p.id = a.person_id WHERE a.acknowledged_at IS NULL ORDER BY a.ts DESC LIMIT ?",
        (limit,))
    groups: dict[tuple[str, str, str], dict[str, Any]] = {}
    parsed = [redact(json.loads(r["details"])) for r in rows]
    names = person_names(store, [d["face_identified_as"] for d in parsed
                                 if isinstance(d.get("face_identified_as"), str)])
    for r, details in zip(rows, parsed, strict=True):
        key = (r["type"], r["lane"] or "", _cause(r, details))
        g = groups.get(key)
        if g is None:
            visitor = details.get("visitor") if isinstance(details.get("visitor"), dict) else {}
            g = groups[key] = {
                "key": "|".join(key), "type": r["type"], "severity": r["severity"],
                "lane": r["lane"], "person_id": r["person_id"],
                "person_name": r["person_name"] or (visitor or {}).get("name"),
                "class": r["class_name"], "last": r["ts"], "first": r["ts"], "count": 0,
                "ids": [], "details": details, "snapshot": r["snapshot"],
                "escalated": False}
        seen_as = details.get("face_identified_as")
        if isinstance(seen_as, str) and "face_identified_name" not in details:
            details["face_identified_name"] = names.get(seen_as, seen_as)
        g["count"] += 1
        g["ids"].append(r["id"])
        g["first"] = r["ts"]
        g["escalated"] = g["escalated"] or r["escalated_at"] is not None
        if SEVERITY_RANK.get(r["severity"], 3) < SEVERITY_RANK.get(g["severity"], 3):
            g["severity"] = r["severity"]
    return sorted(groups.values(), key=lambda g: (SEVERITY_RANK.get(g["severity"], 3),
                                                  _desc(g["last"])))


def _desc(ts: str) -> tuple[int, ...]:
    return tuple(-ord(c) for c in ts)


def recent_handled(store: Store, limit: int = 20) -> list[dict[str, Any]]:
    """Acknowledged alerts with who did it, and the police's acknowledgement beside it."""
    return [dict(r) for r in store.query(
        "SELECT a.id, a.ts, a.type, a.severity, a.lane, a.person_id, p.name AS person_name,"
        " a.acknowledged_at, a.acknowledged_by, a.ack_note, a.police_ack_at, a.police_ack_by,"
        " a.police_ack_note FROM alerts a LEFT JOIN people p ON p.id = a.person_id"
        " WHERE a.acknowledged_at IS NOT NULL OR a.police_ack_at IS NOT NULL"
        " ORDER BY COALESCE(a.acknowledged_at, a.police_ack_at) DESC LIMIT ?", (limit,))]


def acknowledge_many(store: Store, ids: Sequence[str], actor: str, note: str) -> int:
    """Acknowledge these open alerts with one note; one audit row per alert (what the log
    shows of a single acknowledgement), all in one transaction."""
    done = 0
    with store.transaction() as db:
        stamp = store.now().isoformat()
        for alert_id in dict.fromkeys(ids):
            if db.execute("UPDATE alerts SET acknowledged_at = ?, acknowledged_by = ?,"
                          " ack_note = ? WHERE id = ? AND acknowledged_at IS NULL",
                          (stamp, actor, note, alert_id)).rowcount:
                store.audit(actor, "alert_acknowledged", alert_id, {"note": note})
                done += 1
    return done


def acknowledge_low(store: Store, max_severity: str, actor: str, note: str) -> int:
    """Every open alert up to ``max_severity`` (info or warning; a critical one is always
    acknowledged on its own), audited as one bulk action plus one row per alert."""
    severities = _LOW[max_severity]
    marks = ",".join("?" * len(severities))
    ids = [r[0] for r in store.query(
        f"SELECT id FROM alerts WHERE acknowledged_at IS NULL AND severity IN ({marks})",
        severities)]
    done = acknowledge_many(store, ids, actor, note)
    store.audit(actor, "alerts_bulk_acknowledged", max_severity, {"count": done, "note": note})
    return done


def open_critical(store: Store) -> int:
    return int(store.query("SELECT COUNT(*) FROM alerts WHERE acknowledged_at IS NULL AND"
                           " severity = 'critical'")[0][0])


# Roll call --------------------------------------------------------------------------------------

_ARRIVALS = (EventType.ARRIVAL, EventType.VEHICLE_IN, EventType.VISITOR_IN)


def rollcall(store: Store) -> dict[str, Any]:
    """Who is on campus now: each active person whose last passage today was inward, with
    that time, and every admitted visitor (approved or on site) not checked out."""
    now = store.now()
    start = dt.datetime.combine(now.date(), dt.time(), now.tzinfo).isoformat()
    kinds = sorted(PASSAGES)
    marks = ",".join("?" * len(kinds))
    rows = store.query(
        "SELECT p.id, p.name, p.role, p.class_name, e.ts, e.type, e.lane FROM people p JOIN"
        f" (SELECT person_id, MAX(ts) AS ts FROM events WHERE ts >= ? AND type IN ({marks})"
        "  AND decision = 'open' AND person_id IS NOT NULL GROUP BY person_id) last"
        " ON last.person_id = p.id JOIN events e ON e.person_id = p.id AND e.ts = last.ts"
        " WHERE p.active = 1 ORDER BY p.role DESC, p.class_name, p.name", (start, *kinds))
    people: dict[str, dict[str, Any]] = {}
    for r in rows:
        if r["type"] in _ARRIVALS:
            people[r["id"]] = {"id": r["id"], "name": r["name"], "role": r["role"],
                               "class": r["class_name"], "last_passage": r["ts"],
                               "lane": r["lane"]}
    visitors = [{"id": r["id"], "name": r["name"], "host": r["host_name"] or r["host_id"],
                 "status": r["status"], "last_passage": r["last_ts"], "place": r["place"]}
                for r in store.query(
        "SELECT v.id, v.name, v.host_id, v.status, h.name AS host_name,"
        " (SELECT MAX(ts) FROM visitor_route WHERE visitor_id = v.id) AS last_ts,"
        " (SELECT place FROM visitor_route WHERE visitor_id = v.id ORDER BY id DESC LIMIT 1)"
        " AS place FROM visitors v LEFT JOIN people h ON h.id = v.host_id"
        " WHERE v.status IN ('approved', 'on_site') ORDER BY v.name")]
    found = list(people.values())
    return {"at": now.isoformat(timespec="seconds"),
            "pupils": [p for p in found if p["role"] == "student"],
            "staff": [p for p in found if p["role"] == "staff"], "visitors": visitors}


# Visitor photos ---------------------------------------------------------------------------------

def remove_faces(store: Store, person_id: str, actor: str) -> int:
    """Every stored encoding of this person (the face library's "remove"), audited."""
    with store.transaction() as db:
        gone = db.execute("DELETE FROM face_encodings WHERE person_id = ?",
                          (person_id,)).rowcount
        store.audit(actor, "face_removed", person_id, {"encodings": gone})
    return int(gone)


def has_visitor_photo(store: Store, visitor_id: str) -> bool:
    return bool(store.query("SELECT 1 FROM visitor_photos WHERE visitor_id = ?", (visitor_id,)))


def person_names(store: Store, ids: Iterable[str]) -> dict[str, str]:
    wanted = sorted({i for i in ids if i})
    if not wanted:
        return {}
    marks = ",".join("?" * len(wanted))
    return {r[0]: r[1] for r in store.query(f"SELECT id, name FROM people WHERE id IN ({marks})",
                                            wanted)}


# Campus map -------------------------------------------------------------------------------------

def set_map_image(store: Store, image: bytes, media_type: str, actor: str) -> None:
    with store.transaction() as db:
        db.execute("INSERT OR REPLACE INTO campus_map (id, image, media_type, updated_at,"
                   " updated_by) VALUES (1,?,?,?,?)",
                   (image, media_type, store.now().isoformat(), actor))
        store.audit(actor, "map_image_set", None, {"bytes": len(image)})


def map_image(store: Store) -> tuple[bytes, str] | None:
    rows = store.query("SELECT image, media_type FROM campus_map WHERE id = 1")
    return (bytes(rows[0][0]), rows[0][1]) if rows else None


def map_view(store: Store) -> dict[str, Any]:
    meta = store.query("SELECT updated_at, updated_by FROM campus_map WHERE id = 1")
    return {"image": bool(meta), "updated_at": meta[0][0] if meta else None,
            "points": [dict(r) for r in store.query(
                "SELECT kind, ref, x, y FROM map_points ORDER BY kind, ref")]}


def place_on_map(store: Store, kind: str, ref: str, x: float, y: float, actor: str) -> None:
    with store.transaction() as db:
        db.execute("INSERT OR REPLACE INTO map_points (kind, ref, x, y) VALUES (?,?,?,?)",
                   (kind, ref, x, y))
        store.audit(actor, "map_point_set", f"{kind}:{ref}", {"x": round(x, 4),
                                                             "y": round(y, 4)})


def remove_from_map(store: Store, kind: str, ref: str, actor: str) -> bool:
    with store.transaction() as db:
        gone = db.execute("DELETE FROM map_points WHERE kind = ? AND ref = ?",
                          (kind, ref)).rowcount
        if gone:
            store.audit(actor, "map_point_removed", f"{kind}:{ref}")
    return bool(gone)


# Watch lists ------------------------------------------------------------------------------------

def _ensure_local(db: Any, store: Store) -> None:
    db.execute("INSERT OR IGNORE INTO watchlists (name, source, version, received_at)"
               " VALUES ('local', 'local', '', ?)", (store.now().isoformat(),))


def _recount(db: Any) -> None:
    db.execute("UPDATE watchlists SET entries = (SELECT COUNT(*) FROM watchlist_plates WHERE"
               " list = 'local') + (SELECT COUNT(*) FROM watchlist_persons WHERE list ="
               " 'local') WHERE name = 'local'")


def local_plate_listed(store: Store, plate: str) -> bool:
    return bool(store.query("SELECT 1 FROM watchlist_plates WHERE list = 'local' AND"
                            " plate = ?", (plate,)))


def add_local_person(store: Store, name: str, id_number: str, reason: str,
                     actor: str) -> str | None:
    """A person on the local list; None if the same number (or, without one, the same
    name) is already there. Returns the new entry id."""
    dup = store.query("SELECT 1 FROM watchlist_persons WHERE list = 'local' AND"
                      " ((? != '' AND id_number = ?) OR (? = '' AND name = ?))",
                      (id_number, id_number, id_number, name))
    if dup:
        return None
    with store.transaction() as db:
        _ensure_local(db, store)
        n = db.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM watchlist_persons").fetchone()[0]
        entry = f"L{n:05d}"
        db.execute("INSERT INTO watchlist_persons (list, entry_id, name, id_number, reason)"
                   " VALUES ('local', ?, ?, ?, ?)", (entry, name, id_number, reason))
        _recount(db)
        store.audit(actor, "watchlist_local_person", entry,
                    {"name": name, "id_number": mask(id_number), "reason": reason})
    return entry


def remove_local(store: Store, what: str, key: str, actor: str) -> bool:
    """Delete a local entry (``plate`` by plate text, ``person`` by entry id), audited."""
    with store.transaction() as db:
        if what == "plate":
            gone = db.execute("DELETE FROM watchlist_plates WHERE list = 'local' AND plate = ?",
                              (key,)).rowcount
        else:
            gone = db.execute("DELETE FROM watchlist_persons WHERE list = 'local' AND"
                              " entry_id = ?", (key,)).rowcount
        if gone:
            _recount(db)
            store.audit(actor, f"watchlist_local_{what}_removed", key)
    return bool(gone)


def watch_persons(store: Store) -> list[dict[str, Any]]:
    """Listed persons with their ID numbers masked, the listing reason, and whether a photo
    is kept to compare a hit with."""
    return [{"list": r["list"], "entry_id": r["entry_id"], "name": r["name"],
             "id_number": mask(r["id_number"]) if r["id_number"] else "",
             "reason": r["reason"], "severity": r["severity"],
             "photo": bool(r["faces"])} for r in store.query(
        "SELECT p.*, (SELECT COUNT(*) FROM watchlist_photos f WHERE f.person_row = p.id)"
        " AS faces FROM watchlist_persons p ORDER BY p.list, p.entry_id")]


def vehicles_named(store: Store) -> list[dict[str, Any]]:
    return [dict(r) for r in store.query(
        "SELECT v.*, p.name AS owner_name FROM vehicles v LEFT JOIN people p ON"
        " p.id = v.owner_id ORDER BY v.plate")]
