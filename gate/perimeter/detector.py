"""YOLOX-nano (COCO) on onnxruntime: people, cars, buses, trucks, motorbikes and bicycles.

The contract (BGR 0-255, top-left letterbox on 114 grey, undecoded grid outputs) is in
``model/SOURCE.md``. One intra-op thread: on the 2-core gate computer two threads were
slower, and the other core belongs to the gate lane.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from gate.perimeter.alerts import ObjectKind

MODEL_FILE = "yolox_nano_dynamic.onnx"
# COCO class column -> what the perimeter rules care about; cars seen from above flip between
# car, bus and truck, and bicycles between bicycle and motorcycle, so they are merged.
KINDS: dict[int, ObjectKind] = {0: "person", 1: "two_wheeler", 2: "vehicle", 3: "two_wheeler",
                                5: "vehicle", 7: "vehicle"}
CLASS_IDS = np.array(sorted(KINDS), dtype=np.int64)
PAD = 114


def model_path() -> Path:
    return Path(str(resources.files("gate.perimeter") / "model" / MODEL_FILE))


@dataclass(frozen=True)
class Detections:
    """``boxes`` x1, y1, x2, y2 in frame pixels; ``classes`` COCO ids (see ``KINDS``)."""

    boxes: npt.NDArray[np.float32]
    scores: npt.NDArray[np.float32]
    classes: npt.NDArray[np.int64]

    @classmethod
    def empty(cls) -> Detections:
        return cls(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64))

    def __len__(self) -> int:
        return len(self.scores)

    def select(self, keep: npt.NDArray[np.bool_]) -> Detections:
        return Detections(self.boxes[keep], self.scores[keep], self.classes[keep])


class Detector:
    """``input_size`` is (width, height) of the model input, multiples of 32: 640x384 suits a
    16:9 frame at about the cost of the 416x416 letterbox; 960x544 finds people half as tall."""

    def __init__(self, input_size: tuple[int, int] = (640, 384), threads: int = 1,
                 path: Path | None = None) -> None:
        width, height = input_size
        if width % 32 or height % 32:
            raise ValueError("the model input must be multiples of 32")
        self.width, self.height = width, height
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(path or model_path()), opts,
                                            providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name
        self._grid, self._strides = _grid(height, width)
        self._canvas = np.full((height, width, 3), PAD, np.uint8)

    def scale_for(self, height: int, width: int) -> float:
        """Model input pixels per image pixel for an image of this size (the letterbox)."""
        return min(self.height / height, self.width / width)

    def detect(self, bgr: npt.NDArray[Any], min_score: float = 0.1,
               iou: float = 0.45) -> Detections:
        """People and vehicles above ``min_score`` (keep it low: ByteTrack uses the weak
        detections to carry a track through partial occlusion)."""
        return suppress(self.candidates(bgr, min_score), min_score, iou)

    def candidates(self, bgr: npt.NDArray[Any], min_score: float = 0.1) -> Detections:
        """Every box above ``min_score`` in image pixels, before non-maximum suppression (so
        boxes from several views of one frame can be suppressed together)."""
        h, w = bgr.shape[:2]
        r = self.scale_for(h, w)
        nh, nw = int(h * r), int(w * r)
        canvas = self._canvas
        canvas[:] = PAD
        canvas[:nh, :nw] = cv2.resize(bgr, (nw, nh), interpolation=cv2.INTER_LINEAR)
        blob = canvas.transpose(2, 0, 1)[None].astype(np.float32)
        out = self.session.run(None, {self.input_name: blob})[0][0]
        best = out[:, 5:].argmax(1)
        score = out[:, 4] * out[np.arange(len(out)), 5 + best]
        keep = (score >= min_score) & np.isin(best, CLASS_IDS)
        if not keep.any():
            return Detections.empty()
        raw, score, cls = out[keep], score[keep], best[keep].astype(np.int64)
        grid, stride = self._grid[keep], self._strides[keep]
        cxy = (raw[:, :2] + grid) * stride
        wh = np.exp(raw[:, 2:4]) * stride
        boxes = np.concatenate([cxy - wh / 2, cxy + wh / 2], 1) / r
        np.clip(boxes, 0, [w, h, w, h], out=boxes)
        return Detections(boxes.astype(np.float32), score.astype(np.float32), cls)


def suppress(dets: Detections, min_score: float = 0.1, iou: float = 0.45) -> Detections:
    """Non-maximum suppression per kind (``_group``), not per COCO class."""
    if not len(dets):
        return Detections.empty()
    boxes = dets.boxes
    xywh = np.concatenate([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]], 1)
    xywh[:, 0] += np.array([_group(int(c)) for c in dets.classes], np.float32) * 8192.0
    kept = cv2.dnn.NMSBoxes(xywh.tolist(), dets.scores.tolist(), min_score, iou)
    idx = np.asarray(kept, dtype=np.int64).reshape(-1)
    return Detections(boxes[idx].astype(np.float32), dets.scores[idx].astype(np.float32),
                      dets.classes[idx].astype(np.int64))


def concat(parts: list[Detections]) -> Detections:
    parts = [p for p in parts if len(p)]
    if not parts:
        return Detections.empty()
    return Detections(np.concatenate([p.boxes for p in parts]).astype(np.float32),
                      np.concatenate([p.scores for p in parts]).astype(np.float32),
                      np.concatenate([p.classes for p in parts]).astype(np.int64))


FINEST_STRIDE = 8  # YOLOX's output grids are 8, 16 and 32 model pixels apart


def _group(cls: int) -> int:
    """NMS per kind, not per COCO class, so one car is not both a car and a truck."""
    return ("person", "vehicle", "two_wheeler").index(KINDS[cls])


def _grid(height: int, width: int) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    grids, strides = [], []
    for s in (FINEST_STRIDE, 16, 32):
        xv, yv = np.meshgrid(np.arange(width // s), np.arange(height // s))
        grids.append(np.stack((xv, yv), 2).reshape(-1, 2))
        strides.append(np.full((grids[-1].shape[0], 1), s))
    return (np.concatenate(grids).astype(np.float32), np.concatenate(strides).astype(np.float32))
