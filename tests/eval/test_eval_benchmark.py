"""Benchmark runner: rows, resume, summary, meta, plots and the ``benchmark`` subcommand,
on a tiny synthetic folder dataset (three 32x40 images, two annotations each)."""

import csv
import json
import math

import numpy as np
import pytest
from PIL import Image

from lnsnet.cli import build_parser
from lnsnet.eval.benchmark import ROW_COLUMNS, SUMMARY_COLUMNS, run_benchmark, summarize, summary_markdown
from lnsnet.eval.methods import display_name, known_methods
from lnsnet.eval.metrics import SCORE_KEYS

N_IMAGES = 3
METHODS = ["slic", "lnsnet"]
KS = [10, 20]


def _make_dataset(root, n=N_IMAGES, h=32, w=40):
    """Images of three flat colour regions (plus noise); labels: the regions, and a
    coarser 2-region annotation, saved as one (2, H, W) .npy per image."""
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    rng = np.random.default_rng(0)
    for i in range(n):
        lab = np.zeros((h, w), np.int32)
        lab[:, w // 2 + i:] = 1
        lab[h // 2:, : w // 3 + i] = 2
        colours = np.array([[200, 30, 30], [30, 180, 60], [40, 60, 220]], float)
        img = colours[lab] + rng.normal(0, 3, (h, w, 3))
        Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(
            root / "images" / f"img{i}.png"
        )
        np.save(root / "labels" / f"img{i}.npy", np.stack([lab, (lab == 1).astype(np.int32)]))
    return root


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return _make_dataset(tmp_path_factory.mktemp("bench") / "data")


def _rows(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def first_run(dataset, tmp_path_factory):
    """One run with one worker process; shared by the tests that only read its output."""
    out = tmp_path_factory.mktemp("bench") / "out"
    summary = run_benchmark(str(dataset), methods=",".join(METHODS), ks=KS, out_dir=out,
                            workers=1, progress=False)  # fmt: skip
    return out, summary


def test_rows_one_per_method_k_image(first_run):
    out, _ = first_run
    rows = _rows(out / "rows.csv")
    # 2 methods x 2 K x 3 images
    assert len(rows) == len(METHODS) * len(KS) * N_IMAGES == 12
    assert tuple(rows[0]) == ROW_COLUMNS
    assert set(SCORE_KEYS) <= set(rows[0])
    keys = {(r["method"], int(r["k_asked"]), r["image"]) for r in rows}
    assert keys == {(m, k, f"img{i}") for m in METHODS for k in KS for i in range(N_IMAGES)}
    for r in rows:
        assert int(r["k_delivered"]) == int(float(r["n_segments"])) >= 1
        assert float(r["time_s"]) > 0
        assert int(float(r["n_annotations"])) == 2
        assert 0.0 <= float(r["asa_best"]) <= 1.0
        assert float(r["asa_mean"]) <= float(r["asa_best"])  # best of 2 >= their mean
        assert not math.isnan(float(r["ev"]))  # the image is passed: EV is computed


def test_rerun_skips_every_row(first_run, dataset):
    out, summary = first_run
    rows_file = out / "rows.csv"
    before = (rows_file.read_bytes(), rows_file.stat().st_mtime_ns)
    again = run_benchmark(str(dataset), methods=METHODS, ks=KS, out_dir=out, workers=1,
                          progress=False)  # fmt: skip
    assert (rows_file.read_bytes(), rows_file.stat().st_mtime_ns) == before
    assert again == summary
    meta = json.loads((out / "meta.json").read_text())
    assert meta["rows_computed"] == 0 and meta["rows_total"] == 12
    assert meta["previous_runs"][-1]["rows_computed"] == 12


def test_summary_files(first_run):
    out, summary = first_run
    rows = _rows(out / "summary.csv")
    assert tuple(rows[0]) == SUMMARY_COLUMNS
    # methods in the order asked for, K ascending; 3 images each
    assert [(r["method"], int(r["k_asked"])) for r in rows] == [
        (m, k) for m in METHODS for k in KS
    ]
    assert all(int(r["n_images"]) == N_IMAGES for r in rows)
    assert [s["method"] for s in summary] == [r["method"] for r in rows]
    md = (out / "summary.md").read_text()
    assert md.startswith("| Method | K | K delivered | ASA | BR | BP |")
    for m in METHODS:
        for k in KS:
            line = next(x for x in md.splitlines() if x.startswith(f"| {display_name(m)} | {k} |"))
            assert line.endswith(f"| `{m}` |")  # the name to rerun it with, last


def test_display_names():
    assert display_name("lnsnet") == "LNS-Net"
    assert display_name("slic:compactness=20") == "SLIC (compactness 20)"
    assert display_name("lnsnet:model=none:compactness=18") == "LNS-Net (no network, compactness 18)"
    assert display_name("lnsnet:clustering=paper") == "LNS-Net (paper's clustering)"
    assert display_name("seeds:num_levels=5:prior=0") == "SEEDS (num_levels 5, prior 0)"
    assert display_name("my_method") == "my_method"  # a custom method keeps its name


def test_meta_records_machine_versions_settings(first_run):
    out, _ = first_run
    meta = json.loads((out / "meta.json").read_text())
    for lib in ("python", "torch", "numpy", "opencv", "scikit-image", "lnsnet"):
        assert meta["versions"][lib]
    assert meta["machine"]["cpu_count"] >= 1
    s = meta["settings"]
    assert s["methods"] == METHODS and s["ks"] == KS and s["r"] == 1
    assert s["workers"] == 1 and s["dataset"]["name"] == "folder"
    assert len(s["model"]["sha256"]) == 64
    assert meta["date"]


def test_plots(first_run, tmp_path):
    from lnsnet.eval.plots import plot_summary

    out, _ = first_run
    written = plot_summary(out / "summary.csv", tmp_path, dpi=40)
    names = {p.name for p in written}
    assert names == {f"{m}.png" for m in
                     ("asa", "br", "bp", "f", "ue", "co", "ev", "time", "overview")}  # fmt: skip
    for p in written:
        with Image.open(p) as im:
            assert im.format == "PNG" and im.width > 100


def test_plot_series_look_different():
    """13 methods (a full BSDS500 run) once drew the 1st and the 11th alike (the same colour
    and a round marker): every one of 120 series has its own colour, marker and line."""
    from lnsnet.eval.plots import _style

    looks = [tuple(sorted(_style(i).items())) for i in range(120)]
    assert len(set(looks)) == 120
    assert _style(10)["color"] == _style(0)["color"] and _style(10)["linestyle"] != _style(0)["linestyle"]


def test_resume_after_crash_with_two_workers(first_run, dataset, tmp_path):
    """A rows file cut in the middle of a line (a crash while writing) is resumed: the
    torn line is dropped, the complete rows are kept as they are, the rest is computed."""
    out, _ = first_run
    lines = (out / "rows.csv").read_text().splitlines(keepends=True)
    kept = lines[:6]  # header + 5 rows
    (tmp_path / "rows.csv").write_text("".join(kept) + lines[6][:20])
    run_benchmark(str(dataset), methods=METHODS, ks=KS, out_dir=tmp_path, workers=2,
                  progress=False)  # fmt: skip
    text = (tmp_path / "rows.csv").read_text()
    assert text.startswith("".join(kept))
    rows = _rows(tmp_path / "rows.csv")
    keys = [(r["method"], r["k_asked"], r["image"]) for r in rows]
    assert len(rows) == 12 and len(set(keys)) == 12
    assert json.loads((tmp_path / "meta.json").read_text())["rows_computed"] == 7


def test_new_method_adds_only_its_rows(first_run, dataset, tmp_path):
    out, _ = first_run
    (tmp_path / "rows.csv").write_bytes((out / "rows.csv").read_bytes())
    summary = run_benchmark(dataset, methods="slic,felzenszwalb", ks=[10], out_dir=tmp_path,
                            workers=0, progress=False)  # fmt: skip
    rows = _rows(tmp_path / "rows.csv")
    assert len(rows) == 12 + N_IMAGES
    assert [(s["method"], s["k_asked"], s["n_images"]) for s in summary] == [
        ("slic", 10, 3), ("felzenszwalb", 10, 3)
    ]
    # the folder's summary keeps the earlier methods and Ks, after this run's methods
    in_file = [(r["method"], int(r["k_asked"])) for r in _rows(tmp_path / "summary.csv")]
    assert list(dict.fromkeys(m for m, _ in in_file)) == ["slic", "felzenszwalb", "lnsnet"]
    earlier = {(r["method"], int(r["k_asked"])) for r in _rows(out / "summary.csv")}
    assert earlier <= set(in_file) and len(in_file) == len(earlier | {("felzenszwalb", 10)})
    # a run on fewer images keeps only the methods that have rows for all of its images
    rows = _rows(tmp_path / "rows.csv")
    with open(tmp_path / "rows.csv", "w", newline="") as fh:  # lnsnet at K=20 loses image img0
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows([r for r in rows if not (r["method"] == "lnsnet" and r["k_asked"] == "20"
                                             and r["image"] == "img0")])
    run_benchmark(dataset, methods="felzenszwalb", ks=[10], out_dir=tmp_path, workers=0, limit=2, progress=False)
    in_file = {(r["method"], int(r["k_asked"])): int(r["n_images"]) for r in _rows(tmp_path / "summary.csv")}
    assert ("lnsnet", 20) not in in_file and in_file[("lnsnet", 10)] == 2 and in_file[("slic", 20)] == 2


def test_limit_uses_first_images(dataset, tmp_path):
    summary = run_benchmark(dataset, methods=["slic"], ks=[10], out_dir=tmp_path, workers=0,
                            limit=2, progress=False)  # fmt: skip
    assert [r["image"] for r in _rows(tmp_path / "rows.csv")] == ["img0", "img1"]
    assert summary[0]["n_images"] == 2


def test_summarize_means_and_median():
    def row(method, k, image, kd, t, asa):
        base = {c: "0" for c in ROW_COLUMNS}
        base.update(method=method, k_asked=str(k), image=image, k_delivered=str(kd),
                    time_s=str(t), asa_best=str(asa), asa_mean=str(asa - 0.1), ev="nan")  # fmt: skip
        return base

    rows = [row("b", 10, "x", 9, 0.1, 0.8), row("a", 10, "x", 11, 0.3, 0.9),
            row("b", 10, "y", 12, 0.2, 0.6), row("b", 10, "z", 30, 0.9, 1.0),
            row("b", 5, "x", 5, 0.4, 0.5)]  # fmt: skip
    s = summarize(rows)
    # first-seen method order (b, a), then K ascending
    assert [(r["method"], r["k_asked"]) for r in s] == [("b", 5), ("b", 10), ("a", 10)]
    b10 = s[1]
    assert b10["n_images"] == 3
    assert b10["k_delivered"] == pytest.approx((9 + 12 + 30) / 3)
    assert b10["asa"] == pytest.approx((0.8 + 0.6 + 1.0) / 3)
    assert b10["asa_mean"] == pytest.approx((0.7 + 0.5 + 0.9) / 3)  # mean over annotators, then images
    assert b10["time_s_median"] == pytest.approx(0.2)  # median, not the mean 0.4
    # the spread over images, by hand: ASA 0.8, 0.6, 1.0 -> mean 0.8, squares 0.04 + 0.04 + 0 over n - 1 = 2
    assert b10["asa_std"] == pytest.approx(0.2) and b10["k_delivered_std"] == pytest.approx(np.std([9, 12, 30], ddof=1))
    assert math.isnan(s[0]["asa_std"])  # one image: no spread
    assert math.isnan(b10["ev"])  # no image, no EV
    md = summary_markdown(s)
    assert "| b | 10 | 17.0 | 0.8000 |" in md and "| - |" in md  # NaN shown as '-'
    assert md.splitlines()[0].endswith("| ASA (mean ann.) | BR (mean ann.) | UE (mean ann.) | as --methods |")
    assert "| 3 | 0.7000 | 0.0000 | 0.0000 |" in md
    vmd = summary_markdown(s, volume=True)  # one label volume each: no mean-annotator columns, volumes counted
    head = vmd.splitlines()[0]
    assert head.endswith("| Time (ms) | Volumes | as --methods |") and "mean ann." not in head
    assert all(line.count("|") == head.count("|") for line in vmd.splitlines()[:4])


# --------------------------------------------------------------------------- CLI


def _parser():
    return build_parser()


def test_cli_subcommand(dataset, tmp_path, capsys):
    out = tmp_path / "cli"
    args = _parser().parse_args([
        "benchmark", "--dataset", str(dataset), "--methods", "slic", "--k", "10,20",
        "-o", str(out), "--workers", "0", "--no-plots", "--radius", "2",
    ])  # fmt: skip
    assert args.func(args) == 0
    printed = capsys.readouterr().out
    assert "| SLIC | 10 |" in printed and "| SLIC | 20 |" in printed
    assert len(_rows(out / "rows.csv")) == 2 * N_IMAGES
    assert (out / "summary.md").is_file() and not (out / "asa.png").exists()
    assert json.loads((out / "meta.json").read_text())["settings"]["r"] == 2
    # same folder, another radius: refused rather than mixing rows
    args = _parser().parse_args(["benchmark", "--dataset", str(dataset), "--methods", "slic",
                                 "--k", "10", "-o", str(out), "-q"])  # fmt: skip
    with pytest.raises(ValueError, match="r=2"):
        args.func(args)


def test_cli_unknown_method_lists_known(dataset, tmp_path):
    args = _parser().parse_args(["benchmark", "--dataset", str(dataset), "--methods",
                                 "slic,nosuch", "-o", str(tmp_path), "-q"])  # fmt: skip
    with pytest.raises(ValueError, match="unknown method 'nosuch'; known: lnsnet, ") as exc:
        args.func(args)
    for name in known_methods():
        assert name in str(exc.value)
    assert not (tmp_path / "rows.csv").exists()


@pytest.mark.parametrize("kwargs, message", [
    ({"ks": "10,abc"}, "comma-separated positive integers"),
    ({"ks": [0]}, "positive integers"),
    ({"ks": [10, 10]}, "more than once"),
    ({"methods": ""}, "methods is empty"),
    ({"workers": -1}, "workers must be an integer >= 0"),
    ({"limit": 0}, "limit must be an integer >= 1"),
    ({"r": -1}, "radius r must be an integer >= 0"),
])  # fmt: skip
def test_bad_options(dataset, tmp_path, kwargs, message):
    opts = {"methods": "slic", "ks": [10], "out_dir": tmp_path, "workers": 0,
            "progress": False, **kwargs}  # fmt: skip
    with pytest.raises(ValueError, match=message):
        run_benchmark(dataset, **opts)


def test_folder_without_labels(tmp_path):
    (tmp_path / "images").mkdir()
    with pytest.raises(FileNotFoundError, match="labels/"):
        run_benchmark(tmp_path, methods="slic", ks=[10], out_dir=tmp_path / "o", workers=0)


def test_failing_method_names_method_k_and_image(dataset, tmp_path, monkeypatch):
    import lnsnet.inference

    def broken(image, k, **kw):
        raise ValueError("broken on purpose")

    monkeypatch.setattr(lnsnet.inference, "segment", broken)  # workers=0: this process
    with pytest.raises(RuntimeError, match=r"lnsnet with K=50 on image 'img0'.*broken on purpose"):
        run_benchmark(dataset, methods="lnsnet", ks=[50], out_dir=tmp_path, workers=0,
                      progress=False)  # fmt: skip


def test_missing_model_file_fails_before_any_work(dataset, tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.pt"):
        run_benchmark(dataset, methods="lnsnet", ks=[10], out_dir=tmp_path / "o", workers=1,
                      model=tmp_path / "nope.pt", progress=False)  # fmt: skip
    assert not (tmp_path / "o" / "rows.csv").exists()


def test_summary_does_not_depend_on_row_order(first_run):
    """Rows arrive in any order from parallel workers (or Ray); the means must not move."""
    out, summary = first_run
    rows = _rows(out / "rows.csv")
    rng = np.random.default_rng(0)
    for _ in range(5):
        shuffled = [rows[i] for i in rng.permutation(len(rows))]
        assert summarize(shuffled, methods=METHODS) == summarize(rows, methods=METHODS)


def test_lnsnet_option_methods_run_segment_with_those_options(dataset, tmp_path):
    """``lnsnet:key=value`` methods are rows of their own and give exactly what
    ``lnsnet.segment`` gives with those options (score recomputed from the labels)."""
    import lnsnet
    from lnsnet.eval.datasets import FolderDataset
    from lnsnet.eval.metrics import score

    methods = "lnsnet,lnsnet:compactness=5,lnsnet:mode=dense:seeds=learned"
    run_benchmark(str(dataset), methods=methods, ks=[10], out_dir=tmp_path, workers=0, progress=False)
    rows = _rows(tmp_path / "rows.csv")
    assert sorted({r["method"] for r in rows}) == sorted(methods.split(","))
    sample = FolderDataset(dataset / "images", dataset / "labels")[0]
    for method, opts in [("lnsnet:compactness=5", {"compactness": 5.0}),
                         ("lnsnet:mode=dense:seeds=learned", {"clustering": "mode=dense:seeds=learned"})]:
        row = next(r for r in rows if r["method"] == method and r["image"] == sample.name)
        expect = score(lnsnet.segment(sample.image, 10, **opts), sample.ground_truths)
        assert float(row["asa_best"]) == pytest.approx(expect["asa_best"], abs=1e-9)
        assert float(row["co"]) == pytest.approx(expect["co"], abs=1e-9)
    # a strong shape prior really changes the result (the option reached segment)
    co = {m: np.mean([float(r["co"]) for r in rows if r["method"] == m]) for m in ("lnsnet", "lnsnet:compactness=5")}
    assert co["lnsnet:compactness=5"] != co["lnsnet"]


def test_lnsnet_method_names_are_clustering_specs():
    from lnsnet import ClusterOptions
    from lnsnet.eval.methods import lnsnet_clustering

    assert lnsnet_clustering("lnsnet") == ClusterOptions()
    assert lnsnet_clustering("lnsnet:window=5:compactness=0.5") == ClusterOptions(window=5, compactness=0.5)
    paper = ClusterOptions(**lnsnet_paper())
    assert lnsnet_clustering("lnsnet:clustering=paper") == paper
    assert lnsnet_clustering("lnsnet:clustering=paper:compactness=1") == paper.replace(compactness=1.0)
    assert lnsnet_clustering("lnsnet:smoothing=0") == ClusterOptions(smoothing=0.0, feature_contrast=0.0)
    assert lnsnet_clustering("lnsnet:clustering=compact:iterations=2").iterations == 2
    for bad in ("lnsnet:mode=dense:feature_contrast=1", "lnsnet:clustering=paper:feature_contrast=4",
                "lnsnet:mode=dense:smoothing=2"):
        with pytest.raises(ValueError, match="method 'lnsnet:"):
            lnsnet_clustering(bad)


def lnsnet_paper():
    return dict(features="learned", compactness=0.0, edge_scale=0.0, iterations=0, smoothing=0.0, feature_contrast=0.0, input_weight=0.0,
                blur=0.0, contour=0.0)


@pytest.mark.parametrize("method, message", [
    ("lnsnet:foo=1", "unknown clustering option 'foo'"),
    ("lnsnet:seeds", "needs a value: seeds=VALUE"),
    ("lnsnet:seeds=random", "allowed: 'grid', 'learned'"),
    ("lnsnet:compactness=abc", "is not a number"),
    ("lnsnet:compactness=-1", "finite number >= 0"),
    ("lnsnet:mode=dense:mode=local", "given twice"),
    ("lnsnet:window=4", "positive odd integer"),
    ("lnsnet:window=five", "not an integer"),
    ("lnsnet:iterations=-1", "iterations must be an integer >= 0"),
    ("lnsnet:iterations=1.5", "not an integer"),
    ("lnsnet:smoothing=-2", "finite number >= 0"),
    ("lnsnet:clustering=fancy", "allowed: 'compact', 'fast', 'paper'"),
])  # fmt: skip
def test_bad_lnsnet_options(dataset, tmp_path, method, message):
    with pytest.raises(ValueError, match=message):
        run_benchmark(dataset, methods=method, ks=[10], out_dir=tmp_path, workers=0, progress=False)
    assert not (tmp_path / "rows.csv").exists()


def _other_model(tmp_path, name: str):
    """The shipped model with its embedder's weights negated, saved beside ``tmp_path``: a
    retrained model, as far as a benchmark folder can tell."""
    import torch

    import lnsnet
    from lnsnet import checkpoint

    other = lnsnet.load_model()
    with torch.no_grad():
        for p in other.embedder.parameters():
            p.mul_(-1.0)
    path = tmp_path.parent / f"{tmp_path.name}-{name}.pt"
    checkpoint.save(path, other)
    return path


def test_redo_recomputes_one_method_and_accepts_a_new_model(dataset, tmp_path):
    """--redo drops the named method's rows (only those) and recomputes them; with no
    LNS-Net row left a different model may follow, otherwise it is refused."""
    from lnsnet import checkpoint

    run_benchmark(str(dataset), methods="lnsnet,slic", ks=[10], out_dir=tmp_path, workers=0, progress=False)
    before = {(r["method"], r["image"]): r for r in _rows(tmp_path / "rows.csv")}
    path = _other_model(tmp_path, "other")
    with pytest.raises(ValueError, match="holds rows made with model="):
        run_benchmark(str(dataset), methods="lnsnet,slic", ks=[10], out_dir=tmp_path, workers=0,
                      progress=False, model=str(path))
    run_benchmark(str(dataset), methods="lnsnet,slic", ks=[10], out_dir=tmp_path, workers=0,
                  progress=False, model=str(path), redo="lnsnet")
    after = {(r["method"], r["image"]): r for r in _rows(tmp_path / "rows.csv")}
    assert after.keys() == before.keys()
    for key, row in after.items():
        if key[0] == "slic":
            assert row == before[key]  # kept as they were, times included
    changed = [k for k in after if k[0] == "lnsnet" and after[k]["time_s"] != before[k]["time_s"]]
    assert len(changed) == N_IMAGES  # every lnsnet row computed again
    meta = json.loads((tmp_path / "meta.json").read_text())
    assert meta["settings"]["model"]["sha256"] == checkpoint.sha256(path)


def test_model_option_in_method_names(dataset, tmp_path):
    from lnsnet.eval.methods import lnsnet_clustering, lnsnet_model

    assert lnsnet_model("lnsnet") is None and lnsnet_model("lnsnet:model=none") == "none"
    assert lnsnet_clustering("lnsnet:model=untrained:clustering=paper").compactness == 0.0
    with pytest.raises(ValueError, match="unknown model 'nosuch'"):
        lnsnet_clustering("lnsnet:model=nosuch")
    with pytest.raises(ValueError, match="a model file of your own: -m FILE"):  # where a file goes
        lnsnet_clustering("lnsnet:model=my.pt")
    with pytest.raises(ValueError, match="twice"):
        lnsnet_clustering("lnsnet:model=none:model=untrained")
    with pytest.raises(ValueError, match="seeds=grid only"):
        lnsnet_clustering("lnsnet:model=none:seeds=learned")
    run_benchmark(str(dataset), methods="lnsnet,lnsnet:model=none", ks=[10], out_dir=tmp_path, workers=0,
                  progress=False)
    rows = _rows(tmp_path / "rows.csv")
    assert {r["method"] for r in rows} == {"lnsnet", "lnsnet:model=none"}
    import lnsnet
    from lnsnet.eval.datasets import FolderDataset
    from lnsnet.eval.metrics import score

    sample = FolderDataset(dataset / "images", dataset / "labels")[0]
    row = next(r for r in rows if r["method"] == "lnsnet:model=none" and r["image"] == sample.name)
    expect = score(lnsnet.segment(sample.image, 10, model="none"), sample.ground_truths)
    assert float(row["br_best"]) == pytest.approx(expect["br_best"], abs=1e-9)


def test_baseline_options_in_method_names(dataset, tmp_path):
    from lnsnet.eval.methods import baseline_options

    assert baseline_options("slic") == ("slic", {})
    assert baseline_options("seeds:num_levels=5:prior=3") == ("seeds", {"num_levels": 5, "prior": 3})
    assert baseline_options("slic:slic_zero=true") == ("slic", {"slic_zero": True})
    assert baseline_options("lnsnet") is None
    assert baseline_options("slico:compactness=5") == ("slico", {"compactness": 5.0})
    assert baseline_options("felzenszwalb:min_size=20") == ("felzenszwalb", {"min_size": 20})  # default None
    for bad, message in (("slic:foo=1", "slic takes KEY=VALUE"), ("slic:compactness=x", "not a finite float"),
                         ("seeds:prior=2.5", "not a finite int"), ("slic:sigma=1:sigma=2", "twice"),
                         ("slic:compactness=nan", "not a finite float")):
        with pytest.raises(ValueError, match=message):
            baseline_options(bad)
    from lnsnet.eval.methods import check_methods

    assert check_methods("SLIC:compactness=5, LNSNet:model=none") == ["slic:compactness=5", "lnsnet:model=none"]
    for same in ("slic:compactness=20,slic:compactness=20.0", "lnsnet,lnsnet:clustering=fast"):
        with pytest.raises(ValueError, match="same setting"):
            check_methods(same)
    run_benchmark(str(dataset), methods="slic,slic:compactness=100", ks=[10], out_dir=tmp_path, workers=0,
                  progress=False)
    rows = _rows(tmp_path / "rows.csv")
    from lnsnet.eval.baselines import slic
    from lnsnet.eval.datasets import FolderDataset
    from lnsnet.eval.metrics import score

    sample = FolderDataset(dataset / "images", dataset / "labels")[0]
    row = next(r for r in rows if r["method"] == "slic:compactness=100" and r["image"] == sample.name)
    want, default = (score(slic(sample.image, 10, compactness=c), sample.ground_truths) for c in (100.0, 10.0))
    assert float(row["co"]) == pytest.approx(want["co"], abs=1e-12)  # the option reached skimage's slic
    assert want["co"] != default["co"]


def test_rows_of_another_clustering_version_are_not_mixed_in(dataset, tmp_path, monkeypatch):
    """A folder whose LNS-Net rows were made by another version of lnsnet's clustering is
    refused (a resume would otherwise keep them beside new ones); --redo replaces them."""
    import lnsnet.cluster

    run_benchmark(str(dataset), methods="lnsnet,slic", ks=[10], out_dir=tmp_path, workers=0, progress=False)
    assert json.loads((tmp_path / "meta.json").read_text())["settings"]["clustering_version"] == \
        lnsnet.cluster.CLUSTERING_VERSION
    monkeypatch.setattr(lnsnet.cluster, "CLUSTERING_VERSION", lnsnet.cluster.CLUSTERING_VERSION + 1)
    with pytest.raises(ValueError, match="holds rows made with clustering_version="):
        run_benchmark(str(dataset), methods="lnsnet,slic", ks=[10], out_dir=tmp_path, workers=0, progress=False)
    run_benchmark(str(dataset), methods="lnsnet,slic", ks=[10], out_dir=tmp_path, workers=0, progress=False,
                  redo="lnsnet")
    meta = json.loads((tmp_path / "meta.json").read_text())
    assert meta["settings"]["clustering_version"] == lnsnet.cluster.CLUSTERING_VERSION


def test_a_rerun_recomputes_the_rows_of_an_edited_label_file(tmp_path):
    data = _make_dataset(tmp_path / "data")
    out = tmp_path / "out"
    run_benchmark(str(data), methods="slic", ks=[10], out_dir=out, workers=0, progress=False)
    before = {r["image"]: r for r in _rows(out / "rows.csv")}
    lab = np.load(data / "labels" / "img1.npy")
    import os

    os.utime(data / "labels" / "img1.npy", ns=(1, 10**18))  # touched (a copy, a new mount): the same contents
    run_benchmark(str(data), methods="slic", ks=[10], out_dir=out, workers=0, progress=False)
    assert json.loads((out / "meta.json").read_text())["rows_computed"] == 0
    np.save(data / "labels" / "img1.npy", lab[:1])  # one annotation left of two
    with pytest.warns(UserWarning, match="1 image"):
        run_benchmark(str(data), methods="slic", ks=[10], out_dir=out, workers=0, progress=False)
    after = {r["image"]: r for r in _rows(out / "rows.csv")}
    assert after["img1"]["n_annotations"] == "1" != before["img1"]["n_annotations"]
    assert after["img0"] == before["img0"]  # the others reused
    assert json.loads((out / "meta.json").read_text())["rows_computed"] == 1


def test_folder_dataset_options_a_user_passes(tmp_path):
    import tifffile

    data = _make_dataset(tmp_path / "data", n=2)
    lab = np.load(data / "labels" / "img0.npy")[0]
    (data / "labels" / "img0.npy").unlink()
    tifffile.imwrite(data / "labels" / "img0.tif", lab.astype(np.uint16))  # cellpose's masks
    (tmp_path / "list.txt").write_text("img0.png\nimg1\n")
    out = tmp_path / "out"
    run_benchmark(str(data), methods="slic", ks=[10], out_dir=out, workers=0, progress=False,
                  images_list=str(tmp_path / "list.txt"))
    assert sorted(r["image"] for r in _rows(out / "rows.csv")) == ["img0", "img1"]
    with pytest.raises(ValueError, match="--split"):
        run_benchmark(str(data), methods="slic", ks=[10], out_dir=tmp_path / "o2", workers=0, progress=False,
                      split="val")


def test_images_of_more_than_8_bits_keep_their_contrast(tmp_path):
    import tifffile

    import lnsnet.eval.datasets as dsets
    from lnsnet.eval.datasets import read_rgb8

    dim = np.tile(np.arange(100, 900, dtype=np.uint16), (4, 1))  # a dim 12-bit gradient: 100..899
    tifffile.imwrite(tmp_path / "dim.tif", dim)
    dsets._STRETCHED = False
    with pytest.warns(UserWarning, match="stretched"):
        rgb = read_rgb8(tmp_path / "dim.tif")
    assert rgb.dtype == np.uint8 and rgb.shape == (4, 800, 3)
    assert rgb[0, 0, 0] == 0 and rgb[0, -1, 0] == 255 and len(np.unique(rgb)) == 256  # was 0..3 (v // 257)
    np.testing.assert_array_equal(rgb[0, :, 0], np.round((np.arange(800) * 255 / 799)).astype(np.uint8))
    tifffile.imwrite(tmp_path / "small.tif", (dim // 4).astype(np.uint16))  # values 25..224 fit 8 bits: as they are
    assert read_rgb8(tmp_path / "small.tif")[0, 0, 0] == 25


def test_boundary_flood_as_a_method(dataset, tmp_path):
    """``lnsnet:boundaries=bright`` scores segment(boundaries=) (no model recorded, the
    flood's version is); its options are checked by name."""
    import lnsnet
    from lnsnet.eval.methods import check_methods, lnsnet_boundaries

    assert lnsnet_boundaries("lnsnet:boundaries=dark:compactness=0.05") == ("dark", 0.05)
    assert lnsnet_boundaries("lnsnet:clustering=paper") is None and lnsnet_boundaries("slic") is None
    for bad in ("lnsnet:boundaries=grey", "lnsnet:boundaries=bright:window=5",
                "lnsnet:boundaries=bright:compactness=-1", "lnsnet:boundaries=bright:boundaries=dark"):
        with pytest.raises(ValueError, match="method"):
            check_methods(bad)
    with pytest.raises(ValueError, match="same setting"):
        check_methods("lnsnet:boundaries=bright:compactness=0.2,lnsnet:compactness=0.2:boundaries=bright")
    summary = run_benchmark(dataset, methods="lnsnet:boundaries=bright,slic", ks=[10], out_dir=tmp_path,
                            workers=0, progress=False)
    rows = [r for r in _rows(tmp_path / "rows.csv") if r["method"] == "lnsnet:boundaries=bright"]
    assert len(rows) == N_IMAGES and {s["method"] for s in summary} == {"lnsnet:boundaries=bright", "slic"}
    img = np.asarray(Image.open(dataset / "images" / "img0.png"))
    lab = lnsnet.segment(img, 10, boundaries="bright", start_label=0)
    row = next(r for r in rows if r["image"] == "img0")
    assert int(row["k_delivered"]) == lab.max() + 1 and int(row["n_disconnected"]) == 0
    meta = json.loads((tmp_path / "meta.json").read_text())["settings"]
    from lnsnet.flood import VERSION

    assert meta["model"] is None and meta["boundaries_version"] == VERSION


def test_redo_of_a_method_not_run_is_refused(first_run, dataset, tmp_path):
    """--redo of a method not in --methods would delete its rows and make none: refused,
    and the folder's rows are untouched."""
    out, _ = first_run
    (tmp_path / "rows.csv").write_bytes((out / "rows.csv").read_bytes())
    before = (tmp_path / "rows.csv").read_bytes()
    with pytest.raises(ValueError, match="redo names 'lnsnet'"):
        run_benchmark(dataset, methods="slic", ks=[10], out_dir=tmp_path, workers=0, progress=False, redo="lnsnet")
    assert (tmp_path / "rows.csv").read_bytes() == before


def test_redo_that_matches_no_rows_says_so(first_run, dataset, tmp_path):
    """--redo of a method spelled otherwise than its rows: a warning naming the folder's
    methods; nothing deleted."""
    out, _ = first_run
    (tmp_path / "rows.csv").write_bytes((out / "rows.csv").read_bytes())
    with pytest.warns(UserWarning, match="no rows of 'slic:compactness=5'"):
        run_benchmark(dataset, methods="slic:compactness=5", ks=[10], out_dir=tmp_path, workers=0, progress=False,
                      redo="slic:compactness=5")
    rows = _rows(tmp_path / "rows.csv")
    assert {r["method"] for r in rows} >= {"slic", "lnsnet"}
    # the new method's rows are of the dataset's images (the warning's list of methods once
    # took the place of the image names)
    assert {r["image"] for r in rows if r["method"] == "slic:compactness=5"} == {r["image"] for r in rows
                                                                               if r["method"] == "slic"}


def test_a_refused_run_changes_nothing_and_model_free_rows_do_not_block_a_redo(dataset, tmp_path):
    """A researcher's review: a --redo refused for another radius deleted the rows first;
    rows of lnsnet:model=none (which do not use -m) refused a --redo lnsnet with a retrained
    model; images added to the folder refused every rerun; two runs' rows of one image were
    counted twice in the summary."""
    import shutil

    from lnsnet import checkpoint
    from lnsnet.eval.benchmark import summarize

    run_benchmark(str(dataset), methods="lnsnet,lnsnet:model=none,slic", ks=[10], out_dir=tmp_path, workers=0,
                  progress=False)
    before = (tmp_path / "rows.csv").read_bytes()
    with pytest.raises(ValueError, match="r=1"):
        run_benchmark(str(dataset), methods="slic", ks=[10], out_dir=tmp_path, workers=0, progress=False, r=2,
                      redo="slic")
    assert (tmp_path / "rows.csv").read_bytes() == before
    path = _other_model(tmp_path, "retrained")
    run_benchmark(str(dataset), methods="lnsnet,lnsnet:model=none,slic", ks=[10], out_dir=tmp_path, workers=0,
                  progress=False, model=str(path), redo="lnsnet")
    assert json.loads((tmp_path / "meta.json").read_text())["settings"]["model"]["sha256"] == checkpoint.sha256(path)
    # a dataset that grows: the rows made before stand, the new image's are added
    grown = _make_dataset(tmp_path.parent / f"{tmp_path.name}-grown", n=N_IMAGES)
    out = tmp_path.parent / f"{tmp_path.name}-grown-out"
    run_benchmark(str(grown), methods="slic", ks=[10], out_dir=out, workers=0, progress=False)
    shutil.copy(grown / "images" / "img0.png", grown / "images" / "extra.png")
    shutil.copy(grown / "labels" / "img0.npy", grown / "labels" / "extra.npy")
    summary = run_benchmark(str(grown), methods="slic", ks=[10], out_dir=out, workers=0, progress=False)
    assert summary[0]["n_images"] == N_IMAGES + 1
    rows = _rows(out / "rows.csv")
    doubled = summarize(rows + rows)
    assert doubled[0]["n_images"] == N_IMAGES + 1 and doubled[0]["asa"] == pytest.approx(summary[0]["asa"])


def test_one_run_at_a_time_writes_to_a_folder(dataset, tmp_path):
    """A lock held by the run: a second run into the folder is refused while the first
    lives, a run that died holds nothing, and no lock file is left after a run."""
    from conftest import lock_held_elsewhere
    from lnsnet.eval.benchmark import LOCK_FILE

    with lock_held_elsewhere(tmp_path / LOCK_FILE) as other:
        with pytest.raises(ValueError, match=rf"another run \(process {other.pid} on "):
            run_benchmark(str(dataset), methods="slic", ks=[10], out_dir=tmp_path, workers=0, progress=False)
        assert not (tmp_path / "rows.csv").exists()
    run_benchmark(str(dataset), methods="slic", ks=[10], out_dir=tmp_path, workers=0, progress=False)  # it died
    assert (tmp_path / "rows.csv").exists() and not (tmp_path / LOCK_FILE).exists()


def test_plots_say_what_was_measured(first_run):
    """The figures' heading names the data set, its size, the tolerance and the annotator
    rule (a paper's caption needs them)."""
    from lnsnet.eval.plots import _caption, _read_summary

    out, _ = first_run
    caption = _caption(out / "summary.csv", _read_summary(out / "summary.csv"), False)
    assert caption == f"data, {N_IMAGES} images, boundary tolerance r = 1 px, best annotator per image"


def test_a_bad_image_or_label_map_stops_the_run_before_any_work(tmp_path):
    """A label map of another size, an image of 2 channels or an annotation all ignore stopped
    a run only when its turn came (hours in); they are listed together before any row now.
    Labels whose extension is upper case are found, and macOS's ._NAME files are no images."""
    import tifffile

    root = _make_dataset(tmp_path / "d", n=2)
    (root / "labels" / "img1.npy").rename(root / "labels" / "img1.NPY")  # found all the same
    (root / "images" / "._img0.png").write_bytes(b"\0\5\x16\7")  # an AppleDouble fork, not an image
    out = tmp_path / "o"
    run_benchmark(str(root), methods="slic", ks=[10], out_dir=out, workers=0, progress=False)
    assert len(_rows(out / "rows.csv")) == 2
    with pytest.raises(ValueError, match="no method of this run uses a model"):  # a misspelt -m went unseen
        run_benchmark(str(root), methods="slic", ks=[10], out_dir=out, workers=0, progress=False, model="nosuch")
    np.save(root / "labels" / "img2.npy", np.zeros((31, 40), np.int32))  # one row short
    Image.fromarray(np.zeros((32, 40, 3), np.uint8)).save(root / "images" / "img2.png")
    tifffile.imwrite(root / "images" / "img3.tif", np.zeros((32, 40, 2), np.uint16), photometric="minisblack",
                     planarconfig="contig", metadata={"axes": "YXC"})
    np.save(root / "labels" / "img3.npy", np.zeros((32, 40), np.int32))
    out2 = tmp_path / "o2"
    with pytest.raises(ValueError, match=r"(?s)2 problem\(s\).*img2.npy: annotation 0 has shape \(31, 40\).*img3.tif: 2 "
                                         r"channels"):
        run_benchmark(str(root), methods="slic", ks=[10], out_dir=out2, workers=0, progress=False)
    assert not (out2 / "rows.csv").exists()
    with pytest.raises(ValueError, match="compactness must be a number >= 0"):
        run_benchmark(str(root), methods="slic:compactness=-5", ks=[10], out_dir=out2, workers=0, progress=False)
