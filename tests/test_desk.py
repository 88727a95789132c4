"""The visitor desk's ID-card reader and the host's feed, fast: config, the hand-over of card
reads, registration from a chip read (and its refusals), the host's WebSocket and MQTT topic.
The browser side is tests/test_desk_ui.py; the reader over a pty is tests/test_idcard.py."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from gate.config import ConfigError, parse_config
from gate.console.app import create_app
from gate.console.auth import COOKIE, add_user
from gate.desk_reader import TTL_S, DeskCards
from gate.records import Person
from gate.service import Service
from rfid.idcard import IdCard
from rfid.idcard_reader import IdCardRead
from tests.argon2_cheap import cheap_argon2
from tests.idcard_sim import sample_card
from tests.test_console_routes import PASSWORDS

PASSWORDS = {**PASSWORDS, "wang": "host-password-1"}
TZ = dt.timezone(dt.timedelta(hours=8))
EXPIRED = dt.date(2021, 6, 30)


def _read(card: IdCard) -> IdCardRead:
    return IdCardRead(card, "desk", dt.datetime(2026, 3, 2, 9, 0, tzinfo=TZ), 0.0)


# Config ------------------------------------------------------------------------------------------


def _error(data: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as exc:
        parse_config(data)
    return str(exc.value)


def test_desk_reader_config_is_validated() -> None:
    config = parse_config({"visitors": {"desk_reader": {"port": "/dev/serial/by-id/x"}}})
    assert config.visitors.desk_reader is not None
    assert (config.visitors.desk_reader.baud, config.visitors.desk_reader.poll_ms) == (115200, 500)
    assert parse_config({}).visitors.desk_reader is None  # typing stays
    assert _error({"visitors": {"desk_reader": {"port": "/dev/x", "baud": 115201}}}).startswith(
        "visitors.desk_reader.baud: must be one of")
    assert _error({"visitors": {"desk_reader": {"port": ""}}}).startswith(
        "visitors.desk_reader.port:")
    assert _error({"visitors": {"desk_reader": {"port": "/dev/x", "poll_ms": 10}}}).startswith(
        "visitors.desk_reader.poll_ms:")
    assert "unknown key" in _error({"visitors": {"desk_reader": {"port": "/dev/x", "bud": 1}}})
    shared = {"lanes": [{"id": "L1", "readers": [
        {"id": "a", "port": "/dev/ttyUSB0", "direction": "entry"}]}],
        "visitors": {"desk_reader": {"port": "/dev/ttyUSB0"}}}
    assert "used by more than one device: lanes[0].readers[0], visitors.desk_reader" in _error(
        shared)


# The hand-over of reads --------------------------------------------------------------------------


def test_card_reads_are_handed_over_by_sequence_and_token() -> None:
    now = [dt.datetime(2026, 3, 2, 9, 0, tzinfo=TZ)]
    cards = DeskCards(lambda: now[0])
    assert cards.latest(0) is None
    cards.on_read(_read(sample_card()))
    first = cards.latest(0)
    assert first is not None and first["seq"] == 1 and not first["expired"]
    assert first["fields"]["number"] == "11010519491231002X" and "photo" not in str(first)
    assert cards.latest(1) is None  # the page has it
    cards.on_read(_read(sample_card(valid_to=EXPIRED)))
    second = cards.latest(1)
    assert second is not None and second["expired"] and second["token"] != first["token"]
    assert cards.card(first["token"]) == sample_card()
    assert cards.card("forged") is None
    now[0] += dt.timedelta(seconds=TTL_S)
    assert cards.card(first["token"]) is None and cards.latest(0) is None  # too old


# The console -------------------------------------------------------------------------------------


def _service(tmp_path: Path, **visitors: Any) -> Service:
    config = parse_config({"site": "test", "gate": "main", "data_dir": str(tmp_path / "data"),
                           "lanes": [{"id": "L1"}], "console": {"enabled": False},
                           "visitors": {"notify_police": False, **visitors}})
    svc = Service(config, tmp_path / "data")
    add_user(svc.store, "guard", PASSWORDS["guard"], "guard")
    svc.store.upsert_person(Person("staff", "Teacher Wang", role="staff"))
    add_user(svc.store, "wang", PASSWORDS["wang"], "host", "staff")
    return svc


@pytest.fixture
def service(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Service]:
    cheap_argon2(monkeypatch)
    svc = _service(tmp_path, desk_reader={"port": str(tmp_path / "no-such-tty")})
    yield svc
    svc.store.close()


def _client(service: Service, user: str) -> tuple[TestClient, dict[str, str]]:
    c = TestClient(create_app(service), base_url="https://testserver")
    r = c.post("/api/login", json={"username": user, "password": PASSWORDS[user]})
    assert r.status_code == 200, r.text
    return c, {"X-CSRF-Token": r.json()["csrf"]}


def _ws_headers(c: TestClient) -> dict[str, str]:
    """The session cookie is Secure; the test client's WebSocket is ws://, so hand it over."""
    return {"cookie": f"{COOKIE}={c.cookies.get(COOKIE)}"}


