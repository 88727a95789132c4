"""The decision rules as plain functions: no dlib, no store, no sleeping; ``now`` is a value."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gate import rules
from gate.config import CalendarConfig, RulesConfig
from gate.records import Person
from gate.vocab import AlertType, Direction, EventType, Method, Severity, Verdict, VisitorState

TZ = ZoneInfo("Asia/Shanghai")
MONDAY = dt.date(2026, 11, 23)
CAL = CalendarConfig()
STUDENT = Person("S1", "Li Lei", "student", "7-1", face_consent=True)
STAFF = Person("T1", "Teacher Wang", "staff", face_consent=True)


def at(hh: int, mm: int, day: dt.date = MONDAY) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hh, mm), TZ)


def facts(**kw: object) -> rules.CardFacts:
    base: dict[str, object] = dict(
        now=at(7, 40), lane="L1", direction=Direction.ENTRY, person=STUDENT,
        face=rules.FaceCheck(), last_passage=None, exit_permitted=False, calendar=CAL,
        rules=RulesConfig())
    base.update(kw)
    return rules.CardFacts(**base)  # type: ignore[arg-type]


def matched(distance: float = 0.3, liveness: float | None = None) -> rules.FaceCheck:
    return rules.face_check(wanted=True, consent=True, has_camera=True, seen=True,
                            enrolled=True, match=True, distance=distance, other=None,
                            liveness=liveness)


def mismatched() -> rules.FaceCheck:
    return rules.face_check(wanted=True, consent=True, has_camera=True, seen=True,
                            enrolled=True, match=False, distance=0.8, other="S9")


def test_on_time_arrival_opens_and_tells_guardians() -> None:
    d = rules.decide_card(facts(face=matched()))
    assert (d.kind, d.verdict, d.reason, d.method) == (EventType.ARRIVAL, Verdict.OPEN,
                                                       "valid_card", Method.CARD_FACE)
    assert d.notify_guardians and not d.alerts and d.details["face_distance"] == 0.3


def test_late_arrival_is_marked_but_opens() -> None:
    d = rules.decide_card(facts(now=at(8, 5)))
    assert d.opens and d.reason == "late" and d.details["late"] is True


def test_no_late_mark_on_a_holiday_or_weekend() -> None:
    saturday = MONDAY + dt.timedelta(days=5)
    assert rules.decide_card(facts(now=at(9, 0, saturday))).reason == "valid_card"


def test_lent_card_is_denied_with_a_critical_alert_naming_both() -> None:
    d = rules.decide_card(facts(face=mismatched()))
    assert (d.kind, d.verdict, d.reason) == (EventType.DENIED, Verdict.DENY,
                                             "card_face_mismatch")
    [a] = d.alerts
    assert a.type is AlertType.CARD_FACE_MISMATCH and a.severity is Severity.CRITICAL
    assert a.details["card_holder"] == "S1" and a.details["face_identified_as"] == "S9"


def test_lent_card_warn_mode_opens() -> None:
    d = rules.decide_card(facts(face=mismatched(), rules=RulesConfig(mismatch_action="warn")))
    assert d.opens and [a.type for a in d.alerts] == [AlertType.CARD_FACE_MISMATCH]


def test_face_only_with_consent_else_card_only() -> None:
    no_consent = rules.face_check(wanted=True, consent=False, has_camera=True, seen=True,
                                  enrolled=True, match=False, distance=0.9, other="X")
    assert no_consent == rules.FaceCheck(note="card only")
    d = rules.decide_card(facts(face=no_consent, person=Person("S2", "Han Meimei")))
    assert d.opens and d.method is Method.CARD and not d.alerts


def test_anti_passback_warns_or_denies() -> None:
    warn = rules.decide_card(facts(last_passage="arrival"))
    assert warn.opens and [a.type for a in warn.alerts] == [AlertType.ANTI_PASSBACK]
    deny = rules.decide_card(facts(last_passage="arrival",
                                   rules=RulesConfig(anti_passback="deny")))
    assert deny.verdict is Verdict.DENY and deny.reason == "anti_passback"
    off = rules.decide_card(facts(last_passage="arrival", rules=RulesConfig(anti_passback="off")))
    assert off.opens and not off.alerts


def test_leaving_during_lessons_needs_permission() -> None:
    d = rules.decide_card(facts(now=at(9, 30), direction=Direction.EXIT))
    assert d.verdict is Verdict.DENY and d.reason == "early_departure"
    assert d.notify_guardians and d.notice is EventType.EARLY_DEPARTURE
    permitted = rules.decide_card(facts(now=at(9, 30), direction=Direction.EXIT,
                                        exit_permitted=True))
    assert permitted.opens and permitted.kind is EventType.DEPARTURE and not permitted.alerts
    alert_only = rules.decide_card(facts(now=at(9, 30), direction=Direction.EXIT,
                                         rules=RulesConfig(early_departure_action="alert")))
    assert alert_only.opens and alert_only.reason == "early_departure"


def test_staff_leave_whenever() -> None:
    d = rules.decide_card(facts(now=at(9, 30), direction=Direction.EXIT, person=STAFF))
    assert d.opens and not d.alerts and not d.notify_guardians


def test_spoofed_face_with_valid_card_still_opens_in_alert_mode() -> None:
    d = rules.decide_card(facts(face=matched(liveness=0.1), liveness_mode="alert",
                                liveness_threshold=0.5))
    assert d.opens  # a card always works
    assert [a.type for a in d.alerts] == [AlertType.SPOOF_ATTEMPT]
    live = rules.decide_card(facts(face=matched(liveness=0.9), liveness_mode="alert"))
    assert live.opens and not live.alerts
    off = rules.decide_card(facts(face=matched(liveness=0.1), liveness_mode="off"))
    assert not off.alerts


def test_face_only_passage_needs_a_live_face_when_required() -> None:
    assert rules.decide_known_face(STUDENT, True, "off", None, 0.5) is None  # pupils tap
    ok = rules.decide_known_face(STAFF, True, "off", None, 0.5)
    assert ok is not None and ok.opens and ok.method is Method.FACE
    refused = rules.decide_known_face(STAFF, True, "required", 0.2, 0.5)
    assert refused is not None and refused.verdict is Verdict.DENY
    assert [a.type for a in refused.alerts] == [AlertType.SPOOF_ATTEMPT]
    unknown = rules.decide_known_face(STAFF, True, "required", None, 0.5)
    assert unknown is not None and unknown.verdict is Verdict.DENY
    live = rules.decide_known_face(STAFF, True, "required", 0.9, 0.5)
    assert live is not None and live.opens


@settings(max_examples=300, deadline=None)
@given(minute=st.integers(0, 24 * 60 - 1), day=st.integers(0, 13),
       direction=st.sampled_from(list(Direction)),
       last=st.sampled_from([None, "arrival", "departure"]),
       face=st.sampled_from(["none", "match", "mismatch"]),
       role=st.sampled_from(["student", "staff"]), permitted=st.booleans(),
       mismatch_action=st.sampled_from(["deny", "warn"]),
       passback=st.sampled_from(["off", "warn", "deny"]),
       early=st.sampled_from(["deny", "alert"]))
def test_card_rules_invariants(minute: int, day: int, direction: Direction, last: str | None,
                               face: str, role: str, permitted: bool, mismatch_action: str,
                               passback: str, early: str) -> None:
    """Whatever the facts: a matched card with no other objection opens; every denial
    names its reason and carries the alert that explains it; nothing but a student is
    reported to guardians."""
    now = dt.datetime.combine(MONDAY + dt.timedelta(days=day), dt.time(minute // 60,
                                                                       minute % 60), TZ)
    person = STUDENT if role == "student" else STAFF
    check = {"none": rules.FaceCheck(), "match": matched(), "mismatch": mismatched()}[face]
    cfg = RulesConfig(mismatch_action=mismatch_action, anti_passback=passback,  # type: ignore[arg-type]
                      early_departure_action=early)  # type: ignore[arg-type]
    d = rules.decide_card(facts(now=now, direction=direction, last_passage=last, face=check,
                                person=person, exit_permitted=permitted, rules=cfg))
    types = [a.type for a in d.alerts]
    if d.verdict is Verdict.DENY:
        assert d.kind is EventType.DENIED
        assert d.reason in {"card_face_mismatch", "anti_passback", "early_departure"}
        assert AlertType(d.reason) in types
    else:
        assert d.verdict is Verdict.OPEN
        assert d.kind is (EventType.ARRIVAL if direction is Direction.ENTRY
                          else EventType.DEPARTURE)
    if face == "mismatch":
        assert AlertType.CARD_FACE_MISMATCH in types
    if role == "staff":
        assert not d.notify_guardians and AlertType.EARLY_DEPARTURE not in types
    if face != "mismatch" and last != "arrival" and not (
            direction is Direction.EXIT and role == "student" and CAL.in_lesson(now)
            and not permitted):
        assert d.opens and not d.alerts


def window(now: dt.datetime, status: VisitorState = VisitorState.APPROVED,
           direction: Direction = Direction.ENTRY) -> rules.VisitFacts:
    return rules.VisitFacts(now=now, status=status, valid_from=at(9, 0),
                            valid_until=at(11, 0), direction=direction)


def test_visitor_pass_valid_only_in_its_window_and_state() -> None:
    assert rules.decide_visit(window(at(9, 30))).new_status is VisitorState.ON_SITE
    assert rules.decide_visit(window(at(8, 59))).reason == "pass_not_yet_valid"
    assert rules.decide_visit(window(at(11, 1))).reason == "pass_expired"
    flagged = rules.decide_visit(window(at(9, 30), VisitorState.FLAGGED))
    assert flagged.verdict is Verdict.DENY and flagged.reason == "visitor_flagged"
    out = rules.decide_visit(window(at(12, 0), VisitorState.ON_SITE, Direction.EXIT))
    assert out.verdict is Verdict.OPEN and out.new_status is VisitorState.CHECKED_OUT


def test_plates_watchlist_exact_denies_near_miss_warns() -> None:
    exact = rules.decide_plate("京A12345", 0.9, [rules.WatchPlate("police", "京A12345", "x", 0)],
                               {"kind": "staff", "owner_id": "T1"})
    assert exact.verdict is Verdict.DENY and exact.alerts[0].severity is Severity.CRITICAL
    near = rules.decide_plate("京A12345", 0.9, [rules.WatchPlate("police", "京A12346", "x", 1)],
                              {"kind": "staff", "owner_id": "T1"})
    assert near.opens and near.alerts[0].details["match"] == "possible"
    visitor = rules.decide_plate("京B00001", 0.8, [], None)
    assert visitor.verdict is Verdict.GUARD


def test_tailgating_and_card_followed() -> None:
    assert rules.tailgating(2, 1) is not None and rules.tailgating(1, 1) is None
    assert rules.card_followed(100.0, 101.0, 3.0) and not rules.card_followed(None, 1.0, 3.0)
    assert not rules.card_followed(100.0, 120.0, 3.0)


def test_the_same_lent_card_tapped_again_by_the_same_face_is_denied_not_realerted() -> None:
    first = rules.decide_card(facts(face=mismatched()))
    again = rules.decide_card(facts(face=mismatched(), mismatch_raised=True))
    assert [a.type for a in first.alerts] == [AlertType.CARD_FACE_MISMATCH]
    assert again.alerts == [] and again.verdict is Verdict.DENY
    assert again.reason == "card_face_mismatch" and again.details["repeat"] is True
    warned = rules.decide_card(facts(face=mismatched(), mismatch_raised=True,
                                     rules=RulesConfig(mismatch_action="warn")))
    assert warned.opens and warned.alerts == []


Seen = rules.TrackSeen
FACE_A = (0.0,) * 128
FACE_B = (0.1,) * 128  # 1.13 from FACE_A: another person at any threshold


def crossing(*tracks: rules.TrackSeen) -> int:
    return rules.people_crossing(tracks, same_face=0.55)


def test_one_pupil_seen_again_by_a_looping_clip_is_one_person() -> None:
    """The demo's complaint: each loop of the clip starts a new track of the same pupil."""
    loops = [Seen(n, 10.0 + 3 * n, 12.5 + 3 * n, 20, "S001", FACE_A) for n in range(3)]
    assert crossing(*loops) == 1
    assert rules.tailgating(crossing(*loops), 1) is None


