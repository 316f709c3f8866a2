"""Checks of the compact clustering's CUDA kernels (lnsnet.cluster.cuda) under numba's CUDA
simulator, run by tests/test_cluster_cuda.py in a subprocess with NUMBA_ENABLE_CUDASIM=1
(the simulator must be chosen before numba.cuda is imported). Prints "ok" at the end."""

import os
import sys
from pathlib import Path

import numpy as np
import torch

assert os.environ.get("NUMBA_ENABLE_CUDASIM") == "1", "run with NUMBA_ENABLE_CUDASIM=1"
from lnsnet.cluster import cuda as ck  # noqa: E402

f32 = np.float32


def t(a, dtype=torch.float32):
    return torch.tensor(np.asarray(a), dtype=dtype)


def assign1(z, feats, pos, wmap, *args, **kw):
    """ck.assign on one image (the kernels take batches)."""
    lab, best, d = ck.assign(z[None], feats[None], pos[None], None if wmap is None else wmap[None], *args, **kw)
    return lab[0], best[0], None if d is None else d[0]


def potts1(lab, dists, pr, pc, cols, win, right, down, lam, colour):
    """ck.potts_half_sweep on one image, in place."""
    out = ck.potts_half_sweep(lab[None], dists[None], pr, pc, cols, win, right[None], down[None],
                              torch.tensor([lam], dtype=torch.float32), colour)
    return out[0]


def check_assign_by_hand():
    # a 1x4 image, a 1x2 grid of seeds (pixel columns 0-1 in cell 0, 2-3 in cell 1), one channel
    pr, pc = t([0], torch.int64), t([0, 0, 1, 1], torch.int64)
    feats = t([[0.0], [1.0]])
    pos = t([[0.0, 0.0], [0.0, 3.0]])
    z = t([0.0, 0.4, 0.6, 1.0]).reshape(1, 4, 1)
    lab, best, d = assign1(z, feats, pos, None, pr, pc, 1, 2, 3, keep=True)
    assert lab.tolist() == [[0, 0, 1, 1]], lab
    assert torch.equal(best, d.min(0).values)  # each pixel's least distance
    # candidate order: cells (dr, dc) row by row; dr = -1 and +1 are beyond the grid
    assert torch.isinf(d[[0, 1, 2, 6, 7, 8]]).all()
    assert torch.isinf(d[3, 0, :2]).all() and torch.isinf(d[5, 0, 2:]).all()  # left of cell 0, right of cell 1
    want_own = [0.0, f32(0.4) ** 2, (f32(0.6) - f32(1.0)) ** 2, 0.0]
    assert np.allclose(d[4, 0].numpy(), want_own, rtol=1e-6), d[4, 0]
    assert np.isclose(float(d[5, 0, 1]), (f32(1.0) - f32(0.4)) ** 2, rtol=1e-6)
    # a tie goes to the first candidate: seed 0 comes before seed 1 from either cell
    lab, _, _ = assign1(t([0.5, 0.5, 0.5, 0.5]).reshape(1, 4, 1), feats, pos, None, pr, pc, 1, 2, 3)
    assert lab.tolist() == [[0, 0, 0, 0]], lab
    # the spatial term alone: equal features, the nearer seed (columns 0 and 3) wins
    lab, _, _ = assign1(torch.zeros((1, 4, 1)), torch.zeros((2, 1)), pos, torch.ones((1, 4)), pr, pc, 1, 2, 3)
    assert lab.tolist() == [[0, 0, 1, 1]], lab
    # the spatial weight scales the squared pixel distance: pixel 1 to seed 1 is 2 px away
    _, _, d = assign1(torch.zeros((1, 4, 1)), torch.zeros((2, 1)), pos, torch.full((1, 4), 0.5), pr, pc, 1, 2, 3,
                        keep=True)
    assert float(d[5, 0, 1]) == 0.5 * 4 and float(d[4, 0, 1]) == 0.5 * 1


