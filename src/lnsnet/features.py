"""Input encoding (LAB + position) and contour priors for the gradient bi-direction layer.

All functions are pure; arrays in, arrays or tensors out.
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["encode", "lab_position", "sobel_contours", "canny_contours", "contour_prior"]


def lab_position(rgb: np.ndarray) -> np.ndarray:
    """Stack CIELAB colour and isotropic pixel position.

    Parameters
    ----------
    rgb : ndarray, float32, ``(H, W, 3)`` in ``[0, 1]``

    Returns
    -------
    ndarray, float32, ``(5, H, W)``: L, a, b, row, col. Positions are in units of
    ``sqrt(H * W)`` so that one pixel step is the same length along rows and columns
    (the official release scales rows by H and columns by W, which stretches portrait and
    landscape images differently).
    """
    from skimage.color import rgb2lab

    h, w = rgb.shape[:2]
    lab = rgb2lab(rgb).astype(np.float32)
    scale = float(np.sqrt(h * w))
    rows = (np.arange(h, dtype=np.float32) / scale)[:, None].repeat(w, axis=1)
    cols = (np.arange(w, dtype=np.float32) / scale)[None, :].repeat(h, axis=0)
    return np.concatenate([lab.transpose(2, 0, 1), rows[None], cols[None]], axis=0)


def standardise(x: np.ndarray) -> np.ndarray:
    """Standardise the 5 channels of :func:`lab_position` per image.

    Colour channels get mean 0 and standard deviation 1 each (a flat channel becomes 0). The two position channels share one scale, the standard deviation
    of the pair, so the encoding stays isotropic.

    ``x`` : ``(5, H, W)`` -> ``(5, H, W)`` float32.
    """
    out = np.empty_like(x, dtype=np.float32)
    for c in range(3):
        ch = x[c].astype(np.float64)
        mean = float(ch.mean())
        sd = float(ch.std())
        # LAB spans ~0..100: below 1e-3 the channel is flat up to rounding noise
        out[c] = (ch - mean) / sd if sd > 1e-3 else 0.0
    pos = x[3:5]
    pos = pos - pos.mean(axis=(1, 2), keepdims=True)
    sd = float(np.sqrt((pos**2).mean()))
    out[3:5] = pos / (sd if sd > 1e-12 else 1.0)
    return out


def encode(rgb: np.ndarray) -> torch.Tensor:
    """Encode a float RGB image ``(H, W, 3)`` in [0, 1] as the network input ``(1, 5, H, W)``.

    Computed by a compiled kernel; equal to ``standardise(lab_position(rgb))`` (the
    reference) up to float32 rounding (tested).
    """
    from ._kernels import encode_image

    return torch.from_numpy(encode_image(rgb))[None]


def _normalise01(m: np.ndarray) -> np.ndarray:
    """Scale a non-negative map to [0, 1] by its 99th percentile (robust to a few spikes)."""
    hi = float(np.percentile(m, 99.0)) if m.size else 0.0
    if hi <= 1e-12:
        hi = float(m.max()) if m.size else 0.0
    if hi <= 1e-12:
        return np.zeros_like(m, dtype=np.float32)
    return np.clip(m / hi, 0.0, 1.0).astype(np.float32)


def sobel_contours(rgb: np.ndarray) -> np.ndarray:
    """Contour map B in [0, 1] from the Sobel gradient magnitude of the LAB lightness.

    ``rgb`` : ``(H, W, 3)`` float in [0, 1] -> ``(H, W)`` float32.
    """
    from scipy import ndimage
    from skimage.color import rgb2lab

    lab = rgb2lab(rgb)
    mag = np.zeros(rgb.shape[:2], dtype=np.float64)
    # all three LAB channels, so that iso-luminant colour edges count too
    for c in range(3):
        ch = lab[:, :, c]
        if min(ch.shape) < 2:
            continue
        gx = ndimage.sobel(ch, axis=1, mode="nearest")
        gy = ndimage.sobel(ch, axis=0, mode="nearest")
        mag += gx * gx + gy * gy
    return _normalise01(np.sqrt(mag))


def canny_contours(rgb: np.ndarray, sigma: float = 1.0) -> np.ndarray:
    """Binary contour map B in {0, 1} from the Canny detector on the gray image."""
    from skimage.color import rgb2gray
    from skimage.feature import canny

    gray = rgb2gray(rgb)
    if min(gray.shape) < 3:
        return np.zeros(gray.shape, dtype=np.float32)
    return canny(gray, sigma=sigma).astype(np.float32)


def contour_prior(rgb: np.ndarray, kind: str = "sobel") -> np.ndarray:
    """Contour map for the image: ``kind`` is ``"sobel"`` (default) or ``"canny"``."""
    if kind == "sobel":
        return sobel_contours(rgb)
    if kind == "canny":
        return canny_contours(rgb)
    raise ValueError(f"unknown contour prior {kind!r}; allowed: 'sobel', 'canny'")
