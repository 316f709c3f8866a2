"""Bad inputs get clear errors; valid unusual inputs work; model files cannot run code."""

import io
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

import lnsnet
from conftest import blocks_image, is_connected_labels
from lnsnet.cli import main

DOCUMENTED = (ValueError, TypeError)


@st.composite
def images(draw):
    h = draw(st.integers(1, 24))
    w = draw(st.integers(1, 24))
    kind = draw(st.sampled_from(["gray", "rgb", "rgba", "hxwx1"]))
    dtype = draw(st.sampled_from(["uint8", "uint16", "float32", "float64", "int64", "bool"]))
    shape = {"gray": (h, w), "rgb": (h, w, 3), "rgba": (h, w, 4), "hxwx1": (h, w, 1)}[kind]
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    if dtype == "uint8":
        return rng.integers(0, 256, shape).astype(np.uint8)
    if dtype == "uint16":
        return rng.integers(0, 65536, shape).astype(np.uint16)
    if dtype == "int64":
        return rng.integers(0, 256, shape)
    if dtype == "bool":
        return rng.random(shape) > 0.5
    arr = rng.random(shape).astype(dtype)
    if draw(st.booleans()):  # sometimes out of range or non-finite
        arr.flat[0] = draw(st.sampled_from([np.nan, np.inf, -0.5, 2.0, 1.0]))
    return arr


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(image=images(), k=st.one_of(st.integers(-2, 700), st.floats(0.5, 50.0)))
def test_segment_returns_valid_labels_or_a_documented_error(image, k):
    try:
        labels = lnsnet.segment(image, k)
    except DOCUMENTED:
        return
    h, w = image.shape[:2]
    assert labels.dtype == np.int32 and labels.shape == (h, w)
    n = labels.max()
    assert n >= 1 and np.array_equal(np.unique(labels), np.arange(1, n + 1))
    assert is_connected_labels(labels)


@pytest.mark.parametrize(
    "image,k,exc,msg,kw",
    [
        (np.zeros((0, 4, 3), np.uint8), 1, ValueError, "empty", None),
        (np.zeros((2, 4, 4), np.uint8), 1, ValueError, "RGB image", dict(channel_axis=0, convert2lab=True)),
        (np.zeros((2, 2, 2, 2, 3), np.uint8), 1, ValueError, "5 dimensions", None),
        (np.zeros((2, 2, 2, 2, 3), np.uint8), 1, ValueError, "dimensions", None),
        (np.full((4, 4), np.inf), 1, ValueError, "NaN or infinite", None),
        (np.zeros((4, 4), complex), 1, TypeError, "complex", None),
        (np.zeros((4, 4), np.uint8), 0, ValueError, ">= 1", None),
        (np.zeros((4, 4), np.uint8), 4, ValueError, "mask selects no pixel", dict(mask=np.zeros((4, 4), bool))),
        (np.zeros((4, 4), np.uint8), 4, ValueError, "mask must have", dict(mask=np.ones((4, 5), bool))),
        (np.zeros((4, 4), np.uint8), 4, ValueError, "start_label", dict(start_label=2)),
        (np.zeros((4, 4), np.uint8), 4, ValueError, "spacing", dict(spacing=(1, 0))),
        (np.zeros((4, 4), np.uint8), 4, ValueError, "spacing has 4", dict(spacing=(1, 1, 1, 1))),
        (np.zeros((4, 4), np.uint8), 4, ValueError, "sigma", dict(sigma=-1)),
        (np.zeros((4, 4), np.uint8), 4, ValueError, "max_size_factor", dict(max_size_factor=0)),
        (np.zeros((4, 4), np.uint8), 4, TypeError, "slic_zero", dict(slic_zero=True)),
        (np.zeros((4, 4), np.uint8), 4, ValueError, "mode='local'", dict(mask=np.ones((4, 4), bool),
                                                                          clustering="paper:mode=dense")),
        (np.zeros((4, 4), np.uint8), float("nan"), ValueError, "finite", None),
        (np.zeros((4, 4), np.uint8), "4", TypeError, "a number", None),
        ("image.png", 4, TypeError, "numpy array", None),
    ],
)
def test_bad_inputs_say_what_was_received(image, k, exc, msg, kw):
    with pytest.raises(exc, match=msg):
        lnsnet.segment(image, k, **(kw or {}))


def test_crafted_pickle_is_refused_without_running(tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    path = tmp_path / "evil.pt"
    with open(path, "wb") as fh:
        pickle.dump({"format": "lnsnet", "state_dict": Evil()}, fh)
    with pytest.raises(ValueError, match="refused without being run"):
        lnsnet.load_model(path)
    assert not marker.exists()


def test_wrong_kind_of_model_file(tmp_path):
    p = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(3)}, p)
    with pytest.raises(ValueError, match="not an lnsnet model file"):
        lnsnet.load_model(p)
    p2 = tmp_path / "text.pt"
    p2.write_text("hello")
    with pytest.raises(ValueError):
        lnsnet.load_model(p2)


