import numpy as np
import pytest
import torch

import lnsnet
from conftest import blocks_image, is_connected_labels


def _check(labels, shape):
    """Labels 1..k (slic's start_label=1), every one 4-connected; returns k."""
    assert labels.dtype == np.int32 and labels.shape == shape
    k = labels.max()
    assert np.array_equal(np.unique(labels), np.arange(1, k + 1))
    assert is_connected_labels(labels)
    return k


def test_blocks_image_follows_the_quadrant_edges(blocks):
    labels = lnsnet.segment(blocks, n_segments=16) - 1
    k = _check(labels + 1, blocks.shape[:2])
    assert 8 <= k <= 24
    quad = (np.arange(48)[:, None] >= 24) * 2 + (np.arange(64)[None, :] >= 32)
    # achievable segmentation accuracy against the 4 quadrants
    n = quad.max() + 1
    table = np.bincount(labels.ravel() * n + quad.ravel(), minlength=k * n).reshape(k, n)
    assert table.max(1).sum() / labels.size >= 0.98


@pytest.mark.parametrize(
    "image",
    [
        (blocks_image()[..., 0] * 255).astype(np.uint8),  # gray
        np.dstack([(blocks_image() * 255).astype(np.uint8), np.full((48, 64), 9, np.uint8)]),  # RGBA
        (blocks_image() * 65535).astype(np.uint16),
        blocks_image().astype(np.float64),
        blocks_image()[:, :, :1],
    ],
    ids=["gray", "rgba", "uint16", "float64", "hxwx1"],
)
def test_accepted_image_kinds(image):
    _check(lnsnet.segment(image, n_segments=12), (48, 64))


def test_dense_mode_and_lists(blocks):
    out = lnsnet.segment([blocks, blocks[:40, :30]], n_segments=10, clustering="mode=dense")
    assert isinstance(out, list) and len(out) == 2
    _check(out[0], (48, 64))
    _check(out[1], (40, 30))


def test_rgba_alpha_is_ignored():
    rgb = (blocks_image() * 255).astype(np.uint8)
    a = lnsnet.segment(np.dstack([rgb, np.zeros((48, 64), np.uint8)]), 12)
    assert np.array_equal(a, lnsnet.segment(rgb, 12))


def test_unusual_sizes_and_k():
    rng = np.random.default_rng(0)
    assert lnsnet.segment(rng.random((3, 3)), 1).tolist() == [[1] * 3] * 3
    assert lnsnet.segment(rng.random((3, 3)), 1, start_label=0).tolist() == [[0] * 3] * 3
    _check(lnsnet.segment(rng.random((2, 400)), 20), (2, 400))
    _check(lnsnet.segment(rng.random((1, 1)), 1), (1, 1))
    _check(lnsnet.segment(rng.random((5, 5, 3)), 25), (5, 5))


@pytest.mark.parametrize(
    "k,exc", [(0, ValueError), (-5, ValueError), (float("inf"), ValueError), (0.4, ValueError), ("10", TypeError), (True, TypeError)]
)
def test_bad_k(blocks, k, exc):
    with pytest.raises(exc):
        lnsnet.segment(blocks[:20, :20], n_segments=k)


def test_bad_options(blocks):
    with pytest.raises(ValueError, match="mode"):
        lnsnet.segment(blocks, 10, clustering="mode=fast")
    with pytest.raises(ValueError, match="compactness"):
        lnsnet.segment(blocks, 10, compactness=-1)
    for bad in (0, 4, -3, 2.0, True):
        with pytest.raises(ValueError, match="window"):
            lnsnet.segment(blocks, 10, clustering=lnsnet.ClusterOptions.resolve(window=bad))
    with pytest.raises(TypeError, match="window is a clustering option: clustering='window=...'"):
        lnsnet.segment(blocks, 10, window=5)  # the research knobs live in ClusterOptions
    with pytest.raises(TypeError, match="unexpected keyword arguments windw$"):
        lnsnet.segment(blocks, 10, windw=5)
    with pytest.raises(FileNotFoundError):
        lnsnet.segment(blocks, 10, model="no-such-model")


def test_window_widens_the_search_and_stays_connected(blocks):
    # window 3 equals the default; with the paper's clustering, a window covering the whole
    # grid equals dense mode with the same seeds (every seed is a candidate of every pixel)
    base = lnsnet.segment(blocks, 12)
    assert np.array_equal(lnsnet.segment(blocks, 12, clustering="window=3"), base)
    wide = lnsnet.segment(blocks, 12, clustering="paper:window=9")
    assert np.array_equal(wide, lnsnet.segment(blocks, 12, clustering="mode=dense"))
    _check(lnsnet.segment(blocks, 12, clustering="window=9"), blocks.shape[:2])  # compact: 81 candidates, 9 groups
    _check(lnsnet.segment(blocks, 12, clustering="window=5"), blocks.shape[:2])


