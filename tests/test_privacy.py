"""Encryption at rest, key rotation, retention, erasure and export, on real SQLite files."""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import stat
from pathlib import Path

import cv2
import numpy as np
import pytest

from gate.config import RetentionConfig, parse_config
from gate.crypto import CryptoError, KeyRing, Sealer, WrongKey, create_key_file, load_sealer
from gate.evidence_views import Review, audit_log, person_passages, review_events, view_snapshot
from gate.journal import Journal
from gate.messages import alert_payload, guardian_notification
from gate.privacy import erase_person, export_person, purge, retention_status
from gate.records import Alert, Event, Guardian, Person
from gate.snapshots import Shot, SnapshotJob, SnapshotStore, SnapshotWriter
from gate.store import DB_NAME, Store
from gate.watchlist import apply_watchlist, parse_payload, watch_gallery
from recognition.gallery import Gallery
from recognition.photo_jobs import InProcess
from tests.conftest import TZ, run_gate

NOW = dt.datetime(2026, 11, 20, 10, 0, tzinfo=TZ)


def jpeg(seed: int, size: int = 64) -> bytes:
    rng = np.random.default_rng(seed)
    ok, buf = cv2.imencode(".jpg", rng.integers(0, 255, (size, size, 3), dtype=np.uint8))
    assert ok
    return bytes(buf.tobytes())


def encoding(seed: int) -> bytes:
    return np.random.default_rng(seed).normal(0, 0.1, 128).astype(np.float32).tobytes()


def chunks(data: bytes, size: int = 16) -> list[bytes]:
    return [data[i:i + size] for i in range(0, len(data) - size + 1, size)]


def disk_bytes(data_dir: Path) -> bytes:
    """The database file and its WAL (and journal, if any), as they are on disk now."""
    out = b""
    for suffix in ("", "-wal", "-journal"):
        path = data_dir / (DB_NAME + suffix)
        if path.exists():
            out += path.read_bytes()
    return out


def keyed(tmp_path: Path, name: str = "gate.key") -> Path:
    key = tmp_path / name
    create_key_file(key)
    return key


def open_store(data: Path, key: Path | None) -> Store:
    return Store(data, TZ, load_sealer(key))


def config_file(tmp_path: Path, data: Path, key: Path | None, **retention: int) -> Path:
    lines = [f'data_dir = "{data}"', "[console]", "enabled = false"]
    if key is not None:
        lines += ["[privacy]", f'key_file = "{key}"']
    if retention:
        lines += ["[retention]", *(f"{k} = {v}" for k, v in retention.items())]
    path = tmp_path / "gate.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def seed_person(store: Store, pid: str, seed: int) -> bytes:
    store.upsert_person(Person(pid, pid.title(), face_consent=True))
    vec = encoding(seed)
    store.add_face_encoding(pid, f"photo-{seed}", vec)
    return vec


# Encryption at rest ---------------------------------------------------------------------------

def test_no_face_encoding_bytes_in_the_database_or_its_wal(tmp_path: Path) -> None:
    key = keyed(tmp_path)
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    data = tmp_path / "data"
    store = open_store(data, key)
    assert store.encrypted
    vecs = {pid: seed_person(store, pid, i) for i, pid in enumerate(("ann", "bo", "cy"))}
    watched = encoding(42)  # a police watch list's face is sealed too
    apply_watchlist(store, parse_payload(json.dumps({
        "schema": "campus-gate/watchlist/1", "list": "police", "persons": [
            {"id": "P1", "name": "X", "encodings": [np.frombuffer(watched, np.float32)
                                                     .tolist()]}]}).encode()), "test", None)
    hit = watch_gallery(store).identify(np.frombuffer(watched, np.float32), 0.1, 0.0)
    assert hit.person_id == "police/P1"
    on_disk = disk_bytes(data)  # before close: the rows are in the WAL now
    assert (data / (DB_NAME + "-wal")).stat().st_size > 0
    assert dict(store.face_encodings()) == vecs  # they open again, exactly
    store.close()
    on_disk += disk_bytes(data)
    for vec in [*vecs.values(), watched]:
        assert not any(c in on_disk for c in chunks(vec)), "plain encoding bytes on disk"


