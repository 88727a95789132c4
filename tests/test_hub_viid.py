"""The GA/T 1400 gateway on the real cluster and PostgreSQL, against the simulated upper
platform: captures up exactly once across a platform outage and a SIGKILL of the gateway,
a plate disposition down to every gate's watch list and its hit back as a notification."""

from __future__ import annotations

import base64
import io
import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pika
import psycopg
import pytest
from PIL import Image

from gate.hub.config import HubConfig, parse_hub_config
from gate.hub.simulate import now_rfc3339, site_of
from gate.hub.viid import gateway
from gate.hub.viid.server import ThreadServer
from gate.hub.viid.simulator import (
    SimState,
    create_app,
    disposition_object,
    revoke_object,
    send_dispositions,
)
from tests.hub_helpers import (
    SIM_GATES,
    HubProcess,
    hub_config,  # noqa: F401
    needs_hub,
    postgres,  # noqa: F401
    rabbit,  # noqa: F401
    toml_of,
    wait_for,
)
from tests.test_hub_ingest import declare_queue, running_consumer
from tests.test_hub_transport import Client
from tests.test_hub_watchlists import BridgedGate

pytestmark = needs_hub

SERVER = "34010000005030000001"
LOWER = "34010000002000000001"
PASSWORD = "viid-secret"
OUTAGE_S = float(os.environ.get("VIID_OUTAGE_SECONDS", "60"))   # the 60 s
EXTRA_GATES = [("zqxx", "main"), ("zqxx", "east"), ("hxxx", "main")]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def device_codes() -> dict[str, str]:
    where = [(site_of(i), "main") for i in range(SIM_GATES)] + EXTRA_GATES
    return {f"{site}/{gate}": f"3401000000119{n:07d}" for n, (site, gate) in enumerate(where)}


def tiny_jpeg(seed: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (32, 24), (seed % 256, 90, 30)).save(out, "JPEG")
    return out.getvalue()


def viid_config(base: HubConfig, tmp_path: Path, upper_url: str, **viid: Any) -> HubConfig:
    secret = tmp_path / "viid.pass"
    secret.write_text(PASSWORD + "\n")
    data = base.model_dump(mode="json", exclude_none=True)
    data["viid"] = {"upper_url": upper_url, "upper_id": SERVER, "platform_id": LOWER,
                    "org_code": "340100000000", "password_file": str(secret),
                    "bind": f"127.0.0.1:{free_port()}", "keepalive_s": 2, "batch": 50,
                    "queue": f"hub.viid.t{uuid.uuid4().hex[:8]}", "devices": device_codes(),
                    **viid}
    return parse_hub_config(data)


def declare_viid_queue(config: HubConfig) -> None:
    """As the gateway declares it: messages published before it exists would go nowhere."""
    with pika.BlockingConnection(pika.URLParameters(config.amqp.urls[0])) as conn:
        channel = conn.channel()
        channel.queue_declare(config.viid.queue, durable=True,
                              arguments={"x-queue-type": "quorum"})
        for key in gateway.binding_keys(config.root):
            channel.queue_bind(config.viid.queue, config.amqp.exchange, routing_key=key)


@contextmanager
def simulator(**kwargs: Any) -> Iterator[tuple[SimState, str]]:
    state = SimState(SERVER, {LOWER: PASSWORD}, **kwargs)
    server = ThreadServer(create_app(state), "127.0.0.1", 0).start()
    try:
        yield state, f"http://127.0.0.1:{server.port}"
    finally:
        server.stop()


def alert(site: str, kind: str, n: int, **extra: Any) -> tuple[str, dict[str, Any]]:
    body = {"schema": "campus-gate/alert/1", "id": str(uuid.uuid4()), "ts": now_rfc3339(),
            "site": site, "gate": "main", "type": kind, "severity": "warning", "lane": "L1",
            "person": None, "snapshot": f"e{n}",
            "snapshot_jpeg": base64.b64encode(tiny_jpeg(n)).decode(), **extra}
    return f"campus.{site}.main.alerts.{kind}", body


def pupil_arrival(site: str) -> tuple[str, dict[str, Any]]:
    body = {"schema": "campus-gate/event/1", "id": str(uuid.uuid4()), "ts": now_rfc3339(),
            "site": site, "gate": "main", "type": "arrival", "severity": "info", "lane": "L1",
            "direction": "entry", "method": "card+face", "decision": "admit", "reason": None,
            "person": {"id": "S1", "name": "x", "role": "student", "class": "3-2"}}
    return f"campus.{site}.main.events.arrival", body


def publish(port: int, messages: list[tuple[str, dict[str, Any]]]) -> None:
    """Each gate publishes its own messages to the cluster's MQTT plugin (QoS 1, as the
    gates' bridges do), every one acknowledged."""
    by_site: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for key, body in messages:
        by_site.setdefault(body["site"], []).append((key.replace(".", "/"), body))
    for site, items in by_site.items():
        client = Client(port, user=f"gate-{site}-main")
        try:
            infos = [client.client.publish(topic, json.dumps(body), qos=1)
                     for topic, body in items]
            wait_for(lambda infos=infos: all(i.is_published() for i in infos), 60,
                     f"{site}'s messages acknowledged", interval=0.02)
        finally:
            client.close()


