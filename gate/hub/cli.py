"""``gate hub ...``: the district hub's commands (registered as a sub-app in gate/cli.py)."""

from __future__ import annotations

import csv
import json
import logging
import signal
import sys
import threading
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from gate.config import ConfigError
from gate.hub.config import HubConfig, load_hub_config, read_secret

hub_app = typer.Typer(no_args_is_help=True, help="District hub: RabbitMQ cluster to PostgreSQL.")

ConfigOpt = Annotated[Path, typer.Option("--config", help="hub.toml")]


def _fail(message: str) -> NoReturn:
    print(message, file=sys.stderr)
    raise typer.Exit(2)


def _load(path: Path) -> HubConfig:
    try:
        return load_hub_config(path)
    except ConfigError as exc:
        _fail(str(exc))


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_a: stop.set())
    return stop


@hub_app.command("run")
def run(config: ConfigOpt) -> None:
    """Consume gate messages from the cluster into PostgreSQL until SIGTERM."""
    from gate.hub.consumer import Consumer
    from gate.hub.sharing import ShareConsumer

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("pika").setLevel(logging.WARNING)   # one line per frame otherwise
    cfg = _load(config)
    try:
        read_secret(cfg.amqp.password_file)
        read_secret(cfg.postgres.password_file)
    except ConfigError as exc:
        _fail(str(exc))
    stop = _stop_on_signals()
    if cfg.sharing.neighbours:
        threading.Thread(target=ShareConsumer(cfg, stop).run, name="sharing",
                         daemon=True).start()
    Consumer(cfg, stop=stop).run()


@hub_app.command("migrate")
def migrate_cmd(config: ConfigOpt) -> None:
    """Bring the PostgreSQL schema up to date (``run`` and ``serve`` also do it)."""
    from gate.hub.connect import pg_connect
    from gate.hub.schema import migrate

    with pg_connect(_load(config)) as conn:
        print(json.dumps({"applied": migrate(conn)}))


@hub_app.command("simulate")
def simulate_cmd(
    config: ConfigOpt,
    gates: Annotated[int, typer.Option(min=1, max=10000)] = 50,
    minutes: Annotated[float, typer.Option(min=0.01)] = 2.0,
    per_minute: Annotated[float, typer.Option(help="arrivals per gate per minute")] = 120.0,
    speed: Annotated[float, typer.Option(help="time compression; 0 = as fast as possible")] = 1.0,
    password_file: Annotated[Path | None, typer.Option(
        help="password of the simulated gate users")] = None,
    port: Annotated[list[int] | None, typer.Option(help="MQTT port per node (repeat)")] = None,
    ids_out: Annotated[Path | None, typer.Option(help="write site,gate,id,kind per line")] = None,
    seed: int = 1,
    drain_timeout: Annotated[float, typer.Option(
        min=1, help="seconds to wait for the broker's acknowledgements: of the gates' "
        "'online' status, then of the rush")] = 120.0,
) -> None:
    """A generated morning rush from N gates, each its own MQTT client, into the cluster."""
    from gate.hub.simulate import simulate

    cfg = _load(config)
    password = read_secret(password_file) or read_secret(cfg.mqtt.password_file)
    if password is None:
        _fail("--password-file (or [mqtt] password_file) is needed for the simulated gates")
    try:
        result = simulate(gates, minutes, host=cfg.mqtt.host, ports=port or [cfg.mqtt.port],
                          password=password, per_minute=per_minute, speed=speed, seed=seed,
                          root=cfg.root, drain_timeout=drain_timeout)
    except TimeoutError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise typer.Exit(1) from None
    if ids_out:
        with ids_out.open("w", newline="") as fh:
            csv.writer(fh).writerows(result.ids)
    print(json.dumps(result.summary()))
    if result.acked < result.published:
        raise typer.Exit(1)


@hub_app.command("definitions")
def definitions_cmd(
    gates_csv: Annotated[Path, typer.Argument(help="CSV with header site,gate,password")],
    hub_password_file: Annotated[Path, typer.Option()],
    police_password_file: Annotated[Path, typer.Option()],
    root: str = "campus",
) -> None:
    """RabbitMQ definitions (users per gate, topic permissions, hub queue) on stdout."""
    from gate.hub.definitions import GateAccount, build

    try:
        with gates_csv.open(newline="") as fh:
            accounts = [GateAccount(r["site"], r["gate"], r["password"])
                        for r in csv.DictReader(fh)]
    except (OSError, KeyError) as exc:
        _fail(f"{gates_csv}: {exc}")
    hub_pw, police_pw = read_secret(hub_password_file), read_secret(police_password_file)
    assert hub_pw is not None and police_pw is not None
    out: dict[str, Any] = build(accounts, hub_password=hub_pw, police_password=police_pw,
                                root=root)
    print(json.dumps(out, indent=2))


users_app = typer.Typer(no_args_is_help=True, help="District page users.")
hub_app.add_typer(users_app, name="users")


