"""The demo's cameras: MJPEG-over-HTTP streams that show what the morning's script says.

A looping video file shows the same pupil again every few seconds, and each loop is a new
face track, a new lent-card moment, a new car at the barrier: a demo of that cries wolf.
Real IP cameras stream, so the demo streams too: each camera is a ``Feed`` that shows an
idle scene (the empty lane, the empty barrier, the empty walkway) until the script plays a
clip on it, once. The recognition and perimeter workers open these URLs exactly as they
open a real camera's (OpenCV's FFmpeg backend reads ``multipart/x-mixed-replace``), so
nothing in the service knows it is a demo.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class Feed:
    """One camera's picture over time: the idle frame, or the clip the script started."""

    def __init__(self, idle: bytes, fps: float) -> None:
        self.idle_jpeg = idle
        self.fps = fps
        self._lock = threading.Lock()
        self._clip: Sequence[bytes] = ()
        self._started = 0.0
        self._hold = False

    def play(self, clip: Sequence[bytes], hold: bool = False) -> float:
        """Show ``clip`` once from now, then the idle scene, or with ``hold`` its last frame
        until :meth:`idle` (a pupil waits at the reader); returns the clip's seconds."""
        with self._lock:
            self._clip, self._started, self._hold = clip, time.monotonic(), hold
        return len(clip) / self.fps

    def idle(self) -> None:
        with self._lock:
            self._clip, self._hold = (), False

    def frame(self, mono: float) -> bytes:
        with self._lock:
            clip, started, hold = self._clip, self._started, self._hold
        index = int((mono - started) * self.fps)
        if hold and clip and index >= len(clip):
            return clip[-1]
        return clip[index] if 0 <= index < len(clip) else self.idle_jpeg


def load_clip(folder: Path) -> list[bytes]:
    """A clip prepared as numbered JPEG files (gate/demo.py prepares them in a subprocess)."""
    return [p.read_bytes() for p in sorted(folder.glob("*.jpg"))]


class CameraServer:
    """Serves each feed at ``http://127.0.0.1:PORT/<camera id>`` as an MJPEG stream."""

    def __init__(self, feeds: dict[str, Feed]) -> None:
        self.feeds = feeds
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                feed = server.feeds.get(self.path.strip("/"))
                if feed is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                period = 1.0 / feed.fps
                next_at = time.monotonic()
                try:
                    while not server.stopping.is_set():
                        jpeg = feed.frame(time.monotonic())
                        self.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\n"
                                         b"Content-Length: %d\r\n\r\n%b\r\n" % (len(jpeg), jpeg))
                        next_at = max(next_at + period, time.monotonic() - period)
                        server.stopping.wait(max(0.0, next_at - time.monotonic()))
                except (BrokenPipeError, ConnectionResetError):
                    return  # the worker went away (restart or shutdown)

            def log_message(self, format: str, *args: object) -> None:
                return  # one line per frame request is noise

        self.stopping = threading.Event()
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._http.daemon_threads = True
        self.port = self._http.server_address[1]
        self._thread = threading.Thread(target=self._http.serve_forever, name="demo-cameras",
                                        daemon=True)

    def url(self, camera: str) -> str:
        return f"http://127.0.0.1:{self.port}/{camera}"

    def start(self) -> CameraServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self._http.shutdown()
        self._http.server_close()
