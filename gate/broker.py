"""A private Mosquitto on a free loopback port, for the demo and the tests.

Production gates talk to the site's broker (``[mqtt]`` in the config); this
is only for running everything on one machine with no setup.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType


def find_mosquitto() -> str | None:
    return shutil.which("mosquitto") or next(
        (p for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto") if Path(p).exists()),
        None)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def reserve_port() -> tuple[int, socket.socket]:
    """A loopback port held for a server that binds it much later; close the socket when the
    server is gone.

    ``free_port``'s port is free at that moment only. A RabbitMQ node binds its ports once it
    has booted, 20-25 s after they were chosen on an idle machine and over 100 s on a loaded
    one (measured: a 2-node cluster next to 8 busy loops, 106-146 s), and another process's
    ``free_port`` could be given one meanwhile: the node's boot then failed
    (``rabbit_is_not_running``). The holder is bound with SO_REUSEADDR and never listens: a
    server that binds with SO_REUSEADDR (RabbitMQ's listeners and distribution port) still
    can, while a plain bind, and so ``free_port``, cannot."""
    while True:
        port = free_port()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:  # taken between the two binds: choose again
            sock.close()
            continue
        return port, sock


class LocalBroker:
    """Starts ``mosquitto`` with a generated config; stops it on exit.

    ``extra`` is appended to the config (ACLs, password files). Persistence is
    on, so stopping and starting the same broker keeps queued QoS 1 messages,
    as the shipped production config does.
    """

    def __init__(self, extra: str = "", port: int | None = None,
                 workdir: Path | None = None) -> None:
        binary = find_mosquitto()
        if binary is None:
            raise FileNotFoundError("mosquitto is not installed (apt-get install mosquitto)")
        self.binary = binary
        self.port = port or free_port()
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="gate-broker-"))
        self.extra = extra
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def config_path(self) -> Path:
        return self.workdir / "mosquitto.conf"

    def start(self) -> LocalBroker:
        self.workdir.mkdir(parents=True, exist_ok=True)
        lines = [
            f"listener {self.port} 127.0.0.1",
            "persistence true",
            f"persistence_location {self.workdir}/",
            "autosave_interval 1",
            "max_queued_messages 100000",
            "log_dest stderr",
            "log_type error",
            "log_type warning",
        ]
        if os.geteuid() == 0:
            # as root, mosquitto would drop to its own user, which cannot read our temp files
            lines.append("user root")
        if "allow_anonymous" not in self.extra and "password_file" not in self.extra:
            lines.append("allow_anonymous true")
        self.config_path.write_text("\n".join(lines) + "\n" + self.extra + "\n")
        log = (self.workdir / "mosquitto.log").open("ab")
        self.proc = subprocess.Popen([self.binary, "-c", str(self.config_path)],
                                     stdout=log, stderr=log)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("mosquitto exited: "
                                   + (self.workdir / "mosquitto.log").read_text()[-2000:])
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        raise TimeoutError(f"mosquitto did not listen on port {self.port}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def __enter__(self) -> LocalBroker:
        return self.start()

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.stop()
