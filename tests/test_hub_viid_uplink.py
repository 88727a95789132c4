"""The gateway's uplink on PostgreSQL against the simulated upper platform: an unanswered
POST is settled by looking the objects up (never sent twice), an object the platform keeps
refusing is set aside without holding up the others, and hits become notifications."""

from __future__ import annotations

import base64
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from psycopg.types.json import Jsonb

from gate.hub.config import HubConfig, parse_hub_config
from gate.hub.connect import pg_connect
from gate.hub.schema import migrate
from gate.hub.viid import dispositions, outbox
from gate.hub.viid.client import ViidClient
from gate.hub.viid.gateway import Uplink
from gate.hub.viid.server import ThreadServer
from gate.hub.viid.simulator import SimState, create_app, disposition_object
from tests.conftest import AT
from tests.hub_helpers import Postgres, postgres, wait_for  # noqa: F401
from tests.test_hub_viid_objects import jpeg

SERVER = "34010000005030000001"
LOWER = "34010000002000000001"
PASSWORD = "viid-secret"
DEVICE = "34010000001190000001"


@contextmanager
def running(tmp_path: Path, dsn: str, timeout_s: float = 10.0,
            start: bool = True) -> Iterator[tuple[SimState, HubConfig, Uplink]]:
    state = SimState(SERVER, {LOWER: PASSWORD})
    server = ThreadServer(create_app(state), "127.0.0.1", 0).start()
    secret = tmp_path / "viid.pass"
    secret.write_text(PASSWORD)
    config = parse_hub_config({"postgres": {"dsn": dsn}, "viid": {
        "upper_url": f"http://127.0.0.1:{server.port}", "upper_id": SERVER,
        "platform_id": LOWER, "org_code": "340100000000", "password_file": str(secret),
        "keepalive_s": 600, "batch": 20, "timeout_s": timeout_s,
        "devices": {"zqxx/main": DEVICE}}})
    with pg_connect(config) as conn:
        migrate(conn)
    stop = threading.Event()
    client = ViidClient(config.viid.upper_url, LOWER, "", PASSWORD, timeout_s)
    uplink = Uplink(config, stop, client, lambda: pg_connect(config))
    thread = threading.Thread(target=uplink.run, daemon=True)
    if start:
        thread.start()
    try:
        yield state, config, uplink
    finally:
        stop.set()
        if start:
            thread.join(30)
        client.close()
        server.stop()


def face_alert(n: int, **extra: Any) -> tuple[str, str, str, dict[str, Any]]:
    return ("alert", "zqxx", "main", {
        "schema": "campus-gate/alert/1", "id": str(uuid.uuid4()),
        "ts": AT.isoformat(timespec="milliseconds"),
        "site": "zqxx", "gate": "main", "type": "card_face_mismatch", "severity": "critical",
        "snapshot_jpeg": base64.b64encode(jpeg(20 + n, 20)).decode(), **extra})


def enqueue(config: HubConfig, messages: list[tuple[str, str, str, dict[str, Any]]]) -> int:
    with pg_connect(config) as conn:
        return outbox.enqueue(config, conn, messages, AT)


def states(config: HubConfig) -> dict[str, int]:
    with pg_connect(config) as conn:
        return {str(r[0]): int(r[1]) for r in conn.execute(
            "SELECT state, count(*) FROM viid_outbox GROUP BY state")}


def test_an_unanswered_post_is_settled_by_lookup_and_never_sent_twice(
        postgres: Postgres, tmp_path: Path) -> None:  # noqa: F811
    with running(tmp_path, postgres.new_database(), timeout_s=1.0) as (state, config, _up):
        wait_for(lambda: LOWER in state.registered, 20, "registration")
        state.mode, state.slow_s = "slow", 2.0        # answers come after the client gave up
        messages = [face_alert(n) for n in range(30)]
        assert enqueue(config, messages) == 30
        enqueue(config, messages)                     # a redelivered batch adds nothing
        # the first batch (20) reaches the platform, its answer never the gateway; it keeps
        # trying to look them up (the lookups time out too) and sends nothing more meanwhile
        wait_for(lambda: len(state.objects["face"]) == config.viid.batch, 60,
                 "the platform holding the first batch though its POST went unanswered")
        assert states(config) == {"inflight": 20, "pending": 10}
        state.mode = "ok"
        wait_for(lambda: states(config) == {"sent": 30}, 60, "every row settled")
        assert state.duplicates() == {}
        with pg_connect(config) as conn:
            assert conn.execute("SELECT count(*) FROM viid_outbox WHERE body IS NOT NULL"
                                ).fetchone() == (0,)  # images dropped once delivered