def test_bsds500_image_delivers_close_to_k(bsds500):
    """Issue 2: K = 100, 400, 1000 on a BSDS500 test image give within 15% of K segments."""
    img = lnsnet.io.read_image(bsds500 / "images" / "test" / "100007.jpg")
    for k in (100, 400, 1000):
        labels = lnsnet.segment(img, k)
        got = _check(labels, img.shape[:2])
        assert abs(got - k) / k <= 0.15, (k, got)


def test_shipped_model_checksum_is_verified(tmp_path, monkeypatch):
    import importlib
    import shutil

    seg = importlib.import_module("lnsnet.hub")

    wdir = tmp_path / "weights"
    shutil.copytree(seg.WEIGHTS_DIR, wdir)
    pt = wdir / "bsds500.pt"
    data = bytearray(pt.read_bytes())
    data[-10] ^= 0xFF
    pt.write_bytes(bytes(data))
    monkeypatch.setattr(seg, "WEIGHTS_DIR", wdir)
    seg._load_named.cache_clear()
    try:
        with pytest.raises(ValueError, match="checksum"):
            lnsnet.load_model("bsds500")
    finally:
        seg._load_named.cache_clear()


def test_load_model_returns_a_private_copy(blocks):
    before = lnsnet.segment(blocks, 12)
    m = lnsnet.load_model()
    with torch.no_grad():
        for p in m.parameters():
            p.mul_(-1.0)
    assert np.array_equal(lnsnet.segment(blocks, 12), before)


def test_learned_seeds_option(blocks):
    grid_labels = lnsnet.segment(blocks, 12)
    learned = lnsnet.segment(blocks, 12, clustering="seeds=learned")
    _check(learned, blocks.shape[:2])
    _check(grid_labels, blocks.shape[:2])
    with pytest.raises(ValueError, match="seeds"):
        lnsnet.segment(blocks, 12, clustering="seeds=random")


def test_online_adaptation_trains_a_copy_and_leaves_the_model_alone(blocks):
    import torch

    from lnsnet.train import adapt_model

    model = lnsnet.load_model()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    labels = lnsnet.segment(blocks, 16, model=model, adapt=2)
    assert labels.dtype == np.int32 and labels.shape == blocks.shape[:2]
    from lnsnet.connectivity import components

    assert components(labels)[1] == labels.max() and labels.min() == 1
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k  # the caller's model is not trained
    tuned = adapt_model(model, np.clip(blocks, 0, 1).astype(np.float32), 16, 2)
    changed = [k for k, v in tuned.state_dict().items() if k.startswith("embedder") and not torch.equal(v, before[k])]
    assert changed  # the copy was trained
    assert all(torch.equal(v, before[k]) for k, v in tuned.state_dict().items() if k.startswith("seed_layer"))


@pytest.mark.parametrize("value", [-1, 1.5, True, "3"])
def test_bad_adapt(blocks, value):
    with pytest.raises((ValueError, TypeError), match="adapt"):
        lnsnet.segment(blocks, 16, adapt=value)


def test_baseline_models_none_and_untrained(blocks):
    from lnsnet.features import encode
    from lnsnet.train import new_model

    x = encode(blocks.astype(np.float32))
    none = lnsnet.load_model("none")
    assert sum(p.numel() for p in none.embedder.parameters()) == 0
    assert torch.equal(none.embed(x), x[:, :3])  # the features are the standardised CIELAB input
    labels = lnsnet.segment(blocks, 12, model="none")
    _check(labels, blocks.shape[:2])
    # in bands (13-row bands, no halo needed) it equals one piece
    banded = lnsnet.segment(blocks, 12, model="none", tile_pixels=64 * 13)
    assert (banded == labels).mean() > 0.999
    with pytest.raises(ValueError, match="no network"):
        lnsnet.segment(blocks, 12, model="none", clustering="seeds=learned")
    with pytest.raises(ValueError, match="no network"):
        lnsnet.segment(blocks, 12, model="none", adapt=1)
    untrained = lnsnet.load_model("untrained")
    fresh = new_model(0)
    for k, v in fresh.state_dict().items():
        assert torch.equal(v, untrained.state_dict()[k]), k
    _check(lnsnet.segment(blocks, 12, model="untrained"), blocks.shape[:2])
    # three different feature sources give different labels on a noisy image
    noisy = np.clip(blocks + np.random.default_rng(1).normal(0, 0.1, blocks.shape), 0, 1)
    outs = [lnsnet.segment(noisy, 12, model=m, clustering="paper") for m in ("none", "untrained", None)]
    assert not np.array_equal(outs[0], outs[2]) and not np.array_equal(outs[1], outs[2])


