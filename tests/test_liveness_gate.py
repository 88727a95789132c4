"""Liveness at the lane, end to end: a printed photo of the card's owner held to the camera.

The vendor's spoof sample (tests/fixtures/liveness, Apache-2.0) stands in for the photo:
the owner is enrolled from it, so the face *matches* the card and only liveness can tell.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from gate.bench.scenes import FACES
from gate.broker import LocalBroker
from gate.faces import FaceEnroller
from gate.records import Person
from recognition.images import load_rgb
from tests.mqtt_helpers import Subscriber, gate_mqtt_section
from tests.ptys import wait_for
from tests.scenario import Gate, running_gate
from tests.test_camera import write_video

pytestmark = pytest.mark.slow
SAMPLES = Path(__file__).parent / "fixtures" / "liveness"


def _photo_video(tmp_path: Path) -> Path:
    return write_video(tmp_path / "photo.avi", [load_rgb(SAMPLES / "image_F2.jpg")] * 40)


def _enrol(gate: Gate, person: Person, card: str) -> None:
    store = gate.service.store
    store.upsert_person(person)
    store.assign_card(f"hex:{card}", person.id)
    outcome = FaceEnroller(store, gate.service.config, gate.service.photo_workers).enrol(person.id,
                                                             SAMPLES / "image_F2.jpg")
    assert outcome.outcome == "enrolled"
    gate.service.reload_gallery()


def _wait_scored(gate: Gate) -> float:
    found: list[float] = []

    def scored() -> bool:
        face = gate.service.engine.evidence.face_at_reader("gate-cam", 0.0)
        if face is not None and face.liveness is not None:
            found.append(face.liveness)
            return True
        return False

    wait_for(scored, timeout=90, what="a face track with its liveness score")
    return found[-1]


def test_photo_with_a_valid_card_opens_and_alerts_the_guard(tmp_path: Path,
                                                            broker: LocalBroker) -> None:
    guard = Subscriber(broker.port, "guard-zqxx", ["campus/zqxx/main/alerts/#"])
    try:
        with running_gate(tmp_path, FACES, _photo_video(tmp_path), site="zqxx",
                          mqtt=gate_mqtt_section(tmp_path, broker.port),
                          lane={"liveness": "alert"}) as gate:
            _enrol(gate, Person("owner", "Owner", face_consent=True), "6200000099")
            score = _wait_scored(gate)
            assert score < gate.service.config.faces.liveness_threshold
            d = gate.tap("6200000099")
            assert d.opened and d.event.decision == "open"  # a card always works
            assert d.event.method == "card+face" and d.event.details["liveness"] < 0.5
            _t, alert = guard.until(lambda m: m[0].endswith("/alerts/spoof_attempt"))[-1]
            assert alert["severity"] == "critical" and alert["card_holder"] == "owner"
            assert alert["person"]["id"] == "owner"
    finally:
        guard.close()


def test_face_only_passage_refused_when_liveness_is_required(tmp_path: Path) -> None:
    with running_gate(tmp_path, FACES, _photo_video(tmp_path), lane={"liveness": "required"},
                      rules={"staff_face_only": True}) as gate:
        _enrol(gate, Person("t9", "Teacher Photo", role="staff", face_consent=True),
               "6200000098")
        decisions = gate.decisions
        wait_for(lambda: any(d.event.reason == "face_not_live" for d in decisions),
                 timeout=90, what="the face-only passage to be refused")
        [d] = [d for d in decisions if d.event.reason == "face_not_live"]
        assert d.event.decision == "deny" and not d.opened and d.person is not None
        assert [a.type for a in d.alerts] == ["spoof_attempt"]
        assert not any(x.opened and x.event.method == "face" for x in decisions)
