"""The visitor desk: register, screen, approve, issue a pass, follow the route, check out.

Screening comes before any pass: the local watch lists (identity number, name,
face, plate) and, where configured, the police's screening service. The outcome
is ``cleared``, ``flagged`` or ``unavailable``; the last two need the guard's
decision, and nothing passes silently. Identity numbers are masked everywhere
except, where the configuration allows, in police payloads.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import secrets
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import httpx
import numpy as np

from gate.config import Config
from gate.identity import IdentityError, mask, validate_document
from gate.journal import AuditRow, Entry, Journal, Write
from gate.messages import Topics, staff_notification
from gate.records import Alert, OutboxMessage, new_id, rfc3339
from gate.rules import VisitFacts, VisitOutcome, decide_visit
from gate.store import Store
from gate.vocab import AlertType, Direction, Severity, VisitorState
from gate.watchlist import normalise_plate
from recognition.gallery import Gallery

log = logging.getLogger("gate.visitors")
Screening = Literal["cleared", "flagged", "unavailable"]
PASS_PREFIX = "CGV1:"


class VisitorError(ValueError):
    """A request the desk cannot carry out; the message says why."""


class VisitorNotFound(VisitorError):
    """No visitor has that id (the console answers 404, any other VisitorError 422)."""


@dataclass(frozen=True)
class Registration:
    name: str
    id_type: str
    id_number: str
    phone: str
    purpose: str
    host_id: str
    minutes: int
    plate: str | None = None
    read_from_chip: bool = False  # name and number came from the ID card's chip at the desk
    document_valid_until: dt.date | None = None  # the card's last valid day (None: for life)


# A host's own page hears of its visitors through these (gate/console/host_hub.py): the host
# id and what to tell them (``kind``, the visitor's name and purpose, the pass window).
HostListener = Callable[[str, dict[str, Any]], None]


@dataclass(frozen=True)
class ScreeningResult:
    outcome: Screening
    reasons: tuple[str, ...]


class RemoteScreening:
    """A police screening service: POST {id_type, id_number, name} -> {"result": "clear"|"hit"}.

    Any failure (timeout, refused, 5xx, a bad answer) is ``unavailable``, never ``clear``.
    """

    def __init__(self, url: str, timeout_s: float) -> None:
        self.url = url
        self.timeout_s = timeout_s

    def check(self, id_type: str, id_number: str, name: str) -> tuple[Screening, str]:
        try:
            r = httpx.post(self.url, json={"id_type": id_type, "id_number": id_number,
                                           "name": name}, timeout=self.timeout_s)
            r.raise_for_status()
            result = r.json().get("result")
        except (httpx.HTTPError, ValueError, AttributeError) as exc:
            return "unavailable", f"remote screening unavailable: {type(exc).__name__}"
        if result == "clear":
            return "cleared", ""
        if result == "hit":
            return "flagged", "remote screening: hit"
        return "unavailable", f"remote screening gave {result!r}"


class VisitorDesk:
    """Every record of the desk goes through the journal (gate/journal.py): a visit's state
    change, its audit row, its alerts and its notifications commit together."""

    def __init__(self, config: Config, store: Store, journal: Journal,
                 watch_faces: Gallery | None = None) -> None:
        self.config = config
        self.store = store
        self.journal = journal
        self.topics = Topics(config)
        self.watch_faces = watch_faces or Gallery.from_rows([])
        c = config.visitors
        self.remote = RemoteScreening(c.remote_screening_url, c.remote_timeout_s) \
            if c.remote_screening_url else None
        self.host_listeners: list[HostListener] = []

    # Registration and screening -----------------------------------------------------------

    def register(self, reg: Registration, actor: str,
                 face: np.ndarray | None = None) -> dict[str, Any]:
        try:
            number = validate_document(reg.id_type, reg.id_number)
        except IdentityError as exc:
            raise VisitorError(f"id_number: {exc}") from None
        if not reg.name.strip():
            raise VisitorError("name: a visitor needs a name")
        today = self.store.now().date()
        if reg.document_valid_until is not None and today > reg.document_valid_until:
            raise VisitorError(f"document_expired: the ID card expired on"
                               f" {reg.document_valid_until.isoformat()}")
        if not reg.purpose.strip():
            raise VisitorError("purpose: a visit needs a purpose")
        host = self.store.get_person(reg.host_id)
        if host is None or host.role != "staff":
            raise VisitorError(f"host: no staff member {reg.host_id!r}")
        plate = normalise_plate(reg.plate) if reg.plate else None
        screening = self.screen(reg.name, reg.id_type, number, plate, face)
        now = self.store.now()
        visitor_id = new_id()
        status = {"cleared": VisitorState.AWAITING_HOST, "flagged": VisitorState.FLAGGED,
                  "unavailable": VisitorState.SCREENING_UNAVAILABLE}[screening.outcome]
        row = (visitor_id, reg.name.strip(), reg.id_type, number, reg.phone,
               reg.purpose.strip(), reg.host_id, plate, status, rfc3339(now),
               rfc3339(now + dt.timedelta(minutes=reg.minutes)), rfc3339(now),
               screening.outcome,
               json.dumps({"reasons": list(screening.reasons)}, ensure_ascii=False), actor)

        sealer = self.store.sealer  # the ID number and the face are sealed at rest
        stored = (*row[:3], sealer.seal_text(number, f"visitors/{visitor_id}"), *row[4:],
                  int(reg.read_from_chip),
                  reg.document_valid_until.isoformat() if reg.document_valid_until else None)

        def insert(db: sqlite3.Connection) -> None:
            db.execute(
                "INSERT INTO visitors (id, name, id_type, id_number, phone, purpose, host_id,"
                " plate, status, valid_from, valid_until, created_at, screening,"
                " screening_detail, registered_by, read_from_chip, document_valid_until)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                stored)
            if face is not None:
                db.execute("INSERT INTO visitor_faces (visitor_id, encoding) VALUES (?,?)",
                           (visitor_id, sealer.seal(np.asarray(face, np.float32).tobytes(),
                                                    f"visitor_faces/{visitor_id}")))

        public = self._public_fields(row)
        alerts = []
        if self.config.visitors.notify_police:
            alerts.append(self._alert(AlertType.VISITOR_REGISTERED, Severity.INFO, public,
                                      {"screening": screening.outcome}))
        if screening.outcome == "flagged":
            alerts.append(self._alert(AlertType.VISITOR_FLAGGED, Severity.CRITICAL, public,
                                      {"reasons": list(screening.reasons)}))
        messages = ([self._host_message(reg.host_id, public, "visitor_waiting")]
                    if screening.outcome == "cleared" else [])
        self.journal.record(Entry(alerts=alerts, messages=messages, writes=(insert,),
                                  audit=(AuditRow(actor, "visitor_registered", visitor_id,
                                                  {"screening": screening.outcome,
                                                   "read_from_chip": reg.read_from_chip}),)))
        if messages:
            self._tell_host(reg.host_id, "visitor_waiting", self.get(visitor_id))
        return self.get(visitor_id)

    def screen(self, name: str, id_type: str, number: str, plate: str | None,
               face: np.ndarray | None) -> ScreeningResult:
        reasons: list[str] = []
        hits = self.store.query("SELECT list, entry_id, reason FROM watchlist_persons WHERE"
                                " (id_number != '' AND id_number = ?) OR name = ?",
                                (number, name))
        reasons += [f"watch list {h['list']}/{h['entry_id']}: {h['reason'] or 'listed'}"
                    for h in hits]
        since = rfc3339(self.store.now() - dt.timedelta(days=30))
        # Numbers are sealed at rest (each with its own nonce): compare them opened.
        reasons += [f"the same document was registered as {r['name']} on {r['created_at'][:10]}"
                    for r in self.store.query(
                        "SELECT id, name, created_at, id_number FROM visitors WHERE id_type = ?"
                        " AND name != ? AND created_at >= ? ORDER BY created_at",
                        (id_type, name.strip(), since))
                    if self.store.sealer.open_text(r["id_number"], f"visitors/{r['id']}")
                    == number]
        if plate:
            reasons += [f"plate on watch list {r['list']}" for r in self.store.query(
                "SELECT list FROM watchlist_plates WHERE plate = ?", (plate,))]
        if face is not None and self.watch_faces.size:
            hit = self.watch_faces.identify(face, self.config.faces.watchlist_threshold, 0.0)
            if hit.person_id:
                reasons.append(f"face matches watch list entry {hit.person_id}"
                               f" (distance {hit.distance:.3f})")
        if reasons:
            return ScreeningResult("flagged", tuple(reasons))
        if self.remote is not None:
            outcome, why = self.remote.check(id_type, number, name)
            if outcome != "cleared":
                return ScreeningResult(outcome, (why,))
        return ScreeningResult("cleared", ())

    # Decisions -------------------------------------------------------------------------------

    def guard_decision(self, visitor_id: str, actor: str, admit: bool, note: str) -> dict[str, Any]:
        """A flagged or unscreened visitor goes no further without this."""
        v = self._row(visitor_id)
        if v["status"] not in (VisitorState.FLAGGED, VisitorState.SCREENING_UNAVAILABLE):
            raise VisitorError(f"visitor is {v['status']}: no guard decision is pending")
        if len(note.strip()) < 2:
            raise VisitorError("note: the guard's decision needs a note")
        status = VisitorState.AWAITING_HOST if admit else VisitorState.REFUSED

        def update(db: sqlite3.Connection) -> None:
            db.execute("UPDATE visitors SET guard_decision = ?, guard_by = ?, status = ?"
                       " WHERE id = ?", ("admit" if admit else "refuse", actor, status,
                                         visitor_id))

        messages = [self._host_message(v["host_id"], self._public_fields(v),
                                       "visitor_waiting")] if admit else []
        self.journal.record(Entry(writes=(update,), messages=messages, audit=(
            AuditRow(actor, "visitor_guard_decision", visitor_id,
                     {"admit": admit, "note": note.strip()}),)))
        if admit:
            self._tell_host(v["host_id"], "visitor_waiting", self.get(visitor_id))
        return self.get(visitor_id)

    def host_decision(self, visitor_id: str, actor: str, approve: bool,
                      method: str = "console") -> dict[str, Any]:
        v = self._row(visitor_id)
        if v["status"] != VisitorState.AWAITING_HOST:
            raise VisitorError(f"visitor is {v['status']}: not waiting for the host")
        now = self.store.now()
        code = PASS_PREFIX + secrets.token_urlsafe(12) if approve else None
        # A late approval still gives the whole visit: the pass runs from now.
        length = (dt.datetime.fromisoformat(v["valid_until"])
                  - dt.datetime.fromisoformat(v["valid_from"]))
        until = max(dt.datetime.fromisoformat(v["valid_until"]), now + length)
        status = VisitorState.APPROVED if approve else VisitorState.DECLINED
        # An answer after the window ran out re-issues it: the host and their bridge hear so.
        reissued = approve and now >= dt.datetime.fromisoformat(v["valid_until"])

        def update(db: sqlite3.Connection) -> None:
            db.execute("UPDATE visitors SET approval = ?, approved_by = ?, status = ?,"
                       " pass_code = ?, valid_from = ?, valid_until = ? WHERE id = ?",
                       ("approved" if approve else "declined", f"{actor} ({method})",
                        status, code, rfc3339(now), rfc3339(until), visitor_id))

        messages = [staff_notification(
            self.config, v["host_id"], "visitor_pass_reissued", rfc3339(now),
            {"visitor": self._public_fields(v), "valid_from": rfc3339(now),
             "valid_until": rfc3339(until)})] if reissued else []
        self.journal.record(Entry(writes=(update,), messages=messages, audit=(
            AuditRow(actor, "visitor_host_decision", visitor_id,
                     {"approve": approve, "method": method, "reissued": reissued}),)))
        found = self.get(visitor_id)
        if reissued:
            self._tell_host(v["host_id"], "visitor_pass_reissued", found)
        return found

    def bind_card(self, visitor_id: str, card_key: str, actor: str) -> None:
        """A temporary card for the visit, valid only in the visit's window."""
        v = self._row(visitor_id)
        if v["status"] not in (VisitorState.APPROVED, VisitorState.ON_SITE):
            raise VisitorError("a card is bound only to an approved visit")
        taken = self.store.query("SELECT person_id, visitor_id FROM cards WHERE card_key = ?",
                                 (card_key,))
        if taken and (taken[0]["person_id"] or taken[0]["visitor_id"] != visitor_id):
            raise VisitorError("that card belongs to someone else")

        def bind(db: sqlite3.Connection) -> None:
            db.execute("INSERT OR REPLACE INTO cards (card_key, visitor_id, valid_from,"
                       " valid_until, created_at) VALUES (?,?,?,?,?)",
                       (card_key, visitor_id, v["valid_from"], v["valid_until"],
                        rfc3339(self.store.now())))

        self.journal.record(Entry(writes=(bind,), audit=(
            AuditRow(actor, "visitor_card", visitor_id, {"card": card_key}),)))

    # At the gate and inside -----------------------------------------------------------------------

    def visitor_for_card(self, keys: tuple[str, ...]) -> str | None:
        marks = ",".join("?" * len(keys))
        rows = self.store.query(f"SELECT visitor_id FROM cards WHERE card_key IN ({marks}) AND"
                                " visitor_id IS NOT NULL AND active = 1 LIMIT 1", keys)
        return rows[0][0] if rows else None

    def visitor_for_code(self, code: str) -> str | None:
        rows = self.store.query("SELECT id FROM visitors WHERE pass_code = ?", (code.strip(),))
        return rows[0][0] if rows else None

    def at_lane(self, visitor_id: str, lane: str, direction: Direction, method: str,
                now: dt.datetime) -> tuple[VisitOutcome, tuple[Write, ...]]:
        """The rules' outcome for a visitor's pass at a lane, and the state changes to
        journal with it (the caller records them in its own entry)."""
        v = self._row(visitor_id)
        outcome = decide_visit(VisitFacts(
            now=now, status=VisitorState(v["status"]),
            valid_from=dt.datetime.fromisoformat(v["valid_from"]),
            valid_until=dt.datetime.fromisoformat(v["valid_until"]), direction=direction))
        if outcome.new_status is None:
            return outcome, ()
        stamp = rfc3339(now)
        status = outcome.new_status
        way = "out" if direction is Direction.EXIT else "in"

        def update(db: sqlite3.Connection) -> None:
            if status is VisitorState.CHECKED_OUT:
                db.execute("UPDATE visitors SET status = ?, checked_out_at = ?, pass_code ="
                           " NULL WHERE id = ?", (status, stamp, visitor_id))
                db.execute("UPDATE cards SET active = 0 WHERE visitor_id = ?", (visitor_id,))
            else:
                db.execute("UPDATE visitors SET status = ? WHERE id = ?", (status, visitor_id))
            db.execute("INSERT INTO visitor_route (visitor_id, ts, place, method, restricted)"
                       " VALUES (?,?,?,?,0)", (visitor_id, stamp, lane, f"{method} {way}"))

        return outcome, (update,)

    def add_route(self, visitor_id: str, place: str, method: str, restricted: bool = False
                  ) -> None:
        stamp = rfc3339(self.store.now())

        def insert(db: sqlite3.Connection) -> None:
            db.execute("INSERT INTO visitor_route (visitor_id, ts, place, method, restricted)"
                       " VALUES (?,?,?,?,?)", (visitor_id, stamp, place, method,
                                               int(restricted)))

        alerts = [self._alert(AlertType.VISITOR_RESTRICTED_ZONE, Severity.CRITICAL,
                              self._public_fields(self._row(visitor_id)), {"zone": place})
                  ] if restricted else []
        self.journal.record(Entry(writes=(insert,), alerts=alerts))

    def gallery(self) -> Gallery:
        """Faces of visitors on site (or about to be), to follow them inside."""
        return Gallery.from_rows([(r[0], self.store.sealer.open(
            bytes(r[1]), f"visitor_faces/{r[0]}")) for r in self.store.query(
            "SELECT f.visitor_id, f.encoding FROM visitor_faces f JOIN visitors v ON"
            " v.id = f.visitor_id WHERE v.status IN ('approved', 'on_site')")])

    def overstays(self) -> int:
        """Admitted visits past their window and not checked out (whether or not they ever
        tapped a reader): the guard and the host are told once, and the record says so."""
        now = rfc3339(self.store.now())
        rows = self.store.query("SELECT * FROM visitors WHERE status IN ('on_site', 'approved')"
                                " AND valid_until < ? AND overstay_alerted_at IS NULL", (now,))
        for row in rows:
            vid = row["id"]

            def mark(db: sqlite3.Connection, vid: str = vid) -> None:
                db.execute("UPDATE visitors SET overstay_alerted_at = ? WHERE id = ?",
                           (now, vid))

            public = self._public_fields(self._opened(row))
            self.journal.record(Entry(
                writes=(mark,),
                alerts=[self._alert(AlertType.VISITOR_OVERSTAY, Severity.WARNING, public, {})],
                messages=[self._host_message(row["host_id"], public, "visitor_overstay")]))
            self._tell_host(row["host_id"], "visitor_overstay", self.get(vid))
        return len(rows)

    # Views ------------------------------------------------------------------------------------

    def get(self, visitor_id: str, full_id: bool = False) -> dict[str, Any]:
        v = self._row(visitor_id)
        out = {k: v[k] for k in ("id", "name", "id_type", "phone", "purpose", "host_id", "plate",
                                  "status", "valid_from", "valid_until", "created_at",
                                  "checked_out_at", "screening", "guard_decision", "approval",
                                  "approved_by", "pass_code")}
        out["id_number"] = v["id_number"] if full_id else mask(v["id_number"])
        out["read_from_chip"] = bool(v["read_from_chip"])
        out["overstaying"] = v["overstay_alerted_at"] is not None and v["status"] in (
            VisitorState.ON_SITE, VisitorState.APPROVED)
        out["screening_reasons"] = json.loads(v["screening_detail"]).get("reasons", [])
        out["route"] = [dict(r) for r in self.store.query(
            "SELECT ts, place, method, restricted FROM visitor_route WHERE visitor_id = ?"
            " ORDER BY id", (visitor_id,))]
        return out

    def list(self, day: dt.date) -> list[dict[str, Any]]:
        rows = self.store.query("SELECT id FROM visitors WHERE created_at >= ? AND created_at < ?"
                                " ORDER BY created_at", (day.isoformat(),
                                                         (day + dt.timedelta(days=1)).isoformat()))
        return [self.get(r[0]) for r in rows]

    def _row(self, visitor_id: str) -> Any:
        rows = self.store.query("SELECT * FROM visitors WHERE id = ?", (visitor_id,))
        if not rows:
            raise VisitorNotFound(f"no visitor {visitor_id!r}")
        return self._opened(rows[0])

    def _opened(self, row: sqlite3.Row) -> dict[str, Any]:
        """The row with its identity number decrypted (gate/crypto.py)."""
        out = dict(row)
        out["id_number"] = self.store.sealer.open_text(row["id_number"], f"visitors/{row['id']}")
        return out

    @staticmethod
    def _public_fields(v: Any) -> dict[str, Any]:
        """What a message may say of a visitor: the ID number masked (every topic)."""
        if isinstance(v, tuple):
            keys = ("id", "name", "id_type", "id_number", "phone", "purpose", "host_id",
                    "plate")
            v = dict(zip(keys, v[:8], strict=True))
        return {"id": v["id"], "name": v["name"], "id_type": v["id_type"],
                "id_number": mask(v["id_number"]), "purpose": v["purpose"],
                "host_id": v["host_id"], "plate": v["plate"]}

    def _alert(self, kind: AlertType, severity: Severity, visitor: dict[str, Any],
               details: dict[str, Any]) -> Alert:
        return Alert(type=kind, severity=severity, ts=self.store.now(),
                     details={**details, "visitor": visitor})

    def _tell_host(self, host_id: str, kind: str, visit: dict[str, Any]) -> None:
        """After COMMIT: the host's open pages hear it (their phone raises a notification).
        Name, purpose and window only; never the identity number."""
        said = {"kind": kind, "visitor": {"id": visit["id"], "name": visit["name"],
                                          "purpose": visit["purpose"]},
                "status": visit["status"], "valid_from": visit["valid_from"],
                "valid_until": visit["valid_until"]}
        for listener in list(self.host_listeners):
            try:
                listener(host_id, said)
            except Exception:  # a page gone away must not fail the desk
                log.exception("host listener failed")

    def _host_message(self, host_id: str, visitor: dict[str, Any], kind: str) -> OutboxMessage:
        return staff_notification(self.config, host_id, kind, rfc3339(self.store.now()),
                                  {"visitor": visitor})