def check_seed_round_by_hand():
    # a 1x4 image, seeds 0 and 1 at columns 0 and 3, one channel: pixels 0-1 go to seed 0,
    # 2-3 to seed 1; the sums, then the seeds at the means
    pr, pc = t([0], torch.int64), t([0, 0, 1, 1], torch.int64)
    feats = t([[0.0], [1.0]])
    pos = t([[0.0, 0.0], [0.0, 3.0]])
    z = t([0.0, 0.25, 0.75, 1.0]).reshape(1, 4, 1)
    sums = ck.round_buffers(1, 2, 1, torch.device("cpu"))
    lab, _, _ = assign1(z, feats, pos, None, pr, pc, 1, 2, 3, sums=sums)
    assert lab.tolist() == [[0, 0, 1, 1]]
    cnt, fsum, psum = (v[0] for v in sums)
    assert cnt.tolist() == [2.0, 2.0] and fsum[:, 0].tolist() == [0.25, 1.75]
    assert psum.tolist() == [[0.0, 1.0], [0.0, 5.0]]
    ck.update_seeds(feats[None], pos[None], sums)
    assert feats[:, 0].tolist() == [0.125, 0.875] and pos.tolist() == [[0.0, 0.5], [0.0, 2.5]]
    assert all(float(v.abs().sum()) == 0 for v in sums)  # zeroed for the next round
    # a seed without pixels keeps its features and place
    feats2, pos2 = t([[0.0], [9.0]]), t([[0.0, 0.0], [0.0, 3.0]])
    sums = ck.round_buffers(1, 2, 1, torch.device("cpu"))
    assign1(t([0.0, 0.0, 0.0, 0.0]).reshape(1, 4, 1), feats2, pos2, None, pr, pc, 1, 2, 3, sums=sums)
    ck.update_seeds(feats2[None], pos2[None], sums)
    assert feats2.tolist() == [[0.0], [9.0]] and pos2.tolist() == [[0.0, 1.5], [0.0, 3.0]]


def check_components():
    from lnsnet.connectivity import components

    # by hand: a U of label 1 around a 0 is one component; numbering in raster order
    lab = t([[1, 0, 1], [1, 0, 1], [1, 1, 1], [2, 2, 0]], torch.int64)
    comp, k = ck.components(lab[None])
    assert k.tolist() == [4] and comp[0].tolist() == [[0, 1, 0], [0, 1, 0], [0, 0, 0], [2, 2, 3]], comp
    # a spiral (a long chain of links) and random maps, against the compiled CPU version
    spiral = np.zeros((9, 9), np.int64)
    y, x, dy, dx = 0, 0, 0, 1
    for _ in range(81):
        spiral[y, x] = 1
        ny, nx = y + dy, x + dx
        if not (0 <= ny < 9 and 0 <= nx < 9) or spiral[ny, nx] or (
                0 <= ny + dy < 9 and 0 <= nx + dx < 9 and spiral[ny + dy, nx + dx]):
            dy, dx = dx, -dy
            ny, nx = y + dy, x + dx
            if spiral[ny, nx]:
                break
        y, x = ny, nx
    rng = np.random.default_rng(1)
    maps = [rng.integers(0, n, (13, 17)) for n in (2, 3, 5)]
    for arr in [spiral] + maps:
        want, kw = components(arr)
        got, kg = ck.components(torch.from_numpy(arr)[None])
        assert kg.tolist() == [kw] and np.array_equal(got[0].numpy(), want), arr
    # a batch: ids run on from image to image
    got, kg = ck.components(torch.from_numpy(np.stack(maps)))
    start = 0
    for arr, g, n in zip(maps, got.numpy(), kg.tolist()):
        want, kw = components(arr)
        assert n == kw and np.array_equal(g - start, want)
        start += n


def check_potts_by_hand():
    # a 3x3 image, grid 1x2 (columns 0-1 in cell 0, column 2 in cell 1): seed 0's slot is 4
    # (own cell) for every pixel, seed 1's slot 5 in cell 0 and 4 in cell 1
    pr, pc = t([0, 0, 0], torch.int64), t([0, 0, 1], torch.int64)
    dists = torch.full((9, 3, 3), float("inf"))
    dists[4, :, :2], dists[5, :, :2] = 10.0, 0.0  # cell 0: seed 0 costs 10, seed 1 nothing
    dists[3, :, 2], dists[4, :, 2] = 10.0, 0.0  # cell 1: seed 0 (slot 3) 10, seed 1 nothing
    dists[4, 1, 1], dists[5, 1, 1] = 1.0, 1.5  # the centre prefers seed 0 by 0.5
    ones = torch.ones((3, 3))
    for lam, want in ((1.0, 1), (0.1, 0)):  # 4 differing neighbours cost 4 lam
        lab = torch.ones((3, 3), dtype=torch.int64)
        lab[1, 1] = 0
        out = potts1(lab, dists, pr, pc, 2, 3, ones, ones, lam, 0)
        assert out.data_ptr() == lab.data_ptr() and int(lab[1, 1]) == want and int(lab.sum()) == 8 + want, (lam, lab)
    lab = torch.ones((3, 3), dtype=torch.int64)
    lab[1, 1] = 0
    potts1(lab, dists, pr, pc, 2, 3, ones, ones, 1.0, 1)  # the other colour: the centre stays
    assert int(lab[1, 1]) == 0
    # pair weights: zero weights leave only the data term (seed 0 at 1.0 beats 1.5), where
    # unit weights flipped the centre at lam = 1 above
    lab = torch.ones((3, 3), dtype=torch.int64)
    lab[1, 1] = 0
    potts1(lab, dists, pr, pc, 2, 3, torch.zeros((3, 3)), torch.zeros((3, 3)), 1.0, 0)
    assert int(lab[1, 1]) == 0 and int(lab.sum()) == 8


