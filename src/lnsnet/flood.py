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
   with a mask, about K cells holding masked pixels), each seed the lowest pixel within a
   sixth of the cell's side (at least one pixel) of its centre along each axis, in the cell
   (off a wall);
3. a priority flood: a pixel joins the seed whose front reaches it at the lowest
   ``value + compactness * d / S`` (``d`` its physical distance to that seed, ``S`` the
   grid step), 4-connected in 2-D and 6-connected in 3-D, ties to the earlier push.

Every superpixel is one connected region by construction (no connectivity step); pieces
of a mask that no seed reaches get a label each; each seed stays in its own grid cell, so
K near the pixel count gives the grid's cells (and K at least the pixels one superpixel per
pixel). O(N log N) time, one thread (about 12-13 s for 64 x 512 x 512 voxels at K = 5000
on this project's 2-core machine: ``docs/benchmarks/volumes/``); beyond the input it holds the map (float32,
blurred in place), the labels (int32, returned) and the flood's front (12 bytes an entry
below 715 M voxels, else 24: its seed waits in the voxel's label, and a waiting voxel's
priority is computed again from that seed): about 10 bytes a voxel at its peak, the labels
included (that volume: +165 MiB; ``python benchmarks/volume_speed.py --shape 64x512x512 --k
5000 --repeats 1 --memory --methods flood``).
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
#: redoes files made by another): 2 since 2026-12-05 (the seed search a sixth of the cell);
#: 3 since 2026-12-06 (the 3-D grid held at an axis comes near K, as the clustering's)
VERSION = 3
#: each seed is the lowest voxel within (cell side // SEED_SEARCH, at least 1) voxels of
#: its cell's centre along each axis (chosen on synthetic cell-wall volumes and confirmed on
#: a fresh family: docs/volumes.md, "Boundary images"; it was 1 voxel, a 3x3x3 block)
SEED_SEARCH = 6

#: chosen on synthetic cell-wall volumes (docs/volumes.md, "Boundary images")
DEFAULTS = {"compactness": 0.2, "smooth": 1.0}


@nb.njit(**_jit)
def _seeds(v, valid, zc, yc, xc, z0, z1, y0, y1, x0, x1, hz, hy, hx, out):
    """For each grid cell (``zc, yc, xc``: its centre's index per axis; ``z0, z1, ...``:
    its first and past-the-last index per axis), the flat index of the lowest valid voxel
    within ``hz, hy, hx`` voxels of the centre along each axis, within the cell (two seeds
    never share a voxel); -1 when that has none (the caller then takes
    :func:`_cell_fallback`); the centre itself on ties."""
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
                for dz in range(-hz, hz + 1):
                    z = zc[a] + dz
                    if z < z0[a] or z >= z1[a]:
                        continue
                    for dy in range(-hy, hy + 1):
                        y = yc[b] + dy
                        if y < y0[b] or y >= y1[b]:
                            continue
                        for dx in range(-hx, hx + 1):
                            x = xc[c] + dx
                            if x < x0[c] or x >= x1[c] or not valid[z, y, x]:
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


@nb.njit(inline="always")
def _priority(v, j, z, y, x, s, pz, py, px, sz, sy, sx, weight):
    """Seed ``s``'s priority at voxel ``j`` (at ``z, y, x``): the map plus the weighted
    physical distance, rounded to float32 (the seed's own voxel: its map value)."""
    d = math.sqrt(((z - pz[s]) * sz) ** 2 + ((y - py[s]) * sy) ** 2 + ((x - px[s]) * sx) ** 2)
    return np.float32(v[j] + weight * d)


