"""The gate's decision rules: facts in, decision out.

Nothing here reads the database, the clock or a device, and nothing takes a lock:
the engine gathers the facts (who holds the card, what the camera saw, the last
passage, exit permissions, the calendar, ``now``), asks these functions, journals
what they return, and only then acts. That is what lets hundreds of cases be tested
in seconds (``tests/test_rules.py``) and what keeps a decision from depending on
what another thread is doing.

Rules the product keeps (docs/ARCHITECTURE.md, "Rules"): a valid card always works
(the face is an added check, only with recorded consent); the fire alarm releases
every lane; decisions use local facts only.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from gate.config import CalendarConfig, RulesConfig
from gate.records import Person
from gate.vocab import AlertType, Direction, EventType, Method, Severity, Verdict, VisitorState

LivenessMode = Literal["off", "alert", "required"]


@dataclass(frozen=True)
class AlertDraft:
    type: AlertType
    severity: Severity
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class Draft:
    """A decision as the rules made it; the engine journals it unchanged."""

    kind: EventType
    verdict: Verdict
    reason: str
    method: Method = Method.CARD
    alerts: list[AlertDraft] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    notify_guardians: bool = False
    notice: EventType | None = None  # what the guardians are told, if not the event itself

    @property
    def opens(self) -> bool:
        return self.verdict is Verdict.OPEN

    def alert(self, kind: AlertType, severity: Severity, **details: Any) -> None:
        self.alerts.append(AlertDraft(kind, severity, details))


@dataclass(frozen=True)
class FaceCheck:
    """What the face at the reader said about the card's holder (gathered by the engine)."""

    method: Method = Method.CARD
    mismatch: bool = False
    distance: float | None = None
    other: str | None = None  # who the face was, when it was not the holder
    note: str = "no face check"
    liveness: float | None = None  # probability the face is live; None: not checked


@dataclass(frozen=True)
class CardFacts:
    now: dt.datetime
    lane: str
    direction: Direction
    person: Person
    face: FaceCheck
    last_passage: str | None  # arrival | departure today, or None
    exit_permitted: bool
    calendar: CalendarConfig
    rules: RulesConfig
    liveness_mode: LivenessMode = "off"
    liveness_threshold: float = 0.5
    # This face, still in front of the camera, was already alerted on with this card: the
    # same lent card tapped again is the same incident (denied again, not alerted again).
    mismatch_raised: bool = False


def face_check(*, wanted: bool, consent: bool, has_camera: bool, seen: bool, enrolled: bool,
               match: bool, distance: float | None, other: str | None,
               liveness: float | None = None) -> FaceCheck:
    """Turn what the gallery said into the check's outcome (the gallery is asked by the
    engine; this only names the outcome)."""
    if not (wanted and consent and has_camera):
        return FaceCheck(note="card only" if not consent else "no camera")
    if not seen:
        return FaceCheck(note="no face seen")
    if not enrolled:
        return FaceCheck(note="no enrolled face", liveness=liveness)
    if match:
        return FaceCheck(Method.CARD_FACE, distance=distance, note="face matches",
                         liveness=liveness)
    return FaceCheck(Method.CARD_FACE, mismatch=True, distance=distance, other=other,
                     note="face does not match the card", liveness=liveness)


def decide_card(f: CardFacts) -> Draft:
    """A known card at a lane reader."""
    kind = EventType.ARRIVAL if f.direction is Direction.ENTRY else EventType.DEPARTURE
    d = Draft(kind, Verdict.OPEN, "valid_card", method=f.face.method,
              details={"face": f.face.note})
    if f.face.distance is not None:
        d.details["face_distance"] = round(f.face.distance, 4)
    student = f.person.role == "student"
    if f.face.liveness is not None:
        d.details["liveness"] = round(f.face.liveness, 3)
        if f.liveness_mode != "off" and f.face.liveness < f.liveness_threshold:
            # A card always works: a spoofed face beside a valid card is the guard's to see.
            d.alert(AlertType.SPOOF_ATTEMPT, Severity.CRITICAL, card_holder=f.person.id,
                    liveness=round(f.face.liveness, 3))
    if f.face.mismatch:
        if f.mismatch_raised:
            d.details["repeat"] = True
        else:
            d.alert(AlertType.CARD_FACE_MISMATCH, Severity.CRITICAL, card_holder=f.person.id,
                    face_identified_as=f.face.other, distance=d.details.get("face_distance"))
        if f.rules.mismatch_action == "deny":
            return _deny(d, "card_face_mismatch")
    if (f.direction is Direction.ENTRY and f.last_passage == EventType.ARRIVAL
            and f.rules.anti_passback != "off"):
        d.alert(AlertType.ANTI_PASSBACK, Severity.WARNING, last_passage=f.last_passage)
        if f.rules.anti_passback == "deny":
            return _deny(d, "anti_passback")
    if (f.direction is Direction.ENTRY and student and f.last_passage is None
            and f.calendar.is_school_day(f.now.date()) and f.now.time() > f.calendar.late_after):
        d.reason = "late"
        d.details["late"] = True
    if (f.direction is Direction.EXIT and student and f.calendar.in_lesson(f.now)
            and not f.exit_permitted):
        d.alert(AlertType.EARLY_DEPARTURE, Severity.WARNING, during="lessons")
        d.notify_guardians, d.notice = True, EventType.EARLY_DEPARTURE
        if f.rules.early_departure_action == "deny":
            return _deny(d, "early_departure")
        d.reason = "early_departure"
    d.notify_guardians = d.notify_guardians or student
    return d


