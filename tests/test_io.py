import numpy as np
import pytest

from lnsnet.io import overlay, read_image, read_labels, save_labels, to_float_rgb


def test_gray_rgba_uint16_float_conversions():
    g = np.array([[0, 255]], np.uint8)
    out = to_float_rgb(g)
    assert out.shape == (1, 2, 3) and out.dtype == np.float32
    assert np.allclose(out[0, 1], 1.0) and np.allclose(out[0, 0], 0.0)
    rgba = np.zeros((2, 2, 4), np.uint8)
    rgba[..., 0] = 51
    rgba[..., 3] = 7
    assert np.allclose(to_float_rgb(rgba)[..., 0], 0.2)
    u16 = np.full((2, 2), 65535, np.uint16)
    assert np.allclose(to_float_rgb(u16), 1.0)
    f = np.full((2, 2, 3), 0.5, np.float64)
    assert np.allclose(to_float_rgb(f), 0.5)
    assert to_float_rgb(np.zeros((3, 4, 1), np.uint8)).shape == (3, 4, 3)


@pytest.mark.parametrize(
    "arr,exc",
    [
        (np.zeros((2, 2, 2), np.uint8), ValueError),
        (np.zeros((2, 2, 3, 1), np.uint8), ValueError),
        (np.zeros((0, 5), np.uint8), ValueError),
        (np.full((2, 2), 1.5), ValueError),
        (np.full((2, 2), np.nan), ValueError),
        (np.zeros((2, 2), np.int64), TypeError),
        (np.zeros((2, 2), bool), TypeError),
        ([[0, 1]], TypeError),
    ],
)
def test_bad_images_are_refused(arr, exc):
    with pytest.raises(exc):
        to_float_rgb(arr)


def test_label_roundtrip_png_and_npy(tmp_path):
    lab = np.arange(12, dtype=np.int32).reshape(3, 4) * 1000
    written = save_labels(tmp_path / "x_labels", lab)
    assert {p.suffix for p in written} == {".png", ".npy"}
    assert np.array_equal(read_labels(tmp_path / "x_labels.png"), lab)
    assert np.array_equal(read_labels(tmp_path / "x_labels.npy"), lab)
    assert not list(tmp_path.glob("*.tmp"))


def test_read_image_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_image(tmp_path / "missing.png")
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image at all")
    with pytest.raises(ValueError, match="bad.png"):
        read_image(bad)


def test_overlay_marks_boundaries():
    img = np.zeros((4, 4), np.uint8)
    lab = np.zeros((4, 4), np.int32)
    lab[:, 2:] = 1
    ov = overlay(img, lab, color=(255, 0, 0))
    # column 1 differs from its right neighbour: boundary; the rest stays black
    assert (ov[:, 1] == (255, 0, 0)).all()
    assert (ov[:, [0, 2, 3]] == 0).all()