def check_equal_to_torch_steps():
    sys.path.insert(0, str(Path(__file__).parent))
    import lnsnet
    from lnsnet.cluster import ClusterOptions
    from lnsnet.cluster.gpu import cluster_local_torch
    from lnsnet.io import read_image, to_float_rgb
    from test_cluster_gpu import MINI, _inputs

    net = lnsnet.load_model()
    rgb = np.ascontiguousarray(to_float_rgb(read_image(sorted(MINI.glob("*.jpg"))[0]))[100:130, 200:240])
    for spec, k in (("compact", 12), ("compact:window=5:compactness=5:feature_contrast=0", 20)):
        opts = ClusterOptions.parse(spec)
        x, grid, z, pos, sf, extra = _inputs(rgb, k, opts, net)
        a = cluster_local_torch(z, x[0, :3], grid, sf, pos, opts, extra=extra, kernels=False)
        b = cluster_local_torch(z, x[0, :3], grid, sf, pos, opts, extra=extra, kernels=True)
        # the simulator runs the kernels in Python, without fused multiply-adds: equal labels
        # (on a GPU, FMAs may flip near-ties: benchmarks/gpu_compact.py measures that)
        assert a.dtype == b.dtype == np.int32 and np.array_equal(a, b), (spec, (a == b).mean())


def check_batch_equals_one_by_one():
    # two different images in one batch: the labels of each alone (kernels and torch steps)
    sys.path.insert(0, str(Path(__file__).parent))
    import lnsnet
    from lnsnet.cluster import ClusterOptions
    from lnsnet.cluster.gpu import cluster_batch, cluster_local_torch
    from lnsnet.io import read_image, to_float_rgb
    from test_cluster_gpu import MINI, _inputs

    net = lnsnet.load_model()
    files = sorted(MINI.glob("*.jpg"))
    crops = [np.ascontiguousarray(to_float_rgb(read_image(f))[60:84, 100:130]) for f in files[:2]]
    opts = ClusterOptions.parse("compact")
    ins = [_inputs(rgb, 10, opts, net) for rgb in crops]
    grid = ins[0][1]
    both = cluster_batch(torch.stack([i[2] for i in ins]), torch.stack([i[0][0, :3] for i in ins]), grid,
                         torch.stack([i[4] for i in ins]), torch.stack([i[3] for i in ins]), opts,
                         torch.stack([i[5] for i in ins]))
    for b, (x, _, z, pos, sf, extra) in enumerate(ins):
        alone = cluster_local_torch(z, x[0, :3], grid, sf, pos, opts, extra=extra, kernels=True)
        steps = cluster_local_torch(z, x[0, :3], grid, sf, pos, opts, extra=extra, kernels=False)
        assert np.array_equal(both[b].numpy(), alone) and np.array_equal(alone, steps), b


def check_segment_batch_device_path():
    # inference's all-on-the-device branch (encoding, batched kernels, connectivity),
    # forced on the simulator, against the CPU path on the same images
    import lnsnet
    from lnsnet import inference
    from lnsnet.cluster import ClusterOptions
    from lnsnet.io import read_image
    from lnsnet.prepare import prepare

    sys.path.insert(0, str(Path(__file__).parent))
    from test_cluster_gpu import MINI

    net = lnsnet.load_model()
    ims = [np.ascontiguousarray(read_image(f)[60:90, 100:140]) for f in sorted(MINI.glob("*.jpg"))[:2]]
    opts = ClusterOptions.parse("compact")
    post = dict(connect=True, max_size_factor=None, start_label=1)
    cpu = torch.device("cpu")
    kw = dict(blur=opts.blur, n_segments=12)
    want = inference._segment_batch(net, [prepare(im, **kw) for im in ims], 12, cpu, opts, (1.0, 1.0), 10**8, False,
                                    post)
    real = inference.device_connectivity
    inference.device_connectivity = lambda *a: True
    try:
        got = inference._segment_batch(net, [prepare(im, defer=True, **kw) for im in ims], 12, cpu, opts, (1.0, 1.0),
                                       10**8, False, post)
    finally:
        inference.device_connectivity = real
    for a, b in zip(want, got):
        assert b.dtype == np.int32 and b.shape == a.shape and b.min() == 1 and (a == b).mean() > 0.99, (a == b).mean()


