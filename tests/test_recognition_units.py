"""Pure parts of recognition: the 1:N search, threshold scaling, enrolment-quality measures,
plate layouts, two-row pairing, confidence-weighted voting, the white cue under coloured light;
and the quality verdicts' column (migration 0006) in a real SQLite store."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest

from gate.faces import quality_verdicts, record_quality
from gate.records import Person
from gate.store import Store, migrate
from recognition.enrol import QualityReport, _eye_openness, _yaw_ratio
from recognition.gallery import Gallery, scaled_threshold
from recognition.plate_formats import PlateText, find_generic, is_strong, validate_generic
from recognition.plates import (
    PlatePass,
    PlateRead,
    PlateVoter,
    boxed_candidates,
    calibrated,
    locate,
    stacked_pairs,
    white_gains,
)


def _gallery(seed: int = 3) -> tuple[Gallery, np.ndarray, list[str]]:
    rng = np.random.default_rng(seed)
    labels = [f"P{i % 40:02d}" for i in range(200)]  # 40 people, 5 photos each, interleaved
    matrix = rng.normal(0, 0.09, (200, 128)).astype(np.float32)
    return Gallery(labels, matrix), matrix, labels


def test_search_equals_brute_force_and_reuses_its_buffers() -> None:
    gallery, matrix, labels = _gallery()
    probe = matrix[17] + 0.01
    plain = np.linalg.norm(matrix - probe, axis=1)
    per_person = {p: min(d for q, d in zip(labels, plain, strict=True) if q == p)
                  for p in set(labels)}
    expected = sorted(per_person.items(), key=lambda kv: kv[1])[:3]
    got = gallery.top(probe, k=3)
    assert [c.person_id for c in got] == [p for p, _ in expected]
    assert np.allclose([c.distance for c in got], [d for _, d in expected], atol=1e-4)
    buffer = gallery._buffers.dots
    again = gallery.top(probe, k=3)  # the k passes of argmin left the buffers as they were
    assert again == got and gallery._buffers.dots is buffer
    assert np.allclose(gallery.identity_distances(probe),
                       [per_person[p] for p in gallery.identities], atol=1e-4)


def test_one_encoding_per_person_and_threads_do_not_share_buffers() -> None:
    rng = np.random.default_rng(5)
    matrix = rng.normal(0, 0.09, (500, 128)).astype(np.float32)
    gallery = Gallery([f"P{i:03d}" for i in range(500)], matrix)
    results: dict[int, list[str | None]] = {}

    def search(worker: int) -> None:
        results[worker] = [gallery.identify(matrix[i] + 0.001, 0.5, 0.04).person_id
                           for i in range(worker, 500, 4)]

    threads = [threading.Thread(target=search, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for worker, found in results.items():
        assert found == [f"P{i:03d}" for i in range(worker, 500, 4)]


def test_threshold_gets_stricter_with_more_people() -> None:
    assert scaled_threshold(0.53, 7, 0.03) == 0.53
    assert scaled_threshold(0.53, 10, 0.03) == 0.53
    assert scaled_threshold(0.53, 1000, 0.03) == pytest.approx(0.47)
    assert scaled_threshold(0.55, 40, 0.06) == pytest.approx(0.5139, abs=1e-4)
    assert scaled_threshold(0.53, 1000, 0.0) == 0.53


def test_eye_openness_and_head_turn_measures() -> None:
    open_eye = [(0, 0), (3, -3), (7, -3), (10, 0), (7, 3), (3, 3)]
    closed = [(0, 0), (3, -0.5), (7, -0.5), (10, 0), (7, 0.5), (3, 0.5)]
    assert _eye_openness(open_eye) == pytest.approx(0.6)  # type: ignore[arg-type]
    assert _eye_openness(closed) == pytest.approx(0.1)  # type: ignore[arg-type]
    chin = [(x, 50) for x in range(0, 101, 6)]
    frontal = {"chin": chin, "nose_tip": [(48, 20), (50, 21), (52, 20)]}
    turned = {"chin": chin, "nose_tip": [(12, 20), (14, 21), (16, 20)]}
    assert _yaw_ratio(frontal) < 1.1  # type: ignore[arg-type]
    assert _yaw_ratio(turned) > 2.5  # type: ignore[arg-type]


def test_generic_layouts_raise_confidence_and_are_never_forced() -> None:
    ua = validate_generic("AT 6883 CM")
    assert ua is not None and ua.text == "AT6883CM" and is_strong(ua)
    odd = validate_generic("B8233XA")  # no known layout: kept as read, not "fixed" into one
    assert odd is not None and odd.text == "B8233XA" and not is_strong(odd)
    inside = find_generic("UA|AT6883CM")
    assert inside is not None and inside.text == "AT6883CM"
    assert calibrated(0.95, ua, detector=False) > calibrated(0.95, odd, detector=False)
    assert calibrated(0.95, ua, False, agree=True) > calibrated(0.95, ua, False, agree=False)


def _white_plate_scene() -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """A generated car with a white plate (RGB, and the plate's x, y, width, height)."""
    import random

    from gate.bench.plates_data import PlateSpec, car_scene, render_plate

    return car_scene(render_plate(PlateSpec("京A1234警", "white")), random.Random(5),
                     plate_width=200)


@pytest.mark.parametrize("light", [(0.72, 0.95, 1.2), (1.2, 1.0, 0.78)], ids=["sodium", "dusk"])
def test_a_white_plate_under_coloured_light_is_still_found_by_the_white_cue(
        light: tuple[float, float, float]) -> None:
    """Under a sodium lamp a white plate is orange (saturation about 80 of 255, the white cue
    allows 50), so the cue lost it and the frame went to whole-frame OCR. The brightest things
    in view give the light's colour, which is taken out for the white cue."""
    rgb, (x, y, w, h) = _white_plate_scene()
    lit = np.clip(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR) * np.float32(light), 0, 255
                  ).astype(np.uint8)
    undone = white_gains(lit) * np.float32(light)  # each channel's light times its gain
    assert np.ptp(undone) < 0.12 * undone.mean()  # grey again, within 12 %

    def white_on_plate(frame: np.ndarray) -> bool:
        return any(c.colour == "white" and x <= c.quad[:, 0].mean() <= x + w
                   and y <= c.quad[:, 1].mean() <= y + h for c in locate(frame))

    assert white_on_plate(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))  # in neutral light
    assert white_on_plate(lit)


