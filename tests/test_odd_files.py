"""Odd and hostile files (tests/odd_files.py): every file of the corpus read as its rule
says or refused with one clear message; the rules' parts (size limit before decoding,
EXIF orientation, several frames) on their own; mutation fuzzing of valid files; a folder
run and a training stream with bad files among good ones."""

from __future__ import annotations

import io
import json
import os
import tracemalloc

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageOps

import lnsnet
from lnsnet.cli import main
from lnsnet.io import MAX_PIXELS, read_image
from odd_files import _oriented_store, _save, _tiff, base_image, make_corpus


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("odd")
    return folder, make_corpus(folder)


def test_the_corpus_covers_the_kinds_asked_for(corpus):
    _, cases = corpus
    names = " ".join(c.name for c in cases)
    assert len(cases) >= 40
    for part in ("bomb_", ".png", ".gif", ".tif", "truncated_", "flipped_", "empty_", "_named.", "u16_", "f32_",
                 "multipage", "stack_z", "animated_", "cmyk", "palette", "bilevel", "gray_alpha", "exif_orientation_8",
                 "icc_", "thin_1x200000"):
        assert part in names, part
    assert sum(c.refused is not None for c in cases) >= 15 and sum(c.refused is None for c in cases) >= 30


def _check(case, folder):
    path = folder / case.name
    if case.refused is not None:
        with pytest.raises(ValueError) as err:
            read_image(path)
        assert str(path) in str(err.value) and case.refused in str(err.value), str(err.value)
        return
    arr = read_image(path)
    assert str(arr.dtype) == case.dtype and arr.shape == case.shape
    if case.want is not None:
        assert arr.shape == case.want.shape
        diff = np.abs(arr.astype(np.float64) - case.want.astype(np.float64))
        same_nan = np.array_equal(np.isnan(arr.astype(np.float64)), np.isnan(case.want.astype(np.float64)))
        assert same_nan and np.nanmean(diff) <= case.tol, np.nanmean(diff)
    if case.segment is not None:
        with pytest.raises(ValueError, match=case.segment):
            lnsnet.segment(arr, 6)
        return
    labels = lnsnet.segment(arr, 6)
    assert labels.shape == arr.shape[:2] and labels.dtype == np.int32 and labels.min() == 1


def test_every_file_meets_its_rule(corpus):
    folder, cases = corpus
    failures = []
    for case in cases:
        try:
            _check(case, folder)
        except AssertionError as exc:  # collect them all: one report for the whole corpus
            failures.append(f"{case.name}: {exc}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("name", ["bomb_zlib_17000x17000.png", "bomb_17000x17000.ico"])
def test_a_bomb_is_refused_before_its_pixels_are_decoded(corpus, name):
    """289 M pixels of zeros in 280 KB, as a PNG and inside an ICO (which Pillow decodes
    while opening it: its guard, set to lnsnet's limit, stops it): decoding would allocate
    289 MB; refusing it allocates almost nothing."""
    folder, _ = corpus
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match="289,000,000 pixels"):
            read_image(folder / name)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20 * 2**20, peak


def test_the_limit_is_the_users(tmp_path):
    """max_pixels refuses what is larger, lets through what is not (exactly at the limit is
    allowed), can be lifted; Pillow's own global limit is left as it was."""
    img = base_image(30, 40)
    p = tmp_path / "a.png"
    Image.fromarray(img).save(p)
    with pytest.raises(ValueError, match="1,199"):
        read_image(p, max_pixels=1199)
    assert read_image(p, max_pixels=1200).shape == (30, 40, 3)
    assert read_image(p, max_pixels=None).shape == (30, 40, 3)
    assert Image.MAX_IMAGE_PIXELS == 89478485  # Pillow's default, untouched after lnsnet read
    with pytest.raises(ValueError, match="max_pixels"):
        read_image(p, max_pixels=-1)
    assert MAX_PIXELS == 16384 * 16384


def test_a_tiff_bomb_behind_a_thumbnail_is_refused(tmp_path):
    """The size checked is that of the page decoded: a reduced first page hides nothing."""
    import tifffile

    big = base_image(60, 80)
    p = tmp_path / "thumb_first.tif"
    with tifffile.TiffWriter(p) as tw:
        tw.write(big[:4, :4], subfiletype=1)  # a reduced-resolution page first
        tw.write(big)
    assert read_image(p).shape == (60, 80, 3)
    with pytest.raises(ValueError, match="80 x 60 pixels"):
        read_image(p, max_pixels=1000)