def check_encode():
    # the encoding kernels against the torch operations and the CPU's prepare
    from lnsnet.prepare import encode_on, prepare

    rng = np.random.default_rng(4)
    ims = [rng.integers(0, 256, (23, 31, 3)).astype(np.uint8), rng.integers(0, 256, (23, 31, 3)).astype(np.uint8),
           rng.random((23, 31)), rng.integers(0, 65536, (23, 31, 3)).astype(np.uint16)]
    cpu = torch.device("cpu")
    for blur, k in ((0.8, 20), (0.0, None)):
        preps = [prepare(im, blur=blur, n_segments=k, defer=True) for im in ims]
        xk, sk = encode_on(preps, cpu, kernels=True)
        xt, st = encode_on(preps, cpu, kernels=False)
        assert xk.shape == xt.shape == (4, 5, 23, 31)
        np.testing.assert_allclose(xk.numpy(), xt.numpy(), rtol=0, atol=2e-5)
        np.testing.assert_allclose(sk, st, rtol=1e-5)
        for b, im in enumerate(ims):
            want = prepare(im, blur=blur, n_segments=k)
            np.testing.assert_allclose(xk[b].numpy(), want.x, rtol=0, atol=2e-4)


def check_edge_weights_and_contrast():
    # the two kernels of the clustering's set-up against its torch operations
    from lnsnet.cluster.gpu import _contrast, _edge_weights

    rng = np.random.default_rng(5)
    image = torch.from_numpy(rng.random((2, 3, 9, 13), dtype=np.float32))
    np.testing.assert_allclose(ck.edge_weights(image, 2.0).numpy(), _edge_weights(image, 2.0).numpy(), rtol=1e-6)
    flat = torch.ones((1, 3, 4, 5))
    assert torch.equal(ck.edge_weights(flat, 2.0), torch.ones((1, 4, 5)))  # no steps: weight 1
    z = torch.from_numpy(rng.random((2, 4, 9, 13), dtype=np.float32))
    a2 = torch.from_numpy(rng.random((2, 4), dtype=np.float32))
    beta = torch.tensor([0.5, 2.0])
    z_last = z.contiguous(memory_format=torch.channels_last)  # as the network may give it
    for zz, aa in ((z, a2), (None, None), (z_last, a2)):
        got = ck.contrast(image, zz, aa, beta)
        want = _contrast(image, zz, aa, beta)
        for g, w in zip(got, want):
            np.testing.assert_allclose(g.numpy(), w.numpy(), rtol=1e-6, atol=1e-7)
    assert float(got[0][:, :, -1].abs().sum()) == 0 and float(got[1][:, -1].abs().sum()) == 0  # no pair beyond


def check_connectivity_kernels():
    # enforce_connectivity_torch with its kernels (components, offers) against the CPU's
    from lnsnet.connectivity import enforce_connectivity, enforce_connectivity_torch

    rng = np.random.default_rng(6)
    labs = [rng.integers(0, n, (17, 21)) for n in (2, 4, 30)] + [np.zeros((17, 21), int)]
    feats = [rng.random((17, 21, 3)).astype(np.float32) for _ in labs]
    feats[1][:] = 0.5  # all ties: the smallest id wins
    for k, cap in ((10, None), (60, 40), (3, None)):
        want = [enforce_connectivity(lab, f, n_segments=k, max_segments=cap) for lab, f in zip(labs, feats)]
        got = enforce_connectivity_torch(torch.from_numpy(np.stack(labs).astype(np.int64)),
                                         torch.from_numpy(np.stack(feats)), k, 0.25, cap, kernels=True)
        assert all(np.array_equal(g, w) for g, w in zip(got.numpy(), want)), (k, cap)


def check_warm():
    ck.warm(torch.device("cpu"))
    assert "cpu" in ck._warm


if __name__ == "__main__":
    assert ck.available()
    check_warm()
    check_assign_by_hand()
    check_seed_round_by_hand()
    check_potts_by_hand()
    check_components()
    check_equal_to_torch_steps()
    check_batch_equals_one_by_one()
    check_segment_batch_device_path()
    check_encode()
    check_edge_weights_and_contrast()
    check_connectivity_kernels()
    print("ok")
