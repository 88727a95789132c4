"""Liveness: the vendor's samples through the product's own path, and the fusion as plain logic."""

from __future__ import annotations

import hashlib
import queue
import time
import tomllib
from pathlib import Path

import numpy as np
import pytest

from gate.config import Config, ConfigError, FacesConfig, parse_config
from gate.faces import pipeline_settings
from recognition.face_engine import Box, DlibFaceEngine, Image, Vectors
from recognition.gallery import Gallery
from recognition.images import load_rgb
from recognition.liveness import (
    MODELS,
    MODELS_DIR,
    TrackLiveness,
    crop_region,
    fuse_scores,
    is_live,
    liveness_score,
    model_input,
)
from recognition.pipeline import FacePipeline, PipelineSettings
from recognition.worker import CameraJob, RecognitionWorkers, Sightings
from tests.conftest import ROOT
from tests.test_camera import write_video

SAMPLES = ROOT / "tests" / "fixtures" / "liveness"
LIVE_LANE = {"cameras": [{"id": "cam1", "source": "x.mp4", "role": "gate"},
                         {"id": "cam2", "source": "y.mp4", "role": "gate"}],
             "lanes": [{"id": "L1", "camera": "cam1", "liveness": "alert"},
                       {"id": "L2", "camera": "cam2"}]}


# --- the shipped models --------------------------------------------------------------------

def test_shipped_models_are_the_documented_files_and_are_package_data() -> None:
    source = (MODELS_DIR / "SOURCE.md").read_text()
    for model in MODELS:
        digest = hashlib.sha256((MODELS_DIR / model.file).read_bytes()).hexdigest()
        assert f"`{model.file}` | " in source and digest in source, model.file
    assert "Apache License" in (MODELS_DIR / "LICENSE").read_text()
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = data["tool"]["setuptools"]["package-data"]["recognition"]
    assert any(Path("models/liveness", m.file).match(p) for p in patterns for m in MODELS)


# --- the vendor's samples, through detection, the pipeline, crop geometry and fusion ------

@pytest.fixture(scope="module")
def engine() -> DlibFaceEngine:
    return DlibFaceEngine()


def track_liveness(engine: DlibFaceEngine, rgb: Image, settings: PipelineSettings
                   ) -> list[float | None]:
    """The liveness each frame's sighting carries while one face is held to the camera."""
    pipeline = FacePipeline(engine, Gallery.from_rows([]), settings)
    out = []
    for i in range(settings.liveness_frames + 2):
        faces = pipeline.process(rgb, i * 0.1)
        assert len(faces) == 1
        assert faces[0].track_id == 1  # one track throughout
        out.append(faces[0].liveness)
    return out


@pytest.mark.slow
@pytest.mark.parametrize(("name", "live"), [("image_T1.jpg", True), ("image_F1.jpg", False),
                                            ("image_F2.jpg", False)])
def test_vendor_samples_get_the_right_verdict_through_the_pipeline(
        engine: DlibFaceEngine, name: str, live: bool) -> None:
    config = parse_config(LIVE_LANE)
    settings = pipeline_settings(config, camera_id="cam1")
    assert settings.liveness and settings.liveness_frames == 3
    seen = track_liveness(engine, load_rgb(SAMPLES / name), settings)
    assert seen[:2] == [None, None]  # still collecting the track's first frames
    score = seen[2]
    assert score is not None and 0.0 <= score <= 1.0
    assert seen[3:] == [score, score]  # fixed for the rest of the track
    assert is_live(score, config.faces.liveness_threshold) is live, (name, score)


@pytest.mark.slow
def test_a_lane_without_liveness_never_scores(engine: DlibFaceEngine) -> None:
    settings = pipeline_settings(parse_config(LIVE_LANE), camera_id="cam2")
    assert track_liveness(engine, load_rgb(SAMPLES / "image_T1.jpg"), settings) == [None] * 5


@pytest.mark.slow
def test_liveness_score_on_detector_boxes_separates_the_samples(engine: DlibFaceEngine) -> None:
    scores = {}
    for name in ("image_T1.jpg", "image_F1.jpg", "image_F2.jpg"):
        rgb = load_rgb(SAMPLES / name)
        boxes = engine.detect(rgb, upsample=1)
        assert len(boxes) == 1, name
        scores[name] = liveness_score(rgb, boxes[0])
    threshold = FacesConfig().liveness_threshold
    assert scores["image_T1.jpg"] > 0.9
    assert max(scores["image_F1.jpg"], scores["image_F2.jpg"]) < threshold


