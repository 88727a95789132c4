"""Gathers the facts at each lane, asks the rules, journals, then acts.

The engine owns no decision logic (that is gate/rules.py, pure) and no recording
logic (gate/journal.py). What it does is the order: facts first (the store, the
face evidence, its own memory of recent taps), then the rules, then one journal
entry, and the relay only after that entry has committed. The fire release is the
one exception: relays first, the record after, best effort.

Threads: card readers, the recognition pump, the scheduler, the console and the
fire input all call in here. The engine's own state (recent taps, recent openings,
the fire latch) sits behind ``_state``, a leaf lock: it is held only around reads
and writes of those fields, never while calling the store, the journal, a relay or
a listener (docs/ARCHITECTURE.md, "Locks").
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from gate import metrics, rules
from gate.actuator import Relay
from gate.config import Config, LaneConfig
from gate.evidence import FaceEvidence, without_tracks
from gate.faces import identify_threshold
from gate.journal import AuditRow, Decision, Entry, Journal, Listener
from gate.logs import log_fields
from gate.records import Alert, Event, Person, new_id, rfc3339
from gate.scheduler import Scheduler
from gate.snapshots import Shot, SnapshotJob, SnapshotWriter
from gate.store import Store
from gate.visitors import VisitorDesk
from gate.vocab import AlertType, Direction, EventType, Method, Severity, Verdict
from recognition.gallery import Gallery
from recognition.pipeline import FaceSighting
from recognition.plate_formats import plate_distance
from recognition.worker import Sightings
from rfid.reader import CardRead

log = logging.getLogger("gate.engine")

__all__ = ["Decision", "Engine", "Listener", "TrackMemory"]




class PersonErased(Exception):
    """A face record abandoned: its person is being erased (Engine.tombstone)."""

class FireResetRefused(ValueError):
    """A guard's fire reset that cannot be done now; ``code`` names why for the console."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code

class TrackMemory:
    """Which face tracks a check has already handled: each track once, in bounded memory."""

    def __init__(self, limit: int = 10_000) -> None:
        self.limit = limit
        self._seen: OrderedDict[tuple[str, int], None] = OrderedDict()
        self._lock = threading.Lock()

    def first_time(self, camera: str, track_id: int) -> bool:
        key = (camera, track_id)
        with self._lock:
            if key in self._seen:
                return False
            self._seen[key] = None
            if len(self._seen) > self.limit:
                self._seen.popitem(last=False)
            return True


