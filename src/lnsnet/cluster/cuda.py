"""CUDA kernels (numba) of the compact clustering's two per-pixel steps on a GPU.

==================  =====================================================  ===========================
kernel              computes                                               same as (torch)
==================  =====================================================  ===========================
``assign``          each pixel's least distance over the seeds of the      ``gpu._Assigner`` distances
                    ``window x window`` cells around its own (first of     and ``pick``
                    equals), optionally every candidate's distance
``potts``           one checkerboard half-sweep of ICM of the              ``gpu._potts_half_sweep``
                    contrast-sensitive Potts energy, in place
==================  =====================================================  ===========================

One thread per pixel, float32 arithmetic in the torch steps' order (the sum over channels
in channel order), so the labels equal the torch steps' on nearly every pixel (fused
multiply-adds may flip near-ties). Written out in torch, each step is tens of small kernel
launches; a GPU then waits on the host (about 4,400 launches, 63 ms per 481x321 image on an
H200, docs/performance.md). Here each is one launch.

The kernels take torch CUDA tensors (through ``__cuda_array_interface__``, on torch's
current stream) or, under numba's CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``, the tests),
CPU tensors. They compile on first use.
"""

from __future__ import annotations

import math

import numpy as np
import torch

__all__ = ["available", "warm", "assign", "potts_half_sweep"]

_BLOCK = (32, 8)  # threads per block along x (columns) and y (rows)
_kernels = None
cuda = None  # numba.cuda, imported with the kernels


def available() -> bool:
    """Whether numba can launch CUDA kernels here (a GPU and a driver, or the simulator)."""
    try:
        from numba import cuda

        return bool(cuda.is_available())
    except Exception:  # numba without its CUDA target, no driver
        return False


def _build():
    """Compile (lazily, once) and return the two kernels."""
    global _kernels, cuda
    if _kernels is not None:
        return _kernels
    if not hasattr(np, "row_stack"):  # numba-cuda (0.2x) overloads np.row_stack, an alias that
        np.row_stack = np.vstack  # numpy 2.4 removed: without it no CUDA kernel compiles
    from numba import cuda, float32  # a module global: the simulator swaps it in the kernels' globals

    inf32 = float32(math.inf)

    @cuda.jit
    def _assign(z, feats, pos, wmap, use_w, pr, pc, rows, cols, win, lab, dists, keep):
        x, y = cuda.grid(2)
        h = z.shape[0]
        w = z.shape[1]
        if y >= h or x >= w:
            return
        c_n = z.shape[2]
        half = win // 2
        r0 = pr[y]
        c0 = pc[x]
        fy = float32(y)
        fx = float32(x)
        bd = inf32
        bs = -1
        m = 0
        for dr in range(-half, half + 1):
            r = r0 + dr
            rv = r >= 0 and r < rows
            rc = r if r > 0 else 0  # clamped inside the grid (no min/max: each is a device function)
            rc = rc if rc < rows else rows - 1
            for dc in range(-half, half + 1):
                c = c0 + dc
                cv = c >= 0 and c < cols
                cc = c if c > 0 else 0
                cc = cc if cc < cols else cols - 1
                s = rc * cols + cc
                d = inf32
                if rv and cv:
                    d = float32(0.0)
                    for ch in range(c_n):
                        t = feats[s, ch] - z[y, x, ch]
                        d += t * t
                    if use_w:
                        py = pos[s, 0] - fy
                        px = pos[s, 1] - fx
                        d += wmap[y, x] * (py * py + px * px)
                if m == 0:
                    bs = s  # the first candidate (clamped inside the grid) until a smaller one
                if d < bd:
                    bd = d
                    bs = s
                if keep:
                    dists[m, y, x] = d
                m += 1
        lab[y, x] = bs

    @cuda.jit
    def _potts(lab, dists, pr, pc, cols, win, right, down, lam, colour):
        x, y = cuda.grid(2)
        h = lab.shape[0]
        w = lab.shape[1]
        if y >= h or x >= w or (y + x) % 2 != colour:
            return
        half = win // 2
        own = lab[y, x]
        # the 4-neighbours (up, down, left, right; -1 beyond the image) and their pair weights
        n0 = lab[y - 1, x] if y > 0 else -1
        n1 = lab[y + 1, x] if y < h - 1 else -1
        n2 = lab[y, x - 1] if x > 0 else -1
        n3 = lab[y, x + 1] if x < w - 1 else -1
        w0 = lam * down[y - 1, x] if y > 0 else float32(0.0)
        w1 = lam * down[y, x]
        w2 = lam * right[y, x - 1] if x > 0 else float32(0.0)
        w3 = lam * right[y, x]
        best_e = inf32
        best_s = own
        for k in range(5):
            if k == 0:
                s = own
            elif k == 1:
                s = n0
            elif k == 2:
                s = n1
            elif k == 3:
                s = n2
            else:
                s = n3
            if k > 0:  # a neighbour's label: one that exists, is not the pixel's, not an earlier one's
                if s < 0 or s == own:
                    continue
                if (k > 1 and s == n0) or (k > 2 and s == n1) or (k > 3 and s == n2):
                    continue
            dr = s // cols - pr[y] + half
            dc = s % cols - pc[x] + half
            if dr < 0 or dr >= win or dc < 0 or dc >= win:
                continue  # a seed outside the window: infinite energy
            e = dists[dr * win + dc, y, x]
            e += w0 if (n0 >= 0 and n0 != s) else float32(0.0)
            e += w1 if (n1 >= 0 and n1 != s) else float32(0.0)
            e += w2 if (n2 >= 0 and n2 != s) else float32(0.0)
            e += w3 if (n3 >= 0 and n3 != s) else float32(0.0)
            if k == 0:
                best_e = e
            elif e < best_e:
                best_e = e
                best_s = s
        lab[y, x] = best_s

    _kernels = (_assign, _potts)
    return _kernels


