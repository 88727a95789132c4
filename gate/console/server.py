"""Runs the console's uvicorn server in a thread of the gate service."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import uvicorn
from fastapi import FastAPI


class ConsoleServer:
    def __init__(self, app: FastAPI, host: str, port: int, certfile: Path | None = None,
                 keyfile: Path | None = None) -> None:
        self.host, self.port = host, port
        self.app = app
        config = uvicorn.Config(app, host=host, port=port, log_level="warning",
                                access_log=False, ws="websockets-sansio", lifespan="on",
                                ssl_certfile=str(certfile) if certfile else None,
                                ssl_keyfile=str(keyfile) if keyfile else None,
                                # a request still running after 2 s of a stop is cancelled:
                                # the gate's stop (and systemd's) does not wait on a browser
                                timeout_graceful_shutdown=2)
        self.server = uvicorn.Server(config)  # in a thread, uvicorn leaves signals alone
        self._thread = threading.Thread(target=self.server.run, name="console", daemon=True)

    def start(self, timeout: float = 10.0) -> None:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError(f"the console did not start on {self.host}:{self.port}")
            time.sleep(0.02)

    def alive(self) -> bool:
        return self._thread.is_alive() and not self.server.should_exit

    def ended(self) -> bool:
        """The server's thread has returned (``stop`` waits for it 5 s at most)."""
        return self._thread.ident is not None and not self._thread.is_alive()

    def stop(self) -> None:
        # the open pages' feeds first (gate/console/app.py: close_feeds): with no WebSocket
        # left open, the server stops at once instead of after its grace
        close_feeds = getattr(self.app.state, "close_feeds", None)
        if close_feeds is not None:
            close_feeds()
        self.server.should_exit = True
        if self._thread.ident is not None:
            self._thread.join(5)
