"""``gate doctor``, ``gate backup DIR``, ``gate restore DIR``: the installer's and operator's
commands, kept out of ``gate/cli.py`` so that file stays a list of entry points."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from gate.cli_context import Globals


def doctor(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per check")] = False,
    listen: Annotated[float, typer.Option(
        help="Seconds to listen on each reader (hold a card on it meanwhile)", min=0.5,
        max=120)] = 3.0,
    snapshots: Annotated[Path | None, typer.Option(
        help="Where camera snapshots go (default DATA_DIR/doctor; files are 0600)")] = None,
    pulse_relays: Annotated[bool, typer.Option(
        "--pulse-relays", help="Click each relay once (the gate opens for pulse_ms)")] = False,
    no_broker: Annotated[bool, typer.Option("--no-broker", help="Skip the broker checks")]
    = False,
) -> None:
    """Live checks of every configured part; exit 0 all good, 1 with a failure and its fix."""
    from gate.cli_output import emit
    from gate.doctor import DoctorOptions, exit_code, render, run_doctor

    g: Globals = ctx.obj
    config = g.config()
    verdicts = run_doctor(config, g.resolved_data_dir(config), DoctorOptions(
        listen_s=listen, snapshot_dir=snapshots, pulse_relays=pulse_relays,
        broker=not no_broker))
    if as_json:
        for verdict in verdicts:
            emit(verdict.as_dict())
    else:
        typer.echo(render(verdicts))
    raise typer.Exit(exit_code(verdicts))


def backup(
    ctx: typer.Context,
    dest: Annotated[Path, typer.Argument(help="A new (or empty) directory for this backup")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the manifest as JSON")] = False,
) -> None:
    """Consistent online backup of the database (and snapshots), safe while the gate runs."""
    from dataclasses import asdict

    from gate.backup import BackupError, configured_key_path
    from gate.backup import backup as take_backup
    from gate.cli_output import emit, fail

    g: Globals = ctx.obj
    config = g.config()
    try:
        manifest = take_backup(g.resolved_data_dir(config), dest,
                               key_path=configured_key_path(config))
    except BackupError as exc:
        fail(str(exc))
    if as_json:
        emit(asdict(manifest))
        return
    counts = ", ".join(f"{n} {t}" for t, n in manifest.counts.items())
    typer.echo(f"{dest}: backup of schema {manifest.schema_head} ({counts}; "
               f"{manifest.snapshots} snapshot file(s); key {manifest.key_id or 'none'})")


def restore(
    ctx: typer.Context,
    source: Annotated[Path, typer.Argument(help="A directory written by `gate backup`")],
) -> None:
    """Restore a backup into the data directory (stop the service first)."""
    from gate.backup import BackupError
    from gate.backup import restore as do_restore
    from gate.cli_output import fail

    g: Globals = ctx.obj
    config = g.config()
    data_dir = g.resolved_data_dir(config)
    try:
        aside = do_restore(source, data_dir)
    except BackupError as exc:
        fail(str(exc))
    typer.echo(f"{data_dir}: restored from {source} (quick_check ok)"
               + (f"; the previous database is kept as {aside}" if aside else ""))


def register(app: typer.Typer) -> None:
    app.command("doctor")(doctor)
    app.command("backup")(backup)
    app.command("restore")(restore)