def test_a_lost_and_found_track_of_one_stranger_is_one_person() -> None:
    near = tuple(x + 0.02 for x in FACE_A)  # 0.23 away: the same face
    assert crossing(Seen(1, 0.0, 1.0, 8, None, FACE_A), Seen(2, 1.2, 2.5, 9, None, near)) == 1
    # a fragment with no template yet, right after the first track: the same person
    assert crossing(Seen(1, 0.0, 1.0, 8, None, FACE_A), Seen(2, 1.3, 1.6, 3)) == 1
    # ... but long after it, someone else
    assert crossing(Seen(1, 0.0, 1.0, 8, None, FACE_A), Seen(2, 3.0, 3.5, 3)) == 2


def test_two_faces_in_one_frame_are_two_people_whatever_they_look_like() -> None:
    twins = (Seen(1, 0.0, 2.0, 15, None, FACE_A), Seen(2, 1.0, 3.0, 15, None, FACE_A))
    assert crossing(*twins) == 2
    alert = rules.tailgating(crossing(*twins), 1)
    assert alert is not None and alert.details == {"people": 2, "authorised": 1}
    same_id = (Seen(1, 0.0, 2.0, 15, "S001"), Seen(2, 1.0, 3.0, 15, "S001"))
    assert crossing(*same_id) == 2  # one of them is not who the gallery thinks


