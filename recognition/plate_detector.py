"""A learned plate detector: the MobileNet-SSD that ships inside the MIT-licensed ``hyperlpr2``
wheel (``hyperlpr2/models/dnn/mininet_ssd_v1.{prototxt,caffemodel}``), run by onnxruntime.

Why: the colour and edge cues of ``recognition.plates.locate`` find nothing on a third of real
scenes whose plate a person reads at once (dim, tilted, behind a bumper's clutter), and then
only whole-frame PP-OCR was left, which costs 300-500 ms. This detector was trained on plates,
costs a few milliseconds and finds most of those.

Why not hyperlpr2's own code: its reader is weaker than PP-OCR, importing the package builds
OpenCV cascades that OpenCV 5 no longer has, and OpenCV 5 dropped its Caffe importer. So only
the two model files are read from the installed package (nothing is downloaded), the Caffe
network (convolutions and ReLUs; batch norm is already folded into them) is written out as a
small ONNX graph in memory, and the SSD head (prior boxes, box decoding, non-maximum
suppression) is done here in numpy, as Caffe's PriorBox and DetectionOutput layers do.
"""

from __future__ import annotations

import importlib.util
import re
import struct
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from recognition.face_engine import Image

PACKAGE = "hyperlpr2"
MODEL = "models/dnn/mininet_ssd_v1"
# the network's input normalisation (hyperlpr2's detect_ssd): RGB, ImageNet mean and std
MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32) * 255
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32) * 255


class DetectorUnavailable(RuntimeError):
    """The package with the detector's weights is not installed."""


