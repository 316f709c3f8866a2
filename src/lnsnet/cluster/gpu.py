"""The compact clustering in torch, for a GPU: the same steps as the CPU algorithm
(:func:`lnsnet.cluster.local.cluster_local`) on the whole image at once.

Edge-aware weights, the SLIC-style seed rounds, the final assignment to the seeds of the
``window x window`` cells around a pixel's own, the contrast of the smoothing (CIELAB and
the standardised features) and the ICM sweeps of the Potts term, checkerboard by
checkerboard, with the CPU kernels' candidates, order and tie rules. The distances are
float32 sums in another order than the kernels' (which let the compiler reassociate), so
near-ties may go the other way: labels agree on nearly every pixel, not all
(``tests/test_cluster_gpu.py``). Images with a mask or an anisotropic spacing take the
CPU algorithm. On a CUDA device the per-pixel steps (assignment with the seed sums, seed
update, ICM half-sweeps) run as CUDA kernels on a whole batch of images of one shape
(:func:`cluster_batch`, :mod:`lnsnet.cluster.cuda`): one launch a step instead of tens of
torch operations per image. The torch steps (one image at a time) are the fallback where
numba's CUDA target does not run, and the reference the kernels are tested against.

Memory on the device, per pixel, with the kernels: the features channels-last (4 bytes a
channel, twice: the network's and the copy), the ``window**2`` candidate distances (36
bytes for the 3 x 3 window), labels, least distances, edge and pair weights (about 30
bytes): about 0.25 KB a pixel with the default's 23 channels, about 40 MB for a 481x321
image. The torch steps take about twice that (seed indices and temporaries per candidate).
Images above ``tile_pixels`` run in bands on the CPU.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch

from ..grid import Grid
from .local import _beta, feature_weights
from .options import ClusterOptions

__all__ = ["cluster_local_torch", "cluster_batch"]


def _edge_weights(image: torch.Tensor, edge_scale: float) -> torch.Tensor:
    """``exp(-g / (mean g * edge_scale))``, ``g`` the largest squared step to a 4-neighbour,
    of an image ``(3, H, W)`` or of each image of a batch ``(B, 3, H, W)``."""
    if image.dim() == 3:
        return _edge_weights(image[None], edge_scale)[0]
    g = torch.zeros((image.shape[0],) + image.shape[2:], dtype=image.dtype, device=image.device)
    dy = (image[:, :, 1:] - image[:, :, :-1]).square().sum(1)
    dx = (image[:, :, :, 1:] - image[:, :, :, :-1]).square().sum(1)
    g[:, 1:] = torch.maximum(g[:, 1:], dy)
    g[:, :-1] = torch.maximum(g[:, :-1], dy)
    g[:, :, 1:] = torch.maximum(g[:, :, 1:], dx)
    g[:, :, :-1] = torch.maximum(g[:, :, :-1], dx)
    mean = g.double().mean((1, 2))
    flat = (mean <= 1e-12)[:, None, None]
    scale = (-1.0 / (mean.clamp_min(1e-12) * edge_scale)).float()[:, None, None]
    return torch.where(flat, torch.ones_like(g), torch.exp(g * scale))


class _Assigner:
    """Distances of every pixel to the seeds of its ``window x window`` cells."""

    def __init__(self, z: torch.Tensor, grid: Grid, window: int, wmap: torch.Tensor | None):
        self.z, self.grid, self.window, self.wmap = z, grid, window, wmap
        self.half = window // 2
        self.pr, self.pc = grid.pixel_cells(z.device)
        h, w = z.shape[1:]
        self.ys = torch.arange(h, device=z.device, dtype=z.dtype)
        self.xs = torch.arange(w, device=z.device, dtype=z.dtype)
        self.zl = z.permute(1, 2, 0)  # (H, W, C) view

    def distances(self, feats: torch.Tensor, pos: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(window**2, H, W)`` distances (inf beyond the grid) and the candidates' seed
        indices ``(window**2, H, W)`` (clamped inside the grid where the distance is inf)."""
        g, half = self.grid, self.half
        dists, seeds = [], []
        for dr in range(-half, half + 1):
            r = self.pr + dr
            rv = (r >= 0) & (r < g.rows)
            rc = r.clamp(0, g.rows - 1)
            for dc in range(-half, half + 1):
                c = self.pc + dc
                cv = (c >= 0) & (c < g.cols)
                s = rc[:, None] * g.cols + c.clamp(0, g.cols - 1)[None, :]  # (H, W)
                d = (feats[s] - self.zl).square().sum(-1)
                if self.wmap is not None:
                    p = pos[s]
                    d = d + self.wmap * ((p[..., 0] - self.ys[:, None]).square() + (p[..., 1] - self.xs[None, :]).square())
                dists.append(torch.where(rv[:, None] & cv[None, :], d, torch.full_like(d, float("inf"))))
                seeds.append(s)
        return torch.stack(dists), torch.stack(seeds)

    @staticmethod
    def pick(dists: torch.Tensor, seeds: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The first candidate of least distance: labels and their distances."""
        best = dists[0].clone()
        arg = seeds[0].clone()
        for m in range(1, dists.shape[0]):
            take = dists[m] < best
            best = torch.where(take, dists[m], best)
            arg = torch.where(take, seeds[m], arg)
        return arg, best


def _numpy_median(t: torch.Tensor) -> float:
    """``np.median`` of a tensor (the mean of the two middle values for an even count)."""
    return float(_medians(t.reshape(1, -1))[0])


def _medians(t: torch.Tensor) -> torch.Tensor:
    """``np.median`` of each row of ``t`` ``(B, N)``: ``(B,)`` float64 (a sort: on a GPU far
    quicker than two kthvalue calls)."""
    v = t.sort(1).values
    n = v.shape[1]
    return (v[:, (n - 1) // 2].double() + v[:, n // 2].double()) / 2


def _contrast(image: torch.Tensor, z: torch.Tensor | None, a2: torch.Tensor | None, beta: torch.Tensor):
    """``exp(-beta d)`` of every right and down 4-neighbour pair of each image of
    ``image`` ``(B, 3, H, W)`` (``(B, H, W)`` each, the last column / row 0), ``d`` the
    squared CIELAB step plus the ``a2`` ``(B, C)``-weighted steps of ``z`` ``(B, C, H, W)``;
    ``beta`` ``(B,)`` float32."""
    n, _, h, w = image.shape
    right = torch.zeros((n, h, w), dtype=image.dtype, device=image.device)
    down = torch.zeros((n, h, w), dtype=image.dtype, device=image.device)
    sx = (image[..., 1:] - image[..., :-1]).square().sum(1)
    sy = (image[:, :, 1:] - image[:, :, :-1]).square().sum(1)
    if z is not None:
        sx = sx + (a2[:, :, None, None] * (z[..., 1:] - z[..., :-1]).square()).sum(1)
        sy = sy + (a2[:, :, None, None] * (z[:, :, 1:] - z[:, :, :-1]).square()).sum(1)
    nb = -beta[:, None, None]
    right[:, :, :-1] = torch.exp(nb * sx)
    down[:, :-1] = torch.exp(nb * sy)
    return right, down


def _potts_half_sweep(lab, dists, grid: Grid, pr, pc, window, right, down, lam, colour):
    """One checkerboard half-sweep of ICM (as ``kernels.potts_sweep``, without masks)."""
    h, w = lab.shape
    half = window // 2
    pad = torch.full((h + 2, w + 2), -1, dtype=lab.dtype, device=lab.device)
    pad[1:-1, 1:-1] = lab
    nbrs = [pad[:-2, 1:-1], pad[2:, 1:-1], pad[1:-1, :-2], pad[1:-1, 2:]]  # up, down, left, right
    zero_row = torch.zeros((1, w), dtype=right.dtype, device=right.device)
    zero_col = torch.zeros((h, 1), dtype=right.dtype, device=right.device)
    wts = [torch.cat([zero_row, down[:-1]], 0), down, torch.cat([zero_col, right[:, :-1]], 1), right]
    exists = [n >= 0 for n in nbrs]
    own = lab

    def energy(s, ok):
        dr = torch.div(s, grid.cols, rounding_mode="floor") - pr[:, None] + half
        dc = s % grid.cols - pc[None, :] + half
        inwin = (dr >= 0) & (dr < window) & (dc >= 0) & (dc < window)
        slot = (dr.clamp(0, window - 1) * window + dc.clamp(0, window - 1))
        e = torch.gather(dists, 0, slot[None])[0]
        for n, wt, ex in zip(nbrs, wts, exists):
            e = e + torch.where(ex & (n != s), lam * wt, torch.zeros_like(wt))
        return torch.where(ok & inwin, e, torch.full_like(e, float("inf")))

    best_e = energy(own, torch.ones_like(own, dtype=torch.bool))
    best_s = own.clone()
    for k, s in enumerate(nbrs):
        ok = exists[k] & (s != own)
        for j in range(k):
            ok = ok & (nbrs[j] != s)
        e = energy(s, ok)
        take = e < best_e
        best_e = torch.where(take, e, best_e)
        best_s = torch.where(take, s, best_s)
    ys = torch.arange(h, device=lab.device)[:, None]
    xs = torch.arange(w, device=lab.device)[None, :]
    on = ((ys + xs) % 2) == colour
    return torch.where(on, best_s, lab)


#: the per-pixel steps (assignment, ICM) as CUDA kernels (:mod:`lnsnet.cluster.cuda`) on a
#: CUDA device where numba can launch them; False: in torch ops (benchmarks compare the two)
USE_KERNELS = True
_KERNELS_FAILED: list = []  # why they failed in this process, once they have


def cluster_local_torch(z: torch.Tensor, image: torch.Tensor, grid: Grid, seed_feats: torch.Tensor,
                        seed_pos: torch.Tensor, options: ClusterOptions, extra: torch.Tensor | None = None,
                        kernels: bool | None = None, device_labels: bool = False,
                        contour: torch.Tensor | None = None):
    """Raw labels ``(H, W)`` int32 (numpy) of one image by the compact clustering in torch
    on ``z``'s device. ``z`` ``(C, H, W)`` features, ``image`` ``(3, H, W)`` the
    clustering's colour (as :func:`lnsnet.cluster.cluster_pixels`), ``seed_feats``
    ``(K, C + E)`` and ``seed_pos`` ``(K, 2)`` pixels,
    ``extra`` ``(E, H, W)`` the channels appended to ``z`` (the input beside the features),
    ``contour`` ``(H, W)`` the spatial term's factor at every pixel (or None). ``kernels``: the per-pixel steps as CUDA kernels (:mod:`lnsnet.cluster.cuda`);
    None: on a CUDA device where they can run (:data:`USE_KERNELS`). ``device_labels``:
    the labels as an int64 tensor on ``z``'s device instead (for the connectivity there)."""
    if kernels is None:
        from .cuda import fits

        kernels = use_kernels(z.device) and fits(1, z.shape[1])
    if kernels:
        lab = cluster_batch(z[None], image[None], grid, seed_feats[None], seed_pos[None], options,
                            None if extra is None else extra[None], None if contour is None else contour[None])[0]
    else:
        lab = _cluster_torch(z, image, grid, seed_feats, seed_pos, options, extra, contour)
    return lab if device_labels else lab.to(torch.int32).cpu().numpy()


def use_kernels(device: torch.device) -> bool:
    """Whether the compact clustering takes the CUDA kernels on ``device``: a CUDA device,
    :data:`USE_KERNELS`, numba able to launch there, and the kernels compiled and run once
    on a tiny input (:func:`lnsnet.cluster.cuda.warm`). Where that fails (numba's CUDA
    target broken), a warning, and the torch steps for the rest of the process; running
    out of GPU memory is raised, not taken for a broken target."""
    from . import cuda as ck

    if not (USE_KERNELS and not _KERNELS_FAILED and device.type == "cuda" and ck.available()):
        return False
    try:
        ck.warm(device)
    except torch.cuda.OutOfMemoryError:
        raise
    except Exception as exc:  # compiling or launching the kernels: numba's target, not the data
        _KERNELS_FAILED.append(repr(exc))
        warnings.warn(f"the compact clustering's CUDA kernels do not run here ({exc!r}); using torch "
                      "operations instead (slower)", RuntimeWarning, stacklevel=3)
        return False
    return True


def _inputs(z, image, grid, seed_feats, seed_pos, options, extra, kernels=False, contour=None):
    """The clustering's inputs on ``z``'s device in float32, batched ``(B, ...)``: the
    features with the extra channels, the colour, the spatial weight map (None without a
    spatial term; its colour steps by a CUDA kernel with ``kernels``; times ``contour``
    ``(B, H, W)`` where given), the seeds' features and positions (copies: the rounds move
    them)."""
    dev = z.device
    z = z.float()
    if extra is not None:
        z = torch.cat([z, extra.to(dev, torch.float32)], 1)
    image = image.to(dev, torch.float32).contiguous()
    n, _, h, w = z.shape
    weight = options.compactness / (grid.cell_size[0] * grid.cell_size[1])
    wmap = None
    if weight > 0 and options.edge_scale > 0:
        if kernels:
            from .cuda import edge_weights

            wmap = weight * edge_weights(image, options.edge_scale)
        else:
            wmap = weight * _edge_weights(image, options.edge_scale)
    elif weight > 0:
        wmap = torch.full((n, h, w), float(weight), device=dev)
    if wmap is not None and contour is not None:
        wmap = (wmap * contour.to(dev, torch.float32)).contiguous()
    return (z, image, wmap, seed_feats.to(dev, torch.float32).clone().contiguous(),
            seed_pos.to(dev, torch.float32).clone().contiguous())


def cluster_batch(z: torch.Tensor, image: torch.Tensor, grid: Grid, seed_feats: torch.Tensor,
                  seed_pos: torch.Tensor, options: ClusterOptions, extra: torch.Tensor | None = None,
                  contour: torch.Tensor | None = None) -> torch.Tensor:
    """Raw labels ``(B, H, W)`` int64 (on the device) of a batch of images of one shape by
    the compact clustering's CUDA kernels (:mod:`lnsnet.cluster.cuda`, one launch a step
    for the whole batch): ``z`` ``(B, C, H, W)``, ``image`` ``(B, 3, H, W)``,
    ``seed_feats`` ``(B, K, C + E)``, ``seed_pos`` ``(B, K, 2)``, ``extra`` ``(B, E, H, W)``,
    ``contour`` ``(B, H, W)``, as :func:`cluster_local_torch` takes one image."""
    from . import cuda as ck

    dev = z.device
    z, image, wmap, feats, pos = _inputs(z, image, grid, seed_feats, seed_pos, options, extra, kernels=True,
                                         contour=contour)
    n, c = z.shape[:2]
    pr, pc = grid.pixel_cells(dev)
    zl = z.permute(0, 2, 3, 1).contiguous()
    with ck.Launcher(dev) as run:  # every tensor converted for numba once, one device context
        args = (zl, feats, pos, wmap, pr, pc, grid.rows, grid.cols, options.window)
        if options.iterations:
            sums = ck.round_buffers(n, grid.n_seeds, c, dev)
            out = None
            for _ in range(options.iterations):  # each round: one assignment, one update of the seeds
                out = ck.assign(*args, sums=sums, out=out, launcher=run)
                ck.update_seeds(feats, pos, sums, launcher=run)
        keep = options.smoothing > 0
        lab, best, dists = ck.assign(*args, keep=keep, launcher=run)
        if keep:
            right, down, lam = _smoothing_terms(image, z, best, options, kernels=True)
            for _ in range(options.SMOOTHING_SWEEPS):
                for colour in (0, 1):
                    ck.potts_half_sweep(lab, dists, pr, pc, grid.cols, options.window, right, down, lam, colour,
                                        launcher=run)
    return lab


def _cluster_torch(z, image, grid, seed_feats, seed_pos, options, extra, contour=None):
    """One image by the compact clustering's steps in torch operations (no kernels)."""
    z, image, wmap, feats, pos = _inputs(z[None], image[None], grid, seed_feats, seed_pos, options,
                                         None if extra is None else extra[None],
                                         contour=None if contour is None else contour[None])
    z, image = z[0], image[0]
    asg = _Assigner(z, grid, options.window, None if wmap is None else wmap[0])
    feats, pos = _rounds_torch(asg, z, feats, pos, grid.n_seeds, options.iterations)
    dists, seeds = asg.distances(feats, pos)
    lab, best = asg.pick(dists, seeds)
    del seeds
    if options.smoothing > 0:
        right, down, lam = _smoothing_terms(image[None], z[None], best[None], options)
        lam = float(lam[0])
        for _ in range(options.SMOOTHING_SWEEPS):
            for colour in (0, 1):
                lab = _potts_half_sweep(lab, dists, grid, asg.pr, asg.pc, options.window, right[0], down[0], lam,
                                        colour)
    return lab


def _rounds_torch(asg, z, feats, pos, n, iterations):
    """The seed rounds in torch operations: each seed to the mean of its pixels (float64 sums)."""
    if not iterations:
        return feats, pos
    c, h, w = z.shape
    dev = z.device
    ys, xs = torch.meshgrid(torch.arange(h, device=dev), torch.arange(w, device=dev), indexing="ij")
    pix = torch.stack([ys.reshape(-1), xs.reshape(-1)], 1).double()
    zf = z.reshape(c, -1).t().double()
    for _ in range(iterations):
        idx = asg.pick(*asg.distances(feats, pos))[0].reshape(-1)
        cnt = torch.zeros(n, dtype=torch.float64, device=dev).index_add_(0, idx, torch.ones_like(idx, dtype=torch.float64))
        fsum = torch.zeros((n, c), dtype=torch.float64, device=dev).index_add_(0, idx, zf)
        psum = torch.zeros((n, 2), dtype=torch.float64, device=dev).index_add_(0, idx, pix)
        kept = cnt[:, None] > 0
        m = cnt.clamp_min(1.0)[:, None]
        feats = torch.where(kept, fsum / m, feats.double()).float()
        pos = torch.where(kept, psum / m, pos.double()).float()
    return feats, pos


def _smoothing_terms(image, z, best, options, kernels=False):
    """The Potts term's pair weights (right, down; ``(B, H, W)``) and its weight ``lam``
    ``(B,)`` float32 (the smoothing times the median of each image's least distances
    ``best`` ``(B, H, W)``) of a batch (``image`` ``(B, 3, H, W)``, ``z`` ``(B, C, H, W)``)."""
    dev = z.device
    n, c, h, w = z.shape
    im64 = image.double()
    lab_sq = ((im64[:, :, 1:] - im64[:, :, :-1]).square().sum((1, 2, 3))
              + (im64[..., 1:] - im64[..., :-1]).square().sum((1, 2, 3)))
    pairs = (h - 1) * w + h * (w - 1)
    zc, a2t = None, None
    if options.uses_feature_contrast:
        zd = z.double()
        dsq = ((zd[:, :, 1:] - zd[:, :, :-1]).square().sum((2, 3)) + (zd[..., 1:] - zd[..., :-1]).square().sum((2, 3)))
        stats = torch.stack([zd.sum((2, 3)), zd.square().sum((2, 3)), dsq, lab_sq[:, None].expand(n, c)]).cpu().numpy()
        a2 = np.stack([feature_weights(stats[0, b], stats[1, b], h * w, options.feature_contrast) for b in range(n)])
        totals = stats[3, :, 0] + np.einsum("bc,bc->b", a2.astype(np.float64), stats[2])
        zc, a2t = z, torch.from_numpy(a2).to(dev)
    else:
        totals = lab_sq.cpu().numpy()
    beta = torch.tensor([_beta(float(t), pairs) for t in totals], dtype=torch.float32, device=dev)
    if kernels:
        from .cuda import contrast

        right, down = contrast(image, zc, a2t, beta)
    else:
        right, down = _contrast(image, zc, a2t, beta)
    lam = (options.smoothing * _medians(best.reshape(n, -1)).clamp_min(1e-6)).float()
    return right, down, lam