def test_a_dim_white_plate_in_the_detectors_box_is_outlined_not_read_as_the_box() -> None:
    """At night a white plate is 50-65 of 255 bright, under the white cue's floor of 70 that
    keeps dark patches of a whole frame out. Inside a box the learned detector found, the
    plate is known to be there: it is outlined and read tight, not as the loose box (which
    read `BX0578CE` at 0.82, under fast_accept, on a darkened development photo)."""
    rgb, (x, y, w, h) = _white_plate_scene()
    dim = (cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR) * 0.25).astype(np.uint8)
    loose = (x - 8.0, y - 8.0, x + w + 8.0, y + h + 8.0)
    candidates = boxed_candidates(dim, loose)
    assert [c.colour for c in candidates][:1] == ["white"] and len(candidates) >= 2
    left, top = candidates[0].quad.min(axis=0)
    right, bottom = candidates[0].quad.max(axis=0)
    assert x - 4 <= left and right <= x + w + 4 and y - 4 <= top and bottom <= y + h + 4
    assert not any(c.colour == "white" for c in locate(dim))  # the whole frame keeps its floor


def test_two_rows_pair_even_when_tilted() -> None:
    top = ("6808", 0.99, [(667, 386), (767, 362), (780, 416), (680, 440)])
    bottom = ("XO", 0.92, [(677, 427), (746, 405), (763, 459), (695, 482)])
    beside = ("AB", 0.99, [(900, 380), (960, 380), (960, 410), (900, 410)])
    pairs = stacked_pairs([top, bottom, beside])
    assert [(a[0], b[0]) for a, b in pairs] == [("6808", "XO")]