def _jpeg_bytes():
    buf = io.BytesIO()
    Image.fromarray((blocks_image() * 255).astype(np.uint8)).save(buf, format="JPEG")
    return buf.getvalue()


def test_truncated_files_and_non_images_in_the_cli(tmp_path, capsys):
    src = tmp_path / "in"
    src.mkdir()
    data = _jpeg_bytes()
    (src / "cut.jpg").write_bytes(data[: len(data) // 3])
    (src / "notes.png").write_text("this is text")
    (src / "good.jpg").write_bytes(data)
    rc = main(["segment", str(src), "-k", "6", "-o", str(tmp_path / "out"), "-q"])
    err = capsys.readouterr().err
    assert rc == 2
    assert "cut.jpg" in err and "notes.png" in err and "done: 1, failed: 2" in err
    assert "Traceback" not in err


def test_unwritable_output_and_outputs_never_overwrite_inputs(tmp_path):
    img = tmp_path / "a.png"
    Image.fromarray((blocks_image() * 255).astype(np.uint8)).save(img)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    r = subprocess.run([sys.executable, "-m", "lnsnet.cli", "segment", str(img), "-o", str(blocker / "sub")],
                       capture_output=True, text=True)
    assert r.returncode == 2 and r.stderr.startswith("error:") and "Traceback" not in r.stderr
    # an input named like an output is never overwritten
    trap = tmp_path / "a_labels.png"
    trap.write_bytes(img.read_bytes())
    before = trap.read_bytes()
    r = subprocess.run([sys.executable, "-m", "lnsnet.cli", "segment", str(img), str(trap), "-o", str(tmp_path),
                        "-q"], capture_output=True, text=True)
    assert trap.read_bytes() == before
    assert "overwrite an input" in r.stderr and r.returncode == 2


def test_debug_shows_the_traceback(tmp_path):
    r = subprocess.run([sys.executable, "-m", "lnsnet.cli", "segment", str(tmp_path / "no.jpg"), "-o",
                        str(tmp_path), "--debug"], capture_output=True, text=True)
    assert r.returncode != 0 and "Traceback" in r.stderr


def test_valid_unusual_inputs_work():
    rng = np.random.default_rng(1)
    for image, k in [
        (rng.random((3, 3)), 1),
        (rng.random((2, 4000)), 50),
        (rng.integers(0, 65536, (20, 30), dtype=np.uint16), 6),
        (rng.random((20, 30, 4)).astype(np.float32), 6),
        (rng.random((1, 50)), 5),
        (rng.integers(0, 255, (12, 14, 2), dtype=np.uint8), 4),  # two channels
        (rng.random((12, 14)) > 0.5, 4),  # bool: stretched to 0..1
        (rng.integers(-5, 5, (12, 14)), 4),  # int64: stretched
        (rng.random((12, 14)) * 1000 - 20, 4),  # floats outside [0, 1]: stretched
    ]:
        labels = lnsnet.segment(image, k)
        assert labels.shape == image.shape[:2] and is_connected_labels(labels) and labels.min() == 1
    assert lnsnet.segment(rng.random((16, 16, 3)), 1).max() == 1
    assert lnsnet.segment(rng.random((16, 16, 3)), 1, start_label=0).max() == 0
    # K above the number of pixels: every pixel is a superpixel, as with slic
    assert np.array_equal(lnsnet.segment(rng.random((4, 4)), 17), np.arange(1, 17).reshape(4, 4))


def test_cli_usage_errors_are_one_line(tmp_path):
    for argv in (["segment", "x.jpg", "-o", str(tmp_path), "-k", "2.5"],
                 ["segment", "x.jpg", "-o", str(tmp_path), "-k", "0"],
                 ["segment", "x.jpg"],
                 ["frobnicate"]):
        r = subprocess.run([sys.executable, "-m", "lnsnet.cli", *argv], capture_output=True, text=True)
        assert r.returncode == 2, argv
        assert r.stderr.count("\n") == 1 and r.stderr.startswith("error:"), (argv, r.stderr)


def test_cli_k_larger_than_image(tmp_path):
    img = tmp_path / "a.png"
    Image.fromarray((blocks_image() * 255).astype(np.uint8)).save(img)
    r = subprocess.run([sys.executable, "-m", "lnsnet.cli", "segment", str(img), "-k", "100000", "-o",
                        str(tmp_path / "o")], capture_output=True, text=True)
    # as slic: every pixel one superpixel, and a line says far fewer than K came out
    assert r.returncode == 0 and "100000" in r.stderr and "Traceback" not in r.stderr
    assert np.load(tmp_path / "o" / "a_labels.npy").max() == 48 * 64
