"""Real district components for the hub tests: a RabbitMQ cluster, PostgreSQL, gate Mosquittos.

Everything runs on loopback ports with data directories of its own and is stopped afterwards.
RabbitMQ nodes use a private epmd port and cookie, so they never meet another RabbitMQ on the
machine. PostgreSQL runs as ``nobody`` when the tests run as root (PostgreSQL refuses root).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from gate.broker import free_port
from gate.hub.config import HubConfig, parse_hub_config
from gate.hub.definitions import GateAccount, build

RABBIT_BIN = Path("/usr/lib/rabbitmq/bin")
PG_BIN = next(iter(sorted(Path("/usr/lib/postgresql").glob("*/bin"))), Path("/nonexistent"))
GATE_PASSWORD = "gate-secret"
HUB_PASSWORD = "hub-secret"
POLICE_PASSWORD = "police-secret"
SIM_GATES = 50
COOKIE = "campusgatehubtestcookie"


def have_rabbit() -> bool:
    return (RABBIT_BIN / "rabbitmq-server").exists()


def have_postgres() -> bool:
    return (PG_BIN / "initdb").exists()


needs_hub = pytest.mark.skipif(not (have_rabbit() and have_postgres()),
                               reason="needs rabbitmq-server and postgresql (run.sh TEST_DEBS)")


def wait_for(predicate: Any, timeout: float, what: str, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


class RabbitNode:
    def __init__(self, name: str, base: Path, epmd_port: int, plugins: str) -> None:
        self.name = f"{name}@localhost"
        self.dir = base / name
        self.amqp_port = free_port()
        self.mqtt_port = free_port()
        self.dist_port = free_port()
        self.epmd_port = epmd_port
        self.proc: subprocess.Popen[bytes] | None = None
        self.dir.mkdir(parents=True, exist_ok=True)
        cookie = self.dir / ".erlang.cookie"
        cookie.write_text(COOKIE)
        cookie.chmod(0o600)
        (self.dir / "enabled_plugins").write_text(plugins)
        (self.dir / "rabbitmq.conf").write_text("\n".join([
            f"listeners.tcp.default = 127.0.0.1:{self.amqp_port}",
            f"mqtt.listeners.tcp.default = 127.0.0.1:{self.mqtt_port}",
            "mqtt.allow_anonymous = false",
            "mqtt.durable_queue_type = quorum",
            "loopback_users = none",
            "disk_free_limit.absolute = 50MB",
            "log.console = false",
            "log.file.level = warning",
        ]) + "\n")

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "HOME": str(self.dir), "RABBITMQ_NODENAME": self.name,
                "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
                "RABBITMQ_NODE_PORT": str(self.amqp_port),
                "RABBITMQ_DIST_PORT": str(self.dist_port),
                "ERL_EPMD_PORT": str(self.epmd_port),
                "ERL_EPMD_ADDRESS": "127.0.0.1",
                "RABBITMQ_MNESIA_BASE": str(self.dir / "mnesia"),
                "RABBITMQ_LOG_BASE": str(self.dir / "log"),
                "RABBITMQ_CONFIG_FILE": str(self.dir / "rabbitmq.conf"),
                "RABBITMQ_ADVANCED_CONFIG_FILE": str(self.dir / "advanced.config"),
                "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.dir / "enabled_plugins"),
                "RABBITMQ_PID_FILE": str(self.dir / "pid"),
                "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS":
                    "-kernel inet_dist_use_interface {127,0,0,1} +S 1:1 +A 4",
                "RABBITMQ_CTL_ERL_ARGS": "+S 1:1"}

    def launch(self) -> None:
        (self.dir / "pid").unlink(missing_ok=True)
        out = (self.dir / "server.log").open("ab")
        self.proc = subprocess.Popen([str(RABBIT_BIN / "rabbitmq-server")], env=self.env,
                                     stdout=out, stderr=out, cwd=self.dir,
                                     start_new_session=True)

    def ctl(self, *args: str, timeout: float = 60, check: bool = True) -> str:
        res = subprocess.run([str(RABBIT_BIN / "rabbitmqctl"), "-n", self.name, *args],
                             env=self.env, capture_output=True, text=True, timeout=timeout)
        if check and res.returncode != 0:
            raise RuntimeError(f"rabbitmqctl {' '.join(args)}: {res.stdout}{res.stderr}")
        return res.stdout

    def wait_ready(self, timeout: float = 90) -> None:
        self.ctl("wait", str(self.dir / "pid"), "--timeout", str(int(timeout)),
                 timeout=timeout + 10)

    def kill(self) -> None:
        """SIGKILL, as a power cut would: no orderly shutdown."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        self.proc = None

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self.proc = None


