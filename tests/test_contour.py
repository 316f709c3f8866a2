"""The contour head and its teacher: the half-disc detector's math by hand, the head in
bands equal to the head whole, the spatial term's factor, the head in the clustering
(CPU and torch paths), in checkpoints and in the lifelong trainer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import lnsnet
from lnsnet import checkpoint
from lnsnet.cluster import ClusterOptions, cluster_local
from lnsnet.cluster.gpu import cluster_local_torch
from lnsnet.features import _halfdisc_chi2, _halfdisc_kernels, halfdisc_contours
from lnsnet.grid import make_grid
from lnsnet.model import LNSNet, ModelConfig
from lnsnet.model import contour as contour_mod
from lnsnet.model.contour import ContourHead, contour_factor
from lnsnet.hub import input_features
from lnsnet.train import TrainConfig, adapt_model, train_stream


def _step_image(h=40, w=48, col=24):
    """Left of ``col`` black, from ``col`` on white: one vertical lightness edge."""
    rgb = np.zeros((h, w, 3), np.float32)
    rgb[:, col:] = 1.0
    return rgb


def test_halfdisc_chi2_at_a_step_by_hand():
    # two bins, a vertical edge between columns 23 | 24; at pixel (20, 24) and the vertical
    # line (orientation 4: halves x < 0 and x > 0), the left half is all bin 0, the right
    # half and the centre column (x = 0) all bin 1: with n pixels in each half and m on the
    # centre column, the disc's histogram is (n, n + m) / (2n + m) and the halves' difference
    # is (1, -1), so the distance is 0.25 * (1 / s0 + 1 / s1)
    q = np.zeros((40, 48), np.int64)
    q[:, 24:] = 1
    r = 4
    k = _halfdisc_kernels(r)
    n = int((k[4] > 0).sum())
    m = int((k[-1] > 0).sum()) - 2 * n
    want = 0.25 * ((2 * n + m) / n + (2 * n + m) / (n + m))
    got = _halfdisc_chi2(q, r)
    assert got[4, 20, 24] == pytest.approx(want, rel=1e-4)
    assert got[4, 20, 24 - r - 1] == pytest.approx(0.0, abs=1e-4)  # the disc off the edge
    assert got[0, 20, 24] < got[4, 20, 24]  # the horizontal line splits the disc along the edge


def test_halfdisc_contours_peak_on_the_edge_and_vanish_on_flat_images():
    b = halfdisc_contours(_step_image())
    assert b.shape == (40, 48) and b.dtype == np.float32
    assert b.min() >= 0.0 and b.max() == pytest.approx(1.0)
    row = b[20]
    assert row.argmax() in (23, 24)
    assert row[0] == pytest.approx(0.0, abs=1e-4)  # (FFT rounding) beyond the largest disc (radius 32 for a, b; L 16)
    assert np.all(halfdisc_contours(np.full((9, 7, 3), 0.3, np.float32)) == 0)
    assert halfdisc_contours(np.random.default_rng(0).random((3, 2, 3))).shape == (3, 2)


def test_contour_head_in_bands_equals_the_whole_map(monkeypatch):
    head = ContourHead(3, 6)
    head.reset_parameters(torch.Generator().manual_seed(1))
    x = torch.randn(2, 3, 301, 57)
    with torch.no_grad():
        whole = head._forward(x)
        monkeypatch.setattr(contour_mod, "BAND_PIXELS", 57 * 2 * 80)
        banded = head(x)
    assert whole.shape == (2, 1, 301, 57)
    assert float(whole.min()) > 0 and float(whole.max()) < 1
    assert torch.allclose(whole, banded, atol=1e-5)


def test_contour_factor_by_hand():
    b = torch.tensor([[0.0, 1.0], [0.5, 0.0]])
    f = contour_factor(b, 2.0)
    e = torch.exp(-2.0 * b)
    assert torch.allclose(f, e / e.mean())
    assert float(f.mean()) == pytest.approx(1.0)
    mask = torch.tensor([[True, True], [False, False]])
    fm = contour_factor(b, 2.0, mask)
    assert float(fm[mask].mean()) == pytest.approx(1.0)
    assert torch.allclose(contour_factor(b, 0.0), torch.ones(2, 2))


def _clustering_inputs(k=30):
    rng = np.random.default_rng(0)
    h, w = 48, 64
    colour = rng.normal(size=(3, h, w)).astype(np.float32)
    colour[:, :, 30:] += 2.0
    grid = make_grid(h, w, k)
    pos = grid.centres().numpy()
    feats = np.stack([colour[:, int(y), int(x)] for y, x in pos]).astype(np.float32)
    return colour, grid, feats, pos


def test_a_constant_contour_factor_is_the_compactness_times_it():
    colour, grid, feats, pos = _clustering_inputs()
    opts = ClusterOptions.resolve("compact", input_weight=0.0, feature_contrast=0.0)
    zb = lambda r0, r1: colour[:, r0:r1]  # noqa: E731
    bands = [(0, colour.shape[1])]
    two = cluster_local(zb, bands, grid, colour, feats, pos, opts, contour=np.full(colour.shape[1:], 2.0, np.float32))
    doubled = cluster_local(zb, bands, grid, colour, feats, pos, opts.replace(compactness=2 * opts.compactness))
    plain = cluster_local(zb, bands, grid, colour, feats, pos, opts)
    assert np.array_equal(two, doubled)
    assert not np.array_equal(two, plain)
    ones = cluster_local(zb, bands, grid, colour, feats, pos, opts, contour=np.ones(colour.shape[1:], np.float32))
    assert np.array_equal(ones, plain)


def test_torch_path_takes_the_contour_factor_as_the_cpu_does():
    colour, grid, feats, pos = _clustering_inputs()
    opts = ClusterOptions.resolve("compact", input_weight=0.0, feature_contrast=0.0)
    f = contour_factor(torch.from_numpy(np.random.default_rng(1).random(colour.shape[1:]).astype(np.float32)), 4.0)
    cpu = cluster_local(lambda r0, r1: colour[:, r0:r1], [(0, colour.shape[1])], grid, colour, feats, pos, opts,
                        contour=f.numpy())
    tor = cluster_local_torch(torch.from_numpy(colour), torch.from_numpy(colour), grid, torch.from_numpy(feats),
                              torch.from_numpy(pos), opts, contour=f, kernels=False)
    plain = cluster_local_torch(torch.from_numpy(colour), torch.from_numpy(colour), grid, torch.from_numpy(feats),
                                torch.from_numpy(pos), opts, kernels=False)
    assert (cpu == tor).mean() >= 0.999
    assert (tor != plain).any()


def test_segment_uses_the_head_only_where_there_is_one():
    rgb = np.random.default_rng(2).random((60, 80, 3)).astype(np.float32)
    net = LNSNet()
    with_head = lnsnet.segment(rgb, 20, model=net)
    off = lnsnet.segment(rgb, 20, model=net, clustering="contour=0")
    assert not np.array_equal(with_head, off)
    for spec in ("contour=0", "contour=8"):  # no network, no head: the option is idle
        assert np.array_equal(lnsnet.segment(rgb, 20, model="none", clustering=spec),
                              lnsnet.segment(rgb, 20, model="none"))
    with pytest.raises(ValueError, match="contour"):
        ClusterOptions.resolve("paper", mode="dense", contour=1.0)
    with pytest.raises(ValueError, match="contour"):
        ClusterOptions.resolve("compact", contour=-1.0)


def test_input_features_are_the_measuring_stick_plus_the_head(monkeypatch):
    rgb = np.random.default_rng(3).random((60, 80, 3)).astype(np.float32)
    net = LNSNet()
    # the embedder is not run at all with features="input"
    monkeypatch.setattr(net.embedder, "forward", lambda *a, **k: (_ for _ in ()).throw(AssertionError("FEM ran")))
    for spec in ("compact:contour=0", "compact:contour=0:compactness=9", "paper"):
        assert np.array_equal(lnsnet.segment(rgb, 20, model=net, clustering=spec + ":features=input"),
                              lnsnet.segment(rgb, 20, model="none", clustering=spec))
    with_head = lnsnet.segment(rgb, 20, model=net, clustering="compact:features=input:contour=8")
    assert not np.array_equal(with_head, lnsnet.segment(rgb, 20, model="none", clustering="compact:contour=8"))
    assert net.embedder.__class__.__name__ == "FeatureEmbedder"  # the caller's model is left whole
    with pytest.raises(ValueError, match="features='learned'"):
        ClusterOptions.resolve("compact", features="input", seeds="learned")
    with pytest.raises(ValueError, match="unknown features"):
        ClusterOptions.parse("features=fem")
    assert ClusterOptions.parse(ClusterOptions.resolve(features="input").spec()).features == "input"
    assert ClusterOptions.resolve("fast").features == "input"
    assert ClusterOptions.resolve("fast", seeds="learned").features == "learned"  # learned seeds read them
    view = input_features(net)
    view.to(torch.float64)  # the light copy's own buffers: the caller's memory stays float32
    assert net.memory.dtype == torch.float32 and view.contour_head is net.contour_head


def test_the_folded_input_equals_the_input_beside_its_copy():
    """With features="input" a whole image folds the input and its weighted copy into one
    feature; bands keep them apart. Both give the same labels, also where one channel
    hardly varies (a 5-channel image whose third principal component has 1e-4 of the first's
    spread: the smoothing's contrast floors such a copy, so it is not folded there)."""
    from lnsnet.cluster import ClusterOptions as CO
    from lnsnet.inference import _foldable

    rng = np.random.default_rng(4)
    base = np.kron(rng.random((6, 8, 2)), np.ones((10, 10, 1))) + 0.02 * rng.random((60, 80, 2))
    third = 1e-4 * rng.random((60, 80, 1))
    img = np.concatenate([base, third], 2) @ rng.random((3, 5))
    rgb = np.clip(np.kron(rng.random((6, 8, 3)), np.ones((10, 10, 1))) + 0.03 * rng.random((60, 80, 3)), 0, 1)
    for im, kw in ((img, dict(channel_axis=-1, convert2lab=False)), (rgb, {})):
        whole = lnsnet.segment(im, 24, clustering="fast", **kw)
        banded = lnsnet.segment(im, 24, clustering="fast", tile_pixels=80 * 13, **kw)
        assert (whole == banded).mean() > 0.999
    fast = CO.resolve("fast")
    assert _foldable(np.array([[2.5, 2.0, 0.5]]), fast)
    assert not _foldable(np.array([[2.5, 2.0, 1e-4]]), fast)
    assert _foldable(np.array([[2.5, 2.0, 1e-4]]), fast.replace(feature_contrast=0.0))
    assert _foldable(np.array([[2.5, 0.0, 0.0]]), fast)  # gray: the flat channels are not copies


def test_adapting_with_input_features_trains_a_copy_of_the_head_alone(monkeypatch):
    rgb = np.zeros((40, 48, 3), np.float32)
    rgb[:, 20:] = (0.9, 0.2, 0.1)  # one vertical step: the teacher's contour at column 20
    net = LNSNet()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    tuned = adapt_model(net, rgb, 10, 5, contours=True)
    after = tuned.state_dict()
    moved = {k for k in before if not torch.equal(before[k], after[k])}
    assert moved and all(k.startswith("contour_head.") for k in moved)
    assert all(torch.equal(v, net.state_dict()[k]) for k, v in before.items())  # the original untouched
    import lnsnet.train

    calls = []
    real = lnsnet.train.adapt_model
    monkeypatch.setattr(lnsnet.train, "adapt_model", lambda *a, **kw: calls.append(kw) or real(*a, **kw))
    out = lnsnet.segment(rgb, 10, model=net, clustering="fast", adapt=2)
    assert out.shape == (40, 48) and calls and calls[0]["contours"] is True  # the head, not the FEM
    tiny = lnsnet.segment(rgb[:12, 14:28], 4, model=net, clustering="fast", adapt=1)  # a crop below 16 px
    assert tiny.shape == (12, 14)
    with pytest.raises(ValueError, match="contour head"):
        lnsnet.segment(rgb, 10, model=LNSNet(ModelConfig(contour_width=0)), clustering="compact:features=input",
                       adapt=1)


def test_models_saved_before_the_head_load_without_one(tmp_path: Path):
    net = LNSNet()
    assert net.contour_head is not None and net.config.contour_width == 12
    old = ModelConfig.from_dict({k: v for k, v in net.config.to_dict().items() if k != "contour_width"})
    assert old.contour_width == 0 and LNSNet(old).contour_head is None
    checkpoint.save(tmp_path / "m.pt", net)
    back = checkpoint.model_from_payload(checkpoint.load(tmp_path / "m.pt"))
    assert back.contour_head is not None
    for a, b in zip(net.contour_head.parameters(), back.contour_head.parameters()):
        assert torch.equal(a, b)


def test_contours_only_training_moves_the_head_alone_and_resumes(tmp_path: Path):
    rng = np.random.default_rng(3)
    images = [rng.random((40, 52, 3)).astype(np.float32) for _ in range(3)]
    start = LNSNet(ModelConfig(contour_width=0))  # a model from before the head
    before = {k: v.clone() for k, v in start.state_dict().items()}
    cfg = TrainConfig(contours_only=True, contour_iterations=3, contour_crop=32)
    out = tmp_path / "m.pt"
    net = train_stream(images[:2], out, config=cfg, model=start, progress=False)
    assert net.contour_head is not None and net.config.contour_width == 12
    for k, v in before.items():  # feature embedder, seed layer, reconstruction, memory: unchanged
        assert torch.equal(net.state_dict()[k], v), k
    payload = checkpoint.load(out)
    assert "contour_optimizer" in payload
    assert all("contour_loss" in r and "loss" not in r for r in payload["history"])
    head0 = {k: v.clone() for k, v in net.contour_head.state_dict().items()}
    resumed = train_stream(images, out, config=cfg, resume=True, progress=False)
    assert checkpoint.load(out)["position"] == 3
    assert any(not torch.equal(resumed.contour_head.state_dict()[k], v) for k, v in head0.items())
    with pytest.raises(ValueError, match="contour_iterations"):
        TrainConfig(contours_only=True, contour_iterations=0)


def test_a_stream_saved_before_the_head_resumes_without_one(tmp_path: Path):
    rng = np.random.default_rng(4)
    images = [rng.random((36, 44, 3)).astype(np.float32) for _ in range(2)]
    cfg = TrainConfig(iterations=2, feature_iterations=1, n_segments=(6,), contour_iterations=0)
    out = tmp_path / "old.pt"
    net = train_stream(images[:1], out, config=cfg, model=LNSNet(ModelConfig(contour_width=0)), progress=False)
    assert net.contour_head is None
    payload = checkpoint.load(out)  # as a checkpoint of before the head: no such keys
    payload["train_config"].pop("contour_iterations")
    for key in ("contour_lr", "contour_crop", "contours_only"):
        payload["train_config"].pop(key)
    torch.save(payload, out)
    assert TrainConfig.from_dict(payload["train_config"]).contour_iterations == 0
    resumed = train_stream(images, out, resume=True, progress=False)
    assert resumed.contour_head is None and checkpoint.load(out)["position"] == 2
