"""The visitor desk: identity documents, screening, approvals, passes, route, checkout."""

from __future__ import annotations

import base64
import datetime as dt
import http.server
import json
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from gate.bench.scenes import FACES
from gate.broker import LocalBroker
from gate.identity import IdentityError, mask, validate_document, validate_resident_id
from gate.visitors import Registration, VisitorError
from recognition.enrol import encode_enrolment_photo
from recognition.face_engine import DlibFaceEngine
from recognition.images import load_rgb
from rfid.protocols import BadFrame, CodeFrame, QrLineParser
from rfid.reader import CardRead
from tests.conftest import run_gate
from tests.mqtt_helpers import Subscriber, gate_mqtt_section
from tests.ptys import wait_for
from tests.scenario import Gate, running_gate

VALID_ID = "330702199001011237"  # check digit per GB 11643


def test_resident_id_numbers() -> None:
    # the GB 11643 sample number, and one made for these tests
    assert validate_resident_id("11010519491231002x") == "11010519491231002X"
    assert validate_resident_id(VALID_ID) == VALID_ID
    for bad, why in [("440524188001010014", "impossible"),  # a published example: born 1880
                     ("11010519491231002Y", "check digit or X"),
                     ("110105194912310021", "check digit does not match"),
                     ("110105199902300022", "does not exist"),
                     ("11010519491231002", "17 digits"),
                     ("990105194912310025", "province"),
                     ("110105290001010011", "impossible")]:
        with pytest.raises(IdentityError, match=why):
            validate_resident_id(bad)
    assert mask(VALID_ID) == "330702********1237"
    assert validate_document("passport", "e 1234 5678") == "E12345678"
    assert validate_document("hk-macau-permit", "H12345678") == "H12345678"
    assert validate_document("taiwan-permit", "12345678") == "12345678"
    with pytest.raises(IdentityError):
        validate_document("taiwan-permit", "1234")


def test_qr_scanner_lines() -> None:
    out = QrLineParser().feed(b"CGV1:abc-DEF_123\r\n\x1b[2J\r\n")
    assert out[0] == CodeFrame("CGV1:abc-DEF_123")
    assert isinstance(out[1], BadFrame)




def _mqtt(tmp_path: Path, broker: LocalBroker) -> dict[str, Any]:
    return gate_mqtt_section(tmp_path, broker.port)


def _reg(**kw: Any) -> Registration:
    base: dict[str, Any] = {"name": "Wang Fang", "id_type": "resident-id", "id_number": VALID_ID,
                            "phone": "13900000000", "purpose": "parent meeting",
                            "host_id": "staff", "minutes": 60}
    return Registration(**{**base, **kw})


def _face(rel: str) -> np.ndarray:
    engine = DlibFaceEngine()
    return encode_enrolment_photo(engine, load_rgb(FACES / rel))


def _listed(gate: Gate, id_number: str = "", name: str = "x", face: np.ndarray | None = None
            ) -> None:
    store = gate.service.store
    with store.transaction() as db:
        db.execute("INSERT INTO watchlists (name, source, received_at) VALUES ('police', 't', 't')")
        row = db.execute("INSERT INTO watchlist_persons (list, entry_id, name, id_number, reason)"
                         " VALUES ('police', 'P1', ?, ?, 'wanted')", (name, id_number)).lastrowid
        if face is not None:
            db.execute("INSERT INTO watchlist_faces (person_row, encoding) VALUES (?,?)",
                       (row, face.tobytes()))
    gate.service.refresh_watchlists()


@pytest.mark.slow
def test_registration_screening_and_police_alerts(tmp_path: Path, broker: LocalBroker) -> None:
    police = Subscriber(broker.port, "police", ["campus/+/+/alerts/#"])
    host = Subscriber(broker.port, "guard-zqxx", ["campus/zqxx/staff/#"])
    with running_gate(tmp_path, FACES, site="zqxx", mqtt=_mqtt(tmp_path, broker)) as gate:
        desk = gate.service.visitors
        with pytest.raises(VisitorError, match="check digit"):
            desk.register(_reg(id_number="330702199001011230"), "guard")
        with pytest.raises(VisitorError, match="host"):
            desk.register(_reg(host_id="obama"), "guard")  # a student is no host
        cleared = desk.register(_reg(), "guard")
        assert (cleared["screening"], cleared["status"]) == ("cleared", "awaiting_host")
        assert cleared["id_number"] == "330702********1237"
        _t, alert = police.get()
        assert alert["type"] == "visitor_registered"
        assert alert["visitor"]["id_number"] == "330702********1237"  # masked by default
        topic, note = host.get()
        assert topic == "campus/zqxx/staff/staff/notifications"
        assert note["type"] == "visitor_waiting" and note["visitor"]["name"] == "Wang Fang"

        _listed(gate, id_number="11010519491231002X")
        flagged = desk.register(_reg(name="Li Si", id_number="11010519491231002X"), "guard")
        assert (flagged["screening"], flagged["status"]) == ("flagged", "flagged")
        assert "watch list police/P1" in flagged["screening_reasons"][0]
        got = police.until(lambda m: m[1]["type"] == "visitor_flagged")
        flag_alert = got[-1][1]
        assert flag_alert["severity"] == "critical"
        assert flag_alert["visitor"]["id_number"] == "110105********002X"
        # the guard must confirm before anything else happens
        with pytest.raises(VisitorError, match="not waiting for the host"):
            desk.host_decision(flagged["id"], "staff", True)
        refused = desk.guard_decision(flagged["id"], "guard", admit=False, note="police called")
        assert refused["status"] == "refused"
    police.close()
    host.close()


