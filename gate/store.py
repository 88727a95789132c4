"""SQLite on the gate: the single source of truth, written by one connection.

WAL mode with ``synchronous=FULL``: once ``record_event``/``record_alert``
return, the row and its outbox messages survive a crash or power cut. The
outbox is written in the same transaction as the record it announces, so a
published message never lacks its record and a record never lacks its message.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from gate.config import RetentionConfig
from gate.crypto import Sealer, check_keys
from gate.records import Alert, Event, Guardian, OutboxMessage, Person, rfc3339
from gate.rules import EscalationFacts

DB_NAME = "gate.sqlite3"
Change = Literal["added", "updated", "unchanged"]


class CardConflict(Exception):
    """A card number already belongs to someone else."""


def migrations_dir() -> Path:
    return Path(str(resources.files("gate") / "migrations"))


def migrate(db_path: Path, *, upto: str | None = None) -> list[str]:
    """Apply pending schema migrations in place; returns the ids applied.

    ``upto`` stops after that migration id (used to build old schemas in tests).
    """
    from yoyo import get_backend, read_migrations

    backend = get_backend(f"sqlite:///{db_path}")
    try:
        migrations = read_migrations(str(migrations_dir()))
        with backend.lock():
            pending = backend.to_apply(migrations)
            if upto is not None:
                ids = [m.id for m in pending]
                pending = pending[: ids.index(upto) + 1] if upto in ids else pending[:0]
            backend.apply_migrations(pending)
            return [m.id for m in pending]
    finally:
        backend.connection.close()


def _secure_file(path: Path) -> None:
    """Create the database 0600 before SQLite does: it holds biometrics of minors."""
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    os.close(fd)
    os.chmod(path, 0o600)


@dataclass(frozen=True)
class Passage:
    ts: str
    type: str
    person_id: str | None
    lane: str | None
    direction: str | None
    method: str | None
    decision: str | None
    reason: str | None


class Store:
    """All reads and writes of the gate's database, serialised through one connection.

    Lock discipline (docs/ARCHITECTURE.md): ``_lock`` is the innermost lock of the
    service. Code holding it runs SQL and nothing else: it never calls back into the
    engine, a listener, a device or paho, and never takes another lock, so no cycle
    through it can exist.
    """

    def __init__(self, data_dir: Path, tz: ZoneInfo, sealer: Sealer | None = None,
                 clock: Callable[[], dt.datetime] | None = None) -> None:
        self.tz = tz
        # The site time every record is stamped with; injected (gate/clock.py: SiteClock) so
        # the demo can play a morning compressed and tests can pin the hour.
        self._clock = clock or (lambda: dt.datetime.now(tz))
        self.sealer = sealer or Sealer(None)  # biometrics sealed at rest (gate/crypto.py)
        self.data_dir = data_dir
        data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.path = data_dir / DB_NAME
        _secure_file(self.path)
        migrate(self.path)
        self._lock = threading.RLock()
        self._depth = 0
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.row_factory = sqlite3.Row
        for pragma in ("journal_mode=WAL", "synchronous=FULL", "foreign_keys=ON",
                       "busy_timeout=5000", "secure_delete=ON"):  # deleted faces are zeroed
            self._db.execute(f"PRAGMA {pragma}")
        with self.transaction() as db:
            check_keys(db, self.sealer, self._stamp())

    @property
    def encrypted(self) -> bool:
        """Biometrics and identity numbers are encrypted at rest (console banner)."""
        return self.sealer.encrypted

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def in_transaction(self) -> bool:
        """True when this thread has a transaction open (the lock is re-entrant)."""
        if not self._lock.acquire(blocking=False):
            return False  # another thread holds it: not ours
        try:
            return self._depth > 0
        finally:
            self._lock.release()

    def ping(self, timeout: float = 1.0) -> float | None:
        """Milliseconds for a trivial read, or None when the store did not answer in time
        (a stuck writer): what ``/healthz`` and the watchdog ask."""
        start = time.monotonic()
        if not self._lock.acquire(timeout=timeout):
            return None
        try:
            self._db.execute("SELECT 1").fetchone()
        finally:
            self._lock.release()
        return (time.monotonic() - start) * 1000

    def now(self) -> dt.datetime:
        return self._clock()

    def _stamp(self) -> str:
        return rfc3339(self.now())

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic unit; nested calls become savepoints, so a batch (an import) can
        commit many records with one fsync while each record still fails alone."""
        with self._lock:
            depth = self._depth
            begin, commit, undo = (
                ("BEGIN IMMEDIATE", "COMMIT", ["ROLLBACK"]) if depth == 0 else
                (f"SAVEPOINT sp{depth}", f"RELEASE sp{depth}",
                 [f"ROLLBACK TO sp{depth}", f"RELEASE sp{depth}"]))
            self._db.execute(begin)
            self._depth += 1
            try:
                yield self._db
            except BaseException:
                for statement in undo:
                    self._db.execute(statement)
                raise
            else:
                self._db.execute(commit)
            finally:
                self._depth -= 1

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    def schema_version(self) -> list[str]:
        return [r[0] for r in self.query(
            "SELECT migration_id FROM _yoyo_migration ORDER BY applied_at_utc")]

    # People, guardians, cards -------------------------------------------------

    def get_person(self, person_id: str) -> Person | None:
        rows = self.query("SELECT * FROM people WHERE id = ?", (person_id,))
        return _person(rows[0]) if rows else None

    def upsert_person(self, person: Person) -> Change:
        with self.transaction() as db:
            row = db.execute("SELECT * FROM people WHERE id = ?", (person.id,)).fetchone()
            now = self._stamp()
            if row is None:
                db.execute(
                    "INSERT INTO people (id, name, role, class_name, face_consent, active,"
                    " created_at, updated_at, consent_recorded_at) VALUES (?,?,?,?,?,?,?,?,?)",
                    (person.id, person.name, person.role, person.class_name,
                     int(person.face_consent), int(person.active), now, now,
                     now if person.face_consent else None))
                return "added"
            if _person(row) == person:
                return "unchanged"
            consent_at = row["consent_recorded_at"]
            if person.face_consent and not row["face_consent"]:
                consent_at = now
            elif not person.face_consent:
                consent_at = None
            db.execute(
                "UPDATE people SET name=?, role=?, class_name=?, face_consent=?, active=?,"
                " updated_at=?, consent_recorded_at=? WHERE id=?",
                (person.name, person.role, person.class_name, int(person.face_consent),
                 int(person.active), now, consent_at, person.id))
            if not person.face_consent:
                # Consent withdrawn: the biometric data goes with it.
                db.execute("DELETE FROM face_encodings WHERE person_id = ?", (person.id,))
            return "updated"

    def upsert_guardian(self, guardian: Guardian, person_id: str) -> Change:
        with self.transaction() as db:
            row = db.execute("SELECT * FROM guardians WHERE id = ?", (guardian.id,)).fetchone()
            change: Change = "unchanged"
            if row is None:
                db.execute("INSERT INTO guardians (id, name, phone) VALUES (?,?,?)",
                           (guardian.id, guardian.name, guardian.phone))
                change = "added"
            elif (row["name"], row["phone"]) != (guardian.name, guardian.phone):
                db.execute("UPDATE guardians SET name=?, phone=? WHERE id=?",
                           (guardian.name, guardian.phone, guardian.id))
                change = "updated"
            cur = db.execute("INSERT OR IGNORE INTO person_guardians VALUES (?,?)",
                             (person_id, guardian.id))
            if cur.rowcount and change == "unchanged":
                change = "updated"
            return change

    def guardians_of(self, person_id: str) -> list[Guardian]:
        rows = self.query(
            "SELECT g.* FROM guardians g JOIN person_guardians pg ON pg.guardian_id = g.id"
            " WHERE pg.person_id = ? ORDER BY g.id", (person_id,))
        return [Guardian(r["id"], r["name"], r["phone"]) for r in rows]

    def assign_card(self, card_key: str, person_id: str) -> Change:
        """Bind a card (by its registry key) to a person; a card never silently changes hands."""
        with self.transaction() as db:
            row = db.execute("SELECT person_id FROM cards WHERE card_key = ?",
                             (card_key,)).fetchone()
            if row is None:
                db.execute("INSERT INTO cards (card_key, person_id, created_at) VALUES (?,?,?)",
                           (card_key, person_id, self._stamp()))
                return "added"
            if row["person_id"] != person_id:
                raise CardConflict(f"card {card_key} already belongs to {row['person_id']}")
            return "unchanged"

    def person_for_card(self, card_keys: Iterable[str]) -> Person | None:
        keys = list(card_keys)
        if not keys:
            return None
        marks = ",".join("?" * len(keys))
        rows = self.query(
            f"SELECT p.* FROM cards c JOIN people p ON p.id = c.person_id"
            f" WHERE c.card_key IN ({marks}) AND c.active = 1 AND p.active = 1 LIMIT 1", keys)
        return _person(rows[0]) if rows else None

    def students(self, existing_on: dt.date | None = None) -> list[Person]:
        """Active students; with ``existing_on``, only those enrolled by the end of that day
        (a day before a pupil was on the roster is no day of absence)."""
        if existing_on is None:
            rows = self.query("SELECT * FROM people WHERE role = 'student' AND active = 1"
                              " ORDER BY id")
        else:
            rows = self.query("SELECT * FROM people WHERE role = 'student' AND active = 1 AND"
                              " substr(created_at, 1, 10) <= ? ORDER BY id",
                              (existing_on.isoformat(),))
        return [_person(r) for r in rows]

    def last_passage(self, person_id: str, day: dt.date) -> str | None:
        """``arrival`` or ``departure``: the person's last passage on that day, if any."""
        rows = self.query(
            "SELECT type FROM events WHERE person_id = ? AND substr(ts, 1, 10) = ? AND type IN"
            " ('arrival', 'departure') ORDER BY ts DESC LIMIT 1", (person_id, day.isoformat()))
        return rows[0][0] if rows else None

    def add_exit_permission(self, person_id: str, valid_from: dt.datetime,
                            valid_until: dt.datetime, granted_by: str, reason: str) -> int:
        with self.transaction() as db:
            cur = db.execute(
                "INSERT INTO exit_permissions (person_id, valid_from, valid_until, granted_by,"
                " reason, created_at) VALUES (?,?,?,?,?,?)",
                (person_id, rfc3339(valid_from.astimezone(self.tz)),
                 rfc3339(valid_until.astimezone(self.tz)), granted_by, reason,
                 self._stamp()))
            return int(cur.lastrowid or 0)

    def has_exit_permission(self, person_id: str, moment: dt.datetime) -> bool:
        stamp = rfc3339(moment.astimezone(self.tz))
        return bool(self.query(
            "SELECT 1 FROM exit_permissions WHERE person_id = ? AND valid_from <= ? AND"
            " valid_until >= ?", (person_id, stamp, stamp)))

    def upsert_vehicle(self, plate: str, owner_id: str | None, kind: str,
                       valid_from: dt.datetime | None = None,
                       valid_until: dt.datetime | None = None, note: str = "") -> None:
        stamps = [rfc3339(v.astimezone(self.tz)) if v else None for v in (valid_from, valid_until)]
        with self.transaction() as db:
            db.execute("INSERT INTO vehicles (plate, owner_id, kind, valid_from, valid_until, note)"
                       " VALUES (?,?,?,?,?,?) ON CONFLICT(plate) DO UPDATE SET owner_id ="
                       " excluded.owner_id, kind = excluded.kind, valid_from = excluded.valid_from,"
                       " valid_until = excluded.valid_until, note = excluded.note",
                       (plate, owner_id, kind, *stamps, note))

    def registered_vehicle(self, plate: str, moment: dt.datetime) -> sqlite3.Row | None:
        """The vehicle, if registered and valid at ``moment``."""
        stamp = rfc3339(moment.astimezone(self.tz))
        rows = self.query(
            "SELECT * FROM vehicles WHERE plate = ? AND (valid_from IS NULL OR valid_from <= ?)"
            " AND (valid_until IS NULL OR valid_until >= ?)", (plate, stamp, stamp))
        return rows[0] if rows else None

    def watchlisted_plates(self) -> list[sqlite3.Row]:
        return self.query("SELECT list, plate, reason, severity FROM watchlist_plates")

    def count(self, table: str) -> int:
        if not table.isidentifier():
            raise ValueError(table)
        return int(self.query(f"SELECT COUNT(*) FROM {table}")[0][0])

    # Face encodings (biometric; kept apart from identity rows) ------------------

    def add_face_encoding(self, person_id: str, source_sha256: str, encoding: bytes) -> Change:
        with self.transaction() as db:
            consent = db.execute("SELECT face_consent FROM people WHERE id = ?",
                                 (person_id,)).fetchone()
            if consent is None or not consent[0]:
                raise PermissionError(f"{person_id}: no recorded face consent")
            cur = db.execute(
                "INSERT OR IGNORE INTO face_encodings (person_id, source_sha256, encoding,"
                " created_at) VALUES (?,?,?,?)",
                (person_id, source_sha256,
                 self.sealer.seal(encoding, face_row_id(person_id, source_sha256)),
                 self._stamp()))
            return "added" if cur.rowcount else "unchanged"

    def face_encodings(self) -> list[tuple[str, bytes]]:
        rows = self.query(
            "SELECT f.person_id, f.encoding, f.source_sha256 FROM face_encodings f JOIN people p"
            " ON p.id = f.person_id WHERE p.active = 1 AND p.face_consent = 1 ORDER BY f.id")
        return [(r[0], self.sealer.open(bytes(r[1]), face_row_id(r[0], r[2]))) for r in rows]

    def erase_person_biometrics(self, person_id: str) -> int:
        with self.transaction() as db:
            return db.execute("DELETE FROM face_encodings WHERE person_id = ?",
                              (person_id,)).rowcount

    # Journal: events, alerts, audit, outbox ------------------------------------

    def record_event(self, event: Event, outbox: Sequence[OutboxMessage] = ()) -> None:
        """Durable on return (WAL + synchronous=FULL), together with its outbox messages."""
        with self.transaction() as db:
            _insert_event(db, event)
            _enqueue(db, outbox, self._stamp())

    def record_alert(self, alert: Alert, outbox: Sequence[OutboxMessage] = ()) -> None:
        with self.transaction() as db:
            _insert_alert(db, alert)
            _enqueue(db, outbox, self._stamp())

    def write_entry(self, event: Event | None, alerts: Sequence[Alert],
                    outbox: Sequence[OutboxMessage],
                    audit: Sequence[tuple[str, str, str | None, dict[str, Any]]],
                    writes: Sequence[Any] = ()) -> None:
        """One journal entry (gate/journal.py) in one transaction: its state changes, its
        event, alerts, audit rows and outbox messages commit together or not at all."""
        with self.transaction() as db:
            for write in writes:
                write(db)
            if event is not None:
                _insert_event(db, event)
            for alert in alerts:
                _insert_alert(db, alert)
            stamp = self._stamp()
            for actor, action, target, details in audit:
                _insert_audit(db, stamp, actor, action, target, details)
            _enqueue(db, outbox, stamp)

    def audit(self, actor: str, action: str, target: str | None = None,
              details: dict[str, Any] | None = None) -> None:
        with self.transaction() as db:
            _insert_audit(db, self._stamp(), actor, action, target, details or {})

    def passages(self, day: dt.date) -> list[Passage]:
        """The events of ``day``, the site's local calendar day (midnight to midnight in the
        store's time zone), whatever offset each timestamp was written with.

        Timestamps are RFC 3339 text, so the index narrows by text to the day with a day's
        margin either side (any offset is within 14 h), and the instant decides.
        """
        rows = self.query(
            "SELECT ts, type, person_id, lane, direction, method, decision, reason FROM events"
            " WHERE ts >= ? AND ts < ? ORDER BY ts",
            ((day - dt.timedelta(days=1)).isoformat(), (day + dt.timedelta(days=2)).isoformat()))
        moments = [(dt.datetime.fromisoformat(r[0]).astimezone(self.tz), r) for r in rows]
        return [Passage(*r) for moment, r in sorted(moments, key=lambda m: m[0])
                if moment.date() == day]

    def pending_outbox(self, limit: int = 100) -> list[OutboxMessage]:
        rows = self.query(
            "SELECT seq, msg_id, topic, payload, qos, retain FROM outbox WHERE sent_at IS NULL"
            " ORDER BY seq LIMIT ?", (limit,))
        return [OutboxMessage(msg_id=r["msg_id"], topic=r["topic"], payload=r["payload"],
                              qos=r["qos"], retain=bool(r["retain"]), seq=r["seq"]) for r in rows]

    def mark_sent(self, seq: int) -> None:
        self.mark_sent_many([seq])

    def mark_sent_many(self, seqs: Sequence[int]) -> None:
        """Acknowledged by the broker (PUBACK): one transaction for a batch of acks."""
        now = self._stamp()
        with self.transaction() as db:
            db.executemany("UPDATE outbox SET sent_at = ? WHERE seq = ?",
                           [(now, s) for s in seqs])

    def escalation_candidates(self, raised_before: dt.datetime) -> list[EscalationFacts]:
        rows = self.query(
            "SELECT id, type, severity, lane, ts, acknowledged_at, escalated_at FROM alerts"
            " WHERE severity = 'critical' AND acknowledged_at IS NULL AND escalated_at IS NULL"
            " AND type != 'alert_escalated' AND ts < ? ORDER BY ts",
            (rfc3339(raised_before.astimezone(self.tz)),))
        return [EscalationFacts(r["id"], r["type"], r["severity"], False, False,
                                dt.datetime.fromisoformat(r["ts"]), r["lane"]) for r in rows]

    def purge(self, retention: RetentionConfig, now: dt.datetime) -> dict[str, int]:
        """Rows older than their class's retention go (visitors with their faces, routes
        and cards, by the schema's ON DELETE CASCADE)."""
        done: dict[str, int] = {}
        with self.transaction() as db:
            for table, days in (("events", retention.events_days),
                                ("alerts", retention.alerts_days),
                                ("audit_log", retention.audit_days)):
                done[table] = db.execute(f"DELETE FROM {table} WHERE ts < ?",
                                         (_older(now, days),)).rowcount
            done["visitors"] = db.execute("DELETE FROM visitors WHERE created_at < ?",
                                          (_older(now, retention.visitors_days),)).rowcount
        return done

    def outbox_topics(self, seqs: Sequence[int]) -> list[str]:
        marks = ",".join("?" * len(seqs))
        return [r[0] for r in self.query(f"SELECT topic FROM outbox WHERE seq IN ({marks})",
                                         list(seqs))]

    def pending_count(self) -> int:
        return int(self.query("SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL")[0][0])

    def prune_sent_outbox(self, older_than: dt.datetime) -> int:
        """Delivered messages are kept a while for diagnosis, then dropped; unsent never are."""
        with self.transaction() as db:
            return db.execute("DELETE FROM outbox WHERE sent_at IS NOT NULL AND sent_at < ?",
                              (rfc3339(older_than.astimezone(self.tz)),)).rowcount


