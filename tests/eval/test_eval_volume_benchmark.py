"""lnsnet benchmark --volume: folders of volumes and label volumes scored in 3-D."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import tifffile

from lnsnet.cli import main
from lnsnet.eval.benchmark import ROW_COLUMNS, run_benchmark
from lnsnet.eval.methods import volume_methods
from lnsnet.eval.metrics import f_measure
from lnsnet.eval.volumes import count_disconnected_3d, score_volume, score_volume_row


def _octants(shape, seed):
    """Eight boxes of distinct intensities (split at the middle of each axis), labels 1..8."""
    truth = ((np.arange(shape[0]) >= shape[0] // 2)[:, None, None] * 4
             + (np.arange(shape[1]) >= shape[1] // 2)[None, :, None] * 2
             + (np.arange(shape[2]) >= shape[2] // 2)[None, None, :])
    levels = np.array([0.05, 0.9, 0.3, 0.6, 0.75, 0.15, 0.45, 1.0])
    vol = levels[truth] + np.random.default_rng(seed).normal(0, 0.02, shape)
    return (np.clip(vol, 0, 1) * 255).round().astype(np.uint8), (truth + 1).astype(np.uint16)


@pytest.fixture
def volumes(tmp_path):
    """Two octant volumes: an ImageJ TIFF with its voxel size and labels as .npy; a .npy
    volume (no voxel size) with a TIFF label volume."""
    root = tmp_path / "vols"
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    a, ta = _octants((8, 16, 16), 0)  # 8 x 8 x 8 in physical units: a grid of 2 x 2 x 2 cells
    tifffile.imwrite(root / "images" / "a.tif", a, imagej=True, resolution=(1 / 0.5, 1 / 0.5),
                     metadata={"spacing": 1.0, "unit": "um", "axes": "ZYX"})
    np.save(root / "labels" / "a.npy", ta)
    b, tb = _octants((16, 16, 16), 1)
    np.save(root / "images" / "b.npy", b)
    tifffile.imwrite(root / "labels" / "b.tif", tb)
    return root


def _rows(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


# slic at compactness 1, as scikit-image's own 3-D octant test
METHODS = "lnsnet,slic:compactness=1,lnsnet:boundaries=bright"


def test_octant_volumes_are_scored_in_3d(volumes, tmp_path):
    out = tmp_path / "bench"
    with pytest.warns(UserWarning, match="records no voxel size"):
        run_benchmark(volumes, volume=True, methods=METHODS, ks=[8], out_dir=out, workers=0, progress=False)
    rows = _rows(out / "rows.csv")
    assert tuple(rows[0]) == ROW_COLUMNS
    assert sorted((r["method"], r["image"]) for r in rows) == sorted(
        (m, v) for m in METHODS.split(",") for v in ("a", "b"))
    for r in rows:
        # lnsnet finds the eight boxes exactly, slic those of the volume of cubic voxels
        if r["method"] == "lnsnet" or (r["method"].startswith("slic") and r["image"] == "b"):
            assert int(r["k_delivered"]) == 8, r
            assert float(r["asa_best"]) == 1.0 and float(r["br_best"]) == 1.0 and float(r["ue_best"]) == 0.0
        assert float(r["asa_best"]) == float(r["asa_mean"]) and float(r["n_annotations"]) == 1
        assert float(r["n_disconnected"]) == 0
    meta = json.loads((out / "meta.json").read_text())
    assert meta["settings"]["volume"] is True and meta["settings"]["dataset"]["name"] == "volume folder"
    assert meta["settings"]["model"]["name"] == "none"  # the clustering on the input, said
    assert "3-D" in (out / "summary.md").read_text()
    # a rerun computes nothing
    run_benchmark(volumes, volume=True, methods=METHODS, ks=[8], out_dir=out, workers=0, progress=False)
    assert json.loads((out / "meta.json").read_text())["rows_computed"] == 0


def test_the_voxel_size_reaches_the_scores(volumes, tmp_path):
    """Volume a's file says 1 x 0.5 x 0.5: lnsnet's grid is laid in those units (2 x 2 x 2
    cells: the boxes, found exactly) and the CO is measured in them; --spacing overrides
    every file's (2 x 1 x 1: 16 x 16 x 16 units, the grid then 2 x 2 x 2 cells again)."""
    from lnsnet.io import read_volume

    vol, sp = read_volume(volumes / "images" / "a.tif")
    assert sp == pytest.approx((1.0, 0.5, 0.5))
    truth = np.load(volumes / "labels" / "a.npy")
    out = tmp_path / "b1"
    with pytest.warns(UserWarning):
        run_benchmark(volumes, volume=True, methods="lnsnet", ks=[8], out_dir=out, workers=0, progress=False)
    co = {r["image"]: float(r["co"]) for r in _rows(out / "rows.csv")}
    assert co["a"] == pytest.approx(score_volume(truth, truth, spacing=(1.0, 0.5, 0.5))["co"])
    assert co["a"] != pytest.approx(score_volume(truth, truth)["co"])
    # meta.json says which voxel size each volume was scored with: a's from its file, b none (1, 1, 1)
    sizes = json.loads((out / "meta.json").read_text())["settings"]["dataset"]["voxel_sizes"]
    assert sizes == {"a": [1.0, 0.5, 0.5, "µm"], "b": None}
    # a volume added to the folder: the rerun into the same folder scores it (a's and b's sizes agree)
    c, tc = _octants((8, 16, 16), 2)
    np.save(volumes / "images" / "c.npy", c)
    np.save(volumes / "labels" / "c.npy", tc)
    with pytest.warns(UserWarning):
        run_benchmark(volumes, volume=True, methods="lnsnet", ks=[8], out_dir=out, workers=0, progress=False)
    assert sorted(r["image"] for r in _rows(out / "rows.csv")) == ["a", "b", "c"]

    out2 = tmp_path / "b2"
    assert main(["benchmark", "--volume", "--dataset", str(volumes), "--methods", "lnsnet", "-k", "8", "-o", str(out2),
                 "--workers", "0", "--spacing", "2,1,1", "-q", "--no-plots"]) == 0
    co2 = {r["image"]: float(r["co"]) for r in _rows(out2 / "rows.csv")}
    assert co2["a"] == pytest.approx(score_volume(truth, truth, spacing=(2.0, 1.0, 1.0))["co"])
    dataset = json.loads((out2 / "meta.json").read_text())["settings"]["dataset"]
    assert dataset["spacing"] == [2.0, 1.0, 1.0] and "voxel_sizes" not in dataset