def test_keys_init_seals_what_was_stored_before_and_leaves_no_plain_copy(
        tmp_path: Path) -> None:
    data = tmp_path / "data"
    store = open_store(data, None)
    assert not store.encrypted
    vecs = [seed_person(store, pid, i) for i, pid in enumerate(("ann", "bo"))]
    assert chunks(vecs[0])[0] in disk_bytes(data)  # the test can see plain bytes when they are
    store.close()
    photo_dir = data / "enrolment-photos" / "ann"  # retention.keep_enrolment_photos
    photo_dir.mkdir(parents=True)
    (photo_dir / "abc123.jpg").write_bytes(jpeg(5))
    key = tmp_path / "keys" / "gate.key"
    result = run_gate("--config", str(config_file(tmp_path, data, key)), "keys", "init")
    assert result.returncode == 0, result.stderr
    assert "key k1 created" in result.stdout and "2 face encodings" in result.stdout
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    on_disk = disk_bytes(data)
    for vec in vecs:
        assert not any(c in on_disk for c in chunks(vec))
    assert [p.name for p in photo_dir.iterdir()] == ["abc123.enc"]
    store = open_store(data, key)
    assert sorted(v for _p, v in store.face_encodings()) == sorted(vecs)
    assert store.sealer.open((photo_dir / "abc123.enc").read_bytes(),
                             "enrolment-photos/ann/abc123") == jpeg(5)
    store.close()


def test_wrong_key_or_no_key_fails_with_a_clear_error(tmp_path: Path) -> None:
    data = tmp_path / "data"
    key = keyed(tmp_path)
    store = open_store(data, key)
    seed_person(store, "ann", 1)
    store.close()
    other = keyed(tmp_path, "other.key")  # also "k1", a different key
    with pytest.raises(WrongKey, match="not the key this database was encrypted with"):
        open_store(data, other)
    with pytest.raises(CryptoError, match="no key is configured"):
        open_store(data, None)
    result = run_gate("--config", str(config_file(tmp_path, data, other)), "keys", "status")
    assert result.returncode == 2 and "not the key this database was encrypted with" in \
        result.stderr and "Traceback" not in result.stderr
    result = run_gate("--config", str(config_file(tmp_path, data, other)), "run", timeout=60)
    assert result.returncode == 2 and "not the key this database was encrypted with" in \
        result.stderr and "Traceback" not in result.stderr  # the service refuses to start


def test_a_sealed_value_is_bound_to_its_row_and_key_id(tmp_path: Path) -> None:
    sealer = load_sealer(keyed(tmp_path))
    blob = sealer.seal(b"face of ann", "face_encodings/ann/1")
    assert sealer.open(blob, "face_encodings/ann/1") == b"face of ann"
    with pytest.raises(WrongKey):
        sealer.open(blob, "face_encodings/bo/1")  # copied onto another person's row
    relabelled = blob.replace(b"k1", b"k2", 1)
    ring = KeyRing([("k1", os.urandom(32)), ("k2", os.urandom(32))])
    with pytest.raises(WrongKey):
        Sealer(ring).open(relabelled, "face_encodings/ann/1")
    loose = tmp_path / "loose.key"
    loose.write_text((tmp_path / "gate.key").read_text())
    loose.chmod(0o644)
    with pytest.raises(CryptoError, match="chmod 600"):
        load_sealer(loose)


def test_snapshots_on_disk_are_not_jpegs_with_a_key(tmp_path: Path) -> None:
    store = open_store(tmp_path / "data", keyed(tmp_path))
    snaps = SnapshotStore(store)
    scene, crop = jpeg(1, 128), jpeg(2)
    snaps.write(SnapshotJob("ev1", "2026-11-20T10:00:00.000+08:00", "L1", "ann",
                            Shot(scene, crop, "gate-cam", "face", 0.0)))
    files = sorted((tmp_path / "data" / "snapshots").rglob("*"))
    blobs = [f.read_bytes() for f in files if f.is_file()]
    assert len(blobs) == 2
    for blob in blobs:
        assert not blob.startswith(b"\xff\xd8") and b"JFIF" not in blob
        assert scene[100:140] not in blob and stat.S_IMODE(files[-1].stat().st_mode) == 0o600
    assert snaps.read("ev1", "scene") == scene and snaps.read("ev1", "crop") == crop
    assert snaps.read("nope") is None
    store.close()
    plain = open_store(tmp_path / "plain", None)
    SnapshotStore(plain).write(SnapshotJob("ev2", "2026-11-20T10:00:00.000+08:00", None, None,
                                           Shot(scene, None, "gate-cam", "face", 0.0)))
    [f] = (tmp_path / "plain" / "snapshots").rglob("*.jpg")
    assert f.read_bytes() == scene  # without a key, a JPEG (and the log says so at start)
    plain.close()


