"""Real pseudo-terminal pairs standing in for USB-serial card readers and relay boards."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path


class PtyPort:
    """A pty pair: the code under test opens ``path`` with pyserial; the test drives the master.

    ``link`` (optional) is a stable symlink to the slave, as udev's
    /dev/serial/by-id links are, so a "replugged" device can come back under the same name.
    """

    def __init__(self, link: Path | None = None) -> None:
        self.master, self.slave = os.openpty()
        self.slave_path = os.ttyname(self.slave)
        self.link = link
        if link is not None:
            link.unlink(missing_ok=True)
            link.symlink_to(self.slave_path)
        self.path = str(link or self.slave_path)
        self.closed = False

    def write(self, data: bytes) -> None:
        os.write(self.master, data)

    def read_available(self, timeout: float = 2.0, want: int = 1) -> bytes:
        import select

        out = b""
        deadline = time.monotonic() + timeout
        while len(out) < want and time.monotonic() < deadline:
            ready, _, _ = select.select([self.master], [], [], 0.05)
            if ready:
                out += os.read(self.master, 1024)
        return out

    def unplug(self) -> None:
        """The device disappears: both ends close and the by-id link goes away."""
        if self.link is not None:
            self.link.unlink(missing_ok=True)
        os.close(self.master)
        os.close(self.slave)
        self.closed = True

    def close(self) -> None:
        if not self.closed:
            self.unplug()


def wait_for(predicate: Callable[[], bool], timeout: float = 5.0, what: str = "condition") -> None:
    """Poll a condition with a deadline (an event we cannot subscribe to, like a pty opening)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")
