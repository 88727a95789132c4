"""``gate backup DIR`` / ``gate restore DIR`` and the backup taken before a schema upgrade.

The backup runs while the service records taps: SQLite's online backup API copies a
consistent snapshot page by page (a copy of the files could catch a half-written WAL). The
manifest names the schema (the yoyo migrations applied) so a restore can refuse a database
from a newer release, and the key id (a fingerprint of the encryption key, never the key
itself) so the operator knows which key the encrypted snapshots need.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import sqlite3
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from gate import __version__
from gate.store import DB_NAME, migrations_dir

MANIFEST = "manifest.json"
MANIFEST_SCHEMA = "campus-gate/backup/1"
SNAPSHOTS = "snapshots"
PRE_MIGRATE_DIR = "backups"
PRE_MIGRATE_KEEP = 3


class BackupError(Exception):
    """A backup or restore that cannot go ahead; the message says why and what to do."""


@dataclass(frozen=True)
class Manifest:
    schema: str
    created: str
    version: str
    migrations: list[str]
    database: str
    database_sha256: str
    database_bytes: int
    snapshots: int  # files copied from the snapshots directory
    key_id: str | None
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def schema_head(self) -> str | None:
        return self.migrations[-1] if self.migrations else None


def package_migrations() -> list[str]:
    """Migration ids this release knows, in order (``0001_initial``, ...)."""
    return sorted(p.stem for p in migrations_dir().glob("*.sql")
                  if not p.name.endswith(".rollback.sql"))


def applied_migrations(db: sqlite3.Connection) -> list[str]:
    try:
        rows = db.execute("SELECT migration_id FROM _yoyo_migration ORDER BY migration_id")
    except sqlite3.OperationalError:  # not a gate database yet (no yoyo table)
        return []
    return [str(r[0]) for r in rows]


def quick_check(db: sqlite3.Connection) -> list[str]:
    """``PRAGMA quick_check``: an empty list when the database is sound, else its complaints."""
    rows = [str(r[0]) for r in db.execute("PRAGMA quick_check")]
    return [] if rows == ["ok"] else rows


def key_id(key: bytes) -> str:
    """A fingerprint that names a key without revealing it."""
    return "sha256:" + hashlib.sha256(key).hexdigest()[:16]


def configured_key_path(config: Any) -> Path | None:
    """``[privacy] key_file``, or the systemd credential ``biometric-key``.

    Read defensively: the privacy section belongs to the encryption work and may be absent.
    """
    creds = os.environ.get("CREDENTIALS_DIRECTORY")
    if creds and (Path(creds) / "biometric-key").is_file():
        return Path(creds) / "biometric-key"
    key_file = getattr(getattr(config, "privacy", None), "key_file", None)
    return Path(key_file) if key_file else None


def key_id_of(path: Path | None) -> str | None:
    if path is None:
        return None
    try:
        return key_id(path.read_bytes().strip())
    except OSError:
        return None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _online_copy(source: Path, target: Path) -> None:
    """Copy a live database with the backup API, in one step.

    In WAL mode the step reads one consistent snapshot while writers go on appending to the
    WAL; copying in several steps would restart whenever another connection writes, and a
    busy gate could keep it restarting for ever.
    """
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
    try:
        fd = os.open(target, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
        os.close(fd)
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)
            dst.execute("PRAGMA journal_mode=DELETE")  # a single self-contained file
        finally:
            dst.close()
    finally:
        src.close()


def _copy_tree(source: Path, target: Path) -> int:
    if not source.is_dir():
        return 0
    shutil.copytree(source, target, copy_function=shutil.copy2)
    os.chmod(target, 0o700)
    return sum(1 for p in target.rglob("*") if p.is_file())


def backup(data_dir: Path, dest: Path, *, key_path: Path | None = None,
           now: Callable[[], dt.datetime] = lambda: dt.datetime.now().astimezone()) -> Manifest:
    """Write a consistent copy of ``data_dir`` into ``dest`` (created; must be empty).

    The manifest is written last: a directory without one is an interrupted backup.
    """
    db_path = data_dir / DB_NAME
    if not db_path.is_file():
        raise BackupError(f"{db_path}: no database to back up (wrong --data-dir?)")
    if dest.exists() and any(dest.iterdir()):
        raise BackupError(f"{dest}: not empty; give a new directory for each backup")
    dest.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(dest, 0o700)  # the copy holds biometrics of minors
    target = dest / DB_NAME
    partial = dest / (DB_NAME + ".partial")
    _online_copy(db_path, partial)
    with sqlite3.connect(partial) as db:
        problems = quick_check(db)
        migrations = applied_migrations(db)
        counts = {t: int(db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0])
                  for t in ("events", "alerts", "outbox", "people") if _has_table(db, t)}
    db.close()
    if problems:
        raise BackupError(f"the copy fails quick_check ({problems[0]}); the live database may "
                          "be damaged: run gate doctor")
    partial.rename(target)
    snapshots = _copy_tree(data_dir / SNAPSHOTS, dest / SNAPSHOTS)
    manifest = Manifest(schema=MANIFEST_SCHEMA, created=now().isoformat(timespec="seconds"),
                        version=__version__, migrations=migrations, database=DB_NAME,
                        database_sha256=_sha256(target), database_bytes=target.stat().st_size,
                        snapshots=snapshots, key_id=key_id_of(key_path), counts=counts)
    tmp = dest / (MANIFEST + ".partial")
    tmp.write_text(json.dumps(asdict(manifest), indent=2) + "\n")
    tmp.rename(dest / MANIFEST)
    return manifest


def _has_table(db: sqlite3.Connection, table: str) -> bool:
    return db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?",
                      (table,)).fetchone() is not None


def read_manifest(source: Path) -> Manifest:
    path = source / MANIFEST
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        raise BackupError(f"{source}: no {MANIFEST}; not a backup, or an interrupted one") \
            from None
    except (OSError, ValueError) as exc:
        raise BackupError(f"{path}: unreadable ({exc})") from None
    if raw.get("schema") != MANIFEST_SCHEMA:
        raise BackupError(f"{path}: unknown manifest schema {raw.get('schema')!r}")
    try:
        return Manifest(**raw)
    except TypeError as exc:
        raise BackupError(f"{path}: malformed manifest ({exc})") from None


def check_schema(migrations: list[str], known: list[str] | None = None) -> None:
    """Refuse a database whose schema this release does not know (taken by a newer release)."""
    known = package_migrations() if known is None else known
    unknown = [m for m in migrations if m not in known]
    if unknown:
        raise BackupError(f"the backup has a newer schema ({', '.join(unknown)} unknown to "
                          f"campus-gate {__version__}); upgrade campus-gate first, then restore")


def restore(source: Path, data_dir: Path,
            now: Callable[[], dt.datetime] = lambda: dt.datetime.now().astimezone()) -> Path | None:
    """Put the backup in ``source`` back into ``data_dir`` (the service must be stopped).

    Checks run before anything is touched: manifest, schema, checksum, quick_check. The
    database being replaced is moved aside (returned), never deleted. An older schema is fine:
    the service migrates it at start.
    """
    manifest = read_manifest(source)
    check_schema(manifest.migrations)
    backup_db = source / manifest.database
    if not backup_db.is_file():
        raise BackupError(f"{backup_db}: missing")
    if _sha256(backup_db) != manifest.database_sha256:
        raise BackupError(f"{backup_db}: checksum differs from the manifest (damaged copy)")
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    incoming = data_dir / (DB_NAME + ".restoring")
    try:
        _online_copy(backup_db, incoming)
        with sqlite3.connect(incoming) as db:
            problems = quick_check(db)
            migrations = applied_migrations(db)
        db.close()
    except sqlite3.DatabaseError as exc:
        problems, migrations = [str(exc)], []
    if problems:
        incoming.unlink(missing_ok=True)
        raise BackupError(f"{backup_db}: fails quick_check ({problems[0]})")
    try:
        check_schema(migrations)
    except BackupError:
        incoming.unlink()
        raise
    stamp = now().strftime("%Y%m%dT%H%M%S")
    current = data_dir / DB_NAME
    aside: Path | None = None
    if current.exists():
        aside = data_dir / f"{DB_NAME}.before-restore-{stamp}"
        _online_copy(current, aside)  # folds the WAL in, so nothing committed is left behind
        for suffix in ("-wal", "-shm"):
            (data_dir / (DB_NAME + suffix)).unlink(missing_ok=True)
        current.unlink()
    incoming.rename(current)
    snapshots = source / SNAPSHOTS
    if snapshots.is_dir():
        live = data_dir / SNAPSHOTS
        if live.exists():
            live.rename(data_dir / f"{SNAPSHOTS}.before-restore-{stamp}")
        _copy_tree(snapshots, live)
    return aside


def pending_migrations(data_dir: Path) -> list[str]:
    """Migrations the next start will apply to the database in ``data_dir``."""
    db_path = data_dir / DB_NAME
    if not db_path.is_file() or db_path.stat().st_size == 0:
        return []
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        applied = set(applied_migrations(db))
    finally:
        db.close()
    return [m for m in package_migrations() if m not in applied]


def backup_before_migrate(data_dir: Path, *, key_path: Path | None = None,
                          keep: int = PRE_MIGRATE_KEEP) -> Path | None:
    """Before a start that will upgrade the schema, back the database up first.

    Call it before opening the ``Store`` (which migrates). Returns the backup directory, or
    None when nothing is to be migrated (a new database, or one already up to date). The
    newest ``keep`` upgrade backups are kept under ``data_dir/backups``.
    """
    pending = pending_migrations(data_dir)
    if not pending:
        return None
    stamp = dt.datetime.now().astimezone().strftime("%Y%m%dT%H%M%S")
    dest = data_dir / PRE_MIGRATE_DIR / f"pre-{pending[0]}-{stamp}"
    (data_dir / PRE_MIGRATE_DIR).mkdir(exist_ok=True, mode=0o700)
    backup(data_dir, dest, key_path=key_path)
    old = sorted((p for p in (data_dir / PRE_MIGRATE_DIR).glob("pre-*") if p.is_dir()),
                 key=lambda p: p.stat().st_mtime)
    for stale in old[:-keep] if keep > 0 else []:
        shutil.rmtree(stale, ignore_errors=True)
    return dest
