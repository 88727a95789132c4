"""The learned plate detector: the Caffe reading and SSD head logic on small hand-made inputs
(fast), then the real hyperlpr2 weights on rendered scenes (slow)."""

from __future__ import annotations

import random

import cv2
import numpy as np
import pytest

from gate.bench.plates_data import PlateSpec, car_scene, render_plate
from recognition.plate_detector import (
    PlateDetector,
    PriorSpec,
    _enc_varint,
    _int,
    _len,
    _str,
    decode,
    parse_prototxt,
    prior_boxes,
    read_caffemodel,
)
from recognition.plates import boxed_candidates, plate_colour


def test_prototxt_nested_and_repeated_fields() -> None:
    text = '''
    name: "net"  # a comment
    layer { name: "c1" type: "Convolution" convolution_param { kernel_size: 3 pad: 1 } }
    layer { name: "p" type: "PriorBox" prior_box_param { aspect_ratio: 1.0 aspect_ratio: 2.0
            flip: false min_size: 51.2 } }
    '''
    net = parse_prototxt(text)
    assert net["name"] == ["net"]
    c1, p = net["layer"]
    assert c1["convolution_param"][0] == {"kernel_size": [3], "pad": [1]}
    assert p["prior_box_param"][0]["aspect_ratio"] == [1.0, 2.0]
    assert p["prior_box_param"][0]["flip"] == [False]
    with pytest.raises(ValueError):
        parse_prototxt("layer { name: }")


def test_caffemodel_blobs_round_trip() -> None:
    """A NetParameter with one layer (field 100) holding a 2x1x1x3 weight and a bias, the way
    Caffe writes them: packed shape dims, packed float data."""
    w = np.arange(6, dtype="<f4").reshape(2, 1, 1, 3)
    b = np.array([0.5, -1.0], dtype="<f4")

    def blob(a: np.ndarray) -> bytes:
        dims = b"".join(_enc_varint(d) for d in a.shape)
        return _len(7, _len(1, dims)) + _len(5, a.tobytes())

    layer = _str(1, "conv") + _str(2, "Convolution") + _len(7, blob(w)) + _len(7, blob(b))
    net = _str(1, "net") + _len(100, layer) + _len(100, _str(1, "relu"))  # no blobs: skipped
    got = read_caffemodel(net)
    assert list(got) == ["conv"]
    np.testing.assert_array_equal(got["conv"][0], w)
    np.testing.assert_array_equal(got["conv"][1], b)
    assert _int(1, 300) == bytes([0x08, 0xAC, 0x02])  # varint encoding, as protobuf spells it


def test_prior_boxes_follow_caffe_order() -> None:
    """Per cell: the min box, the sqrt(min*max) box, then each aspect ratio; normalised."""
    spec = PriorSpec("f", 20.0, 80.0, (2.0,), (0.1, 0.1, 0.2, 0.2), 0.5)
    boxes, var = prior_boxes(spec, (2, 2), (100, 200))
    assert boxes.shape == (2 * 2 * 3, 4) and var.shape == (12, 4)
    np.testing.assert_allclose(boxes[0], [50 / 200, 25 / 100, 20 / 200, 20 / 100])
    np.testing.assert_allclose(boxes[1], [50 / 200, 25 / 100, 40 / 200, 40 / 100])
    np.testing.assert_allclose(boxes[2], [0.25, 0.25, 20 * np.sqrt(2) / 200,
                                          20 / np.sqrt(2) / 100], rtol=1e-6)
    np.testing.assert_allclose(boxes[3][:2], [150 / 200, 25 / 100])  # next cell to the right
    np.testing.assert_allclose(var[5], [0.1, 0.1, 0.2, 0.2])


def test_decode_centre_size_with_variances() -> None:
    priors = np.array([[0.5, 0.5, 0.2, 0.1]], np.float32)
    var = np.array([[0.1, 0.1, 0.2, 0.2]], np.float32)
    np.testing.assert_allclose(decode(np.zeros((1, 4), np.float32), priors, var),
                               [[0.4, 0.45, 0.6, 0.55]], atol=1e-6)
    moved = decode(np.array([[1.0, 0.0, np.log(2) / 0.2, 0.0]], np.float32), priors, var)
    np.testing.assert_allclose(moved, [[0.32, 0.45, 0.72, 0.55]], atol=1e-6)  # right, twice wide


def test_boxed_candidates_tighten_a_loose_box_and_judge_its_colour() -> None:
    rgb, (x, y, w, h) = car_scene(render_plate(PlateSpec("京A12345", "yellow")),
                                  random.Random(2), plate_width=220)
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    loose = (x - 0.3 * w, y - 0.8 * h, x + 1.3 * w, y + 1.8 * h)
    cands = boxed_candidates(bgr, loose)
    first = cands[0].quad
    assert cands[0].colour == "yellow"
    assert abs(first[:, 0].min() - x) < 0.1 * w and abs(first[:, 0].max() - (x + w)) < 0.1 * w
    np.testing.assert_allclose(cands[-1].quad[0], loose[:2], atol=0.01)  # the box itself last
    assert plate_colour(bgr, cands[0].quad) == "yellow"


@pytest.fixture(scope="module")
def detector() -> PlateDetector:
    return PlateDetector()


@pytest.mark.slow
@pytest.mark.parametrize(("style", "seed"), [("blue", 1), ("yellow", 2), ("white", 4)])
def test_the_shipped_detector_finds_a_plate(detector: PlateDetector, style: str,
                                            seed: int) -> None:
    """Blue, yellow and white plates (the model does not find the rendered green gradient
    plate: green ones are left to the colour cues, which find them by their colour)."""
    rgb, (x, y, w, h) = car_scene(render_plate(PlateSpec("京A12345", style)), random.Random(seed),
                                  plate_width=200)
    found = detector.detect(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), 640)
    assert found, f"no {style} plate found"
    x1, y1, x2, y2 = found[0].box
    inter = max(0.0, min(x2, x + w) - max(x1, x)) * max(0.0, min(y2, y + h) - max(y1, y))
    assert inter / ((x2 - x1) * (y2 - y1) + w * h - inter) > 0.4


@pytest.mark.slow
def test_the_shipped_detector_finds_nothing_on_an_empty_road(detector: PlateDetector) -> None:
    frame = np.full((720, 1280, 3), (120, 115, 110), np.uint8)
    frame[470:] = (72, 70, 70)
    assert [d for d in detector.detect(frame, 640) if d.score >= 0.5] == []
