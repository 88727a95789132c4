"""The district page: real uvicorn, PostgreSQL and RabbitMQ; Debian's Chromium via Playwright.

A police acknowledgement given on the page travels down the cluster and a gate's Mosquitto
bridge to the gate's own broker, where the gate service reads it.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import psycopg
import pytest
from playwright.sync_api import Browser, expect, sync_playwright

from gate.broker import LocalBroker, free_port
from gate.console.server import ConsoleServer
from gate.hub.auth import COOKIE, Db, add_user
from gate.hub.config import HubConfig
from gate.hub.ingest import parse
from gate.hub.schema import migrate
from gate.hub.web import create_app
from gate.hub.writer import Batch, Writer
from tests.conftest import AT, real_clock_env
from tests.hub_helpers import (
    ROOT,
    RabbitCluster,
    bridge_config,
    hub_config,  # noqa: F401
    needs_hub,
    postgres,  # noqa: F401
    rabbit,  # noqa: F401
)
from tests.test_hub_transport import Client

pytestmark = [pytest.mark.slow, needs_hub]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = ROOT / "test-artifacts"
PASSWORDS = {"officer": "police-password-1", "bureau": "bureau-password-1"}


def message(kind: str, site: str, gate: str, type_: str, ts: dt.datetime,
            **extra: Any) -> tuple[str, bytes]:
    body = {"schema": f"campus-gate/{kind}/1", "id": str(uuid.uuid4()),
            "ts": ts.isoformat(timespec="milliseconds"), "site": site, "gate": gate,
            "type": type_, "severity": extra.pop("severity", "info"), **extra}
    section = {"event": "events", "alert": "alerts"}[kind]
    return f"campus.{site}.{gate}.{section}.{type_}", json.dumps(body).encode()


def site_noon(config: HubConfig) -> dt.datetime:
    """Noon of a fixed local day of the site (the app's clock starts there): fixture times an
    hour either side of it stay inside that day, whatever the machine's clock says."""
    tz = ZoneInfo(config.timezone)
    return dt.datetime.combine(AT.date(), dt.time(12), tz)


def ticking_from(start: dt.datetime) -> Callable[[], dt.datetime]:
    """A clock that starts at ``start`` and advances with the monotonic clock."""
    t0 = time.monotonic()
    return lambda: start + dt.timedelta(seconds=time.monotonic() - t0)


@dataclass
class District:
    base: str
    config: HubConfig
    db: psycopg.Connection[Any]
    alerts: dict[str, str]          # name -> alert id


@pytest.fixture
def district(hub_config: HubConfig) -> Iterator[District]:  # noqa: F811
    conn = psycopg.connect(hub_config.postgres.dsn, autocommit=True)
    migrate(conn)
    db = Db(conn)
    add_user(db, "officer", PASSWORDS["officer"], "police")
    add_user(db, "bureau", PASSWORDS["bureau"], "bureau")
    # Everything happens between 11:10 and 12:00 of the site's local day, whatever the hour
    # of the machine's clock: the page's "today" comes from the app's clock, pinned at noon.
    now = site_noon(hub_config)
    batch = Batch()
    for site, pupils in (("zqxx", 30), ("hxxx", 12)):
        for n in range(pupils):
            key, body = message("event", site, "main", "arrival",
                                now - dt.timedelta(minutes=n % 20),
                                person={"id": f"{site}-{n}", "role": "student"})
            batch.records.append(parse(key, body))  # type: ignore[arg-type]
    alerts = {}
    for name, site, type_, minutes_ago in (("stranger", "zqxx", "unknown_card", 30),
                                           ("plate", "zqxx", "watchlist_plate", 5),
                                           ("tail", "hxxx", "tailgating", 50)):
        key, body = message("alert", site, "main", type_, now - dt.timedelta(minutes=minutes_ago),
                            severity="critical", snapshot=f"snapshots/{name}.jpg",
                            plate="京A12345" if name == "plate" else None)
        rec = parse(key, body)
        assert rec is not None
        alerts[name] = rec.id
        batch.records.append(rec)
    key, body = message("alert", "zqxx", "main", "alert_escalated",
                        now - dt.timedelta(minutes=15), severity="critical",
                        original_id=alerts["stranger"], original_type="unknown_card")
    batch.records.append(parse(key, body))  # type: ignore[arg-type]
    status = json.dumps({"schema": "campus-gate/status/1", "state": "online", "version": "1",
                         "ts": now.isoformat(), "site": "zqxx", "gate": "main",
                         "backlog": 0}).encode()
    batch.records.append(parse("campus.zqxx.main.status", status))  # type: ignore[arg-type]
    Writer(conn).write_batch(batch)
    # the hxxx alert was acknowledged 40 minutes late: raised, acknowledged, not in time
    conn.execute("INSERT INTO alert_acks (site, gate, alert_id, by_user, ts) VALUES"
                 " ('hxxx', 'main', %s, 'officer', %s)",
                 (alerts["tail"], now - dt.timedelta(minutes=10)))
    port = free_port()
    server = ConsoleServer(create_app(hub_config, db, clock=ticking_from(now)), "127.0.0.1", port)
    server.start()
    try:
        yield District(f"http://localhost:{port}", hub_config, conn, alerts)
    finally:
        server.stop()
        conn.close()


def login(client: httpx.Client, user: str) -> dict[str, str]:
    res = client.post("/api/login", json={"username": user, "password": PASSWORDS[user]})
    assert res.status_code == 200, res.text
    # the cookie is Secure (__Host-): httpx keeps it off plain http, so it is sent by hand
    token = res.cookies.get(COOKIE) or res.headers["set-cookie"].split(";")[0].split("=", 1)[1]
    return {"Cookie": f"{COOKIE}={token}", "X-CSRF-Token": res.json()["csrf"]}


def test_roles_csrf_and_an_acknowledgement_that_reaches_the_gate(
        district: District, rabbit: RabbitCluster) -> None:  # noqa: F811
    broker = LocalBroker(extra=bridge_config(rabbit.mqtt_ports)).start()
    guard = Client(broker.port, subscribe=["campus/zqxx/main/acks"])
    try:
        with httpx.Client(base_url=district.base) as client:
            assert client.get("/api/overview").status_code == 401
            bureau = login(client, "bureau")
            schools = {s["site"]: s for s in client.get("/api/overview",
                                                        headers=bureau).json()["schools"]}
            assert schools["zqxx"]["arrivals"] == 30 and schools["hxxx"]["pupils"] == 12
            assert (schools["hxxx"]["raised"], schools["hxxx"]["acknowledged"],
                    schools["hxxx"]["acknowledged_in_time"]) == (1, 1, 0)
            assert schools["hxxx"]["rate"] == 0
            assert (schools["zqxx"]["raised"], schools["zqxx"]["escalated"]) == (2, 1)
            seen = client.get("/api/alerts", headers=bureau).json()
            assert {a["plate"] for a in seen} == {None}   # who and which car: police only
            ack = {"site": "zqxx", "gate": "main", "alert_id": district.alerts["stranger"]}
            assert client.post("/api/alerts/ack", json=ack, headers=bureau).status_code == 403
            police = login(client, "officer")
            no_csrf = {"Cookie": police["Cookie"]}
            assert client.post("/api/alerts/ack", json=ack, headers=no_csrf).status_code == 403
            open_ids = {a["id"] for a in client.get("/api/alerts", headers=police).json()}
            assert open_ids == {district.alerts["stranger"], district.alerts["plate"]}
            res = client.post("/api/alerts/ack", json={**ack, "note": "patrol sent"},
                              headers=police)
            assert res.status_code == 200, res.text
            topic, body = guard.next(timeout=30)
            assert topic == "campus/zqxx/main/acks"
            assert (body["alert_id"], body["by"], body["note"]) == (
                district.alerts["stranger"], "officer", "patrol sent")
            assert client.post("/api/alerts/ack", json=ack, headers=police).status_code == 409
            schools = {s["site"]: s for s in client.get("/api/overview",
                                                        headers=police).json()["schools"]}
            # acknowledged 30 minutes after it was raised: later than ack_minutes (10)
            assert (schools["zqxx"]["raised"], schools["zqxx"]["acknowledged"]) == (2, 1)
    finally:
        guard.close()
        broker.stop()


def test_district_page_in_chromium(district: District) -> None:
    with sync_playwright() as pw:
        browser: Browser = pw.chromium.launch(
            executable_path=CHROMIUM, headless=True, env=real_clock_env(), args=[
            "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        try:
            sent: list[dict[str, Any]] = []
            page = browser.new_page(locale="zh-CN")
            page.goto(district.base + "/")
            expect(page.locator("h1")).to_have_text("区域平台")
            page.fill("#login input[name=username]", "officer")
            page.fill("#login input[name=password]", PASSWORDS["officer"])
            page.click("#login button[type=submit]")
            expect(page.locator("#who")).to_contain_text("officer")
            expect(page.locator("#login")).to_be_hidden()
            expect(page.locator("#schools tbody tr")).to_have_count(2)
            expect(page.locator("#schools thead")).to_contain_text("闭环率")
            expect(page.locator("#schools tr[data-site=hxxx] .rate")).to_have_text("0.0%")
            expect(page.locator("#alerts tbody tr")).to_have_count(2)
            expect(page.locator("#alerts")).to_contain_text("京A12345")
            expect(page.locator("#alerts")).to_contain_text("布控车辆")
            expect(page.locator("#alerts")).to_contain_text("snapshots/plate.jpg")
            expect(page.locator("#gates")).to_contain_text("在线")
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "hub-zh.png"), full_page=True)
            page.on("request", lambda r: sent.append({"url": r.url})
                    if "/api/alerts/ack" in r.url else None)
            page.locator(f"#alerts tr[data-id='{district.alerts['plate']}'] button.ack").click()
            expect(page.locator("#alerts tbody tr")).to_have_count(1)
            assert sent
            page.click("#lang")
            expect(page.locator("#schools thead")).to_contain_text("Closed-loop rate")
            expect(page.locator("#schools tr[data-site=zqxx] .rate")).to_have_text("50.0%")
            page.screenshot(path=str(ARTIFACTS / "hub-en.png"), full_page=True)
        finally:
            browser.close()


