"""Morning rush from simulated gates through the real cluster into PostgreSQL: exactly once.

Figures (events, rate, p99 gate-to-row latency) are printed as one JSON line per test; run
with ``-s`` to see them. HUB_SIM_GATES / HUB_SIM_SPEED change the scale.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pika
import psycopg
import pytest

from gate.hub.config import HubConfig
from gate.hub.measure import ingest_figures
from gate.hub.schema import migrate
from gate.hub.simulate import SimResult, plan_rush, simulate
from tests.hub_helpers import (
    GATE_PASSWORD,
    HubProcess,
    RabbitCluster,
    hub_config,  # noqa: F401
    needs_hub,
    postgres,  # noqa: F401
    power_cut,
    rabbit,  # noqa: F401
    toml_of,
    wait_for,
)
from tests.test_hub_ingest import declare_queue

GATES = int(os.environ.get("HUB_SIM_GATES", "50"))
SPEED = float(os.environ.get("HUB_SIM_SPEED", "4"))


def test_rush_plan_is_deterministic_and_mostly_arrivals() -> None:
    plan = plan_rush(gates=3, minutes=2, per_minute=120, seed=7)
    assert plan == plan_rush(gates=3, minutes=2, per_minute=120, seed=7)
    assert 600 < len(plan) < 840                                 # 3 x 2 x 120 = 720 expected
    assert [p.at_s for p in plan] == sorted(p.at_s for p in plan)
    assert {p.gate for p in plan} == {0, 1, 2}
    assert sum(p.kind == "alert" for p in plan) < len(plan) * 0.05


@contextmanager
def consumers(config: HubConfig, tmp_path: Path, count: int = 2) -> Iterator[list[HubProcess]]:
    declare_queue(config)
    path = tmp_path / "hub.toml"
    path.write_text(toml_of(config))
    procs = [HubProcess(path, tmp_path / f"hub{i}.log") for i in range(count)]
    try:
        wait_for(lambda: consumer_count(config) == count, 60, "the hub consumers")
        yield procs
    finally:
        for p in procs:
            p.stop()


def consumer_count(config: HubConfig) -> int:
    with pika.BlockingConnection(pika.URLParameters(config.amqp.urls[0])) as conn:
        return int(conn.channel().queue_declare(config.amqp.queue, passive=True)
                   .method.consumer_count)


def rows_in(db: psycopg.Connection[Any], table: str) -> int:
    row = db.execute(f"SELECT count(*) FROM {table}".encode()).fetchone()
    return int(row[0]) if row else 0


def assert_exactly_once(db: psycopg.Connection[Any], result: SimResult) -> None:
    for kind, table in (("event", "events"), ("alert", "alerts")):
        sent = {(s, g, i) for s, g, i, k in result.ids if k == kind}
        wait_for(lambda t=table, n=sent: rows_in(db, t) >= len(n), 90, f"all {table}")
        rows = db.execute(f"SELECT site, gate, id FROM {table}").fetchall()
        assert len(rows) == len(sent), f"{table}: {len(rows)} rows for {len(sent)} sent"
        assert {tuple(r) for r in rows} == sent


def report(name: str, result: SimResult, figures: dict[str, float]) -> None:
    print(json.dumps({"test": name, **result.summary(), **figures}))


@pytest.mark.slow
@needs_hub
def test_morning_rush_every_event_exactly_once(
        rabbit: RabbitCluster, hub_config: HubConfig, tmp_path: Path) -> None:  # noqa: F811
    with consumers(hub_config, tmp_path), psycopg.connect(hub_config.postgres.dsn,
                                                          autocommit=True) as db:
        migrate(db)
        result = simulate(GATES, 2, ports=rabbit.mqtt_ports, password=GATE_PASSWORD,
                          speed=SPEED)
        assert result.acked == result.published > GATES * 2 * 100
        assert_exactly_once(db, result)
        figures = ingest_figures(db)
        report("rush", result, figures)
        assert figures["events"] == figures["distinct"]
        assert figures["latency_p99_ms"] < 5000


@pytest.mark.slow
@needs_hub
def test_consumer_sigkill_and_node_restart_mid_run_lose_and_double_nothing(
        rabbit: RabbitCluster, hub_config: HubConfig, tmp_path: Path) -> None:  # noqa: F811
    gates = max(GATES // 2, 2)
    with consumers(hub_config, tmp_path) as procs, psycopg.connect(
            hub_config.postgres.dsn, autocommit=True) as db:
        migrate(db)
        out: list[SimResult] = []
        sim = threading.Thread(target=lambda: out.append(simulate(
            gates, 1.5, ports=rabbit.mqtt_ports, password=GATE_PASSWORD, speed=3,
            seed=2, drain_timeout=120)))
        sim.start()
        wait_for(lambda: rows_in(db, "events") > 200, 30, "the rush to be under way")
        procs[0].kill()                                  # SIGKILL: its unacked batch returns
        procs[0] = HubProcess(tmp_path / "hub.toml", tmp_path / "hub0b.log")
        time.sleep(3)
        power_cut(rabbit, rabbit.nodes[1], down_s=5)    # on one broker node, mid-rush
        sim.join(240)
        assert out, "the simulation did not finish"
        result = out[0]
        assert result.acked == result.published
        assert_exactly_once(db, result)
        report("faults", result, ingest_figures(db))


def test_definitions_command_writes_users_and_topic_permissions(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from gate.cli import app

    (tmp_path / "gates.csv").write_text("site,gate,password\nzqxx,main,pw-1\nzqxx,east,pw-2\n")
    for name in ("hub.pass", "police.pass"):
        (tmp_path / name).write_text("secret\n")
    res = CliRunner().invoke(app, ["hub", "definitions", str(tmp_path / "gates.csv"),
                                   "--hub-password-file", str(tmp_path / "hub.pass"),
                                   "--police-password-file", str(tmp_path / "police.pass")])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    assert {u["name"] for u in doc["users"]} == {"hub", "police", "gate-zqxx-main",
                                                 "gate-zqxx-east"}
    main = next(p for p in doc["topic_permissions"] if p["user"] == "gate-zqxx-main")
    import re

    assert re.match(main["write"], "campus.zqxx.main.events.arrival")
    assert not re.match(main["write"], "campus.zqxx.east.events.arrival")
    assert not re.match(main["write"], "campus.zqxx.watchlist.police")
    assert re.match(main["read"], "campus.zqxx.watchlist.#")
    assert not re.match(main["read"], "campus.hxxx.watchlist.#")


@pytest.mark.slow
@needs_hub
def test_simulate_command_reports_and_writes_the_ids(
        rabbit: RabbitCluster, hub_config: HubConfig, tmp_path: Path) -> None:  # noqa: F811
    from tests.conftest import run_gate

    declare_queue(hub_config)
    (tmp_path / "hub.toml").write_text(toml_of(hub_config))
    (tmp_path / "gate.pass").write_text(GATE_PASSWORD + "\n")
    res = run_gate("hub", "simulate", "--config", str(tmp_path / "hub.toml"), "--gates", "3",
                   "--minutes", "0.1", "--speed", "0", "--password-file",
                   str(tmp_path / "gate.pass"), "--port", str(rabbit.mqtt_ports[0]),
                   "--port", str(rabbit.mqtt_ports[1]), "--ids-out", str(tmp_path / "ids.csv"),
                   env={"PYTHONPATH": str(Path(__file__).parent.parent)})
    assert res.returncode == 0, res.stderr
    summary = json.loads(res.stdout)
    assert summary["gates"] == 3 and summary["acked"] == summary["published"] > 0
    lines = (tmp_path / "ids.csv").read_text().splitlines()
    assert len(lines) == summary["acked"]
    assert {line.split(",")[0] for line in lines} == {"s001", "s002", "s003"}


@contextmanager
def broker_that_never_acknowledges() -> Iterator[int]:
    """A loopback peer that accepts each MQTT connection (CONNACK) and then reads and drops
    every packet: a cluster node that is up but cannot take a message, as a node is while its
    queues' members come back. RabbitMQ cannot be put in that state on purpose, so the peer is
    this much of the protocol, and no more."""
    server = socket.create_server(("127.0.0.1", 0))
    stopping = threading.Event()

    def serve(conn: socket.socket) -> None:
        with conn:
            conn.recv(4096)  # the CONNECT
            conn.sendall(b"\x20\x02\x00\x00")  # CONNACK: accepted, no session
            while not stopping.is_set() and conn.recv(4096):
                pass

    def accept() -> None:
        while not stopping.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                return
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield server.getsockname()[1]
    finally:
        stopping.set()
        server.close()


def test_simulate_command_names_the_gates_a_node_left_unacknowledged(tmp_path: Path) -> None:
    from tests.conftest import run_gate

    (tmp_path / "hub.toml").write_text(
        '[amqp]\nurls = ["amqp://hub:x@127.0.0.1:1/"]\n[postgres]\ndsn = "postgresql:///x"\n')
    (tmp_path / "gate.pass").write_text(GATE_PASSWORD + "\n")
    with broker_that_never_acknowledges() as port:
        res = run_gate("hub", "simulate", "--config", str(tmp_path / "hub.toml"), "--gates", "2",
                       "--minutes", "0.1", "--speed", "0", "--password-file",
                       str(tmp_path / "gate.pass"), "--port", str(port), "--drain-timeout", "2")
    assert res.returncode == 1
    assert "Traceback" not in res.stderr
    assert (f"error: 2 of 2 simulated gates had their 'online' status unacknowledged after 2 s:"
            f" gate-s001-main (port {port}, connected), gate-s002-main (port {port}, connected)"
            in res.stderr), res.stderr
    assert res.stdout == ""