@pytest.mark.slow
def test_worker_process_reports_the_fused_liveness_of_each_camera(tmp_path: Path) -> None:
    config = parse_config(LIVE_LANE)
    jobs = []
    for camera_id, name in (("cam1", "image_T1.jpg"), ("cam2", "image_F2.jpg")):
        video = write_video(tmp_path / f"{camera_id}.avi", [load_rgb(SAMPLES / name)] * 10)
        settings = pipeline_settings(config, camera_id="cam1")  # both cameras check liveness
        jobs.append(CameraJob(camera_id, str(video), settings, max_fps=10, loop=True))
    got: queue.Queue[Sightings] = queue.Queue()
    workers = RecognitionWorkers(jobs, [], workers=1, on_sightings=got.put)
    workers.start()
    scores: dict[str, float] = {}
    try:
        deadline = time.monotonic() + 90
        while len(scores) < 2 and time.monotonic() < deadline:
            batch = got.get(timeout=max(0.1, deadline - time.monotonic()))
            for face in batch.faces:
                if face.liveness is not None:
                    scores[batch.camera_id] = face.liveness
    finally:
        workers.stop()
    threshold = config.faces.liveness_threshold
    assert set(scores) == {"cam1", "cam2"}, scores
    assert is_live(scores["cam1"], threshold) and not is_live(scores["cam2"], threshold), scores


# --- crop geometry and tensor layout (upstream CropImage and to_tensor) --------------------

def test_crop_is_scaled_about_the_face_centre() -> None:
    assert crop_region(480, 640, (300, 200, 40, 40), 2.7) == (266, 166, 374, 274)


def test_crop_is_shifted_back_inside_not_clipped() -> None:
    x1, y1, x2, y2 = crop_region(480, 640, (0, 0, 40, 40), 4.0)
    assert (x1, y1) == (0, 0) and (x2 - x1, y2 - y1) == (160, 160)
    x1, y1, x2, y2 = crop_region(480, 640, (600, 440, 40, 40), 4.0)
    assert (x2, y2) == (639, 479) and (x2 - x1, y2 - y1) == (160, 160)


def test_crop_scale_shrinks_for_a_face_that_fills_the_frame() -> None:
    x1, y1, x2, y2 = crop_region(480, 640, (200, 100, 200, 200), 4.0)
    assert (y1, y2) == (0, 479)  # scale limited to (480-1)/200 = 2.395
    assert (x1, x2) == (60, 539)  # the same scale across, about the centre x = 300


def test_model_input_is_bgr_0_to_255_chw() -> None:
    rgb = np.zeros((480, 640, 3), np.uint8)
    rgb[:] = (10, 20, 30)
    tensor = model_input(rgb, (200, 340, 260, 300), 2.7)  # top, right, bottom, left
    assert tensor.shape == (1, 3, 80, 80) and tensor.dtype == np.float32
    assert [float(tensor[0, c].mean()) for c in range(3)] == [30.0, 20.0, 10.0]


def test_empty_box_is_refused() -> None:
    with pytest.raises(ValueError, match="empty face box"):
        crop_region(480, 640, (10, 10, 0, 20), 2.7)


# --- fusion over a track's first frames (no models) ----------------------------------------

class FakeScorer:
    def __init__(self, scores: list[float]) -> None:
        self.scores = list(scores)
        self.calls = 0

    def __call__(self, rgb: Image, box: Box) -> float:
        self.calls += 1
        return self.scores.pop(0)


FRAME = np.zeros((4, 4, 3), np.uint8)


def test_fusion_is_the_mean_of_the_first_frames() -> None:
    assert fuse_scores([0.9, 0.2, 0.7]) == pytest.approx(0.6)
    with pytest.raises(ValueError):
        fuse_scores([])


def test_track_is_scored_on_its_first_frames_then_fixed() -> None:
    scorer = FakeScorer([0.9, 0.1, 0.5, 0.0])
    track = TrackLiveness(scorer, frames=3)
    assert track.add(FRAME, (0, 1, 1, 0)) is None
    assert track.add(FRAME, (0, 1, 1, 0)) is None and not track.done
    assert track.add(FRAME, (0, 1, 1, 0)) == pytest.approx(0.5)
    assert track.add(FRAME, (0, 1, 1, 0)) == pytest.approx(0.5)
    assert scorer.calls == 3 and track.done


