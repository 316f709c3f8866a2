import csv
import subprocess
import sys

import numpy as np
import pytest
from skimage.measure import regionprops_table

import lnsnet.measure
from lnsnet.measure import PROPERTIES, _index, _runs, regions, write_csv

MEASURE_FILE = lnsnet.measure.__file__

SK_PROPS = ("label", "area", "centroid", "bbox", "intensity_mean")


def blob_labels(h, w, n, seed, start=0):
    """Labels of n random seeds grown as nearest-seed regions (superpixel-like, with
    ragged borders and regions that may be in several pieces), numbered from ``start``."""
    rng = np.random.default_rng(seed)
    pts = rng.uniform(0, [h, w], size=(n, 2))
    yy, xx = np.mgrid[:h, :w]
    d = (yy[..., None] - pts[:, 0]) ** 2 + (xx[..., None] - pts[:, 1]) ** 2
    d += rng.uniform(0, 0.3 * h * w / n, size=d.shape)  # ragged borders
    return np.argmin(d, axis=-1) + start


def assert_matches_skimage(image, labels, background=None, rtol=1e-12):
    ours = regions(image, labels, background=background)
    sk_labels = labels
    if background is None and (labels == 0).any():
        sk_labels = labels + 1  # skimage drops label 0: shift everything by one
    sk = regionprops_table(sk_labels, image, properties=SK_PROPS)
    if sk_labels is not labels:
        sk["label"] = sk["label"] - 1
    assert list(ours) == list(sk)  # the same column names in the same order
    for name in sk:
        assert ours[name].shape == sk[name].shape, name
        if name == "label" or name.startswith("bbox") or name == "area":
            np.testing.assert_array_equal(ours[name], sk[name], err_msg=name)
        else:
            np.testing.assert_allclose(ours[name], sk[name], rtol=rtol, atol=0, err_msg=name)
    return ours


@pytest.mark.parametrize("start", [0, 1])
@pytest.mark.parametrize("channels", [None, 3, 5])
def test_matches_regionprops_table(start, channels):
    rng = np.random.default_rng(7 + start + (channels or 0))
    labels = blob_labels(37, 53, 40, seed=start, start=start)
    shape = labels.shape if channels is None else labels.shape + (channels,)
    image = rng.normal(10, 3, size=shape)
    ours = assert_matches_skimage(image, labels)
    assert ours["label"][0] == start
    expected = ["intensity_mean"] if channels is None else [f"intensity_mean-{c}" for c in range(channels)]
    assert [k for k in ours if k.startswith("intensity")] == expected


def test_matches_regionprops_table_on_pixel_noise_labels():
    # every pixel a run of its own: the worst case for the run-based geometry
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 30, size=(41, 29))
    assert_matches_skimage(rng.random((41, 29, 3)), labels)


def test_non_consecutive_and_sparse_labels():
    rng = np.random.default_rng(11)
    base = blob_labels(30, 40, 25, seed=2)
    # gaps: the labels index the tables; values up to 4 * H*W: a lookup table (no sort)
    for values, path in ((np.arange(25) * 3 + 2, None), (np.arange(25) * 200 + 5, "lookup")):
        labels = values[base]
        starts, lengths = _runs(labels)
        table_size = _index(labels.ravel()[starts], lengths, labels.size)[1]
        assert table_size == (25 if path == "lookup" else labels.max() + 1)
        ours = assert_matches_skimage(rng.random((30, 40, 3)), labels)
        np.testing.assert_array_equal(ours["label"], np.unique(labels))
    # values beyond 4 * H*W (a sort): skimage cannot allocate for them, so compare with
    # skimage on labels 1..25 in the same order
    values = np.arange(25, dtype=np.int64) * 10**12 + 1
    image = rng.random((30, 40, 3))
    ours = regions(image, values[base])
    sk = regionprops_table(base + 1, image, properties=SK_PROPS)
    np.testing.assert_array_equal(ours["label"], values)
    for name in sk:
        if name != "label":
            np.testing.assert_allclose(ours[name], sk[name], rtol=1e-12, atol=0, err_msg=name)
    ours_u = regions(image, values[base].astype(np.uint64) + np.uint64(2**63))
    assert ours_u["label"].dtype == np.uint64 and ours_u["label"][0] == 2**63 + 1
    np.testing.assert_array_equal(ours_u["area"], ours["area"])


