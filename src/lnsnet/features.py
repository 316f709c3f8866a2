"""Input encoding (LAB + position) and contour priors for the gradient bi-direction layer.

All functions are pure; arrays in, arrays or tensors out. The encoding runs in a compiled
kernel (numba, parallel over rows); its plain numpy definition is in the tests
(``tests/reference.py``: ``standardise(lab_position(rgb))``), which check both agree.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np
import torch

from .runtime import parallel_kernel

__all__ = ["encode", "encode_image", "gaussian_hw", "encode_torch", "encode_channels", "colour_scale_of", "sobel_contours", "canny_contours",
           "halfdisc_contours", "contour_prior"]

_jit = dict(cache=True, nogil=True)


def encode(rgb: np.ndarray) -> torch.Tensor:
    """Encode a float RGB image ``(H, W, 3)`` in [0, 1] as the network input ``(1, 5, H, W)``.

    Computed by :func:`encode_image`.
    """
    return torch.from_numpy(encode_image(rgb))[None]


# ------------------------------------------------------------------ encoding kernel
# sRGB (D65) -> XYZ -> CIELAB with scikit-image's constants (rgb2lab).
_M = np.array(
    [[0.412453, 0.357580, 0.180423], [0.212671, 0.715160, 0.072169], [0.019334, 0.119193, 0.950227]],
    dtype=np.float32,
)
_WHITE = np.array([0.95047, 1.0, 1.08883], dtype=np.float32)


@nb.njit(**_jit, inline="always")
def _linear(v):
    if v > np.float32(0.04045):
        return ((v + np.float32(0.055)) / np.float32(1.055)) ** np.float32(2.4)
    return v / np.float32(12.92)


@nb.njit(**_jit, inline="always")
def _f(t):
    if t > np.float32(0.008856):
        return np.float32(np.cbrt(t))
    return np.float32(7.787) * t + np.float32(16.0 / 116.0)


# Tables for the two powers of the conversion, read by linear interpolation in float64 (one
# Newton step after the cube root's): within a unit in the last place of float32 of the exact
# value (tested), at under half the time of the float32 pow and cbrt of the maths library
# (a blurred image's values are not on the 8-bit grid the exact table below covers).
_LIN_N = 16384  # sRGB's power branch u ** 2.4 on [0, 1] as u ** 0.4 (smooth: rel. error < 6e-8) times u * u
_LIN_T = ((np.arange(_LIN_N + 2, dtype=np.float64) / _LIN_N + 0.055) / 1.055) ** 0.4
_CBRT_N, _CBRT_HI = 4096, 1.0625  # t = X / white on (0.008856, 1.0625): rel. error < 3e-5, 1e-9 after Newton
_CBRT_T = np.cbrt(np.arange(_CBRT_N + 2, dtype=np.float64) * (_CBRT_HI / _CBRT_N))


@nb.njit(**_jit, inline="always")
def _linear_lut(v, lut_in, lut_out, lin_t):
    # _linear(v): exact from a table where v is i / 255 (a uint8 image's values), else
    # interpolated in lin_t (_LIN_T) on (0.04045, 1], else the formula
    i = int(v * np.float32(255.0) + np.float32(0.5))
    if 0 <= i <= 255 and lut_in[i] == v:
        return lut_out[i]
    if np.float32(0.04045) < v <= np.float32(1.0):
        p = np.float64(v) * _LIN_N
        j = int(p)
        u = (np.float64(v) + 0.055) * (1.0 / 1.055)
        return np.float32((lin_t[j] + (lin_t[j + 1] - lin_t[j]) * (p - j)) * (u * u))
    return _linear(v)


@nb.njit(**_jit, inline="always")
def _f_lut(t, cbrt_t):
    # _f(t), its cube root interpolated in cbrt_t (_CBRT_T) and refined by one Newton step
    if np.float32(0.008856) < t < np.float32(_CBRT_HI):
        t64 = np.float64(t)
        p = t64 * (_CBRT_N / _CBRT_HI)
        j = int(p)
        y = cbrt_t[j] + (cbrt_t[j + 1] - cbrt_t[j]) * (p - j)
        return np.float32((2.0 * y + t64 / (y * y)) * (1.0 / 3.0))
    return _f(t)


@parallel_kernel(**_jit)
def _lab_rows(rgb, out, m, white, sums, lin_t, cbrt_t):
    h, w = rgb.shape[0], rgb.shape[1]
    lut_in = np.empty(256, dtype=np.float32)  # the 256 values of 8-bit images, linearised once
    lut_out = np.empty(256, dtype=np.float32)
    for i in range(256):
        lut_in[i] = np.float32(i) / np.float32(255.0)
        lut_out[i] = _linear(lut_in[i])
    for y in nb.prange(h):
        s0 = s1 = s2 = q0 = q1 = q2 = 0.0
        for x in range(w):
            r = _linear_lut(rgb[y, x, 0], lut_in, lut_out, lin_t)
            g = _linear_lut(rgb[y, x, 1], lut_in, lut_out, lin_t)
            b = _linear_lut(rgb[y, x, 2], lut_in, lut_out, lin_t)
            fx = _f_lut((m[0, 0] * r + m[0, 1] * g + m[0, 2] * b) / white[0], cbrt_t)
            fy = _f_lut((m[1, 0] * r + m[1, 1] * g + m[1, 2] * b) / white[1], cbrt_t)
            fz = _f_lut((m[2, 0] * r + m[2, 1] * g + m[2, 2] * b) / white[2], cbrt_t)
            lv = np.float32(116.0) * fy - np.float32(16.0)
            av = np.float32(500.0) * (fx - fy)
            bv = np.float32(200.0) * (fy - fz)
            out[0, y, x] = lv
            out[1, y, x] = av
            out[2, y, x] = bv
            s0 += lv
            s1 += av
            s2 += bv
            q0 += np.float64(lv) * np.float64(lv)  # squares in float64: rounded to float32 they
            q1 += np.float64(av) * np.float64(av)  # gave a constant image at 0.5 an L spread of 0.01
            q2 += np.float64(bv) * np.float64(bv)
        sums[y, 0] = s0
        sums[y, 1] = s1
        sums[y, 2] = s2
        sums[y, 3] = q0
        sums[y, 4] = q1
        sums[y, 5] = q2


# ------------------------------------------------------------------ Gaussian blur
def gaussian_kernel(sd: float, n: int) -> tuple[np.ndarray, np.ndarray]:
    """scipy.ndimage's Gaussian of standard deviation ``sd > 0`` (truncated at 4 sigma,
    ``_gaussian_kernel1d``) as float64 weights, and the index table of an axis of ``n``
    pixels padded by its radius with scipy's ``reflect`` borders (numpy's "symmetric")."""
    r = int(4.0 * sd + 0.5)
    k = np.exp(-0.5 / (sd * sd) * np.arange(-r, r + 1) ** 2)
    return k / k.sum(), np.pad(np.arange(n), r, mode="symmetric")


def gaussian_hw(img: np.ndarray, sigma_rows: float, sigma_cols: float) -> np.ndarray:
    """``scipy.ndimage.gaussian_filter(img, (sigma_rows, sigma_cols, 0), mode="reflect")`` of
    a float32 ``(H, W, C)`` image, the same values bit for bit (scipy's kernel, truncated at
    4 sigma; its float64 sums in its order; float32 between the axes), in a compiled kernel
    parallel over rows (scipy's runs on one thread)."""
    img = np.ascontiguousarray(img, dtype=np.float32)
    h, w, c = img.shape
    out = None
    for axis, sd in ((0, float(sigma_rows)), (1, float(sigma_cols))):
        if sd <= 1e-15:
            continue
        taps, idx = gaussian_kernel(sd, img.shape[axis])
        src = img if out is None else out
        if out is None:  # one new array; the second axis runs in place (a row is read whole first)
            out = np.empty_like(img)
        (_blur_rows if axis == 0 else _blur_cols)(src.reshape(h, w * c), out.reshape(h, w * c), taps, idx, c)
    return img if out is None else out


@parallel_kernel(**_jit)
def _blur_rows(src, dst, k, idx, c):
    # along axis 0: dst[y] = k[r] src[y] + sum over j = r..1 of (src[y - j] + src[y + j]) k[r - j]
    h, m = src.shape
    r = (k.shape[0] - 1) // 2
    nblk = min(h, 64)
    for bi in nb.prange(nblk):
        acc = np.empty(m, dtype=np.float64)
        for y in range(bi * h // nblk, (bi + 1) * h // nblk):
            row = src[y]
            for i in range(m):
                acc[i] = np.float64(row[i]) * k[r]
            for j in range(r, 0, -1):
                a = src[idx[y + r - j]]
                b = src[idx[y + r + j]]
                kj = k[r - j]
                for i in range(m):
                    acc[i] += (np.float64(a[i]) + np.float64(b[i])) * kj
            out = dst[y]
            for i in range(m):
                out[i] = np.float32(acc[i])


@parallel_kernel(**_jit)
def _blur_cols(src, dst, k, idx, c):
    # along axis 1, each row padded by its reflection into a float64 buffer
    h, m = src.shape
    w = m // c
    r = (k.shape[0] - 1) // 2
    nblk = min(h, 64)
    for bi in nb.prange(nblk):
        buf = np.empty(m + 2 * r * c, dtype=np.float64)
        acc = np.empty(m, dtype=np.float64)
        for y in range(bi * h // nblk, (bi + 1) * h // nblk):
            row = src[y]
            for i in range(m):
                buf[r * c + i] = np.float64(row[i])
            for p in range(r):
                q0 = idx[p]
                q1 = idx[w + r + p]
                for ch in range(c):
                    buf[p * c + ch] = np.float64(row[q0 * c + ch])
                    buf[(w + r + p) * c + ch] = np.float64(row[q1 * c + ch])
            for i in range(m):
                acc[i] = buf[r * c + i] * k[r]
            for j in range(r, 0, -1):
                lo = (r - j) * c
                hi = (r + j) * c
                kj = k[r - j]
                for i in range(m):
                    acc[i] += (buf[lo + i] + buf[hi + i]) * kj
            out = dst[y]
            for i in range(m):
                out[i] = np.float32(acc[i])


@parallel_kernel(**_jit)
def _normalise(out, mean, scale, pos_scale, row_mean, col_mean):
    h, w = out.shape[1], out.shape[2]
    for y in nb.prange(h):
        ry = np.float32((y - row_mean) * pos_scale)
        for x in range(w):
            for c in range(3):
                out[c, y, x] = (out[c, y, x] - mean[c]) * scale[c]
            out[3, y, x] = ry
            out[4, y, x] = np.float32((x - col_mean) * pos_scale)


def encode_image(rgb: np.ndarray, *, colour_scale: bool = False, gray: bool = False):
    """``(H, W, 3)`` float32 RGB in [0, 1] -> ``(5, H, W)`` float32 standardised encoding.

    Colour channels: CIELAB, each standardised to mean 0 / sd 1 (0 where the channel is
    flat: :func:`_flat_floor`). Position channels: row and
    column centred and divided by their common standard deviation (isotropic: one pixel
    step is the same length along rows and columns, in portrait and landscape images
    alike).

    ``colour_scale=True`` also returns the factors ``(3,)`` that turn the three colour
    channels into the clustering's colour (:func:`colour_scale_of`): ``(x, scale)``.
    ``gray=True``: the image is a gray one repeated (its a and b flat, whatever the
    conversion's rounding leaves in them).
    """
    rgb = np.ascontiguousarray(rgb, dtype=np.float32)
    h, w = rgb.shape[:2]
    out = np.empty((5, h, w), dtype=np.float32)
    sums = np.empty((h, 6), dtype=np.float64)
    _lab_rows(rgb, out, _M, _WHITE, sums, _LIN_T, _CBRT_T)
    n = float(h * w)
    tot = sums.sum(0)
    mean = tot[:3] / n
    var = np.maximum(tot[3:] / n - mean**2, 0.0)
    sd = np.sqrt(var)
    sd = np.where(sd > _flat_floor(mean, sd), sd, 0.0)
    if gray:
        sd[1:] = 0.0
    scale = np.where(sd > 0, 1.0 / np.where(sd > 0, sd, 1.0), 0.0)
    # positions y / sqrt(HW) and x / sqrt(HW) centred; their shared sd in closed form
    pos_var = ((h * h - 1) / 12.0 + (w * w - 1) / 12.0) / 2.0
    pos_scale = 1.0 / math.sqrt(pos_var) if pos_var > 1e-24 else 1.0
    _normalise(out, mean.astype(np.float32), scale.astype(np.float32), pos_scale, (h - 1) / 2.0, (w - 1) / 2.0)
    return (out, colour_scale_of(sd)) if colour_scale else out


def encode_torch(rgb: torch.Tensor, gray=None):
    """:func:`encode_image` (with ``colour_scale=True``) in torch, where ``rgb`` is (a GPU),
    for one image or a batch: ``(3, H, W)`` or ``(B, 3, H, W)`` float32 RGB in [0, 1] ->
    ``((5, H, W)`` or ``(B, 5, H, W)`` float32 on its device, ``(3,)`` or ``(B, 3)``
    factors). The same formulas in float32; the powers and cube roots of another maths
    library may differ from the compiled kernel's in the last bit."""
    if rgb.dim() == 3:
        x, scale = encode_torch(rgb[None], None if gray is None else [bool(gray)])
        return x[0], scale[0]
    nb, _, h, w = rgb.shape
    dev = rgb.device
    lin = torch.where(rgb > 0.04045, ((rgb + 0.055) / 1.055) ** 2.4, rgb / 12.92)
    m = torch.from_numpy(_M).to(dev)
    white = torch.from_numpy(_WHITE).to(dev)
    xyz = [(m[i, 0] * lin[:, 0] + m[i, 1] * lin[:, 1] + m[i, 2] * lin[:, 2]) / white[i] for i in range(3)]
    fx, fy, fz = (torch.where(t > 0.008856, t.pow(1.0 / 3.0), 7.787 * t + 16.0 / 116.0) for t in xyz)
    lab = torch.stack([116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)], 1)
    lab64 = lab.double()
    stats = torch.cat([lab64.sum((2, 3)), lab64.square().sum((2, 3))], 1).cpu().numpy()  # one sync a batch
    mean, scale, pos_scale, colour = _input_scales(stats, h, w, gray)
    mean_t = torch.from_numpy(mean.astype(np.float32)).to(dev)[:, :, None, None]
    scale_t = torch.from_numpy(scale.astype(np.float32)).to(dev)[:, :, None, None]
    ys = ((torch.arange(h, device=dev, dtype=torch.float64) - (h - 1) / 2.0) * pos_scale).float()
    xs = ((torch.arange(w, device=dev, dtype=torch.float64) - (w - 1) / 2.0) * pos_scale).float()
    x = torch.cat([(lab - mean_t) * scale_t, ys[None, None, :, None].expand(nb, 1, h, w),
                   xs[None, None, None, :].expand(nb, 1, h, w)], 1)
    return x.contiguous(), colour


def _flat_floor(mean: np.ndarray, sd: np.ndarray) -> np.ndarray:
    """The spread at or below which a CIELAB channel counts as flat (``mean``, ``sd``: one
    image's ``(3,)`` or a batch's ``(B, 3)``): the rounding of its sums in float64, 1e-6 of
    the channel's mean (and 1e-7 absolute); for a and b also 1e-4 CIELAB units, above the
    float32 rounding the conversion leaves in a gray pixel's chroma (about 1e-5: ``500 (fx -
    fy)`` of two equal numbers near 1); or 1e-3 of the largest channel's spread (a gray
    image's a and b are not exactly constant: the conversion's constants leave about 1e-4
    of L's). Relative for L, so a dim image (floats in [0, 1e-5], a 0/1 mask saved as
    uint16) or a bright one of low contrast (a 16-bit image of 5 counts on 32768) keeps its
    contrast; until 2026-12-06 an absolute 1e-3 (over squares rounded to float32) made such
    images flat: a plain grid."""
    mean, sd = np.abs(np.asarray(mean, dtype=np.float64)), np.asarray(sd, dtype=np.float64)
    chroma = np.array([0.0, 1e-4, 1e-4])
    return np.maximum(np.maximum(1e-6 * mean + 1e-7, chroma), 1e-3 * sd.max(-1, keepdims=True))


def _input_scales(stats: np.ndarray, h: int, w: int, gray=None):
    """From the sums and sums of squares ``(B, 6)`` of each image's L, a, b: the means and
    the scales ``(B, 3)`` that standardise them (0 for a flat channel, as
    :func:`encode_image`; ``gray``: which images are gray ones repeated, their a and b
    flat), the positions' scale and the clustering's colour factors ``(B, 3)``."""
    n = float(h * w)
    mean = stats[:, :3] / n
    sd = np.sqrt(np.maximum(stats[:, 3:] / n - mean**2, 0.0))
    sd = np.where(sd > _flat_floor(mean, sd), sd, 0.0)  # flat channels: as encode_image
    if gray is not None:
        sd[np.asarray(gray, dtype=bool), 1:] = 0.0
    scale = np.where(sd > 0, 1.0 / np.where(sd > 0, sd, 1.0), 0.0)
    pos_var = ((h * h - 1) / 12.0 + (w * w - 1) / 12.0) / 2.0
    pos_scale = 1.0 / math.sqrt(pos_var) if pos_var > 1e-24 else 1.0
    return mean, scale, pos_scale, np.stack([colour_scale_of(v) for v in sd])


def colour_scale_of(spread) -> np.ndarray:
    """The factors ``(3,)`` float32 that turn the standardised colour channels back into one
    common scale: ``s_c / sqrt(mean(s**2))``, ``s`` the channels' standard deviations before
    standardisation (0 for a flat or missing channel; all 0 when every channel is flat).

    The network takes each channel at sd 1; the clustering (its colour term, the edge
    weights and the smoothing's contrast) takes the channels times these factors: their
    proportions as measured (CIELAB's, so a colour distance keeps Delta E's shape, and a
    channel that hardly varies, such as the chroma of a near-gray photo, is not blown up
    to the size of the lightness), with the total variance 3 whatever the number of
    channels that vary (a gray image's lightness alone carries what three channels carry
    in a colour image, so ``compactness`` means the same for both)."""
    s = np.asarray(spread, dtype=np.float64).reshape(3)
    rms = math.sqrt(float(np.mean(s * s)))
    return (s / rms if rms > 0 else np.zeros(3)).astype(np.float32)


def encode_channels(image: np.ndarray, *, colour_scale: bool = False):
    """Any number of channels ``(H, W, C)`` (float, any units) -> ``(5, H, W)`` float32, the
    network's input layout with the channels in place of CIELAB.

    Each channel is standardised (mean 0, sd 1; 0 where flat); with more than three, they
    are projected on their three principal components (of the standardised channels, so
    channels in different units weigh alike), which are standardised in turn, as CIELAB's
    channels are; with fewer, the missing ones are 0. Positions as in :func:`encode_image`.

    ``colour_scale=True`` also returns the clustering's factors (:func:`colour_scale_of`)
    of the three channels: their standard deviations are those of the principal components
    (of standardised channels, so in common units), or 1 for each of up to three
    channels given (in units of their own): ``(x, scale)``.
    """
    img = np.asarray(image, dtype=np.float64)
    h, w, c = img.shape
    flat = img.reshape(-1, c)
    flat = _standardise_columns(flat)
    spread = np.zeros(3)
    if c > 3:
        _, vecs = np.linalg.eigh(flat.T @ flat)
        comps = flat @ vecs[:, ::-1][:, :3]  # the three largest, largest first
        flat = _standardise_columns(comps)
        spread = np.where(flat.std(0) > 0, comps.std(0), 0.0)
    else:
        spread[:c] = flat.std(0) > 0
    out = np.zeros((5, h, w), dtype=np.float32)
    out[: min(c, 3)] = flat.T.reshape(-1, h, w)
    pos_var = ((h * h - 1) / 12.0 + (w * w - 1) / 12.0) / 2.0
    pos_scale = 1.0 / math.sqrt(pos_var) if pos_var > 1e-24 else 1.0
    _normalise(out, np.zeros(3, np.float32), np.ones(3, np.float32), pos_scale, (h - 1) / 2.0, (w - 1) / 2.0)
    return (out, colour_scale_of(spread)) if colour_scale else out


def _standardise_columns(a: np.ndarray) -> np.ndarray:
    """Centred columns to sd 1 (0 where the sd is 0, below 1e-6 of the largest, or below
    1e-10 of the column's mean magnitude: the rounding of a constant column). No absolute
    floor, so a channel whose values are all tiny (1e-20, in units of its own) keeps its
    contrast; until 2026-12-06 an sd below 1e-12 made it flat."""
    mag = np.abs(a).mean(0)
    a = a - a.mean(0)
    sd = a.std(0)
    tiny = np.maximum(1e-6 * float(sd.max(initial=0.0)), 1e-10 * mag)
    keep = (sd > tiny) & (sd > 0)
    return np.where(keep, a / np.where(keep, sd, 1.0), 0.0)


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


#: the half-disc detector's settings: histogram bins per channel and their CIELAB ranges,
#: the disc radii (pixels; doubled for a and b), the orientations
HALFDISC_BINS = 25
HALFDISC_RANGES = ((0.0, 100.0), (-60.0, 80.0), (-60.0, 80.0))
HALFDISC_RADII = (4, 8, 16)
HALFDISC_ORIENTATIONS = 8


def _halfdisc_kernels(r: int) -> np.ndarray:
    """``(O + 1, 2r + 1, 2r + 1)``: for each orientation the first half-disc's mean minus
    the second's (each half normalised to sum 1), then the whole disc's mean; flipped, as
    a correlation through a convolution needs."""
    y, x = np.mgrid[-r:r + 1, -r:r + 1].astype(np.float64)
    disc = (x * x + y * y) <= r * r
    out = []
    for o in range(HALFDISC_ORIENTATIONS):
        th = np.pi * o / HALFDISC_ORIENTATIONS
        # signed distance to the line through the centre, rounded: cos(pi / 2) is 6e-17, not
        # 0, which would split the pixels on the line between the halves by their sign
        side = np.round(x * np.sin(th) - y * np.cos(th), 9)
        m1, m2 = disc & (side > 0), disc & (side < 0)
        out.append(m1 / m1.sum() - m2 / m2.sum())
    out.append(disc / disc.sum())
    return np.stack(out)[:, ::-1, ::-1].copy()


def _halfdisc_chi2(q: np.ndarray, r: int) -> torch.Tensor:
    """``(O, H, W)``: the chi-square distance between the histograms of ``q``'s bins
    ``(H, W)`` int in the two halves of a disc of radius ``r`` at every pixel and
    orientation, ``0.25 sum_bins d^2 / s`` (``d`` the halves' difference, ``s`` the
    disc's histogram), by FFT convolutions of the bins' indicator maps (reflected borders)."""
    from scipy.fft import next_fast_len

    h, w = q.shape
    used = np.flatnonzero(np.bincount(q.ravel()))
    hp, wp = next_fast_len(h + 4 * r, True), next_fast_len(w + 4 * r, True)
    k = torch.zeros(HALFDISC_ORIENTATIONS + 1, hp, wp)
    k[:, :2 * r + 1, :2 * r + 1] = torch.from_numpy(_halfdisc_kernels(r)).float()
    kf = torch.fft.rfft2(k)
    out = torch.zeros(HALFDISC_ORIENTATIONS, h, w)
    group = max(1, (1 << 24) // (hp * wp))  # bins at a time: bounded memory on large images
    for g0 in range(0, len(used), group):
        ind = torch.from_numpy((q[None] == used[g0:g0 + group, None, None]).astype(np.float32))
        pad = torch.nn.functional.pad(ind[None], (r, r, r, r), mode="reflect")[0] if min(h, w) > r else \
            torch.nn.functional.pad(ind[None], (r, r, r, r), mode="replicate")[0]
        f = torch.fft.rfft2(pad, s=(hp, wp))
        crop = (slice(None), slice(2 * r, 2 * r + h), slice(2 * r, 2 * r + w))
        disc = torch.fft.irfft2(f * kf[-1], s=(hp, wp))[crop].clamp_min(1e-9)
        for o in range(HALFDISC_ORIENTATIONS):
            d = torch.fft.irfft2(f * kf[o], s=(hp, wp))[crop]
            out[o] += 0.25 * (d * d / disc).sum(0)
    return out


def halfdisc_contours(rgb: np.ndarray) -> np.ndarray:
    """Contour map B in [0, 1] from oriented half-disc gradients (the multiscale local cue
    of Pb / gPb, Martin et al. 2004, Arbelaez et al. 2011, without texture and without any
    weight learned from labels): at every pixel and 8 orientations, the chi-square distance
    between the CIELAB histograms (25 bins over fixed ranges) of the two halves of a disc,
    for L at radii 4, 8, 16 px and for a and b at twice those, summed over channels and
    radii; the maximum over orientations, divided by its 99th percentile and clipped.

    ``rgb`` ``(H, W, 3)`` float in [0, 1] -> ``(H, W)`` float32. About 2 s for a 481x321
    image on one thread. The teacher the contour head learns from (no labels;
    ``docs/learning.md``), and a contour prior for the GBL.
    """
    from skimage.color import rgb2lab

    lab = rgb2lab(np.asarray(rgb, dtype=np.float64))
    h, w = lab.shape[:2]
    total = torch.zeros(HALFDISC_ORIENTATIONS, h, w)
    for c, (lo, hi) in enumerate(HALFDISC_RANGES):
        q = np.clip(((lab[..., c] - lo) / (hi - lo) * HALFDISC_BINS).astype(np.int64), 0, HALFDISC_BINS - 1)
        if q.min() == q.max():
            continue  # one bin: no histogram difference anywhere
        for r in HALFDISC_RADII:
            total += _halfdisc_chi2(q, r * (2 if c else 1))
    return _normalise01(total.max(0).values.numpy())


def contour_prior(rgb: np.ndarray, kind: str = "sobel") -> np.ndarray:
    """Contour map for the image: ``kind`` is ``"sobel"`` (default), ``"canny"`` or
    ``"halfdisc"`` (:func:`halfdisc_contours`)."""
    if kind == "sobel":
        return sobel_contours(rgb)
    if kind == "canny":
        return canny_contours(rgb)
    if kind == "halfdisc":
        return halfdisc_contours(rgb)
    raise ValueError(f"unknown contour prior {kind!r}; allowed: 'sobel', 'canny', 'halfdisc'")
