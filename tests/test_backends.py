"""segment(..., backend="openvino" | "openvino-bf16"): the network through OpenVINO on the
CPU (lnsnet.backends), the seeds, clustering and connectivity unchanged."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

import lnsnet
from lnsnet.backends import with_backend
from lnsnet.io import read_image

MINI = Path(__file__).parent / "data" / "bsds500-mini" / "images" / "test"


def _images():
    return [np.ascontiguousarray(read_image(f)[::2, ::2]) for f in sorted(MINI.glob("*.jpg"))[:2]]


def test_openvino_fp32_gives_torchs_labels_on_nearly_every_pixel():
    for im in _images():
        for k in (50, 300):
            a = lnsnet.segment(im, k)
            b = lnsnet.segment(im, k, backend="openvino")
            assert b.dtype == a.dtype and b.shape == a.shape
            assert (a == b).mean() >= 0.999


def test_openvino_bf16_segments_with_as_many_superpixels():
    from scipy import ndimage

    im = _images()[0]
    a = lnsnet.segment(im, 200)
    b = lnsnet.segment(im, 200, backend="openvino-bf16")
    assert abs(len(np.unique(b)) - len(np.unique(a))) <= 0.1 * len(np.unique(a))
    assert b.min() == 1
    for v in np.unique(b)[:50]:
        assert ndimage.label(b == v)[1] == 1  # connected, as always
    # a network of another precision, not a copy of torch's output: some labels differ
    assert (a != b).any()


def test_banded_images_keep_torch_and_lists_batch():
    im = _images()[0]
    banded = lnsnet.segment(im, 100, tile_pixels=2000)  # runs in bands: torch's forward_band
    assert np.array_equal(lnsnet.segment(im, 100, tile_pixels=2000, backend="openvino"), banded)
    ims = [im, im[::-1].copy(), im]
    got = lnsnet.segment(ims, 100, backend="openvino")
    for one, g in zip(ims, got):
        assert (lnsnet.segment(one, 100, backend="openvino") == g).mean() >= 0.999


def test_the_compiled_backend_is_cached_per_weights():
    net = lnsnet.load_model()
    a = with_backend(net, "openvino")
    assert with_backend(net, "openvino") is a
    assert with_backend(net, "torch") is net
    assert with_backend(lnsnet.load_model("none"), "openvino").embedder.__class__.__name__ == "InputEmbedder"
    other = lnsnet.load_model("untrained")
    assert with_backend(other, "openvino") is not a


def test_backend_refusals(monkeypatch):
    im = _images()[0]
    with pytest.raises(ValueError, match="backend must be one of"):
        lnsnet.segment(im, 50, backend="onnx")
    with pytest.raises(ValueError, match="without adapt"):
        lnsnet.segment(im, 50, backend="openvino", adapt=2)
    monkeypatch.setitem(sys.modules, "openvino", None)  # as if it were not installed
    with pytest.raises(ValueError, match=r"pip install 'lnsnet\[openvino\]'"):
        lnsnet.segment(im, 50, backend="openvino")


def test_cli_backend_recorded_with_the_outputs(tmp_path):
    from lnsnet.cli import main

    src = sorted(MINI.glob("*.jpg"))[0]
    assert main(["segment", str(src), "-k", "60", "-o", str(tmp_path), "--backend", "openvino", "-q"]) == 0
    record = json.loads((tmp_path / f"{src.stem}_labels.json").read_text())
    assert record["backend"] == "openvino"
    labels = np.load(tmp_path / f"{src.stem}_labels.npy")
    assert (labels == lnsnet.segment(read_image(src), 60)).mean() >= 0.999
