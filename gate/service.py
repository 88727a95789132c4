"""Wiring and lifecycle of the gate service: readers -> engine -> store/relays.

Under systemd (``Type=notify``) it reports READY once every part is up and
pings the watchdog while the main loop is alive; SIGTERM stops it cleanly and
leaves every relay in its configured fail mode.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import os
import signal
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

import serial

from gate import metrics
from gate.actuator import LcusRelay, Relay, make_relay
from gate.attendance import notify_absences
from gate.clock import ClockJumpDetector, SiteClock
from gate.config import CameraConfig, Config
from gate.console.server import ConsoleServer
from gate.crypto import load_sealer
from gate.desk_reader import DeskCards
from gate.engine import Engine
from gate.faces import people_gallery, photo_workers, pipeline_settings
from gate.fire import FireMonitor
from gate.journal import AuditRow, Entry, Journal
from gate.log_throttle import Throttle
from gate.logs import log_fields
from gate.mqtt import Publisher
from gate.perimeter_link import PerimeterLink
from gate.photo_workers import KeyedLocks
from gate.privacy import (
    ErasureError,
    encodings_fingerprint,
    erase_person,
    purge,
    shot_of_plate,
    snapshot_settings,
)
from gate.rules import needs_escalation
from gate.scheduler import Scheduler
from gate.snapshots import SnapshotStore, SnapshotWriter
from gate.store import Store
from gate.supervisor import Supervisor
from gate.visitors import VisitorDesk
from gate.vocab import AlertType, Severity
from gate.watchlist import (
    WatchlistError,
    apply_watchlist,
    parse_payload,
    watch_entry,
    watch_gallery,
)
from recognition.camera import SOURCE_ENDED
from recognition.gallery import Gallery
from recognition.view import CameraView
from recognition.worker import CameraJob, PlateSighting, RecognitionWorkers, WorkerHealth
from rfid.idcard_reader import IdCardReader
from rfid.protocols import BadFrame
from rfid.reader import SerialCardReader

log = logging.getLogger("gate.service")

class Service:
    """The gate service: every part, wired (docs/ARCHITECTURE.md draws it).

    Every long-lived loop runs under the supervisor (gate/supervisor.py); every record
    goes through the journal (gate/journal.py); timed work runs on the scheduler
    (gate/scheduler.py).
    """

    def __init__(self, config: Config, data_dir: Path, *, loop_video: bool = False,
                 clock: SiteClock | None = None) -> None:
        self.config = config
        self.clock = clock or SiteClock.real(config.tz)
        self.store = Store(data_dir, config.tz, load_sealer(config.privacy.key_file), self.clock)
        if not self.store.encrypted:
            log.warning("biometrics are NOT encrypted at rest: no key ([privacy] key_file or "
                        "the biometric-key credential; `gate keys init`)")
        self.snapshots = SnapshotWriter(SnapshotStore(self.store))
        self.journal = Journal(config, self.store)
        self.scheduler = Scheduler()
        self.supervisor = Supervisor(on_fault=self._loop_fault, on_device=self._device_change)
        self.health = self.supervisor.health
        self._fault_throttle: dict[str, float] = {}
        self._ports: dict[str, serial.Serial] = {}
        self.relays: dict[str, Relay] = {
            lane.id: make_relay(lane.id, lane.relay, self._ports) for lane in config.lanes}
        self.engine = Engine(config, self.store, self.relays, people_gallery(self.store),
                             journal=self.journal, scheduler=self.scheduler)
        if config.evidence.enabled:
            self.engine.snapshots = self.snapshots
        self.readers = [
            SerialCardReader(r.id, r.port, self.engine.on_card, protocol=r.protocol, baud=r.baud,
                             direction=r.direction, byte_order=r.byte_order,
                             holdoff_s=r.holdoff_ms / 1000, on_bad_frame=self._bad_frame)
            for lane in config.lanes for r in lane.readers]
        self._bad_frames = Throttle(log, 30.0)
        self.camera_health: dict[str, WorkerHealth] = {}
        self.camera_views: dict[str, CameraView] = {}
        self.recognition_jobs = [
            CameraJob(c.id, c.source, pipeline_settings(config, c.roi, camera_id=c.id), c.max_fps,
                      loop=loop_video or c.loop,
                      plates_region=config.plates.region if c.role == "vehicle" else None,
                      snapshots=snapshot_settings(config),
                      plates_fast_accept=config.plates.fast_accept,
                      plates_fallback_s=config.plates.fallback_interval_s,
                      plates_home_province=config.plates.home_province)
            for c in config.cameras if c.role != "perimeter"]
        self.recognition: RecognitionWorkers | None = None
        self._lane_of_vehicle_camera = {lane.vehicle_camera: lane.id for lane in config.lanes
                                        if lane.vehicle_camera}
        self.perimeter = PerimeterLink(config, self.journal, self.snapshots,
                                       loop_video=loop_video, clock=self.clock)
        self.fire = FireMonitor(config.fire_alarm, self.engine.set_fire_alarm,
                                on_lost=self._fire_input_lost)
        self.publisher = Publisher(config, self.store, on_watchlist=self.on_watchlist,
                                   on_fault=self._delivery_fault, on_ack=self.on_police_ack)
        self.visitors = VisitorDesk(config, self.store, self.journal)
        self.desk_cards = DeskCards(self.store.now)
        desk = config.visitors.desk_reader
        self.desk_reader = IdCardReader(
            "desk", desk.port, self.desk_cards.on_read, baud=desk.baud,
            poll_s=desk.poll_ms / 1000) if desk is not None else None
        self.engine.visitors = self.visitors
        self.journal.subscribe(lambda _decision: self.publisher.notify())
        # every photo from outside (console, desk, watch lists) is decoded and encoded here,
        # in supervised processes: a crash there is an error to the asker, never the gate's
        self.photo_workers = photo_workers(
            config, on_crash=lambda why: self._loop_fault("photo-worker", why, False))
        self.enrolment_locks = KeyedLocks()
        self.refresh_watchlists()
        self.console: ConsoleServer | None = None
        self._console_app: Any = None
        if config.console.enabled:  # last: the console reads all of the above
            from gate.console.app import create_app

            self._console_app = create_app(self)
        self.stopped = threading.Event()

    # Supervision ---------------------------------------------------------------------------

    def _register(self) -> None:
        sup = self.supervisor
        sup.add_loop("scheduler", "scheduler", self.scheduler.run, critical=True)
        sup.add_loop("mqtt-sender", "mqtt", self.publisher.run_sender, critical=True)
        sup.add_loop("mqtt-inbox", "mqtt", self.publisher.run_inbox, critical=True)
        sup.add_loop("snapshot-writer", "evidence", self.snapshots.run)
        for reader in self.readers:
            sup.add_loop(f"reader-loop-{reader.reader_id}", "reader", reader.run, critical=True)
            sup.add_probe(f"reader {reader.reader_id}", "reader", _reader_probe(reader))
        if self.desk_reader is not None:  # not critical: the desk can still type a document
            sup.add_loop("desk-reader", "reader", self.desk_reader.run)
            sup.add_probe("desk ID-card reader", "reader", functools.partial(
                _idcard_probe, self.desk_reader))
        if self.fire.enabled:
            sup.add_loop("fire-loop", "fire", self.fire.run, critical=True)
            sup.add_probe("fire input", "fire", lambda: (self.fire.healthy, self.fire.last_error),
                          critical=True, debounce_s=0.5)
        if self.recognition_jobs:
            sup.add_loop("recognition", "recognition", self._recognition_loop)
            for job in self.recognition_jobs:
                sup.add_probe(f"camera {job.camera_id}", "camera",
                              functools.partial(self._camera_up, job.camera_id), debounce_s=5.0)
        for cam in self.perimeter.cameras:
            sup.add_loop(f"perimeter {cam.id}", "perimeter", self.perimeter.loop_for(cam))
            sup.add_probe(f"camera {cam.id}", "camera",
                          functools.partial(self.perimeter.camera_up, cam.id), debounce_s=5.0)
        for lane_id, relay in self.relays.items():
            if isinstance(relay, LcusRelay):
                sup.add_probe(f"relay {lane_id}", "relay", relay.probe)
        sup.add_probe("broker", "broker", lambda: (self.publisher.health.connected,
                                                   self.publisher.health.last_error),
                      debounce_s=3.0)
        if self._console_app is not None:
            sup.add_loop("console", "console", self._console_loop)

    def _camera_up(self, camera_id: str) -> tuple[bool | None, str | None]:
        h = self.camera_health.get(camera_id)
        if h is None:  # the worker is still starting (dlib loads for seconds): not news
            return None, "no report from the recognition worker yet"
        if h.last_error == SOURCE_ENDED:  # a video file played to its end: not a fault
            return None, h.last_error
        return h.connected, h.last_error

    def _loop_fault(self, name: str, why: str, critical: bool) -> None:
        """A loop crashed (the supervisor restarts it): the guard sees it, once a minute at
        most per loop."""
        now = time.monotonic()
        if now - self._fault_throttle.get(name, -1e9) < 60:
            return
        self._fault_throttle[name] = now
        self.engine.raise_alert(AlertType.SERVICE_FAULT,
                                Severity.CRITICAL if critical else Severity.WARNING, None,
                                {"component": name, "error": why, "restarting": True})

    def _device_change(self, name: str, kind: str, up: bool, error: str | None,
                       critical: bool) -> None:
        metrics.set_device_up(kind, name, up)
        if kind == "fire":  # the engine tells it as fire_input_fault / _restored, once
            return
        if up:
            self.engine.raise_alert(AlertType.DEVICE_ONLINE, Severity.INFO, None,
                                    {"device": name, "kind": kind})
        else:
            self.engine.raise_alert(AlertType.DEVICE_OFFLINE,
                                    Severity.CRITICAL if critical else Severity.WARNING, None,
                                    {"device": name, "kind": kind, "error": error})

    def _delivery_fault(self, key: str, details: dict[str, Any]) -> None:
        self.engine.raise_alert(AlertType.SERVICE_FAULT, Severity.CRITICAL, None,
                                {"component": "mqtt", "fault": key, **details})

    def _fire_input_lost(self, lost: bool) -> None:
        """An unreadable fire input is a ``fire_input_fault``, never a ``fire_alarm``; the
        installer's choice (``fire_alarm.on_input_lost``) says whether every lane is released
        as a precaution or held as it is."""
        self.engine.set_fire_input_fault(
            lost, self.fire.last_error, self.config.fire_alarm.on_input_lost == "release")

    def _bad_frame(self, reader_id: str, bad: BadFrame) -> None:
        self._bad_frames.log(logging.WARNING, f"{reader_id}:{bad.reason}",
                             "reader %s: rejected %s frame (%s): %s", reader_id, bad.protocol,
                             bad.reason, bad.raw[:32].hex(" "))

    def _recognition_loop(self, stop: threading.Event) -> None:
        workers = RecognitionWorkers(
            self.recognition_jobs, self.store.face_encodings(), self.config.faces.workers,
            on_sightings=self.engine.on_sightings, on_health=self._camera_health,
            on_plate=self._on_plate, on_view=self._camera_view)
        workers.start()
        self.recognition = workers
        try:
            while not stop.wait(0.5):
                dead = workers.exit_codes()
                if dead:
                    raise RuntimeError(f"recognition worker process(es) died: {dead}")
        finally:
            self.recognition = None
            workers.stop()

    def _start_console(self) -> None:
        c = self.config.console
        server = ConsoleServer(self._console_app, c.host, c.port, c.tls_cert, c.tls_key)
        server.start()
        self.console = server

    def _console_loop(self, stop: threading.Event) -> None:
        if self.console is None or not self.console.alive():
            self._start_console()
        server = self.console
        assert server is not None
        try:
            while not stop.wait(0.5):
                if not server.alive():
                    raise RuntimeError("the console server stopped")
        finally:
            if stop.is_set():
                server.stop()

    def probe(self, timeout: float = 1.0) -> dict[str, Any]:
        """Does the decision path answer? What ``/healthz`` and the watchdog ask."""
        problems: list[str] = []
        start = time.monotonic()
        engine_ok = self.engine.probe(timeout)
        engine_ms = (time.monotonic() - start) * 1000 if engine_ok else None
        if not engine_ok:
            problems.append(f"the decision path did not answer within {timeout:.1f} s")
        store_ms = self.store.ping(timeout)
        if store_ms is None:
            problems.append(f"the database did not answer within {timeout:.1f} s")
        if self.supervisor.stop_event.is_set():
            problems.append("stopping")
        elif down := self.supervisor.dead_critical():
            problems.append("critical loop(s) not running: " + ", ".join(down))
        return {"ok": not problems, "engine_ms": engine_ms, "store_ms": store_ms,
                "problems": problems}

    def health_snapshot(self) -> dict[str, Any]:
        return {"components": self.health.snapshot(), "probe": self.probe(1.0),
                "fire": {"input_active": self.fire.active, "released": self.engine.fire_active,
                         "healthy": self.fire.healthy, "fault": self.engine.fire_state()["fault"]},
                "outbox": {"pending": self.publisher.health.pending,
                           "refused": self.publisher.health.refused},
                "photo_workers": self.photo_workers.snapshot()}

    def _write_health(self) -> None:
        """``gate status`` (another process) reads the same health model from this file."""
        path = self.store.data_dir / "health.json"
        tmp = path.with_suffix(".tmp")
        snapshot = {**self.health_snapshot(), "written": self.store.now().isoformat()}
        tmp.write_text(json.dumps(snapshot, ensure_ascii=False, default=str))
        tmp.replace(path)

    # Recognition results -----------------------------------------------------------------

    def _on_plate(self, sighting: PlateSighting) -> None:
        self.perimeter.plate_seen(sighting.plate, sighting.camera_id)  # circling, any camera
        lane = self._lane_of_vehicle_camera.get(sighting.camera_id)
        if lane is None:
            log.info("plate %s seen by %s (no vehicle lane)", sighting.plate, sighting.camera_id)
            return
        self.engine.on_plate(lane, sighting.plate, sighting.confidence,
                             shot=shot_of_plate(sighting))

    def _camera_view(self, view: CameraView) -> None:
        self.camera_views[view.camera_id] = view  # the console's live view of each camera

    def _camera_health(self, health: WorkerHealth) -> None:
        self.camera_health[health.camera_id] = health

    def _follow_erasures(self) -> None:
        """``gate people erase`` in another process: the galleries drop the face within 30 s."""
        fingerprint = encodings_fingerprint(self.store)
        if fingerprint != getattr(self, "_encodings_seen", fingerprint):
            self.reload_gallery()
        self._encodings_seen = fingerprint

    def erase_person(self, person_id: str, actor: str, reason: str = "") -> dict[str, Any]:
        """The right to erasure against the running gate, in an order that lets nothing
        through: (1) tombstone the id (the decision path and the recognition pump drop
        anything under it from now on); (2) galleries without the person, in the engine and
        in every recognition worker, and wait until each worker confirms; (3) forget the
        recent sightings and discard the queued snapshots; (4) then delete (one journal
        entry, audited). Answers only after all of that."""
        if self.store.get_person(person_id) is None:
            raise ErasureError(f"no person {person_id!r}")
        self.engine.tombstone(person_id)
        rows = [r for r in self.store.face_encodings() if r[0] != person_id]
        self.engine.set_gallery(Gallery.from_rows(rows))
        confirmed = True
        workers = self.recognition
        if workers is not None:
            confirmed = workers.wait_applied(workers.set_gallery(rows), timeout=15.0)
            if not confirmed:
                log.error("erasure of a person: a recognition worker did not confirm its new"
                          " gallery within 15 s; its sightings of them are dropped regardless",
                          extra=log_fields(person=person_id))
        forgotten = self.engine.evidence.forget(person_id)
        discarded = self.snapshots.discard(person_id)
        counts = erase_person(self.journal, self.snapshots.snapshots, person_id, actor)
        if reason.strip():
            self.journal.record(Entry(audit=(AuditRow(actor, "erasure_reason", person_id,
                                                      {"reason": reason.strip()}),)))
        self.reload_gallery()
        return {"removed": counts, "capture_stopped": {
            "workers_confirmed": confirmed, "sightings_forgotten": forgotten,
            "snapshot_jobs_discarded": discarded}}

    def reload_gallery(self) -> None:
        """Enrolments changed: new galleries for the engine and the recognition workers."""
        rows = self.store.face_encodings()
        self.engine.set_gallery(Gallery.from_rows(rows))
        if self.recognition:
            self.recognition.set_gallery(rows)

    # Housekeeping (on the scheduler) -------------------------------------------------------

    def escalate_alerts(self) -> int:
        """Critical alerts nobody acknowledged in time go out again, to the police and the
        console, as ``alert_escalated``."""
        now = self.store.now()
        minutes = self.config.console.alert_escalate_minutes
        count = 0
        stamp = now.isoformat()
        for facts in self.store.escalation_candidates(now - dt.timedelta(minutes=minutes)):
            if not needs_escalation(facts, now, minutes):
                continue

            def mark(db: sqlite3.Connection, alert_id: str = facts.alert_id) -> None:
                db.execute("UPDATE alerts SET escalated_at = ? WHERE id = ?", (stamp, alert_id))

            self.engine.raise_alert(AlertType.ALERT_ESCALATED, Severity.CRITICAL, facts.lane, {
                "original_id": facts.alert_id, "original_type": facts.alert_type,
                "unacknowledged_minutes": minutes}, writes=(mark,))
            count += 1
        return count

    def apply_retention(self) -> None:
        """Data is kept only as long as configured (visitors' records, photos and faces too)."""
        purge(self.store, self.snapshots.snapshots, self.config.retention, self.store.now())

    def on_police_ack(self, raw: bytes) -> None:
        """A police acknowledgement from the district (``.../acks``): shown on the console."""
        try:
            ack = json.loads(raw)
            alert_id, by = str(ack["alert_id"]), str(ack.get("by") or "police")
            note = str(ack.get("note") or "")
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("police acknowledgement ignored: not the contract's JSON (%s)", exc)
            return

        def acknowledge(db: sqlite3.Connection) -> None:
            # QoS 1 delivers at least once: a redelivered acknowledgement (the same officer and
            # note, after a link cut) keeps the time of the first; a changed one replaces it
            db.execute("UPDATE alerts SET police_ack_at = ?, police_ack_by = ?, police_ack_note"
                       " = ? WHERE id = ? AND (police_ack_at IS NULL OR police_ack_by IS NOT ?"
                       " OR police_ack_note IS NOT ?)",
                       (self.store.now().isoformat(), by, note, alert_id, by, note))

        self.journal.record(Entry(writes=(acknowledge,), audit=(
            AuditRow(f"police:{by}", "alert_police_acknowledged", alert_id, {"note": note}),)))

    def device_health(self) -> dict[str, Any]:
        """Every device with its state as a code the console has words for (``state``), how
        bad that is (``level``: ok, warning, fault) and how long ago it last delivered (a
        card read, a frame): a device can be "connected" and still have gone quiet."""
        wall = time.time()
        readers = []
        for r in self.readers:
            h = r.health
            readers.append({
                "id": r.reader_id, "port": r.port, "protocol": r.protocol,
                "direction": r.direction, "connected": h.connected,
                "state": "online" if h.connected else "offline",
                "level": "ok" if h.connected else "fault",
                "last_read": h.last_read.isoformat() if h.last_read else None,
                "last_read_s_ago": None if h.last_read is None
                else round(max(0.0, wall - h.last_read.timestamp()), 1),
                "reads": h.reads, "bad_frames": h.bad_frames, "error": h.last_error})
        cameras = [self._camera_state(cam, wall) for cam in self.config.cameras]
        relays = []
        for i, (lane, relay) in enumerate(self.relays.items()):
            is_open, held = bool(getattr(relay, "energised", False)), bool(
                getattr(relay, "held", False))
            state = ("fire_released" if held and self.engine.fire_active else "held" if held
                     else "open" if is_open else "closed")
            relays.append({"lane": lane, "kind": self.config.lanes[i].relay.kind,
                           "fail": self.config.lanes[i].relay.fail, "open": is_open,
                           "held": held, "state": state,
                           "level": "warning" if state == "fire_released" else "ok"})
        link = self.publisher.health
        broker_error = link.last_error
        if link.refused:
            broker_error = (f"the broker refused {link.refused} message(s): {link.last_refusal}"
                            f" (check mqtt.username {self.config.mqtt.username!r} and the ACL)")
        broker_state = ("refused" if link.refused else "backlog" if link.backlog_warning
                        else "connected" if link.connected else "disconnected")
        return {"readers": readers, "cameras": cameras, "relays": relays,
                "fire_alarm": self._fire_state(),
                "broker": {"host": self.config.mqtt.host, "port": self.config.mqtt.port,
                           "connected": link.connected, "pending": link.pending,
                           "sent": link.sent, "refused": link.refused,
                           "backlog_warning": link.backlog_warning, "error": broker_error,
                           "state": broker_state,
                           "level": "ok" if broker_state == "connected" else "fault"
                           if broker_state in ("disconnected", "refused") else "warning"},
                "recognition": {"running": bool(self.recognition and self.recognition.alive())},
                "components": [{**c, "state": "running" if c.get("up") else "down",
                                "level": "ok" if c.get("up") else "fault"}
                               for c in self.health.snapshot()]}

    def _camera_state(self, cam: CameraConfig, wall: float) -> dict[str, Any]:
        """A camera's state and the age of its last frame: the recognition worker's live
        view for lane and vehicle cameras, the perimeter process's view for the others."""
        if cam.role == "perimeter":
            p = self.perimeter.health.get(cam.id)
            pview = self.perimeter.views.get(cam.id)
            connected, fps = bool(p and p.connected), p.camera_fps if p else 0.0
            analysed, error = (p.processed_fps if p else 0.0), (p.last_error if p else None)
            reported = p is not None
            last = None if pview is None else max(0.0, (self.store.now() - pview.ts)
                                                  .total_seconds() / self._clock_rate())
        else:
            h = self.camera_health.get(cam.id)
            view = self.camera_views.get(cam.id)
            connected, fps = bool(h and h.connected), h.fps if h else 0.0
            analysed, error = (h.processed_fps if h else 0.0), (h.last_error if h else None)
            reported = h is not None
            last = None if view is None else max(0.0, wall - view.ts)
        state = "online" if connected else "offline" if reported else "no_report"
        return {"id": cam.id, "role": cam.role, "connected": connected, "fps": round(fps, 1),
                "analysed_fps": round(analysed, 1),
                "last_frame_s_ago": None if last is None else round(last, 1),
                "state": state, "level": "ok" if connected else "fault",
                "error": error if reported else "no report yet"}

    def _clock_rate(self) -> float:
        """How many site seconds pass per real second now (above 1 only in ``gate demo``)."""
        c = self.clock
        if c.start is None or c.until is None or self.store.now() >= c.until:
            return 1.0
        return c.speed

    def _fire_state(self) -> dict[str, Any]:
        """No fire input configured is a warning, never OK: the lanes would not release on
        an alarm. A fault of the input (a cut wire) is told apart from a fire."""
        kind = self.config.fire_alarm.kind
        engine = self.engine.fire_state()  # active, released, fault, cause
        if kind == "none":
            state, level = "not_configured", "warning"
        elif engine["fault"] or not self.fire.healthy:
            state, level = "fault", "fault"
        elif engine["active"]:
            state, level = "alarm", "fault"
        elif engine["released"]:
            state, level = "released", "warning"
        else:
            state, level = "normal", "ok"
        return {**engine, "kind": kind, "configured": kind != "none",
                "healthy": self.fire.healthy, "error": self.fire.last_error, "state": state,
                "level": level}

    def refresh_watchlists(self) -> None:
        faces = watch_gallery(self.store)
        self.engine.set_watch_gallery(faces, lambda label: watch_entry(self.store, label))
        self.visitors.watch_faces = faces

    def refresh_visitors(self) -> None:
        self.engine.visitor_gallery = self.visitors.gallery()

    def on_watchlist(self, name: str, raw: bytes) -> None:
        """A watch list pushed on MQTT (on the inbox loop, never on paho's network thread):
        applied whole, or rejected whole with an alert."""
        if not raw:
            log.warning("watch list %s: empty retained message ignored; the list in force stays"
                        " (publish an empty list to clear it)", name)
            return
        try:
            payload = parse_payload(raw)
            if payload.name != name:
                raise WatchlistError(f"payload names list {payload.name!r}, topic says {name!r}")
            entries = apply_watchlist(self.store, payload, f"mqtt:{name}", self.photo_workers)
        except WatchlistError as exc:
            log.error("watch list %s rejected, the previous list stays in force: %s", name, exc)
            self.engine.raise_alert(AlertType.WATCHLIST_REJECTED, Severity.WARNING, None,
                                    {"list": name, "reason": str(exc)})
            return
        self.refresh_watchlists()
        self.store.audit("mqtt", "watchlist_applied", name,
                         {"entries": entries, "version": payload.version})
        log.info("watch list %s applied: %d entries (version %s)", name, entries,
                 payload.version or "-")

    # Lifecycle ------------------------------------------------------------------------------

    def _schedule_housekeeping(self) -> None:
        every = self.scheduler.every
        every(5, self.escalate_alerts, "escalate-alerts")
        every(5, self.visitors.overstays, "visitor-overstays")
        every(5, self.refresh_visitors, "refresh-visitors")
        every(3600, self.apply_retention, "retention", first=30)
        every(30, self._follow_erasures, "gallery-follows-store", first=30)
        every(600, lambda: self.store.prune_sent_outbox(
            self.store.now() - dt.timedelta(days=7)), "prune-outbox", first=60)
        every(2, self._write_health, "health-file", first=0.5)
        if self.config.rules.notify_absent:
            every(30, lambda: notify_absences(self.journal, self.config, self.store.now()),
                  "absences", first=5)

    def start(self) -> None:
        self.photo_workers.start()  # dlib loads there in the background
        self.publisher.start()
        if self._console_app is not None:
            try:
                self._start_console()
            except RuntimeError as exc:  # the gate keeps working; the supervisor retries
                log.error("%s (is console.bind %s free?)", exc, self.config.console.bind)
        self._register()
        self._schedule_housekeeping()
        self.supervisor.start()
        log.info("gate %s/%s up: %d lane(s), %d reader(s), %d camera(s), data in %s",
                 self.config.site, self.config.gate, len(self.config.lanes), len(self.readers),
                 len(self.config.cameras), self.store.path)

    def stop(self) -> None:
        self.stopped.set()
        self.engine.close()
        self.supervisor.stop()
        if self.console:
            self.console.stop()
        for relay in self.relays.values():
            try:
                relay.close()
            except Exception:
                log.exception("lane %s: could not set the relay to its fail mode", relay.lane)
        for port in self._ports.values():
            port.close()
        self.publisher.stop()
        self.photo_workers.close()
        self.store.close()
        log.info("gate stopped")

    def run_forever(self) -> None:
        """Run until SIGTERM/SIGINT, talking to systemd if it started us. The watchdog is
        petted only while every critical loop runs and the decision path answers."""
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
        interval = watchdog_us / 4e6 if watchdog_us else 5.0
        clock = ClockJumpDetector(2.0)
        try:
            while not stop.wait(interval):
                jump = clock.check()
                if jump is not None:  # an NTP correction: durations stay monotonic regardless
                    metrics.count_clock_jump()
                    log.warning("wall clock jumped by %+.1f s (NTP?); timestamps from now on use"
                                " the corrected clock", jump.offset_s)
                probe = self.probe(timeout=min(1.0, interval))
                if probe["ok"]:
                    notifier("WATCHDOG=1")
                else:
                    log.error("not petting the watchdog: %s", "; ".join(probe["problems"]))
        finally:
            notifier("STOPPING=1")
            self.stop()


def _reader_probe(reader: SerialCardReader) -> Callable[[], tuple[bool, str | None]]:
    return lambda: (reader.health.connected, reader.health.last_error)


def _idcard_probe(reader: IdCardReader) -> tuple[bool, str | None]:
    return reader.health.connected, reader.health.last_error


def _systemd_notifier() -> Callable[[str], None]:
    if not os.environ.get("NOTIFY_SOCKET"):
        return lambda _msg: None
    import sdnotify

    notifier = sdnotify.SystemdNotifier()
    return lambda msg: notifier.notify(msg)