@nb.njit(**_jit)
def _flood(v, valid, seeds, sz, sy, sx, weight, labels, proto):
    """Priority flood of the flat map ``v`` (shape of ``valid``) from ``seeds`` (flat
    indices): labels (flat, -1 unreached). Until a voxel is taken, its label holds ``-2 -
    s``, ``s`` the seed of its lowest push so far: the push its first pop takes (each
    accepted push is strictly lower than the ones before), so the front's entries need not
    carry their seed, and that push's priority is computed again from it when another seed
    reaches the voxel (a push no lower cannot win and is skipped), so no voxel holds its
    best priority (until 2026-12-06, seventh session, a float32 array of them; the same
    labels). ``proto``: an entry of the front's type, ``(priority, push number, voxel)``,
    32-bit numbers where they fit (12 bytes an entry, 24 with 64-bit ones)."""
    Z, Y, X = valid.shape
    yx = Y * X
    n = seeds.shape[0]
    pz = np.empty(n)
    py = np.empty(n)
    px = np.empty(n)
    heap = [proto]
    heap.pop()
    age_t = type(proto[1])
    idx_t = type(proto[2])
    age = 0
    for s in range(n):
        i = seeds[s]
        pz[s] = i // yx
        py[s] = (i % yx) // X
        px[s] = i % X
        labels[i] = -2 - s
        heapq.heappush(heap, (np.float32(v[i]), age_t(age), idx_t(i)))
        age += 1
    while len(heap) > 0:
        p, _, i = heapq.heappop(heap)
        if labels[i] >= 0:
            continue
        s = -2 - labels[i]
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
            lj = labels[j]
            if lj >= 0 or not valid[nz, ny, nx]:
                continue
            q = _priority(v, j, nz, ny, nx, s, pz, py, px, sz, sy, sx, weight)
            if lj == -1 or q < _priority(v, j, nz, ny, nx, -2 - lj, pz, py, px, sz, sy, sx, weight):
                labels[j] = -2 - s
                heapq.heappush(heap, (q, age_t(age), idx_t(j)))
                age += 1


def _front_entry(n_voxels: int, n_seeds: int) -> tuple:
    """The flood's front entry type: 32-bit push numbers and voxel indices while they fit
    (a voxel is pushed at most once per neighbour taken, so at most ``6 N + seeds`` pushes)."""
    if 6 * n_voxels + n_seeds < 2 ** 32 and n_voxels < 2 ** 31:
        return (np.float32(0.0), np.uint32(0), np.int32(0))
    return (np.float32(0.0), np.int64(0), np.int64(0))


def boundary_map(image: np.ndarray, boundaries: str, spacing3, valid, smooth: float) -> np.ndarray:
    """The map the flood runs on (step 1 of the module's docstring): a new float32 array
    ``(Z, Y, X)`` (the caller's data is never written)."""
    from scipy import ndimage

    if image.ndim == 4 and image.shape[3] > 1:  # each channel to its own 0..1 (:func:`_scale`), then their mean
        m = np.zeros(image.shape[:3], np.float32)
        for c in range(image.shape[3]):
            x = image[..., c].astype(np.float32)
            lo, hi = _scale(x if valid is None else x[valid])
            if hi > lo:
                m += (x - np.float32(lo)) * np.float32(1.0 / (hi - lo))
        m /= np.float32(image.shape[3])
    else:
        m = np.array(image.reshape(image.shape[:3]), dtype=np.float32)  # a copy
    if valid is not None:
        m[~valid] = 0.0  # values outside the mask (NaN too) never count
    if smooth > 0:
        finest = min(spacing3[1:]) if m.shape[0] == 1 else min(spacing3)
        sig = [0.0 if n == 1 else smooth * finest / s for n, s in zip(m.shape, spacing3)]
        ndimage.gaussian_filter(m, sig, mode="reflect", output=m)  # in place: line by line, buffered
        if valid is not None:  # normalised inside the mask, so the outside does not bleed in
            w = ndimage.gaussian_filter(valid.astype(np.float32), sig, mode="reflect")
            np.divide(m, np.maximum(w, 1e-6), out=m)
            m[~valid] = 0.0
            del w
    if boundaries == "dark":  # reversed: the dark lines' floor becomes the ridge
        np.negative(m, out=m)
    lo, hi = _scale(m if valid is None else m[valid])
    m -= np.float32(lo)
    if hi > lo:
        m *= np.float32(1.0 / (hi - lo))
    else:
        m[...] = 0.0
    return m