def test_background_is_left_out():
    rng = np.random.default_rng(5)
    labels = blob_labels(32, 32, 20, seed=4, start=1)
    mask = np.zeros(labels.shape, bool)
    mask[4:28, 6:30] = True
    labels = np.where(mask, labels, 0)  # outside the mask: 0, as slic labels it
    image = rng.random((32, 32, 3))
    ours = assert_matches_skimage(image, labels, background=0)
    assert 0 not in ours["label"]
    full = regions(image, labels)
    assert full["label"][0] == 0 and full["area"][0] == (~mask).sum()
    # any label can be the background; one that is absent changes nothing
    assert 7 not in regions(image, labels, background=7)["label"]
    assert len(regions(image, labels, background=10**6)["label"]) == len(full["label"])


def test_background_with_sparse_labels():
    labels = np.array([[0, 0, 10**12], [5, 5, 10**12]], dtype=np.int64)
    t = regions(None, labels, background=10**12)
    assert t["label"].tolist() == [0, 5]


def test_integer_image_units_and_dtypes():
    rng = np.random.default_rng(9)
    labels = blob_labels(25, 31, 12, seed=9, start=1).astype(np.uint16)
    for dtype, hi in ((np.uint8, 255), (np.uint16, 65535), (np.int32, 10**6)):
        image = rng.integers(0, hi, size=(25, 31, 3), endpoint=True).astype(dtype)
        ours = assert_matches_skimage(image, labels)
        assert ours["intensity_mean-0"].dtype == np.float64
        assert ours["intensity_mean-0"].max() > 0.5 * hi  # own units, not rescaled to [0, 1]


def test_bool_and_float16_images():
    labels = np.array([[0, 0, 1], [2, 2, 1]])
    t = regions(np.array([[True, False, True], [True, True, False]]), labels)
    assert t["intensity_mean"].tolist() == [0.5, 0.5, 1.0]
    t = regions(np.array([[0.5, 1.5, 3], [1, 2, 4]], np.float16), labels)
    assert t["intensity_mean"].tolist() == [1.0, 3.5, 1.5]


def test_float32_image_means_in_float64():
    rng = np.random.default_rng(2)
    labels = blob_labels(20, 20, 6, seed=1)
    image = rng.random((20, 20)).astype(np.float32)
    ours = regions(image, labels)
    exact = [image[labels == k].astype(np.float64).mean() for k in ours["label"]]
    np.testing.assert_allclose(ours["intensity_mean"], exact, rtol=1e-13)


def test_hand_computed_3x4():
    labels = np.array(
        [
            [1, 1, 2, 2],
            [1, 3, 3, 2],
            [7, 7, 3, 2],
        ]
    )
    image = np.array(
        [
            [1, 2, 3, 4],
            [5, 6, 7, 8],
            [9, 10, 11, 12],
        ],
        dtype=np.uint8,
    )
    t = regions(image, labels)
    assert list(t) == [
        "label", "area", "centroid-0", "centroid-1",
        "bbox-0", "bbox-1", "bbox-2", "bbox-3", "intensity_mean",
    ]  # fmt: skip
    assert t["label"].tolist() == [1, 2, 3, 7]
    assert t["area"].tolist() == [3, 4, 3, 2]
    # label 1: (0,0) (0,1) (1,0); label 2: (0,2) (0,3) (1,3) (2,3);
    # label 3: (1,1) (1,2) (2,2); label 7: (2,0) (2,1)
    assert t["centroid-0"].tolist() == [1 / 3, 3 / 4, 4 / 3, 2.0]
    assert t["centroid-1"].tolist() == [1 / 3, 11 / 4, 5 / 3, 0.5]
    assert t["bbox-0"].tolist() == [0, 0, 1, 2]
    assert t["bbox-1"].tolist() == [0, 2, 1, 0]
    assert t["bbox-2"].tolist() == [2, 3, 3, 3]
    assert t["bbox-3"].tolist() == [2, 4, 3, 2]
    assert t["intensity_mean"].tolist() == [8 / 3, 27 / 4, 24 / 3, 19 / 2]
    for name, col in t.items():
        assert col.dtype == (np.float64 if name.startswith(("centroid", "intensity")) else np.int64), name

    rgb = np.stack([image, 2 * image, image % 2], axis=-1)
    t3 = regions(rgb, labels, background=7)
    assert t3["label"].tolist() == [1, 2, 3]
    assert t3["intensity_mean-1"].tolist() == [16 / 3, 54 / 4, 48 / 3]
    assert t3["intensity_mean-2"].tolist() == [2 / 3, 1 / 4, 2 / 3]