def test_a_volume_row_by_hand():
    # ground truth: two halves along x; supervoxels: the left half, and the right half cut
    # in two along y, one of whose pieces carries label 0's value again (label 0 in two pieces)
    gt = np.zeros((2, 4, 4), int)
    gt[:, :, 2:] = 1
    sp = np.zeros((2, 4, 4), int)
    sp[:, :2, 2:] = 1
    sp[:, 2:, 2:] = 0  # joins label 0 only through... nothing: a second piece of label 0
    sp[:, 2:, :2] = 2
    row = score_volume_row(sp, gt)
    s = score_volume(sp, gt)
    assert row["asa_best"] == row["asa_mean"] == s["asa"]
    assert row["br_best"] == s["br"] and row["bp_best"] == s["bp"]
    assert row["f_best"] == pytest.approx(f_measure(s["bp"], s["br"], 4.0))
    assert row["f1_best"] == pytest.approx(2 * s["bp"] * s["br"] / (s["bp"] + s["br"]))
    assert row["n_segments"] == 3 and row["n_annotations"] == 1
    # label 0: x < 2, y < 2 and x >= 2, y >= 2: two pieces that touch only at an edge, not a face
    assert row["n_disconnected"] == 1 == count_disconnected_3d(sp)
    # ASA by hand: label 0 holds 8 voxels of gt 0 and 8 of gt 1 (best 8), label 1 8 of gt 1,
    # label 2 8 of gt 0: (8 + 8 + 8) / 32
    assert row["asa_best"] == pytest.approx(24 / 32)


