from __future__ import annotations

import json
import os
import signal
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from gate.records import Alert, Event, OutboxMessage, Person
from gate.store import DB_NAME, CardConflict, Store, migrate, migrations_dir
from tests.conftest import AT, TZ


def test_fresh_store_is_wal_full_and_private(store: Store) -> None:
    assert store.query("PRAGMA journal_mode")[0][0] == "wal"
    assert store.query("PRAGMA synchronous")[0][0] == 2  # FULL
    assert stat.S_IMODE(os.stat(store.path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(store.data_dir).st_mode) == 0o700
    shipped = sorted(p.name.removesuffix(".sql") for p in migrations_dir().glob("*.sql")
                     if not p.name.endswith(".rollback.sql"))
    assert shipped[:5] == ["0001_initial", "0002_consent_and_exit_permissions",
                           "0003_watchlists", "0004_console_users", "0005_visits"]
    assert store.schema_version() == shipped


def test_old_schema_is_upgraded_in_place(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    db_path = data / DB_NAME
    assert migrate(db_path, upto="0001_initial") == ["0001_initial"]
    with sqlite3.connect(db_path) as db:
        db.execute("INSERT INTO people (id, name, role, face_consent, created_at, updated_at)"
                   " VALUES ('S1', 'Old Student', 'student', 1, '2025-01-01T08:00:00+08:00',"
                   " '2025-01-02T08:00:00+08:00')")
        db.execute("INSERT INTO people (id, name, role, face_consent, created_at, updated_at)"
                   " VALUES ('S2', 'No Consent', 'student', 0, 'x', 'x')")
        columns = [r[1] for r in db.execute("PRAGMA table_info(people)")]
    db.close()
    assert "consent_recorded_at" not in columns

    store = Store(data, TZ)
    try:
        assert store.schema_version()[-1] == max(
            p.name.removesuffix(".sql") for p in migrations_dir().glob("*.sql")
            if not p.name.endswith(".rollback.sql"))
        rows = {r["id"]: r["consent_recorded_at"] for r in store.query("SELECT * FROM people")}
        assert rows == {"S1": "2025-01-02T08:00:00+08:00", "S2": None}
        assert store.get_person("S1") == Person("S1", "Old Student", face_consent=True)
        assert store.count("exit_permissions") == 0
    finally:
        store.close()


def test_card_never_changes_hands_silently(store: Store) -> None:
    store.upsert_person(Person("S1", "A"))
    store.upsert_person(Person("S2", "B"))
    assert store.assign_card("hex:AABBCCDD", "S1") == "added"
    assert store.assign_card("hex:AABBCCDD", "S1") == "unchanged"
    with pytest.raises(CardConflict):
        store.assign_card("hex:AABBCCDD", "S2")
    assert store.person_for_card(["dec10:0000000001", "hex:AABBCCDD"]) == Person("S1", "A")


def test_withdrawn_consent_erases_encodings(store: Store) -> None:
    store.upsert_person(Person("S1", "A", face_consent=True))
    assert store.add_face_encoding("S1", "sha", b"\0" * 512) == "added"
    assert store.add_face_encoding("S1", "sha", b"\0" * 512) == "unchanged"
    store.upsert_person(Person("S1", "A", face_consent=False))
    assert store.count("face_encodings") == 0
    with pytest.raises(PermissionError):
        store.add_face_encoding("S1", "sha", b"\0" * 512)


def test_event_and_outbox_commit_together(store: Store) -> None:
    event = Event(type="arrival", ts=AT, lane="L1", person_id=None)
    bad = OutboxMessage(event.id, "t", "{}")
    with pytest.raises(sqlite3.IntegrityError):  # duplicate msg_id inside one transaction
        store.record_event(event, [bad, bad])
    assert store.count("events") == 0 and store.count("outbox") == 0
    store.record_alert(Alert(type="unknown_card", severity="warning", ts=AT),
                       [OutboxMessage("m1", "t", "{}")])
    assert [m.msg_id for m in store.pending_outbox()] == ["m1"]
    store.mark_sent(store.pending_outbox()[0].seq)
    assert store.pending_outbox() == []


_WRITER = """
import datetime as dt, sys, time
from pathlib import Path
from zoneinfo import ZoneInfo
from gate.records import Event, OutboxMessage
from gate.store import Store
store = Store(Path(sys.argv[1]), ZoneInfo("Asia/Shanghai"))
i = 0
while True:
    e = Event(type="arrival", ts=dt.datetime(2026, 3, 2, 9, 30, tzinfo=ZoneInfo("Asia/Shanghai")),
              lane="L1", id=f"evt-{i}")
    store.record_event(e, [OutboxMessage(f"msg-{i}", "campus/x", "{}")])
    print(e.id, flush=True)
    i += 1
"""


def test_recorded_event_survives_sigkill(tmp_path: Path) -> None:
    data = tmp_path / "data"
    proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(data)], stdout=subprocess.PIPE,
                            text=True)
    assert proc.stdout is not None
    acknowledged = [proc.stdout.readline().strip() for _ in range(25)]
    os.kill(proc.pid, signal.SIGKILL)  # right after the 25th record returned
    proc.wait()
    store = Store(data, TZ)
    try:
        ids = {r[0] for r in store.query("SELECT id FROM events")}
        assert set(acknowledged) <= ids
        outbox = {m.msg_id for m in store.pending_outbox(10_000)}
        assert {a.replace("evt", "msg") for a in acknowledged} <= outbox
        assert json.loads(store.pending_outbox(1)[0].payload) == {}
    finally:
        store.close()
