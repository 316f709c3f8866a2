"""scikit-image slic's keywords in lnsnet.segment, beyond the ported test_slic.py: masks,
channels, spacing, sigma, the size cap and the label numbering, checked against what
can be derived by hand or computed another way."""

import numpy as np
import pytest
from scipy import ndimage

import lnsnet
from conftest import blocks_image, is_connected_labels
from lnsnet.connectivity import split_large
from lnsnet.features import encode_channels, encode_image
from lnsnet.grid import make_grid


def _natural(h=64, w=80, seed=0):
    """Smooth colour blobs plus noise: an image with edges at every scale."""
    rng = np.random.default_rng(seed)
    img = ndimage.gaussian_filter(rng.random((h, w, 3)), (4, 4, 0))
    img = (img - img.min()) / (img.max() - img.min())
    return np.clip(img + rng.normal(0, 0.02, img.shape), 0, 1)


def test_encode_channels_standardises_and_pads():
    rng = np.random.default_rng(0)
    img = np.dstack([rng.random((12, 9)) * 7 + 3, rng.random((12, 9)) * 0.01])
    x = encode_channels(img)
    assert x.shape == (5, 12, 9) and x.dtype == np.float32
    for c in range(2):  # each channel: mean 0, sd 1, whatever its units
        assert abs(x[c].mean()) < 1e-5 and abs(x[c].std() - 1) < 1e-4
        np.testing.assert_allclose(x[c], (img[..., c] - img[..., c].mean()) / img[..., c].std(), atol=1e-4)
    assert np.all(x[2] == 0)  # a missing channel is 0
    np.testing.assert_array_equal(x[3:], encode_image(np.zeros((12, 9, 3), np.float32))[3:])  # positions


def test_encode_channels_projects_on_three_principal_components():
    rng = np.random.default_rng(1)
    basis = rng.normal(size=(3, 8))
    coeff = rng.normal(size=(30 * 20, 3)) * [5.0, 2.0, 1.0]
    img = (coeff @ basis).reshape(30, 20, 8)  # rank 3: three components carry everything
    x = encode_channels(img)
    z = x[:3].reshape(3, -1).T
    # the three channels are uncorrelated, standardised, and span the standardised data
    np.testing.assert_allclose(np.cov(z.T, bias=True), np.eye(3), atol=1e-4)
    std = (img.reshape(-1, 8) - img.reshape(-1, 8).mean(0)) / img.reshape(-1, 8).std(0)
    residual = std - z @ np.linalg.lstsq(z, std, rcond=None)[0]
    assert np.abs(residual).max() < 1e-4


def test_mask_labels_inside_only_about_k_and_connected():
    img = _natural(80, 96)
    yy, xx = np.mgrid[:80, :96]
    r = np.hypot(yy - 40, xx - 48)
    ring = (r > 12) & (r < 36)
    for k in (20, 60):
        lab = lnsnet.segment(img, k, mask=ring)
        assert np.all(lab[~ring] == 0) and np.all(lab[ring] >= 1)
        n = lab.max()
        assert np.array_equal(np.unique(lab[ring]), np.arange(1, n + 1))  # 1..k, no gap
        assert 0.7 * k <= n <= 1.3 * k, (k, n)
        for v in range(1, n + 1):
            assert ndimage.label(lab == v)[1] == 1  # every superpixel one 4-connected region


def test_mask_banded_equals_one_piece():
    img = _natural(90, 120, seed=3)
    mask = np.zeros((90, 120), bool)
    mask[10:85, 5:110] = True
    mask[30:50, 40:70] = False  # a hole
    whole = lnsnet.segment(img, 40, mask=mask)
    banded = lnsnet.segment(img, 40, mask=mask, tile_pixels=2000)
    assert np.array_equal(whole, banded)


def test_mask_allows_nan_outside_and_refuses_it_inside():
    img = _natural(40, 50)
    img[:5] = np.nan
    mask = np.ones((40, 50), bool)
    mask[:5] = False
    lab = lnsnet.segment(img, 12, mask=mask)
    assert np.all(lab[:5] == 0) and lab[5:].min() == 1
    mask[2, 2] = True
    with pytest.raises(ValueError, match="NaN"):
        lnsnet.segment(img, 12, mask=mask)


