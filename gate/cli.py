"""``gate``: the command line of campus-gate (contract in README and DESIGN.md).

Exit status: 0 on success, 2 on bad usage, configuration or input (one line
per problem on stderr), 1 on an internal failure.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from gate import __version__
from gate.cli_context import Globals, open_store
from gate.cli_output import emit, fail
from gate.config import Config, ConfigError, load_config
from gate.evaluate_cli import HOME_PROVINCE_HELP, REGION_HELP
from gate.hub.cli import hub_app
from gate.perimeter.cli import perimeter_app

if TYPE_CHECKING:
    pass

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                  help="campus-gate: the school gate edge service.")
rfid_app = typer.Typer(no_args_is_help=True, help="Serial RFID card readers.")
people_app = typer.Typer(no_args_is_help=True, help="Students, staff and guardians.")
app.add_typer(rfid_app, name="rfid")
faces_app = typer.Typer(no_args_is_help=True, help="Face enrolment and identification.")
app.add_typer(people_app, name="people")
app.add_typer(faces_app, name="faces")
plates_app = typer.Typer(no_args_is_help=True, help="Licence plates.")
app.add_typer(plates_app, name="plates")
users_app = typer.Typer(no_args_is_help=True, help="Console users.")
app.add_typer(users_app, name="users")
report_app = typer.Typer(no_args_is_help=True, help="Daily reports.")
app.add_typer(report_app, name="report")
app.add_typer(perimeter_app, name="perimeter")
app.add_typer(hub_app, name="hub")


def report_day(date: str | None, config: Config) -> dt.date:
    try:
        return dt.date.fromisoformat(date) if date else dt.datetime.now(config.tz).date()
    except ValueError:
        fail(f"--date: {date!r} is not a date (YYYY-MM-DD)")


@app.callback()
def main_options(
    ctx: typer.Context,
    config: Annotated[Path | None, typer.Option(
        "--config", help="Config file (default /etc/campus-gate/gate.toml, else built-in)."
    )] = None,
    data_dir: Annotated[Path | None, typer.Option(
        "--data-dir", envvar="GATE_DATA_DIR", help="Data directory (overrides data_dir).")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
) -> None:
    ctx.obj = Globals(config, data_dir, verbose)


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo(__version__)


@app.command("check-config")
def check_config(path: Path) -> None:
    """Validate a config file; names each bad key and why."""
    try:
        config = load_config(path)
    except ConfigError as exc:
        fail(str(exc))
    readers = sum(len(lane.readers) for lane in config.lanes)
    typer.echo(f"{path}: OK (site {config.site}, gate {config.gate}, {len(config.lanes)} lane(s),"
               f" {readers} reader(s), {len(config.cameras)} camera(s))")


@app.command()
def run(ctx: typer.Context) -> None:
    """Run the gate service (systemd runs this)."""
    from gate.backup import backup_before_migrate, configured_key_path
    from gate.logs import setup_logging
    from gate.service import Service

    g: Globals = ctx.obj
    config = g.config()
    setup_logging(g.verbose)
    from gate.crypto import CryptoError

    data_dir = g.resolved_data_dir(config)
    taken = backup_before_migrate(data_dir, key_path=configured_key_path(config))
    if taken is not None:
        typer.echo(f"schema upgrade: the database was backed up first to {taken}", err=True)
    try:
        service = Service(config, data_dir)
    except CryptoError as exc:  # a wrong or missing key: say which, not a traceback
        fail(str(exc))
    service.run_forever()


@app.command()
def status(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="The health model as one JSON object")]
    = False,
) -> None:
    """The running service's health: every loop and device, as the console shows it.

    Exit 0 when everything is up, 1 when something is down or the service is not
    running (its health file is older than 10 s)."""
    g: Globals = ctx.obj
    config = g.config()
    path = g.resolved_data_dir(config) / "health.json"
    try:
        health = json.loads(path.read_text())
        age = time.time() - path.stat().st_mtime
    except (OSError, ValueError):
        fail(f"no health report at {path}: is `gate run` running with this data directory?",
             1)
    down = [c for c in health["components"] if not c["up"]]
    stale = age > 10
    if as_json:
        emit({**health, "age_s": round(age, 1), "ok": not down and not stale})
    else:
        for c in health["components"]:
            state = "up  " if c["up"] else "DOWN"
            extra = f"  ({c['error']})" if c["error"] else ""
            restarts = f"  restarts {c['restarts']}" if c["restarts"] else ""
            typer.echo(f"{state} {c['kind']:<11} {c['name']}{restarts}{extra}")
        for problem in health["probe"]["problems"]:
            typer.echo(f"PROBLEM {problem}")
        if stale:
            typer.echo(f"STALE  the health report is {age:.0f} s old: the service is not running")
    if down or stale or not health["probe"]["ok"]:
        raise typer.Exit(1)


@app.command()
def demo(
    ctx: typer.Context,
    duration: Annotated[float, typer.Option(help="Stop after this many seconds (0: until Ctrl-C).")]
    = 0.0,
    data_dir: Annotated[Path | None, typer.Option(
        "--data-dir", help="Keep the demo's database here (for `gate report`); re-runs reuse it.")]
    = None,
    speed: Annotated[float, typer.Option(
        min=1.0, max=20.0, help="How much faster than real time the 07:20-08:10 morning runs.")]
    = 10.0,
) -> None:
    """The whole service through a scripted school morning, on bundled sample data."""
    from gate.demo import run_demo
    from gate.logs import setup_logging

    g: Globals = ctx.obj
    setup_logging(g.verbose)
    run_demo(duration=duration, data_dir=data_dir or g.data_dir, speed=speed)


@rfid_app.command("listen")
def rfid_listen(
    port: Annotated[str, typer.Option(help="Serial port, e.g. /dev/serial/by-id/...")],
    protocol: Annotated[str, typer.Option(help="em4100 | uid-line | wiegand | auto")] = "auto",
    baud: Annotated[int, typer.Option(help="Line speed")] = 9600,
    byte_order: Annotated[str, typer.Option(help="uid-line: as-is | reversed")] = "as-is",
    holdoff_ms: Annotated[int, typer.Option(help="Ignore repeats of a held card")] = 1000,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per read")] = False,
) -> None:
    """Print each card read; bad frames go to stderr; survives unplug/replug."""
    from gate.config import SERIAL_BAUDS
    from rfid.protocols import PROTOCOLS, BadFrame
    from rfid.reader import CardRead, SerialCardReader

    if protocol not in PROTOCOLS:
        fail(f"--protocol: must be one of {', '.join(PROTOCOLS)}")
    if baud not in SERIAL_BAUDS:
        fail(f"--baud: must be one of {', '.join(map(str, SERIAL_BAUDS))}")
    if byte_order not in ("as-is", "reversed"):
        fail("--byte-order: must be as-is or reversed")

    def on_read(read: CardRead) -> None:
        if as_json:
            emit(read.as_dict())
        else:
            forms = f" dec10={read.card.dec10} w26={read.card.w26}" if read.card else ""
            typer.echo(f"{read.ts:%H:%M:%S} {read.uid}{forms} ({read.protocol})")
            sys.stdout.flush()

    def on_bad(reader_id: str, bad: BadFrame) -> None:
        typer.echo(f"bad frame ({bad.protocol}): {bad.reason}: {bad.raw.hex(' ')}", err=True)

    reader = SerialCardReader("listen", port, on_read, protocol=protocol, baud=baud,
                              byte_order=byte_order,  # type: ignore[arg-type]
                              holdoff_s=holdoff_ms / 1000, on_bad_frame=on_bad)
    last_state: bool | None = None
    reader.start()
    try:
        while True:
            time.sleep(0.2)
            if reader.health.connected != last_state:
                last_state = reader.health.connected
                state = "connected" if last_state else f"waiting ({reader.health.last_error})"
                typer.echo(f"{port}: {state}", err=True)
    except KeyboardInterrupt:
        pass
    finally:
        reader.stop()


@people_app.command("import")
def people_import(
    ctx: typer.Context,
    roster: Path,
    as_json: Annotated[bool, typer.Option("--json", help="Summary as JSON")] = False,
) -> None:
    """Import people, cards and guardians (and, with consent, face photos). Idempotent."""
    from rich.progress import Progress

    from gate.roster import RosterError, import_roster

    try:
        lines = max(0, sum(1 for _ in roster.open(encoding="utf-8", errors="replace")) - 1)
    except OSError as exc:
        fail(f"{roster}: cannot read ({exc.strerror})")
    from gate.faces import FaceEnroller, running_photo_workers

    with open_store(ctx.obj) as (config, store), running_photo_workers(config) as workers:
        try:
            with Progress(transient=True, console=_stderr_console()) as bar:
                task = bar.add_task("importing", total=lines)
                summary = import_roster(store, roster, FaceEnroller(store, config, workers),
                                        progress=lambda n: bar.advance(task, n))
        except RosterError as exc:
            fail(str(exc))
    result: dict[str, Any] = {
        "people": dict(summary.people), "guardians": dict(summary.guardians),
        "cards": dict(summary.cards), "photos": dict(summary.photos),
        "rejected": [{"line": r.line, "reason": r.reason} for r in summary.rejected],
        "warnings": [{"line": r.line, "reason": r.reason} for r in summary.warnings],
        "photo_quality": summary.quality,
    }
    if as_json:
        emit(result)
    else:
        for what in ("people", "guardians", "cards", "photos"):
            counts = result[what]
            typer.echo(f"{what}: " + (", ".join(f"{v} {k}" for k, v in sorted(counts.items()))
                                      or "none"))
        for r in summary.warnings:
            typer.echo(f"line {r.line}: warning: {r.reason}", err=True)
        for r in summary.rejected:
            typer.echo(f"line {r.line}: rejected: {r.reason}", err=True)
        typer.echo(f"rejected: {len(summary.rejected)} row(s)")


@people_app.command("erase-face")
def people_erase_face(ctx: typer.Context, person_id: str) -> None:
    """Withdraw face consent and erase the person's face data (they stay card only)."""
    import dataclasses

    with open_store(ctx.obj) as (_config, store):
        person = store.get_person(person_id)
        if person is None:
            fail(f"no person {person_id!r}")
        erased = store.erase_person_biometrics(person_id)
        store.upsert_person(dataclasses.replace(person, face_consent=False))
        store.audit("cli", "face_erased", person_id, {"encodings": erased})
    typer.echo(f"{person_id}: {erased} face encoding(s) erased; consent withdrawn (card only)")


