"""``gate faces evaluate`` and ``gate plates evaluate`` on small labelled sets made here: faces
from the demo photos shipped in the package, plates rendered by gate/bench/plates_data.py."""

from __future__ import annotations

import csv
import json
import random
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from gate.bench.plates_data import PlateSpec, car_scene, render_plate
from gate.bench.scenes import FACES, background
from gate.evaluate_faces import FaceRow, decide, sweep
from gate.evaluate_plates import PlateRow, summarise
from tests.conftest import run_gate

PNG = b"\x89PNG\r\n\x1a\n"


def _tight_crop(src: Path, dst: Path) -> None:
    """A 112 px crop of just the face, like an aligned face-set image (needs padding)."""
    import face_recognition

    rgb = face_recognition.load_image_file(str(src))
    top, right, bottom, left = face_recognition.face_locations(rgb, 1)[0]
    crop = rgb[top:bottom, left:right]
    cv2.imwrite(str(dst), cv2.cvtColor(cv2.resize(crop, (112, 112)), cv2.COLOR_RGB2BGR))


@pytest.fixture(scope="module")
def face_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("faces")
    layout = {
        "known/obama": ["train/obama/obama.jpg", "train/obama/obama2.jpg", "obama3.jpg"],
        "known/kit": ["train/kit_harington/john1.jpeg", "train/kit_harington/john2.jpeg",
                      "test/johnsnow_test1.jpg"],
        "strangers": ["train/alex_lacamoire/img1.jpg", "biden.jpg"],
        "spoof": ["obama.jpg"],  # stands in for a printed photo: only the hook is tested here
    }
    for folder, files in layout.items():
        (root / folder).mkdir(parents=True)
        for i, rel in enumerate(files):
            shutil.copy(FACES / rel, root / folder / f"{i:02d}{Path(rel).suffix}")
    _tight_crop(FACES / "test/obama1.jpg", root / "known/obama/03.jpg")
    (root / "strangers/99.jpg").write_bytes(b"not a picture")
    return root


@pytest.mark.slow
def test_faces_evaluate_on_a_small_set(face_set: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = run_gate("faces", "evaluate", str(face_set), "--enrol", "2", "--out", str(out),
                      "--json", timeout=300)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1
    summary = json.loads(lines[0])
    assert summary["people"] == 2 and summary["probes"] == 3 and summary["strangers"] == 3
    assert summary["identified"] == 1.0  # including the tight 112 px crop, padded
    assert summary["strangers_accepted"] == 0.0
    assert summary["errors"] == 1 and summary["no_face"] == 0
    rows = list(csv.DictReader((out / "faces.csv").open(encoding="utf-8")))
    assert len(rows) == 11  # every image, in order, the unreadable one with its error
    assert [r["role"] for r in rows].count("enrol") == 4
    broken = next(r for r in rows if r["image"] == "strangers/99.jpg")
    assert "not a readable image" in broken["error"]
    crop = next(r for r in rows if r["image"] == "known/obama/03.jpg")
    assert crop["person_id"] == "obama" and float(crop["distance"]) < summary["threshold"]
    assert len((out / "faces.jsonl").read_text(encoding="utf-8").splitlines()) == 11
    assert (out / "faces_thresholds.png").read_bytes().startswith(PNG)
    assert json.loads((out / "summary.json").read_text())["probes"] == 3
    # a spoof/ folder asks for the liveness figure: null while recognition.liveness is absent
    live = summary["liveness"]
    assert live is None or (live["spoofs"] == 1 and 0.0 <= live["spoofs_caught"] <= 1.0)
    assert [r["role"] for r in rows].count("spoof") == 1


def test_faces_evaluate_rejects_a_folder_without_known(tmp_path: Path) -> None:
    result = run_gate("faces", "evaluate", str(tmp_path))
    assert result.returncode == 2 and "known/" in result.stderr


def _row(role: str, truth: str | None, best: str, d1: float, d2: float) -> FaceRow:
    return FaceRow("x.jpg", role, truth, faces=1, best=best, best_distance=d1,
                   second_distance=d2)


def test_threshold_sweep_replays_the_rule() -> None:
    rows = [_row("probe", "a", "a", 0.40, 0.70), _row("probe", "b", "b", 0.50, 0.70),
            _row("probe", "c", "c", 0.42, 0.44),  # ambiguous: within the margin
            _row("stranger", None, "a", 0.47, 0.60)]
    assert decide(rows[0], 0.45, 0.05) == "a"
    assert decide(rows[1], 0.45, 0.05) is None
    assert decide(rows[2], 0.45, 0.05) is None
    points = {p["threshold"]: p for p in sweep(rows, 0.05)}
    assert points[0.45] == {"threshold": 0.45, "identified": 1 / 3, "strangers_accepted": 0.0}
    assert points[0.51] == {"threshold": 0.51, "identified": 2 / 3, "strangers_accepted": 1.0}


def _scene(text: str, colour: str, seed: int) -> np.ndarray:
    rgb, _box = car_scene(render_plate(PlateSpec(text, colour)), random.Random(seed),
                          plate_width=200)
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)