def model_files() -> tuple[Path, Path]:
    """The prototxt and caffemodel inside the installed package, without importing it (its
    ``__init__`` builds cascades that OpenCV 5 lacks)."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise DetectorUnavailable(f"the {PACKAGE} package (plate detector weights) is not "
                                  "installed")
    base = Path(next(iter(spec.submodule_search_locations))) / MODEL
    proto, weights = base.with_suffix(".prototxt"), base.with_suffix(".caffemodel")
    if not (proto.is_file() and weights.is_file()):
        raise DetectorUnavailable(f"{base}.*: the plate detector's files are missing")
    return proto, weights


# --- Caffe text format (prototxt) -----------------------------------------------------------

_TOKEN = re.compile(r'\s*(?:(#[^\n]*)|([A-Za-z_][\w]*)\s*:\s*("[^"]*"|[^\s{}]+)|'
                    r'([A-Za-z_][\w]*)\s*\{|(\}))')


def parse_prototxt(text: str) -> dict[str, list[Any]]:
    """Protobuf text format as nested dicts; every field is a list (fields repeat)."""
    stack: list[dict[str, list[Any]]] = [{}]
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            if text[pos:].strip():
                raise ValueError(f"prototxt: cannot parse at {text[pos:pos + 30]!r}")
            break
        pos = m.end()
        comment, key, value, block, close = m.groups()
        if comment:
            continue
        if key:
            stack[-1].setdefault(key, []).append(
                value[1:-1] if value.startswith('"') else _number(value))
        elif block:
            child: dict[str, list[Any]] = {}
            stack[-1].setdefault(block, []).append(child)
            stack.append(child)
        elif close:
            stack.pop()
    return stack[0]


def _number(value: str) -> Any:
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(value, value)


# --- Caffe binary weights (caffemodel: protobuf wire format) --------------------------------

def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    out = shift = 0
    while True:
        b = buf[pos]
        pos += 1
        out |= (b & 0x7F) << shift
        if b < 0x80:
            return out, pos
        shift += 7


def _fields(buf: bytes) -> list[tuple[int, int, Any]]:
    """(field number, wire type, value) of one message: bytes for length-delimited fields."""
    out: list[tuple[int, int, Any]] = []
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        value: Any
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 1:
            value, pos = buf[pos:pos + 8], pos + 8
        elif wire == 2:
            size, pos = _varint(buf, pos)
            value, pos = buf[pos:pos + size], pos + size
        elif wire == 5:
            value, pos = buf[pos:pos + 4], pos + 4
        else:
            raise ValueError(f"caffemodel: wire type {wire} not supported")
        out.append((number, wire, value))
    return out


def _blob(buf: bytes) -> np.ndarray:
    """A BlobProto: float data (5, packed or not) with its shape (7) or legacy dims (1-4)."""
    data: list[np.ndarray] = []
    shape: list[int] = []
    legacy: dict[int, int] = {}
    for number, wire, value in _fields(buf):
        if number == 5:
            data.append(np.frombuffer(value, dtype="<f4") if wire == 2
                        else np.array(struct.unpack("<f", value), dtype=np.float32))
        elif number == 7:
            for n, w, v in _fields(value):
                if n == 1 and w == 2:
                    pos = 0
                    while pos < len(v):
                        d, pos = _varint(v, pos)
                        shape.append(d)
                elif n == 1:
                    shape.append(v)
        elif number in (1, 2, 3, 4) and wire == 0:
            legacy[number] = value
    flat = np.concatenate(data) if data else np.zeros(0, np.float32)
    if not shape and legacy:
        shape = [legacy.get(i, 1) for i in (1, 2, 3, 4)]
    return flat.reshape(shape) if shape else flat


def read_caffemodel(buf: bytes) -> dict[str, list[np.ndarray]]:
    """Each layer's blobs (weights, bias) by layer name: NetParameter.layer (100), or the V1
    ``layers`` (2), with name 1/4 and blobs 7/6."""
    out: dict[str, list[np.ndarray]] = {}
    for number, _wire, value in _fields(buf):
        if number not in (100, 2):
            continue
        name_field, blob_field = (1, 7) if number == 100 else (4, 6)
        name, blobs = "", []
        for n, _w, v in _fields(value):
            if n == name_field:
                name = bytes(v).decode()
            elif n == blob_field:
                blobs.append(_blob(v))
        if blobs:
            out[name] = blobs
    return out


# --- ONNX, written directly in protobuf wire format (no onnx package needed) ----------------

def _key(number: int, wire: int) -> bytes:
    return _enc_varint(number << 3 | wire)


def _enc_varint(value: int) -> bytes:
    out = bytearray()
    value &= (1 << 64) - 1
    while True:
        b = value & 0x7F
        value >>= 7
        if value:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _len(number: int, payload: bytes) -> bytes:
    return _key(number, 2) + _enc_varint(len(payload)) + payload


def _str(number: int, text: str) -> bytes:
    return _len(number, text.encode())


def _int(number: int, value: int) -> bytes:
    return _key(number, 0) + _enc_varint(value)


def _attr_ints(name: str, values: list[int]) -> bytes:
    # AttributeProto: name 1, ints 8, type 20 (INTS = 7)
    return _str(1, name) + b"".join(_int(8, v) for v in values) + _int(20, 7)


def _attr_int(name: str, value: int) -> bytes:
    return _str(1, name) + _int(3, value) + _int(20, 2)  # i 3, type INT = 2


def _node(op: str, inputs: list[str], outputs: list[str], attrs: list[bytes]) -> bytes:
    # NodeProto: input 1, output 2, name 3, op_type 4, attribute 5
    return (b"".join(_str(1, i) for i in inputs) + b"".join(_str(2, o) for o in outputs)
            + _str(3, outputs[0]) + _str(4, op) + b"".join(_len(5, a) for a in attrs))


def _tensor(name: str, array: np.ndarray) -> bytes:
    # TensorProto: dims 1, data_type 2 (FLOAT = 1), name 8, raw_data 9
    a = np.ascontiguousarray(array, dtype="<f4")
    return (b"".join(_int(1, d) for d in a.shape) + _int(2, 1) + _str(8, name)
            + _len(9, a.tobytes()))


def _value_info(name: str, dims: list[int | str] | None) -> bytes:
    """A float tensor; ``dims`` None leaves its shape to inference."""
    # ModelProto: ir_version 1, producer_name 2, graph 7, opset_import 8 {version 2}.
    # GraphProto: node 1, name 2, initializer 5, input 11, output 12.
    # ValueInfoProto{name 1, type 2: TypeProto{tensor_type 1: {elem_type 1, shape 2:
    # {dim 1: {dim_value 1 | dim_param 2}}}}}
    if dims is None:
        return _str(1, name) + _len(2, _len(1, _int(1, 1)))
    shape = b"".join(_len(1, _int(1, d) if isinstance(d, int) else _str(2, d)) for d in dims)
    return _str(1, name) + _len(2, _len(1, _int(1, 1) + _len(2, shape)))


@dataclass(frozen=True)
class PriorSpec:
    """One PriorBox layer: the head conv it sits on and its boxes (Caffe semantics)."""

    source: str  # the feature map whose size sets the grid
    min_size: float
    max_size: float | None
    aspect_ratios: tuple[float, ...]  # besides 1, without flips (the model sets flip: false)
    variance: tuple[float, float, float, float]
    offset: float


@dataclass(frozen=True)
class SsdGraph:
    onnx: bytes
    loc: list[str]  # head outputs, in the order the Concat layers join them
    conf: list[str]
    priors: list[PriorSpec]
    nms_threshold: float


def build_graph(proto: dict[str, list[Any]], weights: dict[str, list[np.ndarray]]) -> SsdGraph:
    """The Caffe net as ONNX up to its head convolutions; the rest is described, not built."""
    layers: list[dict[str, list[Any]]] = proto["layer"]
    nodes, inits = [], []
    alias: dict[str, str] = {}  # in-place layers (ReLU) rename their top
    through: dict[str, str] = {}  # Permute/Flatten/Reshape/Softmax top -> what feeds it
    concats: dict[str, list[str]] = {}
    priors: list[PriorSpec] = []
    heads: tuple[list[str], list[str]] = ([], [])
    nms = 0.45

    def name_of(blob: str) -> str:
        return alias.get(blob, blob)

    def source(blob: str) -> str:
        while blob in through:
            blob = through[blob]
        return blob

    for layer in layers:
        kind, name = layer["type"][0], layer["name"][0]
        bottoms = [name_of(b) for b in layer.get("bottom", [])]
        top = layer.get("top", [name])[0]
        if kind == "Convolution":
            p = layer["convolution_param"][0]
            w, *b = weights[name]
            k, s = p.get("kernel_size", [1])[0], p.get("stride", [1])[0]
            pad, group = p.get("pad", [0])[0], p.get("group", [1])[0]
            dil = p.get("dilation", [1])[0]
            inits += [_tensor(f"{name}_w", w)]
            inputs = [bottoms[0], f"{name}_w"]
            if b:
                inits.append(_tensor(f"{name}_b", b[0].reshape(-1)))
                inputs.append(f"{name}_b")
            out = f"{name}_out"
            nodes.append(_node("Conv", inputs, [out], [
                _attr_ints("kernel_shape", [k, k]), _attr_ints("strides", [s, s]),
                _attr_ints("pads", [pad] * 4), _attr_int("group", group),
                _attr_ints("dilations", [dil, dil])]))
            alias[top] = out
        elif kind == "ReLU":
            out = f"{name}_out"
            nodes.append(_node("Relu", bottoms[:1], [out], []))
            alias[top] = out
        elif kind in ("Permute", "Flatten", "Reshape", "Softmax"):
            through[top] = bottoms[0]
        elif kind == "Concat":
            concats[top] = [source(b) for b in bottoms]
        elif kind == "PriorBox":
            p = layer["prior_box_param"][0]
            max_size = p.get("max_size", [None])[0]
            ratios = tuple(float(r) for r in p.get("aspect_ratio", []) if abs(r - 1) > 1e-6)
            if p.get("flip", [True])[0]:
                ratios += tuple(1 / r for r in ratios)
            var = tuple(float(v) for v in p.get("variance", [0.1, 0.1, 0.2, 0.2]))
            priors.append(PriorSpec(bottoms[0], float(p["min_size"][0]),
                                    None if max_size is None else float(max_size), ratios,
                                    (var[0], var[1], var[2], var[3]),
                                    float(p.get("offset", [0.5])[0])))
            through[top] = bottoms[0]
        elif kind == "DetectionOutput":
            # Caffe's DetectionOutput: bottom 0 the box offsets, 1 the class scores, 2 priors
            heads = (concats[source(bottoms[0])], concats[source(bottoms[1])])
            nms = float(layer["detection_output_param"][0]["nms_param"][0]["nms_threshold"][0])
    loc, conf = heads
    if not loc or not conf or not priors:
        raise ValueError("not an SSD: no DetectionOutput over box, score and prior heads")
    outputs = list(dict.fromkeys(loc + conf + [p.source for p in priors]))
    graph = (b"".join(_len(1, n) for n in nodes) + _str(2, "ssd")
             + b"".join(_len(5, t) for t in inits)
             + _len(11, _value_info("data", [1, 3, "h", "w"]))
             + b"".join(_len(12, _value_info(o, None)) for o in outputs))
    model = _int(1, 7) + _str(2, "campus-gate") + _len(7, graph) + _len(8, _int(2, 13))
    return SsdGraph(model, loc, conf, priors, nms)


# --- the detector ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Detection:
    score: float
    box: tuple[float, float, float, float]  # x1, y1, x2, y2 in the frame's pixels


def prior_boxes(spec: PriorSpec, grid: tuple[int, int], image: tuple[int, int]
                ) -> tuple[np.ndarray, np.ndarray]:
    """Caffe's PriorBox: per cell (row-major), the min box, the sqrt(min*max) box, then one per
    aspect ratio; centre-size, normalised by the input's width and height."""
    gh, gw = grid
    ih, iw = image
    sizes = [(spec.min_size, spec.min_size)]
    if spec.max_size is not None:
        m = float(np.sqrt(spec.min_size * spec.max_size))
        sizes.append((m, m))
    sizes += [(spec.min_size * float(np.sqrt(r)), spec.min_size / float(np.sqrt(r)))
              for r in spec.aspect_ratios]
    ys, xs = np.meshgrid((np.arange(gh) + spec.offset) * ih / gh,
                         (np.arange(gw) + spec.offset) * iw / gw, indexing="ij")
    out = np.zeros((gh, gw, len(sizes), 4), dtype=np.float32)
    for i, (bw, bh) in enumerate(sizes):
        out[:, :, i] = np.stack([xs / iw, ys / ih, np.full_like(xs, bw / iw),
                                 np.full_like(ys, bh / ih)], axis=-1)
    boxes = out.reshape(-1, 4)
    return boxes, np.tile(np.array(spec.variance, dtype=np.float32), (len(boxes), 1))


