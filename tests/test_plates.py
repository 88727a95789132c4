"""Plates read from generated GA 36 images with the PP-OCR models shipped in the rapidocr wheel."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from gate.bench.plates_data import PlateSpec, car_scene, render_plate, render_two_row_plate
from gate.bench.scenes import FACES, background
from gate.store import Store
from recognition.plates import PlateReader, PlateVoter
from tests.conftest import run_gate
from tests.scenario import Gate, running_gate

pytestmark = pytest.mark.slow

SPECS = [PlateSpec("京A12345", "blue"), PlateSpec("沪C1234学", "yellow"),
         PlateSpec("冀B1234挂", "yellow"), PlateSpec("京A1234警", "white"),
         PlateSpec("粤Z1234港", "blue"), PlateSpec("粤Z1234澳", "blue"),
         PlateSpec("沪A1234领", "blue"), PlateSpec("粤BD12345", "green"),
         PlateSpec("粤B12345F", "green"), PlateSpec("川AK8S2P", "blue")]


@pytest.fixture(scope="module")
def reader() -> PlateReader:
    return PlateReader("cn", fallback=True)


def scene(spec: PlateSpec, seed: int, night: bool = False) -> np.ndarray:
    rgb, _box = car_scene(render_plate(spec), random.Random(seed), plate_width=200, night=night)
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)


@pytest.mark.parametrize("spec", SPECS, ids=[s.text for s in SPECS])
def test_every_plate_type_and_suffix(reader: PlateReader, spec: PlateSpec) -> None:
    reads = reader.read(scene(spec, seed=3))
    assert [r.text for r in reads][:1] == [spec.text]
    assert reads[0].confidence > 0.5
    _x, _y, w, h = reads[0].box
    assert w > 100 and 2 < w / h < 6


def test_night_frame(reader: PlateReader) -> None:
    assert reader.read(scene(PlateSpec("苏E5L20Q", "blue"), seed=11, night=True))[0].text == \
        "苏E5L20Q"


def test_a_frame_without_a_plate_gives_no_read(reader: PlateReader) -> None:
    assert reader.read(cv2.cvtColor(background(), cv2.COLOR_RGB2BGR)) == []


def test_voting_turns_a_pass_into_one_read() -> None:
    from recognition.plates import PlateRead

    voter = PlateVoter(window_s=3.0)
    box = (0, 0, 10, 3)
    frames = [["京A12345"], ["京A12345", "京A12346"], ["京A12345"], [], ["京A12346"]]
    for i, texts in enumerate(frames):
        voter.add([PlateRead(t, 0.9, box, "standard", "blue") for t in texts], i * 0.1)
    result = voter.result()
    assert result is not None and result[0] == "京A12345" and 0.5 < result[1] < 1.0


def test_plates_read_cli(tmp_path: Path) -> None:
    good = tmp_path / "car.jpg"
    cv2.imwrite(str(good), scene(SPECS[0], seed=5))
    empty = tmp_path / "empty.png"
    cv2.imwrite(str(empty), cv2.cvtColor(background(), cv2.COLOR_RGB2BGR))
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(good.read_bytes()[:200])
    result = run_gate("plates", "read", "--json", str(good), str(corrupt), str(empty))
    assert result.returncode == 2
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["image"] for line in lines] == [str(good), str(corrupt), str(empty)]
    assert lines[0]["plates"][0]["text"] == "京A12345"
    assert "not a readable image" in lines[1]["error"]
    assert lines[2]["plates"] == []


@pytest.fixture
def vehicle_gate(tmp_path: Path) -> Iterator[Gate]:
    with running_gate(tmp_path, FACES, extra_lanes=[{"id": "V1"}]) as gate:
        store = gate.service.store
        store.upsert_vehicle("京A12345", "staff", "staff")
        with store.transaction() as db:
            db.execute("INSERT INTO watchlists (name, source, received_at) VALUES"
                       " ('police', 'test', 'now')")
            db.execute("INSERT INTO watchlist_plates (list, plate, reason) VALUES"
                       " ('police', '沪B66666', 'stolen')")
        yield gate


def test_vehicle_rules(vehicle_gate: Gate) -> None:
    engine = vehicle_gate.service.engine
    registered = engine.on_plate("V1", "京A12345", 0.98)
    assert registered.opened and registered.event.reason == "registered_vehicle"
    visitor = engine.on_plate("V1", "浙C11111", 0.95)
    assert not visitor.opened and visitor.event.decision == "guard"
    listed = engine.on_plate("V1", "沪B66666", 0.97)
    assert not listed.opened and listed.event.reason == "watchlist_plate"
    assert listed.alert is not None and listed.alert.severity == "critical"
    near = engine.on_plate("V1", "沪B66668", 0.9)  # one character off: a person must check
    assert near.alert is not None and near.alert.details["match"] == "possible"
    assert near.alert.details["listed_plate"] == "沪B66666"
    assert near.alert.details["distance"] == 1
    alerts = vehicle_gate.outbox("/alerts/watchlist_plate")
    assert [a["match"] for a in alerts] == ["exact", "possible"]


def test_whole_frame_ocr_after_crop_recognition(reader: PlateReader) -> None:
    """The baseline and the fallback: detection still runs after a recognition-only call."""
    bgr = scene(SPECS[0], seed=9)
    reader.read(bgr)  # recognition-only calls first
    texts = [t for t, _s, _q in reader.ocr_frame(bgr)]
    assert any("12345" in t for t in texts), texts


@pytest.mark.parametrize(("region", "top", "bottom", "style", "seed"), [
    ("cn", "冀B", "12345", "yellow", 3),  # GA 36 motorbike plate
    ("generic", "10922", "BX", "white", 0),  # a tractor's or trailer's square plate
], ids=["cn-motorbike", "generic-square"])
def test_a_two_row_plate_is_read_by_the_cues_and_not_as_its_top_row(
        reader: PlateReader, region: str, top: str, bottom: str, style: str, seed: int) -> None:
    """Two-row plates are 1.4-2 times as wide as high. The cues used to take nothing under 2,
    so these plates waited for whole-frame OCR (about 1 s a frame on real scenes). Read as one
    line, such a plate gives its top row, "10922", which alone passes for a plate: it must not
    be kept. (Seed 3 for the motorbike: on some seeds the generated car body is of the plate's
    yellow, and the cues then outline the car, a different limit.)"""
    cn = reader if region == "cn" else PlateReader(region, fallback=True)
    rgb, _box = car_scene(render_two_row_plate(top, bottom, style), random.Random(seed),
                          plate_width=150)
    reads = cn.read(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    assert [r.text for r in reads] == [top + bottom]
    assert cn.last_path in ("detector", "fast") and reads[0].confidence >= cn.accept


def _car_video(path: Path, spec: PlateSpec) -> Path:
    """A car stops at the barrier for 2 s, then the lane is empty for 2 s (25 fps)."""
    from tests.test_camera import write_video

    rgb, _box = car_scene(render_plate(spec), random.Random(21), plate_width=210)
    empty = background()
    return write_video(path, [rgb] * 50 + [empty] * 50)


def test_watchlisted_plate_on_a_vehicle_camera_never_opens(tmp_path: Path) -> None:
    video = _car_video(tmp_path / "car.avi", PlateSpec("沪B66666", "blue"))
    cameras = [{"id": "car-cam", "source": str(video), "role": "vehicle", "max_fps": 8}]

    def listed(store: Store) -> None:
        """Listed before the camera starts: a pass read earlier would be decided (as an
        unknown car) and its plate not voted again while the car stays in view."""
        with store.transaction() as db:
            db.execute("INSERT INTO watchlists (name, source, received_at) VALUES"
                       " ('police', 'test', 'now')")
            db.execute("INSERT INTO watchlist_plates (list, plate, reason) VALUES"
                       " ('police', '沪B66666', 'stolen')")

    with running_gate(tmp_path, FACES, cameras=cameras, prepare=listed,
                      extra_lanes=[{"id": "V1", "vehicle_camera": "car-cam"}]) as gate:
        from tests.ptys import wait_for

        wait_for(lambda: "watchlist_plate" in gate.alerts(), timeout=60,
                 what="the vehicle camera's voted plate")
        [row] = gate.service.store.query("SELECT type, decision, reason, lane FROM events"
                                         " WHERE method = 'plate' LIMIT 1")
        assert tuple(row) == ("vehicle_denied", "deny", "watchlist_plate", "V1")
        assert not getattr(gate.service.relays["V1"], "energised", True)


def _side_view(spec: PlateSpec, rise: int) -> tuple[np.ndarray, np.ndarray]:
    """A plate seen from the side: a parallelogram whose right end stands ``rise`` px higher
    (its upright edges stay upright), on a dark car body; BGR and the true corners."""
    plate = render_plate(spec).astype(np.float32)
    ph, pw = plate.shape[:2]
    frame = np.full((720, 1280, 3), (110, 115, 120), np.float32)
    cv2.rectangle(frame, (380, 250), (900, 560), (60, 40, 40), -1)
    corners = np.array([[540, 420], [740, 420 - rise], [740, 478 - rise], [540, 478]],
                       np.float32)
    m = cv2.getPerspectiveTransform(
        np.array([[0, 0], [pw, 0], [pw, ph], [0, ph]], np.float32), corners)
    warped = cv2.warpPerspective(plate, m, (1280, 720))
    mask = cv2.warpPerspective(np.ones((ph, pw), np.float32), m, (1280, 720))[..., None]
    frame = frame * (1 - mask) + warped * mask
    return cv2.cvtColor(np.clip(frame, 0, 255).astype(np.uint8), cv2.COLOR_RGB2BGR), corners


@pytest.mark.parametrize("spec", [PlateSpec("京A12345", "blue"), PlateSpec("沪C1234学", "yellow")],
                         ids=["blue", "yellow"])
def test_a_plate_seen_from_the_side_is_cut_along_its_own_corners(reader: PlateReader,
                                                                 spec: PlateSpec) -> None:
    """The smallest enclosing rectangle of a parallelogram is 18 px off its corners here, and
    its warp leaves the characters slanted; the plate's own outline is what gets warped."""
    from recognition.plates import locate

    bgr, corners = _side_view(spec, rise=70)
    best = locate(bgr)[0]
    assert np.abs(best.quad - corners).max() <= 3, best.quad
    assert reader.read(bgr)[0].text == spec.text
