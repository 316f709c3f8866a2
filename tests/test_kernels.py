"""The compiled inference kernels against their numpy/torch references, and the banded,
batched and fast-norm inference paths against the plain ones."""

import os

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

import lnsnet
from lnsnet import features
from lnsnet.cluster import kernels
from lnsnet.cluster.layer import local_labels
from lnsnet.connectivity import components, enforce_connectivity
from lnsnet.features import encode
from lnsnet.grid import make_grid
from lnsnet.model import LNSNet
from reference import components_reference, enforce_connectivity_reference, lab_position, standardise


@pytest.mark.parametrize("shape", [(1, 1), (2, 7), (31, 17), (64, 96)])
def test_encoding_matches_reference(shape):
    rgb = np.random.default_rng(sum(shape)).random(shape + (3,), dtype=np.float32)
    fast = encode(rgb)[0].numpy()
    ref = standardise(lab_position(rgb))
    assert fast.shape == ref.shape == (5,) + shape
    np.testing.assert_allclose(fast, ref, atol=2e-4)


def test_encoding_of_a_flat_image_is_zero_colour_and_known_positions():
    rgb = np.full((3, 4, 3), 0.3, dtype=np.float32)
    x = encode(rgb)[0].numpy()
    assert np.all(x[:3] == 0)
    # rows 0..2 centred: -1, 0, 1; cols 0..3 centred: -1.5..1.5; shared sd
    # sqrt((var_rows + var_cols) / 2) = sqrt((2/3 + 5/4) / 2)
    sd = np.sqrt((2 / 3 + 5 / 4) / 2)
    np.testing.assert_allclose(x[3, :, 0], np.array([-1, 0, 1]) / sd, rtol=1e-6)
    np.testing.assert_allclose(x[4, 0], np.array([-1.5, -0.5, 0.5, 1.5]) / sd, rtol=1e-6)


def test_lab_of_pure_colours_matches_hand_values():
    # sRGB white -> L=100, a=b=0; black -> L=0
    rgb = np.array([[[1, 1, 1], [0, 0, 0]]], dtype=np.float32)
    out = np.empty((5, 1, 2), dtype=np.float32)
    sums = np.empty((1, 6))
    features._lab_rows(rgb, out, features._M, features._WHITE, sums, features._LIN_T, features._CBRT_T)
    np.testing.assert_allclose(out[:3, 0, 0], [100, 0, 0], atol=0.02)
    np.testing.assert_allclose(out[:3, 0, 1], [0, 0, 0], atol=1e-4)


@pytest.mark.parametrize("window", [3, 5, 7])
@pytest.mark.parametrize("h,w,k,comp", [(40, 60, 12, 0.0), (40, 60, 12, 0.7), (33, 21, 40, 0.0), (5, 90, 9, 2.0)])
def test_local_assign_equals_torch_reference(h, w, k, comp, window):
    gen = torch.Generator().manual_seed(h * w + k)
    z = torch.randn(6, h, w, generator=gen)
    grid = make_grid(h, w, k)
    pos = grid.centres() + torch.randn(grid.n_seeds, 2, generator=gen)
    feats = torch.randn(grid.n_seeds, 6, generator=gen)
    ref = local_labels(z, feats, grid, window, pos, comp).numpy()
    pr, pc = grid.pixel_cells()
    weight = comp / (grid.cell_size[0] * grid.cell_size[1])
    fast = kernels.local_assign(z.numpy(), feats.numpy(), grid.rows, grid.cols, pr.numpy(), pc.numpy(),
                                 pos.numpy(), weight, window=window)
    np.testing.assert_array_equal(fast, ref)
    # a band of rows gives the same rows
    band = kernels.local_assign(z[:, 7:19].numpy(), feats.numpy(), grid.rows, grid.cols, pr[7:19].numpy(),
                                 pc.numpy(), pos.numpy(), weight, y0=7, window=window) if h > 19 else None
    if band is not None:
        np.testing.assert_array_equal(band, ref[7:19])


def test_local_assign_picks_the_nearest_neighbour_seed_by_hand():
    # 1 x 2 grid of 2x2-pixel cells; seed 0 feature 0, seed 1 feature 10
    z = np.array([[[0.0, 6.0, 4.0, 10.0], [1.0, 1.0, 9.0, 5.0]]], dtype=np.float32)  # (1, 2, 4)
    feats = np.array([[0.0], [10.0]], dtype=np.float32)
    out = kernels.local_assign(z, feats, 1, 2, np.array([0, 0]), np.array([0, 0, 1, 1]))
    np.testing.assert_array_equal(out, [[0, 1, 0, 1], [0, 0, 1, 0]])


