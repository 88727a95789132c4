"""Online backup while taps are recorded, restore with schema and integrity checks."""

from __future__ import annotations

import json
import shutil
import sqlite3
import threading
from pathlib import Path

import pytest

from gate.backup import (
    BackupError,
    backup,
    backup_before_migrate,
    package_migrations,
    pending_migrations,
    read_manifest,
    restore,
)
from gate.records import Event, OutboxMessage
from gate.store import DB_NAME, Store, migrate
from tests.conftest import AT, TZ, run_gate
from tests.ptys import wait_for


class TapWriter(threading.Thread):
    """Records arrivals through the Store as the lanes do, noting each id once committed."""

    def __init__(self, store: Store) -> None:
        super().__init__(daemon=True)
        self.store = store
        self.committed: list[str] = []
        self.stop = threading.Event()

    def run(self) -> None:
        n = 0
        while not self.stop.is_set():
            n += 1
            event = Event("arrival", AT, lane="L1", direction="entry",
                          method="card", person_id=f"S{n:05d}", decision="open")
            self.store.record_event(event, [OutboxMessage(
                f"msg-{event.id}", "campus/zqxx/main/events/arrival", json.dumps({"n": n}))])
            self.committed.append(event.id)


def _event_ids(db_path: Path) -> list[str]:
    db = sqlite3.connect(db_path)
    try:
        return [r[0] for r in db.execute("SELECT id FROM events ORDER BY rowid")]
    finally:
        db.close()


def test_backup_while_recording_restores_every_committed_event(tmp_path: Path) -> None:
    data = tmp_path / "data"
    store = Store(data, TZ)
    (data / "snapshots").mkdir()
    (data / "snapshots" / "a.jpg.enc").write_bytes(b"\x00encrypted")
    writer = TapWriter(store)
    writer.start()
    try:
        wait_for(lambda: len(writer.committed) >= 200, 30, "200 taps recorded")
        before = list(writer.committed)
        manifest = backup(data, tmp_path / "backup")
        wait_for(lambda: len(writer.committed) >= len(before) + 50, 30, "taps after backup")
    finally:
        writer.stop.set()
        writer.join(10)
        store.close()
    after = writer.committed
    assert manifest.migrations == package_migrations()
    assert manifest.snapshots == 1 and manifest.key_id is None

    target = tmp_path / "restored"
    assert restore(tmp_path / "backup", target) is None
    restored = _event_ids(target / DB_NAME)
    # Every event committed before the backup began is there, and the copy is one consistent
    # moment: a prefix of the commit order, nothing half-written, nothing invented.
    assert len(restored) >= len(before)
    assert restored == after[: len(restored)]
    assert len(restored) == manifest.counts["events"]
    db = sqlite3.connect(target / DB_NAME)
    try:
        assert db.execute("PRAGMA quick_check").fetchall() == [("ok",)]
        # each event was journalled with its outbox message in one transaction: never apart
        assert db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0] == len(restored)
    finally:
        db.close()
    assert (target / "snapshots" / "a.jpg.enc").read_bytes() == b"\x00encrypted"
    assert (tmp_path / "backup").stat().st_mode & 0o777 == 0o700
    # the restored database opens as a gate store
    s = Store(target, TZ)
    try:
        assert s.count("events") == len(restored)
    finally:
        s.close()


def test_restore_keeps_the_replaced_database(tmp_path: Path) -> None:
    old = Store(tmp_path / "old", TZ)
    old.record_event(Event("arrival", AT, lane="L1"))
    old.close()
    backup(tmp_path / "old", tmp_path / "b")
    live = Store(tmp_path / "live", TZ)
    for _ in range(3):
        live.record_event(Event("departure", AT, lane="L1"))
    live.close()
    aside = restore(tmp_path / "b", tmp_path / "live")
    assert aside is not None and len(_event_ids(aside)) == 3
    assert len(_event_ids(tmp_path / "live" / DB_NAME)) == 1


def test_restore_refuses_a_newer_schema(tmp_path: Path, store: Store) -> None:
    backup(store.data_dir, tmp_path / "b")
    manifest_path = tmp_path / "b" / "manifest.json"
    raw = json.loads(manifest_path.read_text())
    raw["migrations"].append("0099_from_the_future")
    manifest_path.write_text(json.dumps(raw))
    with pytest.raises(BackupError, match=r"newer schema .*0099_from_the_future"):
        restore(tmp_path / "b", tmp_path / "target")
    assert not (tmp_path / "target" / DB_NAME).exists()


