"""Liveness: is the face in front of the gate camera a live person, or a photo or screen?

Two Silent-Face MiniFASNet models (shipped in ``recognition/models/liveness``, contract in its
SOURCE.md) each look at the face at a different context scale; neither is reliable alone on the
vendor's samples (V1SE alone calls one spoof real), so their probabilities are averaged. A track
is scored on its first few frames only and the scores are fused: the check costs about 10 ms per
face and frame, so it runs with the track in the recognition worker, never at the card tap.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from recognition.face_engine import Box, Image

MODELS_DIR = Path(str(resources.files("recognition") / "models" / "liveness"))
INPUT_SIZE = 80
REAL_INDEX = 1  # output index of the "real face" class; 0 and 2 are spoof classes


@dataclass(frozen=True)
class LivenessModel:
    file: str
    scale: float  # face box enlarged this much about its centre: the model's context


MODELS = (LivenessModel("2.7_80x80_MiniFASNetV2.onnx", 2.7),
          LivenessModel("4_0_0_80x80_MiniFASNetV1SE.onnx", 4.0))

Scorer = Callable[[Image, Box], float]


def to_xywh(box: Box) -> tuple[int, int, int, int]:
    """The project's (top, right, bottom, left) box as the models' (x, y, w, h)."""
    top, right, bottom, left = box
    return left, top, right - left, bottom - top


def crop_region(height: int, width: int, box_xywh: tuple[float, float, float, float],
                scale: float) -> tuple[int, int, int, int]:
    """Upstream ``CropImage._get_new_box``: inclusive (x1, y1, x2, y2) of the model's view.

    The box is enlarged about the face centre and shifted (not clipped) back inside the image,
    so a face near the border keeps the context the model was trained with.
    """
    x, y, w, h = box_xywh
    if w <= 0 or h <= 0:
        raise ValueError(f"empty face box {box_xywh}")
    scale = min((height - 1) / h, (width - 1) / w, scale)
    new_w, new_h = w * scale, h * scale
    cx, cy = x + w / 2, y + h / 2
    x1, y1, x2, y2 = cx - new_w / 2, cy - new_h / 2, cx + new_w / 2, cy + new_h / 2
    if x1 < 0:
        x2 -= x1
        x1 = 0
    if y1 < 0:
        y2 -= y1
        y1 = 0
    if x2 > width - 1:
        x1 -= x2 - width + 1
        x2 = width - 1
    if y2 > height - 1:
        y1 -= y2 - height + 1
        y2 = height - 1
    return int(x1), int(y1), int(x2), int(y2)


def model_input(rgb: Image, box: Box, scale: float) -> npt.NDArray[np.float32]:
    """The [1, 3, 80, 80] tensor one model expects: BGR, float 0..255 as is (no /255, no mean)."""
    x1, y1, x2, y2 = crop_region(rgb.shape[0], rgb.shape[1], to_xywh(box), scale)
    crop = cv2.resize(rgb[y1:y2 + 1, x1:x2 + 1], (INPUT_SIZE, INPUT_SIZE))
    bgr = crop[:, :, ::-1]  # resizing is per channel, so flipping the small crop is the same
    return np.ascontiguousarray(bgr.transpose(2, 0, 1)[None], dtype=np.float32)


def softmax(logits: npt.NDArray[Any]) -> npt.NDArray[np.float64]:
    z = np.asarray(logits, dtype=np.float64)
    e = np.exp(z - z.max())
    return e / e.sum()  # type: ignore[no-any-return]


class LivenessChecker:
    """Both MiniFASNet models on one face: ``score`` is the probability it is real (0..1)."""

    def __init__(self, models_dir: Path = MODELS_DIR, threads: int = 1) -> None:
        import onnxruntime as ort  # only where liveness is enabled

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads  # 2 threads are slower on a busy 2-core gate box
        options.inter_op_num_threads = 1
        self._sessions = []
        for model in MODELS:
            session = ort.InferenceSession(str(models_dir / model.file), options,
                                           providers=["CPUExecutionProvider"])
            self._sessions.append((session, session.get_inputs()[0].name, model.scale))

    def probabilities(self, rgb: Image, box: Box) -> list[float]:
        """Each model's probability that the face is real, in ``MODELS`` order."""
        out = []
        for session, input_name, scale in self._sessions:
            logits = session.run(None, {input_name: model_input(rgb, box, scale)})[0][0]
            out.append(float(softmax(logits)[REAL_INDEX]))
        return out

    def score(self, rgb: Image, box: Box) -> float:
        probs = self.probabilities(rgb, box)
        return sum(probs) / len(probs)


@functools.cache
def default_checker() -> LivenessChecker:
    """One checker per process: the sessions are read-only and onnxruntime runs are thread-safe."""
    return LivenessChecker()


def liveness_score(frame_rgb: Image, box: Box) -> float:
    """Probability (0..1) that the face at ``box`` (top, right, bottom, left) is live."""
    return default_checker().score(frame_rgb, box)


def is_live(score: float, threshold: float) -> bool:
    """The verdict rule everywhere: live when the fused score reaches the threshold."""
    return score >= threshold


def fuse_scores(scores: Sequence[float]) -> float:
    """A track's liveness from its per-frame scores: the mean, so one blurred or half-turned
    frame neither passes nor fails a track on its own."""
    if not scores:
        raise ValueError("no scores to fuse")
    return float(sum(scores) / len(scores))


class TrackLiveness:
    """Liveness of one face track: scored on its first ``frames`` frames, then fixed.

    Once per track, not per frame: after ``frames`` observations the fused score is final and
    later frames cost nothing.
    """

    def __init__(self, scorer: Scorer, frames: int = 3) -> None:
        if frames < 1:
            raise ValueError("frames must be at least 1")
        self._scorer = scorer
        self.frames = frames
        self._scores: list[float] = []
        self.score: float | None = None

    @property
    def done(self) -> bool:
        return self.score is not None

    def add(self, rgb: Image, box: Box) -> float | None:
        """Scores this frame if the track still needs it; returns the final score once known."""
        if self.score is None:
            self.add_score(self._scorer(rgb, box))
        return self.score

    def add_score(self, score: float) -> float | None:
        if self.score is None:
            self._scores.append(score)
            if len(self._scores) >= self.frames:
                self.score = fuse_scores(self._scores)
        return self.score
