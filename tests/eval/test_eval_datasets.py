"""Tests of lnsnet.eval.datasets on tiny fake datasets built in tmp_path, and on real
BSDS500 files (the full set, or the three-image set in tests/data/bsds500-mini when the full
one is not found: see tests/conftest.py)."""

import hashlib
import os
from pathlib import Path

import numpy as np
import pytest
import scipy.io
from PIL import Image

from lnsnet.eval import datasets as D



def write_bsds_mat(path: Path, segmentations) -> None:
    """Write a groundTruth .mat the way BSDS500 stores it: a 1xA cell of 1x1 structs."""
    cell = np.empty((1, len(segmentations)), dtype=object)
    for k, seg in enumerate(segmentations):
        seg = np.asarray(seg, dtype=np.uint16)
        cell[0, k] = {"Segmentation": seg, "Boundaries": np.zeros(seg.shape, np.uint8)}
    scipy.io.savemat(str(path), {"groundTruth": cell})


def write_png(path: Path, arr, mode=None) -> None:
    Image.fromarray(np.asarray(arr), mode=mode).save(path)


SEG_A = np.array([[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 3, 3]])  # labels from 1, like BSDS
SEG_B = np.array([[5, 5, 5, 5], [5, 5, 5, 5], [9, 9, 9, 9]])


@pytest.fixture
def fake_bsds(tmp_path):
    """root/images/<split>/*.jpg and root/groundTruth/<split>/*.mat, 3x4 images."""
    root = tmp_path / "bsds"
    rng = np.random.default_rng(0)
    for split, names in (("test", ["b2", "a1"]), ("val", ["v1"])):
        (root / "images" / split).mkdir(parents=True)
        (root / "groundTruth" / split).mkdir(parents=True)
        for name in names:
            img = rng.integers(0, 256, (3, 4, 3), dtype=np.uint8)
            write_png(root / "images" / split / f"{name}.jpg", img)  # JPEG by extension
            write_bsds_mat(root / "groundTruth" / split / f"{name}.mat", [SEG_A, SEG_B])
    return root


# ---------------------------------------------------------------------------------- BSDS500


def test_fake_mat_has_the_structure_of_the_real_files(tmp_path, bsds500):
    path = tmp_path / "x.mat"
    write_bsds_mat(path, [SEG_A, SEG_B])
    m = scipy.io.loadmat(str(path))
    g = m["groundTruth"]
    # the access path of the README: m['groundTruth'][0, k]['Segmentation'][0, 0]
    assert g.shape == (1, 2) and g.dtype == object
    assert g[0, 1]["Segmentation"][0, 0].dtype == np.uint16
    assert np.array_equal(g[0, 1]["Segmentation"][0, 0], SEG_B)
    assert set(g[0, 0].dtype.names) == {"Segmentation", "Boundaries"}
    # compare the layout with a real file (of the full set or the mini set)
    r = scipy.io.loadmat(str(bsds500 / "groundTruth" / "test" / "100007.mat"))["groundTruth"]
    assert r.ndim == g.ndim and r.shape[0] == 1 and r.dtype == g.dtype
    assert r[0, 0].dtype.names == g[0, 0].dtype.names
    assert r[0, 0].shape == g[0, 0].shape
    assert r[0, 0]["Segmentation"][0, 0].dtype == g[0, 0]["Segmentation"][0, 0].dtype


def test_read_bsds_ground_truth_relabels_to_zero_based_int32(tmp_path):
    path = tmp_path / "x.mat"
    write_bsds_mat(path, [SEG_A, SEG_B])
    maps = D.read_bsds500_ground_truth(path)
    # SEG_A values 1,2,3 -> 0,1,2; SEG_B values 5,9 -> 0,1
    assert [m.dtype for m in maps] == [np.int32, np.int32]
    assert np.array_equal(maps[0], SEG_A - 1)
    assert np.array_equal(maps[1], (SEG_B == 9).astype(int))