def test_properties_select_and_order_columns():
    labels = np.array([[0, 1], [1, 1]])
    image = np.ones((2, 2, 2))
    t = regions(image, labels, properties=["bbox", "label"])
    assert list(t) == ["bbox-0", "bbox-1", "bbox-2", "bbox-3", "label"]
    assert list(regions(None, labels)) == [
        "label", "area", "centroid-0", "centroid-1", "bbox-0", "bbox-1", "bbox-2", "bbox-3",
    ]  # fmt: skip
    assert PROPERTIES == SK_PROPS


def test_single_label_and_single_pixel():
    t = regions(np.full((1, 1), 4.5), np.zeros((1, 1), np.uint8))
    assert t["label"].tolist() == [0] and t["area"].tolist() == [1]
    assert [t[f"bbox-{i}"][0] for i in range(4)] == [0, 0, 1, 1]
    assert t["intensity_mean"].tolist() == [4.5]
    # everything background: empty columns, names kept
    empty = regions(np.ones((2, 3)), np.zeros((2, 3), int), background=0)
    assert all(col.size == 0 for col in empty.values()) and "intensity_mean" in empty


@pytest.mark.parametrize(
    "image, labels, exc, words",
    [
        (np.zeros((3, 4)), np.zeros((3, 5), int), ValueError, ["(3, 4)", "(3, 5)"]),
        (np.zeros((4, 3, 3)), np.zeros((3, 4), int), ValueError, ["(4, 3, 3)", "(3, 4)"]),
        (np.zeros((3, 4, 2, 1)), np.zeros((3, 4), int), ValueError, ["(3, 4, 2, 1)"]),
        (np.zeros((3, 4)), np.zeros((3, 4)), TypeError, ["integer", "float64"]),
        (np.zeros((3, 4)), np.zeros((3, 4), bool), TypeError, ["integer", "bool"]),
        (np.zeros((3, 4)), np.array([[0, 1, 2, -3]] * 3), ValueError, ["-3"]),
        (np.zeros((0, 4)), np.zeros((0, 4), int), ValueError, ["empty", "(0, 4)"]),
        (np.zeros((3, 4, 0)), np.zeros((3, 4), int), ValueError, ["empty", "(3, 4, 0)"]),
        (None, np.zeros(5, int), ValueError, ["2-D", "(5,)"]),
        (np.full((3, 4), "a"), np.zeros((3, 4), int), TypeError, ["numeric", "<U1"]),
        (np.zeros((3, 4), complex), np.zeros((3, 4), int), TypeError, ["complex"]),
    ],
)
def test_errors_name_what_was_received(image, labels, exc, words):
    with pytest.raises(exc) as info:
        regions(image, labels)
    for word in words:
        assert word in str(info.value)


def test_property_errors():
    labels = np.zeros((2, 2), int)
    with pytest.raises(ValueError, match="'perimeter'"):
        regions(None, labels, properties=["perimeter"])
    with pytest.raises(ValueError, match="intensity_mean"):
        regions(None, labels, properties=["mean_intensity"])
    with pytest.raises(ValueError, match="image=None"):
        regions(None, labels, properties=["intensity_mean"])
    with pytest.raises(TypeError, match="'area'"):
        regions(None, labels, properties="area")
    for bad in (0.5, "0", True):
        with pytest.raises(TypeError, match="background"):
            regions(None, labels, background=bad)
    assert regions(None, labels, background=np.int64(0))["label"].size == 0


def test_write_csv_round_trip(tmp_path):
    labels = np.array([[1, 1, 2], [3, 3, 3]])
    image = np.array([[0.1, 0.2, 1e-20], [1.0, 2.0, 4.0]])
    t = regions(image, labels)
    path = tmp_path / "sub" / "regions.csv"
    write_csv(t, path)
    text = path.read_text()
    lines = text.split("\n")
    assert lines[0] == ",".join(t)
    assert lines[1].startswith("1,2,0.0,0.5,0,0,1,2,")  # integers as integers
    assert text.endswith("\n") and "\r" not in text
    rows = list(csv.DictReader(path.open()))
    assert len(rows) == 3
    for name, col in t.items():
        got = [r[name] for r in rows]
        if col.dtype.kind == "i":
            assert got == [str(v) for v in col.tolist()]
        else:  # repr precision: reads back to the same float
            assert [float(v) for v in got] == col.tolist()
    assert rows[0]["intensity_mean"] == repr((0.1 + 0.2) / 2)
    assert rows[1]["intensity_mean"] == "1e-20"
    # no temporary files left behind, and rewriting replaces the file whole
    write_csv({"label": np.array([9])}, path)
    assert path.read_text() == "label\n9\n"
    assert sorted(p.name for p in path.parent.iterdir()) == ["regions.csv"]


