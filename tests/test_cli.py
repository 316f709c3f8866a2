import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import blocks_image, is_connected_labels
from lnsnet.cli import main
from lnsnet.io import read_labels

EXAMPLE = Path(__file__).resolve().parents[1] / "src" / "lnsnet" / "examples" / "coffee.jpg"


def test_segment_writes_labels_and_overlay(tmp_path, capsys):
    img = tmp_path / "in.png"
    Image.fromarray((blocks_image() * 255).astype(np.uint8)).save(img)
    assert main(["segment", str(img), "-k", "12", "-o", str(tmp_path / "out")]) == 0
    png, npy = tmp_path / "out" / "in_labels.png", tmp_path / "out" / "in_labels.npy"
    a, b = read_labels(png), read_labels(npy)
    assert np.array_equal(a, b) and a.shape == (48, 64) and is_connected_labels(a)
    ov = np.array(Image.open(tmp_path / "out" / "in_overlay.png"))
    assert ov.shape == (48, 64, 3)
    assert "superpixels" in capsys.readouterr().out


def test_segment_shipped_example_folder(tmp_path):
    assert main(["segment", str(EXAMPLE.parent), "-k", "50", "-o", str(tmp_path), "-q"]) == 0
    lab = read_labels(tmp_path / "coffee_labels.npy")
    assert lab.shape == (400, 600) and 40 <= len(np.unique(lab)) <= 60


def test_errors_are_one_line_exit_2(tmp_path):
    r = subprocess.run([sys.executable, "-m", "lnsnet.cli", "segment", str(tmp_path / "missing.jpg"), "-o",
                        str(tmp_path)], capture_output=True, text=True)
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0 and "missing.jpg" in r.stderr and "Traceback" not in r.stderr
    r = subprocess.run([sys.executable, "-m", "lnsnet.cli", "segment", str(EXAMPLE), "-o", str(tmp_path),
                        "-m", str(EXAMPLE)], capture_output=True, text=True)
    assert r.returncode == 2 and "not" in r.stderr and "Traceback" not in r.stderr


def test_segment_compactness_and_window_options(tmp_path):
    import lnsnet

    img = tmp_path / "in.png"
    pixels = (blocks_image() * 255).astype(np.uint8)
    Image.fromarray(pixels).save(img)
    args = ["segment", str(img), "-k", "12", "-q", "--no-overlay"]
    assert main(args + ["-o", str(tmp_path / "a"), "--compactness", "2", "--clustering", "window=5"]) == 0
    got = read_labels(tmp_path / "a" / "in_labels.npy")
    assert np.array_equal(got, lnsnet.segment(pixels, 12, compactness=2.0, clustering="window=5"))
    assert main(args + ["-o", str(tmp_path / "p"), "--clustering", "compact"]) == 0
    got = read_labels(tmp_path / "p" / "in_labels.npy")
    assert np.array_equal(got, lnsnet.segment(pixels, 12, clustering=lnsnet.ClusterOptions(**lnsnet.PRESETS["compact"])))
    assert main(args + ["-o", str(tmp_path / "q"), "--clustering", "compact:iterations=2"]) == 0
    got = read_labels(tmp_path / "q" / "in_labels.npy")
    assert np.array_equal(got, lnsnet.segment(pixels, 12, clustering=lnsnet.ClusterOptions.resolve("compact", iterations=2)))
    assert not np.array_equal(got, read_labels(tmp_path / "p" / "in_labels.npy"))
    assert main(args + ["-o", str(tmp_path / "c")]) == 0  # the default is the fast preset
    got = read_labels(tmp_path / "c" / "in_labels.npy")
    assert np.array_equal(got, lnsnet.segment(pixels, 12, clustering=lnsnet.ClusterOptions(**lnsnet.PRESETS["fast"])))
    assert not np.array_equal(got, read_labels(tmp_path / "p" / "in_labels.npy"))
    assert main(args + ["-o", str(tmp_path / "r"), "--clustering", "paper"]) == 0
    got = read_labels(tmp_path / "r" / "in_labels.npy")
    assert np.array_equal(got, lnsnet.segment(pixels, 12, clustering=lnsnet.ClusterOptions(**lnsnet.PRESETS["paper"])))
    assert not np.array_equal(got, read_labels(tmp_path / "p" / "in_labels.npy"))
    for bad, named in ((["--clustering", "window=4"], "window"), (["--compactness", "-1"], "--compactness"),
                       (["--clustering", "iterations=-2"], "iterations"), (["--clustering", "smoothing=nan"], "smoothing"),
                       (["--clustering", "paper:feature_contrast=4"], "needs smoothing"),
                       (["--clustering", "mode=dense:smoothing=1"], "mode='local'"),
                       (["--clustering", "compact:mode=dense"], "mode='local'"),
                       (["--clustering", "fancy"], "allowed: 'compact', 'fast', 'paper'"),
                       (["--mode", "dense"], "unrecognized arguments")):
        r = subprocess.run([sys.executable, "-m", "lnsnet.cli"] + args + ["-o", str(tmp_path / "b")] + bad,
                           capture_output=True, text=True)
        assert r.returncode == 2 and named in r.stderr and "Traceback" not in r.stderr, (bad, r.stderr)
        assert r.stderr.count("\n") == 1, r.stderr  # one line