def test_cli_max_pixels(tmp_path, capsys):
    p = tmp_path / "a.png"
    Image.fromarray(base_image(30, 40)).save(p)
    assert main(["segment", str(p), "-o", str(tmp_path / "o"), "-q", "--max-pixels", "1000"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "1,000" in err[0] and "--max-pixels" in err[0]
    assert not (tmp_path / "o" / "a_labels.npy").exists()
    assert main(["segment", str(p), "-o", str(tmp_path / "o"), "-q", "--max-pixels", "1200", "-k", "5"]) == 0
    assert np.load(tmp_path / "o" / "a_labels.npy").shape == (30, 40)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_as_pillow_shows_it(tmp_path, orientation):
    """Exact (PNG with an eXIf chunk) against Pillow's own ImageOps.exif_transpose, and
    the stored pixels with orientation=False."""
    stored = _oriented_store(base_image(20, 30), orientation)
    exif = Image.Exif()
    exif[274] = orientation
    p = tmp_path / "o.png"
    p.write_bytes(_save(Image.fromarray(stored), format="PNG", exif=exif.tobytes()))
    with Image.open(p) as im:
        want = np.array(ImageOps.exif_transpose(im))
    got = read_image(p)
    assert np.array_equal(got, want) and np.array_equal(got, base_image(20, 30))
    assert np.array_equal(read_image(p, orientation=False), stored)


def test_cli_orientation_and_its_record(tmp_path):
    stored = _oriented_store(base_image(20, 30), 6)  # 30 x 20 as stored, 20 x 30 upright
    exif = Image.Exif()
    exif[274] = 6
    p = tmp_path / "phone.jpg"
    p.write_bytes(_save(Image.fromarray(stored), format="JPEG", quality=95, exif=exif.tobytes()))
    assert main(["segment", str(p), "-o", str(tmp_path / "up"), "-q", "-k", "4"]) == 0
    assert np.load(tmp_path / "up" / "phone_labels.npy").shape == (20, 30)
    assert main(["segment", str(p), "-o", str(tmp_path / "raw"), "-q", "-k", "4", "--ignore-orientation"]) == 0
    assert np.load(tmp_path / "raw" / "phone_labels.npy").shape == (30, 20)
    assert json.loads((tmp_path / "raw" / "phone_labels.json").read_text())["orientation"] == "as stored"


def test_a_folder_with_bad_files(corpus, tmp_path, capsys):
    """The good files are all segmented, every bad one is named on stderr with one line,
    the exit code is 2, no traceback, and the output folder holds the good files' outputs
    and the list of failures, nothing else (no partial outputs, no temporary files)."""
    folder, cases = corpus
    listed = {c.name: c for c in cases if os.path.splitext(c.name)[1] in lnsnet.io.IMAGE_SUFFIXES}
    out = tmp_path / "out"
    assert main(["segment", str(folder), "-o", str(out), "-q", "-k", "6"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    # the API refuses NaN pixels; the command line leaves them out (label 0), with a notice
    failed = {c.name for c in listed.values() if c.refused is not None or c.segment not in (None, "NaN")}
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(errors) == len(failed)
    for name in failed:
        assert sum(str(folder / name) in line for line in errors) == 1, name
    good = sorted(os.path.splitext(n)[0] for n in listed if n not in failed)
    assert sorted(p.name[: -len("_labels.npy")] for p in out.glob("*_labels.npy")) == good
    suffixes = ("_labels.npy", "_labels.png", "_overlay.png", "_labels.json")
    assert sorted(p.name for p in out.iterdir()) == sorted([g + s for g in good for s in suffixes] + ["failures.tsv"])
    assert f"done: {len(good)}, failed: {len(failed)}" in err
    lines = (out / "failures.tsv").read_text().splitlines()[1:]  # each bad file and its error, as on stderr
    assert sorted(line.split("\t")[0] for line in lines) == sorted(str(folder / n) for n in failed)
    assert {"error: " + line.split("\t")[1] for line in lines} == set(errors)
    for c in listed.values():
        if c.segment == "NaN":
            labels = np.load(out / (os.path.splitext(c.name)[0] + "_labels.npy"))
            assert np.array_equal(labels == 0, ~np.isfinite(c.want)), c.name


def test_stretching_is_said(tmp_path, capsys):
    import tifffile

    p = tmp_path / "ct.tif"
    tifffile.imwrite(p, (base_image(30, 40)[..., 0].astype(np.float32) * 10 - 1000))
    assert main(["segment", str(p), "-o", str(tmp_path / "o"), "-q", "-k", "5"]) == 0
    err = capsys.readouterr().err
    assert "values in [-1000, 1550] stretched to [0, 1]" in err


def test_an_internal_error_is_one_line(tmp_path, capsys, monkeypatch):
    """A bug of ours (not a refusal of the input) in one file: that file fails with one
    line naming the error, the others are done; at the top level: exit 1, one line."""
    for name in ("a", "b"):
        Image.fromarray(base_image(30, 40)).save(tmp_path / f"{name}.png")
    real = lnsnet.inference.segment

    def flaky(image, *args, **kwargs):
        if isinstance(image, list) or image.shape != (30, 40, 3) or image[0, 0, 2] != 61:
            if isinstance(image, list):
                raise RuntimeError("boom")
            return real(image, *args, **kwargs)
        raise RuntimeError("boom")

    monkeypatch.setattr(lnsnet.inference, "segment", flaky)
    img = base_image(30, 40)
    img[0, 0, 2] = 61
    Image.fromarray(img).save(tmp_path / "b.png")
    assert main(["segment", str(tmp_path), "-o", str(tmp_path / "o"), "-q", "-k", "5"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "RuntimeError: boom" in err and "b.png" in err and "done: 1, failed: 1" in err
    monkeypatch.setattr(lnsnet.cli, "_cmd_info", lambda args: (_ for _ in ()).throw(RuntimeError("kaput")))
    assert main(["info"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "internal error RuntimeError: kaput" in err[0] and "--debug" in err[0]


def test_training_skips_bad_files_and_goes_on(tmp_path, capsys):
    import torch

    from lnsnet import checkpoint

    data = tmp_path / "stream"
    data.mkdir()
    for i in range(3):
        Image.fromarray(np.roll(base_image(40, 52), 9 * i, axis=1)).save(data / f"img{i}.png")
    (data / "img1b_cut.jpg").write_bytes(_save(Image.fromarray(base_image()), format="JPEG")[:300])
    frames = [Image.fromarray(np.roll(base_image(), 7 * i, axis=0)) for i in range(2)]
    (data / "img2b_anim.gif").write_bytes(_save(frames[0], format="GIF", save_all=True, append_images=frames[1:]))
    (data / "img2c_eight.tif").write_bytes(_tiff(np.zeros((20, 20, 8), np.uint8), photometric="minisblack",
                                                 planarconfig="contig"))
    model = tmp_path / "m.pt"
    args = ["train", str(data), "-o", str(model), "-q", "--iterations", "2", "--feature-iterations", "1",
            "--checkpoint-every", "1"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    for bad in ("img1b_cut.jpg", "img2b_anim.gif", "img2c_eight"):
        assert sum(bad in line for line in err.splitlines() if line.startswith("skipped: ")) == 1, (bad, err)
    payload, _ = checkpoint.load_latest(model)
    hist = payload["history"]
    assert payload["position"] == 6 and [("skipped" in r) for r in hist] == [False, False, True, False, True, True]
    assert [r["name"] for r in hist if "skipped" not in r] == ["img0", "img1", "img2"]
    # a resumed stream skips them again without retraining anything
    before = {k: v.clone() for k, v in payload["state_dict"].items()}
    assert main(args + ["--resume"]) == 0
    payload2, _ = checkpoint.load_latest(model)
    assert payload2["position"] == 6
    assert all(torch.equal(before[k], v) for k, v in payload2["state_dict"].items())


# ------------------------------------------------------------------------------- fuzzing

def _seed_files() -> dict[str, bytes]:
    img = base_image(24, 32)
    pil = Image.fromarray(img)
    return {"png": _save(pil, format="PNG"), "jpg": _save(pil, format="JPEG", quality=90), "tif": _tiff(img),
            "tifz": _tiff(img, compression="zlib"), "gif": _save(pil, format="GIF"), "bmp": _save(pil, format="BMP"),
            "webp": _save(pil, format="WEBP", quality=80),
            "png16": _save(Image.fromarray(img[..., 0].astype(np.uint16) * 257), format="PNG"),
            "tif16": _tiff(img.astype(np.uint16) * 257, photometric="rgb"),
            "tiff32": _tiff(img[..., 0].astype(np.float32) / 255),
            "pgm": b"P5\n32 24\n4095\n" + (img[..., 0].astype(">u2") * 16).tobytes(),
            "ppm": b"P3\n32 24\n255\n" + " ".join(map(str, img.ravel())).encode()}


def _volume_seeds() -> dict[str, bytes]:
    g = base_image(12, 16)[..., 1]
    buf = io.BytesIO()
    np.save(buf, np.stack([g] * 3))
    return {"stack.tif": _tiff(np.stack([g] * 4), imagej=True, metadata={"axes": "ZYX", "spacing": 2.0}),
            "stack.npy": buf.getvalue()}


SEEDS = _seed_files()
FUZZ_EXAMPLES = int(os.environ.get("LNSNET_FUZZ_EXAMPLES", "25"))


@st.composite
def mutated(draw, fmt):
    data = bytearray(SEEDS[fmt])
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(["set", "header", "cut", "insert", "delete"]))
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        if op == "set":
            data[at] = draw(st.integers(0, 255))
        elif op == "header":
            data[at % min(96, len(data))] = draw(st.integers(0, 255))
        elif op == "cut":
            data = data[:at]
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=12))
        else:
            del data[at : at + draw(st.integers(1, 12))]
    return bytes(data)


@pytest.mark.parametrize("fmt", sorted(SEEDS))
def test_fuzzed_files_end_in_a_result_or_a_clear_refusal(tmp_path_factory, fmt):
    """Mutated PNG, JPEG, TIFF (plain, zlib, 16-bit, float), GIF, BMP and WebP files: every
    case is read (and then segmented, or refused by segment with a ValueError) or refused
    with a ValueError naming the file; never another exception, never a hang on a huge
    claimed size (max_pixels bounds the work). LNSNET_FUZZ_EXAMPLES sets the cases per
    format (25 in CI)."""
    folder = tmp_path_factory.mktemp(f"fuzz_{fmt}")
    path = folder / f"case.{fmt[:3]}"

    @settings(max_examples=FUZZ_EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(mutated(fmt))
    def one(data):
        path.write_bytes(data)
        try:
            arr = read_image(path, max_pixels=2**20)
        except ValueError as exc:
            assert str(path) in str(exc)
            return
        assert isinstance(arr, np.ndarray) and arr.ndim in (2, 3) and arr.size > 0
        try:
            labels = lnsnet.segment(arr, 4)
        except ValueError:
            return  # e.g. NaN in a float TIFF: segment says so
        assert labels.shape == arr.shape[:2] and labels.min() == 1
        assert np.array_equal(read_image(path, data=data, max_pixels=2**20), arr)  # bytes as the Ray engine reads

    one()


VOLUME_SEEDS = _volume_seeds()


@pytest.mark.parametrize("name", sorted(VOLUME_SEEDS))
def test_fuzzed_stacks_end_in_a_volume_or_a_clear_refusal(tmp_path_factory, name):
    """Mutated 3-D stacks (ImageJ TIFF, .npy) through read_volume: a volume of 3 or 4
    dimensions or a ValueError naming the file, never another exception."""
    from lnsnet.io import read_volume

    path = tmp_path_factory.mktemp("fuzz_volume") / name

    @settings(max_examples=FUZZ_EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(st.data())
    def one(draw):
        data = bytearray(VOLUME_SEEDS[name])
        for _ in range(draw.draw(st.integers(1, 3))):
            if not data:
                break
            at = draw.draw(st.integers(0, len(data) - 1))
            data[at] = draw.draw(st.integers(0, 255))
        path.write_bytes(bytes(data))
        try:
            vol, _ = read_volume(path, max_voxels=2**20)
        except ValueError as exc:
            assert str(path) in str(exc)
            return
        assert vol.ndim in (3, 4) and vol.size > 0

    one()