@pytest.mark.slow
def test_no_topic_carries_a_full_number_even_when_configured(tmp_path: Path,
                                                             broker: LocalBroker) -> None:
    """``police_full_id`` no longer unmasks: the number is masked on every topic (the full
    number stays in the visitor record, for the roles that need it)."""
    police = Subscriber(broker.port, "police", ["campus/+/+/alerts/#"])
    with running_gate(tmp_path, FACES, site="zqxx", mqtt=_mqtt(tmp_path, broker),
                      visitors={"police_full_id": True}) as gate:
        v = gate.service.visitors.register(_reg(), "guard")
        assert v["id_number"] == "330702********1237"  # the console still masks
        _t, alert = police.get()
        assert alert["visitor"]["id_number"] == "330702********1237"
        assert VALID_ID not in json.dumps(alert)
        assert gate.service.visitors.get(v["id"], full_id=True)["id_number"] == VALID_ID
    police.close()


@pytest.mark.slow
def test_watchlist_hit_by_face(tmp_path: Path) -> None:
    with running_gate(tmp_path, FACES) as gate:
        _listed(gate, name="someone else", face=_face("train/obama/obama.jpg"))
        v = gate.service.visitors.register(_reg(name="Visitor"), "guard",
                                           face=_face("test/obama1.jpg"))
        assert v["screening"] == "flagged"
        assert "face matches watch list entry police/P1" in v["screening_reasons"][0]
        other = gate.service.visitors.register(_reg(name="Other",
                                                    id_number="110101198505050016"),
                                               "guard", face=_face("train/biden/biden.jpg"))
        assert other["screening"] == "cleared"


class _SlowHandler(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        time.sleep(1.5)
        body = json.dumps({"result": "clear"}).encode()
        self.send_response(200)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_a: Any) -> None:
        pass


@pytest.mark.slow
def test_remote_screening_down_is_unavailable_and_needs_the_guard(tmp_path: Path) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _SlowHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/check"
    try:
        with running_gate(tmp_path, FACES, visitors={"remote_screening_url": url,
                                                     "remote_timeout_s": 0.3}) as gate:
            desk = gate.service.visitors
            v = desk.register(_reg(), "guard")
            assert (v["screening"], v["status"]) == ("unavailable", "screening_unavailable")
            assert "ReadTimeout" in v["screening_reasons"][0]
            admitted = desk.guard_decision(v["id"], "guard", admit=True, note="known parent")
            assert admitted["status"] == "awaiting_host"
            approved = desk.host_decision(v["id"], "staff", True, method="phone")
            assert approved["status"] == "approved" and approved["pass_code"].startswith("CGV1:")
            assert approved["approved_by"] == "staff (phone)"
    finally:
        server.shutdown()


