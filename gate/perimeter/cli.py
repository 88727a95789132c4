"""``gate perimeter ...``: offline analysis of recorded footage with a camera's zones."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer

from gate.cli_output import emit, fail
from gate.config import Config, ConfigError, load_config, resolve_config

perimeter_app = typer.Typer(no_args_is_help=True, help="Perimeter cameras: zones and rules.")


def _config(ctx: typer.Context, path: Path | None) -> Config:
    try:
        if path is not None:
            return load_config(path)
        return resolve_config(getattr(ctx.obj, "config_path", None))
    except ConfigError as exc:
        fail(str(exc))


@perimeter_app.command("analyse")
def analyse_cmd(
    ctx: typer.Context,
    video: Annotated[Path, typer.Argument(help="A video file (.gz is unpacked first).")],
    camera: Annotated[str, typer.Option("--camera", help="Camera id whose zones apply.")],
    config: Annotated[Path | None, typer.Option("--config", help="Config file.")] = None,
    tracks: Annotated[bool, typer.Option("--tracks", help="Also one line per finished track.")
                      ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
    start: Annotated[str | None, typer.Option(
        "--start", help="Wall time of the first frame (ISO 8601): applies school hours and "
        "armed/no-stopping windows. Without it every rule runs.")] = None,
    fps: Annotated[float | None, typer.Option(
        "--fps", help="Frames analysed per second (default: perimeter.fps).")] = None,
    snapshots: Annotated[Path | None, typer.Option(
        "--snapshots", help="Write each alert's snapshot JPEG into this directory.")] = None,
) -> None:
    """Run the perimeter pipeline on VIDEO: one line per alert (and per finished track)."""
    from gate.perimeter.alerts import PerimeterAlert
    from gate.perimeter.analyse import VideoError, analyse

    cfg = _config(ctx, config)
    cams = {c.id: c for c in cfg.cameras}
    if camera not in cams:
        fail(f"--camera: no camera {camera!r} in the configuration")
    if not video.is_file():
        fail(f"{video}: no such file")
    when = None
    if start is not None:
        try:
            when = dt.datetime.fromisoformat(start)
        except ValueError:
            fail(f"--start: {start!r} is not an ISO 8601 date and time")
        if when.tzinfo is None:
            when = when.replace(tzinfo=cfg.tz)
    if fps is not None and not 0 < fps <= 30:
        fail("--fps: must be above 0 and at most 30")
    if snapshots is not None:
        snapshots.mkdir(parents=True, exist_ok=True)
    try:
        for item in analyse(video, camera, cams[camera].zones, cfg.perimeter, cfg.calendar, when,
                            fps):
            if isinstance(item, PerimeterAlert):
                if snapshots is not None and item.snapshot_jpeg:
                    (snapshots / f"{item.id}-{item.revision}.jpg").write_bytes(item.snapshot_jpeg)
                if as_json:
                    emit(item.to_json())
                else:
                    typer.echo(f"{item.ts:%H:%M:%S} {item.type} ({item.rule}) zone={item.zone} "
                               f"track={item.track} dwell={item.dwell_s:.0f}s rev={item.revision}")
            elif tracks:
                if as_json:
                    emit(item.to_json())
                else:
                    dwell = ", ".join(f"{z} {s:.0f}s" for z, s in item.dwell_s.items())
                    typer.echo(f"track {item.track} {item.object} {item.first_ts:%H:%M:%S}-"
                               f"{item.last_ts:%H:%M:%S} {dwell}")
    except VideoError as exc:
        fail(str(exc))