def test_wider_window_reaches_a_seed_two_cells_away_by_hand():
    # 1 x 3 grid of 1-pixel cells; the pixel in cell 0 has feature 10 = seed 2's feature:
    # the 3-cell window sees seeds 0 and 1 only, the 5-cell window also seed 2
    z = np.array([[[10.0, 0.0, 10.0]]], dtype=np.float32)
    feats = np.array([[0.0], [4.0], [10.0]], dtype=np.float32)
    args = (feats, 1, 3, np.array([0]), np.array([0, 1, 2]))
    np.testing.assert_array_equal(kernels.local_assign(z, *args), [[1, 0, 2]])
    np.testing.assert_array_equal(kernels.local_assign(z, *args, window=5), [[2, 0, 2]])
    with pytest.raises(ValueError, match="odd"):
        kernels.local_assign(z, *args, window=4)


label_maps = st.integers(1, 20).flatmap(
    lambda h: st.integers(1, 20).flatmap(
        lambda w: st.lists(st.integers(0, 4), min_size=h * w, max_size=h * w).map(
            lambda v: np.array(v, dtype=np.int64).reshape(h, w))))


@settings(max_examples=80, deadline=None)
@given(label_maps)
def test_components_equal_reference(labels):
    c1, k1 = components(labels)
    c2, k2 = components_reference(labels)
    assert k1 == k2
    np.testing.assert_array_equal(c1, c2)


@settings(max_examples=80, deadline=None)
@given(label_maps, st.integers(0, 30), st.sampled_from([None, 3, 8]), st.sampled_from([0.0, 0.6]),
       st.integers(0, 2**31 - 1))
def test_enforce_connectivity_equals_reference(labels, min_size, max_segments, orphan, seed):
    feats = np.random.default_rng(seed).random(labels.shape + (3,)).astype(np.float32)
    fast = enforce_connectivity(labels, feats, min_size=min_size, max_segments=max_segments,
                                orphan_factor=orphan, n_segments=4)
    ref = enforce_connectivity_reference(labels, feats, min_size=min_size, max_segments=max_segments,
                                         orphan_factor=orphan, n_segments=4)
    np.testing.assert_array_equal(fast, ref)


def test_enforce_connectivity_accepts_a_strided_feature_view():
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 6, (30, 40))
    chw = rng.random((3, 30, 40)).astype(np.float32)
    view = chw.transpose(1, 2, 0)  # not contiguous
    a = enforce_connectivity(labels, view, n_segments=6)
    b = enforce_connectivity_reference(labels, np.ascontiguousarray(view), n_segments=6)
    np.testing.assert_array_equal(a, b)