def test_one_bad_frame_does_not_decide_a_track() -> None:
    threshold = 0.5
    live = TrackLiveness(FakeScorer([0.95, 0.1, 0.9]), frames=3)
    spoof = TrackLiveness(FakeScorer([0.05, 0.8, 0.1]), frames=3)
    for _ in range(3):
        live.add(FRAME, (0, 1, 1, 0))
        spoof.add(FRAME, (0, 1, 1, 0))
    assert live.score is not None and is_live(live.score, threshold)
    assert spoof.score is not None and not is_live(spoof.score, threshold)


def test_threshold_is_inclusive() -> None:
    assert is_live(0.5, 0.5) and not is_live(0.4999, 0.5)


class FixedFaces:
    """A detector double: the boxes it is told to find, one 128-d zero vector each."""

    name = "fixed"
    dimensions = 128

    def __init__(self) -> None:
        self.boxes: list[Box] = []

    def detect(self, rgb: Image, upsample: int = 0) -> list[Box]:
        return list(self.boxes)

    def encode(self, rgb: Image, boxes: list[Box]) -> Vectors:
        return np.zeros((len(boxes), 128), np.float32)


def test_pipeline_scores_once_per_track_not_per_frame() -> None:
    frame = np.random.default_rng(0).integers(0, 255, (480, 640, 3), dtype=np.uint8)
    engine = FixedFaces()
    scorer = FakeScorer([0.25] * 3 + [0.75] * 3)  # exact in binary: the mean is too
    settings = PipelineSettings(detect_scale=1.0, liveness=True, liveness_frames=3)
    pipeline = FacePipeline(engine, Gallery.from_rows([]), settings, liveness_scorer=scorer)
    engine.boxes = [(100, 200, 200, 100)]
    first = [pipeline.process(frame, i * 0.1)[0] for i in range(6)]
    assert [f.liveness for f in first] == [None, None, 0.25, 0.25, 0.25, 0.25]
    assert scorer.calls == 3
    engine.boxes = [(100, 500, 200, 400)]  # another face far away: a new track
    later = [pipeline.process(frame, 0.6 + i * 0.1)[0] for i in range(4)]
    assert later[0].track_id != first[0].track_id
    assert [f.liveness for f in later] == [None, None, 0.75, 0.75]
    assert scorer.calls == 6


def test_pipeline_without_liveness_never_calls_the_models() -> None:
    frame = np.random.default_rng(0).integers(0, 255, (480, 640, 3), dtype=np.uint8)
    engine = FixedFaces()
    engine.boxes = [(100, 200, 200, 100)]
    scorer = FakeScorer([])
    pipeline = FacePipeline(engine, Gallery.from_rows([]), PipelineSettings(detect_scale=1.0),
                            liveness_scorer=scorer)
    assert [pipeline.process(frame, i * 0.1)[0].liveness for i in range(4)] == [None] * 4
    assert scorer.calls == 0


# --- configuration --------------------------------------------------------------------------

def test_liveness_is_per_lane_camera_and_off_by_default() -> None:
    config = parse_config(LIVE_LANE)
    assert [lane.liveness for lane in config.lanes] == ["alert", "off"]
    assert pipeline_settings(config, camera_id="cam1").liveness
    assert not pipeline_settings(config, camera_id="cam2").liveness
    assert not pipeline_settings(config).liveness
    assert not pipeline_settings(Config(), camera_id="cam1").liveness


def test_bad_liveness_mode_names_the_key() -> None:
    with pytest.raises(ConfigError, match=r"lanes\[0\]\.liveness: must be one of"):
        parse_config({"lanes": [{"id": "L1", "liveness": "on"}]})


def test_liveness_needs_a_lane_camera() -> None:
    with pytest.raises(ConfigError, match="needs a lane camera"):
        parse_config({"lanes": [{"id": "L1", "liveness": "required"}]})


def test_threshold_must_be_a_probability() -> None:
    with pytest.raises(ConfigError, match=r"faces\.liveness_threshold"):
        parse_config({"faces": {"liveness_threshold": 1.5}})


@pytest.mark.slow
def test_bench_reports_liveness_ms_per_face() -> None:
    from gate.bench import _suites, liveness

    assert liveness.run in _suites()
    (figure,) = liveness.run(True)
    assert figure.as_dict()["name"] == "faces.liveness_ms" and figure.unit == "ms"
    assert 0.5 < figure.value < 1000  # both models ran on a real face, once per call