def test_votes_weigh_confidence() -> None:
    box = (0, 0, 10, 3)
    voter = PlateVoter(window_s=3.0, min_votes=2)
    voter.add([PlateRead("京A12345", 0.2, box, "standard", "blue")], 0.0)
    voter.add([PlateRead("京A12345", 0.25, box, "standard", "blue")], 0.1)
    assert voter.result() is None  # unsure reads do not vote
    voter.add([PlateRead("京A12346", 0.99, box, "standard", "blue")], 0.2)
    result = voter.result()
    assert result is not None and result[0] == "京A12346"  # one read sure enough on its own
    voter.add([PlateRead("京A12345", 0.9, box, "standard", "blue")], 0.3)
    voter.add([PlateRead("京A12345", 0.9, box, "standard", "blue")], 0.4)
    assert voter.result() == ("京A12345", pytest.approx(1.8 / 2.79))


def _plate(text: str, confidence: float = 0.9) -> list[PlateRead]:
    return [PlateRead(text, confidence, (0, 0, 10, 3), "standard", "blue")]


def test_a_car_waiting_at_the_barrier_is_told_while_it_waits_and_once() -> None:
    """The car stops in view of the camera until the barrier opens: its plate is told on the
    frame that decides the vote, not when it leaves (it cannot leave), and only once."""
    car = PlatePass(passed_s=1.5)
    told = [(t, car.observe(_plate("京A12345"), t)) for t in (0.0, 0.25, 0.5, 0.75, 1.0)]
    assert [(t, v[0]) for t, v in told if v] == [(0.25, "京A12345")]
    assert car.in_view(2.4) and car.observe([], 2.4) is None  # a missed frame is not a pass
    assert car.observe(_plate("京A12345"), 2.5) is None  # the same car, still told once
    assert not car.in_view(4.1) and car.observe([], 4.1) is None  # gone
    voted = car.observe(_plate("京B54321", 0.98), 5.0)  # the next car: a sure read on its own
    assert voted == ("京B54321", 1.0)


def test_a_pass_is_not_decided_while_its_reads_disagree() -> None:
    """Two reads of one plate decide only while that plate holds most of the votes."""
    car = PlatePass(passed_s=1.5)
    for t, text in ((0.0, "京A12345"), (0.25, "京A12348"), (0.5, "京A12346"),
                    (0.75, "京A12345")):
        assert car.observe(_plate(text, 0.5), t) is None  # 京A12345 at last: 1.0 of 2.0
    assert car.observe(_plate("京A12345", 0.5), 1.0) == ("京A12345", pytest.approx(0.6))


def test_quality_verdicts_are_kept_beside_the_person(store: Store) -> None:
    store.upsert_person(Person("S1", "x", face_consent=True))
    record_quality(store, "S1", "a" * 64, "front.jpg", QualityReport("ok", ()))
    record_quality(store, "S1", "b" * 64, "side.jpg",
                   QualityReport("reject", ("head strongly turned (ratio 3.1); face the camera",)))
    verdicts = {v["photo"]: v for v in quality_verdicts(store, "S1")}
    assert verdicts["front.jpg"]["verdict"] == "ok"
    assert verdicts["side.jpg"]["verdict"] == "reject"
    assert "turned" in str(verdicts["side.jpg"]["reasons"])
    record_quality(store, "nobody", "c" * 64, "x.jpg", QualityReport("ok", ()))  # no such row
    assert quality_verdicts(store, "nobody") == []


