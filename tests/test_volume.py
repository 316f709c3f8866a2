"""Supervoxels (lnsnet.volume, and segment() on volumes): the grid, exact regions on
synthetic volumes, spacing, masks, channels, 6-connectivity and the refusals."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

import lnsnet
from lnsnet.volume import components_3d, enforce_connectivity_3d, volume_grid


def _octant_truth(shape, cut=None):
    """The eight boxes of ``shape`` split at ``cut`` on each axis (default: the middle), 0..7."""
    cut = [n // 2 for n in shape] if cut is None else cut
    return ((np.arange(shape[0]) >= cut[0])[:, None, None] * 4 + (np.arange(shape[1]) >= cut[1])[None, :, None] * 2
            + (np.arange(shape[2]) >= cut[2])[None, None, :])


def _octants(shape=(24, 28, 32), noise=0.02, seed=0):
    """Eight boxes of distinct intensities (the volume split at its middle on each axis)."""
    truth = _octant_truth(shape)
    levels = np.array([0.05, 0.9, 0.3, 0.6, 0.75, 0.15, 0.45, 1.0])
    vol = levels[truth] + np.random.default_rng(seed).normal(0, noise, shape)
    return vol.astype(np.float32), truth


def _same_partition(a, b) -> bool:
    """Equal up to renaming the labels."""
    pairs = np.unique(np.stack([a.ravel(), b.ravel()]), axis=1)
    return pairs.shape[1] == len(np.unique(a)) == len(np.unique(b))


def test_grid_cells_are_cubes_in_physical_units():
    assert volume_grid((100, 100, 100), 1000) == ((10, 10, 10), pytest.approx(10.0))
    # z voxels twice as thick: 50 of them span what 100 do on the other axes
    cells, step = volume_grid((50, 100, 100), 1000, spacing=(2.0, 1.0, 1.0))
    assert cells == (10, 10, 10) and step == pytest.approx(10.0)
    cells, _ = volume_grid((20, 60, 60), 27, spacing=(3.0, 1.0, 1.0))
    assert cells == (3, 3, 3)
    cells, _ = volume_grid((1, 64, 64), 16)  # one slice: the cells spread over y and x
    assert cells[0] == 1 and abs(cells[1] * cells[2] - 16) <= 2


@pytest.mark.parametrize("shape, k, spacing, cells", [
    # K at least the voxels: one cell a voxel, however anisotropic (the z axis stopped at 3)
    ((4, 5, 6), 10**6, (0.2, 1.0, 3.0), (4, 5, 6)),
    ((4, 5, 6), 120, (0.2, 1.0, 3.0), (4, 5, 6)),
    # x voxels 10^4 long: one cell each (60), and the other 100 / 60 cells split y, the longer
    # cells (60 units against z's 20): 120 is nearer 100 than 60
    ((20, 60, 60), 100, (1.0, 1.0, 1e4), (1, 2, 60)),
])
def test_grid_held_at_an_axis_still_comes_near_k(shape, k, spacing, cells):
    """An axis held at its voxel count stopped the scaling short of K (90 of 120 voxels, 60
    of 100 supervoxels): the free axes take the rest, by hand; segment delivers it."""
    assert volume_grid(shape, k, spacing)[0] == cells
    labels = lnsnet.segment(np.random.default_rng(0).random(shape), k, channel_axis=None, spacing=spacing)
    assert labels.max() == (np.prod(shape) if k >= np.prod(shape) else np.prod(cells))


def test_octants_are_found_exactly():
    vol, truth = _octants()
    labels = lnsnet.segment(vol, 8, channel_axis=None)
    assert labels.shape == vol.shape and labels.dtype == np.int32 and labels.min() == 1
    assert _same_partition(labels, truth)


def _octants_off_the_grid(seed: int):
    """Eight boxes split up to one voxel off the middle of each axis (16-32 voxels), gray
    (eight levels 1/7 apart) or colour (the corners of the RGB cube), noise 0.01."""
    from itertools import product

    rng = np.random.default_rng(seed)
    base = int(rng.integers(16, 31))
    shape = tuple(int(base + d) for d in rng.integers(0, 3, 3))
    truth = _octant_truth(shape, [n // 2 + int(rng.integers(-1, 2)) for n in shape])
    colour = seed % 2 == 0
    levels = np.array(list(product([0, 1], repeat=3)), float) if colour else rng.permutation(np.linspace(0, 1, 8))
    vol = np.clip(levels[truth] + rng.normal(0, 0.01, truth.shape + ((3,) if colour else ())), 0, 1)
    return vol.astype(np.float32), truth, -1 if colour else None


@pytest.mark.parametrize("compactness", [1.0, 10.0, 40.0, 1920.0])
def test_clean_edges_off_the_grid_are_followed_at_any_compactness(compactness):
    """40 octant volumes split up to one voxel off the seed grid's planes: a strong edge
    gives way to the spatial term however large it is, as every edge is measured against
    the ordinary steps, not against a mean that the many edges of such a volume make large
    (with that mean, 18 of these 40 failed at compactness 10, 30 at 40)."""
    for seed in range(40):
        vol, truth, axis = _octants_off_the_grid(seed)
        labels = lnsnet.segment(vol, 8, channel_axis=axis, compactness=compactness)
        assert _same_partition(labels, truth), seed


def test_edge_reference_by_hand():
    from lnsnet.volume import edge_reference

    # nonzero median 3: nothing above 60, the mean of all, 3.2
    assert edge_reference(np.array([1, 2, 3, 4, 6], np.float32)) == pytest.approx(3.2)
    # nonzero median 2.5: 100 > 50 is an edge, left out: the mean of 1, 2, 3 is 2
    assert edge_reference(np.array([1, 2, 3, 100], np.float32)) == pytest.approx(2.0)
    # the zeros count in the mean (the threshold comes from the nonzero steps): 8 / 9
    assert edge_reference(np.array([0, 0, 0, 0, 0, 1, 1, 2, 4], np.float32)) == pytest.approx(8 / 9)
    assert edge_reference(np.zeros((4, 4, 4), np.float32)) == 0.0  # flat: no reference


def test_edge_reference_samples_a_large_volume_without_aliasing(monkeypatch):
    import lnsnet.volume as V

    monkeypatch.setattr(V, "_SAMPLE", 1000)
    # every row starts with a zero step: a stride of 1000 = X would see only those
    g = np.ones((10, 100, 1000), np.float32)
    g[:, :, 0] = 0.0
    assert V.edge_reference(g) == pytest.approx(0.999, abs=0.01)
    rng = np.random.default_rng(3)
    g = rng.exponential(1.0, (40, 50, 60)).astype(np.float32)
    g[rng.random(g.shape) < 0.01] = 500.0  # edges, left out
    assert V.edge_reference(g) == pytest.approx(1.0, rel=0.1)


def test_uint8_volume_with_spacing_and_start_label_zero():
    vol, truth = _octants((12, 36, 36), noise=0.0)
    u8 = (np.clip(vol, 0, 1) * 255).astype(np.uint8)
    labels = lnsnet.segment(u8, 8, channel_axis=None, spacing=(3.0, 1.0, 1.0), start_label=0)
    assert labels.min() == 0 and _same_partition(labels, truth)


def test_every_supervoxel_is_one_6_connected_region_and_k_is_near_k():
    rng = np.random.default_rng(1)
    vol = ndimage.gaussian_filter(rng.random((30, 40, 40)), 1.5).astype(np.float32)
    labels = lnsnet.segment(vol, 200, channel_axis=None)
    k = len(np.unique(labels))
    assert 0.6 * 200 <= k <= 1.3 * 200
    assert labels.max() == k  # consecutive from 1
    six = ndimage.generate_binary_structure(3, 1)
    for lab in range(1, k + 1):
        _, n = ndimage.label(labels == lab, structure=six)
        assert n == 1, lab


def test_mask_and_channels():
    vol, truth = _octants((16, 20, 24))
    mask = np.zeros(vol.shape, bool)
    mask[:, :, 4:20] = True
    labels = lnsnet.segment(vol, 8, channel_axis=None, mask=mask)
    assert (labels[~mask] == 0).all() and labels[mask].min() == 1
    assert _same_partition(labels[mask], truth[mask])
    # two channels: the first separates z halves, the second is a smooth ramp along x
    ramp = np.broadcast_to(np.linspace(0, 1, truth.shape[2], dtype=np.float32), truth.shape)
    two = np.stack([(truth >= 4).astype(np.float32), ramp], axis=0)
    labels = lnsnet.segment(two, 8, channel_axis=0)
    half = truth >= 4
    assert all(len(np.unique(half[labels == v])) == 1 for v in np.unique(labels))  # no supervoxel crosses it


def test_components_match_scipy_and_small_pieces_are_merged():
    rng = np.random.default_rng(3)
    lab = rng.integers(0, 3, (8, 9, 10))
    comp, k = components_3d(lab)
    want = np.zeros(lab.shape, np.int64)
    n = 0
    six = ndimage.generate_binary_structure(3, 1)
    for v in range(3):
        pieces, m = ndimage.label(lab == v, structure=six)
        want[pieces > 0] = pieces[pieces > 0] + n
        n += m
    assert k == n and _same_partition(comp, want)
    feats = rng.random(lab.shape + (1,)).astype(np.float32)
    merged = enforce_connectivity_3d(lab, feats, min_size=20)
    sizes = np.bincount(merged.ravel())
    assert sizes.min() >= 20 and _same_partition(merged, components_3d(merged)[0])


def test_volume_refusals():
    vol, _ = _octants((8, 10, 12))
    with pytest.raises(ValueError, match="slice by slice"):
        lnsnet.segment(vol, 8, channel_axis=None, model="bsds500")
    with pytest.raises(ValueError, match="slice by slice"):
        lnsnet.segment(vol, 8, channel_axis=None, model=lnsnet.load_model("bsds500"))
    with pytest.raises(ValueError, match="3 numbers"):
        lnsnet.segment(vol, 8, channel_axis=None, spacing=(1.0, 2.0))
    bad = vol.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        lnsnet.segment(bad, 8, channel_axis=None)
    with pytest.raises(ValueError, match=">= 1"):
        lnsnet.segment(vol, 0, channel_axis=None)
    # a 3-D array with channels last is still a 2-D image with channels (slic's rule)
    assert lnsnet.segment(vol, 4).shape == vol.shape[:2]


def test_boundaries_off_the_grid_are_followed():
    """Two regions split at a third of the depth, while the seed grid splits it in half:
    the assignment has to move the boundary (asa near 1), where the grid alone scores
    5/6."""
    z, y, x = 30, 24, 24
    truth = np.broadcast_to((np.arange(z) >= z // 3)[:, None, None], (z, y, x)).astype(int)
    vol = (truth * 0.8 + 0.1 + np.random.default_rng(4).normal(0, 0.02, truth.shape)).astype(np.float32)
    labels = lnsnet.segment(vol, 8, channel_axis=None)
    overlap = sum(np.bincount(truth[labels == v]).max() for v in np.unique(labels))
    assert overlap / truth.size > 0.99


def test_volume_scores_by_hand():
    from lnsnet.eval.volumes import boundary_voxels, score_volume

    gt = np.zeros((2, 2, 4), int)
    gt[:, :, 2:] = 1  # two halves along x
    b = boundary_voxels(gt)
    assert b.sum() == 4 and b[:, :, 1].all()  # the voxels before the change, on each of the 4 rows
    perfect = score_volume(gt + 5, gt)
    # two 2x2x2 cubes: V = 8, A = 24 faces, 36 pi 64 / 24^3 = pi / 6 each
    assert perfect == {"k": 2, "asa": 1.0, "br": 1.0, "bp": 1.0, "ue": 0.0, "co": pytest.approx(np.pi / 6)}
    one = np.zeros_like(gt)  # one supervoxel: ASA 1/2, no boundary found, nothing claimed
    s = score_volume(one, gt)
    assert s["asa"] == 0.5 and s["br"] == 0.0 and s["bp"] == 1.0 and s["ue"] == 1.0  # min(8, 8) twice, over 16
    assert s["co"] == pytest.approx(36 * np.pi * 16**2 / 40**3)  # a 2x2x4 box: 2 * 4 + 4 * 8 = 40 faces
    # z twice as thick: a 4 x 2 x 4 box, V = 32, A = 2 (4 * 2 + 4 * 4 + 2 * 4) = 64
    assert score_volume(one, gt, spacing=(2, 1, 1))["co"] == pytest.approx(36 * np.pi * 32**2 / 64**3)
    shifted = np.zeros_like(gt)
    shifted[:, :, 3:] = 1  # the cut one voxel off: within r=1, not r=0; 4 of 16 voxels misplaced
    assert score_volume(shifted, gt)["br"] == 1.0 and score_volume(shifted, gt, r=0)["br"] == 0.0
    assert score_volume(shifted, gt)["asa"] == 0.75
    vol = gt.astype(float) * 2.0
    assert score_volume(gt, gt, volume=vol)["ev"] == 1.0 and score_volume(one, gt, volume=vol)["ev"] == 0.0
    ign = gt.copy()
    ign[0, 0, 0] = 9  # ignored voxels count nowhere
    assert score_volume(one, ign, ignore=9)["asa"] == pytest.approx(8 / 15)


def test_3d_model_trains_saves_loads_and_slabs_equal_the_whole(tmp_path):
    """A few steps of label-free training on two small volumes lower the loss on the same
    crop; the file loads (weights only) to the same features; slabs of 3 slices give the
    features of the whole volume; segment takes the model."""
    import torch

    from lnsnet.volume_model import (VolumeTrainConfig, _contours, _crop_loss, _encode, load_volume_model,
                                     train_volumes, volume_features)

    vol, truth = _octants((14, 16, 18), noise=0.05)
    cfg = VolumeTrainConfig(steps=12, crop=12, cells=3, seed=0)
    from lnsnet.volume_model import VolumeConfig, VolumeNet

    net = VolumeNet(VolumeConfig(train_segments=64), seed=0)
    encoded = _encode(vol[..., None], (1, 1, 1), 64)
    x = torch.from_numpy(encoded)[None, :, :12, :12, :12]
    b = torch.from_numpy(_contours(encoded[:1]))[None, :12, :12, :12]
    with torch.no_grad():
        before = float(_crop_loss(net, x, b, cfg)[0])
    net = train_volumes([vol, vol[::-1].copy()], tmp_path / "m.pt", net=net, config=cfg)
    with torch.no_grad():
        after = float(_crop_loss(net, x, b, cfg)[0])
    assert after < before
    again = load_volume_model(tmp_path / "m.pt")
    whole = volume_features(net, vol[..., None], (1, 1, 1), slab=64)
    with torch.no_grad():  # the input made slab by slab is the whole volume's input
        direct = net.eval().embed(torch.from_numpy(_encode(vol[..., None], (1, 1, 1), 64))[None])[0].numpy()
    np.testing.assert_allclose(whole, np.moveaxis(direct, 0, -1), atol=1e-5)
    np.testing.assert_allclose(volume_features(again, vol[..., None], (1, 1, 1), slab=3), whole, atol=1e-5)
    labels = lnsnet.segment(vol, 8, channel_axis=None, model=tmp_path / "m.pt")
    assert labels.shape == vol.shape and labels.min() == 1
    (tmp_path / "text.pt").write_text("not a model")
    with pytest.raises(ValueError, match="not an lnsnet 3-D model"):
        load_volume_model(tmp_path / "text.pt")
    with pytest.raises(ValueError, match="not a 3-D model"):
        lnsnet.segment(vol, 8, channel_axis=None, model="bsds500")


def test_read_volume_kinds(tmp_path):
    import tifffile

    from lnsnet.io import read_volume

    vol, truth = _octants((6, 10, 12))
    u8 = (np.clip(vol, 0, 1) * 255).astype(np.uint8)
    p = tmp_path / "imagej.tif"
    tifffile.imwrite(p, u8, imagej=True, resolution=(1 / 0.5, 1 / 0.5), metadata={"spacing": 2.0, "axes": "ZYX"})
    got, spacing = read_volume(p)
    assert np.array_equal(got, u8) and spacing == pytest.approx((2.0, 0.5, 0.5))
    tifffile.imwrite(tmp_path / "pages.tif", u8, photometric="minisblack")  # plain pages: z slices, no size
    got, spacing = read_volume(tmp_path / "pages.tif")
    assert np.array_equal(got, u8) and spacing is None
    two = np.stack([u8, 255 - u8], axis=1)  # ZCYX
    tifffile.imwrite(tmp_path / "zcyx.tif", two, imagej=True, metadata={"axes": "ZCYX"})
    got, _ = read_volume(tmp_path / "zcyx.tif")
    assert got.shape == (6, 10, 12, 2) and np.array_equal(got[..., 1], 255 - u8)
    np.save(tmp_path / "v.npy", vol)
    assert np.array_equal(read_volume(tmp_path / "v.npy")[0], vol)
    tifffile.imwrite(tmp_path / "t.tif", np.stack([u8[0]] * 3), imagej=True, metadata={"axes": "TYX"})
    with pytest.raises(ValueError, match="time series"):
        read_volume(tmp_path / "t.tif")
    tifffile.imwrite(tmp_path / "flat.tif", u8[0])
    with pytest.raises(ValueError, match="single 2-D image"):
        read_volume(tmp_path / "flat.tif")
    with pytest.raises(ValueError, match="720 voxels, more than the limit of 700 \\(raise it with max_voxels="):
        read_volume(p, max_voxels=700)  # the Python name first (it named only the CLI's --max-pixels)
    # volumes default to 2**30 voxels: a whole-body CT (512 x 512 x 1,100 = 288 M) is not refused
    from lnsnet.io import MAX_PIXELS, MAX_VOXELS, pixel_limit

    assert pixel_limit(None, volume=True) == MAX_VOXELS == 2**30 > 512 * 512 * 1100 > MAX_PIXELS == pixel_limit(None)
    (tmp_path / "junk.tif").write_bytes(b"II*\0garbage")
    with pytest.raises(ValueError, match="junk.tif"):
        read_volume(tmp_path / "junk.tif")


def test_cli_volume(tmp_path, capsys):
    import json

    import tifffile

    from lnsnet.cli import main

    vol, truth = _octants((24, 28, 32), noise=0.01)
    src = tmp_path / "in"
    src.mkdir()
    tifffile.imwrite(src / "a.tif", (np.clip(vol, 0, 1) * 255).astype(np.uint8), imagej=True, resolution=(1.0, 1.0),
                     metadata={"spacing": 1.0, "axes": "ZYX"})
    np.save(src / "b.npy", vol)
    (src / "c.tif").write_bytes(b"II*\0broken")
    out = tmp_path / "out"
    assert main(["segment", str(src), "-o", str(out), "-k", "8", "--volume", "-q"]) == 2
    err = capsys.readouterr().err
    assert "c.tif" in err and "done: 2, failed: 1" in err and "b.npy: no voxel size" in err
    labels = np.load(out / "a_labels.npy")
    assert labels.shape == vol.shape and _same_partition(labels, truth)
    assert np.array_equal(tifffile.imread(out / "a_labels.tif"), labels)
    assert (out / "a_overlay.png").is_file() and not list(out.glob("c_*"))
    meta = json.loads((out / "a_labels.json").read_text())
    assert meta["volume"] is True and meta["model"] == "none"
    # the compactness used, not "default": a rerun after the default changes redoes the file
    from lnsnet.volume import CLUSTERING_VERSION, DEFAULTS

    assert meta["clustering"] == f"3-D v{CLUSTERING_VERSION}:compactness={DEFAULTS['compactness']:g}"
    assert main(["segment", str(src / "b.npy"), "-o", str(out), "-k", "8", "--volume", "-q", "--spacing", "2,1,1",
                 "--overwrite"]) == 0
    assert json.loads((out / "b_labels.json").read_text())["spacing"] == [2.0, 1.0, 1.0]
    for bad in (["--spacing", "1,1"], ["--adapt", "2"], ["--spacing", "0,1,1"]):
        assert main(["segment", str(src / "b.npy"), "-o", str(out), "--volume", "-q", *bad]) == 2
        assert capsys.readouterr().err.count("\n") == 1


def test_cli_train_volumes_resumes_exactly_and_skips_bad_files(tmp_path, capsys):
    import torch

    from lnsnet.cli import main

    src = tmp_path / "stacks"
    src.mkdir()
    for i in range(3):
        np.save(src / f"v{i}.npy", _octants((14, 16, 18), noise=0.05, seed=i)[0])
    (src / "v1b.tif").write_bytes(b"II*\0broken")
    # one thread: torch's parallel float sums in the 3-D convolutions' backward differ in the last
    # bits from run to run (1e-8) with two; with one, runs are bit-for-bit repeatable
    common = ["--volume", "--iterations", "3", "-q", "--seed", "1", "--threads", "1"]
    assert main(["train", str(src), "-o", str(tmp_path / "whole.pt"), *common]) == 2
    assert "v1b.tif" in capsys.readouterr().err
    assert main(["train", str(src), "-o", str(tmp_path / "part.pt"), "--max-images", "2", *common]) == 0
    assert main(["train", str(src), "-o", str(tmp_path / "part.pt"), "--resume", *common]) == 2  # v1b again
    a = torch.load(tmp_path / "whole.pt", weights_only=True)
    b = torch.load(tmp_path / "part.pt", weights_only=True)
    assert a["position"] == b["position"] == 4
    assert [("skipped" in h) for h in a["history"]] == [False, False, True, False]
    assert all(torch.equal(a["state_dict"][k], b["state_dict"][k]) for k in a["state_dict"])
    labels = lnsnet.segment(np.load(src / "v0.npy"), 8, channel_axis=None, model=tmp_path / "whole.pt")
    assert labels.shape == (14, 16, 18)


def test_review_findings_3d(tmp_path, capsys):
    """A NaN volume is skipped (never trains the model into NaN), a volume thinner than the
    crop trains, --max-images counts volumes per call across --resume, and read_volume
    refuses stacks of several sizes and channels of colour images, and checks an .npy's
    size from its header."""
    import tifffile
    import torch

    from lnsnet.cli import main
    from lnsnet.io import read_volume

    src = tmp_path / "s"
    src.mkdir()
    bad = _octants((10, 12, 12))[0]
    bad[2, 2, 2] = np.nan
    np.save(src / "a_nan.npy", bad)
    np.save(src / "b_thin.npy", _octants((1, 40, 40))[0])
    np.save(src / "c_ok.npy", _octants((10, 12, 12), seed=2)[0])
    args = ["train", str(src), "-o", str(tmp_path / "m.pt"), "--volume", "--iterations", "2", "-q"]
    assert main(args + ["--max-images", "1"]) == 2  # a_nan skipped, b_thin trained
    assert "a_nan.npy: the volume contains NaN" in capsys.readouterr().err
    assert torch.load(tmp_path / "m.pt", weights_only=True)["position"] == 2
    assert main(args + ["--max-images", "1", "--resume"]) == 0
    p = torch.load(tmp_path / "m.pt", weights_only=True)
    assert p["position"] == 3 and all(torch.isfinite(v).all() for v in p["state_dict"].values())
    with tifffile.TiffWriter(tmp_path / "split.tif") as tw:
        tw.write(np.zeros((3, 8, 8), np.uint8), photometric="minisblack")
        tw.write(np.zeros((2, 4, 4), np.uint8), photometric="minisblack")
    with pytest.raises(ValueError, match="2 stacks"):
        read_volume(tmp_path / "split.tif")
    tifffile.imwrite(tmp_path / "zcyxs.ome.tif", np.zeros((2, 2, 8, 8, 3), np.uint8), ome=True,
                     photometric="rgb", metadata={"axes": "ZCYXS"})
    with pytest.raises(ValueError, match="channels of colour images"):
        read_volume(tmp_path / "zcyxs.ome.tif")
    with open(tmp_path / "huge.npy", "wb") as fh:  # a header claiming 4000^3 voxels, 10 bytes of data
        np.lib.format.write_array_header_1_0(fh, {"descr": "|u1", "fortran_order": False, "shape": (4000,) * 3})
        fh.write(bytes(10))
    with pytest.raises(ValueError, match="64,000,000,000 voxels"):
        read_volume(tmp_path / "huge.npy")


def test_volume_model_files_of_another_kind_are_one_line(tmp_path, capsys):
    import torch

    from lnsnet.cli import main
    from lnsnet.volume_model import VolumeNet, load_volume_model, save_volume_model

    save_volume_model(tmp_path / "old.pt", VolumeNet())
    payload = torch.load(tmp_path / "old.pt", weights_only=True)
    payload["state_dict"]["conv1.bias"] = torch.zeros(12)  # as an older version wrote it
    torch.save(payload, tmp_path / "old.pt")
    with pytest.raises(ValueError, match="does not fit this version"):
        load_volume_model(tmp_path / "old.pt")
    np.save(tmp_path / "v.npy", _octants((8, 10, 12))[0])
    for model in (str(tmp_path / "old.pt"), "bsds500"):
        assert main(["segment", str(tmp_path / "v.npy"), "-o", str(tmp_path / "o"), "--volume", "-q",
                     "--model", model]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "Traceback" not in err, err


def _textured(seed=3, shape=(18, 26, 22)):
    """Octants with noise strong enough that many voxels are near ties between seeds."""
    vol, _ = _octants(shape, noise=0.15, seed=seed)
    return vol


@pytest.mark.parametrize("kw", [dict(), dict(spacing=(2.5, 1.0, 0.8), compactness=3.0), dict(channels=True),
                                dict(mask=True)])
def test_torch_seed_rounds_equal_the_cpu_kernels(kw):
    """The torch seed rounds (a GPU's path, run here on the CPU in float64) give the CPU
    kernels' labels exactly: same candidates, same order, same tie rule; also assigned in
    one-plane slabs (bounded memory)."""
    import functools

    from lnsnet import volume as V

    vol = _textured()
    kw = dict(kw)
    if kw.pop("channels", False):
        vol = np.stack([vol, vol[::-1] ** 2], axis=-1)
        kw["channel_axis"] = -1
    if kw.pop("mask", False):
        m = np.zeros(vol.shape[:3], bool)
        m[2:15, 3:, :19] = True
        kw["mask"] = m
    want = V.segment_volume(vol, 60, **kw)
    assert np.array_equal(V.segment_volume(vol, 60, device="cpu", **kw), want)
    slabbed = functools.partial(V._rounds_torch, max_chunk=1)
    orig, cache = V._rounds_torch, V.FEATURES_CACHE_BYTES
    try:
        V._rounds_torch = slabbed
        assert np.array_equal(V.segment_volume(vol, 60, device="cpu", **kw), want)
        # the features not kept whole: each slab's made and sent for its turn, as the kernels read them
        V.FEATURES_CACHE_BYTES = 0
        seen = []
        V._rounds_torch = lambda src, *a, **k: seen.append(src.whole is None) or slabbed(src, *a, **k)
        assert np.array_equal(V.segment_volume(vol, 60, device="cpu", **kw), want) and seen == [True]
    finally:
        V._rounds_torch, V.FEATURES_CACHE_BYTES = orig, cache


def test_torch_seed_rounds_in_float32_agree_on_nearly_every_voxel(monkeypatch):
    """A GPU computes in float32: near-ties may go the other way, so the labels agree on
    at least 99.9 % of the voxels, not all (measured here on the CPU in float32)."""
    import functools

    from lnsnet import volume as V

    vol = _textured(seed=5, shape=(24, 30, 28))
    want = V.segment_volume(vol, 120)
    monkeypatch.setattr(V, "_rounds_torch", functools.partial(V._rounds_torch, float64=False))
    got = V.segment_volume(vol, 120, device="cpu")
    assert (got == want).mean() >= 0.999


def test_volume_device_cuda_without_a_gpu_is_refused_and_cpu_uses_the_kernels(monkeypatch):
    import torch

    from lnsnet import volume as V

    vol = _textured()
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA GPU"):
            lnsnet.segment(vol, 20, channel_axis=None, device="cuda")
    # device='cpu' through segment() runs the numba kernels, not torch
    monkeypatch.setattr(V, "_rounds_torch", lambda *a, **k: pytest.fail("torch path used on the CPU"))
    assert lnsnet.segment(vol, 20, channel_axis=None, device="cpu").max() > 1


def test_a_mask_gets_about_k_supervoxels_inside():
    """About K seeds inside the mask, as in 2-D (the grid used to be laid over the whole
    volume, so a mask of 11 % of it got about 0.1 K), also with a blur and NaN outside."""
    zz, yy, xx = np.mgrid[:40, :48, :48]
    vol = (np.sin(zz / 5.0) + np.cos(yy / 7.0) + np.sin(xx / 6.0)).astype(np.float32)
    for radius in (20, 12):
        mask = (zz - 20) ** 2 + (yy - 24) ** 2 + (xx - 24) ** 2 < radius ** 2
        for k in (50, 200):
            lab = lnsnet.segment(vol, k, channel_axis=None, mask=mask)
            n = len(np.unique(lab[mask]))
            assert 0.7 * k <= n <= 1.3 * k, (radius, k, n)
            assert (lab[~mask] == 0).all()
    holed = vol.copy()
    holed[~mask] = np.nan
    lab = lnsnet.segment(holed, 50, channel_axis=None, mask=mask, sigma=1.0)
    assert 0.7 * 50 <= len(np.unique(lab[mask])) <= 1.3 * 50 and (lab[~mask] == 0).all()
    with pytest.raises(TypeError, match="mask must be a boolean"):
        lnsnet.segment(vol, 50, channel_axis=None, mask=np.full(vol.shape, "x"))
    with pytest.raises(ValueError, match="NaN"):
        lnsnet.segment(vol, 50, channel_axis=None, mask=np.where(mask, 1.0, np.nan))


def test_volume_files_voxel_size_in_and_out_and_clear_refusals(tmp_path, capsys):
    """The voxel size is read from OME-TIFF's PhysicalSize too, written into the labels'
    ImageJ TIFF (so they overlay the stack in Fiji or napari); a TIFF header without pages
    and a channels-first 4-D .npy are refused in one clear line."""
    import os

    import tifffile

    from lnsnet.cli import main
    from lnsnet.io import read_volume

    v = (np.random.default_rng(0).random((12, 40, 40)) * 255).astype(np.uint8)
    tifffile.imwrite(tmp_path / "o.ome.tif", v, ome=True,
                     metadata={"axes": "ZYX", "PhysicalSizeZ": 0.5, "PhysicalSizeY": 0.2, "PhysicalSizeX": 0.25})
    assert read_volume(tmp_path / "o.ome.tif")[1] == (0.5, 0.2, 0.25)
    tifffile.imwrite(tmp_path / "h.tif", v, imagej=True, resolution=(1 / 0.125, 1 / 0.125),
                     metadata={"spacing": 0.25, "axes": "ZYX"})
    assert main(["segment", str(tmp_path / "h.tif"), "-k", "50", "-o", str(tmp_path / "out"), "--volume", "-q"]) == 0
    with tifffile.TiffFile(tmp_path / "out" / "h_labels.tif") as t:
        xr = t.pages[0].tags["XResolution"].value
        assert t.imagej_metadata["spacing"] == pytest.approx(0.25) and xr[1] / xr[0] == pytest.approx(0.125)
    import json

    record = json.loads((tmp_path / "out" / "h_labels.json").read_text())
    assert record["spacing"] is None and record["spacing_used"] == pytest.approx([0.25, 0.125, 0.125])
    capsys.readouterr()
    assert main(["segment", str(tmp_path / "h.tif"), "-k", "50", "-o", str(tmp_path / "out"), "--volume"]) == 0
    assert "skipped" in capsys.readouterr().err  # the record does not stop a rerun from skipping
    (tmp_path / "bad.tif").write_bytes(b"II*\x00" + bytes(200))
    np.save(tmp_path / "cf.npy", np.zeros((2, 30, 64, 64), np.float32))
    for name, words in (("bad.tif", "not a readable TIFF"), ("cf.npy", "looks like channels first")):
        capsys.readouterr()
        assert main(["segment", str(tmp_path / name), "-o", str(tmp_path / "out"), "--volume", "-q"]) == 2
        assert words in capsys.readouterr().err, name
    assert os.path.isdir(tmp_path / "out")


def test_volume_training_resumed_with_other_settings_says_so(tmp_path):
    from lnsnet.volume_model import VolumeTrainConfig, train_volumes

    vols = [np.random.default_rng(i).random((8, 16, 16)).astype(np.float32) for i in range(2)]
    out = tmp_path / "m3.pt"
    train_volumes(vols, out, config=VolumeTrainConfig(steps=1, crop=8, cells=2), max_volumes=1)
    with pytest.warns(UserWarning, match=r"steps=1 \(not 2\)"):
        train_volumes(vols, out, config=VolumeTrainConfig(steps=2, crop=8, cells=2), resume=True)


def test_volume_training_resume_refuses_a_changed_stream(tmp_path):
    from lnsnet.volume_model import VolumeTrainConfig, train_volumes

    files = []
    for name in ("b", "c", "a"):
        np.save(tmp_path / f"{name}.npy", np.random.default_rng(len(files)).random((10, 12, 12)).astype(np.float32))
        files.append(tmp_path / f"{name}.npy")
    out, cfg = tmp_path / "m.pt", VolumeTrainConfig(steps=1, crop=8, cells=2)
    log = tmp_path / "log.jsonl"
    train_volumes(files[:2], out, config=cfg, log=log)
    with open(log, "a") as fh:  # a record past the checkpoint (a run killed before it saved)
        fh.write('{"index": 2, "name": "x"}\n')
    before = log.read_text()
    with pytest.raises(ValueError, match="volume 1 of the stream was"):
        train_volumes([files[2]] + files[:2], out, config=cfg, resume=True, log=log)
    assert log.read_text() == before  # a refused resume leaves the log as it was
    train_volumes(files, out, config=cfg, resume=True)  # one added after them: trained
    from lnsnet.volume_model import _load_payload

    assert [r["name"] for r in _load_payload(out)["history"]] == [str(f) for f in files]


def test_nifti_volumes_are_read_segmented_and_written_on_their_grid(tmp_path, capsys):
    """A CT as NIfTI (i, j, k with k the slice axis, anisotropic, scaled to Hounsfield
    units): read as (Z, Y, X) with the zooms reversed, and its labels written as NIfTI with
    its affine (they overlay it in a viewer) beside the .npy; a 4-D series refused."""
    import json

    import nibabel

    from lnsnet.cli import main

    rng = np.random.default_rng(0)
    ijk = np.zeros((30, 28, 12), np.int16)
    ijk[15:, :, :] = 800  # one half bright: an edge across i
    ijk = ijk + rng.integers(0, 20, ijk.shape).astype(np.int16)
    affine = np.diag([0.7, 0.8, 3.0, 1.0])
    affine[:3, 3] = (-10, 20, 5)
    img = nibabel.Nifti1Image(ijk, affine)
    img.header.set_slope_inter(1.0, -1024.0)
    img.header.set_xyzt_units("mm")
    (tmp_path / "scans").mkdir()
    nibabel.save(img, tmp_path / "scans" / "ct.nii.gz")
    nibabel.save(nibabel.Nifti1Image(np.zeros((4, 4, 4, 3), np.float32), np.eye(4)), tmp_path / "scans" / "series.nii")
    out = tmp_path / "out"
    assert main(["segment", str(tmp_path / "scans"), "-k", "40", "-o", str(out), "--volume", "-q"]) == 2  # the series fails alone
    assert "one 3-D volume" in capsys.readouterr().err
    labels = np.load(out / "ct_labels.npy")
    assert labels.shape == (12, 28, 30)  # (Z, Y, X) = (k, j, i)
    record = json.loads((out / "ct_labels.json").read_text())
    assert record["spacing_used"] == [3.0, 0.8, 0.7] and record["spacing_unit"] == "mm"
    back = nibabel.load(out / "ct_labels.nii.gz")
    np.testing.assert_allclose(back.affine, affine)
    np.testing.assert_array_equal(np.asanyarray(back.dataobj), labels.transpose(2, 1, 0))
    lab_ijk = np.asanyarray(back.dataobj)
    assert not set(np.unique(lab_ijk[:15])) & set(np.unique(lab_ijk[15:]))  # the edge is followed
    assert not (out / "series_labels.npy").exists()


def test_nifti_labels_header_grid_check_and_nan_voxels(tmp_path, capsys):
    import nibabel

    from lnsnet.cli import main
    from lnsnet.io import read_nifti, save_nifti_labels

    rng = np.random.default_rng(1)
    vol = rng.random((20, 18, 10)).astype(np.float32)
    vol[:3] = np.nan  # a resampled scan's padding
    img = nibabel.Nifti1Image(vol, np.diag([-0.7, -0.7, 3.0, 1.0]))
    img.header["cal_min"], img.header["cal_max"] = -1024, 2000
    nibabel.save(img, tmp_path / "mr.nii.gz")
    out = tmp_path / "out"
    assert main(["segment", str(tmp_path / "mr.nii.gz"), "-k", "30", "-o", str(out), "--volume", "--features"]) == 0
    cap = capsys.readouterr()
    assert "NaN or infinite voxel(s) left out" in cap.err and "mr_labels.nii.gz" in cap.out
    lab = np.asanyarray(nibabel.load(out / "mr_labels.nii.gz").dataobj)
    assert (lab[:3] == 0).all() and (lab[3:] > 0).all()  # i < 3: the NaN voxels
    import csv

    table = list(csv.DictReader(open(out / "mr_regions.csv")))  # per supervoxel, volume in mm^3 (the NaN voxels out)
    assert len(table) == lab.max() and "centroid-2" in table[0] and "bbox-5" in table[0]
    assert sum(float(r["area"]) for r in table) == pytest.approx(17 * 18 * 10 * 0.7 * 0.7 * 3.0)  # the finite voxels
    hdr = nibabel.load(out / "mr_labels.nii.gz").header
    assert hdr.get_intent()[0] == "label" and hdr["cal_min"] == 0 and hdr["cal_max"] == lab.max()
    v, sp, scan = read_nifti(tmp_path / "mr.nii.gz")
    with pytest.raises(ValueError, match="do not lie on this scan's grid"):
        save_nifti_labels(tmp_path / "x.nii.gz", np.zeros((20, 18, 10), np.int32), scan)  # (i, j, k): transposed
    # a rerun with -o the input folder: lnsnet's own outputs are not inputs
    (tmp_path / "s").mkdir()
    nibabel.save(img, tmp_path / "s" / "mr.nii.gz")
    for _ in range(2):
        assert main(["segment", str(tmp_path / "s"), "-k", "30", "-o", str(tmp_path / "s"), "--volume", "-q"]) == 0
    (tmp_path / "s" / "mr_labels.nii.gz").unlink()  # a missing NIfTI output: redone
    assert main(["segment", str(tmp_path / "s" / "mr.nii.gz"), "-k", "30", "-o", str(tmp_path / "s"), "--volume", "-q"]) == 0
    assert (tmp_path / "s" / "mr_labels.nii.gz").exists()


def test_a_nifti_slice_is_an_image_and_refused_as_a_volume(tmp_path, capsys):
    import nibabel

    from lnsnet.cli import main
    from lnsnet.io import read_image

    xy = np.zeros((40, 30), np.float32)
    xy[20:] = 1.0  # i >= 20 bright
    nibabel.save(nibabel.Nifti1Image(xy, np.eye(4)), tmp_path / "s.nii.gz")
    img = read_image(tmp_path / "s.nii.gz")
    assert img.shape == (30, 40) and (img[:, 20:] == 1).all() and (img[:, :20] == 0).all()  # (Y, X) = (j, i)
    assert main(["segment", str(tmp_path / "s.nii.gz"), "-k", "10", "-o", str(tmp_path / "o"), "--volume", "-q"]) == 2
    assert "segment it as an image" in capsys.readouterr().err
    assert main(["segment", str(tmp_path / "s.nii.gz"), "-k", "10", "-o", str(tmp_path / "o"), "-q"]) == 0
    assert np.load(tmp_path / "o" / "s_labels.npy").shape == (30, 40)


@pytest.mark.parametrize("third", [False, True], ids=["XY", "XY1"])
def test_a_nifti_slice_gets_its_labels_on_its_grid_and_its_pixel_size(tmp_path, third):
    """A one-slice NIfTI segmented as an image gets NAME_labels.nii.gz with the scan's affine
    and shape, as a volume does, and its superpixels use the header's pixel size: with
    pixels 4 times as long in x (i) as in y (j), a square of 24 x 96 pixels holds about as
    many superpixels along each axis of the pixels' grid only when spacing is ignored."""
    import json

    import nibabel

    from lnsnet.cli import main

    rng = np.random.default_rng(0)
    xy = (rng.random((24, 96)) * 40).astype(np.int16)  # (i, j): 24 columns of x, 96 rows of y
    xy[12:] += 400  # i >= 12 bright: one boundary at x = 12
    affine = np.diag([4.0, 1.0, 3.0, 1.0])
    affine[:3, 3] = (7.0, -2.0, 5.0)
    data = xy[:, :, None] if third else xy
    nibabel.save(nibabel.Nifti1Image(data, affine), tmp_path / "s.nii.gz")
    assert main(["segment", str(tmp_path / "s.nii.gz"), "-k", "24", "-o", str(tmp_path / "o"), "-q"]) == 0
    labels = np.load(tmp_path / "o" / "s_labels.npy")
    assert labels.shape == (96, 24)  # (Y, X) = (j, i)
    out = nibabel.load(tmp_path / "o" / "s_labels.nii.gz")
    assert out.shape == data.shape and np.allclose(out.affine, affine)
    assert (np.asarray(out.dataobj).reshape(24, 96).T == labels).all()
    assert not set(np.unique(labels[:, :12])) & set(np.unique(labels[:, 12:]))  # the boundary at x = 12 kept
    assert json.loads((tmp_path / "o" / "s_labels.json").read_text())["spacing_used"] == [1.0, 4.0]
    # physically 96 x 96: about as many superpixels across x (24 pixels) as down y (96)
    across = np.mean([len(np.unique(labels[r])) for r in range(0, 96, 8)])
    down = np.mean([len(np.unique(labels[:, c])) for c in range(0, 24, 4)])
    assert 0.75 < across / down < 1.4, (across, down)  # 0.55 with the pixel size ignored


def test_a_nifti2_scan_gets_nifti2_labels(tmp_path, capsys):
    import nibabel

    from lnsnet.io import read_nifti, save_nifti_labels

    nibabel.save(nibabel.Nifti2Image(np.random.default_rng(2).random((12, 10, 6)).astype(np.float32),
                                     np.diag([0.5, 0.5, 2.0, 1.0])), tmp_path / "n2.nii")
    vol, sp, scan = read_nifti(tmp_path / "n2.nii")
    assert vol.shape == (6, 10, 12) and sp == (2.0, 0.5, 0.5)
    save_nifti_labels(tmp_path / "l.nii.gz", np.ones(vol.shape, np.int32), scan)
    back = nibabel.load(tmp_path / "l.nii.gz")
    assert isinstance(back, nibabel.Nifti2Image) and back.shape == (12, 10, 6)
    assert "sizeof_hdr" not in capsys.readouterr().err


def test_ome_units_of_each_axis(tmp_path):
    """OME gives each axis its own unit (micrometres by default): a z step in nm beside x
    and y in µm is converted (it was taken as 2000 against 0.5); an unknown unit is no
    voxel size."""
    import tifffile

    from lnsnet.io import read_volume

    v = np.zeros((4, 8, 8), np.uint8)
    meta = {"axes": "ZYX", "PhysicalSizeZ": 2000, "PhysicalSizeZUnit": "nm", "PhysicalSizeY": 0.5,
            "PhysicalSizeYUnit": "µm", "PhysicalSizeX": 0.25}
    tifffile.imwrite(tmp_path / "a.ome.tif", v, ome=True, metadata=meta)
    assert read_volume(tmp_path / "a.ome.tif")[1] == pytest.approx((2.0, 0.5, 0.25))
    tifffile.imwrite(tmp_path / "b.ome.tif", v, ome=True, metadata={**meta, "PhysicalSizeZUnit": "furlong"})
    assert read_volume(tmp_path / "b.ome.tif")[1] is None


def test_few_supervoxels_are_noticed(tmp_path, capsys):
    """Far fewer supervoxels than K get the notice 2-D images get, naming why: a volume of
    fewer voxels than K; a voxel size far from cubic is named as a possible mistake."""
    from lnsnet.cli import main

    np.save(tmp_path / "v.npy", np.random.default_rng(0).random((4, 6, 6)).astype(np.float32))
    for extra in ([], ["--boundaries", "bright"]):
        out = tmp_path / f"o{len(extra)}"
        assert main(["segment", str(tmp_path / "v.npy"), "-k", "1000", "-o", str(out), "--volume", *extra]) == 0
        captured = capsys.readouterr()
        k = len(np.unique(np.load(out / "v_labels.npy")))
        assert k == 144 and "144 supervoxels delivered for K=1000" in captured.err
        assert "the volume has 144 voxels, one supervoxel each\n" in captured.err  # no voxel size blamed
        assert f"{k} supervoxels (K=1000)" in captured.out
        assert main(["segment", str(tmp_path / "v.npy"), "-k", "1000", "-o", str(out), "--volume", "--overwrite",
                     "--spacing", "2000,0.5,0.5", *extra]) == 0
        assert "is the voxel size right? --spacing dz,dy,dx" in capsys.readouterr().err


def test_a_missing_model_file_is_named_as_missing(tmp_path):
    """A volume's model file that does not exist: 'not found', not 'not a 3-D model'; the
    same FileNotFoundError as an image's (it was a ValueError for volumes only)."""
    for shape, axis in (((4, 8, 8), None), ((8, 8, 3), -1)):
        with pytest.raises(FileNotFoundError, match="model file not found|no file at"):
            lnsnet.segment(np.zeros(shape, np.float32), 4, channel_axis=axis, model=str(tmp_path / "no.pt"))
    with pytest.raises(ValueError, match="not a 3-D model"):  # a shipped 2-D name keeps its message
        lnsnet.segment(np.zeros((4, 8, 8), np.float32), 4, channel_axis=None, model="bsds500")


def test_label_tiff_above_16_bits_keeps_axes_and_voxel_size(tmp_path):
    """Above 65,535 supervoxels the 3-D label TIFF is an OME-TIFF (ImageJ has no 32-bit
    integers): its axes and voxel size are kept, and it reads back as written."""
    import tifffile

    from lnsnet.io import read_volume, save_labels

    lab = np.arange(4 * 130 * 130, dtype=np.int32).reshape(4, 130, 130) + 1  # 67,600 labels
    written = save_labels(tmp_path / "v_labels", lab, spacing=(2.0, 0.5, 0.25))
    tif = next(p for p in written if p.suffix == ".tif")
    with tifffile.TiffFile(tif) as t:
        assert t.is_ome and t.series[0].axes == "ZYX"
    back, spacing = read_volume(tif, max_voxels=None)
    np.testing.assert_array_equal(back, lab)
    assert spacing == pytest.approx((2.0, 0.5, 0.25))


def test_imagej_stack_with_xy_calibration_and_no_z_step(tmp_path, capsys):
    """An ImageJ stack calibrated in x and y without a z step: x, y as recorded and z 1
    (ImageJ's voxel depth), with a notice saying so (it was 1, 1, 1)."""
    import tifffile

    from lnsnet.cli import main
    from lnsnet.io import read_volume

    v = (np.random.default_rng(0).random((6, 24, 24)) * 255).astype(np.uint8)
    tifffile.imwrite(tmp_path / "xy.tif", v, imagej=True, resolution=(2.0, 4.0), metadata={"unit": "um", "axes": "ZYX"})
    _, spacing = read_volume(tmp_path / "xy.tif")
    assert tuple(spacing) == pytest.approx((1.0, 0.25, 0.5)) and "no z spacing" in spacing.note
    tifffile.imwrite(tmp_path / "plain.tif", v, imagej=True, metadata={"axes": "ZYX"})  # no calibration: none
    assert read_volume(tmp_path / "plain.tif")[1] is None
    assert main(["segment", str(tmp_path / "xy.tif"), "-k", "20", "-o", str(tmp_path / "o"), "--volume"]) == 0
    assert "no z spacing recorded" in capsys.readouterr().err
    import json

    assert json.loads((tmp_path / "o" / "xy_labels.json").read_text())["spacing_used"] == pytest.approx([1.0, 0.25, 0.5])


def test_label_tiff_carries_the_unit(tmp_path):
    """The labels' TIFF names the unit of the stack it overlays (ImageJ's 'unit'; OME's
    PhysicalSize*Unit above 16 bits); a voxel size given by the user (--spacing) is in that
    unit too."""
    import tifffile

    from lnsnet.cli import main

    v = (np.random.default_rng(1).random((4, 20, 20)) * 255).astype(np.uint8)
    tifffile.imwrite(tmp_path / "s.tif", v, imagej=True, resolution=(2.0, 2.0),
                     metadata={"unit": "micron", "spacing": 3.0, "axes": "ZYX"})
    assert main(["segment", str(tmp_path / "s.tif"), "-k", "10", "-o", str(tmp_path / "o"), "--volume", "-q"]) == 0
    with tifffile.TiffFile(tmp_path / "o" / "s_labels.tif") as t:
        assert t.imagej_metadata["unit"] == "micron" and t.imagej_metadata["spacing"] == pytest.approx(3.0)
    assert main(["segment", str(tmp_path / "s.tif"), "-k", "10", "-o", str(tmp_path / "o2"), "--volume", "-q",
                 "--spacing", "3,0.5,0.5"]) == 0
    with tifffile.TiffFile(tmp_path / "o2" / "s_labels.tif") as t:
        assert t.imagej_metadata["unit"] == "micron" and t.imagej_metadata["spacing"] == pytest.approx(3.0)
    from lnsnet.io import VoxelSize, save_labels

    lab = np.arange(4 * 130 * 130, dtype=np.int32).reshape(4, 130, 130) + 1
    tif = next(p for p in save_labels(tmp_path / "big", lab, spacing=VoxelSize((2.0, 0.5, 0.5), unit="nm"))
               if p.suffix == ".tif")
    with tifffile.TiffFile(tif) as t:
        assert 'PhysicalSizeZUnit="nm"' in t.ome_metadata


def test_equal_distances_go_to_the_lowest_seed_number():
    """The assignment tries the voxel's own cell first (to rule out seeds early), but of
    equal distances keeps the lowest seed number, as the torch rounds do."""
    from lnsnet.volume import _assign3

    f = np.zeros((1, 1, 4, 1), np.float32)  # flat: only the positions count
    cells = np.array([1, 1, 2], np.int64)  # voxels 0-1 in cell 0, 2-3 in cell 1
    seed_f = np.zeros((2, 1))
    seed_p = np.array([[0.0, 0.0, 0.5], [0.0, 0.0, 3.5]])  # voxel 2 is 1.5 from either seed
    labels = np.empty((1, 1, 4), np.int32)
    _assign3(f, 0, np.ones((1, 1, 4), np.float32), np.ones((1, 1, 4), bool), True, cells, seed_f, seed_p,
             np.ones(3), 1.0, 1.0, labels)
    assert labels.ravel().tolist() == [0, 0, 0, 1]  # voxel 2 (own cell 1) ties and goes to seed 0
    seed_p[1, 2] = 3.4  # now seed 1 is nearer to voxel 2
    _assign3(f, 0, np.ones((1, 1, 4), np.float32), np.ones((1, 1, 4), bool), True, cells, seed_f, seed_p,
             np.ones(3), 1.0, 1.0, labels)
    assert labels.ravel().tolist() == [0, 0, 1, 1]


def test_an_ome_tiff_in_micrometres_gets_its_labels_tiff(tmp_path, capsys):
    """OME's default unit is µm, which ImageJ's ASCII metadata cannot hold: every OME-TIFF
    stack with a voxel size failed to write its labels (UnicodeEncodeError). Now written as
    ImageJ's 'micron'; an OME-TIFF with x and y sizes only gets z 1 with a notice."""
    import tifffile

    from lnsnet.cli import main

    v = (np.random.default_rng(0).random((8, 32, 32)) * 255).astype(np.uint8)
    tifffile.imwrite(tmp_path / "full.ome.tif", v,
                     metadata={"axes": "ZYX", "PhysicalSizeX": 0.2, "PhysicalSizeY": 0.2, "PhysicalSizeZ": 1.5})
    tifffile.imwrite(tmp_path / "xy.ome.tif", v, metadata={"axes": "ZYX", "PhysicalSizeX": 0.2, "PhysicalSizeY": 0.2})
    out = tmp_path / "out"
    assert main(["segment", str(tmp_path / "full.ome.tif"), str(tmp_path / "xy.ome.tif"), "-k", "20", "-o", str(out),
                 "--volume"]) == 0
    assert "xy.ome.tif: no PhysicalSizeZ recorded: z 1" in capsys.readouterr().err
    for name, dz in (("full", 1.5), ("xy", 1.0)):
        with tifffile.TiffFile(out / f"{name}_labels.tif") as t:  # NAME.ome.tif -> NAME_labels.tif
            assert t.imagej_metadata["unit"] == "micron" and t.imagej_metadata["spacing"] == pytest.approx(dz)
            num, den = t.pages[0].tags["XResolution"].value
            assert den / num == pytest.approx(0.2)


def test_voxel_sizes_as_fiji_and_medical_tools_write_them(tmp_path):
    """ImageJ's per-axis units (Fiji writes zunit / yunit when an axis has its own), a NIfTI's
    zooms at their float32 precision in any unit, an LZW stack without imagecodecs, and an
    (H, W, 3) .npy refused as a volume."""
    import tifffile
    from PIL import Image

    from lnsnet.io import read_volume

    vol = (np.arange(16 * 24 * 24) % 251).astype(np.uint8).reshape(16, 24, 24)
    tifffile.imwrite(tmp_path / "zunit.tif", vol, imagej=True, resolution=(1 / 100, 1 / 100),
                     metadata={"axes": "ZYX", "spacing": 0.5, "unit": "nm", "zunit": "micron"})
    _, sp = read_volume(tmp_path / "zunit.tif")
    assert sp == pytest.approx((500.0, 100.0, 100.0)) and sp.unit == "nm" and "converted" in sp.note
    tifffile.imwrite(tmp_path / "odd.tif", vol, imagej=True, resolution=(1 / 100, 1 / 100),
                     metadata={"axes": "ZYX", "spacing": 0.5, "unit": "nm", "zunit": "furlong"})
    _, sp = read_volume(tmp_path / "odd.tif")
    assert sp == pytest.approx((0.5, 100.0, 100.0)) and "not converted" in sp.note

    nib = pytest.importorskip("nibabel")
    img = nib.Nifti1Image(vol.transpose(2, 1, 0).astype(np.int16), np.diag([2e-7, 2e-7, 5e-7, 1]))
    img.header.set_xyzt_units("meter")
    nib.save(img, tmp_path / "em.nii.gz")
    img = nib.Nifti1Image(vol.transpose(2, 1, 0).astype(np.int16), np.diag([0.7, 8.3e-6, 8.3e-6, 1]))
    img.header.set_xyzt_units("mm")
    nib.save(img, tmp_path / "fine.nii.gz")
    _, sp = read_volume(tmp_path / "em.nii.gz")
    assert sp == pytest.approx((5e-7, 2e-7, 2e-7), rel=1e-6) and sp.unit == "m"
    _, sp = read_volume(tmp_path / "fine.nii.gz")
    assert sp == pytest.approx((8.3e-6, 8.3e-6, 0.7), rel=1e-6) and sp.unit == "mm"

    frames = [Image.fromarray(plane) for plane in vol]
    frames[0].save(tmp_path / "lzw.tif", save_all=True, append_images=frames[1:], compression="tiff_lzw")
    got, _ = read_volume(tmp_path / "lzw.tif")
    assert np.array_equal(got, vol)

    np.save(tmp_path / "photo.npy", np.zeros((96, 128, 3), np.uint8))
    with pytest.raises(ValueError, match="colour channels"):
        read_volume(tmp_path / "photo.npy")


def test_the_32_bit_labels_tiff_names_its_unit(tmp_path):
    """Above 65,535 labels the labels are an OME-TIFF: its sizes carry their unit (none given
    reads as µm in OME), a NIfTI's mm as mm, an unknown unit as pixel."""
    import tifffile

    from lnsnet.io import VoxelSize, save_labels

    lab = np.arange(2 * 300 * 200, dtype=np.int32).reshape(2, 300, 200)
    for unit, want in (("mm", "mm"), ("", "pixel"), ("micron", "µm"), ("\u03bcm", "µm")):
        tif = next(p for p in save_labels(tmp_path / f"l{want}{len(unit)}", lab,
                                          spacing=VoxelSize((2.0, 0.5, 0.5), unit=unit)) if str(p).endswith(".tif"))
        with tifffile.TiffFile(tif) as t:
            assert f'PhysicalSizeXUnit="{want}"' in t.ome_metadata and 'PhysicalSizeZ="2.0"' in t.ome_metadata


def _slab_cases():
    from scipy import ndimage

    rng = np.random.default_rng(3)
    base = ndimage.gaussian_filter(rng.random((11, 17, 19)), 1.5)
    base = (base - base.min()) / (base.max() - base.min())
    mask = np.zeros(base.shape, bool)
    mask[2:9, 3:15, 1:17] = True
    u8 = (base * 255).astype(np.uint8)
    return [
        ("uint8", u8, dict(n_segments=40)),
        ("stretched float, spacing", (base * 5 - 1).astype(np.float32), dict(n_segments=25, spacing=(2.0, 1.0, 0.5))),
        ("channels on axis 1, mask", np.stack([u8, 255 - u8, u8 // 3], axis=1), dict(n_segments=30, channel_axis=1, mask=mask)),
        ("float in [0, 1], no connectivity", base.astype(np.float32), dict(n_segments=50, enforce_connectivity=False)),
    ]


@pytest.mark.parametrize("name,vol,kw", _slab_cases(), ids=[c[0] for c in _slab_cases()])
@pytest.mark.parametrize("slab_voxels", [1, 3 * 17 * 19 + 5])
def test_features_made_slab_by_slab_give_the_same_supervoxels(monkeypatch, name, vol, kw, slab_voxels):
    """A volume whose features exceed FEATURES_CACHE_BYTES is read slab by slab (its features
    made again for every pass, bounded memory): the supervoxels equal those of the features
    kept whole, with slabs of one plane and of three planes (the last one shorter)."""
    import lnsnet.volume as V

    whole = V.segment_volume(vol, **kw)
    monkeypatch.setattr(V, "FEATURES_CACHE_BYTES", 0)
    monkeypatch.setattr(V, "SLAB_VOXELS", slab_voxels)
    src = V._Features(V._as_volume(vol, kw.get("channel_axis")), kw.get("mask"))
    assert src.whole is None and len(src.bounds) == (11 if slab_voxels == 1 else 4)
    np.testing.assert_array_equal(V.segment_volume(vol, **kw), whole)


def test_a_mask_sees_the_same_edges_however_much_volume_lies_outside_it():
    """The edge weights inside a mask are those of the masked part alone: a noise box padded
    by 3 or 10 voxels outside the mask has the weights of the box by itself, and about K
    supervoxels. Until 2026-12-06 the zero steps outside the mask lowered the edge
    reference, so the weights fell towards 0 as the padding grew (the spatial term off): 20^3
    voxels padded by 30 gave 198 supervoxels for K = 100, from 6,327 pieces."""
    import lnsnet.volume as V

    box = np.random.default_rng(0).normal(size=(12, 12, 12)).astype(np.float32)
    w_box = V.edge_weights_3d(V._features(box[..., None], None), 1.0)
    k_box = len(np.unique(lnsnet.segment(box, 50, channel_axis=None)))
    for pad in (3, 10):
        v, m = np.pad(box, pad), np.pad(np.ones(box.shape, bool), pad)
        w = V.edge_weights_3d(V._features(v[..., None], m), 1.0, m)
        np.testing.assert_allclose(w[m].reshape(box.shape), w_box, rtol=1e-5)
        labels = lnsnet.segment(v, 50, channel_axis=None, mask=m)
        assert abs(len(np.unique(labels[m])) - k_box) <= 0.2 * k_box, (pad, len(np.unique(labels[m])), k_box)


def test_supervoxels_are_capped_at_a_tenth_over_the_seeds_as_in_2d():
    """A CT-like volume (a noisy body at 40, air at -1000): clusters across the body's edge
    fall into two large pieces, both kept: 41 supervoxels for K = 25, 141 for K = 100. Now
    at most 1.1 times the seeds, the smallest pieces past that merged into their closest
    neighbour; every one still 6-connected."""
    from scipy import ndimage

    import lnsnet.volume as V

    rng = np.random.default_rng(0)
    z, y, x = np.mgrid[:24, :80, :96]
    body = ((y - 40) / 35) ** 2 + ((x - 48) / 44) ** 2 < 1
    ct = np.where(body, 40, -1000).astype(np.float32) + rng.normal(0, 15, body.shape).astype(np.float32)
    sp = (3.0, 0.7, 0.7)
    for k in (25, 100):
        cells, _ = V.volume_grid(ct.shape, k, sp)
        labels = lnsnet.segment(ct, k, channel_axis=None, spacing=sp)
        assert labels.max() <= round(1.1 * np.prod(cells)), (k, labels.max(), cells)
        assert all(ndimage.label(labels == i)[1] == 1 for i in range(1, labels.max() + 1))
    # with a mask the cap counts the seeds that have voxels in it (it counted every cell of the grid)
    mask = np.zeros(ct.shape, bool)
    mask[:, :40, :48] = True
    src = V._Features(ct[..., None], mask)
    cells, _ = V._mask_volume_grid(mask, 25, sp)
    n = int(np.prod(cells))
    active = V._cell_seeds(src, np.empty(ct.shape, np.int32), np.array(cells), mask, True,
                           np.zeros((n, src.nch)), np.full((n, 3), -1.0))
    labels = lnsnet.segment(ct, 25, channel_axis=None, spacing=sp, mask=mask)
    assert len(np.unique(labels[mask])) <= round(1.1 * active) < n, (len(np.unique(labels[mask])), active, n)


def test_a_3d_models_features_above_the_cache_are_standardised_in_float16(monkeypatch):
    """A model's features that would take more than FEATURES_CACHE_BYTES in float32 are kept
    standardised in float16, their statistics gathered slab by slab (inside the mask): the
    same features as the whole float32 path to float16's precision, and the supervoxels of
    that path but for near-ties."""
    import lnsnet.volume as V
    from lnsnet.volume_model import VolumeConfig, VolumeNet

    net = VolumeNet(VolumeConfig(train_segments=64), seed=0)
    vol, _ = _octants((14, 16, 18), noise=0.05)
    v4, sp = vol[..., None], (1.0, 1.0, 1.0)
    mask = np.ones(vol.shape, bool)
    mask[:, :, :4] = False
    whole = V._model_features(net, v4, mask, sp)
    labels = lnsnet.segment(vol, 30, channel_axis=None, model=net, mask=mask)
    monkeypatch.setattr(V, "FEATURES_CACHE_BYTES", 0)
    monkeypatch.setattr(V, "SLAB_VOXELS", 16 * 18 * 3)  # slabs of 4 planes (the least) for the network
    small = V._model_features(net, v4, mask, sp)
    assert whole.dtype == np.float32 and small.dtype == np.float16
    np.testing.assert_allclose(small[mask].astype(np.float32), whole[mask], atol=4e-3, rtol=2e-3)
    inside = small[mask].astype(np.float64)  # standardised inside the mask, by hand
    np.testing.assert_allclose(inside.mean(0), 0, atol=2e-3)
    np.testing.assert_allclose(inside.std(0), 1, atol=2e-3)
    again = lnsnet.segment(vol, 30, channel_axis=None, model=net, mask=mask)
    assert (again == labels).mean() > 0.99


def test_slab_features_and_statistics_by_hand(monkeypatch):
    """The features of a slab: uint8 / 255, standardised over the volume (inside the mask;
    0 outside it), the statistics gathered slab by slab."""
    import lnsnet.volume as V

    monkeypatch.setattr(V, "FEATURES_CACHE_BYTES", 0)
    monkeypatch.setattr(V, "SLAB_VOXELS", 2)  # one 1x2 plane a slab
    vol = np.array([0, 51, 102, 153, 204, 255], np.uint8).reshape(3, 1, 2, 1)  # 0, 0.2, ..., 1
    src = V._Features(vol, None)
    u = np.arange(6) / 5.0
    z = (u - u.mean()) / u.std()
    np.testing.assert_allclose(src.slab(1, 3).ravel(), z[2:], rtol=1e-6)
    mask = np.array([True, True, True, True, False, False]).reshape(3, 1, 2)
    src = V._Features(vol, mask)
    u4 = u[:4]
    np.testing.assert_allclose(src.slab(0, 3).ravel(), np.r_[(u4 - u4.mean()) / u4.std(), 0, 0], rtol=1e-6)
    # and the edge weights read each slab with the planes beside it: as from the whole
    w = V.edge_weights_3d(src, 1.0)
    np.testing.assert_array_equal(w, V.edge_weights_3d(src.make(0, 3), 1.0))


def test_a_one_slice_nifti_is_refused_as_a_volume_in_one_line(tmp_path, capsys):
    """A NIfTI of one slice saved as (X, Y, 1) (as most tools write a 2-D scan) is refused by
    --volume as (X, Y) is, alone or in a folder: one line saying what the file is and what
    to do (it was segmented as a volume one slice thick); without --volume it is an image."""
    import nibabel

    from lnsnet.cli import main

    (tmp_path / "scans").mkdir()
    xy = np.random.default_rng(3).random((40, 30)).astype(np.float32)
    nibabel.save(nibabel.Nifti1Image(xy[:, :, None], np.eye(4)), tmp_path / "scans" / "s.nii.gz")
    for source in (tmp_path / "scans" / "s.nii.gz", tmp_path / "scans"):
        assert main(["segment", str(source), "-k", "10", "-o", str(tmp_path / "o"), "--volume", "-q"]) == 2
        (line,) = [x for x in capsys.readouterr().err.splitlines() if x.startswith("error:")]
        assert str(tmp_path / "scans" / "s.nii.gz") in line and "one slice (shape (40, 30, 1))" in line
        assert line.endswith("segment it as an image, without --volume")
        assert not (tmp_path / "o" / "s_labels.npy").exists()
    assert main(["segment", str(tmp_path / "scans" / "s.nii.gz"), "-k", "10", "-o", str(tmp_path / "o"), "-q"]) == 0
    assert np.load(tmp_path / "o" / "s_labels.npy").shape == (30, 40)


@pytest.mark.parametrize("shape", [(20, 16, 8, 1, 3), (20, 16, 8, 4)], ids=["vector", "series"])
def test_a_nifti_of_more_than_3_axes_is_refused_saying_how_to_get_a_volume(tmp_path, capsys, shape):
    """A 5-D NIfTI (a vector per voxel) or a 4-D series: one line naming the shape, what
    lnsnet reads and how to save a 3-D volume out of it; the way it names works."""
    import nibabel

    from lnsnet.cli import main

    path = tmp_path / "v.nii.gz"
    nibabel.save(nibabel.Nifti1Image(np.random.default_rng(4).random(shape).astype(np.float32), np.eye(4)), path)
    assert main(["segment", str(path), "-k", "10", "-o", str(tmp_path / "o"), "--volume", "-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and str(path) in err and f"shape {shape}" in err
    assert "one 3-D volume (X, Y, Z)" in err and "4-D TIFF or .npy" in err
    how = "slicer[:, :, :, 0, c] for c = 0 .. 2" if len(shape) == 5 else "slicer[:, :, :, t] for t = 0 .. 3"
    assert how in err
    one = nibabel.load(path).slicer[(slice(None),) * 3 + ((0, 1) if len(shape) == 5 else (1,))]  # as the line says
    nibabel.save(one, tmp_path / "one.nii.gz")
    assert main(["segment", str(tmp_path / "one.nii.gz"), "-k", "10", "-o", str(tmp_path / "o"), "--volume", "-q"]) == 0
    assert np.load(tmp_path / "o" / "one_labels.npy").shape == (8, 16, 20)


def test_spacing_given_keeps_the_unit_the_file_records(tmp_path, capsys):
    """--spacing of a volume is in the unit its file records (the help says so): the labels'
    TIFF has the given voxel size in the file's unit (it lost the unit: µm or mm stacks got
    labels without one); files of different units cannot share one --spacing."""
    import nibabel
    import tifffile

    from lnsnet.cli import main

    vol = (np.random.default_rng(5).random((6, 24, 24)) * 255).astype(np.uint8)
    tifffile.imwrite(tmp_path / "ij.tif", vol, imagej=True, resolution=(2.0, 2.0),
                     metadata={"spacing": 2.0, "unit": "um", "axes": "ZYX"})
    scan = nibabel.Nifti1Image(vol.transpose(2, 1, 0).astype(np.float32), np.diag([0.5, 0.5, 2.0, 1.0]))
    scan.header.set_xyzt_units("mm")
    nibabel.save(scan, tmp_path / "mm.nii.gz")
    for name, unit in (("ij.tif", "micron"), ("mm.nii.gz", "mm")):
        out = tmp_path / f"o_{unit}"
        assert main(["segment", str(tmp_path / name), "-k", "20", "-o", str(out), "--volume", "-q",
                     "--spacing", "3,0.25,0.25"]) == 0
        with tifffile.TiffFile(out / f"{name.split('.')[0]}_labels.tif") as tif:
            meta = tif.imagej_metadata
            xres = tif.pages[0].tags["XResolution"].value
        assert meta["spacing"] == 3.0 and meta.get("unit") == unit and xres[0] / xres[1] == 4.0
    assert main(["segment", str(tmp_path / "ij.tif"), str(tmp_path / "mm.nii.gz"), "-k", "20", "-o",
                 str(tmp_path / "both"), "--volume", "-q", "--spacing", "3,0.25,0.25"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "different ones (µm in" in err and "mm in" in err
    assert not (tmp_path / "both").exists() or not any((tmp_path / "both").iterdir())
    from lnsnet.io import volume_unit  # the files' units as OME names them, from their headers

    assert volume_unit(tmp_path / "ij.tif") == "µm" and volume_unit(tmp_path / "mm.nii.gz") == "mm"
    assert volume_unit(tmp_path / "o_mm" / "mm_labels.npy") == ""


def test_a_large_volume_shows_its_passes(monkeypatch, capsys):
    """segment(volume, progress=True) shows a bar of the passes over a volume of at least
    SLAB_VOXELS voxels (statistics, edge weights, 11 seed rounds, connectivity: 14); a smaller
    one, or progress=False, shows none."""
    import lnsnet.volume as V

    vol = _slab_cases()[0][1]
    lnsnet.segment(vol, 20, channel_axis=None, progress=True)
    assert "pass" not in capsys.readouterr().err  # below SLAB_VOXELS
    monkeypatch.setattr(V, "SLAB_VOXELS", vol.size)
    lnsnet.segment(vol, 20, channel_axis=None)
    assert "pass" not in capsys.readouterr().err
    lnsnet.segment(vol, 20, channel_axis=None, progress=True)
    err = capsys.readouterr().err
    assert "lnsnet 11x17x19" in err and "/14 " in err  # 14 passes


def test_nan_voxels_are_refused_naming_the_mask_to_pass_and_the_torch_path_takes_a_mask_quietly():
    """The finiteness check runs slab by slab; its message names the mask that fits the
    volume as given (a gray one has no channel axis to reduce). The torch seed rounds take
    a mask without torch's warning about a read-only array."""
    import warnings

    import lnsnet.volume as V

    vol = _slab_cases()[1][1].copy()
    vol[9, 3, 4] = np.nan
    with pytest.raises(ValueError, match=r"mask=np\.isfinite\(volume\)\)$"):
        V.segment_volume(vol, 20)
    with pytest.raises(ValueError, match=r"mask=np\.isfinite\(volume\)\.all\(axis=-1\)\)$"):
        V.segment_volume(np.stack([vol, vol], -1), 20, channel_axis=-1)
    labels = V.segment_volume(vol, 20, mask=np.isfinite(vol))
    assert labels[9, 3, 4] == 0 and labels.min() == 0 and labels.max() > 10
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        torch_labels = V.segment_volume(vol, 20, mask=np.isfinite(vol), device="cpu")
    np.testing.assert_array_equal(torch_labels, labels)


def test_segment_progress_takes_a_callable_and_refuses_other_things():
    """progress=callable: called after each pass with (done, total), the last (total, total),
    for a volume of any size, and after each band step of an image run in bands; progress
    of another type refused with a TypeError."""
    calls = []
    vol = _slab_cases()[0][1]
    lnsnet.segment(vol, 10, channel_axis=None, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(i, 14) for i in range(1, 15)]
    calls.clear()
    image = np.random.default_rng(0).integers(0, 255, (64, 80, 3), dtype=np.uint8)
    lnsnet.segment(image, 20, tile_pixels=64 * 30, progress=lambda done, total: calls.append((done, total)))
    assert calls and calls[-1][0] == calls[-1][1] and [c[0] for c in calls] == list(range(1, len(calls) + 1))
    with pytest.raises(TypeError, match="progress must be"):
        lnsnet.segment(vol, 10, channel_axis=None, progress="yes")



def test_pages_written_one_by_one_are_z_slices_and_the_flood_reports_its_pass(tmp_path):
    """tifffile's TiffWriter.write per slice makes a series a page: read as z slices (it was
    refused as "20 stacks"), gray and RGB; series of other shapes are still refused. A
    progress callable hears the flood's one pass (it was never called)."""
    import tifffile

    from lnsnet.io import read_volume

    rng = np.random.default_rng(0)
    for vol in ((rng.random((20, 30, 40)) * 255).astype(np.uint8), (rng.random((5, 30, 40, 3)) * 255).astype(np.uint8)):
        with tifffile.TiffWriter(tmp_path / "s.tif") as w:
            for plane in vol:
                w.write(plane)
        arr, _ = read_volume(tmp_path / "s.tif")
        assert arr.shape == vol.shape and np.array_equal(arr, vol)
    with tifffile.TiffWriter(tmp_path / "m.tif") as w:
        w.write(rng.random((30, 40)).astype(np.float32))
        w.write(rng.random((20, 40)).astype(np.float32))
    with pytest.raises(ValueError, match="2 stacks"):
        read_volume(tmp_path / "m.tif")
    calls = []
    lnsnet.segment(rng.random((8, 32, 32)), 20, channel_axis=None, boundaries="bright",
                   progress=lambda done, total: calls.append((done, total)))
    assert calls == [(1, 1)]


def test_second_review_of_the_volume_changes(tmp_path):
    """A diff review's cases: an OME-TIFF of two positions is still refused (not two z
    slices); a one-slice NIfTI of square pixels records them too; a volume's
    max_size_factor is checked when connectivity is off; values near float64's limits keep
    their four levels in a volume as in an image."""
    import json

    import nibabel
    import tifffile

    from lnsnet.cli import main
    from lnsnet.io import read_volume

    rng = np.random.default_rng(0)
    with tifffile.TiffWriter(tmp_path / "pos.ome.tif", ome=True) as w:
        for _ in range(2):
            w.write((rng.random((30, 40)) * 255).astype(np.uint8), metadata={"axes": "YX"})
    with pytest.raises(ValueError, match="2 stacks"):
        read_volume(tmp_path / "pos.ome.tif")
    nibabel.save(nibabel.Nifti1Image(rng.random((30, 20)).astype(np.float32), np.diag([0.5, 0.5, 2.0, 1.0])),
                 tmp_path / "s.nii.gz")
    assert main(["segment", str(tmp_path / "s.nii.gz"), "-k", "10", "-o", str(tmp_path / "o"), "-q"]) == 0
    assert json.loads((tmp_path / "o" / "s_labels.json").read_text())["spacing_used"] == [0.5, 0.5]
    vol = rng.random((4, 10, 12))
    for bad in (-1, "x"):
        with pytest.raises(ValueError, match="max_size_factor"):
            lnsnet.segment(vol, 10, channel_axis=None, enforce_connectivity=False, max_size_factor=bad)
    v = np.zeros((4, 10, 12))
    v[..., :3], v[..., 6:9], v[..., 9:] = -1e308, 5e307, 1e308
    assert np.unique(lnsnet.volume._features(v[..., None], None)[0, 0, :, 0]).size == 4


def test_stacks_with_unnamed_channels_and_3d_models_say_what_to_do(tmp_path):
    """A microscopist's review (2026-12-06): a plain (Z, C, Y, X) TIFF was refused with "more
    than one axis of slices" and no way on; a 3-D model given to 2-D segmentation was "not an
    lnsnet model file"; a (Z, C, Y, X) array was told of axes -1 and 0 only."""
    import tifffile

    from lnsnet.io import read_volume
    from lnsnet.volume_model import VolumeTrainConfig, train_volumes

    zcyx = (np.random.default_rng(0).random((20, 2, 16, 16)) * 255).astype(np.uint8)
    tifffile.imwrite(tmp_path / "plain.tif", zcyx)
    with pytest.raises(ValueError, match=r"axis 1 \(2\) holds channels: .*channel_axis=1.*'axes': 'ZCYX'"):
        read_volume(tmp_path / "plain.tif")
    tifffile.imwrite(tmp_path / "named.tif", zcyx, metadata={"axes": "ZCYX"})  # as the message says
    assert read_volume(tmp_path / "named.tif")[0].shape == (20, 16, 16, 2)
    with pytest.raises(ValueError, match="1 for ZxCxYxX"):
        lnsnet.segment(zcyx.astype(np.float32), 10, channel_axis=None)
    train_volumes([np.random.default_rng(1).random((12, 20, 20)).astype(np.float32)], tmp_path / "m3.pt",
                  config=VolumeTrainConfig(steps=1))
    with pytest.raises(ValueError, match="is a 3-D model .*--volume"):
        lnsnet.segment(np.random.default_rng(2).random((30, 30, 3)), 10, model=tmp_path / "m3.pt")


def test_analyze_pairs_are_named_with_what_to_do(tmp_path, capsys):
    """An Analyze .hdr/.img pair (NIfTI's predecessor) is not read: read_volume says so and
    how to convert it (it said 'not a TIFF or .npy file', NIfTI left out), and a folder's
    pairs are named in a note (they were passed over in silence)."""
    from lnsnet.cli import main
    from lnsnet.io import read_volume

    (tmp_path / "scan.img").write_bytes(b"\0" * 64)
    (tmp_path / "scan.hdr").write_bytes(b"\0" * 348)
    with pytest.raises(ValueError, match=r"NIfTI \(.nii, .nii.gz\).*Analyze .hdr/.img pair.*nibabel.save"):
        read_volume(tmp_path / "scan.img")
    np.save(tmp_path / "v.npy", np.random.default_rng(0).random((6, 12, 12)).astype(np.float32))
    assert main(["segment", str(tmp_path), "--volume", "-k", "4", "-o", str(tmp_path / "out")]) == 0
    assert "Analyze .hdr/.img volume(s)" in capsys.readouterr().err and (tmp_path / "out" / "v_labels.npy").is_file()


def test_a_list_of_volumes_is_refused_before_any_warning():
    """A list of volumes with their 3 spacing values: the error says a list takes 2-D images,
    with no warning before it that the spacing's first value is ignored as for a 2-D image."""
    import warnings

    v = np.random.default_rng(0).random((6, 12, 12)).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match="a list takes 2-D images"):
            lnsnet.segment([v, v], 10, channel_axis=None, spacing=(3, 0.7, 0.7))