class RabbitCluster:
    """Nodes started together; the second and later join the first (rabbitmqctl join_cluster)."""

    def __init__(self, size: int = 2, base: Path | None = None,
                 plugins: str = "[rabbitmq_mqtt,rabbitmq_shovel].") -> None:
        self.base = base or Path(tempfile.mkdtemp(prefix="gate-rabbit-"))
        self.epmd_port = free_port()
        self.nodes = [RabbitNode(f"hub{i + 1}", self.base, self.epmd_port, plugins)
                      for i in range(size)]

    def start(self) -> RabbitCluster:
        for node in self.nodes:
            node.launch()
        for node in self.nodes:
            node.wait_ready()
        first = self.nodes[0]
        for node in self.nodes[1:]:
            node.ctl("stop_app")
            node.ctl("join_cluster", first.name)
            node.ctl("start_app")
        return self

    def import_definitions(self, definitions: dict[str, Any]) -> None:
        path = self.base / "definitions.json"
        path.write_text(json.dumps(definitions))
        self.nodes[0].ctl("import_definitions", str(path))

    def stop(self) -> None:
        for node in reversed(self.nodes):
            node.stop()
        epmd = shutil.which("epmd") or next(iter(Path("/usr/lib/erlang").glob("erts-*/bin/epmd")),
                                            None)
        if epmd:
            subprocess.run([str(epmd), "-port", str(self.epmd_port), "-kill"],
                           capture_output=True, timeout=10,
                           env={**os.environ, "ERL_EPMD_PORT": str(self.epmd_port)})
        shutil.rmtree(self.base, ignore_errors=True)

    @property
    def amqp_urls(self) -> list[str]:
        return [f"amqp://hub:{HUB_PASSWORD}@127.0.0.1:{n.amqp_port}/%2F" for n in self.nodes]

    @property
    def mqtt_ports(self) -> list[int]:
        return [n.mqtt_port for n in self.nodes]


class Postgres:
    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="gate-pg-"))
        self.port = free_port()
        self.as_user = ["runuser", "-u", "nobody", "--"] if os.geteuid() == 0 else []
        if self.as_user:
            shutil.chown(self.dir, "nobody")
        self._counter = itertools.count(1)

    def _run(self, *args: str) -> None:
        subprocess.run([*self.as_user, *args], check=True, capture_output=True, timeout=120,
                       cwd="/")

    def start(self) -> Postgres:
        data = self.dir / "data"
        self._run(str(PG_BIN / "initdb"), "-D", str(data), "-U", "hub", "--auth=trust",
                  "-E", "UTF8", "--locale=C", "--no-sync")
        # fsync off: these tests kill brokers and consumers, never PostgreSQL or the machine.
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(data), "-w", "-l", str(self.dir / "log"),
                  "-o", f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1"
                        " -c fsync=off -c max_connections=50", "start")
        return self

    def stop(self) -> None:
        with contextlib.suppress(subprocess.SubprocessError):
            self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.dir / "data"), "-m", "immediate",
                      "-w", "stop")
        shutil.rmtree(self.dir, ignore_errors=True)

    def dsn(self, db: str = "postgres") -> str:
        return f"postgresql://hub@127.0.0.1:{self.port}/{db}"

    def new_database(self) -> str:
        name = f"hub{next(self._counter)}"
        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}".encode())
        return self.dsn(name)