def _deny(d: Draft, reason: str) -> Draft:
    d.kind, d.verdict, d.reason = EventType.DENIED, Verdict.DENY, reason
    return d


def unknown_card(uid: str, reader: str, is_card: bool) -> Draft:
    what = "card" if is_card else "code"
    d = Draft(EventType.DENIED, Verdict.DENY, f"unknown_{what}", details={what: uid})
    d.alert(AlertType.UNKNOWN_CARD if is_card else AlertType.UNKNOWN_PASS, Severity.WARNING,
            **{what: uid, "reader": reader})
    return d


@dataclass(frozen=True)
class VisitFacts:
    now: dt.datetime
    status: VisitorState
    valid_from: dt.datetime
    valid_until: dt.datetime
    direction: Direction


@dataclass(frozen=True)
class VisitOutcome:
    kind: EventType
    verdict: Verdict
    reason: str
    new_status: VisitorState | None  # the visit's state after this pass, if it changes


def decide_visit(f: VisitFacts) -> VisitOutcome:
    """A visitor's pass (temporary card or QR code) at a lane."""
    if f.direction is Direction.EXIT:
        if f.status not in (VisitorState.ON_SITE, VisitorState.APPROVED):
            return VisitOutcome(EventType.DENIED, Verdict.DENY, f"visitor_{f.status}", None)
        return VisitOutcome(EventType.VISITOR_OUT, Verdict.OPEN, "checkout",
                            VisitorState.CHECKED_OUT)
    if f.status not in (VisitorState.APPROVED, VisitorState.ON_SITE):
        return VisitOutcome(EventType.DENIED, Verdict.DENY, f"visitor_{f.status}", None)
    if f.now < f.valid_from:
        return VisitOutcome(EventType.DENIED, Verdict.DENY, "pass_not_yet_valid", None)
    if f.now > f.valid_until:
        return VisitOutcome(EventType.DENIED, Verdict.DENY, "pass_expired", None)
    return VisitOutcome(EventType.VISITOR_IN, Verdict.OPEN, "valid_pass", VisitorState.ON_SITE)


@dataclass(frozen=True)
class WatchPlate:
    list: str
    plate: str
    reason: str
    distance: int


def decide_plate(plate: str, confidence: float, hits: list[WatchPlate],
                 vehicle: dict[str, Any] | None) -> Draft:
    """A plate voted over one pass at a vehicle lane. A watch-listed plate never opens; a
    near miss (one character off) is raised as a possible match for a person to check."""
    details: dict[str, Any] = {"plate": plate, "confidence": round(confidence, 3)}
    hits = sorted(hits, key=lambda h: h.distance)
    if hits and hits[0].distance == 0:
        d = Draft(EventType.VEHICLE_DENIED, Verdict.DENY, "watchlist_plate", Method.PLATE,
                  details=details)
        d.alert(AlertType.WATCHLIST_PLATE, Severity.CRITICAL, **details, list=hits[0].list,
                reason=hits[0].reason, match="exact", distance=0)
        return d
    if vehicle is not None:
        d = Draft(EventType.VEHICLE_IN, Verdict.OPEN, "registered_vehicle", Method.PLATE,
                  details={**details, "kind": vehicle["kind"], "owner": vehicle["owner_id"]})
    else:  # a visitor's vehicle: the guard decides
        d = Draft(EventType.VEHICLE_IN, Verdict.GUARD, "unregistered_vehicle", Method.PLATE,
                  details=details)
    for h in hits:
        d.alert(AlertType.WATCHLIST_PLATE, Severity.WARNING, **details, list=h.list,
                listed_plate=h.plate, reason=h.reason, match="possible", distance=h.distance)
    return d


def decide_known_face(person: Person, staff_face_only: bool, liveness_mode: LivenessMode,
                      liveness: float | None, liveness_threshold: float) -> Draft | None:
    """A known face at a lane camera with no card: staff may pass on it where configured
    (face-only passages need a live face when the lane requires it); anyone else waits
    for a card (``None``: decide later whether a card followed)."""
    if not (person.role == "staff" and staff_face_only):
        return None
    details: dict[str, Any] = {}
    if liveness is not None:
        details["liveness"] = round(liveness, 3)
    if liveness_mode == "required" and (liveness is None or liveness < liveness_threshold):
        d = Draft(EventType.DENIED, Verdict.DENY, "face_not_live", Method.FACE, details=details)
        if liveness is not None:
            d.alert(AlertType.SPOOF_ATTEMPT, Severity.CRITICAL, face_of=person.id,
                    liveness=round(liveness, 3))
        return d
    return Draft(EventType.ARRIVAL, Verdict.OPEN, "staff_face", Method.FACE, details=details)