def test_bsds_dataset_fake(fake_bsds):
    ds = D.BSDS500(fake_bsds, split="test")
    assert len(ds) == 2 and ds.names == ["a1", "b2"]  # sorted by name
    s = ds[0]
    assert s.name == "a1" and s.path.name == "a1.jpg"
    assert s.image.shape == (3, 4, 3) and s.image.dtype == np.uint8
    assert len(s.ground_truths) == 2
    assert np.array_equal(s.ground_truths[0], SEG_A - 1)
    assert ds[-1].name == "b2"
    assert [x.name for x in ds] == ["a1", "b2"]  # iterable
    with pytest.raises(IndexError):
        ds[2]
    assert len(D.BSDS500(fake_bsds, split="val")) == 1


def test_bsds_root_from_env_and_release_layout(fake_bsds, tmp_path, monkeypatch):
    monkeypatch.setenv(D.BSDS500_ENV, str(fake_bsds))
    assert len(D.BSDS500(split="test")) == 2
    # the release keeps data under BSR/BSDS500/data
    nested = tmp_path / "release"
    (nested / "BSR" / "BSDS500").mkdir(parents=True)
    fake_bsds.rename(nested / "BSR" / "BSDS500" / "data")
    assert D.resolve_bsds500_root(nested) == nested / "BSR" / "BSDS500" / "data"


def test_bsds_errors_name_what_is_wrong(fake_bsds, tmp_path, monkeypatch):
    monkeypatch.delenv(D.BSDS500_ENV, raising=False)
    with pytest.raises(FileNotFoundError, match=D.BSDS500_ENV):
        D.BSDS500()
    with pytest.raises(FileNotFoundError, match="no BSDS500 data under"):
        D.BSDS500(tmp_path / "nowhere")
    with pytest.raises(ValueError, match="split must be one of"):
        D.BSDS500(fake_bsds, split="training")
    with pytest.raises(FileNotFoundError, match="no .jpg image"):
        D.BSDS500(fake_bsds, split="train")
    missing = fake_bsds / "groundTruth" / "test" / "a1.mat"
    missing.unlink()
    with pytest.raises(FileNotFoundError, match="a1.mat"):
        D.BSDS500(fake_bsds, split="test")


def test_bsds_bad_files_raise_at_read_naming_the_file(fake_bsds):
    gt_dir = fake_bsds / "groundTruth" / "test"
    (gt_dir / "a1.mat").write_bytes(b"this is not a mat file")
    scipy.io.savemat(str(gt_dir / "b2.mat"), {"something": np.zeros(3)})
    ds = D.BSDS500(fake_bsds, split="test")
    with pytest.raises(ValueError, match=r"a1\.mat"):
        ds[0]
    with pytest.raises(ValueError, match=r"b2\.mat has no variable 'groundTruth'"):
        ds[1]


def test_bsds_corrupt_image_and_shape_mismatch(fake_bsds):
    img_dir = fake_bsds / "images" / "test"
    (img_dir / "a1.jpg").write_bytes(b"\xff\xd8 broken")
    write_bsds_mat(fake_bsds / "groundTruth" / "test" / "b2.mat", [np.ones((5, 5))])
    ds = D.BSDS500(fake_bsds, split="test")
    with pytest.raises(ValueError, match=r"cannot read image .*a1\.jpg"):
        ds[0]
    with pytest.raises(ValueError, match=r"b2\.mat: annotation 0 has shape \(5, 5\)"):
        ds[1]


def test_real_bsds500_sample(bsds500, bsds500_full):
    ds = D.BSDS500(bsds500, split="test")
    assert len(ds) == (200 if bsds500_full else 3)
    s = ds[0]
    assert s.name == "100007"
    assert s.image.shape == (321, 481, 3) and s.image.dtype == np.uint8
    raw = scipy.io.loadmat(str(bsds500 / "groundTruth" / "test" / "100007.mat"))
    raw_maps = [raw["groundTruth"][0, k]["Segmentation"][0, 0]
                for k in range(raw["groundTruth"].shape[1])]
    assert len(s.ground_truths) == len(raw_maps) == 5
    for got, want in zip(s.ground_truths, raw_maps):
        assert got.dtype == np.int32 and got.shape == (321, 481)
        # BSDS labels start at 1; ours are the same partition from 0, consecutive
        assert np.array_equal(np.unique(got), np.arange(got.max() + 1))
        assert np.array_equal(got, np.unique(want, return_inverse=True)[1].reshape(want.shape))


