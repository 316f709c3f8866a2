"""``lnsnet segment`` loses nothing: output names that cannot collide, label maps of any
label count, a notice when far fewer superpixels than K come out, per-superpixel CSVs."""

import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from conftest import blocks_image
from lnsnet.cli import main
from lnsnet.io import read_labels
from lnsnet.jobs import output_names


def _save(path, seed=0, h=48, w=64):
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = (blocks_image(h, w, seed=seed) * 255).astype(np.uint8)
    Image.fromarray(pixels).save(path)
    return pixels


def test_same_file_names_in_two_folders_do_not_collide(tmp_path, capsys):
    a = _save(tmp_path / "in" / "a" / "img.png", seed=0)
    b = _save(tmp_path / "in" / "b" / "img.png", seed=1)
    out = tmp_path / "out"
    files = [str(tmp_path / "in" / "a" / "img.png"), str(tmp_path / "in" / "b" / "img.png")]
    assert main(["segment", *files, "-k", "8", "-o", str(out), "-q"]) == 0
    assert "done: 2, failed: 0, skipped: 0" in capsys.readouterr().err
    import lnsnet

    for name, pixels in (("a", a), ("b", b)):
        assert np.array_equal(read_labels(out / name / "img_labels.npy"), lnsnet.segment(pixels, 8))
        assert (out / name / "img_labels.png").exists() and (out / name / "img_overlay.png").exists()
    assert not (out / "img_labels.npy").exists()
    # a rerun skips both (given as folders this time: the same common parent, the same names)
    stamp = (out / "a" / "img_labels.npy").stat().st_mtime_ns
    assert main(["segment", str(tmp_path / "in" / "a"), str(tmp_path / "in" / "b"), "-k", "8", "-o", str(out), "-q"]) == 0
    assert "done: 0, failed: 0, skipped: 2" in capsys.readouterr().err
    assert (out / "a" / "img_labels.npy").stat().st_mtime_ns == stamp
    # one folder: flat names, as before
    assert main(["segment", str(tmp_path / "in" / "a"), "-k", "8", "-o", str(tmp_path / "flat"), "-q"]) == 0
    assert (tmp_path / "flat" / "img_labels.npy").exists()


