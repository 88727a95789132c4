"""``gate faces liveness-evaluate``: ISO/IEC 30107-3 error rates as plain logic, the folder
contract, a clip through the lane's pipeline, and the command on the vendor's samples."""

from __future__ import annotations

import itertools
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from gate.config import FacesConfig
from gate.evaluate_liveness import (
    ATTACK,
    BONA_FIDE,
    EvaluationError,
    LivenessRow,
    apcer,
    bpcer,
    det_points,
    error_rates,
    load_set,
    run,
    summarise,
    threshold_for_apcer,
)
from recognition.face_engine import Box, Image
from recognition.images import load_rgb
from recognition.liveness import is_live
from tests.conftest import ROOT, run_gate
from tests.test_camera import write_video

SAMPLES = ROOT / "tests" / "fixtures" / "liveness"


# --- the rates -------------------------------------------------------------------------------

def test_apcer_counts_attacks_taken_as_live_with_the_products_rule() -> None:
    attacks = [0.1, 0.5, 0.7, 0.2]
    assert apcer(attacks, 0.5) == 0.5  # 0.5 itself is live: is_live is ">="
    assert is_live(0.5, 0.5)
    assert apcer(attacks, 0.71) == 0.0
    assert apcer([], 0.5) == 0.0


def test_bpcer_counts_real_faces_refused() -> None:
    assert bpcer([0.9, 0.4, 0.5, 0.2], 0.5) == 0.5
    assert bpcer([0.9], 0.95) == 1.0


def test_system_apcer_is_the_worst_species() -> None:
    rates = error_rates([0.9, 0.8], {"print": [0.1, 0.2, 0.3, 0.4], "screen": [0.9, 0.1]}, 0.5)
    assert rates["apcer_per_species"] == {"print": 0.0, "screen": 0.5}
    assert rates["apcer"] == 0.5
    assert rates["bpcer"] == 0.0


def test_threshold_for_apcer_is_just_above_the_score_that_must_be_refused() -> None:
    attacks = {"print": [0.05 * i for i in range(20)]}  # 0.00 .. 0.95
    t = threshold_for_apcer(attacks, 0.05)  # one of 20 may pass: 0.95 passes, 0.90 must not
    assert t == pytest.approx(0.9001)
    assert apcer(attacks["print"], t) == 0.05
    assert apcer(attacks["print"], t - 0.0002) > 0.05
    assert threshold_for_apcer(attacks, 0.0) == pytest.approx(0.9501)


def test_threshold_for_apcer_satisfies_every_species() -> None:
    attacks = {"print": [0.2, 0.3], "screen": [0.6, 0.1]}
    t = threshold_for_apcer(attacks, 0.0)
    assert t is not None and t > 0.6
    assert error_rates([], attacks, t)["apcer"] == 0.0
    assert threshold_for_apcer({"print": []}, 0.05) is None
    assert threshold_for_apcer({"print": [1.0]}, 0.0) == pytest.approx(1.0001)  # unreachable
    assert threshold_for_apcer({"print": [0.3]}, 1.0) == pytest.approx(0.0001)  # all may pass


def test_det_points_run_from_everything_accepted_to_everything_refused() -> None:
    points = det_points([0.9, 0.6], {"print": [0.2, 0.7]})
    assert points[0]["apcer"] == 1.0 and points[0]["bpcer"] == 0.0
    assert points[-1]["apcer"] == 0.0 and points[-1]["bpcer"] == 1.0
    assert [p["threshold"] for p in points] == sorted(p["threshold"] for p in points)
    assert all(a["apcer"] >= b["apcer"] and a["bpcer"] <= b["bpcer"]
               for a, b in itertools.pairwise(points))


def test_presentations_without_a_face_are_counted_apart() -> None:
    rows = [LivenessRow("live/a.jpg", BONA_FIDE, "live", "photo", faces=1, score=0.9),
            LivenessRow("live/b.jpg", BONA_FIDE, "live", "photo", faces=0),
            LivenessRow("spoof/c.jpg", ATTACK, "spoof", "photo", faces=1, score=0.6),
            LivenessRow("spoof/d.jpg", ATTACK, "spoof", "photo", faces=1, score=0.1),
            LivenessRow("spoof/e.jpg", ATTACK, "spoof", "photo", faces=0)]
    s = summarise(rows, 0.5, 0.05)
    assert (s["no_face_bona_fide"], s["no_face_attacks"]) == (1, 1)
    assert s["configured"]["apcer"] == 0.5 and s["configured"]["bpcer"] == 0.0
    assert s["threshold_for_target"] == pytest.approx(0.6001)
    assert s["at_target"]["apcer"] == 0.0
    with pytest.raises(EvaluationError):
        summarise(rows[:2], 0.5, 0.05)


# --- the folder contract -----------------------------------------------------------------------

