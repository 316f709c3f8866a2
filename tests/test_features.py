import numpy as np

from lnsnet.features import canny_contours, encode, sobel_contours
from reference import lab_position, standardise


def test_encode_is_standardised_and_isotropic():
    rng = np.random.default_rng(0)
    rgb = rng.random((30, 50, 3)).astype(np.float32)
    x = encode(rgb)
    assert x.shape == (1, 5, 30, 50)
    x = x[0].numpy()
    assert np.allclose(x[:3].mean(axis=(1, 2)), 0, atol=1e-5)
    assert np.allclose(x[:3].std(axis=(1, 2)), 1, atol=1e-4)
    # one pixel step has the same length along rows and columns
    drow = x[3, 1, 0] - x[3, 0, 0]
    dcol = x[4, 0, 1] - x[4, 0, 0]
    assert np.isclose(drow, dcol, rtol=1e-5) and drow > 0
    # the two position channels share one scale: mean square over both is 1
    assert np.isclose((x[3:5] ** 2).mean(), 1.0, atol=1e-4)


def test_flat_channel_does_not_divide_by_zero():
    rgb = np.full((5, 6, 3), 0.5, np.float32)
    x = standardise(lab_position(rgb))
    assert np.all(np.isfinite(x)) and np.allclose(x[:3], 0, atol=1e-5)


def test_sobel_peaks_on_the_edge():
    rgb = np.zeros((20, 20, 3), np.float32)
    rgb[:, 10:] = 1.0
    b = sobel_contours(rgb)
    assert b.shape == (20, 20) and b.max() == 1.0 and b.min() == 0.0
    assert np.all(b[:, 9:11] == 1.0)  # the two columns beside the step
    assert np.all(b[:, :8] == 0) and np.all(b[:, 12:] == 0)
    c = canny_contours(rgb)
    assert c[:, 9:11].any() and not c[:, :7].any()
