"""The console's reads and small writes, as functions over a ``Store``.

The console's route handlers hold no SQL: they call these. Each takes the store it works
on and uses only ``store.query`` and ``store.transaction``, so the store can change how it
serialises writers without touching the console. Rows come back as JSON-ready dicts.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

from gate.console.hub import shown_details
from gate.messages import person_fields, redact
from gate.store import Store
from gate.watchlist import lists_in_force

_ALERT_FIELDS = ("id", "ts", "type", "severity", "lane", "person_id", "acknowledged_at",
                 "acknowledged_by", "ack_note", "escalated_at", "snapshot",
                 "police_ack_at", "police_ack_by", "police_ack_note")


# Live page ----------------------------------------------------------------------------------

def recent_events(store: Store, limit: int) -> list[dict[str, Any]]:
    rows = store.query(
        "SELECT e.*, p.name, p.role, p.class_name FROM events e LEFT JOIN people p"
        " ON p.id = e.person_id ORDER BY e.ts DESC LIMIT ?", (limit,))
    return [{"id": r["id"], "ts": r["ts"], "type": r["type"], "lane": r["lane"],
             "direction": r["direction"], "method": r["method"], "decision": r["decision"],
             "reason": r["reason"], "snapshot": r["snapshot"],
             "details": shown_details(json.loads(r["details"] or "{}")),
             "person": None if r["person_id"] is None else {
                 "id": r["person_id"], "name": r["name"], "role": r["role"],
                 "class": r["class_name"]}} for r in rows]


# Alerts ---------------------------------------------------------------------------------------

def list_alerts(store: Store, open_only: bool, limit: int) -> list[dict[str, Any]]:
    where = "WHERE acknowledged_at IS NULL" if open_only else ""
    rows = store.query(f"SELECT * FROM alerts {where} ORDER BY ts DESC LIMIT ?", (limit,))
    return [{**{k: r[k] for k in _ALERT_FIELDS}, "details": redact(json.loads(r["details"]))}
            for r in rows]


# People ---------------------------------------------------------------------------------------

def search_people(store: Store, q: str, limit: int) -> list[dict[str, Any]]:
    like = f"%{q}%"
    rows = store.query("SELECT id, name, role, class_name FROM people WHERE id LIKE ? OR"
                       " name LIKE ? ORDER BY id LIMIT ?", (like, like, limit))
    return [{"id": r["id"], "name": r["name"], "role": r["role"], "class": r["class_name"]}
            for r in rows]


def person_detail(store: Store, person_id: str) -> dict[str, Any] | None:
    p = store.get_person(person_id)
    if p is None:
        return None
    today = store.now().date()
    recent = store.query("SELECT ts, type, lane, direction, method, decision, reason FROM"
                         " events WHERE person_id = ? ORDER BY ts DESC LIMIT 20", (person_id,))
    cards = store.query("SELECT card_key, active FROM cards WHERE person_id = ?", (person_id,))
    permits = store.query("SELECT valid_from, valid_until, granted_by, reason FROM"
                          " exit_permissions WHERE person_id = ? ORDER BY id DESC LIMIT 5",
                          (person_id,))
    enrolled = store.query("SELECT 1 FROM face_encodings WHERE person_id = ? LIMIT 1",
                           (person_id,))
    return {**(person_fields(p) or {}), "face_consent": p.face_consent,
            "face_enrolled": bool(enrolled),
            "on_campus": store.last_passage(person_id, today) == "arrival",
            "guardians": [{"id": g.id, "name": g.name, "phone": g.phone}
                          for g in store.guardians_of(person_id)],
            "cards": [dict(r) for r in cards], "recent": [dict(r) for r in recent],
            "exit_permissions": [dict(r) for r in permits]}


def grant_exit_permission(store: Store, person_id: str, minutes: int, actor: str,
                          reason: str) -> dt.datetime | None:
    """The permission's end, or None if there is no such person."""
    if store.get_person(person_id) is None:
        return None
    now = store.now()
    until = now + dt.timedelta(minutes=minutes)
    with store.transaction():
        store.add_exit_permission(person_id, now, until, actor, reason)
        store.audit(actor, "exit_permission", person_id, {"minutes": minutes, "reason": reason})
    return until