@pytest.mark.parametrize("methods, message", [
    ("seeds", "does not run on volumes"),
    ("lnsnet:clustering=paper", "on volumes lnsnet takes"),
    ("lnsnet:model=bsds500", "model= takes only 'none'"),
    ("slic:ratio=2", "slic takes KEY=VALUE"),
    ("lnsnet:compactness=-1", "finite number > 0"),
    ("slic:compactness=nan", "is not a finite float"),
    ("slic:compactness=-5", "compactness must be a finite number > 0"),
    ("slic:max_num_iter=0", "max_num_iter must be an integer >= 1"),
    ("slic:sigma=-1", "sigma must be a finite number >= 0"),
    # one setting under two names
    ("lnsnet,lnsnet:compactness=40.0", "the same setting"),
    ("slic,slic:compactness=10", "the same setting"),
    ("lnsnet:boundaries=bright,lnsnet:boundaries=bright:compactness=0.2", "the same setting"),
    ("lnsnet,lnsnet:model=none", "the same setting"),  # without a model file they are
])
def test_methods_that_do_not_run_on_volumes_are_refused(methods, message):
    with pytest.raises(ValueError, match=message):
        volume_methods(methods)


def test_with_a_model_lnsnet_and_its_input_are_two_settings():
    assert volume_methods("lnsnet,lnsnet:model=none", has_model=True) == ["lnsnet", "lnsnet:model=none"]


def test_bad_volume_datasets_and_options(volumes, tmp_path):
    with pytest.raises(ValueError, match="3-D model file"):
        run_benchmark(volumes, volume=True, model="bsds500", out_dir=tmp_path / "o", workers=0, progress=False)
    with pytest.raises(ValueError, match="pass volume=True"):
        run_benchmark(volumes, spacing=(1, 1, 1), out_dir=tmp_path / "o", workers=0, progress=False)
    empty = tmp_path / "empty"
    (empty / "images").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="images/ \\(or volumes/\\) and labels/"):
        run_benchmark(empty, volume=True, out_dir=tmp_path / "o", workers=0, progress=False)
    np.save(volumes / "labels" / "a_wrong.npy", np.zeros((3, 3, 3), int))
    np.save(volumes / "images" / "a_wrong.npy", np.zeros((4, 3, 3), np.uint8))
    with pytest.raises(ValueError, match="a_wrong.npy has shape \\(3, 3, 3\\)"):
        run_benchmark(volumes, volume=True, methods="slic", ks=[8], out_dir=tmp_path / "o2", workers=0,
                      progress=False)


def test_a_3d_model_file_against_its_input(volumes, tmp_path):
    """``--model FILE`` (a 3-D model) runs with ``lnsnet``; ``lnsnet:model=none`` is the
    clustering on the input in the same run, as segment(..., model=None) gives."""
    import torch

    import lnsnet
    from lnsnet.io import read_volume
    from lnsnet.volume_model import VolumeNet, save_volume_model

    torch.manual_seed(0)
    save_volume_model(tmp_path / "m3d.pt", VolumeNet())
    out = tmp_path / "bench"
    with pytest.warns(UserWarning):
        run_benchmark(volumes, volume=True, methods="lnsnet,lnsnet:model=none", ks=[8, 20], out_dir=out,
                      model=tmp_path / "m3d.pt", workers=0, progress=False)
    meta = json.loads((out / "meta.json").read_text())
    assert meta["settings"]["model"]["kind"] == "3-D" and len(meta["settings"]["model"]["sha256"]) == 64
    rows = {(r["method"], r["image"], int(r["k_asked"])): r for r in _rows(out / "rows.csv")}
    vol, sp = read_volume(volumes / "images" / "a.tif")
    truth = np.load(volumes / "labels" / "a.npy")
    for k in (8, 20):
        for method, model in (("lnsnet:model=none", None), ("lnsnet", tmp_path / "m3d.pt")):
            want = score_volume(lnsnet.segment(vol, k, channel_axis=None, spacing=sp, model=model), truth,
                                volume=vol, spacing=sp)
            assert float(rows[(method, "a", k)]["br_best"]) == pytest.approx(want["br"])
            assert float(rows[(method, "a", k)]["co"]) == pytest.approx(want["co"])
    # the (untrained) model's features change the supervoxels: the model is not left unused
    assert rows[("lnsnet", "a", 20)]["k_delivered"] != rows[("lnsnet:model=none", "a", 20)]["k_delivered"]


