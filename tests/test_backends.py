"""segment(..., backend="openvino" | "openvino-bf16"): the network's feature embedder through
OpenVINO on the CPU (lnsnet.backends), the seeds, clustering and connectivity unchanged; with
the clustering that reads the embedder (the "compact" preset), not the default "fast"."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

import lnsnet
from lnsnet.backends import OpenVINOEmbedder, with_backend
from lnsnet.io import read_image

MINI = Path(__file__).parent / "data" / "bsds500-mini" / "images" / "test"


def _images():
    return [np.ascontiguousarray(read_image(f)[::2, ::2]) for f in sorted(MINI.glob("*.jpg"))[:2]]


def test_openvino_fp32_gives_torchs_labels_on_nearly_every_pixel():
    for im in _images():
        for k in (50, 300):
            a = lnsnet.segment(im, k, clustering="compact")
            b = lnsnet.segment(im, k, backend="openvino", clustering="compact")
            assert b.dtype == a.dtype and b.shape == a.shape
            assert (a == b).mean() >= 0.999


def test_openvino_bf16_segments_with_as_many_superpixels():
    from scipy import ndimage

    im = _images()[0]
    a = lnsnet.segment(im, 200, clustering="compact")
    b = lnsnet.segment(im, 200, backend="openvino-bf16", clustering="compact")
    assert abs(len(np.unique(b)) - len(np.unique(a))) <= 0.1 * len(np.unique(a))
    assert b.min() == 1
    for v in np.unique(b)[:50]:
        assert ndimage.label(b == v)[1] == 1  # connected, as always
    # a network of another precision, not a copy of torch's output: some labels differ
    assert (a != b).any()


def test_banded_images_keep_torch_and_lists_batch():
    im = _images()[0]
    banded = lnsnet.segment(im, 100, tile_pixels=2000, clustering="compact")  # runs in bands: torch's forward_band
    assert np.array_equal(lnsnet.segment(im, 100, tile_pixels=2000, backend="openvino", clustering="compact"), banded)
    ims = [im, im[::-1].copy(), im]
    got = lnsnet.segment(ims, 100, backend="openvino", clustering="compact")
    for one, g in zip(ims, got):
        assert (lnsnet.segment(one, 100, backend="openvino", clustering="compact") == g).mean() >= 0.999


def test_the_compiled_backend_is_cached_per_weights_and_runs():
    net = lnsnet.load_model()
    a = with_backend(net, "openvino")
    assert isinstance(a.embedder, OpenVINOEmbedder) and a is not net
    assert with_backend(net, "openvino").embedder is a.embedder  # exported once
    assert with_backend(net, "torch") is net
    assert with_backend(lnsnet.load_model("none"), "openvino").embedder.__class__.__name__ == "InputEmbedder"
    assert with_backend(lnsnet.load_model("untrained"), "openvino").embedder is not a.embedder
    im = _images()[1]
    before = len(a.embedder._compiled)
    lnsnet.segment(im[:37, :53].copy(), 20, model=net, backend="openvino", clustering="compact")  # a shape not seen yet: compiled
    assert len(a.embedder._compiled) == before + 1


def test_a_shared_embedder_does_not_share_the_seed_layer():
    """Two models with the same embedder and different seed layers (the second training
    phase trains only the seed layer): each keeps its own seeds with the backend."""
    import torch

    im = _images()[0]
    one = lnsnet.load_model()
    two = lnsnet.load_model()
    with torch.no_grad():
        for p in two.seed_layer.parameters():
            p.add_(torch.randn_like(p) * 0.5)
    for net in (one, two):
        want = lnsnet.segment(im, 80, model=net, clustering="compact:seeds=learned")
        got = lnsnet.segment(im, 80, model=net, clustering="compact:seeds=learned", backend="openvino")
        assert (want == got).mean() >= 0.999


def test_backend_refusals(monkeypatch):
    im = _images()[0]
    with pytest.raises(ValueError, match="backend must be one of"):
        lnsnet.segment(im, 50, backend="onnx")
    with pytest.raises(ValueError, match="without adapt"):
        lnsnet.segment(im, 50, backend="openvino", adapt=2, clustering="compact")
    with pytest.raises(ValueError, match="pass clustering='compact'"):
        lnsnet.segment(im, 50, backend="openvino")  # the default, fast, does not run the embedder
    with pytest.raises(ValueError, match="a volume takes backend='torch'"):
        lnsnet.segment(np.zeros((4, 5, 6), np.float32), 8, channel_axis=None, backend="openvino")
    monkeypatch.setitem(sys.modules, "openvino", None)  # as if it were not installed
    with pytest.raises(ValueError, match=r"pip install '\.\[openvino\]'"):
        lnsnet.segment(im, 50, backend="openvino", clustering="compact")


def test_cli_backend_recorded_with_the_outputs(tmp_path):
    from lnsnet.cli import main

    src = sorted(MINI.glob("*.jpg"))[0]
    assert main(["segment", str(src), "-k", "60", "-o", str(tmp_path), "--backend", "openvino", "--clustering", "compact",
                 "-q"]) == 0
    record = json.loads((tmp_path / f"{src.stem}_labels.json").read_text())
    assert record["backend"] == "openvino"
    labels = np.load(tmp_path / f"{src.stem}_labels.npy")
    assert (labels == lnsnet.segment(read_image(src), 60, clustering="compact")).mean() >= 0.999


def test_cli_backend_refusals_are_one_line_before_any_work(tmp_path, capsys):
    from lnsnet.cli import main

    src = sorted(MINI.glob("*.jpg"))[0]
    assert main(["segment", str(src), "-o", str(tmp_path / "a"), "--backend", "openvino", "--adapt", "2"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--backend openvino" in err[0]
    assert not (tmp_path / "a" / f"{src.stem}_labels.npy").exists()