def test_keys_rotate_leaves_every_row_readable(tmp_path: Path) -> None:
    data = tmp_path / "data"
    key = keyed(tmp_path)
    store = open_store(data, key)
    vecs = {pid: seed_person(store, pid, i) for i, pid in enumerate(("ann", "bo"))}
    store.upsert_person(Person("host", "Host", role="staff"))
    from gate.visitors import Registration, VisitorDesk

    config = parse_config({"data_dir": str(data)})
    desk = VisitorDesk(config, store, Journal(config, store))
    visit = desk.register(Registration("Li Si", "resident-id", "11010519491231002X",
                                       "139", "meeting", "host", 60), "guard",
                          face=np.frombuffer(encoding(9), np.float32))
    assert b"11010519491231002X" not in disk_bytes(data)  # the ID number is sealed too
    desk.host_decision(visit["id"], "host", True)  # approved: followed by face inside
    snaps = SnapshotStore(store)
    snaps.write(SnapshotJob("ev1", "2026-11-20T10:00:00.000+08:00", "L1", "ann",
                            Shot(jpeg(1), jpeg(2), "gate-cam", "face", 0.0)))
    snaps.save_visitor_photo(visit["id"], jpeg(3))
    store.close()

    result = run_gate("--config", str(config_file(tmp_path, data, key)), "keys", "rotate")
    assert result.returncode == 0, result.stderr
    assert "key k2 is now current" in result.stdout
    store = open_store(data, key)
    assert store.sealer.keys is not None and store.sealer.keys.current == "k2"
    assert dict(store.face_encodings()) == vecs
    assert {r[0] for r in store.query("SELECT key_id FROM snapshots")} == {"k2"}
    assert SnapshotStore(store).read("ev1", "crop") == jpeg(2)
    assert SnapshotStore(store).visitor_photo(visit["id"]) == jpeg(3)
    desk = VisitorDesk(config, store, Journal(config, store))
    assert desk.get(visit["id"], full_id=True)["id_number"] == "11010519491231002X"
    assert desk.gallery().identify(np.frombuffer(encoding(9), np.float32), 0.1,
                                   0.0).person_id == visit["id"]
    store.close()

    result = run_gate("--config", str(config_file(tmp_path, data, key)), "keys", "rotate",
                      "--retire")
    assert result.returncode == 0, result.stderr
    ids = [ln.split()[0] for ln in key.read_text().splitlines() if not ln.startswith("#")]
    assert ids == ["k3"]  # nothing needs k1 or k2 any more
    store = open_store(data, key)
    assert dict(store.face_encodings()) == vecs
    assert SnapshotStore(store).read("ev1", "scene") == jpeg(1)
    store.close()


# Retention ------------------------------------------------------------------------------------

def _event(ts: dt.datetime, person: str | None, snapshot: str | None = None) -> Event:
    return Event(type="arrival", ts=ts, lane="L1", person_id=person, decision="open",
                 method="card+face", snapshot=snapshot)