def test_an_object_the_platform_keeps_refusing_is_set_aside(
        postgres: Postgres, tmp_path: Path) -> None:  # noqa: F811
    with running(tmp_path, postgres.new_database()) as (state, config, _up):
        with pg_connect(config) as conn:              # an object that breaks the schema
            conn.execute("INSERT INTO viid_outbox (site, gate, source_id, kind, object_id,"
                         " body) VALUES ('zqxx', 'main', 'bad', 'face', 'bad-id', %s)",
                         (Jsonb({"FaceID": "bad-id", "InfoKind": 1}),))
        enqueue(config, [face_alert(n) for n in range(10)])
        wait_for(lambda: states(config) == {"sent": 10, "refused": 1}, 60,
                 "the good ones sent, the bad one set aside")
        with pg_connect(config) as conn:
            (alert,) = conn.execute("SELECT payload FROM alerts WHERE type = 'viid_refused'"
                                    ).fetchall()
        assert alert[0]["object_id"] == "bad-id" and alert[0]["status_code"] == 8
        assert len(state.objects["face"]) == 10


def test_a_face_hit_on_a_person_disposition_goes_up_as_a_notification(
        postgres: Postgres, tmp_path: Path) -> None:  # noqa: F811
    with running(tmp_path, postgres.new_database()) as (state, config, _up):
        issued = disposition_object(state, id_number="110105194912310021",
                                    photo_b64=base64.b64encode(jpeg()).decode())
        with pg_connect(config) as conn:
            dispositions.save(conn, issued, active=True)
        hit = face_alert(1, type="watchlist_face", list="viid",
                         entry_id=issued["DispositionID"])
        enqueue(config, [hit, face_alert(2, type="watchlist_face", list="police",
                                         entry_id=issued["DispositionID"])])
        (note,) = wait_for(lambda: list(state.objects["notification"].values()), 30,
                           "the notification")
        assert note["DispositionID"] == issued["DispositionID"]
        face = note["FaceObject"]
        assert face["DeviceID"] == DEVICE and note["CntObjectID"] == face["FaceID"]
        (image,) = face["SubImageList"]["SubImageInfoObject"]
        assert base64.b64decode(image["Data"]) == jpeg(21, 20)
        wait_for(lambda: len(state.objects["face"]) == 2, 30, "both faces as captures")
        assert state.invalid == []


def test_the_gateways_endpoints_challenge_and_check_what_they_take(
        postgres: Postgres, tmp_path: Path) -> None:  # noqa: F811
    import time

    import httpx
    from fastapi.testclient import TestClient

    from gate.hub.viid import downward
    from gate.hub.viid.digest import DigestVerifier

    with running(tmp_path, postgres.new_database(), start=False) as (state, config, _up):
        controls = downward.Controls(config, lambda: pg_connect(config),
                                     lambda: AT)
        app = downward.create_app(config, controls,
                                  DigestVerifier("VIID", {SERVER: PASSWORD}, time.monotonic))
        client = TestClient(app)
        body = {"SubscribeListObject": {"SubscribeObject": [{
            "SubscribeID": "340100000000022026030108000000001", "Title": "faces",
            "SubscribeDetail": "12", "ResourceURI": LOWER, "ApplicantName": "x",
            "ApplicantOrg": "y", "BeginTime": "20260301080000", "EndTime": "20260401080000",
            "ReceiveAddr": "http://upper/VIID/SubscribeNotifications"}]}}
        assert client.post("/VIID/Subscribes", json=body).status_code == 401
        ok = client.post("/VIID/Subscribes", json=body, auth=httpx.DigestAuth(SERVER, PASSWORD))
        assert ok.json()["ResponseStatusListObject"]["ResponseStatusObject"][0][
            "StatusCode"] == 0
        bad = disposition_object(state, plate="京A12345")
        del bad["Reason"]                                   # a required field missing
        answer = client.post("/VIID/Dispositions", auth=httpx.DigestAuth(SERVER, PASSWORD),
                             json={"DispositionListObject": {"DispositionObject": [bad]}})
        (status,) = answer.json()["ResponseStatusListObject"]["ResponseStatusObject"]
        assert status["StatusCode"] == 8 and "Reason" in status["StatusString"]
        with pg_connect(config) as conn:
            assert conn.execute("SELECT count(*) FROM viid_subscribes").fetchone() == (1,)
            assert conn.execute("SELECT count(*) FROM viid_dispositions").fetchone() == (0,)


def test_a_gate_without_a_device_code_sends_nothing_and_says_so(
        postgres: Postgres, tmp_path: Path) -> None:  # noqa: F811
    with running(tmp_path, postgres.new_database(), start=False) as (_state, config, _up):
        kind, _site, _gate, payload = face_alert(1)
        assert enqueue(config, [(kind, "hxxx", "main", {**payload, "site": "hxxx"})]) == 0
        with pg_connect(config) as conn:
            assert conn.execute("SELECT reason FROM rejected").fetchall() == [
                ("viid: no device code for hxxx/main",)]