@pytest.mark.slow
def test_plates_evaluate_on_rendered_scenes(tmp_path: Path) -> None:
    data = tmp_path / "plates"
    data.mkdir()
    labels = [("a.jpg", "京A12345", "blue"), ("b.jpg", "粤BD12345", "green"),
              ("c.jpg", "沪C1234学", "yellow")]
    for (name, text, colour), seed in zip(labels, (3, 4, 5), strict=True):
        cv2.imwrite(str(data / name), _scene(text, colour, seed))
    cv2.imwrite(str(data / "empty.jpg"), cv2.cvtColor(background(), cv2.COLOR_RGB2BGR))
    (data / "labels.tsv").write_text(
        "file\tplate\n" + "".join(f"{n}\t{t}\t{c}\n" for n, t, c in labels)
        + "empty.jpg\t京A99999\tblue\n", encoding="utf-8")
    out = tmp_path / "out"
    result = run_gate("plates", "evaluate", str(data), "--region", "cn", "--out", str(out),
                      "--json", timeout=300)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["images"] == 4 and summary["exact"] == 0.75
    assert summary["per_type"]["green"]["exact"] == 1.0
    assert summary["per_type"]["blue"] == {"images": 2, "exact": 0.5, "no_read": 1,
                                           "slow_path": 0.5}
    assert summary["no_read"] == 1
    assert sum(b["reads"] for b in summary["per_confidence"]) == 3
    rows = [json.loads(x) for x in (out / "plates.jsonl").read_text("utf-8").splitlines()]
    assert [r["image"] for r in rows] == ["a.jpg", "b.jpg", "c.jpg", "empty.jpg"]
    assert rows[0]["read"] == "京A12345" and rows[0]["exact"] is True
    assert rows[3]["read"] is None and rows[3]["path"] == "fallback"
    assert (out / "plates_confidence.png").read_bytes().startswith(PNG)
    assert (out / "plates.csv").read_text("utf-8").count("\n") == 5


def test_plates_evaluate_needs_labels(tmp_path: Path) -> None:
    result = run_gate("plates", "evaluate", str(tmp_path))
    assert result.returncode == 2 and "labels.tsv" in result.stderr


def test_plate_summary_buckets_and_types() -> None:
    rows = [PlateRow("1.jpg", "A", "x", read="A", confidence=0.97, exact=True, ms=10),
            PlateRow("2.jpg", "B", "x", read="C", confidence=0.55, exact=False, ms=30),
            PlateRow("3.jpg", "D", "y", read=None, ms=20, path="fallback")]
    s = summarise(rows)
    assert s["exact"] == round(1 / 3, 4) and s["wrong_read"] == 1 and s["no_read"] == 1
    assert s["per_type"] == {
        "x": {"images": 2, "exact": 0.5, "no_read": 0, "slow_path": 0.0},
        "y": {"images": 1, "exact": 0.0, "no_read": 1, "slow_path": 1.0}}
    top = next(b for b in s["per_confidence"] if b["low"] == 0.95)
    assert top["reads"] == 1 and top["exact"] == 1.0
    assert s["ms_median"] == 20 and s["fallback"] == round(1 / 3, 4)


@pytest.mark.slow
def test_plates_evaluate_with_a_home_province(tmp_path: Path) -> None:
    """A plate whose province is worn away: no read, unless the site names its home province;
    then the read is exact but carries a guess's confidence (below the fast path's 0.85)."""
    data = tmp_path / "plates"
    data.mkdir()
    cv2.imwrite(str(data / "worn.jpg"), _scene(" A12345", "blue", 3))  # province left blank
    (data / "labels.tsv").write_text("file\tplate\nworn.jpg\t皖A12345\n", encoding="utf-8")
    plain = run_gate("plates", "evaluate", str(data), "--out", str(tmp_path / "a"), "--json",
                     timeout=300)
    assert plain.returncode == 0, plain.stderr
    assert json.loads(plain.stdout)["exact"] == 0.0
    hinted = run_gate("plates", "evaluate", str(data), "--home-province", "皖", "--out",
                      str(tmp_path / "b"), "--json", timeout=300)
    assert hinted.returncode == 0, hinted.stderr
    summary = json.loads(hinted.stdout)
    assert summary["exact"] == 1.0 and summary["home_province"] == "皖"
    row = json.loads((tmp_path / "b" / "plates.jsonl").read_text("utf-8").splitlines()[0])
    assert row["read"] == "皖A12345" and row["confidence"] < 0.85
    bad = run_gate("plates", "evaluate", str(data), "--home-province", "X")
    assert bad.returncode == 2 and "--home-province" in bad.stderr


