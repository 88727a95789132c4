"""Decides at each lane who passes, and journals every decision before acting on it.

Order matters: the decision, its passage or alerts, and the MQTT messages that
announce them are committed to SQLite first; only then does the relay move
and the live feed hear of it. A crash between the two loses a gate opening,
never a record.

Rules the product keeps (DESIGN.md): a valid card always works, the face is
an added check and only for people whose consent is recorded, decisions use
only the local database, and the fire alarm releases every lane.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from gate.actuator import Relay
from gate.config import Config, LaneConfig
from gate.evidence import FaceEvidence
from gate.messages import alert_message, event_message, guardian_notification
from gate.records import Alert, Event, OutboxMessage, Person, Severity
from gate.store import Store
from gate.visitors import VisitorDesk
from recognition.gallery import Gallery
from recognition.pipeline import FaceSighting
from recognition.plate_formats import plate_distance
from recognition.worker import Sightings
from rfid.reader import CardRead

log = logging.getLogger("gate.engine")


@dataclass(frozen=True)
class Decision:
    """What the engine decided and journalled; the live feed and the demo show these."""

    event: Event
    person: Person | None
    opened: bool
    alerts: tuple[Alert, ...] = ()

    @property
    def alert(self) -> Alert | None:
        return self.alerts[0] if self.alerts else None


Listener = Callable[[Decision], None]


class TrackMemory:
    """Which face tracks a check has already handled: each track once, in bounded memory."""

    def __init__(self, limit: int = 10_000) -> None:
        self.limit = limit
        self._seen: OrderedDict[tuple[str, int], None] = OrderedDict()

    def first_time(self, camera: str, track_id: int) -> bool:
        key = (camera, track_id)
        if key in self._seen:
            return False
        self._seen[key] = None
        if len(self._seen) > self.limit:
            self._seen.popitem(last=False)
        return True


@dataclass
class _FaceCheck:
    """The outcome of checking the face at the reader against the card's holder."""

    method: str = "card"
    mismatch: bool = False
    distance: float | None = None
    other: str | None = None
    note: str = "no face check"


@dataclass
class _Draft:
    """A decision being built by the rules."""

    kind: str
    decision: str
    reason: str
    method: str = "card"
    alerts: list[tuple[str, Severity, dict[str, Any]]] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    notify: bool = False