def test_bsds500_set_in_use(bsds500, bsds500_full):
    """The tests use the full set whenever one is beside the checkout (as under .ci/run);
    the mini set only without it, and then its files are the BSDS500 originals."""
    import conftest

    if conftest.SHARED_BSDS500.is_dir() and not os.environ.get(D.BSDS500_ENV):
        assert bsds500_full and bsds500 == conftest.SHARED_BSDS500
    if bsds500_full:
        for split, n in conftest.BSDS500_COUNTS.items():
            assert len(D.BSDS500(bsds500, split=split)) == n
        return
    assert bsds500 == conftest.MINI_BSDS500
    listed = {}
    for line in (bsds500 / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split()
        listed[name] = digest
    files = sorted(str(p.relative_to(bsds500)) for p in bsds500.rglob("*") if p.suffix in (".jpg", ".mat"))
    assert files == sorted(listed) and len(files) == 6
    for name in files:
        assert hashlib.sha256((bsds500 / name).read_bytes()).hexdigest() == listed[name], name


# ------------------------------------------------------------------------------- read_image


def test_read_image_modes(tmp_path):
    gray = np.array([[0, 100], [200, 255]], np.uint8)
    write_png(tmp_path / "g.png", gray)
    out = D.read_rgb8(tmp_path / "g.png")
    assert out.shape == (2, 2, 3) and np.array_equal(out[..., 2], gray)
    rgba = np.zeros((2, 2, 4), np.uint8)
    rgba[..., 0] = 10
    rgba[..., 3] = 7
    write_png(tmp_path / "a.png", rgba)
    out = D.read_rgb8(tmp_path / "a.png")
    assert out.shape == (2, 2, 3) and (out[..., 0] == 10).all() and (out[..., 1:] == 0).all()
    g16 = np.array([[0, 257 * 100], [65535, 257]], np.uint16)
    write_png(tmp_path / "w.png", g16)
    out = D.read_rgb8(tmp_path / "w.png")
    assert out.dtype == np.uint8 and out[..., 0].tolist() == [[0, 100], [255, 1]]
    # 32-bit integer images whose values fit 8 bits are kept; float images are taken in [0, 1]
    Image.fromarray(np.array([[0, 1], [2, 255]], np.int32), mode="I").save(tmp_path / "i.tif")
    assert D.read_rgb8(tmp_path / "i.tif")[..., 1].tolist() == [[0, 1], [2, 255]]
    Image.fromarray(np.array([[0.0, 0.5], [0.25, 1.0]], np.float32), mode="F").save(tmp_path / "f.tif")
    assert D.read_rgb8(tmp_path / "f.tif")[..., 0].tolist() == [[0, 128], [64, 255]]
    with pytest.raises(FileNotFoundError, match=r"nope\.png"):
        D.read_rgb8(tmp_path / "nope.png")


# --------------------------------------------------------------------------- FolderDataset


@pytest.fixture
def folder(tmp_path):
    images = tmp_path / "images"
    labels = tmp_path / "labels"
    images.mkdir()
    labels.mkdir()
    return images, labels


def _rgb(h=3, w=4, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def test_folder_png_npy_and_colour_labels(folder):
    images, labels = folder
    for name in ("p", "n", "c", "s", "m"):
        write_png(images / f"{name}.png", _rgb())
    write_png(labels / "p.png", np.array([[10, 10, 20, 20]] * 3, np.uint8))  # gray values
    np.save(labels / "n.npy", np.stack([SEG_A, SEG_B]))  # two annotations (A, H, W)
    colour = np.zeros((3, 4, 3), np.uint8)
    colour[:, 2:] = (255, 0, 0)
    colour[2, :] = (0, 0, 255)
    write_png(labels / "c.png", colour)  # RGB-coded regions
    write_png(labels / "s.png", np.array([[0, 1000, 1000, 7]] * 3, np.uint16))  # 16-bit
    write_bsds_mat(labels / "m.mat", [SEG_A])
    ds = D.FolderDataset(images, labels)
    assert ds.names == ["c", "m", "n", "p", "s"] and len(ds) == 5
    by = {s.name: s for s in ds}
    assert by["p"].ground_truths[0].tolist() == [[0, 0, 1, 1]] * 3
    assert len(by["n"].ground_truths) == 2
    assert np.array_equal(by["n"].ground_truths[1], (SEG_B == 9).astype(int))
    # colours: black (key 0) -> 0, blue (key 255) -> 1, red (key 0xff0000) -> 2
    assert by["c"].ground_truths[0].tolist() == [[0, 0, 2, 2], [0, 0, 2, 2], [1, 1, 1, 1]]
    assert by["s"].ground_truths[0].tolist() == [[0, 2, 2, 1]] * 3
    assert np.array_equal(by["m"].ground_truths[0], SEG_A - 1)
    assert all(g.dtype == np.int32 for s in ds for g in s.ground_truths)
    assert np.array_equal(by["p"].image, _rgb())


def test_folder_masks_become_connected_regions(folder):
    images, labels = folder
    write_png(images / "x.png", _rgb(6, 6))
    mask = np.zeros((6, 6), np.uint8)
    mask[0:2, 0:2] = 255
    mask[4:6, 4:6] = 255
    write_png(labels / "x.png", mask)
    s = D.FolderDataset(images, labels, kind="masks")[0]
    # two separate foreground blobs + one connected background = 3 regions, raster order:
    # blob at (0,0) -> 0, background from (0,2) -> 1, blob at (4,4) -> 2
    gt = s.ground_truths[0]
    assert gt.max() == 2
    assert (gt[0:2, 0:2] == 0).all() and (gt[4:6, 4:6] == 2).all() and gt[3, 0] == 1
    # a non-binary mask is refused, naming the file
    write_png(labels / "x.png", np.array([[0, 1, 2, 2, 2, 2]] * 6, np.uint8))
    with pytest.raises(ValueError, match=r"x\.png: annotation 0 is not a binary mask"):
        D.FolderDataset(images, labels, kind="masks")[0]
    # the same file is fine as a label map
    assert D.FolderDataset(images, labels)[0].ground_truths[0].max() == 2


def test_folder_errors_name_the_file(folder, tmp_path):
    images, labels = folder
    write_png(images / "a.png", _rgb())
    with pytest.raises(FileNotFoundError, match=r"no label file for image .*a\.png"):
        D.FolderDataset(images, labels)
    np.save(labels / "a.npy", np.zeros((3, 4), int))
    write_png(labels / "a.png", np.zeros((3, 4), np.uint8))
    with pytest.raises(ValueError, match="several label files"):
        D.FolderDataset(images, labels)
    (labels / "a.png").unlink()
    np.save(labels / "a.npy", np.zeros((3, 4), float))
    with pytest.raises(ValueError, match=r"a\.npy: label maps must be integer"):
        D.FolderDataset(images, labels)[0]
    np.save(labels / "a.npy", np.zeros((2, 2), int))
    with pytest.raises(ValueError, match=r"a\.npy: annotation 0 has shape \(2, 2\)"):
        D.FolderDataset(images, labels)[0]
    (labels / "a.npy").unlink()
    (labels / "a.png").write_bytes(b"not a png")
    with pytest.raises(ValueError, match=r"cannot read PNG label file .*a\.png"):
        D.FolderDataset(images, labels)[0]
    with pytest.raises(ValueError, match="different folders"):
        D.FolderDataset(images, images)
    with pytest.raises(FileNotFoundError, match="image folder not found"):
        D.FolderDataset(tmp_path / "none", labels)
    with pytest.raises(ValueError, match="kind must be"):
        D.FolderDataset(images, labels, kind="boxes")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="no image in"):
        D.FolderDataset(empty, labels)
    with pytest.raises(ValueError, match=r"unsupported label file .*a\.txt"):
        (labels / "a.txt").write_text("1")
        D.read_label_file(labels / "a.txt")


def test_folder_split_list_and_unknown_label_reach_the_scores(tmp_path):
    """--images-list picks and orders the images; --ignore-label reaches score(): the rows
    equal score(..., ignore=0) and differ from scoring the unknown pixels as a region."""
    import csv

    from lnsnet.eval.benchmark import open_dataset, run_benchmark
    from lnsnet.eval.metrics import score

    rng = np.random.default_rng(0)
    (tmp_path / "images").mkdir()
    (tmp_path / "labels").mkdir()
    for name in ("a", "b", "c"):
        Image.fromarray((rng.random((24, 32, 3)) * 255).astype(np.uint8)).save(tmp_path / "images" / f"{name}.png")
        lab = np.ones((24, 32), np.uint16)
        lab[:, 16:] = 2
        lab[18:] = 0  # unknown
        Image.fromarray(lab).save(tmp_path / "labels" / f"{name}.png")
    (tmp_path / "split.txt").write_text("c\na\n")
    ds = open_dataset(tmp_path, images_list=tmp_path / "split.txt", ignore_label=0)
    assert [s.name for s in ds] == ["c", "a"] and ds.ignore_label == 0
    (tmp_path / "bad.txt").write_text("a\nzzz\n")
    with pytest.raises(FileNotFoundError, match="zzz"):
        open_dataset(tmp_path, images_list=tmp_path / "bad.txt")
    out = tmp_path / "out"
    run_benchmark(tmp_path, methods="slic", ks=[6], out_dir=out, workers=0, progress=False,
                  images_list=tmp_path / "split.txt", ignore_label=0)
    rows = list(csv.DictReader(open(out / "rows.csv")))
    assert [r["image"] for r in rows] == ["c", "a"]
    from skimage.segmentation import slic

    for r in rows:
        sample = ds[[s.name for s in ds].index(r["image"])]
        labels = slic(sample.image, 6)
        with_ignore = score(labels, sample.ground_truths, ignore=0)
        assert float(r["bp_best"]) == pytest.approx(with_ignore["bp_best"])
        assert float(r["asa_best"]) == pytest.approx(with_ignore["asa_best"])
        plain = score(labels, sample.ground_truths)
        assert any(with_ignore[k] != plain[k] for k in ("asa_best", "br_best", "bp_best", "ue_best"))


def test_unknown_label_is_the_files_value_not_a_renumbered_one(tmp_path):
    """An ignore label means the value in the file: a map without it loses no region (the
    first region used to be renumbered to 0 and dropped), and a void value of 255 is left
    out exactly (it used to be renumbered and kept)."""
    from lnsnet.eval.metrics import score

    (tmp_path / "images").mkdir()
    (tmp_path / "labels").mkdir()
    Image.fromarray(np.zeros((6, 8, 3), np.uint8)).save(tmp_path / "images" / "a.png")
    lab = np.ones((6, 8), np.uint8)
    lab[:, 4:] = 2  # regions 1 and 2, no unknown pixel
    Image.fromarray(lab).save(tmp_path / "labels" / "a.png")
    ds = D.FolderDataset(tmp_path / "images", tmp_path / "labels", ignore_label=0)
    gt = ds[0].ground_truths[0]
    assert (gt != 0).all() and len(np.unique(gt)) == 2
    one = np.zeros((6, 8), np.int32)  # one superpixel over both regions: ASA 24/48 by hand
    assert score(one, [gt], ignore=0)["asa_best"] == pytest.approx(0.5)
    lab[4:] = 255  # a void band of 16 pixels: 32 known, 16 + 16 of them
    lab[:4, :4], lab[:4, 4:] = 1, 2
    Image.fromarray(lab).save(tmp_path / "labels" / "a.png")
    ds = D.FolderDataset(tmp_path / "images", tmp_path / "labels", ignore_label=255)
    gt = ds[0].ground_truths[0]
    assert (gt == 255).sum() == 16 and sorted(np.unique(gt[gt != 255])) == [0, 1]
    assert score(one, [gt], ignore=255)["asa_best"] == pytest.approx(16 / 32)
    with pytest.raises(ValueError, match="folder datasets"):
        from lnsnet.eval.benchmark import open_dataset

        open_dataset("bsds500", ignore_label=0)
