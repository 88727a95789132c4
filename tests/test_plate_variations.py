"""scripts/plate_variations.py: the variations README's plate figures are measured on. Plain
image arithmetic on small generated frames, no model."""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np

from gate.bench.plates_data import PlateSpec, car_scene, render_plate

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "plate_variations.py"


def _set(folder: Path) -> None:
    folder.mkdir()
    rows = ["file\tplate"]
    for n, text in enumerate(["京A12345", "沪B23456", "粤C34567", "苏D45678"], start=1):
        rgb, _box = car_scene(render_plate(PlateSpec(text, "blue")), random.Random(n),
                              plate_width=120, size=(480, 270))
        cv2.imwrite(str(folder / f"scene_{n:04d}.jpg"), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
        rows.append(f"scene_{n:04d}.jpg\t{text}")
    (folder / "labels.tsv").write_text("\n".join(rows) + "\n", "utf-8")


def _sharpness(bgr: np.ndarray) -> float:
    return float(cv2.Laplacian(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY), cv2.CV_64F).var())


def test_each_variation_of_the_held_out_half_keeps_its_labels(tmp_path: Path) -> None:
    src, out = tmp_path / "set", tmp_path / "out"
    _set(src)
    done = subprocess.run([sys.executable, str(SCRIPT), str(src), str(out)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    names = ["night", "blur", "tilt", "colour", "small"]
    assert sorted(p.name for p in out.iterdir()) == sorted(names)
    for name in names:  # the odd files only: the even ones are for tuning
        assert (out / name / "labels.tsv").read_text("utf-8").splitlines() == [
            "file\tplate", "scene_0001.jpg\t京A12345", "scene_0003.jpg\t粤C34567"]
    original = cv2.imread(str(src / "scene_0003.jpg"))
    seen = {name: cv2.imread(str(out / name / "scene_0003.jpg")) for name in names}
    assert seen["small"].shape[:2] == (135, 240)
    assert all(seen[n].shape == original.shape for n in names if n != "small")
    assert seen["night"].mean() < 0.7 * original.mean()
    assert _sharpness(seen["blur"]) < 0.5 * _sharpness(original)
    assert np.abs(seen["tilt"].astype(int) - original.astype(int)).mean() > 10
    b, _g, r = (float(seen["colour"][..., i].mean() - original[..., i].mean()) for i in range(3))
    assert abs(b - r) > 10  # warmer or colder, never the same balance


def test_a_folder_without_labels_is_refused_with_the_reason(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path), str(tmp_path / "o")],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "labels.tsv not found" in done.stderr