def _model(tmp_path):
    import torch

    from lnsnet.volume_model import VolumeNet, save_volume_model

    torch.manual_seed(0)
    save_volume_model(tmp_path / "m3d.pt", VolumeNet())
    return tmp_path / "m3d.pt"


@pytest.mark.filterwarnings("ignore:.*records no voxel size")
def test_rows_with_and_without_a_3d_model_are_not_mixed(volumes, tmp_path):
    model = _model(tmp_path)
    out = tmp_path / "a"
    run_benchmark(volumes, volume=True, methods="lnsnet", ks=[8], out_dir=out, workers=0, progress=False)
    with pytest.raises(ValueError, match="holds rows made with model="):
        run_benchmark(volumes, volume=True, methods="lnsnet", ks=[8, 20], out_dir=out, model=model, workers=0,
                      progress=False)
    out = tmp_path / "b"
    run_benchmark(volumes, volume=True, methods="lnsnet", ks=[8], out_dir=out, model=model, workers=0,
                  progress=False)
    with pytest.raises(ValueError, match="holds rows made with model="):
        run_benchmark(volumes, volume=True, methods="lnsnet", ks=[8, 20], out_dir=out, workers=0, progress=False)
    # "none" is no model; a 2-D model file is refused before any work, in one line
    run_benchmark(volumes, volume=True, methods="lnsnet", ks=[8], out_dir=tmp_path / "a", model="none", workers=0,
                  progress=False)
    import lnsnet

    with pytest.raises(ValueError, match="is not a 3-D model"):
        run_benchmark(volumes, volume=True, out_dir=tmp_path / "c", workers=1, progress=False,
                      model=Path(lnsnet.__file__).parent / "weights" / "bsds500.pt")
    assert not (tmp_path / "c" / "rows.csv").exists()


def test_an_ignored_label_counts_no_boundary_on_either_side():
    """A perfect segmentation with one octant unknown scores BP 1 whichever octant it is,
    and k counts every label the method returned."""
    truth = _octants((8, 8, 8), 0)[1].astype(np.int64)
    for unknown in (1, 8):
        gt = truth.copy()
        gt[truth == unknown] = 0
        s = score_volume(truth, gt, ignore=0)
        assert (s["asa"], s["br"], s["bp"], s["ue"], s["k"]) == (1.0, 1.0, 1.0, 0.0, 8)
    with pytest.raises(ValueError, match="all 0"):
        score_volume(truth, np.zeros_like(truth), ignore=0)


@pytest.mark.parametrize("gt, sp, br, bp", [
    # the known 1|2 boundary pixel stays to be found though its lower neighbour is unknown
    ([[1, 2], [0, 2]], [[1, 1], [1, 1]], 0.0, 1.0),
    # a superpixel boundary next to the unknown row finds the known 1|2 boundary above it
    ([[1, 1, 2, 2], [1, 1, 2, 2], [0, 0, 0, 0]], [[1] * 4, [1] * 4, [2] * 4], 1.0, 1.0),
    # a claim only between known voxels: the 3|4 step into the unknown row is not judged
    ([[1, 1, 2, 2], [1, 1, 2, 2], [0, 0, 0, 0]], [[3, 3, 4, 4], [3, 3, 4, 4], [5, 5, 5, 5]], 1.0, 1.0),
    ([[1, 1, 1], [1, 1, 1], [0, 0, 0]], [[3, 4, 4], [3, 4, 4], [3, 4, 4]], 1.0, 0.0),
])
def test_an_ignored_label_scores_boundaries_as_in_2d(gt, sp, br, bp):
    """By hand, and equal to the 2-D score of the same map as one plane: a ground-truth
    boundary counts between two known voxels; any supervoxel boundary may find it; a claim
    is judged only between two known voxels."""
    from lnsnet.eval.metrics import score

    gt, sp = np.array(gt), np.array(sp)
    s3 = score_volume(sp[None], gt[None], ignore=0)
    s2 = score(sp, [gt], ignore=0)
    assert (s3["br"], s3["bp"]) == (br, bp) == (s2["br_best"], s2["bp_best"])
    # along z as well: the plane put on its side
    s3z = score_volume(sp.T[:, :, None], gt.T[:, :, None], ignore=0)
    assert (s3z["br"], s3z["bp"]) == (br, bp)