def test_different_people_one_after_the_other_are_counted() -> None:
    assert crossing(Seen(1, 0.0, 1.0, 8, "S001", FACE_A),
                    Seen(2, 1.5, 2.5, 8, None, FACE_B)) == 2
    assert crossing(Seen(1, 0.0, 1.0, 8, "S001", FACE_A),
                    Seen(2, 1.5, 2.5, 8, "S002", FACE_B)) == 2


def test_a_detector_flicker_is_not_a_crossing() -> None:
    assert crossing(Seen(1, 0.0, 2.0, 15, "S001", FACE_A), Seen(2, 0.5, 0.5, 1)) == 1
    assert crossing() == 0


@given(st.lists(st.tuples(st.floats(0, 10), st.floats(0, 3), st.integers(1, 30),
                          st.sampled_from([None, "S001", "S002"])), max_size=8))
@settings(max_examples=200, deadline=None)
def test_people_never_exceed_tracks_nor_fall_below_the_most_at_once(
        spans: list[tuple[float, float, int, str | None]]) -> None:
    tracks = [Seen(i, a, a + d, n, who) for i, (a, d, n, who) in enumerate(spans)]
    counted = [t for t in tracks if t.frames >= 2]
    people = crossing(*tracks)
    assert people <= len(counted)
    at_once = max((sum(1 for o in counted if o.first <= t.first <= o.last) for t in counted),
                  default=0)
    assert people >= at_once


def test_manual_open_needs_a_reason_of_two_characters() -> None:
    assert rules.manual_open(" 送药 ", "guard1").reason == "送药"
    with pytest.raises(ValueError):
        rules.manual_open(" x ", "guard1")


def test_escalation_only_for_unacknowledged_critical_alerts_past_the_limit() -> None:
    raised = at(8, 0)
    f = rules.EscalationFacts("a1", "tailgating", "critical", False, False, raised)
    assert rules.needs_escalation(f, raised + dt.timedelta(minutes=5), 5)
    assert not rules.needs_escalation(f, raised + dt.timedelta(minutes=4), 5)
    acked = rules.EscalationFacts("a1", "tailgating", "critical", True, False, raised)
    assert not rules.needs_escalation(acked, raised + dt.timedelta(hours=1), 5)
    warning = rules.EscalationFacts("a1", "unknown_card", "warning", False, False, raised)
    assert not rules.needs_escalation(warning, raised + dt.timedelta(hours=1), 5)
    again = rules.EscalationFacts("a2", "alert_escalated", "critical", False, False, raised)
    assert not rules.needs_escalation(again, raised + dt.timedelta(hours=1), 5)