def decode(loc: np.ndarray, priors: np.ndarray, variances: np.ndarray) -> np.ndarray:
    """CENTER_SIZE decoding (variance not encoded in the target): x1, y1, x2, y2 normalised."""
    cx = priors[:, 0] + loc[:, 0] * variances[:, 0] * priors[:, 2]
    cy = priors[:, 1] + loc[:, 1] * variances[:, 1] * priors[:, 3]
    w = priors[:, 2] * np.exp(loc[:, 2] * variances[:, 2])
    h = priors[:, 3] * np.exp(loc[:, 3] * variances[:, 3])
    return np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)


class PlateDetector:
    """Plate boxes in a BGR frame. The network is fully convolutional: the frame is scaled so
    its long side is ``size`` (a multiple of 32), which sets how small a plate it can see (its
    smallest prior is 51 px at that scale)."""

    def __init__(self, size: int = 640, threshold: float = 0.3) -> None:
        import onnxruntime as ort

        proto_path, weights_path = model_files()
        self.graph = build_graph(parse_prototxt(proto_path.read_text(encoding="utf-8")),
                                 read_caffemodel(weights_path.read_bytes()))
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1  # a gate computer has 2 cores, shared with cameras
        options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(self.graph.onnx, options,
                                             providers=["CPUExecutionProvider"])
        self.size = size
        self.threshold = threshold
        self._lock = threading.Lock()
        self._outputs = [o.name for o in self._session.get_outputs()]

    def detect(self, bgr: Image, size: int | None = None) -> list[Detection]:
        """Plate boxes, surest first, with the frame's long side scaled to ``size``."""
        h, w = bgr.shape[:2]
        scale = (size or self.size) / max(h, w)
        iw, ih = (max(32, round(w * scale / 32) * 32), max(32, round(h * scale / 32) * 32))
        rgb = cv2.cvtColor(cv2.resize(bgr, (iw, ih), interpolation=cv2.INTER_AREA),
                           cv2.COLOR_BGR2RGB).astype(np.float32)
        tensor = ((rgb - MEAN) / STD).transpose(2, 0, 1)[None]
        with self._lock:
            values = dict(zip(self._outputs, self._session.run(self._outputs, {"data": tensor}),
                              strict=True))
        g = self.graph

        def flat(names: list[str], width: int) -> np.ndarray:
            return np.concatenate([values[n][0].transpose(1, 2, 0).reshape(-1, width)
                                   for n in names])

        loc, conf = flat(g.loc, 4), flat(g.conf, 2)
        conf = np.exp(conf - conf.max(axis=1, keepdims=True))
        score = conf[:, 1] / conf.sum(axis=1)
        keep = np.flatnonzero(score >= self.threshold)
        if keep.size == 0:
            return []
        made = [prior_boxes(p, values[p.source].shape[2:4], (ih, iw)) for p in g.priors]
        priors = np.concatenate([m[0] for m in made])
        variances = np.concatenate([m[1] for m in made])
        boxes = decode(loc[keep], priors[keep], variances[keep])
        boxes *= np.array([w, h, w, h], dtype=np.float32)
        xywh = [(float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1]))
                for b in boxes]
        chosen = cv2.dnn.NMSBoxes(xywh, score[keep].tolist(), self.threshold, g.nms_threshold)
        out = [Detection(float(score[keep][i]), (float(boxes[i][0]), float(boxes[i][1]),
                                                 float(boxes[i][2]), float(boxes[i][3])))
               for i in np.asarray(chosen).reshape(-1)]
        return sorted(out, key=lambda d: -d.score)