def test_spoof_subfolders_are_attack_species(tmp_path: Path) -> None:
    for name in ("live/a.jpg", "live/b.mp4", "spoof/x.jpg", "spoof/print/p.png",
                 "spoof/screen/s.jpg", "live/notes.txt"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    got = [(p.path.name, p.label, p.species) for p in load_set(tmp_path)]
    assert got == [("a.jpg", BONA_FIDE, "live"), ("b.mp4", BONA_FIDE, "live"),
                   ("x.jpg", ATTACK, "spoof"), ("p.png", ATTACK, "print"),
                   ("s.jpg", ATTACK, "screen")]


def test_a_folder_without_spoofs_is_refused_with_the_reason(tmp_path: Path) -> None:
    (tmp_path / "live").mkdir()
    (tmp_path / "live" / "a.jpg").write_bytes(b"x")
    with pytest.raises(EvaluationError, match="spoof/"):
        load_set(tmp_path)
    (tmp_path / "spoof").mkdir()
    with pytest.raises(EvaluationError, match="no photos or clips"):
        load_set(tmp_path)


# --- the product's path, with a stand-in detector and scorer ------------------------------------

class OneFace:
    """A detector that finds one fixed box (frame coordinates) on any large enough image."""

    def detect(self, rgb: Image, upsample: int = 0) -> list[Box]:
        h, w = rgb.shape[:2]
        return [(h // 4, 3 * w // 4, 3 * h // 4, w // 4)] if min(h, w) >= 40 else []

    def encode(self, rgb: Image, boxes: list[Box]) -> list[np.ndarray]:
        return [np.zeros(128, dtype=np.float32) for _ in boxes]


def by_brightness(rgb: Image, box: Box) -> float:
    """A scorer that calls a bright face live, so the test knows the expected verdicts."""
    top, right, bottom, left = box
    return float(rgb[top:bottom, left:right].mean() / 255)


def write_photo(path: Path, value: int) -> None:
    import cv2

    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(value)
    img = np.clip(rng.normal(value, 30, (400, 400, 3)), 0, 255).astype(np.uint8)
    cv2.imwrite(str(path), img)


def test_photos_and_clips_are_scored_and_fused_like_the_lane(tmp_path: Path) -> None:
    write_photo(tmp_path / "live" / "bright.jpg", 220)
    write_photo(tmp_path / "spoof" / "print" / "dark.jpg", 40)
    frames = [np.clip(np.random.default_rng(i).normal(200, 30, (400, 400, 3)), 0, 255)
              .astype(np.uint8) for i in range(6)]
    write_video(tmp_path / "live" / "clip.avi", frames)
    faces = FacesConfig(detect_scale=1.0, min_sharpness=0.0)
    calls: list[Box] = []

    def scorer(rgb: Image, box: Box) -> float:
        calls.append(box)
        return by_brightness(rgb, box)

    rows, summary = run(tmp_path, faces, engine=OneFace(), scorer=scorer)  # type: ignore[arg-type]
    by_file = {r.file: r for r in rows}
    clip = by_file["live/clip.avi"]
    assert clip.kind == "clip" and clip.frames == faces.liveness_frames  # stops once fused
    assert clip.live is True
    assert by_file["live/bright.jpg"].live is True
    assert by_file["spoof/print/dark.jpg"].live is False
    assert len(calls) == 2 + faces.liveness_frames
    assert summary["configured"]["apcer"] == 0.0 and summary["configured"]["bpcer"] == 0.0
    assert summary["attack_species"] == {"print": 1}


# --- the real models on the vendor's samples, through the command line --------------------------

@pytest.mark.slow
def test_command_on_the_vendor_samples(tmp_path: Path) -> None:
    (tmp_path / "live").mkdir()
    (tmp_path / "spoof").mkdir()
    shutil.copy(SAMPLES / "image_T1.jpg", tmp_path / "live")
    for name in ("image_F1.jpg", "image_F2.jpg"):
        shutil.copy(SAMPLES / name, tmp_path / "spoof")
    out = tmp_path / "out"
    result = run_gate("faces", "liveness-evaluate", str(tmp_path), "--out", str(out), "--json",
                      "--apcer", "0")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["configured"]["threshold"] == FacesConfig().liveness_threshold
    assert summary["configured"]["apcer"] == 0.0 and summary["configured"]["bpcer"] == 0.0
    rows = [json.loads(line) for line in (out / "liveness.jsonl").read_text().splitlines()]
    live = next(r["score"] for r in rows if r["label"] == BONA_FIDE)
    worst_spoof = max(r["score"] for r in rows if r["label"] == ATTACK)
    assert live > 0.9 and worst_spoof < 0.5
    # APCER 0 needs a threshold just above the best-scoring spoof (rows keep 4 decimals), and
    # the live face clears it
    assert abs(summary["threshold_for_target"] - worst_spoof) <= 0.00015
    assert summary["at_target"]["bpcer"] == 0.0
    png = out / "liveness_det.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # the score of a photo is taken on the photo as given, as the vendor's own code does
    from recognition.face_engine import DlibFaceEngine
    from recognition.liveness import liveness_score

    rgb = load_rgb(SAMPLES / "image_T1.jpg")
    box = DlibFaceEngine().detect(rgb, upsample=1)[0]
    assert live == pytest.approx(liveness_score(rgb, box), abs=1e-3)
