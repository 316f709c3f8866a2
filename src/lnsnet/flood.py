"""Superpixels of boundary images: a compact watershed from the seed grid.

Some images show the boundaries themselves rather than regions: stained cell walls or
membranes (bright lines between dark cells), a boundary probability map, an electron
micrograph's dark membranes. Clustering their intensity (slic, lnsnet's default) makes the
walls regions of their own, and the superpixels' edges fall on the walls' flanks, not on
their middle where the cells meet. ``segment(image, K, boundaries="bright")`` (or
``"dark"``) floods the image instead, from about K seeds on the grid, so that superpixels
meet on the walls' ridges (a compact watershed, Neubert & Protzel, ICPR 2014; the
over-segmentation PlantSeg and connectomics pipelines start from):

1. the channels' mean, Gaussian-smoothed (``smooth`` voxels of the finest axis, isotropic
   in physical units), then scaled so that its 1st and 99th percentiles are 0 and 1
   (``"dark"``: reversed), so the settings hold across contrasts;
2. the seed grid of the 2-D or 3-D default (about K cells, near-square in physical units;
   with a mask, about K cells holding masked pixels), each seed the lowest pixel of the
   3x3(x3) block around its cell's centre (off a wall);
3. a priority flood: a pixel joins the seed whose front reaches it at the lowest
   ``value + compactness * d / S`` (``d`` its physical distance to that seed, ``S`` the
   grid step), 4-connected in 2-D and 6-connected in 3-D, ties to the earlier push.

Every superpixel is one connected region by construction (no connectivity step); pieces
of a mask that no seed reaches get a label each. O(N log N) time; beyond the input it holds
the smoothed map and the best priority (float32), the labels (int32) and the flood's front.
Unlike scikit-image's ``watershed(..., compactness=)``, distances are physical
(``spacing``), which anisotropic volumes need.
"""

from __future__ import annotations

import heapq
import math

import numba as nb
import numpy as np

__all__ = ["segment_boundaries", "DEFAULTS"]

_jit = dict(cache=True, nogil=True)

#: the flood's version, in the provenance of `lnsnet segment --boundaries` outputs (a rerun
#: redoes files made by another)
VERSION = 1

#: chosen on synthetic cell-wall volumes (docs/volumes.md, "Boundary images")
DEFAULTS = {"compactness": 0.2, "smooth": 1.0}


@nb.njit(**_jit)
def _seeds(v, valid, zc, yc, xc, out):
    """For each grid cell (``zc, yc, xc``: its centre's index per axis), the flat index of
    the lowest valid voxel of the 3x3x3 block around the centre; -1 when the block has none
    (the caller then takes :func:`_cell_fallback`); the centre itself on ties."""
    Z, Y, X = v.shape
    n = 0
    for a in range(zc.shape[0]):
        for b in range(yc.shape[0]):
            for c in range(xc.shape[0]):
                best = -1
                bv = np.inf
                if valid[zc[a], yc[b], xc[c]]:  # the centre, unless a neighbour is strictly lower
                    bv = v[zc[a], yc[b], xc[c]]
                    best = (zc[a] * Y + yc[b]) * X + xc[c]
                for dz in range(-1, 2):
                    z = zc[a] + dz
                    if z < 0 or z >= Z:
                        continue
                    for dy in range(-1, 2):
                        y = yc[b] + dy
                        if y < 0 or y >= Y:
                            continue
                        for dx in range(-1, 2):
                            x = xc[c] + dx
                            if x < 0 or x >= X or not valid[z, y, x]:
                                continue
                            if v[z, y, x] < bv:
                                bv = v[z, y, x]
                                best = (z * Y + y) * X + x
                out[n] = best
                n += 1


@nb.njit(**_jit)
def _cell_fallback(valid, z0, z1, y0, y1, x0, x1, cz, cy, cx, sz, sy, sx):
    """The valid voxel of a cell nearest (physically) its centre, or -1."""
    Y, X = valid.shape[1], valid.shape[2]
    best = -1
    bd = np.inf
    for z in range(z0, z1):
        for y in range(y0, y1):
            for x in range(x0, x1):
                if valid[z, y, x]:
                    d = ((z - cz) * sz) ** 2 + ((y - cy) * sy) ** 2 + ((x - cx) * sx) ** 2
                    if d < bd:
                        bd = d
                        best = (z * Y + y) * X + x
    return best