def test_retention_removes_old_rows_and_files_and_keeps_recent(tmp_path: Path) -> None:
    store = open_store(tmp_path / "data", keyed(tmp_path))
    snaps = SnapshotStore(store)
    old, recent = NOW - dt.timedelta(days=40), NOW - dt.timedelta(days=2)
    for name, when in (("old", old), ("new", recent)):
        ev = _event(when, None, snapshot=name)
        store.record_event(ev)
        snaps.write(SnapshotJob(name, when.isoformat(timespec="milliseconds"), "L1", None,
                                Shot(jpeg(1), jpeg(2), "gate-cam", "face", 0.0)))
    store.upsert_person(Person("left", "Left School", face_consent=True))
    store.add_face_encoding("left", "p", encoding(5))
    store.upsert_person(Person("left", "Left School", face_consent=True, active=False))
    store.query("UPDATE people SET updated_at = ? WHERE id = 'left'", (old.isoformat(),))
    seed_person(store, "stays", 6)
    retention = RetentionConfig(events_days=30, snapshots_days=30, encodings_days=30)
    done = purge(store, snaps, retention, NOW)
    assert done["snapshots"] == 1 and done["events"] == 1 and done["encodings"] == 1
    assert [r[0] for r in store.query("SELECT id FROM snapshots")] == ["new"]
    files = {p.name for p in (tmp_path / "data" / "snapshots").rglob("*.enc")}
    assert files == {"new.scene.enc", "new.crop.enc"}
    assert snaps.read("new") == jpeg(1) and snaps.read("old") is None
    assert [r[0] for r in store.query("SELECT person_id FROM face_encodings")] == ["stays"]
    assert store.count("events") == 1
    status = {r.cls: r for r in retention_status(store, retention)}
    assert status["snapshots"].days == 30 and status["snapshots"].removed == 1
    assert status["snapshots"].last_purge == NOW.isoformat(timespec="milliseconds")
    assert status["snapshots"].oldest is not None and status["snapshots"].oldest[:10] == \
        recent.date().isoformat()
    assert status["audit"].records == 0 and status["events"].records == 1
    assert not (tmp_path / "data" / (DB_NAME + "-wal")).stat().st_size  # truncated
    store.close()


# Erasure and export -------------------------------------------------------------------------

def test_people_erase_leaves_anonymised_passages_and_an_audit_row(tmp_path: Path) -> None:
    data = tmp_path / "data"
    key = keyed(tmp_path)
    store = open_store(data, key)
    vec = seed_person(store, "ann", 1)
    seed_person(store, "bo", 2)
    store.upsert_guardian(Guardian("G1", "Ann's mother", "138"), "ann")
    store.assign_card("hex:01", "ann")
    snaps = SnapshotStore(store)
    for i in range(2):
        ev = _event(NOW - dt.timedelta(hours=i), "ann", snapshot=f"ann-{i}")
        store.record_event(ev)
        snaps.write(SnapshotJob(f"ann-{i}", ev.ts.isoformat(timespec="milliseconds"), "L1",
                                "ann", Shot(jpeg(i), jpeg(i + 5), "gate-cam", "face", 0.0)))
    store.record_event(_event(NOW, "bo", snapshot="bo-0"))
    snaps.write(SnapshotJob("bo-0", NOW.isoformat(), "L1", "bo",
                            Shot(jpeg(7), jpeg(8), "gate-cam", "face", 0.0)))
    store.record_alert(Alert("card_face_mismatch", "critical", NOW, "L1", "ann", "ann-0"))
    assert Gallery.from_rows(store.face_encodings()).identify(
        np.frombuffer(vec, np.float32), 0.3, 0.0).person_id == "ann"
    store.close()

    result = run_gate("--config", str(config_file(tmp_path, data, key)), "people", "erase",
                      "ann", "--by", "admin-zhang")
    assert result.returncode == 0, result.stderr
    store = open_store(data, key)
    hit = Gallery.from_rows(store.face_encodings()).identify(np.frombuffer(vec, np.float32),
                                                             0.3, 0.0)
    assert hit.person_id is None
    assert store.get_person("ann") is None and store.guardians_of("ann") == []
    assert {p.name.split(".")[0] for p in (data / "snapshots").rglob("*.enc")} == {"bo-0"}
    passages = store.query("SELECT person_id, snapshot, type FROM events ORDER BY person_id")
    assert [tuple(r) for r in passages] == [(None, None, "arrival"), (None, None, "arrival"),
                                            ("bo", "bo-0", "arrival")]
    assert [tuple(r) for r in store.query("SELECT person_id, snapshot FROM alerts")] == \
        [(None, None)]
    [audit] = store.query("SELECT actor, action, target FROM audit_log")
    assert tuple(audit) == ("admin-zhang", "person_erased", "ann")
    assert b"Ann's mother" not in disk_bytes(data)
    store.close()
    again = run_gate("--config", str(config_file(tmp_path, data, key)), "people", "erase",
                     "ann")
    assert again.returncode == 2 and "no person 'ann'" in again.stderr