def _arg(t: torch.Tensor):
    """A kernel argument (after :func:`_build`, which imports numba.cuda): the device array
    of a CUDA tensor (no host sync), the numpy view of a CPU tensor (the simulator)."""
    if t.is_cuda:
        return cuda.as_cuda_array(t, sync=False)
    return t.numpy()


def _launch(kernel, shape, device: torch.device, *args):
    h, w = shape
    blocks = (-(-w // _BLOCK[0]), -(-h // _BLOCK[1]))
    args = tuple(_arg(a) if isinstance(a, torch.Tensor) else a for a in args)
    if device.type != "cuda":  # the simulator
        kernel[blocks, _BLOCK](*args)
        return
    with cuda.gpus[device.index or 0]:
        ptr = torch.cuda.current_stream(device).cuda_stream
        stream = cuda.external_stream(ptr) if ptr else cuda.default_stream()
        kernel[blocks, _BLOCK, stream](*args)


_warm: set = set()


def warm(device: torch.device) -> None:
    """Compile both kernels for ``device`` and run them once on a 2 x 2 image (once per
    device and process): a broken CUDA target shows here, not in the middle of an image.
    The argument types are those of real calls, so nothing compiles twice."""
    key = str(device)
    if key in _warm:
        return
    f32 = dict(dtype=torch.float32, device=device)
    cells = torch.zeros(2, dtype=torch.int64, device=device)
    lab, d = assign(torch.zeros((2, 2, 1), **f32), torch.zeros((1, 1), **f32), torch.zeros((1, 2), **f32),
                    torch.ones((2, 2), **f32), cells, cells, 1, 1, 1, keep=True)
    potts_half_sweep(lab, d, cells, cells, 1, 1, torch.ones((2, 2), **f32), torch.ones((2, 2), **f32), 1.0, 0)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    if not bool((lab == 0).all()):
        raise RuntimeError(f"the CUDA kernels gave wrong labels on a test input: {lab.tolist()}")
    _warm.add(key)


def assign(z: torch.Tensor, feats: torch.Tensor, pos: torch.Tensor, wmap: torch.Tensor | None, pr: torch.Tensor,
           pc: torch.Tensor, rows: int, cols: int, window: int, keep: bool = False):
    """Labels ``(H, W)`` int64 (seed indices) of ``z`` ``(H, W, C)`` float32 (channels
    last, contiguous), the seeds' ``feats`` ``(K, C)`` and ``pos`` ``(K, 2)`` float32, the
    spatial weight ``wmap`` ``(H, W)`` (None: no spatial term); with ``keep`` also every
    candidate's distance ``(window**2, H, W)`` (inf beyond the grid), else None."""
    _assign, _ = _build()
    h, w = z.shape[:2]
    dev = z.device
    lab = torch.empty((h, w), dtype=torch.int64, device=dev)
    dists = torch.empty((window * window, h, w) if keep else (1, 1, 1), dtype=torch.float32, device=dev)
    use_w = wmap is not None
    wm = wmap if use_w else torch.zeros((1, 1), dtype=torch.float32, device=dev)
    _launch(_assign, (h, w), dev, z, feats.contiguous(), pos.contiguous(), wm, use_w, pr, pc, int(rows), int(cols),
            int(window), lab, dists, bool(keep))
    return lab, (dists if keep else None)


def potts_half_sweep(lab: torch.Tensor, dists: torch.Tensor, pr: torch.Tensor, pc: torch.Tensor, cols: int,
                     window: int, right: torch.Tensor, down: torch.Tensor, lam: float, colour: int) -> torch.Tensor:
    """One ICM half-sweep over the pixels with ``(y + x) % 2 == colour``, ``lab`` ``(H, W)``
    int64 updated in place (and returned)."""
    _, _potts = _build()
    _launch(_potts, tuple(lab.shape), lab.device, lab, dists, pr, pc, int(cols), int(window), right, down,
            np.float32(lam), int(colour))
    return lab
