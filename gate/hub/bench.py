"""Hub figures for ``gate bench`` (contract in DESIGN.md): simulated gates through a local
two-node RabbitMQ cluster into PostgreSQL, both started here and removed afterwards.

- ``hub.ingest_events_per_s``: the gates publish as fast as they can; rows stored per second
  from the first publication to the last row. Baseline: the same with one row per transaction
  and one acknowledgement per message (the plain way), measured on a smaller share.
- ``hub.latency_p99_ms``: gate clock to row, at a paced district morning peak (about 400
  events/s for 50 gates). No baseline.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg

from gate.hub.config import HubConfig, dump_toml, parse_hub_config
from gate.hub.definitions import GateAccount, build
from gate.hub.local import Postgres, RabbitCluster, have_postgres, have_rabbit
from gate.hub.measure import ingest_figures
from gate.hub.schema import migrate
from gate.hub.simulate import simulate, site_of

PASSWORD = "bench-gate-secret"
HUB_PASSWORD = "bench-hub-secret"


def figure(name: str, value: float, unit: str, baseline: float | None) -> dict[str, Any]:
    ratio = round(baseline / value, 3) if baseline and value else None
    return {"name": name, "value": value, "unit": unit, "baseline": baseline, "ratio": ratio}


@contextmanager
def consumers(config: HubConfig, workdir: Path, count: int) -> Iterator[None]:
    path = workdir / f"hub-{config.amqp.queue}.toml"
    path.write_text(dump_toml(config))
    log = (workdir / "hub.log").open("ab")
    procs = [subprocess.Popen([sys.executable, "-m", "gate", "hub", "run", "--config",
                               str(path)], stdout=log, stderr=log) for _ in range(count)]
    try:
        yield
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        log.close()


def _run(config: HubConfig, cluster: RabbitCluster, workdir: Path, gates: int, minutes: float,
         speed: float, consumers_n: int = 2) -> dict[str, float]:
    with psycopg.connect(config.postgres.dsn, autocommit=True) as db:
        migrate(db)
        with consumers(config, workdir, consumers_n):
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:      # consumers declare the queue and bind it
                out = cluster.nodes[0].ctl("list_queues", "name", "consumers", check=False)
                if any(line.split()[:2] == [config.amqp.queue, str(consumers_n)]
                       for line in out.splitlines() if line.strip()):
                    break
                time.sleep(0.2)
            result = simulate(gates, minutes, ports=cluster.mqtt_ports, password=PASSWORD,
                              speed=speed, per_minute=120)
            events = sum(1 for *_rest, kind in result.ids if kind == "event")
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline:
                row = db.execute("SELECT count(*) FROM events").fetchone()
                if row and row[0] >= events:
                    break
                time.sleep(0.2)
        return ingest_figures(db)


def run(quick: bool = True) -> list[dict[str, Any]]:
    if not (have_rabbit() and have_postgres()):
        return []
    workdir = Path(tempfile.mkdtemp(prefix="gate-hub-bench-"))
    cluster = RabbitCluster(2)
    pg = Postgres()
    try:
        cluster.start()
        gates = 50
        cluster.import_definitions(build(
            [GateAccount(site_of(i), "main", PASSWORD) for i in range(gates)],
            hub_password=HUB_PASSWORD, police_password=HUB_PASSWORD, queue=None))
        pg.start()

        def config(queue: str, **amqp: Any) -> HubConfig:
            return parse_hub_config({
                "amqp": {"urls": cluster.amqp_urls("hub", HUB_PASSWORD), "queue": queue,
                         **amqp},
                "postgres": {"dsn": pg.new_database()}})

        minutes = 1.0 if quick else 2.0
        paced = _run(config("hub.bench.paced"), cluster, workdir, gates, minutes, speed=4)
        fast = _run(config("hub.bench.fast"), cluster, workdir, gates, minutes, speed=0)
        plain = _run(config("hub.bench.plain", batch=1, prefetch=1), cluster, workdir,
                     gates // 5, minutes, speed=0)
        return [figure("hub.ingest_events_per_s", fast["events_per_s"], "events/s",
                       plain["events_per_s"]),
                figure("hub.latency_p99_ms", paced["latency_p99_ms"], "ms", None)]
    finally:
        cluster.stop()
        pg.stop()
