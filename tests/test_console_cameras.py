# ruff: noqa: F811  (pytest fixtures imported from tests/test_console.py)
"""The live page shows each lane camera's latest analysed frame with its faces boxed."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from playwright.sync_api import Browser

from gate.bench.scenes import FACES, cut_head, walking_frames
from gate.broker import free_port
from gate.console.auth import add_user
from recognition.face_engine import DlibFaceEngine
from tests.ptys import wait_for
from tests.scenario import running_gate
from tests.test_camera import write_video
from tests.test_console import PASSWORDS, browser, login, shot  # noqa: F401

pytestmark = pytest.mark.slow


def test_live_page_shows_the_lane_camera_with_the_face_boxed(tmp_path: Path,
                                                            browser: Browser) -> None:
    obama = cut_head(DlibFaceEngine(), "test/obama1.jpg", "obama")
    video = write_video(tmp_path / "obama.avi", list(walking_frames([obama], 60)))
    port = free_port()
    with running_gate(tmp_path, FACES, video,
                      console={"enabled": True, "bind": f"127.0.0.1:{port}"}) as gate:
        add_user(gate.service.store, "guard", PASSWORDS["guard"], "guard")
        gate.wait_face()
        wait_for(lambda: (v := gate.service.camera_views.get("gate-cam")) is not None
                 and v.marks >= 1, timeout=30, what="a view with the face boxed")
        page = login(browser, gate, "guard")
        fig = page.locator("#camera-views figure[data-camera=gate-cam]")
        fig.wait_for(timeout=10000)
        deadline = time.monotonic() + 15
        while not page.evaluate(
                "() => { const i = document.querySelector('#camera-views img');"
                " return !!i && i.complete && i.naturalWidth > 0; }"):
            assert time.monotonic() < deadline, "the camera view never loaded"
            page.wait_for_timeout(200)
        assert "L1" in fig.inner_text()
        cams = json.loads(page.evaluate(
            "async () => JSON.stringify(await (await fetch('/api/cameras')).json())"))
        assert cams[0]["id"] == "gate-cam" and cams[0]["marks"] >= 1
        shot(page, "live-camera-view")
        page.close()
