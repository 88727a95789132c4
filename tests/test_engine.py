"""Scenario tests: real pty card readers and recorded camera frames through the running service."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import pytest

from gate.attendance import attendance, notify_absences
from gate.bench.scenes import FACES, cut_head, walking_frames
from recognition.face_engine import DlibFaceEngine
from tests.ptys import wait_for
from tests.scenario import running_gate
from tests.test_camera import write_video

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    engine = DlibFaceEngine()
    obama = cut_head(engine, "test/obama1.jpg", "obama")
    kit = cut_head(engine, "test/johnsnow_test1.jpg", "kit_harington")
    folder = tmp_path_factory.mktemp("videos")
    return {"obama": write_video(folder / "obama.avi", list(walking_frames([obama], 100))),
            "two": write_video(folder / "two.avi", list(walking_frames([obama, kit], 100)))}


def test_happy_path_card_and_matching_face(tmp_path: Path, videos: dict[str, Path]) -> None:
    with running_gate(tmp_path, FACES, videos["obama"],
                      rules={"tailgate_window_s": 1.5}) as gate:
        gate.wait_face()
        d = gate.tap("obama")
        assert (d.event.type, d.event.decision, d.event.method) == ("arrival", "open", "card+face")
        assert d.event.details["face"] == "face matches"
        assert d.event.details["face_distance"] < 0.55
        row = gate.service.store.query("SELECT type, person_id, lane, direction FROM events"
                                       " WHERE id = ?", (d.event.id,))[0]
        assert tuple(row) == ("arrival", "obama", "L1", "entry")
        [note] = gate.outbox("/guardians/G1/")
        assert note["child"] == {"id": "obama", "name": "Obama"} and note["type"] == "arrival"
        assert "face" not in str(note) and "snapshot" not in note  # nothing biometric to parents
        time.sleep(2.0)  # the tailgating window (1.5 s) must pass without an alert
        assert "tailgating" not in gate.alerts()
        out = gate.tap("obama", reader="L1-out")
        assert (out.event.type, out.event.decision) == ("departure", "open")


def test_lent_card_is_denied_with_both_identities(tmp_path: Path,
                                                  videos: dict[str, Path]) -> None:
    with running_gate(tmp_path, FACES, videos["obama"]) as gate:
        gate.wait_face()
        d = gate.tap("biden")  # Biden's card, Obama's face
        assert (d.event.decision, d.event.reason) == ("deny", "card_face_mismatch")
        assert d.alert is not None and d.alert.severity == "critical"
        assert d.alert.details["card_holder"] == "biden"
        assert d.alert.details["face_identified_as"] == "obama"
        assert gate.alerts() == ["card_face_mismatch"]
        [police] = gate.outbox("/alerts/card_face_mismatch")
        assert police["person"]["id"] == "biden" and police["face_identified_as"] == "obama"


def test_lent_card_warn_only_opens_and_alerts(tmp_path: Path, videos: dict[str, Path]) -> None:
    with running_gate(tmp_path, FACES, videos["obama"], rules={"mismatch_action": "warn"}) as gate:
        gate.wait_face()
        d = gate.tap("biden")
        assert d.event.decision == "open" and gate.alerts() == ["card_face_mismatch"]


def test_unknown_card(tmp_path: Path) -> None:
    with running_gate(tmp_path, FACES) as gate:
        d = gate.tap("DEADBEEF01")
        assert (d.event.decision, d.event.reason) == ("deny", "unknown_card")
        assert gate.alerts() == ["unknown_card"]
        assert gate.outbox("/alerts/unknown_card")[0]["card"] == "DEADBEEF01"


def test_card_only_student_without_consent_passes_without_face_check(
        tmp_path: Path, videos: dict[str, Path]) -> None:
    with running_gate(tmp_path, FACES, videos["obama"]) as gate:
        gate.wait_face()  # Obama's face is in front of the camera: it must not matter
        d = gate.tap("nocons")
        assert (d.event.decision, d.event.method) == ("open", "card")
        assert d.event.details["face"] == "card only"
        assert gate.alerts() == []


def test_a_card_works_when_no_face_is_seen(tmp_path: Path) -> None:
    with running_gate(tmp_path, FACES, rules={"face_wait_ms": 100}) as gate:
        d = gate.tap("obama")  # consenting student, but this lane has no camera
        assert (d.event.decision, d.event.method) == ("open", "card")


def test_tailgating(tmp_path: Path, videos: dict[str, Path]) -> None:
    with running_gate(tmp_path, FACES, videos["two"], rules={"tailgate_window_s": 1.5}) as gate:
        gate.wait_face()
        d = gate.tap("obama")
        assert d.event.decision == "open"
        wait_for(lambda: "tailgating" in gate.alerts(), timeout=5, what="tailgating alert")
        [alert] = gate.outbox("/alerts/tailgating")
        assert alert["people"] == 2 and alert["authorised"] == 1
        assert alert["severity"] == "critical"


def test_early_departure_during_lessons(tmp_path: Path) -> None:
    lessons = [{"start": "00:00", "end": "23:59:59"}]
    with running_gate(tmp_path, FACES, calendar={"lessons": lessons}) as gate:
        gate.tap("obama")
        d = gate.tap("obama", reader="L1-out")
        assert (d.event.decision, d.event.reason) == ("deny", "early_departure")
        assert "early_departure" in gate.alerts()
        notes = [n["type"] for n in gate.outbox("/guardians/G1/")]
        assert notes == ["arrival", "early_departure"]
        # staff enter an exit permission: the engine honours it
        now = gate.service.store.now()  # the service's own clock
        gate.service.store.add_exit_permission("obama", now - dt.timedelta(minutes=1),
                                               now + dt.timedelta(hours=1), "staff", "dentist")
        time.sleep(0.3)  # past the reader's hold-off for the same card
        d = gate.tap("obama", reader="L1-out")
        assert (d.event.type, d.event.decision) == ("departure", "open")


def test_early_departure_alert_only(tmp_path: Path) -> None:
    lessons = [{"start": "00:00", "end": "23:59:59"}]
    with running_gate(tmp_path, FACES, calendar={"lessons": lessons},
                      rules={"early_departure_action": "alert"}) as gate:
        d = gate.tap("nocons", reader="L1-out")
        assert (d.event.decision, d.event.reason) == ("open", "early_departure")
        assert [n["type"] for n in gate.outbox("/guardians/G6/")] == ["early_departure"]


def test_late_student_and_attendance(tmp_path: Path) -> None:
    with running_gate(tmp_path, FACES, calendar={"late_after": "00:00"}) as gate:
        d = gate.tap("obama")
        assert d.event.reason == "late" and d.event.details["late"] is True
        store, config = gate.service.store, gate.service.config
        rows = {r.person_id: r for r in attendance(store, config.calendar, store.now().date())}
        assert rows["obama"].late and rows["obama"].on_campus and not rows["obama"].absent
        assert not rows["biden"].on_campus


def test_absent_students_guardians_told_once(tmp_path: Path) -> None:
    # The service's own scheduled run is off, so that the test's calls are the only ones.
    with running_gate(tmp_path, FACES, calendar={"absent_cutoff": "00:00"},
                      rules={"notify_absent": False}) as gate:
        gate.tap("obama")
        journal, config = gate.service.journal, gate.service.config
        store = journal.store
        assert notify_absences(journal, config, store.now()) == 3  # biden, kit, nocons
        assert notify_absences(journal, config, store.now()) == 0  # once a day
        assert [n["type"] for n in gate.outbox("/guardians/G6/")] == ["absent"]
        absent = gate.outbox("/events/absent")  # promised in the contract, now published
        assert sorted(e["person"]["id"] for e in absent) == ["biden", "kit_harington", "nocons"]
        assert gate.outbox("/guardians/G1/")[-1]["type"] == "arrival"


def test_anti_passback(tmp_path: Path) -> None:
    with running_gate(tmp_path, FACES, rules={"anti_passback": "deny"}) as gate:
        assert gate.tap("obama").event.decision == "open"
        time.sleep(0.3)
        d = gate.tap("obama")
        assert (d.event.decision, d.event.reason) == ("deny", "anti_passback")
        assert gate.alerts() == ["anti_passback"]


def test_anti_passback_warn(tmp_path: Path) -> None:
    with running_gate(tmp_path, FACES) as gate:
        gate.tap("obama")
        time.sleep(0.3)
        assert gate.tap("obama").event.decision == "open"
        assert gate.alerts() == ["anti_passback"]


def test_fire_alarm_releases_every_lane(tmp_path: Path) -> None:
    flag = tmp_path / "fire"
    flag.write_text("0")
    lanes = [{"id": f"L{i}", "relay": {"kind": "dry-run"}} for i in (2, 3)]
    with running_gate(tmp_path, FACES, extra_lanes=lanes,
                      fire_alarm={"kind": "simulated", "path": str(flag), "poll_ms": 20}) as gate:
        relays = list(gate.service.relays.values())
        assert [r.lane for r in relays] == ["L1", "L2", "L3"]
        flag.write_text("1")
        wait_for(lambda: all(getattr(r, "held", False) and getattr(r, "energised", False)
                             for r in relays), what="every lane released")
        # released first; the record follows (best effort, after the relays)
        wait_for(lambda: gate.alerts() == ["fire_alarm"], what="the fire alarm journalled")
        [alert] = gate.outbox("/alerts/fire_alarm")
        assert alert["severity"] == "critical" and alert["lanes"] == ["L1", "L2", "L3"]
        d = gate.tap("DEADBEEF01")  # decisions are still journalled during the alarm
        assert d.event.decision == "deny" and getattr(relays[0], "energised", False)
        flag.write_text("0")
        wait_for(lambda: not gate.service.fire.active, what="the input cleared")
        # the release holds until a guard resets it (audited)
        assert all(getattr(r, "held", False) for r in relays)
        gate.service.engine.reset_fire("guard1", "panel reset after the drill")
        wait_for(lambda: not any(getattr(r, "held", True) or getattr(r, "energised", True)
                                 for r in relays), what="the all-clear")


def test_manual_open_needs_a_reason_and_is_audited(tmp_path: Path) -> None:
    with running_gate(tmp_path, FACES) as gate:
        engine = gate.service.engine
        with pytest.raises(ValueError):
            engine.manual_open("L1", "guard1", "  ")
        d = engine.manual_open("L1", "guard1", "parent without card")
        assert d.opened and d.event.method == "manual"
        [audit] = gate.service.store.query("SELECT actor, action, target, details FROM audit_log")
        assert tuple(audit)[:3] == ("guard1", "manual_open", "L1")
        assert "parent without card" in audit[3]


def test_unacknowledged_critical_alerts_are_escalated_once(tmp_path: Path) -> None:
    with running_gate(tmp_path, FACES, console={"enabled": False,
                                                "alert_escalate_minutes": 1}) as gate:
        service = gate.service
        service.engine.raise_alert("tailgating", "critical", "L1", {"people": 2})
        service.engine.raise_alert("unknown_card", "warning", "L1", {})
        assert service.escalate_alerts() == 0  # not old enough yet
        old = (service.store.now() - dt.timedelta(minutes=2)).isoformat(timespec="milliseconds")
        with service.store.transaction() as db:
            db.execute("UPDATE alerts SET ts = ?", (old,))
        assert service.escalate_alerts() == 1  # only the critical one
        assert service.escalate_alerts() == 0  # and only once
        [escalated] = gate.outbox("/alerts/alert_escalated")
        assert escalated["original_type"] == "tailgating"
        assert escalated["severity"] == "critical"


def test_attendance_report_cli(tmp_path: Path) -> None:
    import csv
    import io

    from tests.conftest import run_gate

    with running_gate(tmp_path, FACES) as gate:
        gate.tap("obama")
    result = run_gate("report", "attendance", "--csv",
                      env={"GATE_DATA_DIR": str(tmp_path / "data")})
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("\ufeff")  # Excel reads it as UTF-8
    rows = {r["person_id"]: r for r in csv.DictReader(io.StringIO(result.stdout[1:]))}
    assert set(rows) == {"obama", "biden", "kit_harington", "nocons"}  # students only
    assert rows["obama"]["on_campus"] == "True" and rows["obama"]["first_arrival"]
    assert rows["biden"]["first_arrival"] == ""
    bad = run_gate("report", "attendance", "--date", "2026-13-01",
                   env={"GATE_DATA_DIR": str(tmp_path / "data")})
    assert bad.returncode == 2 and "--date" in bad.stderr


def test_track_memory_is_once_per_track_and_bounded() -> None:
    from gate.engine import TrackMemory

    memory = TrackMemory(limit=3)
    assert memory.first_time("cam", 1) and not memory.first_time("cam", 1)
    assert memory.first_time("other", 1)  # track ids are per camera
    for track in (2, 3, 4):
        assert memory.first_time("cam", track)
    assert memory.first_time("cam", 1)  # the oldest was forgotten: memory stays bounded