@pytest.mark.slow
def test_pass_card_window_route_checkout_and_overstay(tmp_path: Path) -> None:
    with running_gate(tmp_path, FACES) as gate:
        desk, store = gate.service.visitors, gate.service.store
        v = desk.register(_reg(), "guard")
        desk.host_decision(v["id"], "staff", True)
        desk.bind_card(v["id"], "hex:7700000001", "guard")
        d = gate.tap("7700000001")
        assert (d.event.type, d.event.decision, d.event.reason) == ("visitor_in", "open",
                                                                    "valid_pass")
        # the QR code of the pass works at a scanner too
        code = desk.get(v["id"])["pass_code"]
        qr = gate.service.engine.on_card(CardRead(None, "qr-line", "L1-in", "entry",
                                                  gate.service.store.now(), time.monotonic(),
                                                  code=code))
        assert qr.event.type == "visitor_in" and qr.event.method == "qr"
        # past the window: refused at the gate, and an overstay for the guard and the host
        past = (store.now() - dt.timedelta(minutes=5)).isoformat(timespec="milliseconds")
        with store.transaction() as db:
            db.execute("UPDATE visitors SET valid_until = ? WHERE id = ?", (past, v["id"]))
        time.sleep(0.3)
        late = gate.tap("7700000001")
        assert (late.event.decision, late.event.reason) == ("deny", "pass_expired")
        assert desk.overstays() == 1 and desk.overstays() == 0
        assert "visitor_overstay" in gate.alerts()
        assert [n["type"] for n in gate.outbox("/staff/staff/")] == ["visitor_waiting",
                                                                      "visitor_overstay"]
        out = gate.tap("7700000001", reader="L1-out")
        assert (out.event.type, out.event.reason) == ("visitor_out", "checkout")
        final = desk.get(v["id"])
        assert final["status"] == "checked_out"
        assert [r["place"] for r in final["route"]] == ["L1", "L1", "L1"]
        time.sleep(0.3)
        assert gate.tap("7700000001").event.decision == "deny"  # the card died at checkout
        report = run_gate("report", "visitors", "--json",
                          env={"GATE_DATA_DIR": str(tmp_path / "data")})
        [line] = [json.loads(x) for x in report.stdout.splitlines()]
        assert line["id_number"] == "330702********1237" and line["status"] == "checked_out"
        assert [r["place"] for r in line["route"]] == ["L1", "L1", "L1"]


@pytest.mark.slow
def test_route_from_an_inside_camera_and_restricted_zone(tmp_path: Path) -> None:
    from tests.test_mqtt import _walking_video

    video = _walking_video(tmp_path)
    cameras = [{"id": "lab-cam", "source": str(video), "role": "inside", "zone": "chemistry lab",
                "restricted": True, "max_fps": 10}]
    with running_gate(tmp_path, FACES, cameras=cameras) as gate:
        desk = gate.service.visitors
        v = desk.register(_reg(), "guard", face=_face("train/obama/obama2.jpg"))
        desk.host_decision(v["id"], "staff", True)
        gate.service.refresh_visitors()
        wait_for(lambda: bool(desk.get(v["id"])["route"]), timeout=60,
                 what="the inside camera to see the visitor")
        [step] = desk.get(v["id"])["route"]
        assert (step["place"], step["method"], step["restricted"]) == ("chemistry lab", "face", 1)
        assert "visitor_restricted_zone" in gate.alerts()
        # the alert comes from a camera, so it carries what the camera saw (issue 26)
        alerts = gate.service.store.query("SELECT snapshot, details FROM alerts WHERE type ="
                                          " 'visitor_restricted_zone' ORDER BY ts")
        assert all(a["snapshot"] for a in alerts)  # one per track seen there, each with its own
        alert = alerts[0]
        assert json.loads(alert["details"])["zone"] == "chemistry lab"
        wait_for(lambda: gate.service.snapshots.read(alert["snapshot"], "crop") is not None,
                 what="the restricted-zone snapshot on disk")
        assert gate.service.snapshots.read(alert["snapshot"], "scene")[:2] == b"\xff\xd8"


def photo_b64(rel: str) -> str:
    return base64.b64encode((FACES / rel).read_bytes()).decode()


def test_full_width_id_is_matched_and_a_document_under_another_name_is_flagged(
        store: Any) -> None:
    """An ID typed with a Chinese input method in full-width mode is the same number: it
    must hit the watch list; and the same document under another name needs the guard."""
    from gate.config import parse_config
    from gate.journal import Journal
    from gate.records import Person
    from gate.visitors import VisitorDesk

    config = parse_config({"site": "zqxx"})
    desk = VisitorDesk(config, store, Journal(config, store))
    store.upsert_person(Person("staff", "Teacher Wang", role="staff"))
    with store.transaction() as db:
        db.execute("INSERT INTO watchlists (name, source, received_at) VALUES ('police', 't', 't')")
        db.execute("INSERT INTO watchlist_persons (list, entry_id, name, id_number, reason)"
                   " VALUES ('police', 'P1', 'Zhang San', '11010519491231002X', 'wanted')")
    full_width = "１１０１０５１９４９１２３１００２Ｘ"
    hit = desk.register(_reg(name="Li Si", id_number=full_width), "guard")
    assert hit["screening"] == "flagged" and hit["status"] == "flagged"
    assert any("P1" in r for r in hit["screening_reasons"])
    assert desk.get(hit["id"], full_id=True)["id_number"] == "11010519491231002X"
    first = desk.register(_reg(name="Wang Fang"), "guard")
    assert first["screening"] == "cleared"
    again = desk.register(_reg(name="Wang Xiaofang"), "guard")
    assert again["screening"] == "flagged"
    assert any("registered as Wang Fang" in r for r in again["screening_reasons"])
    with pytest.raises(VisitorError, match="name"):
        desk.register(_reg(name="   "), "guard")
