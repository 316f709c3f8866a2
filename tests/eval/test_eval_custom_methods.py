"""Methods of your own in the benchmark: a Python function, or label maps made elsewhere
(``custom=``, ``lnsnet benchmark --precomputed NAME=DIR``)."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from PIL import Image

from lnsnet.cli import main
from lnsnet.eval.benchmark import run_benchmark
from lnsnet.eval.metrics import score


def _dataset(root, n=2, h=24, w=30):
    """Two images of two flat regions split at column ``w // 2 + i``; the labels."""
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    truth = {}
    for i in range(n):
        lab = np.zeros((h, w), np.int32)
        lab[:, w // 2 + i:] = 1
        img = np.array([[200, 30, 30], [30, 180, 60]], np.uint8)[lab]
        Image.fromarray(img).save(root / "images" / f"img{i}.png")
        np.save(root / "labels" / f"img{i}.npy", lab)
        truth[f"img{i}"] = lab
    return root, truth


def columns(image, k):
    """A method of one's own: ``k`` vertical stripes (top level: picklable for workers)."""
    h, w = image.shape[:2]
    return np.repeat((np.arange(w) * k // w)[None, :], h, axis=0)


def split_label(image, k):
    """One label in two pieces (the left and right thirds) and one between them."""
    h, w = image.shape[:2]
    lab = np.zeros((h, w), np.int64)
    lab[:, w // 3: 2 * w // 3] = 1
    return lab


def _rows(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_a_function_is_scored_and_timed_beside_the_methods(tmp_path):
    root, truth = _dataset(tmp_path / "d")
    out = tmp_path / "o"
    run_benchmark(root, methods="slic", custom={"stripes": columns}, ks=[2, 6], out_dir=out, workers=1,
                  progress=False)
    rows = {(r["method"], r["image"], int(r["k_asked"])): r for r in _rows(out / "rows.csv")}
    assert {m for m, _, _ in rows} == {"slic", "stripes"}
    img = np.asarray(Image.open(root / "images" / "img1.png"))
    for k in (2, 6):
        want = score(columns(img, k), [truth["img1"]], image=img)
        row = rows[("stripes", "img1", k)]
        assert float(row["br_best"]) == pytest.approx(want["br_best"])
        assert float(row["asa_best"]) == pytest.approx(want["asa_best"])
        assert int(row["k_delivered"]) == k and float(row["time_s"]) >= 0
    meta = json.loads((out / "meta.json").read_text())
    assert meta["settings"]["custom"]["stripes"].endswith("test_eval_custom_methods.columns")


def test_pieces_of_a_label_become_labels_as_for_the_classic_methods(tmp_path):
    root, _ = _dataset(tmp_path / "d")
    run_benchmark(root, methods=[], custom={"split": split_label}, ks=[4], out_dir=tmp_path / "o", workers=0,
                  progress=False)
    rows = _rows(tmp_path / "o" / "rows.csv")
    assert {r["method"] for r in rows} == {"split"}  # methods=[]: yours alone
    assert all(int(r["k_delivered"]) == 3 and float(r["n_disconnected"]) == 0 for r in rows)


def test_precomputed_label_maps(tmp_path, capsys):
    root, truth = _dataset(tmp_path / "d")
    mine = tmp_path / "mine"
    for k in (2, 6):
        (mine / str(k)).mkdir(parents=True)
        for name, lab in truth.items():
            img = np.zeros(lab.shape + (3,), np.uint8)
            stripes = columns(img, k)
            if name == "img0":
                np.savetxt(mine / str(k) / f"{name}.csv", stripes, fmt="%d", delimiter=",")  # Stutz et al.'s
            else:
                Image.fromarray(stripes.astype(np.uint16)).save(mine / str(k) / f"{name}.png")
    out = tmp_path / "o"
    assert main(["benchmark", "--dataset", str(root), "--methods", "slic", "--precomputed", f"mine={mine}",
                 "-k", "2,6", "-o", str(out), "--workers", "0", "-q", "--no-plots"]) == 0
    rows = {(r["method"], r["image"], int(r["k_asked"])): r for r in _rows(out / "rows.csv")}
    for name, lab in truth.items():
        for k in (2, 6):
            want = score(columns(np.zeros(lab.shape + (3,)), k), [lab])
            assert float(rows[("mine", name, k)]["br_best"]) == pytest.approx(want["br_best"])
            assert rows[("mine", name, k)]["time_s"] == "nan"
    # a missing file is named
    (mine / "6" / "img1.png").unlink()
    code = main(["benchmark", "--dataset", str(root), "--precomputed", f"mine={mine}", "--methods", "slic",
                 "-k", "2,6", "-o", str(tmp_path / "o2"), "--workers", "0", "-q", "--no-plots"])
    assert code == 2 and "no label file(s) for 'img1' at K=6" in capsys.readouterr().err


def test_custom_methods_refused_with_reasons(tmp_path):
    root, _ = _dataset(tmp_path / "d")
    with pytest.raises(ValueError, match="taken by a method"):
        run_benchmark(root, methods="slic", custom={"slic": columns}, out_dir=tmp_path / "o", workers=0)
    with pytest.raises(ValueError, match="without ':'"):
        run_benchmark(root, methods="slic", custom={"a:b": columns}, out_dir=tmp_path / "o", workers=0)
    with pytest.raises(ValueError, match="cannot be sent to worker processes"):
        run_benchmark(root, methods="slic", custom={"l": lambda im, k: columns(im, k)}, out_dir=tmp_path / "o",
                      workers=1)
    with pytest.raises(FileNotFoundError, match="precomputed labels folder not found"):
        run_benchmark(root, methods="slic", custom={"m": tmp_path / "nope"}, out_dir=tmp_path / "o", workers=0)
    with pytest.raises(ValueError, match="gave labels of shape"):
        run_benchmark(root, methods=[], custom={"bad": lambda im, k: np.zeros((3, 3), int)}, ks=[2],
                      out_dir=tmp_path / "o3", workers=0, progress=False)


def _label_folders(tmp_path, truth):
    """Two folders of precomputed maps at K = 2, both the ground truth itself."""
    folders = tmp_path / "mine", tmp_path / "other"
    for folder in folders:
        (folder / "2").mkdir(parents=True)
        for name, lab in truth.items():
            np.save(folder / "2" / f"{name}.npy", lab)
    return folders


def blank_it(image, k):
    image[:] = 0  # a method that writes into its input
    return columns(image, k)


def test_a_function_gets_a_read_only_image(tmp_path):
    root, _ = _dataset(tmp_path / "d")
    with pytest.raises(ValueError, match="read-only"):
        run_benchmark(root, custom={"blank": blank_it}, ks=[2], out_dir=tmp_path / "o", workers=0, progress=False)


def test_functions_the_workers_cannot_import_are_refused(tmp_path, monkeypatch):
    import sys
    import types

    from lnsnet.eval.methods import check_custom

    def fn(image, k):
        return columns(image, k)

    fn.__module__, fn.__qualname__ = "__main__", "fn"
    notebook = types.ModuleType("__main__")  # no __file__: a notebook, python -c
    monkeypatch.setitem(sys.modules, "__main__", notebook)
    notebook.fn = fn
    with pytest.raises(ValueError, match="interactive session or notebook"):
        check_custom({"fn": fn}, [], picklable=True)
    script = tmp_path / "script.py"
    script.write_text('if __name__ == "__main__":\n    def fn(image, k):\n        pass\n')
    notebook.__file__ = str(script)
    with pytest.raises(ValueError, match="not defined at the top level"):
        check_custom({"fn": fn}, [], picklable=True)
    script.write_text('def fn(image, k):\n    pass\n')
    assert check_custom({"fn": fn}, [], picklable=True) == {"fn": fn}
    assert check_custom({"fn": fn}, [], picklable=False) == {"fn": fn}


def test_precomputed_files_are_checked_before_any_work_and_names_before_reuse(tmp_path):
    root, truth = _dataset(tmp_path / "d")
    mine, other = _label_folders(tmp_path, truth)
    with pytest.raises(FileNotFoundError, match="at K=6"):  # no 6/ folder
        run_benchmark(root, methods="slic", custom={"mine": mine}, ks=[2, 6], out_dir=tmp_path / "o", workers=0,
                      progress=False)
    assert not (tmp_path / "o" / "rows.csv").exists()
    out = tmp_path / "o2"
    run_benchmark(root, custom={"mine": mine}, ks=[2], out_dir=out, workers=0, progress=False)
    assert {r["method"] for r in _rows(out / "rows.csv")} == {"mine"}  # no methods named: yours alone
    assert all(float(r["asa_best"]) == 1.0 and float(r["br_best"]) == 1.0 for r in _rows(out / "rows.csv"))
    with pytest.raises(ValueError, match="holds rows of 'mine' made with labels in"):
        run_benchmark(root, custom={"mine": other}, ks=[2], out_dir=out, workers=0, progress=False)
    run_benchmark(root, custom={"mine": other}, ks=[2], out_dir=out, workers=0, progress=False, redo="MINE")
    meta = json.loads((out / "meta.json").read_text())
    assert meta["settings"]["custom"]["mine"].endswith(str(other.resolve()))
    with pytest.raises(ValueError, match="compared without case"):
        run_benchmark(root, custom={"Mine": mine, "mine": other}, ks=[2], out_dir=tmp_path / "o3", workers=0)
    with pytest.raises(ValueError, match="without ':', ',' or '|'"):
        run_benchmark(root, custom={"a|b": mine}, ks=[2], out_dir=tmp_path / "o3", workers=0)


def test_a_partial_redo_of_a_changed_folder_is_refused_before_deleting(tmp_path):
    root, truth = _dataset(tmp_path / "d")
    mine, other = _label_folders(tmp_path, truth)
    out = tmp_path / "o"
    run_benchmark(root, custom={"grid": mine}, ks=[2], out_dir=out, workers=0, progress=False)
    before = _rows(out / "rows.csv")
    with pytest.raises(ValueError, match="recompute all of them"):  # image 0 only: image 1's rows would stay
        run_benchmark(root, custom={"grid": other}, ks=[2], out_dir=out, workers=0, progress=False, limit=1,
                      redo="grid")
    assert _rows(out / "rows.csv") == before  # nothing deleted
    with pytest.raises(ValueError, match="holds rows of 'grid'"):  # the same name in another case
        run_benchmark(root, custom={"GRID": mine}, ks=[2], out_dir=out, workers=0, progress=False)