def face_without_card(track: int, distance: float | None) -> Draft:
    return Draft(EventType.FACE_SEEN, Verdict.NONE, "known_face_without_card", Method.FACE,
                 details={"face_distance": distance, "track": track})


def card_followed(tapped_mono: float | None, face_mono: float, window_s: float) -> bool:
    return tapped_mono is not None and abs(tapped_mono - face_mono) <= 2 * window_s


@dataclass(frozen=True)
class TrackSeen:
    """One face track as the lane camera saw it inside a tailgating window (gathered by the
    engine from the face evidence): when, in how many frames, and whose face it was."""

    track: int
    first: float  # monotonic seconds of its first and last frame in the window
    last: float
    frames: int
    person_id: str | None = None  # identified against the gallery, if it was
    template: Sequence[float] | None = None  # the track's face template, once encoded


def people_crossing(tracks: Sequence[TrackSeen], *, same_face: float, min_frames: int = 2,
                    fragment_gap_s: float = 1.5) -> int:
    """How many distinct people the camera saw crossing the lane, from its face tracks.

    A track is detections of one face, and one person may leave several: the tracker loses a
    turned head and starts a new track, a looping demo clip shows the same pupil again. So
    tracks are people only after merging: two tracks that never share a frame are one person
    when both were identified as the same person, when their templates are closer than
    ``same_face``, or when one has no template yet and starts within ``fragment_gap_s`` of
    the other's end (a fragment). Tracks that share a frame are always different people
    (one face cannot be in two places), and a track of fewer than ``min_frames`` frames is a
    flicker of the detector, not a crossing."""
    people: list[list[TrackSeen]] = []
    for t in sorted((t for t in tracks if t.frames >= min_frames), key=lambda t: t.first):
        for group in people:
            if all(_apart(t, o) for o in group) and any(
                    _one_person(t, o, same_face, fragment_gap_s) for o in group):
                group.append(t)
                break
        else:
            people.append([t])
    return len(people)


def _apart(a: TrackSeen, b: TrackSeen) -> bool:
    return a.last < b.first or b.last < a.first


def _one_person(a: TrackSeen, b: TrackSeen, same_face: float, gap_s: float) -> bool:
    if a.person_id is not None and a.person_id == b.person_id:
        return True
    if a.template is not None and b.template is not None:
        return math.dist(a.template, b.template) < same_face
    gap = a.first - b.last if a.first > b.last else b.first - a.last
    return gap <= gap_s


def tailgating(people: int, authorised: int) -> AlertDraft | None:
    """More people went through in the window after an opening than were let through
    (``people`` from :func:`people_crossing`, never a count of detections)."""
    if people > authorised:
        return AlertDraft(AlertType.TAILGATING, Severity.CRITICAL,
                          {"people": people, "authorised": authorised})
    return None


def manual_open(reason: str, actor: str) -> Draft:
    reason = reason.strip()
    if len(reason) < 2:
        raise ValueError("a manual open needs a reason (at least 2 characters)")
    return Draft(EventType.MANUAL_OPEN, Verdict.OPEN, reason, Method.MANUAL,
                 details={"by": actor})


def watch_match(distance: float, threshold: float) -> str:
    """A watch-list face distance in words for the guard (``match.<word>`` in the console's
    catalogue): how far under the list's threshold it is, since the raw number means nothing
    to a guard. Under 70 % of the threshold is as close as two photos of one person usually
    are; the last 15 % is where strangers who look alike land."""
    if distance <= 0.7 * threshold:
        return "very_close"
    if distance <= 0.85 * threshold:
        return "close"
    return "borderline"


def alert_only(kind: AlertType, severity: Severity, details: dict[str, Any]) -> Draft:
    d = Draft(EventType.SYSTEM, Verdict.NONE, str(kind), Method.SYSTEM)
    d.alerts.append(AlertDraft(kind, severity, details))
    return d


@dataclass(frozen=True)
class EscalationFacts:
    alert_id: str
    alert_type: str
    severity: str
    acknowledged: bool
    escalated: bool
    raised: dt.datetime
    lane: str | None = None


def needs_escalation(f: EscalationFacts, now: dt.datetime, after_minutes: int) -> bool:
    """A critical alert nobody acknowledged in time goes out again (once)."""
    return (f.severity == Severity.CRITICAL and not f.acknowledged and not f.escalated
            and f.alert_type != AlertType.ALERT_ESCALATED
            and now - f.raised >= dt.timedelta(minutes=after_minutes))