@nb.njit(**_jit)
def _flood(v, valid, seeds, sz, sy, sx, weight, labels, best):
    """Priority flood of the flat map ``v`` (shape of ``valid``) from ``seeds`` (flat
    indices): labels (flat, -1 unreached) and, in ``best``, each voxel's lowest pushed
    priority (a push no lower than it cannot win and is skipped)."""
    Z, Y, X = valid.shape
    yx = Y * X
    n = seeds.shape[0]
    pz = np.empty(n)
    py = np.empty(n)
    px = np.empty(n)
    heap = [(np.float32(0.0), np.int64(0), np.int64(0), np.int64(0))]
    heap.pop()
    age = np.int64(0)
    for s in range(n):
        i = seeds[s]
        pz[s] = i // yx
        py[s] = (i % yx) // X
        px[s] = i % X
        p = np.float32(v[i])
        if p < best[i]:
            best[i] = p
        heapq.heappush(heap, (p, age, np.int64(i), np.int64(s)))
        age += 1
    while len(heap) > 0:
        p, _, i, s = heapq.heappop(heap)
        if labels[i] >= 0:
            continue
        labels[i] = s
        z = i // yx
        y = (i % yx) // X
        x = i % X
        for k in range(6):
            nz, ny, nx = z, y, x
            if k == 0:
                nz -= 1
            elif k == 1:
                nz += 1
            elif k == 2:
                ny -= 1
            elif k == 3:
                ny += 1
            elif k == 4:
                nx -= 1
            else:
                nx += 1
            if nz < 0 or nz >= Z or ny < 0 or ny >= Y or nx < 0 or nx >= X:
                continue
            j = (nz * Y + ny) * X + nx
            if labels[j] >= 0 or not valid[nz, ny, nx]:
                continue
            d = math.sqrt(((nz - pz[s]) * sz) ** 2 + ((ny - py[s]) * sy) ** 2 + ((nx - px[s]) * sx) ** 2)
            q = np.float32(v[j] + weight * d)
            if q < best[j]:
                best[j] = q
                heapq.heappush(heap, (q, age, np.int64(j), s))
                age += 1


def _splits(length: int, n: int):
    """Start and end of each of ``n`` cells along an axis of ``length`` (the grids' rule:
    index ``i`` is in cell ``(i * n) // length``)."""
    cell = (np.arange(length) * n) // length
    starts = np.searchsorted(cell, np.arange(n))
    ends = np.append(starts[1:], length)
    return starts, ends


def boundary_map(image: np.ndarray, boundaries: str, spacing3, valid, smooth: float) -> np.ndarray:
    """The map the flood runs on (step 1 of the module's docstring), float32 ``(Z, Y, X)``."""
    from scipy import ndimage

    m = image.astype(np.float32, copy=False)
    if m.ndim == 4:  # each channel to its 1st-99th percentile range, then their mean
        if m.shape[3] == 1:
            m = m[..., 0]
        else:
            chans = []
            for c in range(m.shape[3]):
                x = m[..., c]
                sel = x if valid is None else x[valid]
                lo, hi = np.percentile(sel, [1, 99]) if sel.size else (0.0, 0.0)
                chans.append((x - lo) / (hi - lo) if hi > lo else np.zeros_like(x))
            m = np.mean(chans, axis=0, dtype=np.float32)
    if valid is not None:
        m = np.where(valid, m, 0).astype(np.float32)  # values outside the mask (NaN too) never count
    if smooth > 0:
        finest = min(spacing3[1:]) if m.shape[0] == 1 else min(spacing3)
        sig = [0.0 if n == 1 else smooth * finest / s for n, s in zip(m.shape, spacing3)]
        if valid is None:
            m = ndimage.gaussian_filter(m, sig, mode="reflect")
        else:  # normalised inside the mask, so the outside does not bleed in
            w = ndimage.gaussian_filter(valid.astype(np.float32), sig, mode="reflect")
            m = ndimage.gaussian_filter(m, sig, mode="reflect")
            m = np.where(valid, m / np.maximum(w, 1e-6), 0).astype(np.float32)
    sel = m if valid is None else m[valid]
    lo, hi = np.percentile(sel, [1, 99]) if sel.size else (0.0, 0.0)
    out = (m - lo) / (hi - lo) if hi > lo else np.zeros_like(m)
    if boundaries == "dark":
        out = 1.0 - out
    return np.ascontiguousarray(out, dtype=np.float32)