class Engine:
    def __init__(self, config: Config, store: Store, relays: dict[str, Relay],
                 gallery: Gallery | None = None, *, journal: Journal | None = None,
                 scheduler: Scheduler | None = None) -> None:
        self.config = config
        self.store = store
        self.relays = relays
        self.journal = journal or Journal(config, store)
        self.scheduler = scheduler or Scheduler()
        self.gallery = gallery or Gallery.from_rows([])
        self.evidence = FaceEvidence()
        self.watch_gallery = Gallery.from_rows([])
        self._describe_watch: Callable[[str], dict[str, Any] | None] = lambda _label: None
        self._watch_checked = TrackMemory()
        self.visitors: VisitorDesk | None = None
        self.visitor_gallery = Gallery.from_rows([])
        self.snapshots: SnapshotWriter | None = None  # evidence, off the decision path
        self._visitor_checked = TrackMemory()
        self._known_done = TrackMemory()
        self._mismatch_raised = TrackMemory()  # (camera/card holder, face track) alerted
        self._lanes: dict[str, LaneConfig] = {lane.id: lane for lane in config.lanes}
        self._lane_of_reader = {r.id: lane.id for lane in config.lanes for r in lane.readers}
        self._lane_of_camera = {lane.camera: lane.id for lane in config.lanes if lane.camera}
        self._zones = {c.id: (c.zone or c.id, c.restricted) for c in config.cameras}
        # Engine state, behind one leaf lock.
        self._state = threading.Lock()
        self._opens: dict[str, list[float]] = {}
        self._card_taps: OrderedDict[tuple[str, str], float] = OrderedDict()
        self._fire_input = False  # what the fire input says now
        self._fire_fault = False  # the fire input cannot be read (wiring): not a fire
        self._fire_latched = False  # released by fire; held until the input clears and a reset
        self._fire_cause = ""  # what latched the release: fire_alarm | fire_input_fault
        self._erased: frozenset[str] = frozenset()  # tombstones: never stored under these ids
        self._closed = False

    # Wiring -------------------------------------------------------------------------------

    def subscribe(self, listener: Listener) -> None:
        self.journal.subscribe(listener)

    def set_gallery(self, gallery: Gallery) -> None:
        self.gallery = gallery

    def set_watch_gallery(self, gallery: Gallery,
                          describe: Callable[[str], dict[str, Any] | None]) -> None:
        self.watch_gallery, self._describe_watch = gallery, describe

    def close(self) -> None:
        """No follow-up runs after this (the store is about to close)."""
        with self._state:
            self._closed = True

    @property
    def fire_active(self) -> bool:
        with self._state:
            return self._fire_latched

    @property
    def fire_input(self) -> bool:
        """What the fire input last said (the release may outlast it: ``fire_active``)."""
        with self._state:
            return self._fire_input

    def fire_state(self) -> dict[str, Any]:
        """The fire input and release as the console and ``/api/alarm`` show them: a fault of
        the input (a cut wire) is told apart from a fire, also once the lanes are released."""
        with self._state:
            return {"active": self._fire_input, "released": self._fire_latched,
                    "fault": self._fire_fault,
                    "cause": self._fire_cause if self._fire_latched else None}

    def probe(self, timeout: float = 1.0) -> bool:
        """The decision path answers: its state lock can be taken within ``timeout``."""
        if not self._state.acquire(timeout=timeout):
            return False
        self._state.release()
        return True

    def _later(self, delay: float, check: Callable[[], None], name: str) -> None:
        def run() -> None:
            with self._state:
                closed = self._closed
            if not closed:
                check()

        self.scheduler.call_later(delay, run, name)

    def _pulse(self, lane_id: str | None) -> Callable[[], None] | None:
        relay = self.relays.get(lane_id or "")
        if relay is None:
            return None

        def act() -> None:
            if not self.fire_active:  # released already: nothing to pulse
                relay.pulse()

        return act

    def _record(self, draft: rules.Draft, now: dt.datetime, lane_id: str | None,
                direction: str | None, person: Person | None, *,
                audit: tuple[AuditRow, ...] = (), writes: tuple[Any, ...] = (),
                guardians: tuple[str, ...] = (), shot: Shot | None = None) -> Decision:
        shot = shot if self.snapshots is not None else None
        event_id = new_id()  # the snapshot's id too (gate/snapshots.py)
        snapshot = event_id if shot is not None else None
        job = None
        if shot is not None and self.snapshots is not None:
            job = SnapshotJob(event_id, rfc3339(now), lane_id, person.id if person else None,
                              shot)
            writes = (*writes, self.snapshots.index(job))  # the row commits with the event
        event = Event(type=draft.kind, ts=now, lane=lane_id, direction=direction,
                      method=draft.method, person_id=person.id if person else None,
                      decision=draft.verdict, reason=draft.reason, details=draft.details,
                      snapshot=snapshot, id=event_id)
        alerts = tuple(Alert(type=a.type, severity=a.severity, ts=now, lane=lane_id,
                             person_id=person.id if person else None, snapshot=snapshot,
                             snapshot_jpeg=shot.best_inline if shot else None,
                             details={**a.details, "event_id": event.id})
                       for a in draft.alerts)
        entry = Entry(event=event, person=person, alerts=alerts, guardians=guardians,
                      notice=draft.notice, audit=audit, writes=writes,
                      publish_event=draft.kind is not EventType.SYSTEM)
        decision = self.journal.record(entry, opened=draft.opens,
                                       act=self._pulse(lane_id) if draft.opens else None)
        if job is not None and self.snapshots is not None:  # a queue put, never the disk
            self.snapshots.submit(job)
        return decision

    def _lane_shot(self, lane_id: str | None, since: float | None = None) -> Shot | None:
        """What the lane camera saw last: the evidence of an alert with no face of its own
        (an unknown card, tailgating)."""
        lane = self._lanes.get(lane_id or "")
        if lane is None or lane.camera is None or self.snapshots is None:
            return None
        if since is None:
            since = time.monotonic() - self.config.rules.face_window_s
        return self.evidence.latest_shot(lane.camera, since)

    def _face_shot(self, camera: str | None, face: FaceSighting | None) -> Shot | None:
        if camera is None or face is None or self.snapshots is None:
            return None
        return self.evidence.shot_for(camera, face.track_id)

    # Cards -----------------------------------------------------------------------

    def on_card(self, read: CardRead) -> Decision:
        """A card at a lane reader: a lookup in the local database, never the network."""
        lane_id = self._lane_of_reader.get(read.reader, read.reader)
        lane = self._lanes.get(lane_id)
        direction = Direction(read.direction)
        keys = read.card.keys() if read.card else ()
        person = self.store.person_for_card(keys)
        if person is not None:
            with self._state:
                if person.id in self._erased:  # being erased: the card is nobody's now
                    person = None
        now = self.store.now()
        if person is not None:
            with self._state:
                self._card_taps[(lane_id, person.id)] = read.mono
                self._card_taps.move_to_end((lane_id, person.id))
                while len(self._card_taps) > 50_000:
                    self._card_taps.popitem(last=False)
            decision = self._known_card(read, person, lane, lane_id, direction, now)
        else:
            decision = self._visitor_or_unknown(read, lane_id, direction, now)
        took = time.monotonic() - read.mono
        metrics.observe_decision(decision.event.decision or "none", took)
        log.info("card %s", decision.event.reason, extra=log_fields(
            lane=lane_id, reader=read.reader, card=read.uid, event=decision.event.id,
            person=person.id if person else None, verdict=decision.event.decision,
            reason=decision.event.reason, decision_ms=round(took * 1000, 1)))
        if decision.opened and lane is not None and lane.camera:
            self._watch_tailgating(lane_id, lane.camera, read.mono)
        return decision

    def _known_card(self, read: CardRead, person: Person, lane: LaneConfig | None,
                    lane_id: str, direction: Direction, now: dt.datetime) -> Decision:
        face_check, face = self._face_facts(person, lane, read.mono)
        raised = False
        if face_check.mismatch and face is not None and lane is not None and lane.camera:
            raised = not self._mismatch_raised.first_time(f"{lane.camera}/{person.id}",
                                                          face.track_id)
        facts = rules.CardFacts(
            now=now, lane=lane_id, direction=direction, person=person,
            face=face_check,
            last_passage=self.store.last_passage(person.id, now.date()),
            exit_permitted=(direction is Direction.EXIT
                            and self.store.has_exit_permission(person.id, now)),
            calendar=self.config.calendar, rules=self.config.rules,
            liveness_mode=lane.liveness if lane else "off",
            liveness_threshold=self.config.faces.liveness_threshold, mismatch_raised=raised)
        draft = rules.decide_card(facts)
        guardians: tuple[str, ...] = ()
        if draft.notify_guardians and person.role == "student":
            guardians = tuple(g.id for g in self.store.guardians_of(person.id))
        shot = self._face_shot(lane.camera if lane else None, face)
        if shot is None and draft.alerts:
            shot = self._lane_shot(lane_id)
        return self._record(draft, now, lane_id, direction, person, guardians=guardians,
                            shot=shot)

    def _face_facts(self, person: Person, lane: LaneConfig | None, tap: float
                    ) -> tuple[rules.FaceCheck, FaceSighting | None]:
        """The face check's facts, and the face they rest on (its snapshot is the evidence)."""
        r = self.config.rules
        wanted, has_camera = r.face_check, bool(lane and lane.camera)
        if not (wanted and person.face_consent and has_camera):
            return rules.face_check(wanted=wanted, consent=person.face_consent,
                                    has_camera=has_camera, seen=False, enrolled=False,
                                    match=False, distance=None, other=None), None
        assert lane is not None and lane.camera is not None
        since = tap - r.face_window_s
        face = self.evidence.face_at_reader(lane.camera, since)
        if face is None and r.face_wait_ms:
            face = self.evidence.wait_face(lane.camera, since, r.face_wait_ms / 1000)
        if face is None or face.template is None:
            return rules.face_check(wanted=True, consent=True, has_camera=True, seen=False,
                                    enrolled=False, match=False, distance=None, other=None), None
        faces = self.config.faces
        verdict = self.gallery.verify(person.id, face.template, faces.verify_threshold)
        other = None
        if verdict.enrolled and not verdict.match:
            other = self.gallery.identify(
                face.template, identify_threshold(self.config, len(self.gallery)),
                faces.identify_margin).person_id
        return rules.face_check(wanted=True, consent=True, has_camera=True, seen=True,
                                enrolled=verdict.enrolled, match=verdict.match,
                                distance=verdict.distance, other=other,
                                liveness=face.liveness), face

    def _visitor_or_unknown(self, read: CardRead, lane_id: str, direction: Direction,
                            now: dt.datetime) -> Decision:
        keys = read.card.keys() if read.card else ()
        visitor = None
        if self.visitors is not None:
            visitor = (self.visitors.visitor_for_card(keys) if read.card
                       else self.visitors.visitor_for_code(read.code or ""))
        if visitor is None or self.visitors is None:
            return self._record(rules.unknown_card(read.uid, read.reader, read.card is not None),
                                now, lane_id, direction, None, shot=self._lane_shot(lane_id))
        method = Method.CARD if read.card else Method.QR
        outcome, writes = self.visitors.at_lane(visitor, lane_id, direction, method, now)
        draft = rules.Draft(outcome.kind, outcome.verdict, outcome.reason, method=method,
                            details={"visitor": visitor})
        return self._record(draft, now, lane_id, direction, None, writes=writes)

    # Faces without a card ----------------------------------------------------------

    def tombstone(self, person_id: str) -> None:
        """The first step of an erasure: from now on nothing is recorded under this id (a
        sighting of the face is dropped, a tap of the card is an unknown card), whatever is
        still in flight from before the galleries changed."""
        with self._state:
            self._erased = self._erased | {person_id}

    def _unless_erased(self, person_id: str) -> Callable[[sqlite3.Connection], None]:
        """A write for a face record's own transaction: it aborts the record if the person
        was tombstoned meanwhile. Checked under the store's lock, so it cannot interleave
        with the erasure's deletion (the engine lock is a leaf: taking it there is safe)."""
        def check(_db: sqlite3.Connection) -> None:
            with self._state:
                if person_id in self._erased:
                    raise PersonErased(person_id)
        return check

    def _without_erased(self, sightings: Sightings) -> Sightings:
        with self._state:
            erased = self._erased
        tracks = {f.track_id for f in sightings.faces if f.person_id in erased}
        return without_tracks(sightings, tracks) if tracks else sightings

    def on_sightings(self, sightings: Sightings) -> None:
        sightings = self._without_erased(sightings)
        self.evidence.add(sightings)
        lane_id = self._lane_of_camera.get(sightings.camera_id)
        self._screen_watchlist(sightings, lane_id)
        self._follow_visitors(sightings)
        if lane_id is None:
            return
        scoring = self._lanes[lane_id].liveness != "off"
        for face in sightings.faces:
            if not face.person_id or (scoring and face.liveness is None):
                continue  # with liveness on, a track is judged once its score is in
            if self._known_done.first_time(sightings.camera_id, face.track_id):
                self._known_face(lane_id, face)

    def _screen_watchlist(self, sightings: Sightings, lane_id: str | None) -> None:
        """Every new face track near the gate is checked once against the watch lists."""
        if not self.watch_gallery.size:
            return
        for face in sightings.faces:
            if face.template is None or not self._watch_checked.first_time(
                    sightings.camera_id, face.track_id):
                continue
            threshold = self.config.faces.watchlist_threshold
            hit = self.watch_gallery.identify(face.template, threshold, 0.0)
            if hit.person_id is None or hit.distance is None:
                continue
            entry = self._describe_watch(hit.person_id) or {"entry": hit.person_id}
            # who is listed (name as listed, list, reason), how close in words, and the
            # face the camera saw: what the guard compares with the listed photo
            self.raise_alert(AlertType.WATCHLIST_FACE, Severity.CRITICAL, lane_id, {
                **entry, "camera": sightings.camera_id, "distance": round(hit.distance, 4),
                "threshold": threshold, "match": rules.watch_match(hit.distance, threshold)},
                shot=self._face_shot(sightings.camera_id, face))

    def _follow_visitors(self, sightings: Sightings) -> None:
        """A visitor's face seen by a camera inside the school adds to the visit's route."""
        if self.visitors is None or not self.visitor_gallery.size:
            return
        zone, restricted = self._zones.get(sightings.camera_id, (sightings.camera_id, False))
        for face in sightings.faces:
            if face.template is None or not self._visitor_checked.first_time(
                    sightings.camera_id, face.track_id):
                continue
            hit = self.visitor_gallery.identify(
                face.template, identify_threshold(self.config, len(self.visitor_gallery)),
                self.config.faces.identify_margin)
            if hit.person_id is None:
                continue
            write, alert = self.visitors.route_step(hit.person_id, zone, "face", restricted)
            if alert is None:
                self.journal.record(Entry(writes=(write,)))
                continue
            # from a camera, so with what it saw (README "Privacy and evidence")
            self.raise_alert(AlertType.VISITOR_RESTRICTED_ZONE, Severity.CRITICAL,
                             self._lane_of_camera.get(sightings.camera_id), alert,
                             writes=(write,), shot=self._face_shot(sightings.camera_id, face))

    def _known_face(self, lane_id: str, face: FaceSighting) -> None:
        """A known face with no card: staff may pass on it where configured; anyone else is
        logged for the guard, who can open by hand."""
        assert face.person_id is not None
        person = self.store.get_person(face.person_id)
        if person is None or not person.face_consent:
            return
        lane = self._lanes.get(lane_id)
        shot = self._face_shot(lane.camera if lane else None, face)
        draft = rules.decide_known_face(
            person, self.config.rules.staff_face_only,
            lane.liveness if lane else "off", face.liveness,
            self.config.faces.liveness_threshold)
        if draft is not None:
            with contextlib.suppress(PersonErased):
                self._record(draft, self.store.now(), lane_id, Direction.ENTRY, person,
                             shot=shot, writes=(self._unless_erased(person.id),))
            return
        window = self.config.rules.face_window_s

        def no_card_followed() -> None:
            with self._state:
                tapped = self._card_taps.get((lane_id, person.id))
            if rules.card_followed(tapped, face.ts, window):
                return
            with contextlib.suppress(PersonErased):  # erased while we waited for a card
                self._record(rules.face_without_card(face.track_id, face.distance),
                             self.store.now(), lane_id, None, person, shot=shot,
                             writes=(self._unless_erased(person.id),))

        self._later(window, no_card_followed, "known-face-without-card")

    def _watch_tailgating(self, lane_id: str, camera: str, tap: float) -> None:
        window = self.config.rules.tailgate_window_s
        with self._state:
            opens = self._opens.setdefault(lane_id, [])
            opens.append(tap)
            opens[:] = [t for t in opens if tap - t < 2 * window]

        def check() -> None:
            tracks = self.evidence.tracks_between(camera, tap - 1.0, tap + window)
            with self._state:
                mine = list(self._opens.get(lane_id, []))
            if not mine or mine[-1] != tap:
                return  # a later opening's check covers this one
            authorised = sum(1 for t in mine if tap - 1.0 <= t <= tap + window)
            people = rules.people_crossing(tracks, same_face=self.config.faces.verify_threshold)
            alert = rules.tailgating(people, authorised)
            if alert is not None:
                self.raise_alert(alert.type, alert.severity, lane_id, alert.details,
                                 shot=self._lane_shot(lane_id, tap - 1.0))

        self._later(window, check, "tailgating")

    # Vehicles ------------------------------------------------------------------------------

    def on_plate(self, lane_id: str, plate: str, confidence: float,
                 shot: Shot | None = None) -> Decision:
        now = self.store.now()
        hits = [rules.WatchPlate(r["list"], r["plate"], r["reason"] or "", d)
                for r in self.store.watchlisted_plates()
                if (d := plate_distance(plate, r["plate"])) <= 1]
        row = self.store.registered_vehicle(plate, now)
        draft = rules.decide_plate(plate, confidence, hits, dict(row) if row else None)
        return self._record(draft, now, lane_id, Direction.ENTRY, None, shot=shot)

    # Guard, visitors, alerts ---------------------------------------------------------------

    def manual_open(self, lane_id: str, actor: str, reason: str) -> Decision:
        if lane_id not in self._lanes:
            raise KeyError(f"no lane {lane_id!r}")
        draft = rules.manual_open(reason, actor)
        return self._record(draft, self.store.now(), lane_id, None, None, audit=(
            AuditRow(actor, "manual_open", lane_id, {"reason": draft.reason}),))

    def visitor_checkout(self, visitor_id: str, actor: str) -> Decision:
        """Checkout at the desk (the visitor left without passing a reader)."""
        assert self.visitors is not None
        now = self.store.now()
        outcome, writes = self.visitors.at_lane(visitor_id, "desk", Direction.EXIT,
                                                Method.DESK, now)
        verdict = Verdict.NONE if outcome.verdict is Verdict.OPEN else outcome.verdict
        draft = rules.Draft(outcome.kind, verdict, outcome.reason, method=Method.DESK,
                            details={"visitor": visitor_id})
        return self._record(draft, now, None, Direction.EXIT, None, writes=writes,
                            audit=(AuditRow(actor, "visitor_checkout", visitor_id),))

    def raise_alert(self, kind: AlertType, severity: Severity, lane_id: str | None,
                    details: dict[str, Any], writes: tuple[Any, ...] = (),
                    shot: Shot | None = None) -> Decision:
        """An alert that is not tied to a passage (devices, faults, watch lists, escalation)."""
        return self._record(rules.alert_only(kind, severity, details), self.store.now(),
                            lane_id, None, None, writes=writes, shot=shot)

    # Fire ----------------------------------------------------------------------------------

    def set_fire_alarm(self, active: bool, why: str = "fire alarm input") -> None:
        """Release every lane at once (GB 55024-2022), before anything touches the disk.

        The release holds until the input clears *and* a guard resets it
        (:meth:`reset_fire`). Recording the alarm comes after, best effort: a full disk
        must not keep one lane closed.
        """
        with self._state:
            changed = active != self._fire_input
            self._fire_input = active
            if active:  # a fire overrides a release latched by an input fault
                self._fire_latched, self._fire_cause = True, "fire_alarm"
        if active and changed:
            released = self.release_all()
            log.critical("FIRE ALARM (%s): %d of %d lanes released", why, released,
                         len(self.relays))
            self._best_effort(lambda: self.raise_alert(
                AlertType.FIRE_ALARM, Severity.CRITICAL, None,
                {"lanes": sorted(self._lanes), "released": released, "source": why}))
        elif changed and not active:
            log.warning("fire alarm input cleared; lanes stay released until a guard resets")
            self._best_effort(lambda: self._record(
                rules.Draft(EventType.FIRE_ALARM_CLEARED, Verdict.NONE, "fire_alarm_cleared",
                            Method.FIRE), self.store.now(), None, None, None))

    def set_fire_input_fault(self, fault: bool, error: str | None, release: bool) -> None:
        """The fire input cannot be read (a cut or shorted wire, an unplugged adapter): that
        is not a fire, and the guard must be told so (``fire_input_fault``, critical). With
        ``release`` (``fire_alarm.on_input_lost = "release"``) every lane is released as a
        precaution, before anything touches the disk, and held like after a fire until the
        input reads again and a guard resets."""
        with self._state:
            changed = fault != self._fire_fault
            self._fire_fault = fault
            latch = fault and release and not self._fire_latched
            if latch:
                self._fire_latched, self._fire_cause = True, "fire_input_fault"
        if not changed:
            return
        if fault:
            released = self.release_all() if latch else 0
            log.critical("FIRE INPUT FAULT (%s): %s", error or "unreadable",
                         f"{released} of {len(self.relays)} lanes released as a precaution"
                         if release else "lanes left as they are (on_input_lost = hold)")
            self._best_effort(lambda: self.raise_alert(
                AlertType.FIRE_INPUT_FAULT, Severity.CRITICAL, None,
                {"lanes": sorted(self._lanes), "released": released, "error": error,
                 "on_input_lost": "release" if release else "hold"}))
        else:
            log.warning("fire input readable again; a release it caused stays until a reset")
            self._best_effort(lambda: self.raise_alert(
                AlertType.FIRE_INPUT_RESTORED, Severity.INFO, None,
                {"released": self.fire_active}))

    def release_all(self) -> int:
        released = 0
        for relay in self.relays.values():
            try:
                relay.hold(True)
                released += 1
            except Exception:
                log.exception("lane %s: relay did not release on the fire alarm",
                              getattr(relay, "lane", "?"))
        return released

    def reset_fire(self, actor: str, note: str) -> Decision:
        """A guard ends the fire release once the input has cleared (audited)."""
        if not note.strip():
            raise FireResetRefused("note_required", "a fire reset needs a note")
        with self._state:
            if self._fire_input:
                raise FireResetRefused("fire_still_active", "the fire alarm input is still active")
            if self._fire_fault:
                raise FireResetRefused("fire_input_fault",
                                       "the fire input is still unreadable: check the wiring first")
            if not self._fire_latched:
                raise FireResetRefused("no_fire_release", "no fire release to reset")
            self._fire_latched, self._fire_cause = False, ""
        for relay in self.relays.values():
            try:
                relay.hold(False)
            except Exception:
                log.exception("lane %s: relay did not follow the reset",
                              getattr(relay, "lane", "?"))
        return self._record(rules.Draft(EventType.FIRE_RESET, Verdict.NONE, "fire_reset",
                                        Method.FIRE, details={"by": actor}),
                            self.store.now(), None, None, None,
                            audit=(AuditRow(actor, "fire_reset", None, {"note": note.strip()}),))

    @staticmethod
    def _best_effort(record: Callable[[], object]) -> None:
        try:
            record()
        except Exception:
            log.exception("could not journal the fire alarm (lanes are released regardless)")