def test_restore_refuses_newer_schema_inside_the_database(tmp_path: Path, store: Store) -> None:
    store.query("INSERT INTO _yoyo_migration (migration_hash, migration_id, applied_at_utc)"
                " VALUES ('x', '0099_from_the_future', '2030-01-01 00:00:00')")
    manifest = backup(store.data_dir, tmp_path / "b")
    # the manifest already says so
    assert manifest.migrations[-1] == "0099_from_the_future"
    raw = json.loads((tmp_path / "b" / "manifest.json").read_text())
    raw["migrations"] = raw["migrations"][:-1]  # a manifest that lies is still caught
    (tmp_path / "b" / "manifest.json").write_text(json.dumps(raw))
    with pytest.raises(BackupError, match="newer schema"):
        restore(tmp_path / "b", tmp_path / "target")


def test_restore_checks_checksum_and_integrity(tmp_path: Path, store: Store) -> None:
    for _ in range(300):
        store.record_event(Event("arrival", AT, lane="L1",
                                 details={"pad": "x" * 200}))
    backup(store.data_dir, tmp_path / "b")
    db_file = tmp_path / "b" / DB_NAME
    raw = bytearray(db_file.read_bytes())
    page = 4096
    for offset in range(page * 3, len(raw) - page, page * 2):
        raw[offset + 8: offset + 400] = b"\xff" * 392  # trash cell pointers of b-tree pages
    db_file.write_bytes(bytes(raw))
    with pytest.raises(BackupError, match="checksum differs"):
        restore(tmp_path / "b", tmp_path / "target")
    manifest_path = tmp_path / "b" / "manifest.json"
    m = json.loads(manifest_path.read_text())
    import hashlib
    m["database_sha256"] = hashlib.sha256(bytes(raw)).hexdigest()
    manifest_path.write_text(json.dumps(m))
    with pytest.raises(BackupError, match="fails quick_check"):
        restore(tmp_path / "b", tmp_path / "target")
    assert not (tmp_path / "target" / DB_NAME).exists()


def test_backup_refuses_a_used_directory_and_a_missing_database(tmp_path: Path,
                                                                store: Store) -> None:
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "x").write_text("x")
    with pytest.raises(BackupError, match="not empty"):
        backup(store.data_dir, tmp_path / "used")
    with pytest.raises(BackupError, match="no database"):
        backup(tmp_path / "nowhere", tmp_path / "b")
    with pytest.raises(BackupError, match="no manifest"):
        restore(tmp_path / "used", tmp_path / "target")


def test_key_id_names_the_key_without_revealing_it(tmp_path: Path, store: Store) -> None:
    key = tmp_path / "biometric.key"
    key.write_bytes(b"k" * 44 + b"\n")
    manifest = backup(store.data_dir, tmp_path / "b", key_path=key)
    assert manifest.key_id and manifest.key_id.startswith("sha256:")
    text = (tmp_path / "b" / "manifest.json").read_text()
    assert "k" * 44 not in text
    assert read_manifest(tmp_path / "b").key_id == manifest.key_id


def test_backup_before_migrate_only_when_an_upgrade_is_pending(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    assert backup_before_migrate(data) is None  # a new install: nothing to protect
    known = package_migrations()
    migrate(data / DB_NAME, upto=known[-2])
    assert pending_migrations(data) == known[-1:]
    dest = backup_before_migrate(data)
    assert dest is not None and dest.parent == data / "backups"
    assert read_manifest(dest).migrations == known[:-1]
    Store(data, TZ).close()  # the start migrates
    assert pending_migrations(data) == []
    assert backup_before_migrate(data) is None


def test_backup_and_restore_commands(tmp_path: Path, store: Store) -> None:
    store.record_event(Event("arrival", AT, lane="L1"))
    data = str(store.data_dir)
    out = run_gate("--data-dir", data, "backup", str(tmp_path / "b"), "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["counts"]["events"] == 1
    again = run_gate("--data-dir", data, "backup", str(tmp_path / "b"))
    assert again.returncode == 2 and "not empty" in again.stderr
    restored = run_gate("--data-dir", str(tmp_path / "r"), "restore", str(tmp_path / "b"))
    assert restored.returncode == 0, restored.stderr
    assert "quick_check ok" in restored.stdout
    shutil.rmtree(tmp_path / "b")
    missing = run_gate("--data-dir", str(tmp_path / "r"), "restore", str(tmp_path / "b"))
    assert missing.returncode == 2 and "no manifest.json" in missing.stderr