def test_people_export_holds_only_that_person(tmp_path: Path) -> None:
    data = tmp_path / "data"
    store = open_store(data, None)
    seed_person(store, "ann", 1)
    seed_person(store, "bo", 2)
    snaps = SnapshotStore(store)
    store.record_event(_event(NOW, "ann", snapshot="ann-0"))
    snaps.write(SnapshotJob("ann-0", NOW.isoformat(), "L1", "ann",
                            Shot(jpeg(1, 128), jpeg(2), "gate-cam", "face", 0.0)))
    store.record_event(_event(NOW, "bo", snapshot="bo-0"))
    snaps.write(SnapshotJob("bo-0", NOW.isoformat(), "L1", "bo",
                            Shot(jpeg(3), jpeg(4), "gate-cam", "face", 0.0)))
    config = parse_config({"data_dir": str(data)})
    path = export_person(Journal(config, store), snaps, "ann", tmp_path / "out", "admin")
    doc = json.loads(path.read_text())
    assert doc["person"]["id"] == "ann" and len(doc["passages"]) == 1
    assert "bo" not in path.read_text().replace("body", "")
    files = sorted(p.name for p in (tmp_path / "out" / "snapshots").iterdir())
    assert files == ["ann-0.jpg"]  # the crop only: a scene may show other people
    assert (tmp_path / "out" / "snapshots" / "ann-0.jpg").read_bytes() == jpeg(2)
    assert store.query("SELECT action, target FROM audit_log")[0][:] == ("person_exported",
                                                                         "ann")
    with pytest.raises(ValueError):
        erase_person(Journal(config, store), snaps, "nobody", "admin")
    store.close()


# What leaves the gate -------------------------------------------------------------------------

def test_police_alert_carries_a_capped_inline_jpeg_and_parents_never_an_image() -> None:
    small, big = jpeg(1, 32), jpeg(2, 400)
    alert = Alert("card_face_mismatch", "critical", NOW, "L1", "ann", snapshot="ev1",
                  snapshot_jpeg=small)
    inline = parse_config({"mqtt": {"snapshot": "inline", "snapshot_max_bytes": 4096}})
    payload = alert_payload(inline, alert, None)
    assert payload["snapshot"] == "ev1"
    assert base64.b64decode(payload["snapshot_jpeg"]) == small
    assert len(payload["snapshot_jpeg"]) <= 4096
    too_big = alert_payload(inline, Alert("x", "critical", NOW, snapshot="ev2",
                                          snapshot_jpeg=big), None)
    assert len(base64.b64encode(big)) > 4096
    assert too_big["snapshot"] == "ev2" and "snapshot_jpeg" not in too_big
    link = alert_payload(parse_config({}), alert, None)
    assert link["snapshot"] == "ev1" and "snapshot_jpeg" not in link
    none = alert_payload(parse_config({"mqtt": {"snapshot": "none"}}), alert, None)
    assert none["snapshot"] is None and "snapshot_jpeg" not in none
    forged = alert_payload(inline, Alert("x", "critical", NOW, details={
        "snapshot_jpeg": "forged"}), None)
    assert "snapshot_jpeg" not in forged and forged["trigger"]["snapshot_jpeg"] == "forged"
    event = Event("arrival", NOW, "L1", person_id="ann", snapshot="ev1")
    note = guardian_notification(inline, event, Person("ann", "Ann"), "G1")
    body = json.loads(note.payload)
    assert "snapshot" not in note.payload and "/9j/" not in note.payload  # no JPEG, no ref
    assert set(body) == {"schema", "id", "ts", "site", "gate", "type", "severity", "child",
                         "lane", "event_id"}


def test_console_views_are_audited_and_filter_by_day_lane_type_and_person(
        tmp_path: Path) -> None:
    store = open_store(tmp_path / "data", keyed(tmp_path))
    config = parse_config({"data_dir": str(tmp_path / "data")})
    journal = Journal(config, store)
    writer = SnapshotWriter(SnapshotStore(store))
    seed_person(store, "ann", 1)
    store.record_event(_event(NOW, "ann", snapshot="ann-0"))
    store.record_event(Event("denied", NOW - dt.timedelta(days=1), "L2", reason="unknown_card"))
    writer.snapshots.write(SnapshotJob("ann-0", NOW.isoformat(), "L1", "ann",
                                       Shot(jpeg(1), jpeg(2), "gate-cam", "face", 0.0)))
    assert view_snapshot(journal, writer, "ann-0", "crop", "guard-li") == jpeg(2)
    assert view_snapshot(journal, writer, "missing", "crop", "guard-li") is None
    [row] = audit_log(store, action="snapshot_viewed")
    assert (row["actor"], row["target"]) == ("guard-li", "ann-0")
    assert json.loads(row["details"]) == {"part": "crop", "person_id": "ann"}
    [ann] = person_passages(store, "ann")
    assert ann["snapshot"] == "ann-0" and ann["parts"] == ["scene", "crop"]
    assert [e["type"] for e in review_events(store, Review(day=NOW.date()))] == ["arrival"]
    assert [e["type"] for e in review_events(store, Review(lane="L2"))] == ["denied"]
    assert review_events(store, Review(type="denied", with_snapshot=True)) == []
    store.close()