def test_spacing_makes_cells_square_in_physical_units():
    g = make_grid(40, 40, 16, spacing=(4.0, 1.0))  # physically 160 x 40: 8 x 2 square cells
    assert (g.rows, g.cols) == (8, 2)
    assert make_grid(40, 40, 16) == make_grid(40, 40, 16, spacing=(1.0, 1.0))
    # anisotropic pixels on a flat image (the spatial term alone decides): every superpixel
    # is its grid cell, 9 x 4 cells of 6.7 x 15 pixels (20 x 15 in physical units)
    g = make_grid(60, 60, 36, spacing=(3.0, 1.0))
    assert (g.rows, g.cols) == (9, 4)
    yy, xx = np.mgrid[:60, :60]
    cells = (yy * 9 // 60) * 4 + xx * 4 // 60 + 1
    # (compactness 26: the grid wins over the network's response to the image's borders,
    # which moves a few more rows at the default 18: 85 % of the pixels in their cell)
    lab = lnsnet.segment(np.full((60, 60), 0.5), 36, spacing=(3.0, 1.0), compactness=26)
    assert (lab == cells).mean() > 0.9  # borders may move by a pixel row where cells are 6.7 tall
    rows = [np.ptp(np.nonzero(lab == v)[0]) + 1 for v in range(1, lab.max() + 1)]
    cols = [np.ptp(np.nonzero(lab == v)[1]) + 1 for v in range(1, lab.max() + 1)]
    assert np.median(cols) >= 2 * np.median(rows)
    iso = make_grid(60, 60, 36)
    assert (iso.rows, iso.cols) == (6, 6)


def test_sigma_equals_smoothing_first():
    img = _natural(48, 64, seed=4).astype(np.float32)
    none = "blur=0"  # without the preset's own blur
    smoothed = ndimage.gaussian_filter(img, (2.0, 2.0, 0), mode="reflect")
    assert np.array_equal(lnsnet.segment(img, 20, sigma=2, clustering=none), lnsnet.segment(smoothed, 20, clustering=none))
    # a scalar sigma is in physical units: divided by the spacing, per axis
    smoothed = ndimage.gaussian_filter(img, (1.0, 2.0, 0), mode="reflect")
    assert np.array_equal(lnsnet.segment(img, 20, sigma=2, spacing=(2, 1), clustering=none),
                          lnsnet.segment(smoothed, 20, spacing=(2, 1), clustering=none))


def test_the_presets_blur_adds_to_sigma_in_quadrature_and_shrinks_with_the_superpixels():
    img = _natural(48, 64, seed=4).astype(np.float32)
    blur = lnsnet.PRESETS["fast"]["blur"]
    assert blur > 0 and lnsnet.PRESETS["paper"]["blur"] == 0
    # the default blurs by the preset's blur: as sigma=blur without it
    assert np.array_equal(lnsnet.segment(img, 20), lnsnet.segment(img, 20, sigma=blur, clustering="blur=0"))
    # two Gaussians make one of the root of the sum of squares: 0.6 and 0.8 make 1.0
    assert np.array_equal(lnsnet.segment(img, 20, sigma=0.6, clustering="blur=0.8"),
                          lnsnet.segment(img, 20, sigma=1.0, clustering="blur=0"))
    # at most 1/8 of the superpixels' side: 48 x 64 pixels in 300 superpixels of side 3.2 px
    side = np.sqrt(48 * 64 / 300)
    assert 0.125 * side < 1.0
    assert np.array_equal(lnsnet.segment(img, 300, clustering="blur=1"),
                          lnsnet.segment(img, 300, sigma=0.125 * side, clustering="blur=0"))
    assert not np.array_equal(lnsnet.segment(img, 300, clustering="blur=1"),
                              lnsnet.segment(img, 300, sigma=1.0, clustering="blur=0"))
    with pytest.raises(ValueError, match="blur must be a finite number >= 0"):
        lnsnet.segment(img, 20, clustering="blur=-1")


def test_channel_axis_moves_the_channels():
    img = blocks_image()
    a = lnsnet.segment(img, 12)
    assert np.array_equal(lnsnet.segment(np.moveaxis(img, -1, 0), 12, channel_axis=0), a)
    assert np.array_equal(lnsnet.segment(np.moveaxis(img, -1, 1), 12, channel_axis=1), a)


def test_start_label_and_connectivity_off():
    img = blocks_image()
    a = lnsnet.segment(img, 12)
    assert a.min() == 1 and np.array_equal(lnsnet.segment(img, 12, start_label=0), a - 1)
    raw = lnsnet.segment(img, 12, enforce_connectivity=False, start_label=0)
    assert np.array_equal(np.unique(raw), np.arange(raw.max() + 1))  # consecutive from 0
    assert is_connected_labels(a)


def test_split_large_caps_the_size():
    lab = np.zeros((6, 6), int)
    lab[:, 3:] = 1
    out = split_large(lab, 5)  # two labels of 18 pixels: pieces of 5, 5, 5, 3 in raster order
    assert np.bincount(out.ravel()).max() <= 5 and out.max() == 7
    first = out[lab == 0]  # label 0's pixels in raster order: 0 0 0 0 0 1 1 1 1 1 2 ...
    assert first.tolist() == sorted(first.tolist())
    img = _natural(48, 64)
    capped = lnsnet.segment(img, 12, max_size_factor=1.0)
    plain = lnsnet.segment(img, 12)
    assert np.bincount(capped.ravel()).max() <= np.bincount(plain.ravel()).max()
    assert capped.max() >= plain.max() and is_connected_labels(capped)


def test_multichannel_image_through_the_network():
    rng = np.random.default_rng(5)
    img = np.zeros((40, 40, 6))
    img[:20, :20, :2] = 1
    img[:20, 20:, 2:4] = 1
    img[20:, :20, 4:] = 1
    img += 0.01 * rng.normal(size=img.shape)
    lab = lnsnet.segment(img, 4)
    quad = (np.arange(40)[:, None] >= 20) * 2 + (np.arange(40)[None, :] >= 20)
    for q in range(4):  # each quadrant one superpixel, the four distinct
        assert len(np.unique(lab[quad == q])) == 1
    assert len(np.unique(lab)) == 4


def test_review_fixes_slic_calling_conventions():
    img = blocks_image()
    # slic's positional order: (image, n_segments, compactness, max_num_iter, sigma, ...)
    assert np.array_equal(lnsnet.segment(img, 12, 26.0, 5), lnsnet.segment(img, 12, compactness=26.0, max_num_iter=5))
    assert np.array_equal(lnsnet.segment(img, 12, slic_zero=False), lnsnet.segment(img, 12))
    with pytest.raises(TypeError, match="slic_zero"):
        lnsnet.segment(img, 12, slic_zero=True)
    assert np.array_equal(lnsnet.segment(img, 12, enforce_connectivity=1), lnsnet.segment(img, 12))
    with pytest.raises(ValueError, match="channel_axis"):
        lnsnet.segment(img, 12, channel_axis=True)
    # tiny physical units: only the ratio matters
    assert np.array_equal(lnsnet.segment(img, 12, spacing=(1e-300, 1e-300)), lnsnet.segment(img, 12))
    # as slic: without connectivity no size cap
    a = lnsnet.segment(np.zeros((6, 8)), 1, enforce_connectivity=False, max_size_factor=0.5)
    assert np.all(a == 1)


def test_start_label_zero_with_a_mask_marks_outside_minus_one():
    img = _natural(40, 50)
    mask = np.zeros((40, 50), bool)
    mask[5:35, 5:45] = True
    one = lnsnet.segment(img, 10, mask=mask)
    zero = lnsnet.segment(img, 10, mask=mask, start_label=0)
    assert np.all(zero[~mask] == -1) and zero[mask].min() == 0
    assert np.array_equal(zero[mask], one[mask] - 1)


def test_cli_keeps_signed_and_float_data_and_other_channel_counts(tmp_path):
    import tifffile

    from lnsnet.cli import main
    from lnsnet.io import read_image

    ct = np.full((32, 40), -1000, np.int16)
    ct[8:24, 10:30] = 40
    tifffile.imwrite(tmp_path / "ct.tif", ct)
    got = read_image(tmp_path / "ct.tif")
    assert got.min() == -1000 and got.max() == 40  # not clipped to 0
    five = (np.random.default_rng(0).random((32, 40, 5)) * 1000).astype(np.float32)
    tifffile.imwrite(tmp_path / "five.tif", five, photometric="minisblack", planarconfig="contig")  # one 5-channel image
    tifffile.imwrite(tmp_path / "stack.tif", five)  # tifffile's default for this shape: 32 pages of 40 x 5
    with pytest.raises(ValueError, match="32 pages"):  # refused, never cut to its first page
        read_image(tmp_path / "stack.tif")
    (tmp_path / "stack.tif").unlink()
    tifffile.imwrite(tmp_path / "pages.tif", np.moveaxis(five, 2, 0))  # 5 pages: channels or slices?
    with pytest.raises(ValueError, match=r"channels of one image: lnsnet.segment\(tifffile.imread\(file\), K, "
                                         r"channel_axis=0\).*'axes': 'CYX'"):
        read_image(tmp_path / "pages.tif")  # both readings named, neither chosen for the user
    tifffile.imwrite(tmp_path / "pages.tif", np.moveaxis(five, 2, 0), metadata={"axes": "CYX"})
    assert read_image(tmp_path / "pages.tif").shape == (32, 40, 5)  # as the hint says: one 5-channel image
    (tmp_path / "pages.tif").unlink()
    nan = np.random.default_rng(1).random((32, 40)).astype(np.float32)
    nan[:4] = np.nan
    tifffile.imwrite(tmp_path / "nan.tif", nan)
    rc = main(["segment", str(tmp_path / "ct.tif"), str(tmp_path / "five.tif"), "-k", "6", "-o",
               str(tmp_path / "out"), "-q"])
    assert rc == 0 and (tmp_path / "out" / "five_overlay.png").is_file()
    assert np.load(tmp_path / "out" / "ct_labels.npy").max() >= 2  # the CT's square is seen
    rc = main(["segment", str(tmp_path / "nan.tif"), "-k", "6", "-o", str(tmp_path / "out2"), "-q"])
    assert rc == 0  # NaN pixels are left out (label 0), never segmented as a blank image
    lab = np.load(tmp_path / "out2" / "nan_labels.npy")
    assert np.array_equal(lab == 0, np.isnan(nan)) and lab.max() >= 2
    # a second run with -o inside the input folder does not take its own outputs as inputs
    assert main(["segment", str(tmp_path), "-k", "6", "-o", str(tmp_path), "-q"]) == 0
    assert not (tmp_path / "ct_labels_labels.npy").exists() and (tmp_path / "ct_labels.npy").exists()


def test_the_blur_cap_is_per_axis_and_the_blur_stays_inside_a_mask():
    from lnsnet.prepare import BLUR_PER_SIDE, prepare

    rng = np.random.default_rng(3)
    img = rng.random((40, 40, 3)).astype(np.float32)
    # 1600 pixels in 400 superpixels of 4 physical units a side with pixels of 4 x 1:
    # 1 px along rows, 4 px along columns, so the cap is 1/8 of each
    assert BLUR_PER_SIDE == 0.125
    p = prepare(img, spacing=(4.0, 1.0), blur=1.0, n_segments=400)
    want = ndimage.gaussian_filter(img, (0.125, 0.5, 0), mode="reflect")
    assert np.allclose(p.rgb, want, atol=1e-6)
    # inside a mask the blur is normalised by it: a region of 0.2 beside one of 0.8 keeps
    # 0.2 on the mask's border, far from the step (the mean fill outside, 0.5, stays out)
    two = np.zeros((40, 40, 3), np.float32)
    two[:, :20] = 0.2
    two[:, 20:] = 0.8
    mask = np.zeros((40, 40), bool)
    mask[10:30, 5:35] = True
    p = prepare(two, mask=mask, blur=1.0)
    inside = p.rgb[p.mask]
    assert p.rgb.shape[:2] == (20, 30) and np.isclose(p.rgb[0, 2, 0], 0.2, atol=1e-6)  # border row, left
    assert np.isclose(p.rgb[19, 27, 0], 0.8, atol=1e-6)  # border row, right
    assert inside.min() >= 0.2 - 1e-6 and inside.max() <= 0.8 + 1e-6


def test_second_review_slic_calling_conventions():
    """A pipeline engineer's swaps of slic for segment: a big-endian uint16 image is a
    uint16 image (it was stretched from its range: 84 % of pixels moved); slic_zero=0 and
    convert2lab=True on a gray image are accepted as slic accepts them; a volume takes slic's
    full positional call (max_size_factor 3 included) and its size cap."""
    from scipy import ndimage

    rng = np.random.default_rng(0)
    img = (blocks_image() * 4000).astype(np.uint16)  # 12-bit data in uint16: dim, not stretched
    assert np.array_equal(lnsnet.segment(img.astype(">u2"), 12), lnsnet.segment(img, 12))
    assert np.array_equal(lnsnet.segment([img.astype(">u2")], 12)[0], lnsnet.segment(img, 12))
    gray = blocks_image()[:, :, 0]
    assert np.array_equal(lnsnet.segment(gray, 12, channel_axis=None, convert2lab=True),
                          lnsnet.segment(gray, 12, channel_axis=None))
    assert np.array_equal(lnsnet.segment(gray, 12, channel_axis=None, slic_zero=0),
                          lnsnet.segment(gray, 12, channel_axis=None))
    vol = rng.random((6, 40, 40))
    # slic's order: image, n_segments, compactness, max_num_iter, sigma, spacing, convert2lab,
    # enforce_connectivity, min_size_factor, max_size_factor, slic_zero, start_label, mask
    lab = lnsnet.segment(vol, 100, 0.1, 10, 0, None, None, True, 0.5, 3, False, 1, None, channel_axis=None)
    assert lab.min() == 1 and 60 <= lab.max() <= 140
    assert np.array_equal(lnsnet.segment(vol, 50, channel_axis=None, convert2lab=True),
                          lnsnet.segment(vol, 50, channel_axis=None))
    plain = lnsnet.segment(vol, 50, channel_axis=None)
    capped = lnsnet.segment(vol, 50, channel_axis=None, max_size_factor=0.5)
    assert capped.max() > plain.max()
    assert np.bincount(capped.ravel())[1:].max() < np.bincount(plain.ravel())[1:].max()
    assert all(ndimage.label(capped == i)[1] == 1 for i in range(1, capped.max() + 1))
    assert np.array_equal(lnsnet.segment(vol, 50, channel_axis=None, max_size_factor=0.5, enforce_connectivity=False),
                          lnsnet.segment(vol, 50, channel_axis=None, enforce_connectivity=False))  # as slic: no cap
    for bad in (dict(compactness="40"), dict(compactness=True), dict(max_num_iter=2.5), dict(start_label=True),
                dict(max_size_factor=0)):
        with pytest.raises(ValueError, match=next(iter(bad))):
            lnsnet.segment(vol, 50, channel_axis=None, **bad)
    with pytest.raises(ValueError, match="rgb2lab"):
        lnsnet.segment(rng.random((4, 20, 20, 3)), 10, convert2lab=True)


def test_slic_users_inputs_from_a_review():
    """What a slic user passed (2026-12-06 review): an np.matrix crashed the process (a
    segmentation fault in the kernels: a matrix cannot take a third axis); a real
    n_segments (pixels / 400) was refused; max_iter= got no hint; a mask of one-pixel
    pieces made one superpixel a pixel without a word; a varying 4th channel was dropped
    as alpha without a word."""
    import warnings

    rng = np.random.default_rng(0)
    f = rng.random((64, 64))
    assert np.array_equal(lnsnet.segment(np.matrix(f), 20), lnsnet.segment(f, 20))
    rgb = rng.random((64, 80, 3))
    assert np.array_equal(lnsnet.segment(rgb, 64 * 80 / 400), lnsnet.segment(rgb, 13))  # 12.8 -> 13
    with pytest.raises(TypeError, match="use max_num_iter"):
        lnsnet.segment(rgb, 10, max_iter=3)
    line = np.zeros((64, 80), bool)
    line[np.arange(50), np.arange(50)] = True  # 50 pieces, 4-connected
    with pytest.warns(UserWarning, match="50 separate pieces"):
        assert lnsnet.segment(rgb, 5, mask=line).max() == 50
    square = np.zeros((64, 80), bool)
    square[5:60, 5:70] = True
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # one piece: no warning
        lnsnet.segment(rgb, 5, mask=square)
        lnsnet.segment(np.dstack([rgb, np.ones((64, 80))]), 10)  # a constant alpha: no warning
    with pytest.warns(UserWarning, match="convert2lab=False"):
        lnsnet.segment(np.dstack([rgb, rng.random((64, 80))]), 10)