def test_migration_0006_applies_and_rolls_back(tmp_path: Path) -> None:
    from yoyo import get_backend, read_migrations

    from gate.store import migrations_dir

    db = tmp_path / "gate.db"

    def columns() -> set[str]:
        with sqlite3.connect(db) as conn:
            return {row[1] for row in conn.execute("PRAGMA table_info(people)")}

    migrate(db, upto="0005_visits")
    assert "enrolment_quality" not in columns()
    assert "0006_enrolment_quality" in migrate(db)
    assert "enrolment_quality" in columns()
    backend = get_backend(f"sqlite:///{db}")
    try:
        migrations = read_migrations(str(migrations_dir()))
        with backend.lock():
            backend.rollback_migrations(backend.to_rollback(
                migrations.filter(lambda m: m.id >= "0006")))  # 0006 and any built on it
    finally:
        backend.connection.close()
    assert "enrolment_quality" not in columns()


class _CentreEngine:
    """Finds one face in the middle of any image at least 300 px on its short side (like HOG,
    which needs the face well inside a large enough picture)."""

    name = "fake"
    dimensions = 128

    def __init__(self) -> None:
        self.sizes: list[tuple[int, int]] = []

    def detect(self, rgb: np.ndarray, upsample: int = 0) -> list[tuple[int, int, int, int]]:
        h, w = rgb.shape[:2]
        self.sizes.append((h, w))
        if min(h, w) < 300:
            return []
        return [(h // 4, 3 * w // 4, 3 * h // 4, w // 4)]

    def encode(self, rgb: np.ndarray, boxes: list[tuple[int, int, int, int]]) -> np.ndarray:
        return np.zeros((len(boxes), 128), dtype=np.float32)


def test_tight_crops_are_padded_and_boxes_map_back() -> None:
    from recognition.photos import find_faces

    engine = _CentreEngine()
    crop = np.full((112, 112, 3), 128, dtype=np.uint8)
    found = find_faces(engine, crop)  # type: ignore[arg-type]
    assert len(found.boxes) == 1 and found.pad > 0 and found.scale > 1
    top, right, bottom, left = found.original_box(found.boxes[0])
    assert 0 <= top < bottom <= 112 and 0 <= left < right <= 112
    assert abs((top + bottom) / 2 - 56) <= 2 and abs((left + right) / 2 - 56) <= 2
    big = np.full((600, 800, 3), 128, dtype=np.uint8)
    engine.sizes.clear()
    assert find_faces(engine, big).pad == 0  # type: ignore[arg-type]
    assert engine.sizes == [(600, 800)]  # a large photo is looked at as it is first


def test_an_assumed_province_keeps_a_read_below_the_fast_paths_acceptance() -> None:
    """A home province standing in for a lost one is a guess: however clear the rest, the read
    stays below 0.85 (the surer path still looks) and a wider crop's agreement adds nothing."""
    read = PlateText("皖AYL375", "standard", 0)
    guess = PlateText("皖AYL375", "standard", 0, assumed_province=True)
    assert calibrated(0.99, read, False, agree=True) > 0.97
    assert 0.3 < calibrated(0.99, guess, False, agree=True) < 0.85
    assert calibrated(0.99, guess, False, agree=True) == calibrated(0.99, guess, False)


def test_shipped_1n_thresholds_per_gallery_size_are_the_documented_ones() -> None:
    """README "Tuning face thresholds" states these operating points; the product, the
    evaluation kit and the lane pipeline must all use them."""
    from gate.config import FacesConfig
    from gate.evaluate_faces import threshold_for
    from gate.faces import faces_threshold
    from recognition.pipeline import PipelineSettings

    f = FacesConfig()
    documented = {3: 0.53, 10: 0.53, 20: 0.515, 40: 0.50, 100: 0.48, 1000: 0.43}
    for people, threshold in documented.items():
        assert faces_threshold(f, people) == pytest.approx(threshold, abs=0.0005), people
        assert threshold_for(f, people) == faces_threshold(f, people)
        gallery = Gallery([f"p{i}" for i in range(people)],
                          np.zeros((people, 128), dtype=np.float32))
        assert PipelineSettings().threshold_for(gallery) == faces_threshold(f, people)