def test_write_csv_float32_and_empty(tmp_path):
    write_csv({"a": np.array([0.1, 2.5], np.float32), "n": np.array([3, 4], np.uint8)}, tmp_path / "f.csv")
    assert (tmp_path / "f.csv").read_text() == "a,n\n0.1,3\n2.5,4\n"
    write_csv({"label": np.array([], np.int64)}, tmp_path / "e.csv")
    assert (tmp_path / "e.csv").read_text() == "label\n"


def test_write_csv_errors(tmp_path):
    with pytest.raises(ValueError, match="no columns"):
        write_csv({}, tmp_path / "a.csv")
    with pytest.raises(ValueError, match="'b' has 1"):
        write_csv({"a": np.arange(2), "b": np.arange(1)}, tmp_path / "a.csv")
    with pytest.raises(ValueError, match=r"'a' must be 1-D, got shape \(2, 2\)"):
        write_csv({"a": np.zeros((2, 2))}, tmp_path / "a.csv")
    with pytest.raises(TypeError, match="list"):
        write_csv([1, 2], tmp_path / "a.csv")
    assert not (tmp_path / "a.csv").exists()


def test_module_needs_neither_torch_nor_numba():
    # measure.py loaded on its own with torch and numba made unimportable
    code = f"""
import importlib.abc, importlib.util, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("torch", "numba"):
            raise ImportError("blocked: " + name)
sys.meta_path.insert(0, Block())
spec = importlib.util.spec_from_file_location("measure_alone", {MEASURE_FILE!r})
mod = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mod)
import numpy as np
print(mod.regions(np.ones((2, 2)), np.eye(2, dtype=int))["area"].tolist())
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[2, 2]"


def test_background_may_be_negative_as_slic_leaves_it():
    """slic's labels with start_label=0 and a mask are -1 outside; that value can be the
    background, and the table is the one of the same labels shifted by one."""
    img = np.arange(12.0).reshape(3, 4)
    lab = np.array([[-1, 0, 0, 1], [-1, 0, 1, 1], [-1, -1, 1, 1]])
    t = regions(img, lab, background=-1)
    assert t["label"].tolist() == [0, 1] and t["area"].tolist() == [3, 5]
    assert t["intensity_mean"].tolist() == [(1 + 2 + 5) / 3, (3 + 6 + 7 + 10 + 11) / 5]
    with pytest.raises(ValueError):
        regions(img, lab)  # -1 is no label otherwise


def test_supervoxels_match_skimage_regionprops_3d_with_spacing():
    from skimage.measure import regionprops_table

    rng = np.random.default_rng(3)
    lab = rng.integers(1, 7, (5, 6, 7))  # scattered labels: every axis's min and max tested
    img = rng.random((5, 6, 7, 2))
    sp = (3.0, 0.7, 0.5)
    ours = regions(img, lab, spacing=sp)
    ref = regionprops_table(lab, img, properties=("label", "area", "centroid", "bbox", "intensity_mean"), spacing=sp)
    assert set(ours) == set(ref)
    for k in ref:
        np.testing.assert_allclose(ours[k], ref[k], rtol=1e-12, atol=1e-12, err_msg=k)
    # by hand: one voxel of label 9 at (4, 5, 6) in an otherwise label-1 volume
    one = np.ones((5, 6, 7), np.int32)
    one[4, 5, 6] = 9
    t = regions(None, one, spacing=sp)
    assert t["area"].tolist() == pytest.approx([(5 * 6 * 7 - 1) * 1.05, 1.05], rel=1e-12)  # voxels * 3 * 0.7 * 0.5
    assert [t[f"centroid-{d}"][1] for d in range(3)] == pytest.approx([12.0, 3.5, 3.0], rel=1e-12)  # (4, 5, 6) * spacing
    assert [t[f"bbox-{d}"][1] for d in range(6)] == [4, 5, 6, 5, 6, 7]
    # one number for every axis, as skimage takes it (it was refused): 2^3 = 8 per voxel
    t2 = regions(None, one, spacing=2.0)
    assert t2["area"].tolist() == pytest.approx([(5 * 6 * 7 - 1) * 8.0, 8.0])
    assert [t2[f"centroid-{d}"][1] for d in range(3)] == pytest.approx([8.0, 10.0, 12.0])
    ref2 = regionprops_table(lab, img, properties=("area", "centroid"), spacing=2.0)
    ours2 = regions(img, lab, properties=("area", "centroid"), spacing=2.0)
    for k in ref2:
        np.testing.assert_allclose(ours2[k], ref2[k], rtol=1e-12, err_msg=k)
