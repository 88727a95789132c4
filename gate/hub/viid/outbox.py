"""The gateway's bookkeeping in PostgreSQL (migration 0004): what is owed to the upper
platform, and the dispositions it sent down.

Exactly once, in three steps, each committed before the next begins:
1. ``enqueue``: a gate message's captures are written keyed by (site, gate, message id, kind)
   before the message is acknowledged to RabbitMQ; a redelivery is a no-op.
2. ``take``: rows go ``pending`` -> ``inflight`` before they are POSTed.
3. ``mark_sent`` on the platform's StatusCode 0; ``mark_pending`` when the platform refused
   or was never reached. A row left ``inflight`` (no answer, a crash) is looked up on the
   platform by its id (``GET /VIID/Faces?Face.FaceID=...``) before it is sent again.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from gate.hub.config import HubConfig
from gate.hub.viid import ids, objects
from gate.hub.viid.mapping import Capture, captures

log = logging.getLogger("gate.hub.viid")
KINDS = ("notification", "face", "vehicle")   # hits first
REFUSE_AFTER = 5   # answers with a non-zero StatusCode before an object is set aside


def normalise_plate(text: str) -> str:
    return "".join(ch for ch in text.upper() if ch.isalnum())


def _object(config: HubConfig, cap: Capture, device: str, seq: int) -> tuple[str, dict[str, Any]]:
    shot = ids.viid_time(cap.shot, config.timezone)
    source = ids.image_id(device, shot, seq)
    if cap.kind == "face":
        oid = ids.object_id(source, ids.FACE_TYPE, seq)
        return oid, objects.face(face_id=oid, source_id=source, device=device, shot=shot,
                                 images=cap.images)
    oid = ids.object_id(source, ids.MOTOR_VEHICLE_TYPE, seq)
    return oid, objects.motor_vehicle(vehicle_id=oid, source_id=source, device=device,
                                      shot=shot, plate=cap.plate or "", images=cap.images)


def find_disposition(conn: psycopg.Connection[Any], cap: Capture) -> tuple[str, str] | None:
    """(DispositionID, Title) of the active disposition a hit is on."""
    if cap.hit is None:
        return None
    if cap.hit.entry_id:
        row = conn.execute("SELECT disposition_id, title FROM viid_dispositions WHERE"
                           " disposition_id = %s AND active", (cap.hit.entry_id,)).fetchone()
    else:
        row = conn.execute("SELECT disposition_id, title FROM viid_dispositions WHERE"
                           " plate = %s AND active ORDER BY updated_at DESC LIMIT 1",
                           (normalise_plate(cap.hit.plate or ""),)).fetchone()
    return (str(row[0]), str(row[1])) if row else None


INSERT = """
INSERT INTO viid_outbox (site, gate, source_id, kind, object_id, body)
VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (site, gate, source_id, kind) DO NOTHING
"""


def enqueue(config: HubConfig, conn: psycopg.Connection[Any],
            messages: Iterable[tuple[str, str, str, dict[str, Any]]],
            now: dt.datetime) -> int:
    """Writes the captures of (kind, site, gate, payload) messages in one transaction;
    returns the rows added. Gates without a device code are kept in ``rejected``."""
    v = config.viid
    added = 0
    with conn.transaction(), conn.cursor() as cur:
        for kind, site, gate, payload in messages:
            for cap in captures(kind, site, gate, payload, pupils=v.pupils,
                                watchlist=v.watchlist):
                device = v.devices.get(f"{site}/{gate}")
                if device is None:
                    cur.execute("INSERT INTO rejected (routing_key, reason, body) VALUES"
                                " (%s, %s, %s)", (f"{site}.{gate}.viid", "viid: no device"
                                                  f" code for {site}/{gate}", cap.source_id))
                    continue
                row = cur.execute("SELECT nextval('viid_seq')").fetchone()
                seq = int(row[0]) if row else 0
                oid, obj = _object(config, cap, device, seq)
                cur.execute(INSERT, (site, gate, cap.source_id, cap.kind, oid, Jsonb(obj)))
                added += cur.rowcount
                hit = find_disposition(conn, cap) if cur.rowcount else None
                if hit is None:
                    continue
                nid = ids.business_id(v.org_code, ids.NOTIFICATION_SUBTYPE,
                                      ids.viid_time(now, config.timezone), seq)
                note = objects.disposition_notification(
                    notification_id=nid, disposition_id=hit[0], title=hit[1],
                    trigger=ids.viid_time(cap.shot, config.timezone), object_id=oid,
                    face_obj=obj if cap.kind == "face" else None,
                    vehicle_obj=obj if cap.kind == "vehicle" else None)
                cur.execute(INSERT, (site, gate, cap.source_id, "notification", nid,
                                     Jsonb(note)))
                added += cur.rowcount
    return added


def take(conn: psycopg.Connection[Any], kind: str,
         limit: int) -> list[tuple[str, dict[str, Any], int]]:
    """Up to ``limit`` pending rows of one kind, oldest first, now ``inflight``:
    (object id, object, attempts including this one)."""
    with conn.transaction():
        rows = conn.execute(
            "UPDATE viid_outbox SET state = 'inflight', attempts = attempts + 1 WHERE seq IN"
            " (SELECT seq FROM viid_outbox WHERE kind = %s AND state = 'pending'"
            "  ORDER BY seq LIMIT %s FOR UPDATE SKIP LOCKED)"
            " RETURNING seq, object_id, body, attempts", (kind, limit)).fetchall()
    return [(str(r[1]), r[2], int(r[3])) for r in sorted(rows, key=lambda r: int(r[0]))]


def inflight(conn: psycopg.Connection[Any], kind: str) -> list[str]:
    return [str(r[0]) for r in conn.execute(
        "SELECT object_id FROM viid_outbox WHERE kind = %s AND state = 'inflight' ORDER BY seq",
        (kind,))]


def mark_sent(conn: psycopg.Connection[Any], object_ids: list[str]) -> None:
    """Delivered: the images are dropped, the id and time kept."""
    if object_ids:
        conn.execute("UPDATE viid_outbox SET state = 'sent', body = NULL,"
                     " sent_at = clock_timestamp() WHERE object_id = ANY(%s)", (object_ids,))


def mark_pending(conn: psycopg.Connection[Any], object_ids: list[str]) -> None:
    if object_ids:
        conn.execute("UPDATE viid_outbox SET state = 'pending' WHERE object_id = ANY(%s)"
                     " AND state = 'inflight'", (object_ids,))


def mark_refused(conn: psycopg.Connection[Any], object_ids: list[str]) -> None:
    if object_ids:
        conn.execute("UPDATE viid_outbox SET state = 'refused' WHERE object_id = ANY(%s)",
                     (object_ids,))


def counts(conn: psycopg.Connection[Any]) -> dict[str, int]:
    return {f"{r[0]}_{r[1]}": int(r[2]) for r in conn.execute(
        "SELECT kind, state, count(*) FROM viid_outbox GROUP BY kind, state")}
