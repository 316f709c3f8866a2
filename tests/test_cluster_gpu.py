"""The compact clustering in torch (lnsnet.cluster.gpu, a GPU's path), run here on the
CPU, against the compiled CPU algorithm (lnsnet.cluster.local): the same steps give the
same labels on nearly every pixel (float32 sums in another order may flip near-ties)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import lnsnet
from lnsnet.cluster import ClusterOptions, cluster_local
from lnsnet.cluster.gpu import _edge_weights, _numpy_median, cluster_local_torch
from lnsnet.cluster.local import edge_weights
from lnsnet.features import encode
from lnsnet.grid import make_grid
from lnsnet.io import read_image, to_float_rgb
from lnsnet.model.seeds import sample_features

MINI = Path(__file__).parent / "data" / "bsds500-mini" / "images" / "test"


def _inputs(rgb, k, options, net):
    """What segment() hands the clustering: input x, grid, features z, grid-centre seeds,
    their features (with the input's, as the options say) and the input channels."""
    x = encode(rgb)
    grid = make_grid(x.shape[2], x.shape[3], k)
    with torch.inference_mode():
        z = net.embed(x)[0]
        pos = grid.centres()
        extra = x[0, :3] * options.input_weight if options.input_weight else None
        sf = sample_features(z[None], pos[None])[0]
        if extra is not None:
            sf = torch.cat([sf, sample_features(extra[None], pos[None])[0]], 1)
    return x, grid, z, pos, sf, extra


def _both(rgb, k, options, net):
    x, grid, z, pos, sf, extra = _inputs(rgb, k, options, net)
    cpu = cluster_local(lambda r0, r1: z.numpy()[:, r0:r1], [(0, x.shape[2])], grid, x[0, :3].numpy(), sf.numpy(),
                        pos.numpy(), options, extra=None if extra is None else extra.numpy())
    tor = cluster_local_torch(z, x[0, :3], grid, sf, pos, options, extra=extra)
    return cpu, tor


@pytest.mark.parametrize("spec", ["compact", "compact:feature_contrast=0", "compact:iterations=0",
                                  "compact:smoothing=0", "compact:edge_scale=0:input_weight=0",
                                  "compact:window=5:compactness=5"])
def test_torch_compact_clustering_matches_the_cpu_algorithm(spec):
    net = lnsnet.load_model()
    opts = ClusterOptions.parse(spec)
    for f in sorted(MINI.glob("*.jpg"))[:2]:
        rgb = to_float_rgb(read_image(f))[::2, ::2]  # a quarter of the pixels: quick
        for k in (60, 400):
            cpu, tor = _both(np.ascontiguousarray(rgb), k, opts, net)
            assert cpu.shape == tor.shape and tor.dtype == np.int32
            assert (cpu == tor).mean() >= 0.999, (f.name, k, spec, (cpu == tor).mean())


def test_torch_compact_clustering_on_flat_and_tiny_images():
    net = lnsnet.load_model()
    opts = ClusterOptions.parse("compact")
    for rgb in (np.full((20, 30, 3), 0.5, np.float32), np.random.default_rng(1).random((5, 7, 3)).astype(np.float32)):
        cpu, tor = _both(rgb, 6, opts, net)
        assert np.array_equal(cpu, tor)


def test_torch_helpers_by_hand():
    # edge weights: the largest squared step to a 4-neighbour over its mean, as the kernel's
    img = np.zeros((1, 3, 4), np.float32)
    img[0, 1, 2] = 2.0  # one bright pixel: its step 4 to each of its 4 neighbours
    got = _edge_weights(torch.from_numpy(img), 1.0).numpy()
    assert np.allclose(got, edge_weights(img, 1.0), rtol=1e-6)
    g = np.zeros((3, 4))
    g[1, 2] = g[0, 2] = g[2, 2] = g[1, 1] = g[1, 3] = 4.0
    assert np.allclose(got, np.exp(-g / g.mean()), rtol=1e-6)
    # numpy's median: the mean of the two middle values for an even count
    assert _numpy_median(torch.tensor([4.0, 1.0, 3.0, 2.0])) == 2.5
    assert _numpy_median(torch.tensor([5.0, 1.0, 3.0])) == 3.0


def test_cluster_pixels_sends_the_compact_clustering_off_the_cpu_to_torch(monkeypatch):
    """Where the device is not the CPU, cluster_pixels runs cluster_local_torch (here: the
    CPU made to look like another device)."""
    import lnsnet.cluster as C
    from lnsnet.cluster import gpu

    net = lnsnet.load_model()
    opts = ClusterOptions.parse("compact")
    rgb = np.ascontiguousarray(to_float_rgb(read_image(sorted(MINI.glob("*.jpg"))[0]))[::3, ::3])
    x, grid, z, pos, sf, extra = _inputs(rgb, 80, opts, net)
    on_cpu = C.cluster_pixels(z, x[0, :3].numpy(), grid, sf, pos, opts, extra=extra.numpy())
    calls = []
    monkeypatch.setattr(ClusterOptions, "on_cpu", lambda self, device_type: False)
    monkeypatch.setattr(gpu, "cluster_local_torch", lambda *a, **k: calls.append(1) or cluster_local_torch(*a, **k))
    off = C.cluster_pixels(z, x[0, :3].numpy(), grid, sf, pos, opts, extra=extra.numpy())
    assert calls == [1] and (off == on_cpu).mean() >= 0.999



def test_connectivity_on_the_device_path_gives_the_cpu_labels():
    # inference's GPU ending (_finish_device: lnsnet.connectivity.enforce_connectivity_torch),
    # run here on CPU tensors, against the CPU ending on the same raw labels
    from lnsnet.inference import _finish, _finish_device, device_connectivity
    from lnsnet.prepare import prepare

    net = lnsnet.load_model()
    opts = ClusterOptions.parse("compact")
    rgb = np.ascontiguousarray(to_float_rgb(read_image(sorted(MINI.glob("*.jpg"))[0]))[::2, ::2])
    for k in (60, 400):
        x, grid, z, pos, sf, extra = _inputs(rgb, k, opts, net)
        raw = cluster_local_torch(z, x[0, :3], grid, sf, pos, opts, extra=extra, device_labels=True)
        assert raw.dtype == torch.int64
        feats = x[0, :3].permute(1, 2, 0)
        prep = prepare(rgb)
        for start in (0, 1):
            want = _finish(raw.to(torch.int32).numpy(), feats.numpy(), prep, grid.n_seeds, opts, connect=True,
                           max_size_factor=None, start_label=start)
            got = _finish_device(raw, feats, grid.n_seeds, opts, start)
            assert got.dtype == np.int32 and np.array_equal(got, want), (k, start)
    post = dict(connect=True, max_size_factor=None, start_label=1)
    assert not device_connectivity(torch.device("cpu"), opts, post)  # the CPU ending on the CPU
    cuda = torch.device("cuda", 0)  # a device object only: nothing runs on it
    assert not device_connectivity(cuda, opts, dict(post, max_size_factor=3.0))  # slic's size cap: CPU
    assert not device_connectivity(cuda, opts, dict(post, connect=False))
    assert not device_connectivity(cuda, ClusterOptions.parse("compact:orphan_factor=0.5"), post)