def test_names_that_would_collide_are_refused_before_any_work(tmp_path):
    _save(tmp_path / "in" / "img.png")
    _save(tmp_path / "in" / "img.jpg", seed=1)
    out = tmp_path / "out"
    r = subprocess.run([sys.executable, "-m", "lnsnet.cli", "segment", str(tmp_path / "in"), "-o", str(out)],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "Traceback" not in r.stderr and r.stderr.count("\n") == 1, r.stderr
    assert "img.jpg" in r.stderr and "img.png" in r.stderr and "same outputs" in r.stderr
    assert not out.exists()  # refused before any work


def test_output_names():
    names = output_names(["x/a/img.jpg", "x/b/img.jpg", "x/a/sub/c.png", "x/a/img.jpg"])
    assert sorted(names.values()) == ["a/img", "a/sub/c", "b/img"]
    assert sorted(output_names(["x/a/img.jpg", "x/a/d.png"]).values()) == ["d", "img"]
    with pytest.raises(ValueError, match="same outputs"):
        output_names(["x/a/img.jpg", "x/a/img.png"])
    with pytest.raises(ValueError, match=r"img.png .*c.tif .*same outputs"):  # every clash at once
        output_names(["x/a/img.jpg", "x/a/img.png", "x/a/c.png", "x/a/c.tif"])


def _fake_segment(labels_for):
    """A stand-in for lnsnet.segment (as jobs.segment_files calls it): labels_for(image)."""

    def segment(images, n_segments, **kw):
        if isinstance(images, list):
            return [labels_for(im) for im in images]
        return labels_for(images)

    return segment


def test_more_labels_than_a_16bit_png_holds(tmp_path, capsys, monkeypatch):
    _save(tmp_path / "big.png", h=300, w=250)
    out = tmp_path / "out"
    every_pixel = lambda im: np.arange(1, im.shape[0] * im.shape[1] + 1, dtype=np.int32).reshape(im.shape[:2])  # noqa: E731
    monkeypatch.setattr("lnsnet.inference.segment", _fake_segment(every_pixel))
    assert main(["segment", str(tmp_path / "big.png"), "-k", "75000", "-o", str(out)]) == 0
    printed = capsys.readouterr()
    assert "75000 superpixels" in printed.out and "big_labels.tif" in printed.out and "notice" not in printed.err
    assert np.array_equal(read_labels(out / "big_labels.tif"), every_pixel(np.zeros((300, 250))))
    assert np.array_equal(read_labels(out / "big_labels.npy"), every_pixel(np.zeros((300, 250))))
    assert (out / "big_overlay.png").exists() and not (out / "big_labels.png").exists()
    # done: a rerun skips it; with fewer labels the PNG replaces the TIFF
    assert main(["segment", str(tmp_path / "big.png"), "-k", "75000", "-o", str(out), "-q"]) == 0
    monkeypatch.setattr("lnsnet.inference.segment", _fake_segment(lambda im: np.ones(im.shape[:2], np.int32)))
    assert main(["segment", str(tmp_path / "big.png"), "-k", "1", "-o", str(out), "-q", "--overwrite"]) == 0
    assert (out / "big_labels.png").exists() and not (out / "big_labels.tif").exists()


def test_far_fewer_superpixels_than_k_say_so(tmp_path, capsys, monkeypatch):
    _save(tmp_path / "in.png")
    out = tmp_path / "out"
    two = lambda im: np.where(np.arange(im.shape[1])[None, :] < 20, 1, 2).repeat(im.shape[0], 0).astype(np.int32)  # noqa: E731
    monkeypatch.setattr("lnsnet.inference.segment", _fake_segment(two))
    assert main(["segment", str(tmp_path / "in.png"), "-k", "100", "-o", str(out), "-q"]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "2 superpixels delivered for K=100 asked" in err[0] and "in.png" in err[0], err
    assert "merged" in err[0]  # why: the grid holds the cells; they were merged away
    # the grid's cap: K above the pixel count
    _save(tmp_path / "tiny.png", h=6, w=8)
    assert main(["segment", str(tmp_path / "tiny.png"), "-k", "500", "-o", str(out), "-q"]) == 0
    err = capsys.readouterr().err
    assert "K=500 asked" in err and "grid on 8x6 pixels holds 48 cells" in err
    # near K: nothing said
    near = lambda im: (np.arange(im.shape[0] * im.shape[1]) % 85 + 1).astype(np.int32).reshape(im.shape[:2])  # noqa: E731
    monkeypatch.setattr("lnsnet.inference.segment", _fake_segment(near))
    assert main(["segment", str(tmp_path / "in.png"), "-k", "100", "-o", str(tmp_path / "o2"), "-q"]) == 0
    assert capsys.readouterr().err == ""


def test_labels_from_0_or_1_are_counted(tmp_path, capsys, monkeypatch):
    _save(tmp_path / "in.png")
    for first in (0, 1):
        lab = lambda im, f=first: (np.arange(im.shape[1])[None, :] // 16 + f).repeat(im.shape[0], 0).astype(np.int32)  # noqa: E731
        monkeypatch.setattr("lnsnet.inference.segment", _fake_segment(lab))
        assert main(["segment", str(tmp_path / "in.png"), "-k", "4", "-o", str(tmp_path / f"o{first}"), "--no-overlay"]) == 0
        assert ": 4 superpixels (K=4)" in capsys.readouterr().out


def test_features_csv(tmp_path, capsys):
    import csv

    from lnsnet.measure import regions

    pixels = _save(tmp_path / "in.png")
    out = tmp_path / "out"
    assert main(["segment", str(tmp_path / "in.png"), "-k", "12", "-o", str(out), "--features"]) == 0
    assert "in_regions.csv" in capsys.readouterr().out
    labels = read_labels(out / "in_labels.npy")
    with open(out / "in_regions.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    want = regions(pixels, labels)
    assert len(rows) == len(np.unique(labels)) == len(want["label"])
    assert list(rows[0]) == list(want)
    for name, col in want.items():
        assert np.allclose([float(r[name]) for r in rows], col), name
    for column in ("label", "area", "centroid-0", "centroid-1", "bbox-0", "bbox-3", "intensity_mean-2"):
        assert column in rows[0]
    # a rerun with --features wants the CSV too: one written without it is redone
    assert main(["segment", str(tmp_path / "in.png"), "-k", "12", "-o", str(tmp_path / "o2"), "-q"]) == 0
    assert not (tmp_path / "o2" / "in_regions.csv").exists()
    assert main(["segment", str(tmp_path / "in.png"), "-k", "12", "-o", str(tmp_path / "o2"), "-q", "--features"]) == 0
    assert (tmp_path / "o2" / "in_regions.csv").exists()


def test_rerun_redoes_outputs_made_by_another_input_or_other_settings(tmp_path, capsys):
    """A rerun skips a file only when its outputs record this very file and these settings.
    The outputs of another file of the same name (a second folder's img.png into the same
    -o) were overwritten in silence: now that file fails, naming both, unless --overwrite;
    a collection moved or copied elsewhere (name, size, modification time kept) is skipped."""
    import shutil

    from PIL import Image

    from lnsnet.cli import main

    rng = np.random.default_rng(0)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    Image.fromarray((rng.random((30, 40, 3)) * 255).astype(np.uint8)).save(tmp_path / "a" / "img.png")
    Image.fromarray((rng.random((30, 40, 3)) * 255).astype(np.uint8)).save(tmp_path / "b" / "img.png")
    out = tmp_path / "out"
    assert main(["segment", str(tmp_path / "a"), "-k", "6", "-o", str(out), "-q"]) == 0
    first = np.load(out / "img_labels.npy")
    capsys.readouterr()
    assert main(["segment", str(tmp_path / "a" / "img.png"), "-k", "6", "-o", str(out)]) == 0
    assert "skipped" in capsys.readouterr().err  # same file, same settings: said, not redone
    # a collection moved (its old path gone, name, size and time kept): skipped; a copy beside
    # the original (or any other file of the same name): refused
    shutil.copytree(tmp_path / "a", tmp_path / "c")
    assert main(["segment", str(tmp_path / "c"), "-k", "6", "-o", str(tmp_path / "out_c"), "-q"]) == 0
    (tmp_path / "c").rename(tmp_path / "c_moved")
    assert main(["segment", str(tmp_path / "c_moved" / "img.png"), "-k", "6", "-o", str(tmp_path / "out_c")]) == 0
    assert "skipped" in capsys.readouterr().err
    assert main(["segment", str(tmp_path / "c_moved" / "img.png"), "-k", "6", "-o", str(out), "-q"]) == 2
    assert "holds outputs of this name made from" in capsys.readouterr().err
    # another input of the same name: refused, the first one's outputs kept; --overwrite replaces them
    assert main(["segment", str(tmp_path / "b" / "img.png"), "-k", "6", "-o", str(out), "-q"]) == 2
    err = capsys.readouterr().err
    assert "holds outputs of this name made from" in err and str(tmp_path / "a" / "img.png") in err
    assert np.array_equal(np.load(out / "img_labels.npy"), first)
    assert main(["segment", str(tmp_path / "b" / "img.png"), "-k", "6", "-o", str(out), "-q", "--overwrite"]) == 0
    from lnsnet.io import read_image
    import lnsnet

    expect = lnsnet.segment(read_image(tmp_path / "b" / "img.png"), 6)
    assert np.array_equal(np.load(out / "img_labels.npy"), expect) and not np.array_equal(first, expect)
    # other settings (K): redone
    assert main(["segment", str(tmp_path / "b" / "img.png"), "-k", "12", "-o", str(out), "-q"]) == 0
    assert np.load(out / "img_labels.npy").max() > expect.max()
    # outputs of an earlier version of the 2-D clustering (its labels differ): redone
    import json

    meta = out / "img_labels.json"
    from lnsnet.cluster import CLUSTERING_VERSION

    recorded = json.loads(meta.read_text())
    assert recorded["clustering"].startswith(f"2-D v{CLUSTERING_VERSION}:")
    recorded["clustering"] = recorded["clustering"].replace(f"2-D v{CLUSTERING_VERSION}:", "2-D v1:")
    meta.write_text(json.dumps(recorded))
    capsys.readouterr()
    assert main(["segment", str(tmp_path / "b" / "img.png"), "-k", "12", "-o", str(out)]) == 0
    assert "skipped" not in capsys.readouterr().err
    assert json.loads(meta.read_text())["clustering"].startswith(f"2-D v{CLUSTERING_VERSION}:")


def test_a_rerun_leaves_no_output_that_does_not_match_its_labels(tmp_path):
    """A rerun with other settings rewrites the labels; an overlay or a table it was not
    asked for, left by the first run, would describe other labels: removed."""
    _save(tmp_path / "in.png")
    out = tmp_path / "out"
    assert main(["segment", str(tmp_path / "in.png"), "-k", "20", "-o", str(out), "-q", "--features"]) == 0
    assert (out / "in_regions.csv").exists() and (out / "in_overlay.png").exists()
    assert main(["segment", str(tmp_path / "in.png"), "-k", "6", "-o", str(out), "-q", "--no-overlay"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["in_labels.json", "in_labels.npy", "in_labels.png"]


def test_a_missing_input_whose_outputs_exist_fails_alone(tmp_path, capsys):
    """A list's entry gone (or a broken link) whose outputs an earlier run made: it fails
    alone, the others are done or skipped, and the tally is printed (the record check
    stopped the whole run on it)."""
    from lnsnet.cli import main

    (tmp_path / "m").mkdir()
    for name in ("x", "y"):
        _save(tmp_path / "m" / f"{name}.png")
    out = tmp_path / "out"
    assert main(["segment", str(tmp_path / "m"), "-k", "6", "-o", str(out), "-q"]) == 0
    (tmp_path / "m" / "y.png").unlink()
    (tmp_path / "list.txt").write_text("m/x.png\nm/y.png\n")
    assert main(["segment", str(tmp_path / "list.txt"), "-k", "6", "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "y.png" in err and "done: 0, failed: 1, skipped: 1" in err


@pytest.mark.parametrize("volume", [False, True])
def test_outputs_added_later_reuse_the_labels(tmp_path, capsys, monkeypatch, volume):
    """--features (or the overlay) asked for on a rerun: the labels made before with these
    settings are read back and the missing outputs written from them, byte for byte as a
    run that made them all at once; other settings, --overwrite or a damaged label file
    compute the labels again."""
    import lnsnet.inference

    src = tmp_path / ("in.npy" if volume else "in.png")
    if volume:
        np.save(src, np.random.default_rng(0).random((6, 24, 28)).astype(np.float32))
    else:
        _save(src)
    flags = ["-k", "12", "-q"] + (["--volume"] if volume else [])
    assert main(["segment", str(src), "-o", str(tmp_path / "all"), "--features", *flags]) == 0
    out = tmp_path / "later"
    assert main(["segment", str(src), "-o", str(out), "--no-overlay", *flags]) == 0
    labels = (out / "in_labels.npy").read_bytes()
    real = lnsnet.inference.segment

    def refuse(*a, **k):
        raise AssertionError("segment called")

    monkeypatch.setattr(lnsnet.inference, "segment", refuse)
    assert main(["segment", str(src), "-o", str(out), "--features", *flags]) == 0  # no labels computed
    for name in ("in_regions.csv", "in_overlay.png", "in_labels.npy"):
        assert (out / name).read_bytes() == (tmp_path / "all" / name).read_bytes(), name
    assert (out / "in_labels.npy").read_bytes() == labels
    assert main(["segment", str(src), "-o", str(out), "--features", "--overwrite", *flags]) == 2  # computed: refused
    assert "segment called" in capsys.readouterr().err
    monkeypatch.setattr(lnsnet.inference, "segment", real)
    assert main(["segment", str(src), "-o", str(out), "--no-overlay", *flags]) == 0  # (a volume that failed: none left)
    (out / "in_regions.csv").unlink(missing_ok=True)
    (out / "in_labels.npy").write_bytes(labels[:40])  # damaged: computed again
    assert main(["segment", str(src), "-o", str(out), "--features", *flags]) == 0
    assert (out / "in_labels.npy").read_bytes() == labels


def test_label_files_read_back_only_as_written(tmp_path, capsys, monkeypatch):
    """A label file edited by hand, replaced by another image's, or damaged in any way (an
    .npz under the name, a header claiming a huge array) is not read back: its labels are
    computed again, and one bad file does not stop the others."""
    import io

    import lnsnet.inference

    for name, seed in (("a", 0), ("b", 1)):
        _save(tmp_path / "in" / f"{name}.png", seed=seed)
    out = tmp_path / "out"
    flags = ["-k", "12", "-q", "--no-overlay"]
    assert main(["segment", str(tmp_path / "in"), "-o", str(out), *flags]) == 0
    good = {n: (out / f"{n}_labels.npy").read_bytes() for n in "ab"}
    calls = []
    real = lnsnet.inference.segment
    monkeypatch.setattr(lnsnet.inference, "segment", lambda *a, **k: calls.append(1) or real(*a, **k))
    edited = np.load(out / "a_labels.npy")
    edited[edited == 2] = 1  # two superpixels merged by hand
    np.save(out / "a_labels.npy", edited)
    assert main(["segment", str(tmp_path / "in"), "-o", str(out), "-k", "12", "-q"]) == 0
    assert len(calls) == 1 and (out / "a_labels.npy").read_bytes() == good["a"]  # b read back, a computed
    assert "done: 2 (1 with the labels of an earlier run), failed: 0" in capsys.readouterr().err
    for damaged in ("npz", "huge", "other"):
        for f in out.glob("*_overlay.png"):
            f.unlink()
        calls.clear()
        if damaged == "npz":
            buf = io.BytesIO()
            np.savez(buf, x=np.zeros(3))
            (out / "a_labels.npy").write_bytes(buf.getvalue())
        elif damaged == "huge":
            (out / "a_labels.npy").write_bytes(b"\x93NUMPY\x01\x00v\x00{'descr': '<i4', 'fortran_order': False, "
                                               b"'shape': (4800000, 640000), }" + b" " * 50 + b"\n")
        else:  # the other image's labels under its name
            (out / "a_labels.npy").write_bytes(good["b"])
        assert main(["segment", str(tmp_path / "in"), "-o", str(out), "-k", "12", "-q"]) == 0, damaged
        assert len(calls) == 1 and (out / "a_labels.npy").read_bytes() == good["a"], damaged
