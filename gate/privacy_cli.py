"""``gate keys ...``, ``gate people erase|export`` and ``gate retention ...``.

Registered in gate/cli.py; each command opens the store with the configured key,
and every erasure, export and key change is audited through the journal.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from gate.cli_context import Globals, open_store
from gate.crypto import CryptoError, KeyRing, Sealer, append_key, create_key_file, key_source

if TYPE_CHECKING:
    pass

keys_app = typer.Typer(no_args_is_help=True, help="Encryption keys of biometrics at rest.")
retention_app = typer.Typer(no_args_is_help=True, help="Retention of each data class.")


def fail(message: str) -> NoReturn:
    from gate.cli_output import fail as fail_cli

    fail_cli(message)


def _key_file(g: Globals) -> Path:
    config = g.config()
    if config.privacy.key_file is None:
        fail("[privacy] key_file is not set in the configuration")
    return config.privacy.key_file


@keys_app.command("init")
def keys_init(ctx: typer.Context) -> None:
    """Create the key file (0600) and seal everything stored before without a key."""
    from gate.privacy import reseal_all
    from gate.snapshots import SnapshotStore

    path = _key_file(ctx.obj)
    try:
        kid = create_key_file(path)
    except CryptoError as exc:
        fail(str(exc))
    with open_store(ctx.obj) as (_config, store):
        done = reseal_all(store, SnapshotStore(store))
        store.audit("cli", "keys_init", kid, done)
    typer.echo(f"{path}: key {kid} created (mode 0600); sealed {_summary(done)}")


@keys_app.command("rotate")
def keys_rotate(
    ctx: typer.Context,
    retire: Annotated[bool, typer.Option(
        "--retire", help="Afterwards, drop old keys that no stored value needs")] = False,
) -> None:
    """Add a new key, re-encrypt every sealed value with it; old rows stay readable."""
    from gate.privacy import keys_in_use, reseal_all
    from gate.snapshots import SnapshotStore

    g: Globals = ctx.obj
    source = key_source(g.config().privacy.key_file)
    if source is None:
        fail("no key configured: run `gate keys init` first")
    if source.credential:
        fail(f"the key comes from a systemd credential ({source.path}): add a line with a new"
             " key to its source file, re-encrypt it with systemd-creds, restart, then run"
             " `gate keys rotate` with [privacy] key_file pointing at a writable copy")
    try:
        ring = KeyRing.load(source)
        kid = append_key(source.path, ring.ids)
    except CryptoError as exc:
        fail(str(exc))
    with open_store(g) as (_config, store):
        done = reseal_all(store, SnapshotStore(store))
        store.audit("cli", "keys_rotated", kid, done)
        needed = keys_in_use(store)
    typer.echo(f"key {kid} is now current; re-encrypted {_summary(done)}")
    if retire:
        lines = source.path.read_text().splitlines(keepends=True)
        kept = [ln for ln in lines if ln.startswith("#") or not ln.strip()
                or ln.split(" ", 1)[0] in needed | {kid}]
        source.path.write_text("".join(kept))
        typer.echo(f"retired {len(lines) - len(kept)} old key(s)")


@keys_app.command("status")
def keys_status(ctx: typer.Context) -> None:
    """Is the data encrypted, with which key, and which keys do stored values need."""
    from gate.privacy import keys_in_use

    with open_store(ctx.obj) as (_config, store):
        sealer: Sealer = store.sealer
        used = sorted(keys_in_use(store))
        plain = int(store.query("SELECT COUNT(*) FROM face_encodings WHERE substr(encoding, 1,"
                                " 6) != CAST('CGENC1' AS BLOB)")[0][0])
    typer.echo(json.dumps({"encrypted": sealer.encrypted,
                           "current": sealer.keys.current if sealer.keys else None,
                           "keys_in_use": used, "plain_face_encodings": plain}))


def people_erase(
    ctx: typer.Context, person_id: str,
    actor: Annotated[str, typer.Option("--by", help="Who asked for it (audited)")] = "cli",
) -> None:
    """Erase a person: encodings, photos and snapshots go; passages stay, anonymised."""
    from gate.journal import Journal
    from gate.privacy import ErasureError, erase_person
    from gate.snapshots import SnapshotStore

    with open_store(ctx.obj) as (config, store):
        try:
            counts = erase_person(Journal(config, store), SnapshotStore(store), person_id,
                                  actor)
        except ErasureError as exc:
            fail(str(exc))
    typer.echo(f"{person_id}: erased ({_summary(counts)})")


def people_export(
    ctx: typer.Context, person_id: str,
    out: Annotated[Path, typer.Option("--out", help="Directory for the copy")],
    actor: Annotated[str, typer.Option("--by", help="Who asked for it (audited)")] = "cli",
) -> None:
    """The data subject's copy: person.json and their face crops, nobody else's data."""
    from gate.journal import Journal
    from gate.privacy import ErasureError, export_person
    from gate.snapshots import SnapshotStore

    with open_store(ctx.obj) as (config, store):
        try:
            path = export_person(Journal(config, store), SnapshotStore(store), person_id, out,
                                 actor)
        except ErasureError as exc:
            fail(str(exc))
    typer.echo(str(path))


def people_access_report(
    ctx: typer.Context, person_id: str,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line")] = False,
) -> None:
    """Who looked at this person's data, when and why (from the audit log), newest first."""
    from gate.access_report import access_report

    with open_store(ctx.obj) as (_config, store):
        rows = access_report(store, person_id)
    if as_json:
        for row in rows:
            typer.echo(json.dumps(row, ensure_ascii=False))
        return
    if not rows:
        typer.echo(f"{person_id}: nobody has opened this person's data")
        return
    for row in rows:
        typer.echo(f"{row['ts'][:19].replace('T', ' ')}  {row['actor']:<12} "
                   f"{row['action']:<16} {row['target'] or '-':<28} {row['why']}")


@retention_app.command("status")
def retention_show(ctx: typer.Context) -> None:
    """Each data class: days kept, oldest record, last purge (one JSON object per line)."""
    from gate.privacy import retention_status

    with open_store(ctx.obj) as (config, store):
        for row in retention_status(store, config.retention):
            typer.echo(json.dumps(row.as_dict(), ensure_ascii=False))


@retention_app.command("purge")
def retention_purge(
    ctx: typer.Context,
    vacuum: Annotated[bool, typer.Option("--vacuum", help="Also rebuild the file")] = False,
) -> None:
    """Run the retention job now (the service runs it every hour)."""
    from gate.privacy import purge
    from gate.snapshots import SnapshotStore

    with open_store(ctx.obj) as (config, store):
        done = purge(store, SnapshotStore(store), config.retention, store.now(), vacuum=vacuum)
    typer.echo(json.dumps(done))


def _summary(counts: dict[str, int]) -> str:
    return ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in counts.items())