@pytest.mark.slow
def test_plates_evaluate_gives_the_verdicts_of_plates_read(tmp_path: Path) -> None:
    """Same files, same config (region and home province from it): `gate plates evaluate`
    records exactly the plates `gate plates read` prints, and its verdict is the first."""
    data = tmp_path / "plates"
    data.mkdir()
    labels = [("a.jpg", "京A12345", "blue", 7), ("worn.jpg", "皖A54321", "blue", 8),
              ("y.jpg", "沪C1234学", "yellow", 9)]
    for name, text, colour, seed in labels:
        shown = " " + text[1:] if name == "worn.jpg" else text  # province worn away
        cv2.imwrite(str(data / name), _scene(shown, colour, seed))
    (data / "labels.tsv").write_text(
        "file\tplate\n" + "".join(f"{n}\t{t}\n" for n, t, _c, _s in labels), encoding="utf-8")
    config = tmp_path / "gate.toml"
    config.write_text('[plates]\nregion = "cn"\nhome_province = "皖"\n', encoding="utf-8")
    files = [str(data / n) for n, *_rest in labels]
    read = run_gate("--config", str(config), "plates", "read", "--json", *files, timeout=300)
    assert read.returncode == 0, read.stderr
    printed = {Path(j["image"]).name: j["plates"]
               for j in map(json.loads, read.stdout.splitlines())}
    out = tmp_path / "out"
    evaluated = run_gate("--config", str(config), "plates", "evaluate", str(data), "--out",
                         str(out), "--json", timeout=300)
    assert evaluated.returncode == 0, evaluated.stderr
    assert json.loads(evaluated.stdout)["home_province"] == "皖"
    rows = [json.loads(x) for x in (out / "plates.jsonl").read_text("utf-8").splitlines()]
    assert {r["image"]: r["reads"] for r in rows} == printed
    for r in rows:
        assert r["read"] == (printed[r["image"]][0]["text"] if printed[r["image"]] else None)
    assert any(r["read"] == "皖A54321" for r in rows)  # the config's home province was used


def test_faces_evaluate_gives_exactly_the_verdicts_of_faces_identify(tmp_path: Path) -> None:
    """The kit must measure what the product says: the same photos enrolled through
    ``gate people import`` and asked of ``gate faces identify`` get the same person and
    distance as ``gate faces evaluate`` gives them (a photo's verdict: its largest face)."""
    data = tmp_path / "set"
    layout = {
        "known/obama": ["train/obama/obama.jpg", "train/obama/obama2.jpg", "obama3.jpg",
                        "test/obama1.jpg", "test/obama_and_biden.jpg"],
        "known/kit": ["train/kit_harington/john1.jpeg", "train/kit_harington/john2.jpeg",
                      "test/johnsnow_test1.jpg", "test/kit_with_rose.jpg"],
        "known/biden": ["train/biden/biden.jpg", "train/biden/biden2.jpg", "two_people.jpg"],
        "strangers": ["train/alex_lacamoire/img1.jpg", "train/rose_leslie/img1.jpg",
                      "test/alex_lacamoire1.jpg"],
    }
    for folder, files in layout.items():
        (data / folder).mkdir(parents=True)
        for i, rel in enumerate(files):
            shutil.copy(FACES / rel, data / folder / f"{i:02d}{Path(rel).suffix}")
    _tight_crop(FACES / "train/rose_leslie/img2.jpg", data / "strangers/03.jpg")
    out = tmp_path / "out"
    evaluated = run_gate("faces", "evaluate", str(data), "--enrol", "2", "--out", str(out),
                         "--json", timeout=600)
    assert evaluated.returncode == 0, evaluated.stderr
    rows = [json.loads(line) for line in (out / "faces.jsonl").read_text().splitlines()]
    roster = tmp_path / "roster.csv"
    lines = ["person_id,name,photo,face_consent"]
    lines += [f"{r['truth']},{r['truth']},{data / r['image']},yes"
              for r in rows if r["role"] == "enrol"]
    roster.write_text("\n".join(lines) + "\n", encoding="utf-8")
    env = {"GATE_DATA_DIR": str(tmp_path / "data")}
    imported = run_gate("people", "import", str(roster), "--json", env=env, timeout=600)
    assert imported.returncode == 0, imported.stderr
    asked = [r for r in rows if r["role"] in ("probe", "stranger")]
    identified = run_gate("faces", "identify", "--json", *(str(data / r["image"]) for r in asked),
                          env=env, timeout=600)
    assert identified.returncode == 0, identified.stderr
    answers = [json.loads(line) for line in identified.stdout.splitlines()]
    assert len(answers) == len(asked) == 10
    for row, answer in zip(asked, answers, strict=True):
        assert answer["image"] == str(data / row["image"])
        assert len(answer["faces"]) == row["faces"], row["image"]
        main = max(answer["faces"], key=lambda f: min(f["box"][2] - f["box"][0],
                                                      f["box"][1] - f["box"][3]))
        assert main["person_id"] == row["person_id"], row["image"]
        assert main["distance"] == row["distance"], row["image"]
    # and the set is not trivial: people identified, strangers refused, a two-face photo
    verdicts = {r["image"]: r["person_id"] for r in asked}
    assert verdicts["known/obama/03.jpg"] == "obama"
    assert verdicts["known/kit/02.jpg"] == "kit"
    assert all(verdicts[r["image"]] is None for r in asked if r["role"] == "stranger")
    assert max(r["faces"] for r in asked) >= 2