def face_row_id(person_id: str, source_sha256: str) -> str:
    """The identity a face encoding is sealed to (its natural key)."""
    return f"face_encodings/{person_id}/{source_sha256}"


def _insert_event(db: sqlite3.Connection, event: Event) -> None:
    db.execute(
        "INSERT INTO events (id, ts, type, lane, direction, method, person_id, decision,"
        " reason, snapshot, details) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        (event.id, rfc3339(event.ts), event.type, event.lane, event.direction,
         event.method, event.person_id, event.decision, event.reason, event.snapshot,
         json.dumps(event.details, ensure_ascii=False)))


def _insert_alert(db: sqlite3.Connection, alert: Alert) -> None:
    db.execute(
        "INSERT INTO alerts (id, ts, type, severity, lane, person_id, snapshot, details)"
        " VALUES (?,?,?,?,?,?,?,?)",
        (alert.id, rfc3339(alert.ts), alert.type, alert.severity, alert.lane,
         alert.person_id, alert.snapshot, json.dumps(alert.details, ensure_ascii=False)))


def _insert_audit(db: sqlite3.Connection, stamp: str, actor: str, action: str,
                  target: str | None, details: dict[str, Any]) -> None:
    db.execute("INSERT INTO audit_log (ts, actor, action, target, details) VALUES (?,?,?,?,?)",
               (stamp, actor, action, target, json.dumps(details, ensure_ascii=False)))


def _older(now: dt.datetime, days: int) -> str:
    return rfc3339(now - dt.timedelta(days=days))


def _enqueue(db: sqlite3.Connection, outbox: Sequence[OutboxMessage], now: str) -> None:
    db.executemany(
        "INSERT INTO outbox (msg_id, topic, payload, qos, retain, created_at) VALUES (?,?,?,?,?,?)",
        [(m.msg_id, m.topic, m.payload, m.qos, int(m.retain), now) for m in outbox])


def _person(row: sqlite3.Row) -> Person:
    return Person(id=row["id"], name=row["name"], role=row["role"], class_name=row["class_name"],
                  face_consent=bool(row["face_consent"]), active=bool(row["active"]))