@pytest.mark.parametrize("kind", ["uint8", "uint16 gray", "float", "rgba", "stretched ints"])
def test_deferred_encoding_matches_the_cpu_encoding(kind):
    # prepare(..., defer=True).on_device(d) (a GPU's path: decoded, blurred and encoded by
    # torch there), run here on the CPU, against prepare's numpy path
    from lnsnet.prepare import prepare

    rng = np.random.default_rng(0)
    im = {"uint8": rng.integers(0, 256, (37, 52, 3)).astype(np.uint8),
          "uint16 gray": rng.integers(0, 65536, (37, 52)).astype(np.uint16),
          "float": rng.random((37, 52, 3)),
          "rgba": rng.integers(0, 256, (37, 52, 4)).astype(np.uint8),
          "stretched ints": rng.integers(-50, 900, (37, 52, 3))}[kind]
    for sigma, blur, k in ((0, 0.0, None), (0, 0.8, 100), ((0.5, 1.5), 0.8, 20), (2.0, 0.0, None)):
        want = prepare(im, sigma=sigma, blur=blur, n_segments=k)
        lazy = prepare(im, sigma=sigma, blur=blur, n_segments=k, defer=True)
        assert lazy.x is None and lazy.hw == (37, 52) and lazy.area == 37 * 52
        got = lazy.on_device(torch.device("cpu"))
        assert isinstance(got.x, torch.Tensor) and got.x.shape == want.x.shape and got.pending is None
        np.testing.assert_allclose(got.x.numpy(), want.x, rtol=0, atol=2e-4)
        np.testing.assert_allclose(got.colour_scale, want.colour_scale, rtol=1e-5)
    # what is not deferred: masks and channels that are not colour
    assert prepare(im, mask=np.ones(im.shape[:2], bool), defer=True).pending is None
    assert prepare(rng.random((20, 30, 2)), channel_axis=-1, defer=True).pending is None


def test_deferred_images_are_encoded_together_as_one_by_one():
    # prepare.encode_on: a shape group of pending and ready images, one tensor
    from lnsnet.prepare import encode_on, prepare

    rng = np.random.default_rng(2)
    ims = [rng.integers(0, 256, (30, 40, 3)).astype(np.uint8), rng.random((30, 40)),
           rng.integers(0, 65536, (30, 40, 3)).astype(np.uint16)]
    preps = [prepare(ims[0], blur=0.8, n_segments=20, defer=True), prepare(ims[1], blur=0.8, n_segments=20),
             prepare(ims[2], blur=0.8, n_segments=20, defer=True)]
    x, scales = encode_on(preps, torch.device("cpu"))
    assert x.shape == (3, 5, 30, 40) and scales.shape == (3, 3)
    for b, p in enumerate(preps):
        one = p.on_device(torch.device("cpu"))
        # equal but for the order of the float64 sums of the standardisation (batched or not)
        np.testing.assert_allclose(x[b].numpy(), one.x.numpy(), rtol=0, atol=1e-5)
        np.testing.assert_allclose(scales[b], one.colour_scale, rtol=1e-6)
    np.testing.assert_array_equal(x[1].numpy(), preps[1].x)  # a ready image is moved as it is
    assert torch.equal(preps[0].on_device("cpu").x, preps[0].on_device(torch.device("cpu")).x)  # a name will do


def test_deferred_images_segment_as_the_cpu_path():
    # inference's batch with images encoded on the device (here the CPU) gives the labels
    # of the usual path, but for near-ties
    from lnsnet.cluster import ClusterOptions
    from lnsnet.inference import _segment_batch
    from lnsnet.prepare import prepare

    im = (np.random.default_rng(1).random((60, 80, 3)) * 255).astype(np.uint8)
    opts = ClusterOptions.parse("compact")
    net = lnsnet.load_model()
    post = dict(connect=True, max_size_factor=None, start_label=1)
    kw = dict(blur=opts.blur, n_segments=40)
    a = _segment_batch(net, [prepare(im, **kw)], 40, torch.device("cpu"), opts, (1.0, 1.0), 10**8, False, post)[0]
    b = _segment_batch(net, [prepare(im, defer=True, **kw)], 40, torch.device("cpu"), opts, (1.0, 1.0), 10**8,
                       False, post)[0]
    assert a.shape == b.shape == im.shape[:2] and (a == b).mean() > 0.99 and is_connected_labels(b)


