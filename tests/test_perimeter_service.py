"""Perimeter cameras inside the running service: a supervised worker process, its alerts
through the journal to a police subscriber on a real Mosquitto, circling from plate reads."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from gate.bench.scenes import FACES
from gate.broker import LocalBroker
from tests.conftest import real_clock_env
from tests.mqtt_helpers import Subscriber, gate_mqtt_section
from tests.ptys import wait_for
from tests.scenario import running_gate
from tests.test_perimeter_footage import clip, vtest  # noqa: F401  (fixtures)

pytestmark = pytest.mark.slow
WALKWAY = [[0, 200], [330, 215], [560, 190], [700, 130], [768, 115], [768, 470],
           [600, 420], [430, 330], [250, 255], [0, 240]]


def test_intrusion_on_a_perimeter_camera_reaches_the_police(
        tmp_path: Path, broker: LocalBroker, clip: Path) -> None:  # noqa: F811
    police = Subscriber(broker.port, "police", ["campus/+/+/alerts/#"])
    camera = {"id": "street", "source": str(clip), "role": "perimeter", "max_fps": 10,
              "zones": [{"id": "walkway", "polygon": WALKWAY,
                         "armed_times": ["00:00-23:59"]}]}
    try:
        with running_gate(tmp_path, FACES, site="zqxx",
                          mqtt=gate_mqtt_section(tmp_path, broker.port), cameras=[camera],
                          perimeter={"fps": 5, "input_size": [640, 480]}) as gate:
            _t, alert = police.until(lambda m: m[0].endswith("/alerts/intrusion"), timeout=90)[-1]
            assert alert["severity"] == "critical" and alert["camera"] == "street"
            assert alert["zone"] == "walkway" and alert["object"] == "person"
            assert alert["snapshot"] == alert["id"]  # the frame with the zone and the path
            wait_for(lambda: gate.service.snapshots.read(alert["id"]) is not None,
                     what="the snapshot stored")
            assert gate.service.snapshots.read(alert["id"])[:2] == b"\xff\xd8"  # a JPEG
            rows = gate.service.store.query("SELECT type FROM alerts WHERE type = 'intrusion'")
            assert rows  # journalled before it was published
            wait_for(lambda: gate.service.perimeter.health.get("street") is not None,
                     timeout=15, what="perimeter health")
            health = gate.service.perimeter.health["street"]
            assert health.nice > 0  # below the gate lane
            assert gate.service.health.get("perimeter street").up
    finally:
        police.close()


def test_a_circling_vehicle_is_alerted_from_plate_reads_across_cameras(
        tmp_path: Path, broker: LocalBroker) -> None:
    police = Subscriber(broker.port, "police", ["campus/+/+/alerts/#"])
    try:
        with running_gate(tmp_path, FACES, site="zqxx",
                          mqtt=gate_mqtt_section(tmp_path, broker.port),
                          perimeter={"circling_passes": 3}) as gate:
            link = gate.service.perimeter
            start = gate.service.store.now()
            reads = [("north-street", 0), ("north-street", 0.2),  # one pass, two reads
                     ("V1-cam", 4), ("south-street", 9)]  # minutes after the first
            for camera, minutes in reads:
                link.plate_seen("京B77777", camera, start + dt.timedelta(minutes=minutes))
            link.plate_seen("京C12345", "V1-cam", start)  # another car, once: nothing
            _t, alert = police.until(lambda m: m[0].endswith("/alerts/circling_vehicle"))[-1]
            assert alert["plate"] == "京B77777" and alert["passes"] == 3
            assert set(alert["cameras"]) == {"V1-cam", "north-street", "south-street"}
            rows = gate.service.store.query("SELECT details FROM alerts WHERE type ="
                                            " 'circling_vehicle'")
            assert len(rows) == 1 and "京C12345" not in rows[0][0]
    finally:
        police.close()


def test_console_perimeter_view_renders_in_chromium(tmp_path: Path, clip: Path,  # noqa: F811
                                                    ) -> None:
    from playwright.sync_api import expect, sync_playwright

    from gate.broker import free_port
    from gate.console.auth import add_user
    from tests.test_console import ARTIFACTS, CHROMIUM

    port = free_port()
    camera = {"id": "street", "source": str(clip), "role": "perimeter", "max_fps": 10,
              "zones": [{"id": "walkway", "polygon": WALKWAY,
                         "armed_times": ["00:00-23:59"]}]}
    with running_gate(tmp_path, FACES, cameras=[camera],
                      console={"enabled": True, "bind": f"127.0.0.1:{port}"},
                      perimeter={"fps": 5, "input_size": [640, 480]}) as gate, \
            sync_playwright() as pw:
        add_user(gate.service.store, "guard", "guard-password-1", "guard")
        wait_for(lambda: "street" in gate.service.perimeter.views, timeout=60,
                 what="a perimeter frame")
        wait_for(lambda: bool(gate.service.store.query(
            "SELECT 1 FROM alerts WHERE type = 'intrusion'")), timeout=60, what="an alert")
        browser = pw.chromium.launch(
            executable_path=CHROMIUM, headless=True, env=real_clock_env(), args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        try:
            page = browser.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(f"http://localhost:{port}/")
            page.fill("#login-form input[name=username]", "guard")
            page.fill("#login-form input[name=password]", "guard-password-1")
            page.click("#login-form button[type=submit]")
            expect(page.locator("#who")).to_contain_text("guard")
            page.goto(f"http://localhost:{port}/static/perimeter.html")
            img = page.locator("img.perimeter-view[data-camera=street]")
            expect(img).to_be_visible()
            page.wait_for_function(
                "document.querySelector('img.perimeter-view').naturalWidth > 0", timeout=20000)
            expect(page.locator("figcaption")).to_contain_text("walkway")
            expect(page.locator("#alerts tr[data-type=intrusion]").first).to_be_visible()
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "perimeter-view.png"), full_page=True)
            assert not errors
        finally:
            browser.close()


@pytest.mark.slow
def test_a_video_file_that_ends_is_a_normal_end(tmp_path: Path,
                                                caplog: pytest.LogCaptureFixture) -> None:
    """No traceback, no restart, no camera-offline alert: "source ended", once; with
    ``loop = true`` the same file plays on."""
    import logging
    import threading

    import numpy as np

    from gate.config import parse_config
    from gate.journal import Journal
    from gate.perimeter_link import PerimeterLink
    from gate.store import Store
    from tests.conftest import TZ
    from tests.test_camera import write_video

    frames = [np.full((120, 160, 3), 40 + i, dtype=np.uint8) for i in range(20)]
    video = write_video(tmp_path / "short.avi", frames, fps=20.0)  # one second
    config = parse_config({"site": "t", "cameras": [
        {"id": "p1", "source": str(video), "role": "perimeter", "max_fps": 20},
        {"id": "p2", "source": str(video), "role": "perimeter", "max_fps": 20, "loop": True}],
        "perimeter": {"fps": 10}})
    store = Store(tmp_path / "data", TZ)
    link = PerimeterLink(config, Journal(config, store))
    stop = threading.Event()
    failures: list[BaseException] = []

    def run(camera_index: int) -> None:
        try:
            link.loop_for(config.cameras[camera_index])(stop)
        except BaseException as exc:  # the supervisor would log and restart: a failure here
            failures.append(exc)

    caplog.set_level(logging.INFO)
    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in (0, 1)]
    for t in threads:
        t.start()
    try:
        wait_for(lambda: link.ended("p1"), timeout=60, what="p1 played to its end")
        assert link.camera_up("p1") == (None, "source ended")  # not a device gone offline
        wait_for(lambda: any("source ended" in r.getMessage() and r.name == "gate.perimeter_link"
                             for r in caplog.records), timeout=10, what="the end said once")
        assert threads[0].is_alive() and not failures  # nothing raised, nothing to restart
        # the looping camera outlives several plays of its file and stays connected
        wait_for(lambda: (h := link.health.get("p2")) is not None and h.connected,
                 timeout=30, what="p2 reporting")
        started = link.health["p2"]
        wait_for(lambda: link.health["p2"] is not started, timeout=20, what="p2's next report")
        assert link.health["p2"].connected and not link.ended("p2")
    finally:
        stop.set()
        for t in threads:
            t.join(10)
        store.close()
    assert not failures
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []
    said = [r for r in caplog.records if "source ended" in r.getMessage()
            and r.name == "gate.perimeter_link"]
    assert len(said) == 1