@faces_app.command("identify")
def faces_identify(
    ctx: typer.Context,
    images: Annotated[list[Path], typer.Argument(help="Image files")],
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per image")] = False,
) -> None:
    """Per image, each face: box, the identified person (or null) and the distance."""
    from gate.faces import identify_threshold, people_gallery
    from recognition.face_engine import DlibFaceEngine
    from recognition.images import ImageError, load_rgb
    from recognition.photos import identify_photo

    with open_store(ctx.obj) as (config, store):
        gallery = people_gallery(store)
    f = config.faces
    engine = DlibFaceEngine(jitters=f.photo_jitters)
    threshold = identify_threshold(config, len(gallery))
    failures = 0
    for image in images:
        try:
            rgb = load_rgb(image)
        except ImageError as exc:
            failures += 1
            if as_json:
                emit({"image": str(image), "error": str(exc)})
            else:
                typer.echo(f"{image}: error: {exc}", err=True)
            continue
        # small or tight photos are padded; the same path as gate faces evaluate's probes
        faces = [{"box": list(m.box), "person_id": m.identification.person_id,
                  "distance": None if m.identification.distance is None
                  else round(m.identification.distance, 4)}
                 for m in identify_photo(engine, gallery, rgb, threshold, f.identify_margin)]
        if as_json:
            emit({"image": str(image), "faces": faces})
        else:
            typer.echo(f"{image}: {len(faces)} face(s)")
            for face in faces:
                typer.echo(f"  {face['box']} {face['person_id'] or 'unknown'}"
                           f" (distance {face['distance']})")
    if failures:
        raise typer.Exit(2)