@users_app.command("add")
def users_add(config: ConfigOpt, username: str,
              role: Annotated[str, typer.Option(help="police | bureau | admin")]) -> None:
    """Create a district page user; the password is read from stdin."""
    from gate.hub.auth import Db, add_user
    from gate.hub.connect import pg_connect
    from gate.hub.schema import migrate

    password = sys.stdin.readline().rstrip("\n")
    with pg_connect(_load(config)) as conn:
        migrate(conn)
        try:
            add_user(Db(conn), username, password, role)
        except ValueError as exc:
            _fail(str(exc))
    print(json.dumps({"user": username, "role": role}))


@hub_app.command("serve")
def serve(config: ConfigOpt) -> None:
    """The district page (police, bureau, admin) on [serve] bind."""
    import uvicorn

    from gate.hub.auth import Db
    from gate.hub.connect import pg_connect
    from gate.hub.schema import migrate
    from gate.hub.web import create_app

    cfg = _load(config)
    host, _, port = cfg.serve.bind.rpartition(":")
    conn = pg_connect(cfg)
    migrate(conn)
    db = Db(conn, reconnect=lambda: pg_connect(cfg))
    uvicorn.run(create_app(cfg, db), host=host or "127.0.0.1", port=int(port),
                log_level="warning", access_log=False)


watchlist_app = typer.Typer(no_args_is_help=True, help="Watch lists sent down to the gates.")
hub_app.add_typer(watchlist_app, name="watchlist")


@watchlist_app.command("publish")
def watchlist_publish(
    config: ConfigOpt,
    payload_file: Annotated[Path, typer.Argument(help="campus-gate/watchlist/1 JSON")],
    site: Annotated[list[str] | None, typer.Option(help="only these schools (repeat)")] = None,
) -> None:
    """Keep a watch list at the hub and send it to the schools' gates."""
    from gate.hub import watchlists
    from gate.hub.connect import pg_connect
    from gate.hub.schema import migrate
    from gate.watchlist import WatchlistError, parse_payload

    raw = payload_file.read_bytes()
    try:
        parse_payload(raw)              # the gate's own rules: refuse here what gates would
    except WatchlistError as exc:
        _fail(f"{payload_file}: {exc}")
    cfg = _load(config)
    with pg_connect(cfg) as conn:
        migrate(conn)
        sent = watchlists.publish(cfg, conn, json.loads(raw), sites=site)
    print(json.dumps({"list": json.loads(raw)["list"], "schools": sent}))


@hub_app.command("retention")
def retention(
    config: ConfigOpt,
    keep_months: Annotated[int, typer.Option(min=1, help="months kept, this one included")],
) -> None:
    """Drop the event partitions older than the months kept (alerts are kept)."""
    import datetime as dt

    from gate.hub.connect import pg_connect
    from gate.hub.schema import drop_months_before, migrate

    today = dt.datetime.now(dt.UTC).date()
    months = today.year * 12 + today.month - 1 - (keep_months - 1)
    cutoff = dt.date(months // 12, months % 12 + 1, 1)
    with pg_connect(_load(config)) as conn:
        migrate(conn)
        print(json.dumps({"dropped": drop_months_before(conn, cutoff),
                          "kept_from": cutoff.isoformat()}))


@hub_app.command("viid")
def viid(config: ConfigOpt) -> None:
    """GA/T 1400 gateway: register with the station's upper platform, send captures up,
    take dispositions down ([viid] in hub.toml), until SIGTERM (then unregister)."""
    from gate.hub.viid.gateway import run_gateway

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("pika").setLevel(logging.WARNING)
    cfg = _load(config)
    try:
        read_secret(cfg.viid.password_file)
        read_secret(cfg.amqp.password_file)
        read_secret(cfg.postgres.password_file)
    except ConfigError as exc:
        _fail(str(exc))
    run_gateway(cfg, _stop_on_signals())


@hub_app.command("viid-sim")
def viid_sim(
    bind: Annotated[str, typer.Option(help="host:port of the simulated upper platform")]
    = "127.0.0.1:8120",
    server_id: Annotated[str, typer.Option(help="its 20-digit id")] = "34010000005030000001",
    user: Annotated[list[str] | None, typer.Option(
        help="Digest user (a lower platform id) allowed to register (repeat)")] = None,
    password_file: Annotated[Path | None, typer.Option(help="their Digest password")] = None,
    lower_url: Annotated[str, typer.Option(help="the lower platform, for dispositions")]
    = "http://127.0.0.1:8121",
    nonce_ttl_s: Annotated[float, typer.Option(min=1)] = 300.0,
) -> None:
    """A simulated police upper platform (视图库) for tests and demonstrations; operator
    endpoints under /sim (fail, restart, skew, dispositions, summary)."""
    import uvicorn

    from gate.hub.viid.ids import DEVICE_CODE
    from gate.hub.viid.simulator import SimState, create_app

    secret = read_secret(password_file) or ""
    if not DEVICE_CODE.match(server_id) or not secret:
        _fail("--server-id must be 20 digits and --password-file must hold a password")
    state = SimState(server_id, {u: secret for u in user or []}, nonce_ttl_s=nonce_ttl_s)
    host, _, port = bind.rpartition(":")
    uvicorn.run(create_app(state, lower_url, secret), host=host or "127.0.0.1", port=int(port),
                log_level="warning", access_log=False)
