"""Real district components for the hub tests: a RabbitMQ cluster, PostgreSQL, gate Mosquittos.

Everything runs on loopback ports with data directories of its own and is stopped afterwards.
RabbitMQ nodes use a private epmd port and cookie, so they never meet another RabbitMQ on the
machine. PostgreSQL runs as ``nobody`` when the tests run as root (PostgreSQL refuses root).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pika
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from gate.hub.config import HubConfig, dump_toml, parse_hub_config
from gate.hub.definitions import GateAccount, build
from gate.hub.local import Postgres, RabbitCluster, RabbitNode, have_postgres, have_rabbit
from gate.mqtt import close_client

__all__ = ["Postgres", "RabbitCluster", "RabbitNode"]

GATE_PASSWORD = "gate-secret"
HUB_PASSWORD = "hub-secret"
POLICE_PASSWORD = "police-secret"
SIM_GATES = 50


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


def gate_accounts(extra: list[tuple[str, str]] | None = None) -> list[GateAccount]:
    from gate.hub.simulate import site_of

    pairs = [(site_of(i), "main") for i in range(SIM_GATES)] + (extra or [])
    return [GateAccount(site, gate, GATE_PASSWORD) for site, gate in pairs]


# Every test module imports these fixtures, and pytest would make one copy per module: the
# components are started once per test run here and stopped when the run ends.
_running: dict[str, Any] = {}


@pytest.fixture(scope="session")
def rabbit(request: pytest.FixtureRequest) -> RabbitCluster:
    """A two-node RabbitMQ cluster with the MQTT plugin and the district's definitions."""
    if not have_rabbit():
        pytest.skip("rabbitmq-server is not installed")
    if "rabbit" not in _running:
        cluster = RabbitCluster(2)
        request.config.add_cleanup(cluster.stop)
        cluster.start()
        cluster.import_definitions(build(
            gate_accounts([("zqxx", "main"), ("zqxx", "east"), ("hxxx", "main")]),
            hub_password=HUB_PASSWORD, police_password=POLICE_PASSWORD, queue=None))
        _running["rabbit"] = cluster
    return _running["rabbit"]  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
def postgres(request: pytest.FixtureRequest) -> Postgres:
    if not have_postgres():
        pytest.skip("postgresql is not installed")
    if "postgres" not in _running:
        pg = Postgres()
        request.config.add_cleanup(pg.stop)
        _running["postgres"] = pg.start()
    return _running["postgres"]  # type: ignore[no-any-return]


_queues = itertools.count(1)


@pytest.fixture
def hub_config(rabbit: RabbitCluster, postgres: Postgres) -> Iterator[HubConfig]:
    """A hub configuration with a fresh database and a queue of its own (deleted afterwards)."""
    queue = f"hub.ingest.t{next(_queues)}"
    config = parse_hub_config({
        "amqp": {"urls": rabbit.amqp_urls("hub", HUB_PASSWORD), "queue": queue, "batch_ms": 20},
        "postgres": {"dsn": postgres.new_database()},
        "mqtt": {"host": "127.0.0.1", "port": rabbit.mqtt_ports[0], "username": "police"},
    })
    yield config
    # over AMQP, as the hub that declared it: a rabbitmqctl call boots an Erlang VM (about a
    # core-second) for each test
    with contextlib.suppress(pika.exceptions.AMQPError), \
            pika.BlockingConnection(pika.URLParameters(config.amqp.urls[0])) as conn:
        conn.channel().queue_delete(queue)


PROBE_QUEUE = "hub.probe"
PROBE_TOPIC = "campus/zqxx/main/probe"      # bound to the probe queue only, never to a hub's


def gate_client(port: int, site: str = "zqxx", gate: str = "main") -> mqtt.Client:
    """A gate's MQTT login (a client id of its own), connected and looping."""
    name = f"gate-{site}-{gate}"
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"{name}-t{uuid.uuid4().hex[:6]}",
                         protocol=mqtt.MQTTv311)
    client.username_pw_set(name, GATE_PASSWORD)
    client.connect("127.0.0.1", port, keepalive=10)
    client.loop_start()
    return client


def takes_a_publish(port: int) -> bool:
    """Does the node behind ``port`` accept an MQTT connection and acknowledge a QoS 1 publish
    into the probe's quorum queue? That PUBACK needs the node's MQTT client-id tracking (Raft)
    and the queue's members on both nodes: what a node just back from a power cut recovers
    last."""
    try:
        client = gate_client(port)
    except OSError:
        return False
    try:
        info = client.publish(PROBE_TOPIC, b"probe", qos=1)
        info.wait_for_publish(10)
        return bool(info.is_published())
    except (RuntimeError, ValueError):
        return False
    finally:
        close_client(client)


def power_cut(cluster: RabbitCluster, node: RabbitNode, down_s: float = 0) -> None:
    """SIGKILL one node, keep it down ``down_s``, start it again; return once every node takes
    MQTT publishes again. The cluster is shared by the tests of a run: ``rabbitmqctl wait``
    alone says the node is up, not that its Raft members have caught up, and the next test
    would find gates connected but unacknowledged."""
    with pika.BlockingConnection(pika.URLParameters(cluster.amqp_urls("hub", HUB_PASSWORD)[0])
                                 ) as conn:  # while every node is up
        channel = conn.channel()
        channel.queue_declare(PROBE_QUEUE, durable=True,
                              arguments={"x-queue-type": "quorum", "x-max-length": 10})
        channel.queue_bind(PROBE_QUEUE, "amq.topic", routing_key=PROBE_TOPIC.replace("/", "."))
    node.kill()
    time.sleep(down_s)
    node.launch()
    node.wait_ready()
    wait_for(lambda: all(takes_a_publish(port) for port in cluster.mqtt_ports), 180,
             "every node to acknowledge an MQTT publish after the power cut", interval=1)


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


def toml_of(config: HubConfig) -> str:
    return dump_toml(config)


class HubProcess:
    """``gate hub run`` (or another hub command) in a child process, as systemd would run it."""

    def __init__(self, config_path: Path, log: Path, command: str = "run") -> None:
        import subprocess
        import sys

        self.log = log.open("ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "gate", "hub", command, "--config",
                                      str(config_path)], stdout=self.log, stderr=self.log,
                                     cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except Exception:
                self.proc.kill()
                self.proc.wait(10)
        self.log.close()