def _register_evaluate() -> None:
    from gate.evaluate_cli import faces_evaluate, faces_liveness_evaluate, plates_evaluate

    faces_app.command("evaluate")(faces_evaluate)
    faces_app.command("liveness-evaluate")(faces_liveness_evaluate)
    plates_app.command("evaluate")(plates_evaluate)


_register_evaluate()


def _stderr_console() -> Any:
    from rich.console import Console

    return Console(stderr=True)


@plates_app.command("read")
def plates_read(
    ctx: typer.Context,
    images: Annotated[list[Path], typer.Argument(help="Image files")],
    region: Annotated[str | None, typer.Option(help=REGION_HELP)] = None,
    home_province: Annotated[str | None, typer.Option(
        "--home-province", help=HOME_PROVINCE_HELP)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per image")] = False,
) -> None:
    """Per image: the plates read, normalised (no separators, upper case), surest first."""
    from gate.evaluate_cli import plate_reader_for
    from gate.evaluate_plates import read_file
    from recognition.images import ImageError

    reader = plate_reader_for(ctx, region, home_province)
    failures = 0
    for image in images:
        try:
            reads = read_file(reader, image)
        except ImageError as exc:
            failures += 1
            if as_json:
                emit({"image": str(image), "error": str(exc)})
            else:
                typer.echo(f"{image}: error: {exc}", err=True)
            continue
        plates = [r.as_dict() for r in reads]
        if as_json:
            emit({"image": str(image), "plates": plates})
        else:
            found = ", ".join(f"{p['text']} ({p['confidence']:.2f})" for p in plates)
            typer.echo(f"{image}: {found or 'no plate'}")
    if failures:
        raise typer.Exit(2)


@users_app.command("add")
def users_add(
    ctx: typer.Context,
    username: str,
    role: Annotated[str, typer.Option(help="guard | admin | host")] = "guard",
    person: Annotated[str | None, typer.Option(help="a host's staff id (people.id)")] = None,
) -> None:
    """Create a console user; the password is read from stdin (one line)."""
    from gate.console.auth import add_user

    if role not in ("guard", "admin", "host"):
        fail("--role: must be guard, admin or host")
    password = sys.stdin.readline().rstrip("\n")
    with open_store(ctx.obj) as (_config, store):
        try:
            add_user(store, username, password,
                     "admin" if role == "admin" else "host" if role == "host" else "guard",
                     person)
        except ValueError as exc:
            fail(str(exc))
    typer.echo(f"user {username} ({role}) created")


@report_app.command("attendance")
def report_attendance(
    ctx: typer.Context,
    date: Annotated[str | None, typer.Option("--date", help="YYYY-MM-DD (default: today)")]
    = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per student")] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="CSV with a header row")] = False,
) -> None:
    """Each student's first arrival, last departure, on-campus state, late and absent marks.

    ``--csv`` opens in Excel as it is (UTF-8 BOM, formulas neutralised), with the same
    columns as the console's download."""
    from gate.attendance import attendance
    from gate.reports import ATTENDANCE_COLUMNS, attendance_rows, csv_text, pad

    with open_store(ctx.obj) as (config, store):
        day = report_day(date, config)
        rows = attendance(store, config.calendar, day)
    if as_json:
        for row in rows:
            emit({"date": day.isoformat(), **row.as_dict()})
    elif as_csv:
        sys.stdout.write(csv_text(ATTENDANCE_COLUMNS, attendance_rows(rows)))
    else:
        late = sum(r.late for r in rows)
        absent = sum(r.absent for r in rows)
        on_campus = sum(r.on_campus for r in rows)
        typer.echo(f"{day}: {len(rows)} students, {on_campus} on campus, {late} late, "
                   f"{absent} absent")
        for r in rows:
            marks = " ".join(m for m, on in (("LATE", r.late), ("ABSENT", r.absent)) if on)
            typer.echo(f"  {pad(r.person_id, 10)} {pad(r.name, 20)} {pad(r.class_name, 6)} "
                       f"in {r.first_arrival or '-':<29} out {r.last_departure or '-':<29} {marks}")


@report_app.command("visitors")
def report_visitors(
    ctx: typer.Context,
    date: Annotated[str | None, typer.Option("--date", help="YYYY-MM-DD (default: today)")]
    = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per visit")] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="CSV with a header row")] = False,
) -> None:
    """Each visit of the day: who (identity number masked), host, screening, times, route."""
    from gate.journal import Journal
    from gate.reports import VISITOR_COLUMNS, csv_text, pad, visitor_rows
    from gate.visitors import VisitorDesk

    with open_store(ctx.obj) as (config, store):
        day = report_day(date, config)
        visits = VisitorDesk(config, store, Journal(config, store)).list(day)
    if as_json:
        for v in visits:
            emit({k: v[k] for k in VISITOR_COLUMNS})
    elif as_csv:
        sys.stdout.write(csv_text(VISITOR_COLUMNS, visitor_rows(visits)))
    else:
        typer.echo(f"{day}: {len(visits)} visit(s)")
        for v in visits:
            typer.echo(f"  {v['created_at'][11:16]} {pad(v['name'], 16)} {v['id_number']:<20} "
                       f"host {pad(v['host_id'], 10)} {v['screening']:<12} {v['status']}")


@app.command()
def bench(
    quick: Annotated[bool, typer.Option("--quick", help="Finish in under two minutes")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per figure")] = False,
    soak: Annotated[float | None, typer.Option(
        "--soak", min=3, metavar="MINUTES",
        help="Instead: run `gate run` for MINUTES under a school's load and print, each minute,"
             " every process's RSS, FDs, threads and CPU, data bytes, the decision p99 and each"
             " camera's analysed rate")] = None,
    perimeter_cameras: Annotated[int, typer.Option(
        "--perimeter-cameras", min=0, max=16,
        help="With --soak: how many perimeter cameras (each playing vtest.avi, people on every"
             " frame) run next to the two lane cameras")] = 1,
) -> None:
    """Run the benchmarks and print a table (or JSON lines)."""
    if soak is not None:
        from gate.bench.soak import run_soak

        try:
            run_soak(soak, echo=typer.echo, perimeter_cameras=perimeter_cameras)
        except RuntimeError as exc:
            fail(str(exc))
        return
    from gate.bench import run_benchmarks

    figures = run_benchmarks(quick=quick)
    if as_json:
        for fig in figures:
            emit(fig.as_dict())
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("name", "value", "unit", "baseline", "ratio")
    for fig in figures:
        table.add_row(fig.name, f"{fig.value:.3f}", fig.unit,
                      "-" if fig.baseline is None else f"{fig.baseline:.3f}",
                      "-" if fig.ratio is None else f"{fig.ratio:.1f}x")
    Console().print(table)


from gate.ops_commands import register as _register_ops  # noqa: E402  (doctor, backup, restore)

_register_ops(app)


def _register_privacy() -> None:
    from gate import privacy_cli as p  # README "Privacy and evidence"

    app.add_typer(p.keys_app, name="keys")
    app.add_typer(p.retention_app, name="retention")
    people_app.command("erase")(p.people_erase)
    people_app.command("export")(p.people_export)
    people_app.command("access-report")(p.people_access_report)


_register_privacy()


def main() -> None:
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    app()