def test_visitor_photo_is_kept_only_when_configured_and_sealed(tmp_path: Path) -> None:
    from gate.privacy import keep_visitor_photo

    store = open_store(tmp_path / "data", keyed(tmp_path))
    snaps = SnapshotStore(store)
    store.query("INSERT INTO visitors (id, name, id_type, id_number, created_at) VALUES"
                " ('v1', 'V', 'passport', 'E1', ?)", (NOW.isoformat(),))
    photo = jpeg(4, 900)
    assert not keep_visitor_photo(parse_config({}), snaps, "v1", photo, InProcess())
    assert snaps.visitor_photo("v1") is None
    on = parse_config({"visitors": {"keep_photo": True}, "evidence": {"max_width": 320}})
    assert keep_visitor_photo(on, snaps, "v1", photo, InProcess())
    kept = snaps.visitor_photo("v1")
    assert kept is not None and cv2.imdecode(np.frombuffer(kept, np.uint8), 1).shape[1] == 320
    [f] = (tmp_path / "data" / "visitor-photos").iterdir()
    assert f.suffix == ".enc" and not f.read_bytes().startswith(b"\xff\xd8")
    done = purge(store, snaps, RetentionConfig(visitor_photos_days=1),
                 store.now() + dt.timedelta(days=2))
    assert done["visitor_photos"] == 1 and not f.exists() and store.count("visitors") == 1
    store.close()


def test_migration_0008_rolls_back_and_reapplies(tmp_path: Path) -> None:
    from yoyo import get_backend, read_migrations

    from gate.store import migrate, migrations_dir

    db_path = tmp_path / DB_NAME
    migrate(db_path)
    backend = get_backend(f"sqlite:///{db_path}")
    try:
        migrations = read_migrations(str(migrations_dir()))
        ours = migrations.filter(lambda m: m.id == "0008_evidence_privacy")
        with backend.lock():
            backend.rollback_migrations(backend.to_rollback(ours))
        tables = {r[0] for r in backend.connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}
    finally:
        backend.connection.close()
    assert not tables & {"snapshots", "visitor_photos", "crypto_keys", "purge_log"}
    assert "events" in tables
    assert migrate(db_path) == ["0008_evidence_privacy"]


def test_without_a_key_the_service_runs_and_says_biometrics_are_not_encrypted(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from gate.service import Service

    plain = Service(parse_config({"console": {"enabled": False}}), tmp_path / "plain")
    try:
        assert not plain.store.encrypted
        assert "biometrics are NOT encrypted at rest" in caplog.text
    finally:
        plain.stop()
    caplog.clear()
    key = keyed(tmp_path)
    sealed = Service(parse_config({"console": {"enabled": False},
                                   "privacy": {"key_file": str(key)}}), tmp_path / "sealed")
    try:
        assert sealed.store.encrypted and "NOT encrypted" not in caplog.text
    finally:
        sealed.stop()


def test_a_running_gate_follows_a_rotation_made_by_another_process(tmp_path: Path) -> None:
    key = keyed(tmp_path)
    data = tmp_path / "data"
    store = open_store(data, key)  # the service's store, left open
    seed_person(store, "ann", 1)
    result = run_gate("--config", str(config_file(tmp_path, data, key)), "keys", "rotate",
                      "--retire")
    assert result.returncode == 0, result.stderr
    seed_person(store, "bo", 2)  # sealed after the rotation: with the new key, not k1
    kids = {bytes(r[0])[7:9] for r in store.query("SELECT encoding FROM face_encodings")}
    assert kids == {b"k2"}
    assert len(store.face_encodings()) == 2
    store.close()
    store = open_store(data, key)  # and after a restart, with k1 retired, all still open
    assert len(store.face_encodings()) == 2
    store.close()
