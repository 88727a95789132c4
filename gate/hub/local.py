"""A RabbitMQ cluster and a PostgreSQL on loopback ports, for the tests, the bench and a demo.

Production runs the Debian services (README "District hub"); this starts private ones with
their own data directories: RabbitMQ nodes on a private epmd port and cookie, so they never
meet another RabbitMQ on the machine, and PostgreSQL as ``nobody`` when run as root
(PostgreSQL refuses root). ``stop()`` removes everything.
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
from pathlib import Path
from typing import Any

import psycopg

from gate.broker import free_port, reserve_port

RABBIT_BIN = Path("/usr/lib/rabbitmq/bin")
PG_BIN = next(iter(sorted(Path("/usr/lib/postgresql").glob("*/bin"))), Path("/nonexistent"))
COOKIE = "campusgatehublocalcookie"


def have_rabbit() -> bool:
    return (RABBIT_BIN / "rabbitmq-server").exists()


def have_postgres() -> bool:
    return (PG_BIN / "initdb").exists()


class RabbitNode:
    def __init__(self, name: str, base: Path, epmd_port: int, plugins: str) -> None:
        self.name = f"{name}@localhost"
        self.dir = base / name
        # held for the node's life: it binds them only once it has booted (gate/broker.py)
        self._held = [reserve_port() for _ in range(3)]
        self.amqp_port, self.mqtt_port, self.dist_port = (port for port, _sock in self._held)
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
        try:
            self.ctl("wait", str(self.dir / "pid"), "--timeout", str(int(timeout)),
                     timeout=timeout + 10)
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            raise RuntimeError(f"{self.name} did not start: {exc}\n{self.log_tail()}") from exc

    def log_tail(self, lines: int = 40) -> str:
        """The node's own words (warnings and errors), for the reason it did not start."""
        text = "".join(p.read_text(errors="replace") for p in sorted(self.dir.glob("log/*.log")))
        text += (self.dir / "server.log").read_text(errors="replace") if (
            self.dir / "server.log").exists() else ""
        return "\n".join(text.splitlines()[-lines:])

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
        for _port, sock in self._held:
            sock.close()


class RabbitCluster:
    """Nodes started together; the second and later join the first (rabbitmqctl join_cluster)."""

    def __init__(self, size: int = 2, base: Path | None = None,
                 plugins: str = "[rabbitmq_mqtt,rabbitmq_shovel].") -> None:
        self.base = base or Path(tempfile.mkdtemp(prefix="gate-rabbit-"))
        self.epmd_port, self._epmd_held = reserve_port()
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
        self._epmd_held.close()
        shutil.rmtree(self.base, ignore_errors=True)

    def amqp_urls(self, user: str, password: str) -> list[str]:
        return [f"amqp://{user}:{password}@127.0.0.1:{n.amqp_port}/%2F" for n in self.nodes]

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