def segment_boundaries(image: np.ndarray, n_segments: int, *, boundaries: str = "bright",
                       compactness: float | None = None, spacing=None, mask=None,
                       smooth: float | None = None, start_label: int = 1) -> np.ndarray:
    """Supervoxels of a boundary image ``(Z, Y, X)`` or ``(Z, Y, X, C)`` (channels
    averaged); a 2-D image is ``(1, H, W[, C])`` (:func:`lnsnet.segment` takes both as the
    user gives them). ``spacing``: the voxel size ``(dz, dy, dx)``; ``mask``: bool of the
    spatial shape. See the module's docstring. Returns int32 labels from ``start_label``
    (outside ``mask``: ``start_label - 1``)."""
    if boundaries not in ("bright", "dark"):
        raise ValueError(f"boundaries must be 'bright' or 'dark', got {boundaries!r}")
    c = DEFAULTS["compactness"] if compactness is None else float(compactness)
    smooth = DEFAULTS["smooth"] if smooth is None else float(smooth)
    if not (math.isfinite(c) and c >= 0):
        raise ValueError(f"compactness must be a finite number >= 0, got {compactness}")
    if not (math.isfinite(smooth) and smooth >= 0):
        raise ValueError(f"smooth must be a finite number >= 0, got {smooth}")
    shape = image.shape[:3]
    sp = tuple(float(s) for s in (spacing if spacing is not None else (1.0, 1.0, 1.0)))
    valid = None if mask is None else np.ascontiguousarray(mask, dtype=np.bool_)
    v = boundary_map(image, boundaries, sp, valid, smooth)
    valid_a = np.ones(shape, np.bool_) if valid is None else valid
    n_vox = int(valid_a.sum())
    k = max(1, min(int(n_segments), n_vox))
    if shape[0] == 1:  # 2-D: the 2-D default's grid
        from .grid import fit_to_mask, make_grid

        def make(t):
            return make_grid(shape[1], shape[2], t, sp[1:])

        if valid is None:
            g = make(k)
        else:
            def count(grid):
                return _cells_in2(valid[0], grid.rows, grid.cols)
            g = fit_to_mask(k, valid.size, n_vox, make, count)
        cells = (1, g.rows, g.cols)
        step = math.sqrt(shape[1] * sp[1] * shape[2] * sp[2] / (g.rows * g.cols))
    else:
        from .volume import _mask_volume_grid, volume_grid

        cells, step = volume_grid(shape, k, sp) if valid is None else _mask_volume_grid(valid, k, sp)
    bounds = [_splits(n, c_) for n, c_ in zip(shape, cells)]
    centres = [((s + e - 1) // 2).astype(np.int64) for s, e in bounds]
    seeds = np.empty(cells[0] * cells[1] * cells[2], np.int64)
    _seeds(v, valid_a, centres[0], centres[1], centres[2], seeds)
    if (seeds < 0).any():  # a centre's block outside the mask: the cell's valid voxel nearest its centre
        n = 0
        for a in range(cells[0]):
            for b in range(cells[1]):
                for cc in range(cells[2]):
                    if seeds[n] < 0:
                        (z0, z1), (y0, y1), (x0, x1) = ((bounds[i][0][j], bounds[i][1][j]) for i, j in
                                                        enumerate((a, b, cc)))
                        seeds[n] = _cell_fallback(valid_a, z0, z1, y0, y1, x0, x1, (z0 + z1 - 1) / 2,
                                                  (y0 + y1 - 1) / 2, (x0 + x1 - 1) / 2, *sp)
                    n += 1
    seeds = np.unique(seeds[seeds >= 0])  # two centres' blocks may share their lowest voxel
    labels = np.full(v.size, -1, np.int32)
    best = np.full(v.size, np.inf, np.float32)
    _flood(v.ravel(), valid_a, seeds, sp[0], sp[1], sp[2], c / step, labels, best)
    labels = labels.reshape(shape)
    lost = valid_a & (labels < 0)
    if lost.any():  # pieces of the mask that no seed reached: a label each
        from scipy import ndimage

        extra, n_extra = ndimage.label(lost)
        labels[lost] = extra[lost] - 1 + seeds.size
    from .connectivity import relabel_consecutive

    out = np.full(shape, start_label - 1, np.int32)
    out[valid_a] = relabel_consecutive(labels[valid_a]) + start_label
    return out


def _cells_in2(mask2: np.ndarray, rows: int, cols: int) -> int:
    occ = np.logical_or.reduceat(mask2, _splits(mask2.shape[0], rows)[0], axis=0)
    occ = np.logical_or.reduceat(occ, _splits(mask2.shape[1], cols)[0], axis=1)
    return int(occ.sum())