def active_staff(store: Store) -> list[dict[str, Any]]:
    """Staff who can host a visitor."""
    return [{"id": r["id"], "name": r["name"]} for r in store.query(
        "SELECT id, name FROM people WHERE role = 'staff' AND active = 1 ORDER BY name")]


# Vehicles and watch lists -------------------------------------------------------------------

def list_vehicles(store: Store) -> list[dict[str, Any]]:
    return [dict(r) for r in store.query("SELECT * FROM vehicles ORDER BY plate")]


class PlateRegistered(Exception):
    """The plate is registered already and the admin has not confirmed replacing it."""

    def __init__(self, current: dict[str, Any]) -> None:
        super().__init__(f"{current['plate']} is registered already")
        self.current = current


def register_vehicle(store: Store, plate: str, kind: str, owner_id: str | None,
                     days: int | None, note: str, actor: str,
                     replace: bool = False) -> dt.datetime | None:
    """Register a vehicle from now on, for ``days`` or without end; audited. A plate that is
    registered already is replaced only with ``replace`` (the admin was asked and said
    yes), and the audit row keeps what it replaced; otherwise :class:`PlateRegistered`
    says who has it. Returns the end of its validity."""
    now = store.now()
    until = now + dt.timedelta(days=days) if days else None
    with store.transaction() as db:
        rows = db.execute("SELECT v.plate, v.owner_id, v.kind, v.note, v.valid_until,"
                          " p.name AS owner_name FROM vehicles v LEFT JOIN people p ON"
                          " p.id = v.owner_id WHERE v.plate = ?", (plate,)).fetchall()
        current = dict(rows[0]) if rows else None
        if current is not None and not replace:
            raise PlateRegistered(current)
        store.upsert_vehicle(plate, owner_id, kind, now, until, note)
        if current is None:
            store.audit(actor, "vehicle_registered", plate, {"kind": kind})
        else:
            store.audit(actor, "vehicle_replaced", plate, {
                "kind": kind, "owner_id": owner_id,
                "was": {k: current[k] for k in ("owner_id", "kind", "note", "valid_until")}})
    return until


def watchlists_view(store: Store) -> dict[str, Any]:
    plates = store.query("SELECT list, plate, reason, severity FROM watchlist_plates"
                         " ORDER BY list, plate")
    persons = store.query("SELECT list, entry_id, name, reason, severity FROM"
                          " watchlist_persons ORDER BY list, entry_id")
    return {"lists": lists_in_force(store), "plates": [dict(r) for r in plates],
            "persons": [dict(r) for r in persons]}


def add_local_plate(store: Store, plate: str, reason: str, actor: str) -> None:
    """A plate on the gate's own ``local`` watch list (created on first use), audited."""
    with store.transaction() as db:
        db.execute("INSERT OR IGNORE INTO watchlists (name, source, version, received_at)"
                   " VALUES ('local', 'local', '', ?)", (store.now().isoformat(),))
        db.execute("INSERT INTO watchlist_plates (list, plate, reason) VALUES"
                   " ('local', ?, ?)", (plate, reason))
        db.execute("UPDATE watchlists SET entries = (SELECT COUNT(*) FROM watchlist_plates"
                   " WHERE list = 'local') WHERE name = 'local'")
        store.audit(actor, "watchlist_local_plate", plate, {"reason": reason})


# Users and audit ------------------------------------------------------------------------------

def list_users(store: Store) -> list[dict[str, Any]]:
    return [dict(r) for r in store.query(
        "SELECT username, role, disabled, created_at, person_id FROM users ORDER BY username")]


def audit_entries(store: Store, limit: int) -> list[dict[str, Any]]:
    return [{**dict(r), "details": json.loads(r["details"])} for r in store.query(
        "SELECT * FROM audit_log ORDER BY id DESC LIMIT ?", (limit,))]


def alerts_of_types(store: Store, types: Sequence[str], limit: int) -> list[dict[str, Any]]:
    """The newest alerts of these types (the perimeter view's list)."""
    marks = ",".join("?" * len(types))
    rows = store.query(
        f"SELECT id, ts, type, severity, details, acknowledged_at FROM alerts WHERE type IN"
        f" ({marks}) ORDER BY ts DESC LIMIT ?", (*types, limit))
    return [{**{k: r[k] for k in ("id", "ts", "type", "severity", "acknowledged_at")},
             "details": json.loads(r["details"])} for r in rows]
