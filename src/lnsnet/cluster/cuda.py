"""CUDA kernels (numba) of the compact clustering and of the connectivity step on a GPU.

==================  =====================================================  ===========================
kernel              computes                                               same as
==================  =====================================================  ===========================
``assign``          each pixel's least distance over the seeds of the      ``gpu._Assigner`` distances
                    ``window x window`` cells around its own (first of     and ``pick``
                    equals), optionally every candidate's distance, and
                    in a seed round the seeds' sums (float64 atomics)
``update``          the seeds moved to the means of their pixels           ``gpu._cluster``'s rounds
``potts``           one checkerboard half-sweep of ICM of the              ``gpu._potts_half_sweep``
                    contrast-sensitive Potts energy, in place
``cc_union``,       4-connected components of equal labels: union-find     ``connectivity.components``
``cc_flatten``      with atomic-min linking (Playne & Hawick 2018), each
                    root the component's first pixel in raster order
==================  =====================================================  ===========================

One thread per pixel (per seed in ``update``), float32 arithmetic in the torch steps'
order (the sum over channels in channel order), so the labels equal the torch steps' on
nearly every pixel (fused multiply-adds may flip near-ties). Written out in torch, each
step is tens of small kernel launches; a GPU then waits on the host (about 4,400 launches,
63 ms per 481x321 image on an H200, docs/performance.md). Here each is one launch.

A :class:`Launcher` holds the device, torch's current stream and the numba views of the
tensors it is given (converted once, not at every launch: numba's conversion of a torch
tensor costs more than the launch). The kernels take torch CUDA tensors (through
``__cuda_array_interface__``) or, under numba's CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``,
the tests), CPU tensors. They compile on first use.
"""

from __future__ import annotations

import math

import numpy as np
import torch

__all__ = ["available", "warm", "Launcher", "assign", "potts_half_sweep", "components"]

_BLOCK = (32, 8)  # threads per block along x (columns) and y (rows)
_BLOCK1 = 256  # threads per block of the one-dimensional kernels
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
    """Compile (lazily, once) and return the kernels by name."""
    global _kernels, cuda
    if _kernels is not None:
        return _kernels
    if not hasattr(np, "row_stack"):  # numba-cuda (0.2x) overloads np.row_stack, an alias that
        np.row_stack = np.vstack  # numpy 2.4 removed: without it no CUDA kernel compiles
    from numba import cuda, float32, float64  # a module global: the simulator swaps it in the kernels' globals

    inf32 = float32(math.inf)

    @cuda.jit
    def _assign(z, feats, pos, wmap, use_w, pr, pc, rows, cols, win, lab, best, dists, keep, cnt, fsum, psum, acc):
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
        best[y, x] = bd
        if acc:  # a seed round: the pixel joins its seed's sums (float64, exact for float32 terms)
            cuda.atomic.add(cnt, bs, float64(1.0))
            for ch in range(c_n):
                cuda.atomic.add(fsum, (bs, ch), float64(z[y, x, ch]))
            cuda.atomic.add(psum, (bs, 0), float64(y))
            cuda.atomic.add(psum, (bs, 1), float64(x))

    @cuda.jit
    def _update(feats, pos, cnt, fsum, psum):
        s = cuda.grid(1)
        if s >= feats.shape[0]:
            return
        n = cnt[s]
        if n > 0:  # a seed without pixels keeps its place and features
            for ch in range(feats.shape[1]):
                feats[s, ch] = float32(fsum[s, ch] / n)
            pos[s, 0] = float32(psum[s, 0] / n)
            pos[s, 1] = float32(psum[s, 1] / n)
        cnt[s] = 0.0  # ready for the next round
        for ch in range(fsum.shape[1]):
            fsum[s, ch] = 0.0
        psum[s, 0] = 0.0
        psum[s, 1] = 0.0

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

    @cuda.jit
    def _cc_union(lab, parent):
        # join each pixel's set with its left and upper neighbours' of the same label: the
        # larger root is pointed at the smaller by an atomic minimum; when another thread
        # got there first, follow it and try again (written out: no device functions)
        x, y = cuda.grid(2)
        h = lab.shape[0]
        w = lab.shape[1]
        if y >= h or x >= w:
            return
        p = y * w + x
        v = lab[y, x]
        for side in range(2):
            if side == 0:
                ok = x > 0 and lab[y, x - 1] == v
                b = p - 1
            else:
                ok = y > 0 and lab[y - 1, x] == v
                b = p - w
            if not ok:
                continue
            a = p
            while True:
                while parent[a] != a:
                    a = parent[a]
                while parent[b] != b:
                    b = parent[b]
                if a == b:
                    break
                if a < b:
                    old = cuda.atomic.min(parent, b, a)
                    if old == b:
                        break
                    b = old
                else:
                    old = cuda.atomic.min(parent, a, b)
                    if old == a:
                        break
                    a = old

    @cuda.jit
    def _cc_flatten(parent):
        i = cuda.grid(1)
        if i < parent.shape[0]:
            r = i
            while parent[r] != r:
                r = parent[r]
            parent[i] = r

    _kernels = dict(assign=_assign, update=_update, potts=_potts, cc_union=_cc_union, cc_flatten=_cc_flatten)
    return _kernels