def test_k_at_least_the_pixels_gives_one_superpixel_per_pixel():
    """As documented: K at least the number of pixels (inside the mask) makes every pixel a
    superpixel; before, the clustering joined some pixels on sharp 8-bit two-tone images
    (a 1x60 strip gave 58 labels, 150x200 gave 29,849)."""
    strip = np.where(np.arange(60)[None, :, None] < 30, 20, 200).astype(np.uint8).repeat(3, 2)
    for start in (0, 1):
        lab = lnsnet.segment(strip, 60, start_label=start)
        assert np.array_equal(np.sort(lab.ravel()), np.arange(start, start + 60))
    two = np.where(np.arange(200)[None, :, None] < 100, 20, 200).astype(np.uint8).repeat(150, 0).repeat(3, 2)
    assert len(np.unique(lnsnet.segment(two, 10**6))) == two.shape[0] * two.shape[1]
    mask = np.zeros(two.shape[:2], bool)
    mask[5:9, 90:110] = True
    lab = lnsnet.segment(two, int(mask.sum()), mask=mask)
    assert np.array_equal(np.sort(lab[mask]), np.arange(1, mask.sum() + 1)) and (lab[~mask] == 0).all()


def test_a_3d_array_left_at_the_default_channel_axis_is_warned_about():
    """A (Z, Y, X) volume given without channel_axis=None is read as a 2-D image with Z...
    channels, as slic reads it: a UserWarning says so when the last axis holds more than 16
    values (an x axis, not a few stains) and channel_axis was left at its default; an explicit channel_axis=-1 (many
    channels meant), an RGB image and channel_axis=None are silent. The default still
    shows as -1."""
    import inspect
    import warnings

    vol = np.random.default_rng(0).random((6, 20, 24))
    with pytest.warns(UserWarning, match=r"channel_axis=None") as caught:
        labels = lnsnet.segment(vol, 10)
    assert caught[0].filename == __file__  # shown at the caller's line
    assert labels.shape == (6, 20)  # what slic does: channels
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert lnsnet.segment(vol, 10, channel_axis=-1).shape == (6, 20)
        assert lnsnet.segment(vol, 10, channel_axis=None).shape == (6, 20, 24)
        lnsnet.segment(np.random.default_rng(0).random((20, 24, 3)), 10)
        lnsnet.segment(np.random.default_rng(0).random((20, 24, 8)), 10)  # eight stains: no warning
    assert repr(inspect.signature(lnsnet.segment).parameters["channel_axis"].default) == "-1"
    # a channels-first (C, Z, Y, X) volume read as (Z, Y, X) of many channels: told, with channel_axis=0
    czyx = np.random.default_rng(0).random((2, 6, 20, 24)).astype(np.float32)
    with pytest.warns(UserWarning, match=r"volume of shape \(2, 6, 20\) with 24 channels.*channel_axis=0") as caught:
        lnsnet.segment(czyx, 10)
    assert caught[0].filename == __file__
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert lnsnet.segment(czyx, 10, channel_axis=0).shape == (6, 20, 24)
        lnsnet.segment(np.random.default_rng(0).random((4, 16, 20, 3)).astype(np.float32), 10)  # RGB volume


@pytest.mark.parametrize("volume", [False, True])
def test_a_bad_argument_of_the_wrong_kind_is_a_type_error_and_a_value_error(volume):
    """One rule for every argument (it was TypeError for some, ValueError for others): a
    value of the wrong kind raises an error that is a TypeError and a ValueError, a value of
    the right kind out of range a ValueError only."""
    rng = np.random.default_rng(0)
    image = rng.random((6, 20, 20)) if volume else rng.random((30, 40, 3))
    base = {"channel_axis": None} if volume else {}
    cases = [("n_segments", "100", -3), ("compactness", "x", -1.0), ("sigma", "a", -1.0),
             ("max_num_iter", "3", -1), ("start_label", "1", 2), ("channel_axis", "x", 7),
             ("device", 2.5, "tpu"), ("min_size_factor", "x", -1.0), ("max_size_factor", "x", 0.0)]
    cases += [] if volume else [("adapt", "x", -1), ("batch_size", "x", 0), ("model", 3, "no such model")]
    for name, wrong_kind, out_of_range in cases:
        kw = {"n_segments": 20, **base}
        with pytest.raises(TypeError, match=name) as info:
            lnsnet.segment(image, **{**kw, name: wrong_kind})
        assert isinstance(info.value, ValueError) and isinstance(info.value, lnsnet.errors.ArgumentTypeError), name
        with pytest.raises((ValueError, FileNotFoundError)) as info:
            lnsnet.segment(image, **{**kw, name: out_of_range})
        assert not isinstance(info.value, TypeError), name