def test_explained_variation_with_an_ignored_label_is_over_every_voxel_as_in_2d():
    # intensities 9, 0, 1, 1; supervoxels {0, 1} {2, 3}; the first voxel's label ignored.
    # EV needs no ground truth: over all four, mean 2.75, total 52.75, between
    # 2 * (4.5 - 2.75)^2 + 2 * (1 - 2.75)^2 = 12.25, EV = 12.25 / 52.75
    from lnsnet.eval.metrics import score

    sp, gt, im = np.array([[0, 0, 1, 1]]), np.array([[0, 1, 1, 1]]), np.array([[9.0, 0, 1, 1]])
    ev3 = score_volume(sp[None], gt[None], volume=im[None], ignore=0)["ev"]
    assert ev3 == pytest.approx(12.25 / 52.75, abs=1e-12)
    assert ev3 == pytest.approx(score(sp, [gt], image=im, ignore=0)["ev"], abs=1e-12)


def test_narrow_signed_label_types_are_scored():
    # int8 labels -100 and 100: their difference does not fit int8 (it used to wrap)
    from lnsnet.eval.metrics import asa

    assert asa(np.array([[-100, 100]], np.int8), np.array([[0, 1]])) == 1.0
    sp = np.zeros((2, 4, 4), np.int8)
    sp[:, :, 2:] = 100
    sp[:, :, :1] = -100
    gt = (sp > 0).astype(np.int32)
    assert score_volume(sp, gt)["asa"] == 1.0


def test_score_volume_says_when_it_is_given_2d_maps():
    with pytest.raises(ValueError, match=r"\(Z, Y, X\) volumes.*lnsnet.eval.metrics.score"):
        score_volume(np.ones((2, 4), int), np.ones((2, 4), int))


def test_bad_label_volumes_and_names(volumes, tmp_path):
    from lnsnet.eval.datasets import VolumeFolderDataset

    root = volumes
    # an OME-TIFF volume's stem is its name without .ome.tif; hidden files are not volumes
    v, t = _octants((8, 8, 8), 2)
    tifffile.imwrite(root / "images" / "c.ome.tif", v, metadata={"axes": "ZYX", "PhysicalSizeX": 0.2,
                                                                 "PhysicalSizeY": 0.2})
    tifffile.imwrite(root / "labels" / "c.tif", t.astype(np.float32))  # whole-valued floats, as NIfTI maps often are
    (root / "images" / "._c.tif").write_bytes(b"\0\0AppleDouble")
    ds = VolumeFolderDataset(root / "images", root / "labels")
    assert ds.names == ["a", "b", "c"]
    with pytest.warns(UserWarning, match="no PhysicalSizeZ recorded: z 1"):
        sample = ds[2]
    assert sample.spacing == pytest.approx((1.0, 0.2, 0.2)) and sample.ground_truths[0].dtype == np.int64
    with pytest.raises(ValueError, match="more than once"):
        VolumeFolderDataset(root / "images", root / "labels", names=["a", "a"])
    np.save(root / "labels" / "c.npy", np.stack([t, t]))
    (root / "labels" / "c.tif").unlink()
    ds = VolumeFolderDataset(root / "images", root / "labels")
    with pytest.raises(ValueError, match="one \\(Z, Y, X\\) array of labels, got shape \\(2, 8, 8, 8\\)"):
        ds[2]
    np.save(root / "labels" / "c.npy", t + 0.5)
    with pytest.raises(ValueError, match="not whole numbers"):
        ds[2]
    np.save(root / "labels" / "c.npy", np.zeros_like(t))
    ds0 = VolumeFolderDataset(root / "images", root / "labels", ignore_label=0)
    with pytest.raises(ValueError, match="is all 0"):
        ds0[2]


