"""segment(..., boundaries=): the compact watershed of boundary images (lnsnet.flood)."""

import numpy as np
import pytest
from scipy import ndimage

import lnsnet
from lnsnet.flood import segment_boundaries


def _grid_centres(shape, cells):
    """The seeds' places on a flat image: each cell's centre (the grids' split rule)."""
    out = []
    for n, c in zip(shape, cells):
        cell = (np.arange(n) * c) // n
        starts = np.searchsorted(cell, np.arange(c))
        ends = np.append(starts[1:], n)
        out.append((starts + ends - 1) // 2)
    return np.stack(np.meshgrid(*out, indexing="ij"), -1).reshape(-1, len(shape))


@pytest.mark.parametrize("spacing", [(1.0, 1.0, 1.0), (3.0, 1.0, 0.5)])
def test_flat_volume_is_the_seeds_voronoi(spacing):
    """On a flat volume the priority is the distance alone: every voxel with a single
    nearest seed (physical distance) gets that seed's label."""
    from lnsnet.volume import volume_grid

    shape = (9, 20, 26)
    vol = np.full(shape, 0.5, np.float32)
    lab = lnsnet.segment(vol, 24, channel_axis=None, spacing=spacing, boundaries="bright", compactness=1.0)
    cells, _ = volume_grid(shape, 24, spacing)
    seeds = _grid_centres(shape, cells)
    pos = np.stack(np.meshgrid(*[np.arange(n) for n in shape], indexing="ij"), -1).reshape(-1, 3)
    d = (((pos[:, None, :] - seeds[None]) * np.asarray(spacing)) ** 2).sum(-1)
    order = np.sort(d, axis=1)
    unique = order[:, 1] - order[:, 0] > 1e-6
    nearest = d.argmin(1)
    flat = lab.reshape(-1)
    assert lab.max() == len(seeds)
    # one label per seed: the label of the seed's own voxel
    seed_label = flat[np.ravel_multi_index(seeds.T, shape)]
    assert len(set(seed_label.tolist())) == len(seeds)
    np.testing.assert_array_equal(flat[unique], seed_label[nearest[unique]])


@pytest.mark.parametrize("kind", ["bright", "dark"])
def test_superpixels_meet_on_the_wall_not_on_the_grid(kind):
    """A wall one column wide at x = 14, off the grid's split (x = 20 | 21): with two seeds
    the pure watershed (compactness 0) floods each side up to the wall."""
    img = np.full((12, 41), 0.1, np.float32)
    img[:, 14] = 0.9
    if kind == "dark":
        img = 1.0 - img
    lab = lnsnet.segment(img, 2, channel_axis=None, boundaries=kind, compactness=0.0)
    assert lab.max() == 2
    assert len(np.unique(lab[:, :14])) == 1 and len(np.unique(lab[:, 15:])) == 1
    assert lab[0, 0] != lab[0, -1]


def test_wall_in_an_anisotropic_volume_and_the_compactness():
    """Three seeds along x at 5, 16 and 26 (the grid of (6, 10, 32) for K = 3 at spacing
    (2, 1, 1)); a bright plane at x = 8, left of the first two seeds' Voronoi split (x = 10 |
    11): with compactness 0 the first superpixel ends at the wall; with a large one it runs
    over the wall to about the grid's split (climbing it costs less than the distance)."""
    from lnsnet.volume import volume_grid

    assert volume_grid((6, 10, 32), 3, (2.0, 1.0, 1.0))[0] == (1, 1, 3)
    vol = np.full((6, 10, 32), 0.1, np.float32)
    vol[:, :, 8] = 0.9
    low = lnsnet.segment(vol, 3, channel_axis=None, spacing=(2.0, 1.0, 1.0), boundaries="bright", compactness=0.0)
    first = np.unique(low[:, :, :8])
    assert len(first) == 1 and first[0] not in low[:, :, 9:]
    high = lnsnet.segment(vol, 3, channel_axis=None, spacing=(2.0, 1.0, 1.0), boundaries="bright",
                          compactness=100.0)
    # the first seed steps one voxel off the blurred wall's tail, so the split is near x = 10
    first = high[0, 0, 0]
    assert (high[:, :, :9] == first).all() and (high[:, :, 9] == first).mean() > 0.5
    assert first not in high[:, :, 11:]


def test_every_superpixel_is_one_connected_region():
    rng = np.random.default_rng(0)
    img = ndimage.gaussian_filter(rng.random((80, 90)), 2)
    lab = lnsnet.segment(img, 60, channel_axis=None, boundaries="bright")
    assert lab.min() == 1
    for i in range(1, lab.max() + 1):
        assert ndimage.label(lab == i)[1] == 1  # 4-connected
    vol = ndimage.gaussian_filter(rng.random((16, 30, 30)), 1.5)
    lab = lnsnet.segment(vol, 40, channel_axis=None, boundaries="dark", spacing=(2, 1, 1))
    for i in range(1, lab.max() + 1):
        assert ndimage.label(lab == i)[1] == 1  # 6-connected


def test_mask_pieces_without_a_seed_get_their_own_label():
    """Outside the mask 0 (start_label 1); a mask piece too small for a seed is labelled."""
    img = np.random.default_rng(1).random((60, 60)).astype(np.float32)
    mask = np.zeros(img.shape, bool)
    mask[5:50, 5:50] = True
    mask[56:58, 56:58] = True  # four pixels, no cell centre near
    img[~mask] = np.nan  # never read
    lab = lnsnet.segment(img, 25, channel_axis=None, boundaries="bright", mask=mask)
    assert (lab[~mask] == 0).all() and (lab[mask] >= 1).all()
    piece = np.unique(lab[56:58, 56:58])
    assert len(piece) == 1 and piece[0] not in np.unique(lab[5:50, 5:50])
    lab0 = lnsnet.segment(img, 25, channel_axis=None, boundaries="bright", mask=mask, start_label=0)
    assert (lab0[~mask] == -1).all() and lab0[mask].min() == 0


def test_channels_and_contrast_do_not_change_the_labels():
    """The map is scaled by its own percentiles: a gain and an offset, or three equal
    channels, give the labels of the gray image; RGBA's alpha is left out."""
    rng = np.random.default_rng(2)
    img = ndimage.gaussian_filter(rng.random((50, 70)), 1.5).astype(np.float32)
    ref = lnsnet.segment(img, 30, channel_axis=None, boundaries="bright")
    np.testing.assert_array_equal(lnsnet.segment(img * 40 + 7, 30, channel_axis=None, boundaries="bright"), ref)
    rgb = np.stack([img] * 3, -1)
    np.testing.assert_array_equal(lnsnet.segment(rgb, 30, boundaries="bright"), ref)
    rgba = np.concatenate([rgb, rng.random((50, 70, 1)).astype(np.float32)], -1)
    np.testing.assert_array_equal(lnsnet.segment(rgba, 30, boundaries="bright"), ref)


def test_bad_arguments_are_refused():
    img = np.zeros((20, 20), np.float32)
    with pytest.raises(ValueError, match="boundaries"):
        lnsnet.segment(img, 4, channel_axis=None, boundaries="walls")
    with pytest.raises(ValueError, match="no model"):
        lnsnet.segment(img, 4, channel_axis=None, boundaries="bright", model="bsds500")
    with pytest.raises(ValueError, match="clustering"):
        lnsnet.segment(img, 4, channel_axis=None, boundaries="bright", clustering="paper")
    with pytest.raises(ValueError, match="compactness"):
        segment_boundaries(img[None], 4, compactness=-1.0)
    bad = img.copy()
    bad[3, 3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        lnsnet.segment(bad, 4, channel_axis=None, boundaries="bright")
    with pytest.raises(ValueError, match="backend"):
        lnsnet.segment(img, 4, channel_axis=None, boundaries="bright", backend="openvino")
    for c in (True, "0.5"):  # a ValueError, as the clustering's own compactness check raises
        with pytest.raises(ValueError, match="compactness"):
            lnsnet.segment(img, 4, channel_axis=None, boundaries="bright", compactness=c)
    with pytest.raises(ValueError, match="empty"):
        lnsnet.segment(np.zeros((0, 5, 5)), 4, channel_axis=None, boundaries="bright")
    with pytest.raises(TypeError, match="dtype"):
        lnsnet.segment(np.zeros((3, 5, 5), complex), 4, channel_axis=None, boundaries="bright")


def test_a_sparse_wall_still_counts():
    """A one-pixel line in a large binary image (0.2 % of the pixels: the 99th percentile is
    0) still stops the flood: the two superpixels meet on it, not on the grid's split."""
    img = np.zeros((500, 600), bool)
    img[:, 220] = True
    lab = lnsnet.segment(img, 2, channel_axis=None, boundaries="bright")
    assert len(np.unique(lab[:, :220])) == 1 and len(np.unique(lab[:, 221:])) == 1
    assert lab[0, 0] != lab[0, -1]


def test_small_cells_keep_their_seeds():
    """Each seed stays in its own grid cell, so K near the pixel count gives the grid's
    cells, and K at least the pixels one superpixel per pixel."""
    from lnsnet.grid import make_grid

    img = np.random.default_rng(5).random((20, 20))
    for k in (100, 200, 399):
        g = make_grid(20, 20, k)
        lab = lnsnet.segment(img, k, channel_axis=None, boundaries="bright")
        assert lab.max() == g.rows * g.cols == len(np.unique(lab))
    lab = lnsnet.segment(img, 400, channel_axis=None, boundaries="bright", start_label=0)
    np.testing.assert_array_equal(lab, np.arange(400).reshape(20, 20))


def test_sigma_inside_a_mask_does_not_darken_its_border():
    """slic's sigma blurs inside the mask only: an image constant inside the mask has the
    same labels with and without it."""
    mask = np.zeros((120, 120), bool)
    mask[10:110, 10:110] = True
    img = np.where(mask, 1000.0, np.nan)
    plain = lnsnet.segment(img, 20, channel_axis=None, boundaries="bright", mask=mask)
    np.testing.assert_array_equal(lnsnet.segment(img, 20, channel_axis=None, boundaries="bright", mask=mask,
                                                 sigma=3), plain)


def test_a_list_of_images():
    rng = np.random.default_rng(3)
    a, b = rng.random((30, 40)), rng.random((25, 35))
    out = lnsnet.segment([a, b], 12, channel_axis=None, boundaries="bright")
    np.testing.assert_array_equal(out[0], lnsnet.segment(a, 12, channel_axis=None, boundaries="bright"))
    assert out[1].shape == b.shape
    with pytest.raises(ValueError, match="a list takes 2-D images"):  # as without boundaries=
        lnsnet.segment([a, rng.random((4, 30, 40))], 12, channel_axis=None, boundaries="bright")


def test_command_line(tmp_path, capsys):
    """`lnsnet segment --boundaries`: the API's labels for an image and a volume, the flood's
    settings in the provenance (another setting redoes the file), a model refused."""
    import json

    from PIL import Image

    from lnsnet.cli import main

    rng = np.random.default_rng(4)
    img = (ndimage.gaussian_filter(rng.random((40, 50)), 1.5) * 255 * 4).clip(0, 255).astype(np.uint8)
    Image.fromarray(img).save(tmp_path / "w.png")
    out = tmp_path / "out"
    assert main(["segment", str(tmp_path / "w.png"), "-k", "20", "-o", str(out), "-q", "--boundaries", "bright"]) == 0
    np.testing.assert_array_equal(np.load(out / "w_labels.npy"),
                                  lnsnet.segment(img, 20, channel_axis=None, boundaries="bright"))
    from lnsnet.flood import VERSION

    assert json.loads((out / "w_labels.json").read_text())["clustering"].startswith(f"boundaries v{VERSION}:bright:")
    assert main(["segment", str(tmp_path / "w.png"), "-k", "20", "-o", str(out), "-q", "--boundaries", "dark"]) == 0
    np.testing.assert_array_equal(np.load(out / "w_labels.npy"),
                                  lnsnet.segment(img, 20, channel_axis=None, boundaries="dark"))
    vol = ndimage.gaussian_filter(rng.random((8, 20, 24)), 1.2).astype(np.float32)
    np.save(tmp_path / "v.npy", vol)
    assert main(["segment", str(tmp_path / "v.npy"), "-k", "30", "-o", str(out), "-q", "--volume", "--spacing",
                 "2,1,1", "--boundaries", "bright", "--compactness", "0.5"]) == 0
    np.testing.assert_array_equal(np.load(out / "v_labels.npy"),
                                  lnsnet.segment(vol, 30, channel_axis=None, spacing=(2, 1, 1), boundaries="bright",
                                                 compactness=0.5))
    capsys.readouterr()
    assert main(["segment", str(tmp_path / "w.png"), "-o", str(tmp_path / "o2"), "-q", "--boundaries", "bright",
                 "--model", "bsds500"]) == 2
    assert "--boundaries" in capsys.readouterr().err


def test_reachable_as_an_attribute():
    """``lnsnet.flood`` without importing it first, as README's other submodules."""
    import importlib
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-c", "import lnsnet; print(lnsnet.flood.__name__)"], capture_output=True,
                       text=True)
    assert r.returncode == 0 and r.stdout.strip() == "lnsnet.flood", r.stderr
    assert lnsnet.flood is importlib.import_module("lnsnet.flood")


def test_seed_search_window():
    """A seed is the lowest voxel within (hz, hy, hx) of its cell's centre and inside its
    cell; the centre on ties or when nothing is lower."""
    from lnsnet.flood import _seeds

    v = np.ones((1, 1, 24), np.float32)
    v[0, 0, 13] = 0.5  # two voxels right of the first cell's centre (cells 0..11 and 12..23: centres 5, 17)
    v[0, 0, 7] = 0.2
    valid = np.ones(v.shape, np.bool_)
    out = np.empty(2, np.int64)
    args = (np.array([0]), np.array([0]), np.array([5, 17]), np.array([0]), np.array([1]), np.array([0]),
            np.array([1]), np.array([0, 12]), np.array([12, 24]))
    _seeds(v, valid, *args, 0, 0, 1, out)
    assert out.tolist() == [5, 17]  # nothing lower within one voxel
    _seeds(v, valid, *args, 0, 0, 2, out)
    assert out.tolist() == [7, 17]  # x = 7 in reach of the first; x = 13 is outside the second's +-2
    _seeds(v, valid, *args, 0, 0, 6, out)
    assert out.tolist() == [7, 13]  # x = 13 in the second cell's reach, not the first's (its cell ends at 11)


def test_boundaries_refuse_what_the_flood_does_not_do():
    """max_num_iter, min/max_size_factor, enforce_connectivity=False and a GPU device were
    ignored in silence with boundaries=; now refused by name (the defaults and device
    "cpu" pass)."""
    img = np.random.default_rng(0).random((20, 30))
    for kw, name in ((dict(max_num_iter=3), "max_num_iter"), (dict(min_size_factor=0.5), "min_size_factor"),
                     (dict(max_size_factor=3), "max_size_factor"),
                     (dict(enforce_connectivity=False), "enforce_connectivity=False"), (dict(device="cuda"), "cuda")):
        with pytest.raises(ValueError, match=name):
            lnsnet.segment(img, 10, channel_axis=None, boundaries="bright", **kw)
    assert lnsnet.segment(img, 10, channel_axis=None, boundaries="bright", device="cpu").min() == 1


def test_the_front_takes_64_bit_entries_only_where_32_bit_ones_could_overflow():
    """A voxel is pushed at most once per neighbour taken: 6 N + seeds pushes at most. Below
    2^32 of those (and voxel indices below 2^31) the front's numbers are 32-bit; above, 64."""
    from lnsnet.flood import _front_entry

    small = _front_entry(715_000_000, 5000)  # 6 N + seeds = 4,290,005,000 < 2^32 = 4,294,967,296
    large = _front_entry(716_000_000, 5000)  # 4,296,005,000 > 2^32
    assert [type(x) for x in small] == [np.float32, np.uint32, np.int32]
    assert [type(x) for x in large] == [np.float32, np.int64, np.int64]


@pytest.mark.parametrize("compactness", [0.0, 0.3])
def test_32_and_64_bit_fronts_flood_alike(compactness):
    """The flood with either front type gives the same labels, ties included (a map of three
    levels: many equal priorities, broken by push order)."""
    from lnsnet.flood import _flood

    rng = np.random.default_rng(3)
    v = rng.integers(0, 3, (7, 19, 23)).astype(np.float32)
    valid = rng.random(v.shape) > 0.15
    seeds = np.flatnonzero(valid)[::97].astype(np.int64)
    out = []
    for proto in ((np.float32(0), np.uint32(0), np.int32(0)), (np.float32(0), np.int64(0), np.int64(0))):
        labels = np.full(v.size, -1, np.int32)
        _flood(v.ravel(), valid, seeds, 2.0, 1.0, 0.5, compactness, labels, proto)
        out.append(labels)
    np.testing.assert_array_equal(out[0], out[1])
    assert set(np.unique(out[0][out[0] >= 0])) == set(range(seeds.size))  # each seed keeps its own voxel
