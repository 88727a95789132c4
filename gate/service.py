"""Wiring and lifecycle of the gate service: readers -> engine -> store/relays.

Under systemd (``Type=notify``) it reports READY once every part is up and
pings the watchdog while the main loop is alive; SIGTERM stops it cleanly and
leaves every relay in its configured fail mode.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

import serial

from gate.actuator import Relay, make_relay
from gate.attendance import notify_absences
from gate.config import Config
from gate.console.server import ConsoleServer
from gate.engine import Engine
from gate.faces import people_gallery, pipeline_settings
from gate.fire import FireMonitor
from gate.mqtt import Publisher
from gate.store import Store
from gate.visitors import VisitorDesk
from gate.watchlist import (
    WatchlistError,
    apply_watchlist,
    parse_payload,
    watch_entry,
    watch_gallery,
)
from recognition.face_engine import DlibFaceEngine, FaceEngine
from recognition.gallery import Gallery
from recognition.worker import CameraJob, PlateSighting, RecognitionWorkers, WorkerHealth
from rfid.protocols import BadFrame
from rfid.reader import SerialCardReader

log = logging.getLogger("gate.service")

_PRIORITY = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3,
             logging.CRITICAL: 2}


class _JournalFormatter(logging.Formatter):
    """``<N>logger: message``: journald reads the priority prefix and adds its own time."""

    def format(self, record: logging.LogRecord) -> str:
        prefix = f"<{_PRIORITY.get(record.levelno, 6)}>"
        return "\n".join(prefix + line for line in super().format(record).splitlines())


def setup_logging(verbose: bool = False) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if os.environ.get("JOURNAL_STREAM"):
        handler.setFormatter(_JournalFormatter("%(name)s: %(message)s"))
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    logging.getLogger("yoyo").setLevel(logging.WARNING)  # one line per SQL step is noise


class Service:
    def __init__(self, config: Config, data_dir: Path, *, loop_video: bool = False) -> None:
        self.config = config
        self.store = Store(data_dir, config.tz)
        self._ports: dict[str, serial.Serial] = {}
        self.relays: dict[str, Relay] = {
            lane.id: make_relay(lane.id, lane.relay, self._ports) for lane in config.lanes}
        self.engine = Engine(config, self.store, self.relays, people_gallery(self.store))
        self.readers = [
            SerialCardReader(r.id, r.port, self.engine.on_card, protocol=r.protocol, baud=r.baud,
                             direction=r.direction, byte_order=r.byte_order,
                             holdoff_s=r.holdoff_ms / 1000, on_bad_frame=_report_bad_frame)
            for lane in config.lanes for r in lane.readers]
        self.camera_health: dict[str, WorkerHealth] = {}
        jobs = [CameraJob(c.id, c.source, pipeline_settings(config, c.roi), c.max_fps,
                          loop=loop_video,
                          plates_region=config.plates.region if c.role == "vehicle" else None)
                for c in config.cameras]
        self._lane_of_vehicle_camera = {lane.vehicle_camera: lane.id for lane in config.lanes
                                        if lane.vehicle_camera}
        self.recognition = RecognitionWorkers(
            jobs, self.store.face_encodings(), config.faces.workers,
            on_sightings=self.engine.on_sightings, on_health=self._camera_health,
            on_plate=self._on_plate) if jobs else None
        self.fire = FireMonitor(config.fire_alarm, self.engine.set_fire_alarm)
        self.publisher = Publisher(config, self.store, on_watchlist=self.on_watchlist)
        self.visitors = VisitorDesk(config, self.store)
        self.engine.visitors = self.visitors
        self.engine.subscribe(lambda _decision: self.publisher.notify())
        self._face_engine: FaceEngine | None = None
        self.refresh_watchlists()
        self.console: ConsoleServer | None = None
        if config.console.enabled:  # last: the console reads all of the above
            from gate.console.app import create_app

            c = config.console
            self.console = ConsoleServer(create_app(self), c.host, c.port, c.tls_cert,
                                         c.tls_key)
        self.stopped = threading.Event()
        self._housekeeping = threading.Thread(target=self._housekeep, name="housekeeping",
                                              daemon=True)

    def _on_plate(self, sighting: PlateSighting) -> None:
        lane = self._lane_of_vehicle_camera.get(sighting.camera_id)
        if lane is None:
            log.info("plate %s seen by %s (no vehicle lane)", sighting.plate, sighting.camera_id)
            return
        self.engine.on_plate(lane, sighting.plate, sighting.confidence)

    def _camera_health(self, health: WorkerHealth) -> None:
        self.camera_health[health.camera_id] = health

    def reload_gallery(self) -> None:
        """Enrolments changed: new galleries for the engine and the recognition workers."""
        rows = self.store.face_encodings()
        self.engine.set_gallery(Gallery.from_rows(rows))
        if self.recognition:
            self.recognition.set_gallery(rows)

    def escalate_alerts(self) -> int:
        """Critical alerts nobody acknowledged in time go out again, to the police and the
        console, as ``alert_escalated``."""
        limit = self.store.now() - dt.timedelta(minutes=self.config.console.alert_escalate_minutes)
        rows = self.store.query(
            "SELECT id, type, lane FROM alerts WHERE severity = 'critical' AND acknowledged_at"
            " IS NULL AND escalated_at IS NULL AND type != 'alert_escalated' AND ts < ?",
            (limit.isoformat(timespec="milliseconds"),))
        for row in rows:
            with self.store.transaction() as db:
                db.execute("UPDATE alerts SET escalated_at = ? WHERE id = ?",
                           (self.store.now().isoformat(), row["id"]))
                self.engine.raise_alert("alert_escalated", "critical", row["lane"], {
                    "original_id": row["id"], "original_type": row["type"],
                    "unacknowledged_minutes": self.config.console.alert_escalate_minutes})
        return len(rows)

    def apply_retention(self) -> None:
        """Data is kept only as long as configured (visitors' records, photos and faces too)."""
        r = self.config.retention
        now = self.store.now()
        with self.store.transaction() as db:
            for table, days in (("events", r.events_days), ("alerts", r.alerts_days),
                                ("audit_log", r.audit_days)):
                db.execute(f"DELETE FROM {table} WHERE ts < ?",
                           ((now - dt.timedelta(days=days)).isoformat(),))
            db.execute("DELETE FROM visitors WHERE created_at < ?",
                       ((now - dt.timedelta(days=r.visitors_days)).isoformat(),))

    def device_health(self) -> dict[str, Any]:
        now = time.monotonic()
        readers = [{"id": r.reader_id, "port": r.port, "protocol": r.protocol,
                    "direction": r.direction, "connected": r.health.connected,
                    "last_read": r.health.last_read.isoformat() if r.health.last_read else None,
                    "reads": r.health.reads, "bad_frames": r.health.bad_frames,
                    "error": r.health.last_error} for r in self.readers]
        cameras = []
        for cam in self.config.cameras:
            h = self.camera_health.get(cam.id)
            seen = self.engine.evidence.last_seen(cam.id)
            cameras.append({"id": cam.id, "role": cam.role, "connected": bool(h and h.connected),
                            "fps": round(h.fps, 1) if h else 0.0,
                            "analysed_fps": round(h.processed_fps, 1) if h else 0.0,
                            "last_frame_s_ago": None if seen is None else round(now - seen, 1),
                            "error": h.last_error if h else "no report yet"})
        relays = [{"lane": lane, "kind": self.config.lanes[i].relay.kind,
                   "fail": self.config.lanes[i].relay.fail,
                   "open": bool(getattr(relay, "energised", False)),
                   "held": bool(getattr(relay, "held", False))}
                  for i, (lane, relay) in enumerate(self.relays.items())]
        link = self.publisher.health
        return {"readers": readers, "cameras": cameras, "relays": relays,
                "fire_alarm": {"kind": self.config.fire_alarm.kind, "active": self.fire.active,
                               "healthy": self.fire.healthy, "error": self.fire.last_error},
                "broker": {"host": self.config.mqtt.host, "port": self.config.mqtt.port,
                           "connected": link.connected, "pending": link.pending,
                           "sent": link.sent, "backlog_warning": link.backlog_warning,
                           "error": link.last_error},
                "recognition": {"running": bool(self.recognition and self.recognition.alive())}}

    def refresh_watchlists(self) -> None:
        faces = watch_gallery(self.store)
        self.engine.set_watch_gallery(faces, lambda label: watch_entry(self.store, label))
        self.visitors.watch_faces = faces

    def refresh_visitors(self) -> None:
        self.engine.visitor_gallery = self.visitors.gallery()

    def face_engine(self) -> FaceEngine:
        """The main process's own face engine (enrolment-grade work: watch lists, visitors)."""
        if self._face_engine is None:
            self._face_engine = DlibFaceEngine()
        return self._face_engine

    def on_watchlist(self, name: str, raw: bytes) -> None:
        """A watch list pushed on MQTT: applied whole, or rejected whole with an alert."""
        if not raw:
            log.warning("watch list %s: empty retained message ignored; the list in force stays"
                        " (publish an empty list to clear it)", name)
            return
        try:
            payload = parse_payload(raw)
            if payload.name != name:
                raise WatchlistError(f"payload names list {payload.name!r}, topic says {name!r}")
            engine = self.face_engine() if any(p.photos for p in payload.persons) else None
            entries = apply_watchlist(self.store, payload, f"mqtt:{name}", engine)
        except WatchlistError as exc:
            log.error("watch list %s rejected, the previous list stays in force: %s", name, exc)
            self.engine.raise_alert("watchlist_rejected", "warning", None,
                                    {"list": name, "reason": str(exc)})
            return
        self.refresh_watchlists()
        self.store.audit("mqtt", "watchlist_applied", name,
                         {"entries": entries, "version": payload.version})
        log.info("watch list %s applied: %d entries (version %s)", name, entries,
                 payload.version or "-")

    def start(self) -> None:
        self.publisher.start()
        if self.recognition:
            self.recognition.start()
        for reader in self.readers:
            reader.start()
        self.fire.start()
        if self.console:
            try:
                self.console.start()
            except RuntimeError as exc:  # the gate keeps working without its console
                log.error("%s (is console.bind %s free?)", exc, self.config.console.bind)
                self.console = None
        self._housekeeping.start()
        log.info("gate %s/%s up: %d lane(s), %d reader(s), %d camera(s), data in %s",
                 self.config.site, self.config.gate, len(self.config.lanes), len(self.readers),
                 len(self.config.cameras), self.store.path)

    def _housekeep(self) -> None:
        while not self.stopped.wait(5):
            for job in (self.escalate_alerts, self.visitors.overstays, self.refresh_visitors,
                        self.apply_retention):
                try:
                    job()
                except Exception:
                    log.exception("housekeeping: %s failed", job.__name__)
            self.store.prune_sent_outbox(self.store.now() - dt.timedelta(days=7))
            if self.config.rules.notify_absent:
                try:
                    notify_absences(self.store, self.config, self.store.now())
                except Exception:
                    log.exception("absence notification failed")

    def stop(self) -> None:
        self.stopped.set()
        if self.console:
            self.console.stop()
        self.engine.close()
        self.fire.stop()
        if self.recognition:
            self.recognition.stop()
        for reader in self.readers:
            reader.stop()
        for relay in self.relays.values():
            try:
                relay.close()
            except Exception:
                log.exception("lane %s: could not set the relay to its fail mode", relay.lane)
        for port in self._ports.values():
            port.close()
        self.publisher.stop()
        self.store.close()
        log.info("gate stopped")

    def run_forever(self) -> None:
        """Run until SIGTERM/SIGINT, talking to systemd if it started us."""
        stop = threading.Event()

        def _on_signal(signum: int, _frame: FrameType | None) -> None:
            log.info("signal %s: stopping", signal.Signals(signum).name)
            stop.set()

        signal.signal(signal.SIGTERM, _on_signal)
        signal.signal(signal.SIGINT, _on_signal)
        notifier = _systemd_notifier()
        self.start()
        notifier("READY=1")
        watchdog_us = int(os.environ.get("WATCHDOG_USEC", "0") or 0)
        interval = watchdog_us / 2e6 if watchdog_us else 5.0
        try:
            while not stop.wait(interval):
                notifier("WATCHDOG=1")
        finally:
            notifier("STOPPING=1")
            self.stop()


def _report_bad_frame(reader_id: str, bad: BadFrame) -> None:
    log.warning("reader %s: rejected %s frame (%s): %s", reader_id, bad.protocol, bad.reason,
                bad.raw.hex(" "))


def _systemd_notifier() -> Callable[[str], None]:
    if not os.environ.get("NOTIFY_SOCKET"):
        return lambda _msg: None
    import sdnotify

    notifier = sdnotify.SystemdNotifier()
    return lambda msg: notifier.notify(msg)