class Launcher:
    """Launches of the kernels on ``device`` (a CUDA device, or the CPU under the simulator)
    on torch's current stream. :meth:`arg` converts a tensor once for all its launches;
    use as a context manager around a run of launches (numba's device context, entered once)."""

    def __init__(self, device: torch.device):
        self.k = _build()
        self.device = device
        self.sim = device.type != "cuda"
        self._views: dict = {}
        self._ctx = None
        self.stream = None
        if not self.sim:
            self._ctx = cuda.gpus[device.index if device.index is not None else torch.cuda.current_device()]

    def __enter__(self):
        if self._ctx is not None:
            self._ctx.__enter__()
            ptr = torch.cuda.current_stream(self.device).cuda_stream
            self.stream = cuda.external_stream(ptr) if ptr else cuda.default_stream()
        return self

    def __exit__(self, *exc):
        self._views.clear()
        if self._ctx is not None:
            self._ctx.__exit__(*exc)
        return False

    def arg(self, t):
        """The kernel argument for ``t``: a tensor's device array (or numpy view under the
        simulator), made once per tensor and kept while the launcher is open; anything else as it is."""
        if not isinstance(t, torch.Tensor):
            return t
        v = self._views.get(id(t))
        if v is None or v[0] is not t:
            v = (t, cuda.as_cuda_array(t, sync=False) if t.is_cuda else t.numpy())
            self._views[id(t)] = v
        return v[1]

    def launch(self, name: str, shape, *args):
        """``name``'s kernel over ``shape`` (``(H, W)``: one thread per pixel; ``(N,)``: per item)."""
        if len(shape) == 2:
            h, w = shape
            grid, block = (-(-w // _BLOCK[0]), -(-h // _BLOCK[1])), _BLOCK
        else:
            grid, block = -(-shape[0] // _BLOCK1), _BLOCK1
        if 0 in np.atleast_1d(grid):
            return  # nothing to do (an empty image)
        args = tuple(self.arg(a) for a in args)
        if self.sim:
            self.k[name][grid, block](*args)
        else:
            self.k[name][grid, block, self.stream](*args)


def _open(device: torch.device, launcher: Launcher | None):
    """The launcher to use and whether this call opened it (and must close it)."""
    if launcher is not None:
        return launcher, False
    return Launcher(device).__enter__(), True


_warm: set = set()


def warm(device: torch.device) -> None:
    """Compile the kernels for ``device`` and run them once on a 2 x 2 image (once per
    device and process): a broken CUDA target shows here, not in the middle of an image.
    The argument types are those of real calls, so nothing compiles twice."""
    key = str(device)
    if key in _warm:
        return
    f32 = dict(dtype=torch.float32, device=device)
    cells = torch.zeros(2, dtype=torch.int64, device=device)
    with Launcher(device) as run:
        feats, pos = torch.zeros((1, 1), **f32), torch.zeros((1, 2), **f32)
        z = torch.zeros((2, 2, 1), **f32)
        sums = round_buffers(1, 1, device)
        lab, _, _ = assign(z, feats, pos, torch.ones((2, 2), **f32), cells, cells, 1, 1, 1, sums=sums, launcher=run)
        update_seeds(feats, pos, sums, launcher=run)
        lab, _, d = assign(z, feats, pos, torch.ones((2, 2), **f32), cells, cells, 1, 1, 1, keep=True, launcher=run)
        potts_half_sweep(lab, d, cells, cells, 1, 1, torch.ones((2, 2), **f32), torch.ones((2, 2), **f32), 1.0, 0,
                         launcher=run)
        comp, k = components(torch.tensor([[0, 0], [1, 0]], dtype=torch.int64, device=device), launcher=run)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    ok = bool((lab == 0).all()) and k == 2 and comp.tolist() == [[0, 0], [1, 0]] and float(pos.abs().sum()) == 1.0
    if not ok:
        raise RuntimeError(f"the CUDA kernels gave wrong results on a test input: {lab.tolist()}, {comp.tolist()}")
    _warm.add(key)


def round_buffers(n_seeds: int, channels: int, device: torch.device):
    """Zeroed float64 sums of a seed round: counts ``(K,)``, features ``(K, C)``, positions ``(K, 2)``."""
    f64 = dict(dtype=torch.float64, device=device)
    return torch.zeros(n_seeds, **f64), torch.zeros((n_seeds, channels), **f64), torch.zeros((n_seeds, 2), **f64)


def assign(z: torch.Tensor, feats: torch.Tensor, pos: torch.Tensor, wmap: torch.Tensor | None, pr: torch.Tensor,
           pc: torch.Tensor, rows: int, cols: int, window: int, keep: bool = False, sums=None,
           out=None, launcher: Launcher | None = None):
    """Labels ``(H, W)`` int64 (seed indices) of ``z`` ``(H, W, C)`` float32 (channels
    last, contiguous), the seeds' ``feats`` ``(K, C)`` and ``pos`` ``(K, 2)`` float32, the
    spatial weight ``wmap`` ``(H, W)`` (None: no spatial term); each pixel's least
    distance ``(H, W)``; with ``keep`` also every candidate's distance ``(window**2, H, W)``
    (inf beyond the grid), else None. ``sums`` (:func:`round_buffers`): each pixel is
    added to its seed's count, features and position there (a seed round). ``out``: the
    ``(lab, best, dists)`` tensors to write (from an earlier call of the same shape)."""
    h, w = z.shape[:2]
    dev = z.device
    if out is None:
        out = (torch.empty((h, w), dtype=torch.int64, device=dev), torch.empty((h, w), dtype=torch.float32, device=dev),
               torch.empty((window * window, h, w) if keep else (1, 1, 1), dtype=torch.float32, device=dev))
    lab, best, dists = out
    use_w = wmap is not None
    wm = wmap if use_w else torch.zeros((1, 1), dtype=torch.float32, device=dev)
    acc = sums is not None
    if not acc:
        sums = _no_sums(dev)
    run, opened = _open(dev, launcher)
    try:
        run.launch("assign", (h, w), z, feats, pos, wm, use_w, pr, pc, int(rows), int(cols), int(window), lab, best,
                   dists, bool(keep), *sums, acc)
    finally:
        if opened:
            run.__exit__(None, None, None)
    return lab, best, (dists if keep else None)


_NO_SUMS: dict = {}


def _no_sums(device):
    key = str(device)
    if key not in _NO_SUMS:
        _NO_SUMS[key] = round_buffers(1, 1, device)
    return _NO_SUMS[key]


def update_seeds(feats: torch.Tensor, pos: torch.Tensor, sums, launcher: Launcher | None = None) -> None:
    """Move every seed with pixels to their mean (``feats``, ``pos`` float32, in place, from
    the float64 ``sums`` of :func:`assign`), and zero the sums for the next round."""
    run, opened = _open(feats.device, launcher)
    try:
        run.launch("update", (feats.shape[0],), feats, pos, *sums)
    finally:
        if opened:
            run.__exit__(None, None, None)


def potts_half_sweep(lab: torch.Tensor, dists: torch.Tensor, pr: torch.Tensor, pc: torch.Tensor, cols: int,
                     window: int, right: torch.Tensor, down: torch.Tensor, lam: float, colour: int,
                     launcher: Launcher | None = None) -> torch.Tensor:
    """One ICM half-sweep over the pixels with ``(y + x) % 2 == colour``, ``lab`` ``(H, W)``
    int64 updated in place (and returned)."""
    run, opened = _open(lab.device, launcher)
    try:
        run.launch("potts", tuple(lab.shape), lab, dists, pr, pc, int(cols), int(window), right, down,
                   np.float32(lam), int(colour))
    finally:
        if opened:
            run.__exit__(None, None, None)
    return lab


def components(labels: torch.Tensor, launcher: Launcher | None = None) -> tuple[torch.Tensor, int]:
    """4-connected components of equal labels of ``labels`` ``(H, W)`` int64: ``((H, W)``
    int64 ids ``0..k-1``, k)``, numbered in raster order of each component's first pixel
    (as :func:`lnsnet.connectivity.components`)."""
    h, w = labels.shape
    dev = labels.device
    parent = torch.arange(h * w, dtype=torch.int64, device=dev)
    run, opened = _open(dev, launcher)
    try:
        run.launch("cc_union", (h, w), labels, parent)
        run.launch("cc_flatten", (h * w,), parent)
    finally:
        if opened:
            run.__exit__(None, None, None)
    roots = parent == torch.arange(h * w, dtype=torch.int64, device=dev)
    ids = torch.cumsum(roots, 0) - 1
    return ids[parent].reshape(h, w), int(ids[-1]) + 1 if h * w else 0