def gate_accounts(extra: list[tuple[str, str]] | None = None) -> list[GateAccount]:
    from gate.hub.simulate import site_of

    pairs = [(site_of(i), "main") for i in range(SIM_GATES)] + (extra or [])
    return [GateAccount(site, gate, GATE_PASSWORD) for site, gate in pairs]


@pytest.fixture(scope="session")
def rabbit() -> Iterator[RabbitCluster]:
    """A two-node RabbitMQ cluster with the MQTT plugin and the district's definitions."""
    if not have_rabbit():
        pytest.skip("rabbitmq-server is not installed")
    cluster = RabbitCluster(2)
    try:
        cluster.start()
        cluster.import_definitions(build(
            gate_accounts([("zqxx", "main"), ("zqxx", "east"), ("hxxx", "main")]),
            hub_password=HUB_PASSWORD, police_password=POLICE_PASSWORD))
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    if not have_postgres():
        pytest.skip("postgresql is not installed")
    pg = Postgres().start()
    try:
        yield pg
    finally:
        pg.stop()


_queues = itertools.count(1)


@pytest.fixture
def hub_config(rabbit: RabbitCluster, postgres: Postgres) -> Iterator[HubConfig]:
    """A hub configuration with a fresh database and a queue of its own (deleted afterwards)."""
    queue = f"hub.ingest.t{next(_queues)}"
    config = parse_hub_config({
        "amqp": {"urls": rabbit.amqp_urls, "queue": queue, "batch_ms": 20},
        "postgres": {"dsn": postgres.new_database()},
        "mqtt": {"host": "127.0.0.1", "port": rabbit.mqtt_ports[0], "username": "police"},
        "serve": {"secure_cookies": False},
    })
    yield config
    rabbit.nodes[0].ctl("delete_queue", queue, check=False)


class CuttableProxy:
    """A TCP relay on a loopback port that can cut its link: the gate's network to the district.

    ``cut()`` closes every relayed connection and refuses new ones until ``restore()``.
    """

    def __init__(self, target_port: int) -> None:
        import socket
        import threading

        self.target_port = target_port
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = int(self.listener.getsockname()[1])
        self.open = threading.Event()
        self.open.set()
        self._socks: list[Any] = []
        self._lock = threading.Lock()
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        import socket
        import threading

        while not self._closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.open.is_set():
                client.close()
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._socks += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: Any, dst: Any) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.close()

    def cut(self) -> None:
        import socket

        self.open.clear()
        with self._lock:
            for s in self._socks:
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                with contextlib.suppress(OSError):
                    s.close()
            self._socks = []

    def restore(self) -> None:
        self.open.set()

    def close(self) -> None:
        self._closed = True
        self.cut()
        self.listener.close()


ROOT = Path(__file__).resolve().parent.parent


def bridge_config(ports: list[int], site: str = "zqxx", gate: str = "main") -> str:
    """The shipped bridge config (config/mosquitto/bridge.conf) for these nodes and this gate."""
    text = (ROOT / "config" / "mosquitto" / "bridge.conf").read_text()
    lines = []
    for line in text.splitlines():
        if line.startswith("address "):
            line = "address " + " ".join(f"127.0.0.1:{p}" for p in ports)
        elif line.startswith("remote_password "):
            line = f"remote_password {GATE_PASSWORD}"
        elif line.startswith("restart_timeout "):
            line = "restart_timeout 1 2"
        elif line.startswith("keepalive_interval "):
            line = "keepalive_interval 5"
        lines.append(line.replace("zqxx", site).replace("/main/", f"/{gate}/")
                     .replace("-main", f"-{gate}"))
    return "\n".join(lines) + "\n"
