"""Compiled helpers of the feature embedder's CPU inference in channels-last layout.

oneDNN's 3x3 convolutions on this network's few channels run about 1.4-1.8x faster on
channels-last (NHWC) tensors than on NCHW ones, but torch's per-channel reductions and
padding on NHWC tensors are slow. These kernels do the steps between the convolutions in
NHWC, each in one pass over rows in parallel:

=====================  ============================================================
``moments``            per (image, channel) sums of ``h`` and ``h**2`` (float64)
``norm_relu_pad``      ``ReLU(h * scale + shift)`` (InstanceNorm with given moments),
                       other channels appended as they are, replicate padding
=====================  ============================================================

Both take and return torch tensors of shape ``(B, C, H, W)`` in channels-last memory
(any strides in; the output of :func:`norm_relu_pad` is channels-last contiguous).
Tested against the NCHW torch path (``tests/test_kernels.py``).
"""

from __future__ import annotations

import numba as nb
import numpy as np
import torch

from ..runtime import parallel_kernel

__all__ = ["moments", "norm_relu_pad"]

_jit = dict(cache=True, nogil=True)


@parallel_kernel(**_jit, fastmath={"reassoc", "nsz"})
def _row_moments(h, s1, s2):
    # h (B, H, W, C); s1, s2 (B, H, C) float64: each row's sums, added up by the caller
    b_n, h_n, w_n, c_n = h.shape
    for q in nb.prange(b_n * h_n):
        b = q // h_n
        y = q % h_n
        a1 = np.zeros(c_n)
        a2 = np.zeros(c_n)
        for x in range(w_n):
            for c in range(c_n):
                v = np.float64(h[b, y, x, c])
                a1[c] += v
                a2[c] += v * v
        for c in range(c_n):
            s1[b, y, c] = a1[c]
            s2[b, y, c] = a2[c]


@parallel_kernel(**_jit)
def _affine_relu_pad(src, scale, shift, extra, out, top, left):
    # out[b, yo, xo] = ReLU(src * scale + shift) then extra, at the source pixel clamped
    # into the image (replicate padding); the product and the sum rounded as torch does
    b_n, h_n, w_n, c1 = src.shape
    c2 = extra.shape[3]
    _, ho, wo, _ = out.shape
    for q in nb.prange(b_n * ho):
        b = q // ho
        yo = q % ho
        ys = min(max(yo - top, 0), h_n - 1)
        for xo in range(wo):
            xs = min(max(xo - left, 0), w_n - 1)
            for c in range(c1):
                v = src[b, ys, xs, c] * scale[b, c]
                v = v + shift[b, c]
                out[b, yo, xo, c] = v if v > 0 else np.float32(0.0)
            for c in range(c2):
                out[b, yo, xo, c1 + c] = extra[b, ys, xs, c]


def _nhwc(t: torch.Tensor) -> np.ndarray:
    """A ``(B, H, W, C)`` float32 numpy view of ``t`` ``(B, C, H, W)`` (a copy only when
    ``t`` is not float32, e.g. under bf16 autocast)."""
    return t.detach().float().permute(0, 2, 3, 1).numpy()


def moments(h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Per (image, channel) sums of ``h`` ``(B, C, H, W)`` and of ``h**2``, float64
    ``(B, C)`` each, and the pixel count (as :func:`lnsnet.model.embedder.moments`)."""
    a = _nhwc(h)
    b, hh, _, c = a.shape
    s1, s2 = np.empty((b, hh, c)), np.empty((b, hh, c))
    _row_moments(a, s1, s2)
    return torch.from_numpy(s1.sum(1)), torch.from_numpy(s2.sum(1)), h.shape[2] * h.shape[3]


def norm_relu_pad(h: torch.Tensor, scale: torch.Tensor | None, shift: torch.Tensor | None,
                  extra: torch.Tensor | None = None, pad: tuple[int, int, int] = (0, 0, 0)) -> torch.Tensor:
    """``ReLU(h * scale + shift)`` per (image, channel) (``scale``, ``shift`` ``(B, C)``;
    both None: ``h`` has no channels to normalise, only ``extra`` is written), then the
    channels of ``extra`` ``(B, E, H, W)`` as they are, padded by replicating the border
    ``pad = (top, bottom, left and right)`` pixels: a new channels-last tensor
    ``(B, C + E, H + top + bottom, W + 2 * side)`` float32."""
    top, bottom, side = (int(p) for p in pad)
    ref = h if h is not None else extra
    b, _, hh, ww = ref.shape
    src = np.empty((b, hh, ww, 0), np.float32) if h is None else _nhwc(h)
    c1 = src.shape[3]
    if scale is None:
        if c1:
            raise ValueError("channels to normalise need a scale and a shift")
        sc = sh = np.empty((b, 0), np.float32)
    else:
        sc = np.ascontiguousarray(scale.detach().numpy(), dtype=np.float32).reshape(b, c1)
        sh = np.ascontiguousarray(shift.detach().numpy(), dtype=np.float32).reshape(b, c1)
    ex = np.empty((b, hh, ww, 0), np.float32) if extra is None else _nhwc(extra)
    if ex.shape[:3] != (b, hh, ww):
        raise ValueError(f"extra {tuple(extra.shape)} does not match {tuple(ref.shape)}")
    out = torch.empty((b, c1 + ex.shape[3], hh + top + bottom, ww + 2 * side), memory_format=torch.channels_last)
    _affine_relu_pad(src, sc, sh, ex, _nhwc(out), top, side)
    return out