def test_a_user_error_inside_a_method_is_one_line(volumes, tmp_path, capsys):
    """A volume with NaN: the run stops with exit 2 and the reason, not an internal error."""
    v = np.full((8, 8, 8), 0.5, np.float32)
    v[0, 0, 0] = np.nan
    (volumes / "images" / "a.tif").unlink()
    np.save(volumes / "images" / "a.npy", v)
    np.save(volumes / "labels" / "a.npy", np.ones((8, 8, 8), np.int32))
    code = main(["benchmark", "--volume", "--dataset", str(volumes), "--methods", "lnsnet", "-k", "8", "-o",
                 str(tmp_path / "o"), "--workers", "0", "-q", "--no-plots", "--spacing", "1,1,1"])
    err = capsys.readouterr().err
    assert code == 2 and "NaN" in err and "internal error" not in err


def test_a_failed_first_run_leaves_the_folder_usable(volumes, tmp_path):
    out = tmp_path / "o"
    with pytest.raises(Exception):  # the stacks are no 2-D images
        run_benchmark(volumes, methods="slic", ks=[8], out_dir=out, workers=0, progress=False)
    with pytest.warns(UserWarning):
        run_benchmark(volumes, volume=True, methods="slic", ks=[8], out_dir=out, workers=0, progress=False)
    assert len(_rows(out / "rows.csv")) == 2


@pytest.mark.filterwarnings("ignore:.*records no voxel size")
def test_redo_deletes_only_the_rows_it_makes_again(volumes, tmp_path):
    out = tmp_path / "o"
    run_benchmark(volumes, volume=True, methods="slic", ks=[8, 20], out_dir=out, workers=0, progress=False)
    before = {(r["image"], r["k_asked"]): r["time_s"] for r in _rows(out / "rows.csv")}
    run_benchmark(volumes, volume=True, methods="slic", ks=[8], out_dir=out, workers=0, progress=False, limit=1,
                  redo="slic")
    after = {(r["image"], r["k_asked"]): r["time_s"] for r in _rows(out / "rows.csv")}
    assert set(after) == set(before)  # nothing lost
    assert [key for key in before if after[key] != before[key]] == [("a", "8")]  # one row made again


def octant_method(volume, k, spacing=None):
    """A method of one's own on volumes: the eight boxes, whatever k (top level: picklable)."""
    return _octants(volume.shape[:3], 0)[1]


@pytest.mark.filterwarnings("ignore:.*records no voxel size")
def test_custom_methods_on_volumes(volumes, tmp_path):
    mine = tmp_path / "mine" / "8"
    mine.mkdir(parents=True)
    for name in ("a", "b"):
        truth = np.load(volumes / "labels" / "a.npy") if name == "a" else tifffile.imread(volumes / "labels" / "b.tif")
        np.save(mine / f"{name}.npy", truth)
    out = tmp_path / "o"
    run_benchmark(volumes, volume=True, methods=[], custom={"boxes": octant_method, "mine": mine.parent}, ks=[8],
                  out_dir=out, workers=1, progress=False)
    rows = _rows(out / "rows.csv")
    assert {(r["method"], r["image"]) for r in rows} == {(m, v) for m in ("boxes", "mine") for v in ("a", "b")}
    for r in rows:
        assert float(r["asa_best"]) == 1.0 and float(r["br_best"]) == 1.0 and int(r["k_delivered"]) == 8