def _scale(x: np.ndarray) -> tuple[float, float]:
    """The map's 0 and 1: its 1st and 99th percentiles; when the walls are too sparse for
    the 99th to reach them (the maximum more than 4 times as far from the 1st), the 99th
    percentile of the values above the middle of the range (a binary outline, a thin line
    in a large image). A map flat to rounding (1e-6 of its size) is flat: ``(lo, lo)``."""
    if not x.size:
        return 0.0, 0.0
    lo, hi = (float(v) for v in np.percentile(x, [1, 99]))
    top = float(x.max())
    if top - lo <= 1e-6 * max(abs(lo), abs(top)):  # flat but for rounding (a blur's last bits): flat
        return lo, lo
    if top - lo > 4 * (hi - lo):
        hi = float(np.percentile(x[x > (lo + top) / 2], 99))
    return lo, hi


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
    # without a mask every voxel is valid: a read-only view of one True, no array
    valid_a = np.broadcast_to(np.True_, shape) if valid is None else valid
    n_vox = math.prod(shape) if valid is None else int(valid.sum())
    if n_segments >= n_vox:  # K at least the pixels: every pixel a superpixel, as the clustering does
        out = np.full(shape, start_label - 1, np.int32)
        out[valid_a] = np.arange(start_label, start_label + n_vox, dtype=np.int32)
        return out
    k = max(1, int(n_segments))
    if shape[0] == 1:  # 2-D: the 2-D default's grid
        from .grid import make_grid
        from .inference import _mask_grid

        g = (make_grid(shape[1], shape[2], k, sp[1:]) if valid is None
             else _mask_grid(shape[1], shape[2], k, valid[0], sp[1:]))
        cells = (1, g.rows, g.cols)
        step = math.sqrt(shape[1] * sp[1] * shape[2] * sp[2] / (g.rows * g.cols))
    else:
        from .volume import _mask_volume_grid, volume_grid

        cells, step = volume_grid(shape, k, sp) if valid is None else _mask_volume_grid(valid, k, sp)
    from .grid import cell_bounds

    bounds = [cell_bounds(n, c_) for n, c_ in zip(shape, cells)]
    centres = [((s + e - 1) // 2).astype(np.int64) for s, e in bounds]
    seeds = np.empty(cells[0] * cells[1] * cells[2], np.int64)
    # the search around each centre: a sixth of the cell's side (at least 1 voxel) per axis
    hz, hy, hx = (max(1, (n // c_) // SEED_SEARCH) for n, c_ in zip(shape, cells))
    _seeds(v, valid_a, centres[0], centres[1], centres[2], bounds[0][0], bounds[0][1], bounds[1][0], bounds[1][1],
           bounds[2][0], bounds[2][1], hz, hy, hx, seeds)
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
    seeds = seeds[seeds >= 0]  # (cells are disjoint: no two seeds share a voxel)
    labels = np.full(v.size, -1, np.int32)
    _flood(v.ravel(), valid_a, seeds, sp[0], sp[1], sp[2], c / step, labels, _front_entry(v.size, seeds.size))
    del v
    labels = labels.reshape(shape)  # 0 .. seeds - 1, each seed's own voxel first: consecutive
    if valid is not None:
        lost = valid & (labels < 0)
        if lost.any():  # pieces of the mask that no seed reached: a label each, after the seeds'
            from scipy import ndimage

            extra, _ = ndimage.label(lost)
            labels[lost] = extra[lost] - 1 + seeds.size
    labels += np.int32(start_label)  # outside the mask: -1 -> start_label - 1
    return labels