class Engine:
    def __init__(self, config: Config, store: Store, relays: dict[str, Relay],
                 gallery: Gallery | None = None) -> None:
        self.config = config
        self.store = store
        self.relays = relays
        self.gallery = gallery or Gallery.from_rows([])
        self.evidence = FaceEvidence()
        self.watch_gallery = Gallery.from_rows([])
        self._describe_watch: Callable[[str], dict[str, Any] | None] = lambda _label: None
        self._watch_checked = TrackMemory()
        self.fire_active = False
        self._listeners: list[Listener] = []
        self._lock = threading.Lock()
        self._lanes: dict[str, LaneConfig] = {lane.id: lane for lane in config.lanes}
        self._lane_of_reader = {r.id: lane.id for lane in config.lanes for r in lane.readers}
        self._lane_of_camera = {lane.camera: lane.id for lane in config.lanes if lane.camera}
        self._opens: dict[str, list[float]] = {}
        self._card_taps: dict[tuple[str, str], float] = {}
        self._timers: set[threading.Timer] = set()
        self.visitors: VisitorDesk | None = None
        self.visitor_gallery = Gallery.from_rows([])
        self._visitor_checked = TrackMemory()
        self._zones = {c.id: (c.zone or c.id, c.restricted) for c in config.cameras}
        self._closed = False
        self._known_done = TrackMemory()

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def set_gallery(self, gallery: Gallery) -> None:
        self.gallery = gallery

    def set_watch_gallery(self, gallery: Gallery,
                          describe: Callable[[str], dict[str, Any] | None]) -> None:
        self.watch_gallery, self._describe_watch = gallery, describe

    def close(self) -> None:
        """Cancel pending follow-ups (tailgating, face without card) before the store closes."""
        self._closed = True
        for timer in list(self._timers):
            timer.cancel()

    def _later(self, delay: float, check: Callable[[], None]) -> None:
        def run() -> None:
            self._timers.discard(timer)
            if not self._closed:
                check()

        timer = threading.Timer(delay, run)
        timer.daemon = True
        self._timers.add(timer)
        timer.start()

    # Cards -----------------------------------------------------------------------

    def on_card(self, read: CardRead) -> Decision:
        """A card at a lane reader: a lookup in the local database, never the network."""
        lane_id = self._lane_of_reader.get(read.reader, read.reader)
        lane = self._lanes.get(lane_id)
        keys = read.card.keys() if read.card else ()
        person = self.store.person_for_card(keys)
        now = self.store.now()
        if person is not None:
            self._card_taps[(lane_id, person.id)] = read.mono
        visitor = None
        if person is None and self.visitors is not None:
            visitor = (self.visitors.visitor_for_card(keys) if read.card
                       else self.visitors.visitor_for_code(read.code or ""))
        if visitor is not None and self.visitors is not None:
            method = "card" if read.card else "qr"
            kind, verdict, reason = self.visitors.at_lane(visitor, lane_id, read.direction,
                                                          method)
            draft = _Draft(kind, verdict, reason, method=method, details={"visitor": visitor})
        elif person is None:
            what = "card" if read.card else "code"
            draft = _Draft("denied", "deny", f"unknown_{what}", details={what: read.uid})
            draft.alerts.append((f"unknown_{what}" if read.card else "unknown_pass", "warning",
                                 {what: read.uid, "reader": read.reader}))
        else:
            check = self._check_face(person, lane, read.mono)
            draft = self._apply_rules(person, read.direction, now, check)
        decision = self._commit(draft, now, lane_id, read.direction, person)
        if decision.opened and lane is not None and lane.camera:
            self._watch_tailgating(lane_id, lane.camera, read.mono)
        return decision

    def _check_face(self, person: Person, lane: LaneConfig | None, tap: float) -> _FaceCheck:
        rules, faces = self.config.rules, self.config.faces
        if not (rules.face_check and person.face_consent and lane and lane.camera):
            return _FaceCheck(note="card only" if not person.face_consent else "no camera")
        since = tap - rules.face_window_s
        face = self.evidence.face_at_reader(lane.camera, since)
        if face is None and rules.face_wait_ms:
            face = self.evidence.wait_face(lane.camera, since, rules.face_wait_ms / 1000)
        if face is None or face.template is None:
            return _FaceCheck(note="no face seen")
        verdict = self.gallery.verify(person.id, face.template, faces.verify_threshold)
        if not verdict.enrolled:
            return _FaceCheck(note="no enrolled face")
        if verdict.match:
            return _FaceCheck(method="card+face", distance=verdict.distance, note="face matches")
        other = self.gallery.identify(face.template, faces.identify_threshold,
                                      faces.identify_margin)
        return _FaceCheck(method="card+face", mismatch=True, distance=verdict.distance,
                          other=other.person_id, note="face does not match the card")

    def _apply_rules(self, person: Person, direction: str, now: dt.datetime,
                     check: _FaceCheck) -> _Draft:
        rules, calendar = self.config.rules, self.config.calendar
        kind = "arrival" if direction == "entry" else "departure"
        draft = _Draft(kind, "open", "valid_card", method=check.method,
                       details={"face": check.note})
        if check.distance is not None:
            draft.details["face_distance"] = round(check.distance, 4)
        student = person.role == "student"
        if check.mismatch:
            draft.alerts.append(("card_face_mismatch", "critical", {
                "card_holder": person.id, "face_identified_as": check.other,
                "distance": draft.details.get("face_distance")}))
            if rules.mismatch_action == "deny":
                draft.kind, draft.decision, draft.reason = "denied", "deny", "card_face_mismatch"
                return draft
        last = self.store.last_passage(person.id, now.date())
        if direction == "entry" and last == "arrival" and rules.anti_passback != "off":
            draft.alerts.append(("anti_passback", "warning", {"last_passage": last}))
            if rules.anti_passback == "deny":
                draft.kind, draft.decision, draft.reason = "denied", "deny", "anti_passback"
                return draft
        if direction == "entry" and student and last is None and calendar.is_school_day(
                now.date()) and now.time() > calendar.late_after:
            draft.reason = "late"
            draft.details["late"] = True
        if direction == "exit" and student and calendar.in_lesson(now) and \
                not self.store.has_exit_permission(person.id, now):
            draft.alerts.append(("early_departure", "warning", {"during": "lessons"}))
            draft.notify = True
            if rules.early_departure_action == "deny":
                draft.kind, draft.decision, draft.reason = "denied", "deny", "early_departure"
                return draft
            draft.reason = "early_departure"
        draft.notify = draft.notify or student
        return draft

    # Faces without a card ----------------------------------------------------------

    def on_sightings(self, sightings: Sightings) -> None:
        self.evidence.add(sightings)
        lane_id = self._lane_of_camera.get(sightings.camera_id)
        self._screen_watchlist(sightings, lane_id)
        self._follow_visitors(sightings)
        if lane_id is None:
            return
        for face in sightings.faces:
            if face.person_id and self._known_done.first_time(sightings.camera_id,
                                                               face.track_id):
                self._known_face(lane_id, face)

    def _screen_watchlist(self, sightings: Sightings, lane_id: str | None) -> None:
        """Every new face track near the gate is checked once against the watch lists."""
        if not self.watch_gallery.size:
            return
        for face in sightings.faces:
            if face.template is None or not self._watch_checked.first_time(
                    sightings.camera_id, face.track_id):
                continue
            hit = self.watch_gallery.identify(face.template,
                                              self.config.faces.watchlist_threshold, 0.0)
            if hit.person_id is None or hit.distance is None:
                continue
            entry = self._describe_watch(hit.person_id) or {"entry": hit.person_id}
            self._alert_only("watchlist_face", "critical", lane_id, {
                **entry, "camera": sightings.camera_id, "distance": round(hit.distance, 4)})

    def _follow_visitors(self, sightings: Sightings) -> None:
        """A visitor's face seen by a camera inside the school adds to the visit's route."""
        if self.visitors is None or not self.visitor_gallery.size:
            return
        zone, restricted = self._zones.get(sightings.camera_id, (sightings.camera_id, False))
        for face in sightings.faces:
            if face.template is None or not self._visitor_checked.first_time(
                    sightings.camera_id, face.track_id):
                continue
            hit = self.visitor_gallery.identify(face.template,
                                                self.config.faces.identify_threshold,
                                                self.config.faces.identify_margin)
            if hit.person_id is not None:
                self.visitors.add_route(hit.person_id, zone, "face", restricted)

    def _known_face(self, lane_id: str, face: FaceSighting) -> None:
        """A known face with no card: staff may pass on it where configured; anyone else is
        logged for the guard, who can open by hand."""
        assert face.person_id is not None
        person = self.store.get_person(face.person_id)
        if person is None or not person.face_consent:
            return
        now = self.store.now()
        if person.role == "staff" and self.config.rules.staff_face_only:
            draft = _Draft("arrival", "open", "staff_face", method="face",
                           details={"face_distance": face.distance})
            self._commit(draft, now, lane_id, "entry", person)
            return
        window = self.config.rules.face_window_s

        def no_card_followed() -> None:
            tapped = self._card_taps.get((lane_id, person.id))
            if tapped is not None and abs(tapped - face.ts) <= 2 * window:
                return
            draft = _Draft("face_seen", "none", "known_face_without_card", method="face",
                           details={"face_distance": face.distance, "track": face.track_id})
            self._commit(draft, self.store.now(), lane_id, None, person)

        self._later(window, no_card_followed)

    def _watch_tailgating(self, lane_id: str, camera: str, tap: float) -> None:
        window = self.config.rules.tailgate_window_s
        opens = self._opens.setdefault(lane_id, [])
        opens.append(tap)
        opens[:] = [t for t in opens if tap - t < 2 * window]

        def check() -> None:
            tracks = self.evidence.tracks_between(camera, tap - 1.0, tap + window)
            authorised = sum(1 for t in self._opens.get(lane_id, []) if tap - 1.0 <= t <=
                             tap + window)
            if len(tracks) > authorised and opens and opens[-1] == tap:
                self._alert_only("tailgating", "critical", lane_id,
                                 {"people": len(tracks), "authorised": authorised})

        self._later(window, check)

    # Vehicles ------------------------------------------------------------------------------

    def on_plate(self, lane_id: str, plate: str, confidence: float) -> Decision:
        """A plate voted over one pass at a vehicle lane. A watch-listed plate never opens; a
        near miss (one character off) is raised as a possible match for a person to check."""
        now = self.store.now()
        details: dict[str, Any] = {"plate": plate, "confidence": round(confidence, 3)}
        hits = []
        for row in self.store.watchlisted_plates():
            distance = plate_distance(plate, row["plate"])
            if distance <= 1:
                hits.append((distance, row))
        hits.sort(key=lambda h: h[0])
        vehicle = self.store.registered_vehicle(plate, now)
        if hits and hits[0][0] == 0:
            row = hits[0][1]
            draft = _Draft("vehicle_denied", "deny", "watchlist_plate", method="plate",
                           details=details)
            draft.alerts.append(("watchlist_plate", "critical", {
                **details, "list": row["list"], "reason": row["reason"], "match": "exact",
                "distance": 0}))
            return self._commit(draft, now, lane_id, "entry", None)
        if vehicle is not None:
            draft = _Draft("vehicle_in", "open", "registered_vehicle", method="plate",
                           details={**details, "kind": vehicle["kind"],
                                    "owner": vehicle["owner_id"]})
        else:
            draft = _Draft("vehicle_in", "guard", "unregistered_vehicle", method="plate",
                           details=details)  # a visitor's vehicle: the guard decides
        for distance, row in hits:
            draft.alerts.append(("watchlist_plate", "warning", {
                **details, "list": row["list"], "listed_plate": row["plate"],
                "reason": row["reason"], "match": "possible", "distance": distance}))
        return self._commit(draft, now, lane_id, "entry", None)

    # Guard, fire ---------------------------------------------------------------------

    def manual_open(self, lane_id: str, actor: str, reason: str) -> Decision:
        if not reason.strip():
            raise ValueError("a manual open needs a reason")
        if lane_id not in self._lanes:
            raise KeyError(f"no lane {lane_id!r}")
        now = self.store.now()
        draft = _Draft("manual_open", "open", reason.strip(), method="manual",
                       details={"by": actor})
        with self.store.transaction():
            self.store.audit(actor, "manual_open", lane_id, {"reason": reason.strip()})
            return self._commit(draft, now, lane_id, None, None)

    def visitor_checkout(self, visitor_id: str, actor: str) -> Decision:
        """Checkout at the desk (the visitor left without passing a reader)."""
        assert self.visitors is not None
        kind, verdict, reason = self.visitors.at_lane(visitor_id, "desk", "exit", "desk")
        self.store.audit(actor, "visitor_checkout", visitor_id)
        return self._commit(_Draft(kind, "none" if verdict == "open" else verdict, reason,
                                   method="desk", details={"visitor": visitor_id}),
                            self.store.now(), None, "exit", None)

    def set_fire_alarm(self, active: bool) -> None:
        """Release every lane at once (GB 55024-2022), and tell the guard and the police."""
        if active == self.fire_active:
            return
        self.fire_active = active
        now = self.store.now()
        if active:
            self._alert_only("fire_alarm", "critical", None, {"lanes": sorted(self._lanes)})
        else:
            self._commit(_Draft("fire_alarm_cleared", "none", "fire_alarm_cleared",
                                method="fire"), now, None, None, None)
        for relay in self.relays.values():
            try:
                relay.hold(active)
            except Exception:
                log.exception("lane %s: relay did not follow the fire alarm", relay.lane)

    def raise_alert(self, kind: str, severity: Severity, lane_id: str | None,
                    details: dict[str, Any]) -> Decision:
        """An alert that is not tied to a passage (device problems, rejected watch lists)."""
        return self._alert_only(kind, severity, lane_id, details)

    def _alert_only(self, kind: str, severity: Severity, lane_id: str | None,
                    details: dict[str, Any]) -> Decision:
        draft = _Draft(kind, "none", kind, method="system")
        draft.alerts.append((kind, severity, details))
        return self._commit(draft, self.store.now(), lane_id, None, None)

    # Journal first, then act -----------------------------------------------------------

    def _commit(self, draft: _Draft, now: dt.datetime, lane_id: str | None,
                direction: str | None, person: Person | None) -> Decision:
        event = Event(type=draft.kind, ts=now, lane=lane_id, direction=direction,
                      method=draft.method, person_id=person.id if person else None,
                      decision=draft.decision, reason=draft.reason, details=draft.details)
        alerts = tuple(Alert(type=kind, severity=sev, ts=now, lane=lane_id,
                             person_id=person.id if person else None,
                             details={**details, "event_id": event.id})
                       for kind, sev, details in draft.alerts)
        opened = draft.decision == "open"
        decision = Decision(event, person, opened, alerts)
        messages: list[OutboxMessage] = [event_message(self.config, event, person)]
        if person is not None and draft.notify and person.role == "student":
            notice = event
            if any(a.type == "early_departure" for a in alerts):
                notice = Event(type="early_departure", ts=now, lane=lane_id, id=event.id)
            messages += [guardian_notification(self.config, notice, person, g.id)
                         for g in self.store.guardians_of(person.id)]
        with self._lock, self.store.transaction():
            self.store.record_event(event, messages)
            for alert in alerts:
                self.store.record_alert(alert, [alert_message(self.config, alert, person)])
        if opened and lane_id in self.relays and not self.fire_active:
            self.relays[lane_id].pulse()
        for listener in self._listeners:
            try:
                listener(decision)
            except Exception:
                log.exception("decision listener failed")
        return decision