def test_info_reports_parameters_and_flops(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert "parameters: 15,449" in out and "FLOPs" in out and "1.112 G multiply-adds" in out
    assert "contour head 4,297" in out and "contour head 0.330 G" in out


def test_info_says_what_a_trained_model_started_from(tmp_path, capsys):
    f = _two_images(tmp_path)[0]
    out = tmp_path / "head.pt"
    assert main(["train", str(f), "-o", str(out), "--init", "bsds500", "--contours-only", "--contour-iterations", "1",
                 "-k", "6", "--threads", "1", "-q"]) == 0
    capsys.readouterr()
    assert main(["info", "-m", str(out)]) == 0
    said = capsys.readouterr().out
    assert "training: 1 image(s) of a stream, the contour head alone, from bsds500 (sha256 " in said
    new = tmp_path / "new.pt"
    assert main(["train", str(f), "-o", str(new), "--iterations", "1", "--contour-iterations", "0", "-k", "6",
                 "--threads", "1", "-q"]) == 0
    capsys.readouterr()
    assert main(["info", "-m", str(new)]) == 0
    assert "the whole network, from a new network" in capsys.readouterr().out


def test_info_on_a_3d_model(tmp_path, capsys):
    v = tmp_path / "v.npy"
    np.save(v, np.random.default_rng(0).random((8, 16, 16)).astype(np.float32))
    out = tmp_path / "m3.pt"
    assert main(["train", str(v), "-o", str(out), "--volume", "--iterations", "1", "-q"]) == 0
    capsys.readouterr()
    assert main(["info", "-m", str(out)]) == 0
    assert "a 3-D model (lnsnet train --volume" in capsys.readouterr().out


def test_help_lists_every_option():
    for cmd, opts in {
        "segment": ["--n-segments", "--output", "--model", "--compactness", "--clustering", "--device", "--adapt"],
        "train": ["--resume", "--checkpoint-every", "--iterations", "--feature-iterations", "--contour",
                  "--boundaries", "--n-segments", "--seed", "--lr", "--lr-decay-images", "--contour-iterations",
                  "--contours-only"],
        "info": ["--model"],
    }.items():
        r = subprocess.run([sys.executable, "-m", "lnsnet.cli", cmd, "--help"], capture_output=True, text=True)
        assert r.returncode == 0
        for o in opts:
            assert o in r.stdout, (cmd, o)
        # research knobs live in the clustering spec; ablation-only training flags are gone
        gone = {"segment": ["--mode", "--window", "--edge-scale", "--smoothing", "--feature-contrast", "--seeds",
                            "--compact "],
                "train": ["--no-gal", "--no-gbl", "--grid-seeds", "--gbl-mode"]}.get(cmd, [])
        for o in gone:
            assert not re.search(re.escape(o.strip()) + r"(?![\w-])", r.stdout), (cmd, o)


def test_folder_run_reports_bad_files_goes_on_and_skips_done(tmp_path, capsys):
    src = tmp_path / "in"
    src.mkdir()
    for i in range(2):
        Image.fromarray((blocks_image(seed=i) * 255).astype(np.uint8)).save(src / f"ok{i}.png")
    (src / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    out = tmp_path / "out"
    assert main(["segment", str(src), "-k", "8", "-o", str(out), "-q"]) == 2
    err = capsys.readouterr().err
    assert "broken.png" in err and "done: 2, failed: 1, skipped: 0" in err
    assert (out / "ok0_labels.npy").exists() and (out / "ok1_overlay.png").exists()
    assert not (out / "broken_labels.npy").exists()
    stamp = (out / "ok0_labels.npy").stat().st_mtime_ns
    (src / "broken.png").unlink()
    assert main(["segment", str(src), "-k", "8", "-o", str(out), "-q"]) == 0
    assert "done: 0, failed: 0, skipped: 2" in capsys.readouterr().err
    assert (out / "ok0_labels.npy").stat().st_mtime_ns == stamp
    assert main(["segment", str(src), "-k", "8", "-o", str(out), "-q", "--overwrite"]) == 0
    assert "done: 2" in capsys.readouterr().err


def test_train_passes_the_learning_rate_schedule(tmp_path):
    from lnsnet import checkpoint
    from lnsnet.train import TrainConfig

    files = []
    for i in range(2):
        files.append(tmp_path / f"im{i}.png")
        Image.fromarray((blocks_image(40, 56, seed=i) * 255).astype(np.uint8)).save(files[-1])
    common = ["--iterations", "2", "--feature-iterations", "1", "-k", "6", "-q", "--threads", "1"]
    out = tmp_path / "m.pt"
    assert main(["train", *map(str, files), "-o", str(out), "--lr", "1e-3", "--lr-decay-images", "1", *common]) == 0
    payload = checkpoint.load(out)
    assert payload["train_config"]["lr"] == 1e-3 and payload["train_config"]["lr_decay_images"] == 1.0
    assert payload["optimizer"]["param_groups"][0]["lr"] == 1e-3 / 2  # the second image: lr / (1 + 1/1)
    assert [h["lr"] for h in payload["history"]] == [1e-3, 1e-3 / 2]
    out2 = tmp_path / "d.pt"
    assert main(["train", str(files[0]), "-o", str(out2), *common]) == 0  # without --lr: the default
    assert checkpoint.load(out2)["train_config"]["lr"] == TrainConfig().lr
    # --iterations alone: the feature steps 4/5 of them (a default of 40 refused --iterations 5)
    out3 = tmp_path / "i.pt"
    assert main(["train", str(files[0]), "-o", str(out3), "--iterations", "5", "-k", "6", "-q", "--threads", "1"]) == 0
    assert checkpoint.load(out3)["train_config"]["feature_iterations"] == 4


def test_train_passes_the_contour_head_options(tmp_path, capsys):
    from lnsnet import checkpoint

    f = tmp_path / "im.png"
    Image.fromarray((blocks_image(40, 56, seed=3) * 255).astype(np.uint8)).save(f)
    out = tmp_path / "m.pt"
    assert main(["train", str(f), "-o", str(out), "--contours-only", "--contour-iterations", "2", "-q",
                 "--threads", "1"]) == 0
    payload = checkpoint.load(out)
    assert payload["train_config"]["contours_only"] is True and payload["train_config"]["contour_iterations"] == 2
    assert "contour_loss" in payload["history"][0] and "loss" not in payload["history"][0]
    assert main(["train", str(f), "-o", str(tmp_path / "bad.pt"), "--contour-iterations", "-1", "-q"]) == 2
    assert "--contour-iterations must be >= 0" in capsys.readouterr().err  # the flag's name, not the field's


def _two_images(tmp_path):
    files = []
    for i in range(2):
        files.append(tmp_path / f"im{i}.png")
        Image.fromarray((blocks_image(40, 56, seed=i) * 255).astype(np.uint8)).save(files[-1])
    return files


def test_train_reports_what_this_run_trained(tmp_path, capsys):
    files = _two_images(tmp_path)
    common = ["--iterations", "1", "--feature-iterations", "1", "--contour-iterations", "1", "-k", "6", "--threads", "1"]
    out = tmp_path / "m.pt"
    assert main(["train", *map(str, files), "-o", str(out), "--max-images", "1", "--resume", *common]) == 0
    cap = capsys.readouterr()
    assert "no checkpoint at" in cap.err and "trained on 1 image(s)" in cap.out  # --max-images counted
    assert main(["train", *map(str, files), "-o", str(out), "--resume", *common]) == 0
    cap = capsys.readouterr()
    assert "trained on 1 image(s)" in cap.out and "no checkpoint" not in cap.err  # the second, resumed
    assert main(["train", *map(str, files), "-o", str(out), "--resume", *common]) == 0
    assert "nothing left to train" in capsys.readouterr().out


def test_train_log_is_checked_before_training(tmp_path, capsys):
    files = _two_images(tmp_path)
    common = ["--iterations", "1", "--feature-iterations", "1", "--contour-iterations", "1", "-k", "6", "--threads",
              "1", "-q"]
    log = tmp_path / "log.jsonl"
    assert main(["train", str(files[0]), "-o", str(tmp_path / "a.pt"), "--log", str(log), *common]) == 0
    assert main(["train", str(files[0]), "-o", str(tmp_path / "b.pt"), "--log", str(log), *common]) == 2
    assert "--log" in capsys.readouterr().err and not (tmp_path / "b.pt").exists()
    assert main(["train", str(files[0]), "-o", str(tmp_path / "c.pt"), "--log", str(tmp_path / "no" / "l"),
                 *common]) == 2
    assert "cannot be written" in capsys.readouterr().err and not (tmp_path / "c.pt").exists()
    assert main(["train", *map(str, files), "-o", str(tmp_path / "a.pt"), "--log", str(log), "--overwrite",
                 *common]) == 0
    assert len(log.read_text().splitlines()) == 2  # this run's two records, not 1 + 2


def test_train_resume_of_a_damaged_checkpoint_is_not_called_new(tmp_path, capsys):
    files = _two_images(tmp_path)
    common = ["--iterations", "1", "--feature-iterations", "1", "--contour-iterations", "1", "-k", "6", "--threads", "1"]
    out = tmp_path / "m.pt"
    assert main(["train", str(files[0]), "-o", str(out), *common]) == 0
    out.write_bytes(out.read_bytes()[:100])
    capsys.readouterr()
    main(["train", *map(str, files), "-o", str(out), "--resume", *common])
    assert "no checkpoint" not in capsys.readouterr().err


def test_train_refuses_contradicting_flags_and_a_folder_as_output(tmp_path, capsys):
    files = _two_images(tmp_path)
    common = ["--iterations", "1", "--feature-iterations", "1", "--contour-iterations", "1", "-k", "6", "--threads", "1"]
    out = tmp_path / "m.pt"
    for extra, said in ((["--resume", "--overwrite"], "pass one of them"), (["--resume", "--init", "bsds500"], "pass one"),
                        ([], None)):
        target = out if said else tmp_path / "models"
        (tmp_path / "models").mkdir(exist_ok=True)
        assert main(["train", str(files[0]), "-o", str(target), *extra, *common]) == 2
        err = capsys.readouterr().err
        assert (said or "is a folder") in err
    assert main(["train", str(files[0]), "-o", str(tmp_path / "new") + "/", *common]) == 2
    assert "is a folder" in capsys.readouterr().err and not (tmp_path / "new").exists()


def test_volume_training_refuses_bad_values_by_their_flags(tmp_path, capsys):
    v = tmp_path / "v.npy"
    np.save(v, np.random.default_rng(0).random((8, 16, 16)).astype(np.float32))
    assert main(["train", str(v), "-o", str(tmp_path / "m3.pt"), "--volume", "--epsilon", "5", "-q"]) == 2
    assert "--epsilon must lie in [0, 1]" in capsys.readouterr().err


def test_volume_training_from_a_shipped_2d_name_says_there_is_no_3d_one(tmp_path, capsys):
    v = tmp_path / "v.npy"
    np.save(v, np.random.default_rng(0).random((8, 16, 16)).astype(np.float32))
    assert main(["train", str(v), "-o", str(tmp_path / "m3.pt"), "--volume", "--init", "bsds500", "-q"]) == 2
    assert "bsds500 is a shipped 2-D model; no 3-D model is shipped" in capsys.readouterr().err


def test_train_with_iterations_alone_below_the_feature_default(tmp_path, capsys):
    f = _two_images(tmp_path)[0]
    out = tmp_path / "m.pt"
    assert main(["train", str(f), "-o", str(out), "--iterations", "2", "--contour-iterations", "1", "-k", "6",
                 "--threads", "1", "-q"]) == 0
    from lnsnet import checkpoint

    assert checkpoint.load(out)["train_config"]["feature_iterations"] == 2


def test_train_refuses_bad_values_by_their_flags(tmp_path, capsys):
    f = _two_images(tmp_path)[0]
    for extra, words in ((["--beta", "-1"], "--beta (a loss weight) must be a finite number >= 0"),
                         (["--epsilon", "5"], "--epsilon must lie in [0, 1]"),
                         (["--iterations", "3", "--feature-iterations", "5"],
                          "--feature-iterations must lie in [0, --iterations]"),
                         (["--boundaries", str(tmp_path / "nodir")], "--boundaries: no such folder"),
                         (["--device", "tpu"], "device must be 'cpu' or 'cuda'")):
        assert main(["train", str(f), "-o", str(tmp_path / "x.pt"), "-q", *extra]) == 2, extra
        assert words in capsys.readouterr().err, extra
    assert not (tmp_path / "x.pt").exists()


def test_segment_bad_device_and_missing_ray_are_user_errors(tmp_path, capsys, monkeypatch):
    assert main(["segment", str(EXAMPLE), "-o", str(tmp_path / "o"), "--device", "tpu", "-q"]) == 2
    assert "device must be 'cpu' or 'cuda'" in capsys.readouterr().err
    monkeypatch.setitem(sys.modules, "ray", None)  # as if Ray were not installed
    assert main(["segment", str(EXAMPLE), "-o", str(tmp_path / "o"), "--engine", "ray", "-q"]) == 2
    err = capsys.readouterr().err
    assert "pip install '.[ray]'" in err and "internal error" not in err


def test_a_failed_run_leaves_no_empty_output_folder(tmp_path, capsys):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    out = tmp_path / "new" / "deeper"
    assert main(["segment", str(bad), "-o", str(out), "-q"]) == 2
    assert not (tmp_path / "new").exists()
    (tmp_path / "kept").mkdir()
    assert main(["segment", str(bad), "-o", str(tmp_path / "kept"), "-q"]) == 2
    assert (tmp_path / "kept").is_dir()  # a folder that was there stays


def test_subfolders_get_a_note(tmp_path, capsys):
    folder = tmp_path / "imgs"
    (folder / "sub").mkdir(parents=True)
    Image.fromarray((blocks_image() * 255).astype(np.uint8)).save(folder / "a.png")
    Image.fromarray((blocks_image() * 255).astype(np.uint8)).save(folder / "sub" / "b.png")
    out = folder / "runs" / "k12"
    for _ in range(2):  # the second time -o's parent exists in the folder: not named either
        assert main(["segment", str(folder), str(folder), "-k", "12", "-o", str(out)]) == 0
        err = capsys.readouterr().err
        assert err.count("1 subfolder(s) of") == 1 and "(sub)" in err
    assert (out / "a_labels.npy").exists() and not (out / "b_labels.npy").exists()
    assert main(["segment", str(folder), "-k", "12", "-o", str(out), "-q", "--overwrite"]) == 0
    assert "subfolder" not in capsys.readouterr().err  # -q: errors only


def test_segment_files_from_a_microscope(tmp_path, capsys):
    """Four channels of an ImageJ TIFF are four channels (not RGBA: the fourth counts), an
    RGBA PNG's alpha is dropped as it is read, NaN pixels of a float TIFF are left out
    (label 0, with a notice; the API refuses them), and a dim 12-bit image's overlay is
    shown stretched."""
    import tifffile

    from lnsnet import segment
    from lnsnet.io import read_image

    rng = np.random.default_rng(0)
    four = rng.integers(0, 200, (4, 40, 48)).astype(np.uint16)
    four[3, :, 24:] += 3000  # only the fourth channel has an edge
    tifffile.imwrite(tmp_path / "four.tif", four, imagej=True, metadata={"axes": "CYX"})
    rgba = np.dstack([(blocks_image() * 255).astype(np.uint8), rng.integers(0, 256, (48, 64)).astype(np.uint8)])
    Image.fromarray(rgba).save(tmp_path / "rgba.png")
    f = rng.random((40, 48)).astype(np.float32) * 0.002  # also dim: the overlay must stretch it
    f[:6] = np.nan
    f[20, 20] = np.inf
    tifffile.imwrite(tmp_path / "nan.tif", f)
    out = tmp_path / "out"
    assert main(["segment", str(tmp_path), "-k", "8", "-o", str(out)]) == 0
    err = capsys.readouterr().err
    lab = np.load(out / "four_labels.npy")
    assert np.array_equal(lab, segment(np.moveaxis(four, 0, -1), 8, convert2lab=False))
    assert not np.array_equal(lab, segment(np.moveaxis(four, 0, -1), 8))  # read as RGBA: the fourth left out
    assert read_image(tmp_path / "rgba.png").shape == (48, 64, 3)
    # tifffile tags the fourth channel of any 4-channel array as alpha: 16-bit or float data
    # keep it, an 8-bit one (an image editor's RGBA) or an opaque alpha is dropped
    tifffile.imwrite(tmp_path / "t16.tif", np.moveaxis(four, 0, -1))
    assert np.array_equal(read_image(tmp_path / "t16.tif"), np.moveaxis(four, 0, -1))
    tifffile.imwrite(tmp_path / "t8.tif", rgba)
    assert np.array_equal(read_image(tmp_path / "t8.tif"), rgba[:, :, :3])
    opaque = np.moveaxis(four, 0, -1).copy()
    opaque[:, :, 3] = 65535
    tifffile.imwrite(tmp_path / "opaque.tif", opaque)
    assert read_image(tmp_path / "opaque.tif").shape == (40, 48, 3)
    for name in ("t16.tif", "t8.tif", "opaque.tif"):
        (tmp_path / name).unlink()
    assert np.array_equal(np.load(out / "rgba_labels.npy"), segment(rgba[:, :, :3], 8))
    lab = np.load(out / "nan_labels.npy")
    assert np.array_equal(lab == 0, ~np.isfinite(f)) and lab.max() >= 4
    assert "289 pixel(s) NaN or infinite" in err
    overlay = np.array(Image.open(out / "nan_overlay.png"))
    assert np.median(overlay[6:][lab[6:] > 0]) > 60  # the image is seen (unstretched: all about 0)
    assert main(["segment", str(tmp_path / "nan.tif"), "-k", "8", "-o", str(tmp_path / "one")]) == 0
    assert f"{lab.max()} superpixels (K=8)" in capsys.readouterr().out  # label 0, the pixels left out, not counted
    # -q keeps the notice (a warning about the file's result), nothing else
    assert main(["segment", str(tmp_path / "nan.tif"), "-k", "8", "-o", str(tmp_path / "q"), "-q"]) == 0
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.strip().splitlines() == [
        f"notice: {tmp_path / 'nan.tif'}: 289 pixel(s) NaN or infinite: left out (label 0)"]


def test_list_file_that_is_not_a_list_and_npy_images(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("buy milk\nsegment the nuclei\n")
    np.save(tmp_path / "x.npy", np.zeros((8, 8)))
    assert main(["segment", str(tmp_path / "notes.txt"), "-o", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "list file" in err and "none of its 2 entries" in err
    assert main(["segment", str(tmp_path / "x.npy"), "-o", str(tmp_path / "o")]) == 2
    assert "--volume" in capsys.readouterr().err


def test_sigma_and_pixel_spacing_on_the_command_line(tmp_path, capsys):
    """slic's sigma and a 2-D pixel size: the API's labels, recorded so that a rerun with
    other values redoes the file; wrong values refused in one line."""
    from lnsnet import segment

    img = (blocks_image() * 255).astype(np.uint8)
    Image.fromarray(img).save(tmp_path / "in.png")
    out = tmp_path / "out"
    assert main(["segment", str(tmp_path / "in.png"), "-k", "12", "-o", str(out), "--sigma", "1.5", "--spacing", "1,2", "-q"]) == 0
    assert np.array_equal(np.load(out / "in_labels.npy"), segment(img, 12, sigma=1.5, spacing=(1, 2)))
    assert not np.array_equal(np.load(out / "in_labels.npy"), segment(img, 12))
    first = (out / "in_labels.npy").stat().st_mtime_ns
    assert main(["segment", str(tmp_path / "in.png"), "-k", "12", "-o", str(out), "--sigma", "1.5", "--spacing", "1,2"]) == 0
    assert (out / "in_labels.npy").stat().st_mtime_ns == first and "skipped" in capsys.readouterr().err
    assert main(["segment", str(tmp_path / "in.png"), "-k", "12", "-o", str(out), "-q"]) == 0
    assert np.array_equal(np.load(out / "in_labels.npy"), segment(img, 12))  # redone without them
    for bad, said in ((["--spacing", "1,2,3"], "two numbers"), (["--sigma", "-1"], "--sigma")):
        assert main(["segment", str(tmp_path / "in.png"), "-o", str(out)] + bad) == 2
        assert said in capsys.readouterr().err
    assert main(["train", str(tmp_path / "in.png"), "-o", str(tmp_path / "m.pt"), "--spacing", "1,1,1"]) == 2
    assert "--volume" in capsys.readouterr().err


def test_volume_files_beside_images_get_a_note(tmp_path, capsys):
    """A folder of images with a .npy or NIfTI volume among them: the volume is not an
    image; a note says so and how to segment it (it was skipped in silence)."""
    from lnsnet.cli import main

    Image.fromarray(np.zeros((20, 30, 3), np.uint8)).save(tmp_path / "a.png")
    np.save(tmp_path / "v.npy", np.zeros((4, 20, 20), np.uint8))
    assert main(["segment", str(tmp_path), "-k", "4", "-o", str(tmp_path / "out")]) == 0
    assert "1 volume file(s) of" in capsys.readouterr().err
    assert main(["segment", str(tmp_path), "-k", "4", "-o", str(tmp_path / "out3"), "--volume"]) == 0
    assert "volume file(s)" not in capsys.readouterr().err


def test_second_review_of_the_command_line(tmp_path, capsys):
    """A fresh user's review, 2026-12-06: a list file's missing entry does not move the
    other outputs (the common folder of the files that are there); a folder as an entry is
    named as a folder; a subfolder named as an input is not reported as unread, nor are
    lnsnet's outputs when -o is the input folder; --workers without Ray is refused; a
    float image with one finite pixel is told so, in the singular."""
    import tifffile

    (tmp_path / "L" / "imgs").mkdir(parents=True)
    Image.fromarray((blocks_image() * 255).astype(np.uint8)).save(tmp_path / "L" / "imgs" / "a.png")
    (tmp_path / "L" / "list.txt").write_text("imgs/a.png\n../typo/missing.png\n/nonexistent/b.png\nimgs\n")
    assert main(["segment", str(tmp_path / "L" / "list.txt"), "-k", "12", "-o", str(tmp_path / "o"), "-q"]) == 2
    err = capsys.readouterr().err
    assert (tmp_path / "o" / "a_labels.npy").exists()  # not o/L/imgs/a_labels.npy
    assert "missing.png" in err and "b.png" in err and "is a folder, not an image file" in err
    # a named subfolder is read, not reported; -o the input folder: its own outputs are not "volume files"
    (tmp_path / "d" / "sub").mkdir(parents=True)
    for p in (tmp_path / "d" / "a.png", tmp_path / "d" / "sub" / "b.png"):
        Image.fromarray((blocks_image() * 255).astype(np.uint8)).save(p)
    assert main(["segment", str(tmp_path / "d"), str(tmp_path / "d" / "sub"), "-k", "12", "-o",
                 str(tmp_path / "o2")]) == 0
    assert "not read" not in capsys.readouterr().err
    for _ in range(2):
        assert main(["segment", str(tmp_path / "d"), "-k", "12", "-o", str(tmp_path / "d")]) == 0
        err = capsys.readouterr().err
        assert "volume file" not in err and "subfolder(s) of" in err  # sub is still unread here: said
    assert main(["segment", str(tmp_path / "d"), "-k", "12", "-o", str(tmp_path / "o3"), "--workers", "3"]) == 2
    assert "--workers need --engine ray" in capsys.readouterr().err.replace(", --num-gpus and", "")
    one = np.full((7, 9), np.nan, np.float32)
    one[3, 4] = 0.5
    tifffile.imwrite(tmp_path / "one.tif", one)
    assert main(["segment", str(tmp_path / "one.tif"), "-k", "63", "-o", str(tmp_path / "o4")]) == 0
    captured = capsys.readouterr()
    assert "1 superpixel delivered for K=63 asked: only 1 of its 63 pixels are to segment" in captured.err
    assert "1 superpixel (K=63)" in captured.out


def test_values_at_float64s_limits_and_max_num_iter_named():
    import lnsnet
    import pytest

    im = np.zeros((40, 60))
    im[:, 30:], im[:, :30] = 1e308, -1e308
    lab = lnsnet.segment(im, 10, channel_axis=None)
    assert not set(np.unique(lab[:, :30])) & set(np.unique(lab[:, 30:]))
    assert lnsnet.io.unit_range(im).min() == 0 and lnsnet.io.unit_range(im).max() == 1
    with pytest.raises(ValueError, match="max_num_iter must be an integer >= 0"):
        lnsnet.segment(im, 10, channel_axis=None, max_num_iter=-1)


def test_features_of_a_2d_image_in_the_units_of_its_spacing(tmp_path, capsys):
    """--features with a 2-D --spacing: area and centroid in its units, as a volume's are
    (they stayed in pixels); without it, pixels. A folder of subfolders only says so."""
    import csv

    img = tmp_path / "in.png"
    Image.fromarray((blocks_image() * 255).astype(np.uint8)).save(img)
    for extra, factor in (([], 1.0), (["--spacing", "2,1"], 2.0)):
        out = tmp_path / f"o{len(extra)}"
        assert main(["segment", str(img), "-k", "12", "-o", str(out), "--features", "-q", *extra]) == 0
        labels = read_labels(out / "in_labels.npy")
        rows = list(csv.DictReader(open(out / "in_regions.csv")))
        counts = np.bincount(labels.ravel())
        for r in rows:
            lab = int(r["label"])
            assert float(r["area"]) == factor * counts[lab]
            assert float(r["centroid-0"]) == pytest.approx(factor * np.nonzero(labels == lab)[0].mean())
    (tmp_path / "tree" / "a").mkdir(parents=True)
    assert main(["segment", str(tmp_path / "tree"), "-k", "12", "-o", str(tmp_path / "o9")]) == 2
    assert "its subfolder(s) a are not; name them as inputs" in capsys.readouterr().err


def test_warnings_print_as_one_line_on_the_command_line():
    """A library warning during a command (a benchmark's stretched 16-bit image) prints as
    the command's notices do: one line, no source path and code; --debug keeps Python's."""
    code = ("import argparse, warnings; from lnsnet.cli import _run\n"
            "def func(args):\n    warnings.warn('a uint16 image is stretched\\n from its own range')\n    return 0\n"
            "before = warnings.formatwarning\n"
            "assert _run(argparse.Namespace(func=func, debug=False)) == 0\n"
            "assert warnings.formatwarning is before\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0 and r.stderr == "warning: a uint16 image is stretched from its own range\n", r.stderr
    r = subprocess.run([sys.executable, "-c", code.replace("debug=False", "debug=True")], capture_output=True, text=True)
    assert r.returncode == 0 and "UserWarning" in r.stderr


def test_a_missing_entry_never_removes_another_files_outputs(tmp_path):
    """A list of volumes A/x.npy (there) and B/x.npy (folder there or not, file not): the
    failure of B/x removes nothing of A/x's (a diff review: it named both x and emptied -o,
    on every rerun); a file gone from its folder leaves the layout as it was; the flood's
    volumes run with --device cuda as 2-D images do (on the CPU)."""
    (tmp_path / "V" / "A").mkdir(parents=True)
    np.save(tmp_path / "V" / "A" / "x.npy", np.random.default_rng(0).random((4, 12, 12)).astype(np.float32))
    for make_b in (False, True):
        if make_b:
            (tmp_path / "V" / "B").mkdir()
        (tmp_path / "V" / "list.txt").write_text("A/x.npy\nB/x.npy\n")
        out = tmp_path / f"vo{int(make_b)}"
        for _ in range(2):  # the rerun skips A/x and must not remove its outputs either
            assert main(["segment", str(tmp_path / "V" / "list.txt"), "--volume", "-k", "8", "-o", str(out),
                         "-q"]) == 2
            assert len(list(out.rglob("x_labels.npy"))) == 1
    assert (tmp_path / "vo1" / "A" / "x_labels.npy").exists()  # B's folder there: A keeps its place
    assert main(["segment", str(tmp_path / "V" / "A" / "x.npy"), "--volume", "--boundaries", "bright", "-k", "8",
                 "-o", str(tmp_path / "fl"), "--device", "cuda", "-q"]) == 0


def test_volume_training_refuses_the_2d_streams_options(tmp_path, capsys):
    """lnsnet train --volume accepted --device cuda, --contours-only and the other 2-D
    options and ignored them; now refused by name, before any work."""
    (tmp_path / "vols").mkdir()
    np.save(tmp_path / "vols" / "v.npy", np.random.default_rng(0).random((6, 20, 20)).astype(np.float32))
    for extra, name in ((["--device", "cuda"], "--device"), (["--contours-only"], "--contours-only"),
                        (["--neighbours", "4"], "--neighbours"), (["--checkpoint-every", "3"], "--checkpoint-every")):
        assert main(["train", str(tmp_path / "vols"), "--volume", "-o", str(tmp_path / "v.pt"), *extra]) == 2
        assert f"--volume takes none of {name}" in capsys.readouterr().err
        assert not (tmp_path / "v.pt").exists()


def test_debug_shows_a_failed_files_traceback(tmp_path, capsys):
    """A file that fails alone was reported in one line, with or without --debug, though
    the line of an unexpected error says to rerun with --debug for the traceback."""
    bad = tmp_path / "bad.jpg"
    bad.write_text("not an image")
    assert main(["segment", str(bad), "-o", str(tmp_path / "o"), "-q"]) == 2
    err = capsys.readouterr().err
    assert "cannot read image" in err and "Traceback" not in err
    assert main(["segment", str(bad), "-o", str(tmp_path / "o"), "-q", "--debug"]) == 2
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and err.rstrip().splitlines()[-1].startswith("error: ")


def test_inputs_that_look_like_outputs_are_inputs_and_never_overwritten(tmp_path, capsys):
    """-o the input folder: a photo whose name ends like an output (x_overlay.png,
    holiday_labels.png) was dropped from the inputs in silence, and x.png's overlay then
    replaced the photo x_overlay.png. A broken link in a folder vanished from the run."""
    import hashlib

    folder = tmp_path / "photos"
    folder.mkdir()
    for name, seed in (("x.png", 0), ("x_overlay.png", 1), ("holiday_labels.png", 2)):
        Image.fromarray((blocks_image(40, 56, seed=seed) * 255).astype(np.uint8)).save(folder / name)
    before = hashlib.md5((folder / "x_overlay.png").read_bytes()).hexdigest()
    (folder / "gone.png").symlink_to(tmp_path / "not-mounted" / "gone.png")
    assert main(["segment", str(folder), "-o", str(folder), "-k", "6", "-q"]) == 2
    err = capsys.readouterr().err
    assert "would overwrite an input file" in err and "x_overlay.png" in err and "gone.png" in err
    assert hashlib.md5((folder / "x_overlay.png").read_bytes()).hexdigest() == before  # the photo kept
    assert (folder / "x_overlay_labels.npy").is_file() and (folder / "holiday_labels_labels.npy").is_file()
    assert not (folder / "x_labels.npy").exists()
    (folder / "gone.png").unlink()
    (folder / "x.png").unlink()
    assert main(["segment", str(folder), "-o", str(folder), "-k", "6"]) == 0  # a rerun: its own outputs are not inputs
    assert "skipped: 2" in capsys.readouterr().err
    # a run killed mid-write: outputs without their record are still lnsnet's (its tag in the
    # files), not inputs whose overwriting fails the image on every rerun
    (folder / "holiday_labels_labels.json").unlink()
    assert main(["segment", str(folder), "-o", str(folder), "-k", "6"]) == 0
    assert "done: 1, failed: 0, skipped: 1" in capsys.readouterr().err
    assert not (folder / "holiday_labels_labels_labels.npy").exists()


def test_a_run_removes_what_a_killed_run_left_mid_write(tmp_path):
    """kill -9 (the OOM killer, a pre-empted node) during io.atomic_write leaves its hidden
    temporary file; a later run of the local engine left it there (the Ray engine swept it)."""
    f = tmp_path / "im.png"
    Image.fromarray((blocks_image(40, 56) * 255).astype(np.uint8)).save(f)
    out = tmp_path / "o"
    out.mkdir()
    import os
    import time

    old = time.time() - 3600
    stale = out / ".im_overlay.png.ab12cd.tmp"
    stale.write_bytes(b"half an overlay")
    os.utime(stale, (old, old))
    other = out / ".notes.txt.tmp"  # not an output's: left alone
    other.write_bytes(b"x")
    os.utime(other, (old, old))
    busy = out / ".im_labels.npy.ef34gh.tmp"  # fresh: another run's write in progress, left alone
    busy.write_bytes(b"being written")
    assert main(["segment", str(f), "-o", str(out), "-k", "6", "-q"]) == 0
    assert not stale.exists() and other.exists() and busy.exists()
    stale.write_bytes(b"half an overlay")
    os.utime(stale, (old, old))
    assert main(["segment", str(f), "-o", str(out), "-k", "6", "-q"]) == 0  # all skipped: swept all the same
    assert not stale.exists()


def test_ctrl_c_while_writing_leaves_no_outputs_without_their_record(tmp_path, monkeypatch):
    """An interrupted write kept NAME_labels.npy / .png without NAME_labels.json: a later step
    that globs *_labels.npy took outputs no record stands for."""
    import lnsnet.io

    f = tmp_path / "im.png"
    Image.fromarray((blocks_image(40, 56) * 255).astype(np.uint8)).save(f)

    def interrupted(*args, **kwargs):  # the overlay is written after the labels
        raise KeyboardInterrupt

    monkeypatch.setattr(lnsnet.io, "save_png", interrupted)
    out = tmp_path / "o"
    assert main(["segment", str(f), "-o", str(out), "-k", "6", "-q"]) == 130
    assert not list(out.glob("im_*")) if out.exists() else True


def test_sigterm_stops_a_run_as_ctrl_c_does_with_its_own_exit_code(tmp_path):
    """`kill PID` stops `lnsnet segment` as Ctrl-C does (whole outputs, 'interrupted'), and the
    exit code says which: 143 (128 + 15), not Ctrl-C's 130."""
    import signal
    import subprocess
    import sys
    import time

    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(60):
        Image.fromarray((blocks_image(480, 640, seed=i) * 255).astype(np.uint8)).save(folder / f"im{i:02d}.png")
    out = tmp_path / "o"
    proc = subprocess.Popen([sys.executable, "-m", "lnsnet.cli", "segment", str(folder), "-o", str(out), "-k", "50",
                             "-q", "--threads", "1"], stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None and not list(out.glob("*_labels.json")):
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    err = proc.communicate(timeout=120)[1]
    assert proc.returncode == 143 and "interrupted" in err, (proc.returncode, err[-500:])
    for record in out.glob("*_labels.json"):  # every image begun is whole or absent
        stem = record.name[: -len("_labels.json")]
        assert (out / f"{stem}_labels.npy").is_file() and (out / f"{stem}_overlay.png").is_file()
    assert len(list(out.glob("*_labels.npy"))) == len(list(out.glob("*_labels.json"))) < 60


def test_volume_outputs_of_a_killed_run_are_not_inputs(tmp_path, capsys):
    """`--volume` writes NAME_labels.npy (no tag) and a tagged TIFF: a run killed before the
    record left outputs the next run read as inputs, and the volume then failed on every
    rerun. A tagged overlay copied into an input folder is named in a note, not skipped in silence."""
    from lnsnet.io import written_by_lnsnet

    folder = tmp_path / "stacks"
    folder.mkdir()
    np.save(folder / "a.npy", np.random.default_rng(0).random((8, 24, 24)).astype(np.float32))
    assert main(["segment", "--volume", str(folder), "-o", str(folder), "-k", "20", "-q"]) == 0
    assert written_by_lnsnet(folder / "a_labels.tif") and not written_by_lnsnet(folder / "a.npy")
    (folder / "a_labels.json").unlink()  # as after a kill before the record
    assert main(["segment", "--volume", str(folder), "-o", str(folder), "-k", "20"]) == 0
    err = capsys.readouterr().err
    assert "taken as lnsnet's outputs" in err and not (folder / "a_labels_labels.npy").exists()


def test_segment_with_masks_from_a_file_or_a_folder(tmp_path, capsys):
    """--mask: a mask file for every input, or a folder of masks named as the inputs (NAME.png
    or NAME_mask.*, those beside their images not taken as inputs); label 0 outside; a mask
    of another shape fails its file by name; another mask redoes the outputs, the same one
    skips them; volumes too."""
    from PIL import Image

    from lnsnet.cli import main

    rng = np.random.default_rng(0)
    imgs, masks, out = tmp_path / "imgs", tmp_path / "masks", tmp_path / "out"
    imgs.mkdir()
    masks.mkdir()
    for name in ("a", "b"):
        Image.fromarray((rng.random((48, 64, 3)) * 255).astype(np.uint8)).save(imgs / f"{name}.png")
    box = np.zeros((48, 64), np.uint8)
    box[8:40, 16:56] = 255
    Image.fromarray(box).save(masks / "a.png")
    np.save(masks / "b_mask.npy", box[::-1] > 0)
    assert main(["segment", str(imgs), "-k", "12", "-o", str(out), "--mask", str(masks), "-q"]) == 0
    la, lb = np.load(out / "a_labels.npy"), np.load(out / "b_labels.npy")
    assert (la[box == 0] == 0).all() and (la[box > 0] > 0).all() and len(np.unique(la)) > 5
    assert (lb[box[::-1] == 0] == 0).all() and (lb[box[::-1] > 0] > 0).all()
    capsys.readouterr()
    assert main(["segment", str(imgs), "-k", "12", "-o", str(out), "--mask", str(masks)]) == 0
    assert "skipped: 2" in capsys.readouterr().err
    small = np.zeros((48, 64), np.uint8)
    small[20:30, 20:40] = 1
    Image.fromarray(small).save(masks / "a.png")  # another mask: a is redone, b skipped
    assert main(["segment", str(imgs), "-k", "12", "-o", str(out), "--mask", str(masks)]) == 0
    printed = capsys.readouterr().err
    assert "done: 1" in printed and "skipped: 1" in printed
    assert (np.load(out / "a_labels.npy")[small == 0] == 0).all()
    Image.fromarray(np.ones((10, 10), np.uint8)).save(masks / "a.png")  # another shape: a fails by name
    assert main(["segment", str(imgs / "a.png"), "-k", "12", "-o", str(tmp_path / "o2"), "--mask", str(masks)]) == 2
    assert "has shape (10, 10), the input (48, 64)" in capsys.readouterr().err
    # one mask file for every input; and masks beside their images are not inputs
    Image.fromarray(box).save(imgs / "a_mask.png")
    assert main(["segment", str(imgs / "a.png"), str(imgs / "b.png"), "-k", "12", "-o", str(tmp_path / "o3"),
                 "--mask", str(imgs / "a_mask.png"), "-q"]) == 0
    assert (np.load(tmp_path / "o3" / "b_labels.npy")[box == 0] == 0).all()
    assert main(["segment", str(imgs), "-k", "12", "-o", str(tmp_path / "o4"), "--mask", str(imgs)]) == 2
    assert not (tmp_path / "o4" / "a_mask_labels.npy").exists()  # a's mask was no input
    assert (tmp_path / "o4" / "a_labels.npy").exists() and "no mask for b.png" in capsys.readouterr().err
    vols, vmasks = tmp_path / "vols", tmp_path / "vmasks"
    vols.mkdir()
    vmasks.mkdir()
    np.save(vols / "v.npy", rng.random((6, 20, 20)).astype(np.float32))
    vm = np.zeros((6, 20, 20), bool)
    vm[1:5, 4:16, 4:16] = True
    np.save(vmasks / "v.npy", vm)
    assert main(["segment", str(vols), "--volume", "-k", "8", "-o", str(tmp_path / "o5"), "--mask", str(vmasks),
                 "-q"]) == 0
    lv = np.load(tmp_path / "o5" / "v_labels.npy")
    assert (lv[~vm] == 0).all() and (lv[vm] > 0).all()
    # a NIfTI scan's mask as NIfTI (case.nii.gz -> masks/case.nii.gz)
    import nibabel

    scans, smasks = tmp_path / "scans", tmp_path / "smasks"
    scans.mkdir()
    smasks.mkdir()
    vol = rng.random((6, 20, 20)).astype(np.float32)  # (Z, Y, X) = NIfTI's (k, j, i)
    nibabel.save(nibabel.Nifti1Image(vol.transpose(2, 1, 0), np.eye(4)), scans / "case.01.nii.gz")
    nibabel.save(nibabel.Nifti1Image(vm.transpose(2, 1, 0).astype(np.uint8), np.eye(4)), smasks / "case.01.nii.gz")
    assert main(["segment", str(scans), "--volume", "-k", "8", "-o", str(tmp_path / "o6"), "--mask", str(smasks),
                 "-q"]) == 0
    ln = np.load(tmp_path / "o6" / "case.01_labels.npy")
    assert (ln[~vm] == 0).all() and (ln[vm] > 0).all()


def test_a_collections_errors_come_as_they_happen_and_an_interruption_says_what_was_done(tmp_path, capsys,
                                                                                      monkeypatch):
    """Errors and notices were printed only after the last image, so a run stopped midway
    (Ctrl-C, kill) said nothing of the files that had failed; now each comes as its file is
    done, and an interruption prints the tally before `interrupted`."""
    import lnsnet.jobs as jobs

    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a_bad.png").write_bytes(b"not an image")
    for i in range(3):
        Image.fromarray((np.random.default_rng(i).random((30, 40, 3)) * 255).astype(np.uint8)).save(
            tmp_path / "in" / f"b{i}.png")
    from conftest import interrupting

    monkeypatch.setattr(jobs, "segment_files", interrupting(jobs.segment_files, 3))
    assert main(["segment", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "-k", "6", "--batch-size", "1",
                 "-q"]) == 130
    err = capsys.readouterr().err
    assert "a_bad.png" in err and "error:" in err
    assert "done: 1, failed: 1, skipped: 0" in err and "not reached: 2" in err and err.rstrip().endswith("interrupted")


def test_an_interruption_within_a_batch_counts_the_files_it_finished(tmp_path, capsys, monkeypatch):
    """Stopped midway through a batch, the files of that batch already written (and those
    that failed) were missing from the tally and their errors unprinted."""
    import lnsnet.jobs as jobs

    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a_bad.png").write_bytes(b"not an image")
    for i in range(3):  # three shapes: three chunks of one batch
        Image.fromarray((np.random.default_rng(i).random((30 + 4 * i, 40, 3)) * 255).astype(np.uint8)).save(
            tmp_path / "in" / f"b{i}.png")
    from conftest import interrupting

    monkeypatch.setattr(jobs, "_write", interrupting(jobs._write, 3))
    assert main(["segment", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "-k", "6", "-q"]) == 130
    err = capsys.readouterr().err
    assert "a_bad.png" in err and "done: 2, failed: 1, skipped: 0" in err and "not reached: 1" in err


def test_recursive_reads_the_tree_and_mirrors_it(tmp_path, capsys):
    """--recursive: every image of the tree, in the order of their paths in it, hidden folders,
    -o inside the tree and links to folders left out; the outputs mirror the tree; a rerun
    skips them all; the notes name files of the subfolders by their place in the tree."""
    import os

    from lnsnet.train import expand_sources

    root = tmp_path / "in"
    for rel in ("z.png", "a/b/x.png", "a/c.png", "b/x.png", ".hidden/h.png"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray((blocks_image() * 255).astype(np.uint8)).save(root / rel)
    (root / "a" / "notes.psd").write_bytes(b"8BPS")
    os.symlink(root / "a", root / "loop")  # a link to a folder: not entered (no loops, no twice-read images)
    found = [f.relative_to(root).as_posix() for f in expand_sources([root], recursive=True)]
    assert found == ["a/b/x.png", "a/c.png", "b/x.png", "z.png"]
    assert [f.name for f in expand_sources([root])] == ["z.png"]  # flat by default
    out = root / "out"
    assert main(["segment", str(root), "-k", "12", "-o", str(out), "-r"]) == 0
    err = capsys.readouterr().err
    assert "(a/notes.psd)" in err and "subfolder(s) of" not in err
    made = sorted(p.relative_to(out).as_posix() for p in out.rglob("*_labels.npy"))
    assert made == ["a/b/x_labels.npy", "a/c_labels.npy", "b/x_labels.npy", "z_labels.npy"]
    assert main(["segment", str(root), "-k", "12", "-o", str(out), "--recursive"]) == 0  # out/ is not read
    assert "done: 0, failed: 0, skipped: 4" in capsys.readouterr().err
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    with pytest.raises(ValueError, match="or its subfolders"):
        expand_sources([tmp_path / "empty"], recursive=True)


def test_training_reads_a_tree_with_recursive(tmp_path):
    root = tmp_path / "in"
    for rel in ("a/x.png", "b/y.png"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray((blocks_image() * 255).astype(np.uint8)).save(root / rel)
    model = tmp_path / "m.pt"
    assert main(["train", str(root), "-o", str(model), "--iterations", "1", "-q"]) == 2  # flat: no image
    assert main(["train", str(root), "-o", str(model), "--iterations", "1", "-q", "-r"]) == 0
    from lnsnet.cli import _checkpoint_state

    assert _checkpoint_state(model)[0] == 2  # both images passed


def test_failures_are_listed_in_the_output_folder(tmp_path, capsys):
    """OUT/failures.tsv holds each input whose last run into OUT failed and its error; a
    rerun takes off the files it did (or found done), a file deleted since goes, and the
    file goes with the last line."""
    from lnsnet.cli import FAILURES

    folder = tmp_path / "imgs"
    folder.mkdir()
    Image.fromarray((blocks_image() * 255).astype(np.uint8)).save(folder / "good.png")
    (folder / "bad.png").write_bytes(b"not an image")
    (folder / "worse.jpg").write_bytes(b"\tnor this")
    out = tmp_path / "out"

    def listed():
        lines = (out / FAILURES).read_text().splitlines()
        assert lines[0] == "file\terror" and all(line.count("\t") == 1 for line in lines)
        return {Path(line.split("\t")[0]).name: line.split("\t")[1] for line in lines[1:]}

    assert main(["segment", str(folder), "-k", "12", "-o", str(out)]) == 2
    assert "failures listed in" in capsys.readouterr().err
    rows = listed()
    assert sorted(rows) == ["bad.png", "worse.jpg"] and "cannot read image" in rows["bad.png"]
    # one file alone: the others' lines stay
    assert main(["segment", str(folder / "good.png"), "-k", "12", "-o", str(out), "-q"]) == 0
    assert sorted(listed()) == ["bad.png", "worse.jpg"]
    Image.fromarray((blocks_image() * 255).astype(np.uint8)).save(folder / "bad.png")  # mended
    assert main(["segment", str(folder), "-k", "12", "-o", str(out), "-q"]) == 2
    assert sorted(listed()) == ["worse.jpg"]
    (folder / "worse.jpg").unlink()  # deleted: no longer a failure of the collection
    assert main(["segment", str(folder / "good.png"), "-k", "12", "-o", str(out), "-q"]) == 0
    assert not (out / FAILURES).exists()


def test_recursive_runs_as_a_collection_grows(tmp_path, capsys):
    """A review of --recursive: outputs of earlier runs anywhere in the tree are not images
    (nor "volume files"); images in a folder that is also -o are read; the output names
    hang from the folder named, so a tree that grows keeps them; a folder named twice is
    listed once in the notes; links to folders are said not followed; volumes only in
    subfolders get the --volume hint."""
    import os

    def put(rel):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray((blocks_image() * 255).astype(np.uint8)).save(tmp_path / rel)

    put("d/a/x.png")
    put("d/y.png")
    assert main(["segment", "-r", str(tmp_path / "d"), "-k", "12", "-o", str(tmp_path / "d" / "k12"), "-q"]) == 0
    assert main(["segment", "-r", str(tmp_path / "d"), "-k", "16", "-o", str(tmp_path / "d" / "k16")]) == 0
    err = capsys.readouterr().err
    assert "done: 2, failed: 0" in err and "volume file" not in err
    assert not list((tmp_path / "d" / "k16").rglob("*_labels_labels*"))
    # -o a folder of the tree that holds images: they are read (its outputs are not)
    put("ph/2023/a.png")
    put("ph/2024/b.png")
    for _ in range(2):
        assert main(["segment", "-r", str(tmp_path / "ph"), "-k", "12", "-o", str(tmp_path / "ph" / "2024")]) == 0
    assert "done: 0, failed: 0, skipped: 2" in capsys.readouterr().err
    assert (tmp_path / "ph" / "2024" / "2024" / "b_labels.npy").exists()
    # names from the folder named: adding a second branch does not rename the first
    put("g/2024/jan/x.png")
    assert main(["segment", "-r", str(tmp_path / "g"), "-k", "12", "-o", str(tmp_path / "go"), "-q"]) == 0
    assert (tmp_path / "go" / "2024" / "jan" / "x_labels.npy").exists()
    put("g/2025/feb/z.png")
    assert main(["segment", "-r", str(tmp_path / "g"), "-k", "12", "-o", str(tmp_path / "go")]) == 0
    assert "done: 1, failed: 0, skipped: 1" in capsys.readouterr().err
    # notes: a folder named inside another once; a link to a folder said
    (tmp_path / "g" / "2024" / "jan" / "raw.heic").write_bytes(b"x")
    os.symlink(tmp_path / "ph", tmp_path / "g" / "linked")
    assert main(["segment", "-r", str(tmp_path / "g"), str(tmp_path / "g" / "2024"), "-k", "12", "-o",
                 str(tmp_path / "go")]) == 0
    err = capsys.readouterr().err
    assert "1 image file(s)" in err and "1 link(s) to folders" in err and "linked" in err
    (tmp_path / "v" / "sub").mkdir(parents=True)
    np.save(tmp_path / "v" / "sub" / "stack.npy", np.zeros((4, 8, 8), np.float32))
    assert main(["segment", "-r", str(tmp_path / "v"), "-k", "12", "-o", str(tmp_path / "vo")]) == 2
    assert "stack.npy: pass --volume" in capsys.readouterr().err


def test_failures_list_odd_names_and_real_paths(tmp_path, capsys):
    """failures.tsv with a name of bytes that are not UTF-8 and a name with a tab (quoted),
    each read back on the next run; a file failed through a link to its folder and done
    through the folder itself leaves the list."""
    import os

    from lnsnet.cli import FAILURES

    folder = tmp_path / "enc"
    folder.mkdir()
    Image.fromarray((blocks_image() * 255).astype(np.uint8)).save(folder / "ok.png")
    odd = os.fsdecode(b"bad\xff.png")
    (folder / odd).write_bytes(b"junk")
    (folder / "tab\there.png").write_bytes(b"junk")
    out = tmp_path / "out"
    assert main(["segment", str(folder), "-k", "12", "-o", str(out), "-q"]) == 2
    assert not list(out.glob(".failures*"))
    raw = (out / FAILURES).read_bytes()
    assert b"bad\xff.png" in raw and b'tab\there.png"' in raw
    assert main(["segment", str(folder / "ok.png"), "-k", "12", "-o", str(out), "-q"]) == 0
    assert (out / FAILURES).read_bytes() == raw  # both lines read back and kept
    os.symlink(folder, tmp_path / "link")
    Image.fromarray((blocks_image() * 255).astype(np.uint8)).save(folder / odd)  # mended
    (folder / "tab\there.png").unlink()
    assert main(["segment", str(tmp_path / "link"), "-k", "12", "-o", str(out), "-q"]) == 0
    assert not (out / FAILURES).exists()


def test_a_list_file_in_the_output_folder_and_a_broken_link(tmp_path, capsys):
    """A list file of an output folder's images, rerun into it, does not read lnsnet's own
    outputs listed there; a broken link that fails keeps its own name in failures.tsv and
    its line while it is there."""
    import os

    from lnsnet.cli import FAILURES

    folder = tmp_path / "L"
    folder.mkdir()
    Image.fromarray((blocks_image() * 255).astype(np.uint8)).save(folder / "a.png")
    for _ in range(2):
        (folder / "list.txt").write_text("\n".join(sorted(p.name for p in folder.glob("*.png"))))
        assert main(["segment", str(folder / "list.txt"), "-k", "12", "-o", str(folder), "-q"]) == 0
    err = capsys.readouterr().err
    assert "a.png: skipped" in err and "would overwrite" not in err and "_labels" not in err
    g = tmp_path / "G"
    g.mkdir()
    Image.fromarray((blocks_image() * 255).astype(np.uint8)).save(g / "ok.png")
    os.symlink(tmp_path / "nowhere.png", g / "broken.png")
    assert main(["segment", str(g), "-k", "12", "-o", str(tmp_path / "OG"), "-q"]) == 2
    assert main(["segment", str(g / "ok.png"), "-k", "12", "-o", str(tmp_path / "OG"), "-q", "--overwrite"]) == 0
    lines = (tmp_path / "OG" / FAILURES).read_text().splitlines()
    assert len(lines) == 2 and lines[1].startswith(str(g.resolve() / "broken.png") + "\t")


def test_failures_key_a_link_then_dotdot_as_the_system_reads_it(tmp_path, capsys):
    """``link/../x``: the system follows the link before ``..``; the failures list names the
    file read (a textual ``..`` named another path, and the line went on the next run)."""
    import os

    from lnsnet.cli import FAILURES

    (tmp_path / "elsewhere" / "deep").mkdir(parents=True)
    (tmp_path / "elsewhere" / "x").mkdir()
    os.symlink(tmp_path / "elsewhere" / "deep", tmp_path / "dl")
    (tmp_path / "elsewhere" / "x" / "bad.png").write_bytes(b"junk")
    Image.fromarray((blocks_image() * 255).astype(np.uint8)).save(tmp_path / "elsewhere" / "x" / "ok.png")
    out = tmp_path / "fo"
    assert main(["segment", str(tmp_path / "dl" / ".." / "x"), "-k", "12", "-o", str(out), "-q"]) == 2
    line = (out / FAILURES).read_text().splitlines()[1]
    assert line.startswith(str((tmp_path / "elsewhere" / "x").resolve() / "bad.png") + "\t")
    assert main(["segment", str(tmp_path / "elsewhere" / "x" / "ok.png"), "-k", "12", "-o", str(out), "-q"]) == 0
    assert (out / FAILURES).read_text().splitlines()[1] == line  # kept: the file is there


def test_two_runs_update_the_failures_list_one_after_the_other(tmp_path):
    """The list is read, changed and written under a lock on the output folder: a second
    run waits for the first (each one's lines kept), and the folder holds no lock file."""
    import threading
    import time

    from lnsnet.cli import FAILURES, _record_failures, _update_failures
    from lnsnet.jobs import Outcome
    from lnsnet.runtime import folder_lock

    (tmp_path / "a.png").write_bytes(b"x")
    (tmp_path / "b.png").write_bytes(b"x")
    out = tmp_path / "out"
    out.mkdir()
    held = threading.Event()

    def first():  # a run that holds the lock a while, then writes its line
        with folder_lock(out):
            held.set()
            time.sleep(0.6)
            _update_failures(out, [Outcome(str(tmp_path / "a.png"), "failed", "bad a")], True)

    t = threading.Thread(target=first)
    t.start()
    held.wait()
    t0 = time.perf_counter()
    _record_failures(out, [Outcome(str(tmp_path / "b.png"), "failed", "bad b")], True)
    waited = time.perf_counter() - t0
    t.join()
    assert waited > 0.4  # it waited for the first
    rows = (out / FAILURES).read_text().splitlines()[1:]
    assert sorted(r.split("\t")[1] for r in rows) == ["bad a", "bad b"]
    assert sorted(p.name for p in out.iterdir()) == [FAILURES]


def test_recursive_leaves_out_a_folder_it_cannot_list_and_says_so(tmp_path, monkeypatch, capsys):
    """A subfolder without permission to list (simulated: the tests may run as root) is left
    out with a warning naming it; the rest of the tree is segmented."""
    import os

    for rel in ("t/a.png", "t/locked/b.png", "t/open/c.png"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray((blocks_image() * 255).astype(np.uint8)).save(tmp_path / rel)
    real = os.scandir
    locked = str(tmp_path / "t" / "locked")

    def scandir(path="."):
        if os.fspath(path) == locked:
            raise PermissionError(13, "Permission denied", locked)
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    with pytest.warns(UserWarning, match="1 folder.* could not be listed .*locked: Permission denied"):
        assert main(["segment", "-r", str(tmp_path / "t"), "-k", "12", "-o", str(tmp_path / "o")]) == 0
    assert "done: 2, failed: 0" in capsys.readouterr().err


def test_folder_lock_waits_a_while_then_goes_on(tmp_path):
    """A folder locked for a whole run (``flock OUT lnsnet segment ...``) delays the failures
    list by ``wait`` seconds, then the run goes on without the lock (it hung for ever)."""
    import fcntl
    import os
    import time

    from lnsnet.runtime import folder_lock

    fd = os.open(tmp_path, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)  # held by someone else for the whole run
    try:
        t0 = time.perf_counter()
        with folder_lock(tmp_path, wait=0.3):
            waited = time.perf_counter() - t0
    finally:
        os.close(fd)
    assert 0.25 < waited < 5
    with folder_lock(tmp_path, wait=0.3):  # free: at once
        pass


def test_a_folder_named_that_cannot_be_listed_is_named(tmp_path, monkeypatch):
    """Its error, one line, with and without -r (a raw PermissionError came out of -r's hint,
    after a warning that it was left out); an entry that cannot be looked at is listed and
    fails by name."""
    import os

    from lnsnet.train import expand_sources

    (tmp_path / "t").mkdir()
    real = os.scandir
    real_listdir = os.listdir

    def refuse(path="."):
        if os.fspath(path) == str(tmp_path / "t"):
            raise PermissionError(13, "Permission denied", str(tmp_path / "t"))
        return real(path)

    def refuse_list(path="."):
        refuse(path)
        return real_listdir(path)

    monkeypatch.setattr(os, "scandir", refuse)
    monkeypatch.setattr(os, "listdir", refuse_list)
    for recursive in (False, True):
        with pytest.raises(ValueError, match="cannot list folder .*t: Permission denied"):
            expand_sources([tmp_path / "t"], recursive=recursive)
    monkeypatch.undo()
    (tmp_path / "u").mkdir()
    (tmp_path / "u" / "x.png").write_bytes(b"x")
    real_is_file = Path.is_file

    def no_look(self):  # a folder listed but not entered (r--): its entries cannot be looked at
        if self.parent == tmp_path / "u":
            raise PermissionError(13, "Permission denied", str(self))
        return real_is_file(self)

    monkeypatch.setattr(Path, "is_file", no_look)
    assert [f.name for f in expand_sources([tmp_path / "u"], recursive=True)] == ["x.png"]  # it fails by name later
