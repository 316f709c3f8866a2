"""CUDA kernels (numba) of the GPU path: encoding, compact clustering, connectivity.

==================  =====================================================  ===========================
kernel              computes                                               same as
==================  =====================================================  ===========================
``blur_rows``,      the image decoded to [0, 1] and blurred along rows,    ``features.encode_torch``
``blur_cols_lab``,  then along columns and converted to CIELAB; the        and ``prepare.
``standardise``     network's input (standardised colour, positions)       _gaussian_torch``
``edge_g``          the largest squared colour step to a 4-neighbour       ``gpu._edge_weights``
``assign``          each pixel's least distance over the seeds of the      ``gpu._Assigner`` distances
                    ``window x window`` cells around its own (first of     and ``pick``
                    equals), optionally every candidate's distance, and
                    in a seed round the seeds' sums (float64 atomics)
``update``          the seeds moved to the means of their pixels           ``gpu._rounds_torch``
``potts``           one checkerboard half-sweep of ICM of the              ``gpu._potts_half_sweep``
                    contrast-sensitive Potts energy, in place
``contrast``        the Potts term's pair weights (right, down)            ``gpu._contrast``
``cc_union``,       4-connected components of equal labels: union-find     ``connectivity.components``
``cc_flatten``      with atomic-min linking (Playne & Hawick 2018), each
                    root the component's first pixel in raster order
``offers``          each small piece's merge target (least mean-feature    ``connectivity._offers_torch``
                    distance, ties to the smallest id), in two launches
==================  =====================================================  ===========================

Each kernel takes a batch of images of one shape, ``(B, H, W)``: one thread per pixel of
each image (per seed in ``update``, per pixel of the batch in ``cc_flatten``), float32
arithmetic (float64 for sums and the connectivity's means) in the torch steps' order (the sum over channels in channel order), so the
labels equal the torch steps' on nearly every pixel (fused multiply-adds may flip
near-ties). Written out in torch, each step is tens of small kernel launches per image; a
GPU then waits on the host (about 4,400 launches, 63 ms per 481x321 image on an H200,
docs/performance.md). Here each is one launch for the whole batch.

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

__all__ = ["available", "fits", "warm", "Launcher", "round_buffers", "assign", "update_seeds", "potts_half_sweep",
           "components", "offers", "encode", "edge_weights", "contrast"]

_BLOCK = (32, 8)  # threads per block along x (columns) and y (rows)
_BLOCK1 = 256  # threads per block of the one-dimensional kernels
_kernels = None
cuda = None  # numba.cuda, imported with the kernels


#: CUDA's limit on a grid's blocks along y and z: the kernels' grids are (columns, rows / 8,
#: images); an image of more rows or a batch of more images takes the other path
MAX_GRID_YZ = 65535


def fits(batch: int, height: int) -> bool:
    """Whether a batch of ``batch`` images of ``height`` rows fits the kernels' grid."""
    return batch <= MAX_GRID_YZ and -(-height // _BLOCK[1]) <= MAX_GRID_YZ


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
        x, y, b = cuda.grid(3)
        h = z.shape[1]
        w = z.shape[2]
        if y >= h or x >= w or b >= z.shape[0]:
            return
        c_n = z.shape[3]
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
                        t = feats[b, s, ch] - z[b, y, x, ch]
                        d += t * t
                    if use_w:
                        py = pos[b, s, 0] - fy
                        px = pos[b, s, 1] - fx
                        d += wmap[b, y, x] * (py * py + px * px)
                if m == 0:
                    bs = s  # the first candidate (clamped inside the grid) until a smaller one
                if d < bd:
                    bd = d
                    bs = s
                if keep:
                    dists[b, m, y, x] = d
                m += 1
        lab[b, y, x] = bs
        best[b, y, x] = bd
        if acc:  # a seed round: the pixel joins its seed's sums (float64, exact for float32 terms)
            cuda.atomic.add(cnt, (b, bs), float64(1.0))
            for ch in range(c_n):
                cuda.atomic.add(fsum, (b, bs, ch), float64(z[b, y, x, ch]))
            cuda.atomic.add(psum, (b, bs, 0), float64(y))
            cuda.atomic.add(psum, (b, bs, 1), float64(x))

    @cuda.jit
    def _update(feats, pos, cnt, fsum, psum):
        i = cuda.grid(1)
        k = feats.shape[1]
        if i >= feats.shape[0] * k:
            return
        b = i // k
        s = i - b * k
        n = cnt[b, s]
        if n > 0:  # a seed without pixels keeps its place and features
            for ch in range(feats.shape[2]):
                feats[b, s, ch] = float32(fsum[b, s, ch] / n)
            pos[b, s, 0] = float32(psum[b, s, 0] / n)
            pos[b, s, 1] = float32(psum[b, s, 1] / n)
        cnt[b, s] = 0.0  # ready for the next round
        for ch in range(fsum.shape[2]):
            fsum[b, s, ch] = 0.0
        psum[b, s, 0] = 0.0
        psum[b, s, 1] = 0.0

    @cuda.jit
    def _potts(lab, dists, pr, pc, cols, win, right, down, lams, colour):
        x, y, b = cuda.grid(3)
        h = lab.shape[1]
        w = lab.shape[2]
        if y >= h or x >= w or b >= lab.shape[0] or (y + x) % 2 != colour:
            return
        half = win // 2
        lam = lams[b]
        own = lab[b, y, x]
        # the 4-neighbours (up, down, left, right; -1 beyond the image) and their pair weights
        n0 = lab[b, y - 1, x] if y > 0 else -1
        n1 = lab[b, y + 1, x] if y < h - 1 else -1
        n2 = lab[b, y, x - 1] if x > 0 else -1
        n3 = lab[b, y, x + 1] if x < w - 1 else -1
        w0 = lam * down[b, y - 1, x] if y > 0 else float32(0.0)
        w1 = lam * down[b, y, x]
        w2 = lam * right[b, y, x - 1] if x > 0 else float32(0.0)
        w3 = lam * right[b, y, x]
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
            e = dists[b, dr * win + dc, y, x]
            e += w0 if (n0 >= 0 and n0 != s) else float32(0.0)
            e += w1 if (n1 >= 0 and n1 != s) else float32(0.0)
            e += w2 if (n2 >= 0 and n2 != s) else float32(0.0)
            e += w3 if (n3 >= 0 and n3 != s) else float32(0.0)
            if k == 0:
                best_e = e
            elif e < best_e:
                best_e = e
                best_s = s
        lab[b, y, x] = best_s

    @cuda.jit
    def _cc_union(lab, parent):
        # join each pixel's set with its left and upper neighbours' of the same label (the
        # pixels of image b are b * H * W + y * W + x): the larger root is pointed at the
        # smaller by an atomic minimum; when another thread got there first, follow it and
        # try again (written out: no device functions)
        x, y, bi = cuda.grid(3)
        h = lab.shape[1]
        w = lab.shape[2]
        if y >= h or x >= w or bi >= lab.shape[0]:
            return
        p = (bi * h + y) * w + x
        v = lab[bi, y, x]
        for side in range(2):
            if side == 0:
                ok = x > 0 and lab[bi, y, x - 1] == v
                b = p - 1
            else:
                ok = y > 0 and lab[bi, y - 1, x] == v
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

    @cuda.jit
    def _blur_rows(src, out, wts, idx, inv, gray):
        # the raw image (B, H, W, C: uint8, uint16 or float32) to [0, 1] (divided by inv, as
        # lnsnet.io.unit_range) and blurred along its rows: out (B, 3, H, W) float32
        x, y, b = cuda.grid(3)
        h = out.shape[2]
        w = out.shape[3]
        if y >= h or x >= w or b >= out.shape[0]:
            return
        n = wts.shape[0]
        for ch in range(3):
            c = 0 if gray else ch
            acc = float32(0.0)
            for j in range(n):
                acc += wts[j] * (float32(src[b, idx[y + j], x, c]) / inv)
            out[b, ch, y, x] = acc

    @cuda.jit
    def _blur_cols_lab(tmp, lab, wts, idx, m, white):
        # blurred along the columns, then sRGB to CIELAB (lnsnet.features.encode_torch's formulas)
        x, y, b = cuda.grid(3)
        h = lab.shape[2]
        w = lab.shape[3]
        if y >= h or x >= w or b >= lab.shape[0]:
            return
        n = wts.shape[0]
        lin = cuda.local.array(3, float32)
        for ch in range(3):
            acc = float32(0.0)
            for j in range(n):
                acc += wts[j] * tmp[b, ch, y, idx[x + j]]
            if acc > float32(0.04045):
                lin[ch] = ((acc + float32(0.055)) / float32(1.055)) ** float32(2.4)
            else:
                lin[ch] = acc / float32(12.92)
        f = cuda.local.array(3, float32)
        for i in range(3):
            t = (m[i, 0] * lin[0] + m[i, 1] * lin[1] + m[i, 2] * lin[2]) / white[i]
            if t > float32(0.008856):
                f[i] = t ** float32(1.0 / 3.0)
            else:
                f[i] = float32(7.787) * t + float32(16.0 / 116.0)
        lab[b, 0, y, x] = float32(116.0) * f[1] - float32(16.0)
        lab[b, 1, y, x] = float32(500.0) * (f[0] - f[1])
        lab[b, 2, y, x] = float32(200.0) * (f[1] - f[2])

    @cuda.jit
    def _standardise(lab, out, mean, scale, pos_scale, row_mean, col_mean):
        # the network's input (B, 5, H, W): standardised colour, then row and column
        x, y, b = cuda.grid(3)
        h = lab.shape[2]
        w = lab.shape[3]
        if y >= h or x >= w or b >= lab.shape[0]:
            return
        for c in range(3):
            out[b, c, y, x] = (lab[b, c, y, x] - mean[b, c]) * scale[b, c]
        out[b, 3, y, x] = float32((float64(y) - row_mean) * pos_scale)
        out[b, 4, y, x] = float32((float64(x) - col_mean) * pos_scale)

    @cuda.jit
    def _edge_g(image, g):
        # the largest squared colour step from a pixel to its 4-neighbours (B, H, W)
        x, y, b = cuda.grid(3)
        h = image.shape[2]
        w = image.shape[3]
        if y >= h or x >= w or b >= image.shape[0]:
            return
        best = float32(0.0)
        for k in range(4):
            yy = y - 1 if k == 0 else (y + 1 if k == 1 else y)
            xx = x - 1 if k == 2 else (x + 1 if k == 3 else x)
            if yy < 0 or yy >= h or xx < 0 or xx >= w:
                continue
            acc = float32(0.0)
            for c in range(image.shape[1]):
                t = image[b, c, yy, xx] - image[b, c, y, x]
                acc += t * t
            if acc > best:
                best = acc
        g[b, y, x] = best

    @cuda.jit
    def _contrast(image, z, a2, use_z, beta, right, down):
        # exp(-beta d) of the pairs to the right and below (0 on the last column / row), d
        # the squared colour step plus the a2-weighted squared feature steps
        x, y, b = cuda.grid(3)
        h = image.shape[2]
        w = image.shape[3]
        if y >= h or x >= w or b >= image.shape[0]:
            return
        nb = -beta[b]
        for k in range(2):
            yy = y + 1 if k == 1 else y
            xx = x + 1 if k == 0 else x
            e = float32(0.0)
            if yy < h and xx < w:
                d = float32(0.0)
                for c in range(image.shape[1]):
                    t = image[b, c, yy, xx] - image[b, c, y, x]
                    d += t * t
                if use_z:
                    for c in range(z.shape[1]):
                        t = z[b, c, yy, xx] - z[b, c, y, x]
                        d += a2[b, c] * (t * t)
                e = math.exp(nb * d)
            if k == 0:
                right[b, y, x] = e
            else:
                down[b, y, x] = e

    @cuda.jit
    def _offers(comp, small, means, best, dst, second):
        # each small piece's best neighbour to merge into (lnsnet.connectivity's rule: the
        # least squared distance of the mean features, ties to the smallest id): over the
        # pairs of 4-neighbours in different pieces, first the least cost (second False),
        # then the smallest id at that cost (second True)
        x, y, b = cuda.grid(3)
        h = comp.shape[1]
        w = comp.shape[2]
        if y >= h or x >= w or b >= comp.shape[0]:
            return
        a = comp[b, y, x]
        for k in range(2):
            if k == 0:
                if x + 1 >= w:
                    continue
                o = comp[b, y, x + 1]
            else:
                if y + 1 >= h:
                    continue
                o = comp[b, y + 1, x]
            if o == a or (small[a] == 0 and small[o] == 0):
                continue
            cost = float64(0.0)
            for j in range(means.shape[1]):
                t = means[a, j] - means[o, j]
                cost += t * t
            for side in range(2):
                s = a if side == 0 else o
                d = o if side == 0 else a
                if small[s] == 0:
                    continue
                if not second:
                    cuda.atomic.min(best, s, cost)
                elif cost == best[s]:
                    cuda.atomic.min(dst, s, d)

    _kernels = dict(offers=_offers, assign=_assign, update=_update, potts=_potts, cc_union=_cc_union, cc_flatten=_cc_flatten,
                    blur_rows=_blur_rows, blur_cols_lab=_blur_cols_lab, standardise=_standardise, edge_g=_edge_g,
                    contrast=_contrast)
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
        import warnings

        from numba.core.errors import NumbaPerformanceWarning

        # numba warns of "under-utilization" for grids under 128 blocks (small images, the
        # seed update, warm()): expected here, and an error under -W error
        self._quiet = warnings.catch_warnings()
        self._quiet.__enter__()
        warnings.simplefilter("ignore", NumbaPerformanceWarning)
        if self._ctx is not None:
            self._ctx.__enter__()
            ptr = torch.cuda.current_stream(self.device).cuda_stream
            self.stream = cuda.external_stream(ptr) if ptr else cuda.default_stream()
        return self

    def __exit__(self, *exc):
        self._views.clear()
        try:
            if self._ctx is not None:
                self._ctx.__exit__(*exc)
        finally:
            self._quiet.__exit__(*exc)
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
        """``name``'s kernel over ``shape`` (``(B, H, W)``: one thread per pixel of each
        image; ``(N,)``: one per item)."""
        if len(shape) == 3:
            n, h, w = shape
            grid, block = (-(-w // _BLOCK[0]), -(-h // _BLOCK[1]), n), _BLOCK + (1,)
        else:
            grid, block = -(-shape[0] // _BLOCK1), _BLOCK1
        if 0 in np.atleast_1d(grid):
            return  # nothing to do (an empty image)
        args = tuple(self.arg(a) for a in args)
        if self.sim:
            self.k[name][grid, block](*args)
        else:
            self.k[name][grid, block, self.stream](*args)


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
        feats, pos = torch.zeros((1, 1, 1), **f32), torch.zeros((1, 1, 2), **f32)
        z = torch.zeros((1, 2, 2, 1), **f32)
        sums = round_buffers(1, 1, 1, device)
        ones = torch.ones((1, 2, 2), **f32)
        assign(z, feats, pos, ones, cells, cells, 1, 1, 1, sums=sums, launcher=run)
        update_seeds(feats, pos, sums, launcher=run)
        lab, _, d = assign(z, feats, pos, ones, cells, cells, 1, 1, 1, keep=True, launcher=run)
        potts_half_sweep(lab, d, cells, cells, 1, 1, ones, ones, torch.ones(1, **f32), 0, launcher=run)
        comp, k = components(torch.tensor([[[0, 0], [1, 0]]], dtype=torch.int64, device=device), launcher=run)
        x8, _ = encode(torch.zeros((1, 2, 2, 3), dtype=torch.uint8, device=device), 0.8, 0.8, launcher=run)
        x32, _ = encode(torch.ones((1, 2, 2, 3), dtype=torch.float32, device=device), 0.0, 0.0, launcher=run)
        img = torch.zeros((1, 3, 2, 2), **f32)
        ew = edge_weights(img, 2.0, launcher=run)
        right, _ = contrast(img, torch.zeros((1, 1, 2, 2), **f32), torch.ones((1, 1), **f32), torch.ones(1, **f32),
                            launcher=run)
        dst = offers(comp, torch.tensor([True, False], device=device),
                     torch.tensor([[0.0], [1.0]], dtype=torch.float64, device=device), launcher=run)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    ok = (bool((lab == 0).all()) and k.tolist() == [2] and comp.tolist() == [[[0, 0], [1, 0]]]
          and float(pos.abs().sum()) == 1.0 and float(x8[:, :3].abs().sum()) == 0.0  # flat: standardised to 0
          and float(x32[:, :3].abs().sum()) == 0.0 and float(x8[0, 3, 1, 0]) == -float(x8[0, 3, 0, 0]) != 0
          and bool((ew == 1).all()) and right[0].tolist() == [[1.0, 0.0], [1.0, 0.0]] and dst.tolist() == [1, 2])
    if not ok:
        raise RuntimeError(f"the CUDA kernels gave wrong results on a test input: {lab.tolist()}, {comp.tolist()}")
    _warm.add(key)


def round_buffers(batch: int, n_seeds: int, channels: int, device: torch.device):
    """Zeroed float64 sums of a seed round: counts ``(B, K)``, features ``(B, K, C)``,
    positions ``(B, K, 2)``."""
    f64 = dict(dtype=torch.float64, device=device)
    return (torch.zeros((batch, n_seeds), **f64), torch.zeros((batch, n_seeds, channels), **f64),
            torch.zeros((batch, n_seeds, 2), **f64))


def _call(device, launcher, name, shape, *args):
    run, opened = (launcher, False) if launcher is not None else (Launcher(device).__enter__(), True)
    try:
        run.launch(name, shape, *args)
    finally:
        if opened:
            run.__exit__(None, None, None)


def assign(z: torch.Tensor, feats: torch.Tensor, pos: torch.Tensor, wmap: torch.Tensor | None, pr: torch.Tensor,
           pc: torch.Tensor, rows: int, cols: int, window: int, keep: bool = False, sums=None,
           out=None, launcher: Launcher | None = None):
    """Labels ``(B, H, W)`` int64 (seed indices) of the images ``z`` ``(B, H, W, C)``
    float32 (channels last, contiguous), their seeds' ``feats`` ``(B, K, C)`` and ``pos``
    ``(B, K, 2)`` float32, the spatial weight ``wmap`` ``(B, H, W)`` (None: no spatial
    term); each pixel's least distance ``(B, H, W)``; with ``keep`` also every candidate's
    distance ``(B, window**2, H, W)`` (inf beyond the grid), else None. ``sums``
    (:func:`round_buffers`): each pixel is added to its seed's count, features and
    position there (a seed round). ``out``: the ``(lab, best, dists)`` tensors to write."""
    n, h, w = z.shape[:3]
    dev = z.device
    if out is None:
        out = (torch.empty((n, h, w), dtype=torch.int64, device=dev),
               torch.empty((n, h, w), dtype=torch.float32, device=dev),
               torch.empty((n, window * window, h, w) if keep else (1, 1, 1, 1), dtype=torch.float32, device=dev))
    lab, best, dists = out
    use_w = wmap is not None
    wm = wmap if use_w else _dummy(dev, "w", (1, 1, 1), torch.float32)
    acc = sums is not None
    if not acc:
        sums = (_dummy(dev, "c", (1, 1), torch.float64), _dummy(dev, "f", (1, 1, 1), torch.float64),
                _dummy(dev, "p", (1, 1, 2), torch.float64))
    _call(dev, launcher, "assign", (n, h, w), z, feats, pos, wm, use_w, pr, pc, int(rows), int(cols), int(window),
          lab, best, dists, bool(keep), *sums, acc)
    return lab, best, (dists if keep else None)


_DUMMIES: dict = {}


def _dummy(device, name, shape, dtype):
    """A small placeholder argument for a kernel's unused array (one per device)."""
    key = (str(device), name)
    if key not in _DUMMIES:
        _DUMMIES[key] = torch.zeros(shape, dtype=dtype, device=device)
    return _DUMMIES[key]


def update_seeds(feats: torch.Tensor, pos: torch.Tensor, sums, launcher: Launcher | None = None) -> None:
    """Move every seed with pixels to their mean (``feats`` ``(B, K, C)``, ``pos``
    ``(B, K, 2)`` float32, in place, from the float64 ``sums`` of :func:`assign`), and zero
    the sums for the next round."""
    _call(feats.device, launcher, "update", (feats.shape[0] * feats.shape[1],), feats, pos, *sums)


def potts_half_sweep(lab: torch.Tensor, dists: torch.Tensor, pr: torch.Tensor, pc: torch.Tensor, cols: int,
                     window: int, right: torch.Tensor, down: torch.Tensor, lam: torch.Tensor, colour: int,
                     launcher: Launcher | None = None) -> torch.Tensor:
    """One ICM half-sweep over the pixels with ``(y + x) % 2 == colour`` of ``lab``
    ``(B, H, W)`` int64, updated in place (and returned); ``lam`` ``(B,)`` float32, the
    Potts weight of each image."""
    _call(lab.device, launcher, "potts", tuple(lab.shape), lab, dists, pr, pc, int(cols), int(window), right, down,
          lam, int(colour))
    return lab


def components(labels: torch.Tensor, launcher: Launcher | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """4-connected components of equal labels in each image of ``labels`` ``(B, H, W)``
    int64: ``((B, H, W)`` int64 ids, ``(B,)`` int64 counts``)``. Ids run over the whole
    batch, image by image, each image's in raster order of its components' first pixels
    (image b's ids start at the sum of the counts before it; one image: as
    :func:`lnsnet.connectivity.components`)."""
    n, h, w = labels.shape
    dev = labels.device
    total = n * h * w
    parent = torch.arange(total, dtype=torch.int64, device=dev)
    _call(dev, launcher, "cc_union", (n, h, w), labels, parent)
    _call(dev, launcher, "cc_flatten", (total,), parent)
    roots = parent == torch.arange(total, dtype=torch.int64, device=dev)
    ids = torch.cumsum(roots, 0) - 1
    counts = roots.reshape(n, -1).sum(1)
    return ids[parent].reshape(n, h, w), counts


def encode(raw: torch.Tensor, py: float, px: float, launcher: Launcher | None = None):
    """The network's input of a batch of images (:func:`lnsnet.features.encode_torch`'s,
    blur and decoding included): ``raw`` ``(B, H, W, C)`` (C 1 or 3; uint8, uint16, or
    float32 in [0, 1]) on the device, blurred by ``py``, ``px`` pixels. Returns ``((B, 5,
    H, W)`` float32, ``(B, 3)`` colour factors)``; three launches and one host
    synchronisation (the channels' statistics)."""
    from ..features import _M, _WHITE, _input_scales
    from ..prepare import gaussian_taps

    n, h, w, c = raw.shape
    dev = raw.device
    inv = {torch.uint8: 255.0, torch.uint16: 65535.0}.get(raw.dtype, 1.0)
    tmp = torch.empty((n, 3, h, w), dtype=torch.float32, device=dev)
    lab = torch.empty_like(tmp)
    wy, iy = gaussian_taps(py, h, dev)
    wx, ix = gaussian_taps(px, w, dev)
    m, white = torch.from_numpy(_M).to(dev), torch.from_numpy(_WHITE).to(dev)
    _call(dev, launcher, "blur_rows", (n, h, w), raw, tmp, wy, iy, np.float32(inv), bool(c == 1))
    _call(dev, launcher, "blur_cols_lab", (n, h, w), tmp, lab, wx, ix, m, white)
    lab64 = lab.double()
    stats = torch.cat([lab64.sum((2, 3)), lab64.square().sum((2, 3))], 1).cpu().numpy()
    mean, scale, pos_scale, colour = _input_scales(stats, h, w, [c == 1] * n)  # a gray image's a, b: flat
    out = torch.empty((n, 5, h, w), dtype=torch.float32, device=dev)
    _call(dev, launcher, "standardise", (n, h, w), lab, out, torch.from_numpy(mean.astype(np.float32)).to(dev),
          torch.from_numpy(scale.astype(np.float32)).to(dev), float(pos_scale), (h - 1) / 2.0, (w - 1) / 2.0)
    return out, colour


def edge_weights(image: torch.Tensor, edge_scale: float, launcher: Launcher | None = None) -> torch.Tensor:
    """:func:`lnsnet.cluster.gpu._edge_weights` of a batch ``(B, 3, H, W)`` float32 (one
    launch for the steps; the mean and the exponential in torch, without a host sync)."""
    n, _, h, w = image.shape
    g = torch.empty((n, h, w), dtype=torch.float32, device=image.device)
    _call(image.device, launcher, "edge_g", (n, h, w), image, g)
    mean = g.double().mean((1, 2))
    flat = (mean <= 1e-12)[:, None, None]
    scale = (-1.0 / (mean.clamp_min(1e-12) * edge_scale)).float()[:, None, None]
    return torch.where(flat, torch.ones_like(g), torch.exp(g * scale))


def contrast(image: torch.Tensor, z: torch.Tensor | None, a2: torch.Tensor | None, beta: torch.Tensor,
             launcher: Launcher | None = None):
    """:func:`lnsnet.cluster.gpu._contrast` of a batch in one launch: ``(right, down)``."""
    n, _, h, w = image.shape
    right = torch.empty((n, h, w), dtype=torch.float32, device=image.device)
    down = torch.empty_like(right)
    use_z = z is not None
    zz = z.contiguous() if use_z else _dummy(image.device, "z", (1, 1, 1, 1), torch.float32)  # as warm() compiled
    aa = a2 if use_z else _dummy(image.device, "a2", (1, 1), torch.float32)
    _call(image.device, launcher, "contrast", (n, h, w), image, zz, aa, use_z, beta, right, down)
    return right, down


def offers(comp: torch.Tensor, small: torch.Tensor, means: torch.Tensor, launcher: Launcher | None = None):
    """The merge target of every small piece of ``comp`` ``(B, H, W)`` int64 (piece ids
    over the batch; ``small`` ``(k,)`` bool, ``means`` ``(k, F)`` float64): ``(k,)`` int64,
    the adjacent piece of least squared mean distance (ties: the smallest id), ``k`` where
    a piece has no target. Two launches."""
    k = means.shape[0]
    dev = comp.device
    best = torch.full((k,), float("inf"), dtype=torch.float64, device=dev)
    dst = torch.full((k,), k, dtype=torch.int64, device=dev)
    sm = small.to(torch.uint8)
    n, h, w = comp.shape
    _call(dev, launcher, "offers", (n, h, w), comp, sm, means, best, dst, False)
    _call(dev, launcher, "offers", (n, h, w), comp, sm, means, best, dst, True)
    return dst