def outbox_states(config: HubConfig) -> dict[str, int]:
    with psycopg.connect(config.postgres.dsn, autocommit=True) as conn:
        return {str(r[0]): int(r[1]) for r in conn.execute(
            "SELECT state, count(*) FROM viid_outbox GROUP BY state")}


def run_outage_and_kill(config: HubConfig, port: int, tmp_path: Path, state: SimState,
                        records: int, outage_s: float, schools: int) -> dict[str, Any]:
    cfg_path = tmp_path / "hub.toml"
    cfg_path.write_text(toml_of(config))
    declare_viid_queue(config)
    log = tmp_path / "viid.log"
    gw = HubProcess(cfg_path, log, "viid")
    try:
        wait_for(lambda: LOWER in state.registered, 60, "registration")
        state.mode = "503"                                   # the platform goes away
        outage_began = time.monotonic()
        sites = [site_of(i) for i in range(schools)]
        faces = records // 2
        msgs = [alert(sites[n % len(sites)], "card_face_mismatch", n) for n in range(faces)]
        msgs += [alert(sites[n % len(sites)], "watchlist_plate", n, plate=f"京A{n:05d}",
                       match="possible", list="police") for n in range(records - faces)]
        msgs += [pupil_arrival(sites[n % len(sites)]) for n in range(records // 5)]
        publish(port, msgs)
        wait_for(lambda: sum(outbox_states(config).values()) == records, 120,
                 "every capture in the outbox")
        wait_for(lambda: time.monotonic() - outage_began >= outage_s, outage_s + 5,
                 "the end of the outage", interval=0.5)
        assert not any(state.objects.values())               # nothing got through the outage
        state.mode, state.slow_s = "slow", 1.0               # back, but slowly
        wait_for(lambda: sum(len(o) for o in state.objects.values()) >= 50
                 and outbox_states(config).get("inflight", 0) > 0, 60,
                 "a batch delivered and the next one in flight")
        gw.kill()                                            # mid-POST, a batch in flight
        killed_with = outbox_states(config)
        delivered_at_kill = sum(len(o) for o in state.objects.values())
        resumed = time.monotonic()
        state.mode = "ok"
        gw.stop()
        gw = HubProcess(cfg_path, log, "viid")
        wait_for(lambda: outbox_states(config).get("sent", 0) == records, 180,
                 "every capture delivered")
        return {"inflight_at_kill": killed_with.get("inflight", 0),
                "delivered_at_kill": delivered_at_kill,
                "outage_s": round(resumed - outage_began, 1),
                "drain_after_restart_s": round(time.monotonic() - resumed, 1),
                "registrations": state.registrations}
    finally:
        gw.stop()


def check_exactly_once(state: SimState, records: int) -> None:
    received = {**state.objects["face"], **state.objects["vehicle"]}
    assert len(received) == records
    assert state.duplicates() == {}, "an object reached the platform twice"
    assert state.invalid == []
    assert len(state.objects["face"]) == records // 2          # no pupil arrival went up
    for obj in received.values():
        (image,) = obj["SubImageList"]["SubImageInfoObject"]
        assert base64.b64decode(image["Data"])[:2] == b"\xff\xd8"


def test_captures_go_up_once_across_an_outage_and_a_kill(
        rabbit: Any, hub_config: HubConfig, tmp_path: Path) -> None:  # noqa: F811
    """The fast version: 200 records, a short outage (VIID_FAST_OUTAGE_SECONDS, 3 s)."""
    records = 200
    with simulator() as (state, url):
        config = viid_config(hub_config, tmp_path, url)
        result = run_outage_and_kill(config, rabbit.mqtt_ports[0], tmp_path, state, records,
                                     float(os.environ.get("VIID_FAST_OUTAGE_SECONDS", "3")),
                                     schools=10)
        check_exactly_once(state, records)
        assert result["inflight_at_kill"] > 0   # the kill left a POST unanswered: settled
        print("viid fast:", result)


@pytest.mark.slow
def test_1000_captures_go_up_once_across_a_60_s_outage_and_a_kill(
        rabbit: Any, hub_config: HubConfig, tmp_path: Path) -> None:  # noqa: F811
    records = 1000
    with simulator() as (state, url):
        config = viid_config(hub_config, tmp_path, url)
        began = time.monotonic()
        result = run_outage_and_kill(config, rabbit.mqtt_ports[0], tmp_path, state, records,
                                     OUTAGE_S, schools=SIM_GATES)
        check_exactly_once(state, records)
        assert result["inflight_at_kill"] > 0
        print(f"viid 1000: {result}, {time.monotonic() - began:.0f} s")


@contextmanager
def gateway_in_thread(config: HubConfig) -> Iterator[threading.Event]:
    stop = threading.Event()
    thread = threading.Thread(target=gateway.run_gateway, args=(config, stop), daemon=True)
    thread.start()
    try:
        yield stop
    finally:
        stop.set()
        thread.join(30)


def test_a_plate_disposition_reaches_every_gate_and_its_hit_comes_back(
        rabbit: Any, hub_config: HubConfig, tmp_path: Path) -> None:  # noqa: F811
    declare_queue(hub_config)
    with ExitStack() as stack, simulator() as (state, url):
        config = viid_config(hub_config, tmp_path, url)
        declare_viid_queue(config)
        stack.enter_context(running_consumer(config))
        gates = [stack.enter_context(_closing(BridgedGate(rabbit, site, gate)))
                 for site, gate in EXTRA_GATES]
        with psycopg.connect(config.postgres.dsn, autocommit=True) as conn:
            for g in gates:
                g.online()
            wait_for(lambda: conn.execute("SELECT count(*) FROM gate_status").fetchone()[0]
                     == len(gates), 30, "every gate known to the hub")
        stop = stack.enter_context(gateway_in_thread(config))
        wait_for(lambda: LOWER in state.registered, 30, "registration")
        lower = f"http://{config.viid.bind}"
        wait_for(lambda: _answers(lower), 30, "the gateway's endpoint")

        issued = disposition_object(state, plate="京A12345")
        began = time.monotonic()
        assert send_dispositions(lower, SERVER, PASSWORD, [issued]) == {
            issued["DispositionID"]: 0}
        arrivals = arrival_times(gates, lambda body: [p["text"] for p in body["plates"]]
                                 == ["京A12345"], began, timeout=5)
        reach_s = max(arrivals)
        assert len(arrivals) == len(gates) and reach_s < 5

        key, hit = alert("zqxx", "watchlist_plate", 7, plate="京A12345", match="exact",
                         list="viid", distance=0)
        began = time.monotonic()
        assert gates[0].publisher.publish(key.replace(".", "/"), hit)
        notes = wait_for(lambda: list(state.objects["notification"].values()), 30,
                         "the disposition notification")
        back_s = time.monotonic() - began
        (note,) = notes
        assert note["DispositionID"] == issued["DispositionID"]
        vehicle = note["MotorVehicleObject"]
        assert vehicle["PlateNo"] == "京A12345"
        assert vehicle["DeviceID"] == config.viid.devices["zqxx/main"]
        image = vehicle["SubImageList"]["SubImageInfoObject"][0]
        assert base64.b64decode(image["Data"]) == tiny_jpeg(7)
        assert note["CntObjectID"] == vehicle["MotorVehicleID"]
        wait_for(lambda: vehicle["MotorVehicleID"] in state.objects["vehicle"], 30,
                 "the same capture as a MotorVehicle (hits go first)")

        assert send_dispositions(lower, SERVER, PASSWORD, [revoke_object(
            issued["DispositionID"], state)]) == {issued["DispositionID"]: 0}
        assert len(arrival_times(gates, lambda body: body["plates"] == [],
                                 time.monotonic(), timeout=10)) == len(gates)
        wrong = send_dispositions(lower, SERVER, "not-the-password", [issued])
        assert wrong == {issued["DispositionID"]: -401}
        print(f"viid disposition: every gate in {reach_s:.2f} s, notification in {back_s:.2f} s")

        registrations = state.registrations
        state.restart()                      # the platform forgets us: 401, register again
        wait_for(lambda: state.registrations > registrations and LOWER in state.registered,
                 3 * config.viid.keepalive_s + 10, "registering again after the restart")
        state.skew_s = 10                    # its clock 10 s ahead: an alert at the district
        with psycopg.connect(config.postgres.dsn, autocommit=True) as conn:
            skew = wait_for(lambda: conn.execute(
                "SELECT payload->>'skew_s' FROM alerts WHERE type = 'viid_clock_skew'"
            ).fetchone(), 3 * config.viid.keepalive_s + 10, "the clock skew alert")
        assert 8.5 < float(skew[0]) < 11.5
        stop.set()                           # as SIGTERM: UnRegister on the way out
        wait_for(lambda: state.unregistrations == 1, 30, "UnRegister on stop")
        assert LOWER not in state.registered


def arrival_times(gates: list[BridgedGate], wanted: Any, since: float,
                  timeout: float) -> list[float]:
    """Seconds from ``since`` until each gate's own broker delivered a "viid" list that
    ``wanted`` accepts; gates that got none within ``timeout`` are missing from the list."""
    import queue

    got: dict[int, float] = {}
    deadline = since + timeout
    while len(got) < len(gates) and time.monotonic() < deadline:
        for i, g in enumerate(gates):
            if i in got:
                continue
            try:
                _topic, body = g.inbox.next(timeout=0.02)
            except queue.Empty:
                continue
            if body.get("list") == "viid" and wanted(body):
                got[i] = time.monotonic() - since
    return list(got.values())


def _answers(url: str) -> bool:
    import httpx

    try:
        return httpx.get(f"{url}/VIID/System/Time", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


@contextmanager
def _closing(gate: BridgedGate) -> Iterator[BridgedGate]:
    try:
        yield gate
    finally:
        gate.close()