BODY = {"name": "typed name", "id_type": "passport", "id_number": "E12345678",
        "purpose": "家长会", "host_id": "staff"}


def test_no_reader_configured_keeps_typing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                           ) -> None:
    cheap_argon2(monkeypatch)
    svc = _service(tmp_path)
    try:
        c, csrf = _client(svc, "guard")
        with c:
            assert c.get("/api/desk/idcard").json() == {
                "configured": False, "connected": False, "error": None, "read": None}
            v = c.post("/api/visitors", json=BODY, headers=csrf).json()
            assert (v["name"], v["read_from_chip"]) == ("typed name", False)
    finally:
        svc.store.close()


def test_registration_from_a_chip_read(service: Service) -> None:
    c, csrf = _client(service, "guard")
    with c:
        state = c.get("/api/desk/idcard").json()
        assert state["configured"] and not state["connected"] and state["read"] is None
        service.desk_cards.on_read(_read(sample_card()))
        read = c.get("/api/desk/idcard?after=0").json()["read"]
        assert read["fields"]["name"] == "王小明" and not read["expired"]
        # The page sends what it locked; the server takes the chip's words, not the page's.
        r = c.post("/api/visitors", json={**BODY, "chip_token": read["token"]}, headers=csrf)
        assert r.status_code == 200, r.text
        v = r.json()
        assert (v["name"], v["id_type"], v["read_from_chip"]) == ("王小明", "resident-id", True)
        assert v["id_number"] == "110105********002X"
        row = service.store.query("SELECT read_from_chip, document_valid_until FROM visitors"
                                  " WHERE id = ?", (v["id"],))[0]
        assert (row[0], row[1]) == (1, "2035-03-01")
        audit = service.store.query("SELECT details FROM audit_log WHERE target = ? AND action ="
                                    " 'visitor_registered'", (v["id"],))
        assert json.loads(audit[0][0])["read_from_chip"] is True

        forged = c.post("/api/visitors", json={**BODY, "chip_token": "x" * 20}, headers=csrf)
        assert (forged.status_code, forged.json()["code"]) == (422, "chip_read_gone")
        # Used up: not offered to the next page, not accepted for a second visit.
        assert c.get("/api/desk/idcard?after=0").json()["read"] is None
        again = c.post("/api/visitors", json={**BODY, "chip_token": read["token"]},
                       headers=csrf)
        assert (again.status_code, again.json()["code"]) == (422, "chip_read_gone")


def test_an_expired_card_is_refused_with_its_date(service: Service) -> None:
    c, csrf = _client(service, "guard")
    with c:
        service.desk_cards.on_read(_read(sample_card(valid_to=EXPIRED)))
        read = c.get("/api/desk/idcard").json()["read"]
        assert read["expired"] and read["fields"]["valid_to"] == "2021-06-30"
        r = c.post("/api/visitors", json={**BODY, "chip_token": read["token"]}, headers=csrf)
        assert (r.status_code, r.json()["code"]) == (422, "visitor_document_expired")
        assert "2021-06-30" in r.json()["detail"]
        assert service.store.query("SELECT COUNT(*) FROM visitors")[0][0] == 0


def test_hosts_do_not_see_the_desk_reader(service: Service) -> None:
    c, _csrf = _client(service, "wang")
    with c:
        assert c.get("/api/desk/idcard").status_code == 403


