"""The service's side of the perimeter cameras: worker processes under the supervisor,
their alerts into the journal, their health and live views for the console.

Each ``role = "perimeter"`` camera runs in its own process (gate/perimeter/worker.py) at
lower priority, dropping frames rather than queueing them, so the gate lane always wins
the CPU. A worker that dies is restarted by the supervisor like any other loop.

Alert updates: the perimeter rules keep one alert per incident and send revisions of it
(the dwell grows, ``final`` when the person leaves). Revision 0 is journalled as a new
alert; later revisions update that row and go out on MQTT with their own message id
(``<id>-r<revision>``) and ``update_of``, so receivers that de-duplicate on ``id`` still
see each update.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import multiprocessing as mp
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from gate.clock import SiteClock
from gate.config import CameraConfig, Config
from gate.journal import Entry, Journal
from gate.messages import alert_message
from gate.perimeter import (
    PerimeterAlert,
    PerimeterHealth,
    PerimeterView,
    PlateCircling,
    run_perimeter_worker,
)
from gate.records import Alert, rfc3339
from gate.snapshots import Shot, SnapshotJob, SnapshotWriter

log = logging.getLogger("gate.perimeter_link")

class PerimeterLink:
    def __init__(self, config: Config, journal: Journal,
                 snapshots: SnapshotWriter | None = None, loop_video: bool = False,
                 clock: SiteClock | None = None) -> None:
        self.config = config
        self.clock = clock  # the process stamps alerts with the site's clock (gate/clock.py)
        self.journal = journal
        self.snapshots = snapshots
        self.loop_video = loop_video
        self.cameras = [c for c in config.cameras if c.role == "perimeter"]
        self.health: dict[str, PerimeterHealth] = {}
        self.views: dict[str, PerimeterView] = {}
        self.circling = PlateCircling(config.perimeter)
        # spawned: it loads no dlib, so the fork server (recognition/processes.py) saves it nothing
        self._ctx = mp.get_context("spawn")

    def loop_for(self, camera: CameraConfig) -> Callable[[threading.Event], None]:
        """The supervisor's loop for one camera: start its process, drain its queue, and
        raise (to be restarted) if the process dies."""

        def run(stop: threading.Event) -> None:
            out = self._ctx.Queue(maxsize=64)
            done = self._ctx.Event()
            proc = self._ctx.Process(
                target=run_perimeter_worker, name=f"perimeter-{camera.id}", daemon=True,
                args=(camera, None, out, done),
                kwargs={"settings": self.config.perimeter, "calendar": self.config.calendar,
                        "timezone": self.config.timezone,
                        "loop": self.loop_video or camera.loop, "clock": self.clock})
            proc.start()
            try:
                while not stop.is_set():
                    try:
                        item = out.get(timeout=0.5)
                    except queue.Empty:
                        if proc.is_alive():
                            continue
                        if self.ended(camera.id) and proc.exitcode == 0:
                            log.info("perimeter camera %s: source ended (a video file; set"
                                     " loop = true to play it again)", camera.id)
                            stop.wait()  # a normal end: nothing to restart
                            return
                        raise RuntimeError(f"perimeter worker {camera.id} exited"
                                           f" ({proc.exitcode})") from None
                    self.handle(item)
            finally:
                done.set()
                proc.join(5)
                if proc.is_alive():
                    proc.terminate()
                    proc.join(2)

        return run

    def handle(self, item: Any) -> None:
        if isinstance(item, PerimeterAlert):
            self.record(item)
        elif isinstance(item, PerimeterHealth):
            self.health[item.camera] = item
        elif isinstance(item, PerimeterView):
            self.views[item.camera] = item

    def ended(self, camera_id: str) -> bool:
        h = self.health.get(camera_id)
        return h is not None and h.ended

    def camera_up(self, camera_id: str) -> tuple[bool | None, str | None]:
        h = self.health.get(camera_id)
        if h is None:
            return None, "no report from the perimeter worker yet"
        if h.ended:  # a file that played to its end is not a camera gone offline
            return None, h.last_error
        return h.connected, h.last_error

    def plate_seen(self, plate: str, camera: str, now: dt.datetime | None = None) -> None:
        """Every plate read of every camera counts towards circling."""
        alert = self.circling.observe(plate, camera, now or self.journal.store.now())
        if alert is not None:
            self.record(alert)

    def record(self, alert: PerimeterAlert) -> None:
        """The alert and its evidence (the frame with the zone and the track's path drawn):
        the snapshot's index row commits with the alert, its file follows off this path."""
        job = None
        if alert.snapshot_jpeg and self.snapshots is not None:
            job = SnapshotJob(alert.id, rfc3339(alert.ts), None, None,
                              Shot(alert.snapshot_jpeg, None, alert.camera or "perimeter",
                                   "perimeter", time.monotonic()))
        record = replace(alert.to_record(alert.id if job else None),
                         snapshot_jpeg=alert.snapshot_jpeg if job else None)
        index = (self.snapshots.index(job),) if job and self.snapshots else ()
        if alert.revision == 0:
            self.journal.record(Entry(alerts=[record], writes=index))
        else:
            self._update(alert, record, index)
        if job and self.snapshots:
            self.snapshots.submit(job)  # a revision's frame replaces the incident's picture

    def _update(self, alert: PerimeterAlert, record: Alert, index: tuple[Any, ...]) -> None:
        details = record.details

        def update(db: sqlite3.Connection, alert_id: str = alert.id) -> None:
            db.execute("UPDATE alerts SET details = ? WHERE id = ?",
                       (json.dumps({**details}, ensure_ascii=False), alert_id))

        revision: Alert = replace(record, id=f"{alert.id}-r{alert.revision}",
                                  details={**details, "update_of": alert.id})
        self.journal.record(Entry(writes=(update, *index),
                                  messages=[alert_message(self.config, revision, None)]))