def test_fast_inference_norm_matches_training_path():
    net = LNSNet(generator=torch.Generator().manual_seed(0))
    x = torch.randn(2, 5, 37, 53)
    with torch.enable_grad():
        ref = net.embed(x).detach()
    with torch.inference_mode():
        fast = net.embed(x)
    torch.testing.assert_close(fast, ref, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("shape", [(2, 37, 53), (1, 1, 1), (1, 2, 7), (1, 12, 3)])
@pytest.mark.parametrize("top,bottom", [(True, True), (False, True), (True, False), (False, False)])
def test_channels_last_cpu_path_equals_the_nchw_path_at_every_stage(shape, top, bottom):
    b, h, w = shape
    if h <= 2 * 7 and not (top and bottom):  # an interior band needs its halo (7 rows) of context
        h = 2 * 7 + 3
    fem = LNSNet(generator=torch.Generator().manual_seed(2)).eval().embedder
    x = torch.randn(b, 5, h, w, generator=torch.Generator().manual_seed(3))
    with torch.inference_mode():
        for given in (False, True):
            stats = [None] * 3
            if given:  # whole-image statistics handed in, as the banded path does
                stats = [(torch.rand(b, c) - 0.5, torch.rand(b, c) + 0.1) for c in (35, 10, 20)]
            for stage in range(4):
                fast = fem.forward_band(x, top, bottom, stats, stage)
                ref = fem._forward_band_nchw(x, top, bottom, stats, stage)
                assert fast.shape == ref.shape and fast.is_contiguous(memory_format=torch.channels_last)
                torch.testing.assert_close(fast, ref, atol=2e-5, rtol=1e-5)


def test_channels_last_moments_and_normalisation_by_hand():
    from lnsnet.model import nhwc

    h = torch.tensor([[[[1.0, -2.0], [3.0, 4.0]], [[0.5, 0.5], [0.0, 2.0]]]]).contiguous(
        memory_format=torch.channels_last)  # (1, 2, 2, 2)
    s1, s2, n = nhwc.moments(h)
    assert n == 4
    np.testing.assert_array_equal(s1.numpy(), [[6.0, 3.0]])
    np.testing.assert_array_equal(s2.numpy(), [[30.0, 4.5]])
    scale, shift = torch.tensor([[2.0, 1.0]]), torch.tensor([[-1.0, 0.0]])
    extra = torch.tensor([[[[7.0, 8.0], [9.0, 10.0]]]])
    out = nhwc.norm_relu_pad(h, scale, shift, extra, pad=(1, 0, 1))  # a row on top, a column each side
    assert out.shape == (1, 3, 3, 4) and out.is_contiguous(memory_format=torch.channels_last)
    # channel 0: ReLU(2 h - 1) = [[1, 0], [5, 7]]; replicated: the top row copies row 0
    np.testing.assert_array_equal(out[0, 0].numpy(), [[1, 1, 0, 0], [1, 1, 0, 0], [5, 5, 7, 7]])
    np.testing.assert_array_equal(out[0, 1].numpy(), [[0.5, 0.5, 0.5, 0.5], [0.5, 0.5, 0.5, 0.5], [0, 0, 2, 2]])
    np.testing.assert_array_equal(out[0, 2].numpy(), [[7, 7, 8, 8], [7, 7, 8, 8], [9, 9, 10, 10]])
    only_extra = nhwc.norm_relu_pad(None, None, None, extra, pad=(2, 2, 0))
    np.testing.assert_array_equal(only_extra[0, 0].numpy(), [[7, 8]] * 3 + [[9, 10]] * 3)
    with pytest.raises(ValueError, match="scale"):
        nhwc.norm_relu_pad(h, None, None)


def test_banded_embedding_matches_one_piece():
    """Bands with halo context and whole-image statistics give Z of the whole image."""
    from lnsnet.model.embedder import moments, stats_from_moments

    net = LNSNet(generator=torch.Generator().manual_seed(1)).eval()
    fem = net.embedder
    x = torch.randn(1, 5, 41, 23)
    with torch.inference_mode():
        full = fem(x)
        bands = [(0, 9), (9, 20), (20, 21), (21, 41)]
        stats = [None] * 3

        def band(r0, r1, stage):
            a, b = max(0, r0 - fem.halo), min(41, r1 + fem.halo)
            out = fem.forward_band(x[:, :, a:b], a == 0, b == 41, stats, stage)
            start = a + (fem.halo_of(stage) if a > 0 else 0)
            return out[:, :, r0 - start: r1 - start]

        for stage in range(3):
            s = [moments(band(r0, r1, stage)) for r0, r1 in bands]
            stats[stage] = stats_from_moments(sum(m[0] for m in s), sum(m[1] for m in s), 41 * 23)
        z = torch.cat([band(r0, r1, 3) for r0, r1 in bands], dim=2)
    torch.testing.assert_close(z, full, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("z_cache", ["float32", "float16", "none"])
@pytest.mark.parametrize("clustering", ["compact", "paper", "fast"])
def test_banded_segment_agrees_with_one_piece_and_has_no_seams(z_cache, clustering, monkeypatch):
    import importlib

    bands_mod = importlib.import_module("lnsnet.bands")
    if z_cache != "float32":  # Z kept in float16, or computed anew for every clustering pass
        monkeypatch.setattr(bands_mod, "Z_CACHE_BYTES", 0)
        monkeypatch.setattr(bands_mod, "Z_CACHE_HALF_BYTES", 1 << 30 if z_cache == "float16" else 0)
    rng = np.random.default_rng(5)
    img = np.kron(rng.random((6, 8, 3)), np.ones((20, 20, 1))) + 0.03 * rng.random((120, 160, 3))
    img = np.clip(img, 0, 1)
    net = lnsnet.load_model()  # the caller's own copy: its embedder can be watched
    whole = lnsnet.segment(img, 48, clustering=clustering, model=net)
    calls = []
    band = net.embedder.forward_band
    monkeypatch.setattr(net.embedder, "forward_band", lambda *a, **kw: calls.append(a[-1]) or band(*a, **kw))
    banded = lnsnet.segment(img, 48, tile_pixels=160 * 13, clustering=clustering, model=net)  # 13-row bands
    assert (whole == banded).mean() > (0.995 if z_cache == "float16" else 0.999)
    # where Z is kept (where it fits, even if read once), it is the last convolution's
    # output of the statistics pass, normalised: the network never runs its last stage (3).
    # Else Z is computed for the seed features, then once (paper: read once) or for every
    # pass: 5 seed rounds + the final assignment + 10 ICM half-sweeps (the distances of a
    # 120 x 160 image are kept, so those need no Z)
    from lnsnet.grid import make_grid

    bands = [(r0, min(120, r0 + 13)) for r0 in range(0, 120, 13)]
    y = make_grid(120, 160, 48).centres()[:, 0]
    need = {int(r) for r in y.floor().long()} | {min(119, int(r) + 1) for r in y.floor().long()}
    seed_bands = sum(any(r0 <= r < r1 for r in need) for r0, r1 in bands)  # for the seed features
    kept = z_cache != "none"
    passes = 1 if clustering == "paper" else 1 + 5
    if clustering == "fast":  # it reads the input: the embedder never runs
        assert calls == []
    else:
        assert calls.count(3) == (0 if kept else seed_bands + len(bands) * passes)
        assert calls.count(0) == calls.count(1) == calls.count(2) == len(bands)  # the statistics passes
    comp, k = components(banded)
    assert k == banded.max()  # every label (1..k) one connected region
    # no label is cut at a band border: the border rows share labels across the cut
    for r in range(13, 120, 13):
        assert (banded[r - 1] == banded[r]).mean() > 0.5


def test_banded_rejects_learned_seeds():
    img = np.random.default_rng(0).random((40, 40, 3))
    with pytest.raises(ValueError, match="bands"):
        lnsnet.segment(img, 16, clustering="seeds=learned", tile_pixels=400)


def test_a_list_is_batched_and_equals_one_by_one():
    rng = np.random.default_rng(2)
    ims = [rng.random((48, 64, 3)) for _ in range(3)] + [rng.random((30, 20, 3))]
    together = lnsnet.segment(ims, 20, batch_size=2)
    for im, lab in zip(ims, together):
        np.testing.assert_array_equal(lab, lnsnet.segment(im, 20))


def test_bad_batch_and_tile_options():
    img = np.zeros((8, 8, 3))
    with pytest.raises(ValueError, match="batch_size"):
        lnsnet.segment(img, 4, batch_size=0)
    with pytest.raises(ValueError, match="tile_pixels"):
        lnsnet.segment(img, 4, tile_pixels=-1)


def test_banded_progress_bar_goes_to_stderr_and_changes_nothing(capsys):
    img = np.random.default_rng(4).random((60, 40, 3))
    quiet = lnsnet.segment(img, 12, tile_pixels=40 * 16)
    shown = lnsnet.segment(img, 12, tile_pixels=40 * 16, progress=True)
    np.testing.assert_array_equal(quiet, shown)
    assert "in bands" in capsys.readouterr().err


def test_memory_budget_respects_a_cgroup_limit(monkeypatch):
    from pathlib import Path

    from lnsnet.runtime import memory_bytes

    physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    assert 0 < memory_bytes() <= physical
    real = Path.read_text

    def fake(self, *a, **kw):
        if str(self) == "/sys/fs/cgroup/memory.max":
            return "1073741824\n"
        if "cgroup" in str(self):
            raise OSError("absent")
        return real(self, *a, **kw)

    monkeypatch.setattr(Path, "read_text", fake)
    assert memory_bytes() == min(1 << 30, physical)

    monkeypatch.setattr(Path, "read_text", lambda self, *a, **kw: "max\n")  # no limit set
    assert memory_bytes() == physical


@pytest.mark.parametrize("n", [1, 2, 3, 10, 1001, 154400, 154401])
def test_median_is_numpys(n):
    rng = np.random.default_rng(n)
    cases = [(rng.random(n) ** 3 * 50).astype(np.float32),  # skewed, as distances are
             np.full(n, 0.25, np.float32),  # all in one bucket
             np.where(np.arange(n) % 2 == 0, 0, rng.random(n) * 1e-30).astype(np.float32),  # zeros, tiny values
             (rng.random(n) * np.float32(3.0)).astype(np.float32) + np.float32(1.0)]
    if n > 2:
        cases.append(np.concatenate([[np.inf], rng.random(n - 1)]).astype(np.float32))
    for a in cases:
        assert kernels.median(a) == float(np.median(a))
        assert kernels.median(a.reshape(1, -1)) == float(np.median(a))  # any shape
    neg = (rng.random(n) - 0.5).astype(np.float32)  # the fall-backs: negative, NaN, float64
    assert kernels.median(neg) == float(np.median(neg))
    assert np.isnan(kernels.median(np.concatenate([neg, [np.nan]]).astype(np.float32)))
    assert kernels.median(neg.astype(np.float64)) == float(np.median(neg.astype(np.float64)))