def test_the_host_hears_of_a_visitor_and_a_late_answer(service: Service) -> None:
    host, host_csrf = _client(service, "wang")
    guard, csrf = _client(service, "guard")
    with host, guard:
        with pytest.raises(WebSocketDisconnect) as refused, \
                guard.websocket_connect("/api/host/live", headers=_ws_headers(guard)) as ws:
            ws.receive_text()
        assert refused.value.code == 4403  # a guard has the gate's feed, not a host's
        with host.websocket_connect("/api/host/live", headers=_ws_headers(host)) as ws:
            v = guard.post("/api/visitors", json=BODY, headers=csrf).json()
            said = json.loads(ws.receive_text())
            assert said["kind"] == "visitor_waiting"
            assert said["visitor"] == {"id": v["id"], "name": "typed name", "purpose": "家长会"}
            assert "E12345678" not in json.dumps(said)
            # The window ran out before the host answered: the answer re-issues it.
            with service.store.transaction() as db:
                db.execute("UPDATE visitors SET valid_from = ?, valid_until = ? WHERE id = ?",
                           ("2026-03-02T08:00:00+08:00", "2026-03-02T08:45:00+08:00", v["id"]))
            r = host.post(f"/api/visitors/{v['id']}/host", json={"approve": True},
                          headers=host_csrf)
            assert r.status_code == 200, r.text
            said = json.loads(ws.receive_text())
            assert said["kind"] == "visitor_pass_reissued"
            assert said["valid_until"] == r.json()["valid_until"] > said["valid_from"]
    topics = [(row[0], json.loads(row[1])["type"]) for row in service.store.query(
        "SELECT topic, payload FROM outbox ORDER BY seq")]
    assert topics == [("campus/test/staff/staff/notifications", "visitor_waiting"),
                      ("campus/test/staff/staff/notifications", "visitor_pass_reissued")]


# gate doctor -------------------------------------------------------------------------------------


def test_doctor_asks_the_desk_reader(tmp_path: Path) -> None:
    from gate.config import DeskReaderConfig
    from gate.doctor import check_desk_reader
    from tests.idcard_sim import SimulatedIdReader
    from tests.ptys import PtyPort

    silent = PtyPort()
    try:
        verdict = check_desk_reader(DeskReaderConfig(port=silent.path, baud=9600))
        assert verdict.status == "fail" and "no valid answer" in verdict.detail
    finally:
        silent.close()
    port = PtyPort()
    sim = SimulatedIdReader(port)
    try:
        verdict = check_desk_reader(DeskReaderConfig(port=port.path))
        assert verdict.status == "ok" and "no card" in verdict.detail
        sim.card = sample_card()
        verdict = check_desk_reader(DeskReaderConfig(port=port.path))
        assert verdict.status == "ok" and verdict.detail.endswith("a card was read")
        assert "王小明" not in json.dumps(verdict.data, ensure_ascii=False)
    finally:
        sim.close()
        port.close()
    missing = check_desk_reader(DeskReaderConfig(port=str(tmp_path / "gone")))
    assert missing.status == "fail" and "does not exist" in missing.detail


# The host's MQTT topic, through a real Mosquitto -----------------------------------------------


@pytest.mark.slow
def test_the_bridge_hears_waiting_and_reissued_on_the_host_topic(tmp_path: Path,
                                                                  broker: Any) -> None:
    from gate.bench.scenes import FACES
    from gate.visitors import Registration
    from tests.mqtt_helpers import Subscriber, gate_mqtt_section
    from tests.scenario import running_gate

    bridge = Subscriber(broker.port, "bridge-zqxx", ["campus/zqxx/staff/+/notifications"])
    try:
        with running_gate(tmp_path, FACES, site="zqxx", visitors={"notify_police": False},
                          mqtt=gate_mqtt_section(tmp_path, broker.port)) as gate:
            desk = gate.service.visitors
            v = desk.register(Registration("Wang Fang", "resident-id", "330702199001011237",
                                           "", "parent meeting", "staff", 60,
                                           read_from_chip=True), "guard")
            topic, note = bridge.get()
            assert (topic, note["type"]) == ("campus/zqxx/staff/staff/notifications",
                                             "visitor_waiting")
            with gate.service.store.transaction() as db:  # the window ran out unanswered
                db.execute("UPDATE visitors SET valid_from = ?, valid_until = ? WHERE id = ?",
                           ("2026-03-02T08:00:00+08:00", "2026-03-02T09:00:00+08:00", v["id"]))
            approved = desk.host_decision(v["id"], "wang", True)
            topic, note = bridge.get()
            assert (topic, note["type"]) == ("campus/zqxx/staff/staff/notifications",
                                             "visitor_pass_reissued")
            assert note["visitor"]["id"] == v["id"]
            assert note["visitor"]["id_number"] == "330702********1237"
            assert note["valid_until"] == approved["valid_until"]
            assert "330702199001011237" not in json.dumps(note)
    finally:
        bridge.close()
