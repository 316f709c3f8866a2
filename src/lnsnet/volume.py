"""Supervoxels: the compact clustering in 3-D, for gray or multichannel volumes.

The volume's channels are standardised (each to mean 0, variance 1 over the volume) and
clustered around a 3-D grid of seeds, each voxel compared with the seeds of its own grid
cell and the 26 around it (O(27 N) per round, as SLIC), with the distance

    |f_v - f_s|^2 / C  +  (compactness / S)^2 * w_v * |(p_v - p_s) * spacing|^2

(``C`` the channel count, ``S`` the grid step in physical units, ``w_v`` an edge-aware
weight: ``exp(-g_v / (ref * edge_scale))``, ``g_v`` the largest squared feature difference
of the voxel to a 6-neighbour, ``ref`` the mean of the ordinary steps, edges left out
(:func:`edge_reference`): a voxel on an edge follows its features more than its position,
and in a noisy volume a strong edge does so at any compactness, however many edges the
volume holds). Seeds start at the cells' feature means
and centres and move to their voxels' means for ``max_num_iter`` rounds; then every
supervoxel is made one 6-connected region and pieces below ``min_size_factor`` of the
mean size are merged into their most similar neighbour.

Memory: beyond the input, the clustering holds the int32 labels (the output) and, while
it assigns, one float32 edge weight per voxel; the edge weights are freed before the
connectivity, which takes one int32 union-find parent per voxel and writes the pieces over
the labels: at most 8 bytes a voxel at a time (a ``mask`` adds its bool copy). The
standardised features (float32, one per channel) are kept whole while they take at most
:data:`FEATURES_CACHE_BYTES` (4 C bytes a voxel more); a larger volume has them made again
for every pass, in z-slabs of whole planes, about :data:`SLAB_VOXELS` voxels (at least one
plane). The statistics are then summed slab by slab, so the
supervoxels equal those of the features in one piece up to float64 summation order (equal
in every test). Not bounded so: a 3-D ``model``'s features (whole, float16 above the
cache's size). The ``device`` path sends each slab to the device for its turn and holds one
slab there (:func:`_rounds_torch`). ``benchmarks/volume_speed.py --memory``.

On a GPU (``segment(volume, device="cuda")``) the seed rounds run with torch
(:func:`_rounds_torch`: the same candidates, order and tie rule, in float32, z-slab by
z-slab); the edge weights and the connectivity stay on the CPU.
"""

from __future__ import annotations

import math
import numbers

import numba as nb
import numpy as np

from .connectivity import _join, find_root
from .prepare import read_spacing
from .runtime import parallel_kernel
from .errors import ArgumentTypeError, bad_argument


__all__ = ["segment_volume", "volume_grid", "components_3d", "enforce_connectivity_3d"]

_jit = dict(cache=True, nogil=True)

#: the 3-D clustering's version, in the provenance of `lnsnet segment --volume` outputs (a
#: rerun redoes files made by another): 2 since 2026-12-03 (the edge reference, default 40);
#: 3 since 2026-12-06 (a grid held at an axis, or short of K at a small K, comes nearer K:
#: other labels in such volumes, and at K = 10-50 on some shapes); 4 since 2026-12-06
#: (later), when a small piece whose group has grown to the minimum size stopped merging on
#: (:func:`lnsnet.connectivity._join`); 5 since 2026-12-06 (third session), when a channel of tiny values (an sd below 1e-12)
#: stopped counting as flat: other labels only in such volumes; 6 since 2026-12-06 (fifth
#: session): with a mask the edge weights come from the steps inside it alone, and a 3-D
#: model's features above FEATURES_CACHE_BYTES are kept in float16, and at most 1.1 times
#: the seeds are delivered (other labels with a mask, and where more pieces were kept)
CLUSTERING_VERSION = 6
# compactness 40: chosen on synthetic volumes (scripts/volumes.py: the best mean ASA over
# K = 100..2000 among the settings whose delivered k stays within 0.7-1.3 K and whose mean
# CO there is at least half a cube's), not on the PlantSeg volumes
DEFAULTS = {"compactness": 40.0, "max_num_iter": 10, "min_size_factor": 0.25, "edge_scale": 1.0}


def volume_grid(shape: tuple[int, int, int], n_segments: int, spacing=(1.0, 1.0, 1.0)) -> tuple[tuple[int, int, int], float]:
    """The seed grid of a volume: cells per axis ``(nz, ny, nx)`` about ``n_segments`` in
    all, as close to cubes in physical units as the shape allows, and the grid step ``S``
    (the edge of a cube of the mean supervoxel's physical volume)."""
    extent = [n * s for n, s in zip(shape, spacing)]
    step = (extent[0] * extent[1] * extent[2] / max(1, n_segments)) ** (1.0 / 3.0)
    cells = [max(1, min(n, int(round(e / step)))) for n, e in zip(shape, extent)]
    # the rounding may leave far from K cells (thin volumes): scale the free axes
    for _ in range(8):
        total = cells[0] * cells[1] * cells[2]
        if total == 0 or abs(total - n_segments) <= 0.1 * n_segments:
            break
        f = (n_segments / total) ** (1.0 / 3.0)
        new = [max(1, min(n, int(round(c * f)))) for n, c in zip(shape, cells)]
        if new == cells:
            break
        cells = new
    # an axis held at its voxels (or at one cell) stops that scaling short of K (anisotropic
    # voxels, thin volumes, K at least the voxels), as rounding does for a small K (2 or 3
    # cells asked, 1 made): one cell at a time on the free axes, the longest cells split
    # first (the shortest joined first), while the count comes closer
    total = cells[0] * cells[1] * cells[2]
    if abs(total - n_segments) > 0.1 * n_segments and (total < 0.8 * n_segments or any(
            c == (n if total < n_segments else 1) for c, n in zip(cells, shape))):
        for _ in range(sum(shape)):
            total = cells[0] * cells[1] * cells[2]
            up = total < n_segments
            free = [a for a in range(3) if (cells[a] < shape[a] if up else cells[a] > 1)]
            if not free or abs(total - n_segments) <= 0.1 * n_segments:
                break
            side = [extent[a] / cells[a] for a in range(3)]
            a = max(free, key=lambda i: side[i]) if up else min(free, key=lambda i: side[i])
            new = list(cells)
            new[a] += 1 if up else -1
            if abs(new[0] * new[1] * new[2] - n_segments) >= abs(total - n_segments):
                break
            cells = new
    return (cells[0], cells[1], cells[2]), float(step)


def _cells_in(mask: np.ndarray, cells) -> int:
    """How many cells of the grid ``cells`` (``volume_grid``'s split of each axis) hold a
    voxel of ``mask``."""
    from .grid import cell_bounds

    occ = mask
    for axis, n in enumerate(cells):
        occ = np.logical_or.reduceat(occ, cell_bounds(mask.shape[axis], n)[0], axis=axis)
    return int(occ.sum())


def _mask_volume_grid(mask: np.ndarray, k: int, spacing) -> tuple[tuple[int, int, int], float]:
    """``volume_grid`` for a mask: the grid whose cells holding masked voxels number closest
    to ``k`` (:func:`lnsnet.grid.fit_to_mask`, as in 2-D)."""
    from .grid import fit_to_mask

    return fit_to_mask(k, mask.size, int(mask.sum()), lambda target: volume_grid(mask.shape, target, spacing),
                       lambda grid: _cells_in(mask, grid[0]))


# The clustering reads the standardised features slab by slab: a volume whose features take
# at most FEATURES_CACHE_BYTES keeps them whole (made once); a larger one makes them again
# for every pass over the volume, in z-slabs of about SLAB_VOXELS voxels (bounded memory)
FEATURES_CACHE_BYTES = 256 << 20
SLAB_VOXELS = 1 << 21


class _Features:
    """The ``(Z, Y, X, C)`` float32 features of a volume, each channel in [0, 1] by lnsnet's
    rule (:func:`lnsnet.io.unit_range`) and standardised over the volume (inside ``mask``;
    outside it 0), with ``extra`` channels (standardised learned features, whole) after
    them; made for a z-slab on demand (:meth:`slab`) or kept whole when they fit
    :data:`FEATURES_CACHE_BYTES`. The statistics are taken slab by slab in float64, as
    numpy's two-pass mean and standard deviation (equal to them for a volume in one slab)."""

    def __init__(self, volume: np.ndarray, mask: np.ndarray | None, extra: np.ndarray | None = None):
        from .io import unit_range_rule

        self.volume, self.mask, self.extra = volume, mask, extra
        z, y, x, c = volume.shape
        self.shape = (z, y, x)
        self.nch = c + (0 if extra is None else extra.shape[3])
        planes = max(1, SLAB_VOXELS // max(1, y * x))
        slabs = [(z0, min(z, z0 + planes)) for z0 in range(0, z, planes)]
        cached = z * y * x * self.nch * 4 <= FEATURES_CACHE_BYTES
        self.bounds = [(0, z)] if cached else slabs  # the slabs the clustering reads
        self.rules, self.scale = [], []
        for ch in range(c):
            rule = unit_range_rule(volume[..., ch], mask)
            total, n = 0.0, 0
            for z0, z1 in slabs:
                sel = self._inside(rule(volume[z0:z1, ..., ch]), z0, z1)
                total += float(np.add.reduce(sel, axis=None, dtype=np.float64))
                n += sel.size
            mean = total / n
            sq = 0.0
            for z0, z1 in slabs:
                d = self._inside(rule(volume[z0:z1, ..., ch]), z0, z1).astype(np.float64)
                d -= mean
                d *= d
                sq += float(np.add.reduce(d, axis=None))
            std = math.sqrt(sq / n)
            self.rules.append(rule)
            # flat: no spread beyond the rounding of a constant channel (relative, so a channel
            # of tiny values, 1e-20 in units of its own, keeps its contrast; until 2026-12-06
            # an absolute 1e-12 made it flat), or one whose inverse float32 cannot hold
            flat = not (std > 1e-10 * abs(mean) and std > 1e-37)
            self.scale.append((np.float32(mean), np.float32(1.0 if flat else 1.0 / std)))
        self.whole = None
        if cached:  # made slab by slab: no whole-volume temporaries
            self.whole = np.empty(self.shape + (self.nch,), dtype=np.float32)
            for z0, z1 in slabs:
                self.whole[z0:z1] = self.make(z0, z1)

    def _inside(self, v, z0, z1):
        return v if self.mask is None else v[self.mask[z0:z1]]

    @classmethod
    def stored(cls, f: np.ndarray) -> "_Features":
        """Features already made (a whole ``(Z, Y, X, C)`` float32 array)."""
        self = cls.__new__(cls)
        self.volume = self.mask = self.extra = None  # nothing to make: every slab is a view of f
        self.rules, self.scale = [], []
        self.whole = np.ascontiguousarray(f, dtype=np.float32)
        self.shape, self.nch = self.whole.shape[:3], self.whole.shape[3]
        self.bounds = [(0, self.shape[0])]
        return self

    def make(self, z0: int, z1: int) -> np.ndarray:
        """The features of planes ``z0:z1``, made now (contiguous): each channel read once
        as float32 (exact for 8 and 16 bits and float32) or float64 and standardised in one
        pass by :func:`_standardise`, the same float arithmetic as the rule's numpy form."""
        c = self.volume.shape[3]
        out = np.empty((z1 - z0,) + self.shape[1:] + (self.nch,), dtype=np.float32)
        for ch in range(c):
            mean, inv = self.scale[ch]
            rule, part = self.rules[ch], self.volume[z0:z1, ..., ch]
            exact32 = part.dtype.itemsize <= 2 or part.dtype == np.float32  # float32 holds these values exactly
            x = np.ascontiguousarray(part, dtype=np.float32 if exact32 else np.float64)
            _standardise(x, rule.kind, rule.lo, rule.span, mean, inv, out, ch)
        if self.extra is not None:
            out[..., c:] = self.extra[z0:z1]
        if self.mask is not None:
            out[~self.mask[z0:z1]] = 0.0
        return out

    def slab(self, z0: int, z1: int) -> np.ndarray:
        return self.whole[z0:z1] if self.whole is not None else self.make(z0, z1)


@parallel_kernel(**_jit)
def _standardise(x, kind, lo, span, mean, inv, out, ch):
    """``out[..., ch] = (rule(x) - mean) * inv`` in float32, ``rule`` lnsnet's unit range
    (:class:`lnsnet.io.UnitRule`: ``kind`` 0 divide by ``span``, 1 as is, 2 stretch from
    ``lo`` by ``span`` in float64 and clip, 3 the same of the values halved: values near
    float64's limits), each step in the precision numpy takes it."""
    n, y, w = x.shape
    d = np.float32(span)
    for r in nb.prange(n * y):
        i = r // y
        j = r % y
        for k in range(w):
            if kind == 0:
                u = np.float32(x[i, j, k]) / d
            elif kind == 1:
                u = np.float32(x[i, j, k])
            elif kind == 2:
                u = np.float32(min(max((np.float64(x[i, j, k]) - lo) / span, 0.0), 1.0))
            else:
                u = np.float32(min(max((np.float64(x[i, j, k]) / 2.0 - lo) / span, 0.0), 1.0))
            out[i, j, k, ch] = (u - mean) * inv


def _model_features(net, vol: np.ndarray, mask, spacing) -> np.ndarray:
    """A 3-D model's features of ``vol``, each channel standardised over the volume (inside
    ``mask``): float32, or float16 where float32 would take more than
    :data:`FEATURES_CACHE_BYTES` (the network then runs twice, once for the statistics and
    once to store them standardised: memory bounded by 2 bytes a voxel a channel, not 4
    plus the network's whole input). ``ValueError`` for NaN or infinite features."""
    from .volume_model import volume_features

    shape, n_out = vol.shape[:3], net.config.out
    damaged = "the 3-D model gives NaN or infinite features: it is damaged (trained on NaN?)"
    if math.prod(shape) * n_out * 4 <= FEATURES_CACHE_BYTES:
        extra = volume_features(net, vol, spacing, mask=mask)
        sel = extra[mask] if mask is not None else extra.reshape(-1, n_out)
        if not np.isfinite(sel).all():
            raise ValueError(damaged)
        extra -= sel.mean(0)
        extra /= np.maximum(sel.std(0), 1e-6)
        if mask is not None:
            extra[~mask] = 0.0  # outside the mask: no feature (the clustering reads none there)
        return extra
    sums = np.zeros((2, n_out))  # the first pass: sums of the values and their squares, in float64
    count = [0]

    def add(z0, z1, f):
        sel = (f[mask[z0:z1]] if mask is not None else f.reshape(-1, n_out)).astype(np.float64)
        if not np.isfinite(sel).all():
            raise ValueError(damaged)
        sums[0] += sel.sum(0)
        sums[1] += (sel * sel).sum(0)
        count[0] += sel.shape[0]

    volume_features(net, vol, spacing, each=add, mask=mask)
    n = max(count[0], 1)
    mean = sums[0] / n
    var = np.maximum(sums[1] / n - mean * mean, 0.0)
    inv = (1.0 / np.maximum(np.sqrt(var), 1e-6)).astype(np.float32)
    extra = np.empty(shape + (n_out,), dtype=np.float16)

    def store(z0, z1, f):  # |standardised| <= sqrt(voxels - 1) < float16's 65504 up to 4e9 voxels (inside the mask)
        z = (f - mean.astype(np.float32)) * inv
        if mask is not None:
            z[~mask[z0:z1]] = 0.0  # outside it the bound does not hold: no feature there
        extra[z0:z1] = z

    volume_features(net, vol, spacing, each=store, mask=mask)
    return extra


def _features(volume: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """``(Z, Y, X, C)`` float32: each channel in [0, 1] by lnsnet's rule, then
    standardised over the volume (inside ``mask``; 0 outside it), whole."""
    src = _Features(volume, mask)
    return src.whole if src.whole is not None else src.make(0, src.shape[0])


@parallel_kernel(**_jit)
def _edge_strength3(f, e0, z0, z1, g, valid, use_mask):
    """Into ``g``: each voxel's largest squared feature step to a 6-neighbour, for the
    planes ``z0:z1`` of the volume; ``f`` holds the features of its planes ``e0..`` (the
    slab and the plane on each side of it that the volume has). With ``use_mask`` only
    neighbours inside the mask ``valid`` count (the features outside it are a filler, not
    an edge), and a voxel outside it gets 0."""
    zt, y, x = g.shape
    c = f.shape[3]
    for r in nb.prange((z1 - z0) * y):  # rows, not planes: a slab of few large planes keeps every thread
        i = z0 + r // y
        j = r % y
        for k in range(x):
            best = 0.0
            if use_mask and not valid[i, j, k]:
                g[i, j, k] = best
                continue
            for dz, dy, dx in ((1, 0, 0), (-1, 0, 0), (0, 1, 0), (0, -1, 0), (0, 0, 1), (0, 0, -1)):
                a, b, e = i + dz, j + dy, k + dx
                if 0 <= a < zt and 0 <= b < y and 0 <= e < x and not (use_mask and not valid[a, b, e]):
                    d = 0.0
                    for ch in range(c):
                        t = f[i - e0, j, k, ch] - f[a - e0, b, e, ch]
                        d += t * t
                    if d > best:
                        best = d
            g[i, j, k] = best


# edge_reference: steps above this many times the median nonzero step are edges, left out of
# the reference; the statistics are taken on at most _SAMPLE voxels (a seeded random sample:
# a stride could alias with the rows and see one plane only)
EDGE_OUTLIER = 20.0
_SAMPLE = 1 << 20


def edge_reference(g: np.ndarray) -> float:
    """The scale of the ordinary feature steps in ``g`` (each voxel's largest squared step
    to a 6-neighbour): the mean of the steps, those above :data:`EDGE_OUTLIER` times the
    median of the nonzero steps (edges) left out; 0 for a flat volume. A plain mean grows
    with the edges themselves: in a noisy volume with many strong edges it would make them
    weak, and a large compactness would override them. Where the nonzero steps are nearly
    all edges (a noise-free, piecewise-constant volume) nothing is left out and this is the
    plain mean."""
    flat = g.reshape(-1)
    if flat.size > _SAMPLE:
        flat = flat[np.random.default_rng(0).integers(0, flat.size, _SAMPLE)]
    nonzero = flat[flat > 0]
    if nonzero.size == 0:
        return 0.0
    ordinary = flat[flat <= EDGE_OUTLIER * float(np.median(nonzero))]
    return float(ordinary.mean(dtype=np.float64))


def edge_weights_3d(f, edge_scale: float, mask: np.ndarray | None = None) -> np.ndarray:
    """``exp(-g / (ref * edge_scale))`` per voxel, ``ref`` the :func:`edge_reference` of
    ``g`` (all ones for ``edge_scale = 0`` or a flat volume); ``f`` the features, whole
    (an array, taken as float32) or as made slab by slab (:class:`_Features`). With a
    ``mask`` the steps and their reference are those inside it alone: the same weights
    inside a mask however much volume lies outside it (until 2026-12-06 the zero steps
    outside it lowered the reference, and a small mask's weights fell to 0: the spatial
    term off, supervoxels in thousands of pieces)."""
    src = f if isinstance(f, _Features) else _Features.stored(f)
    z = src.shape[0]
    w = np.ones(src.shape, dtype=np.float32)
    if edge_scale <= 0:
        return w
    valid = np.ones((1, 1, 1), dtype=np.bool_) if mask is None else mask
    for z0, z1 in src.bounds:
        e0, e1 = max(0, z0 - 1), min(z, z1 + 1)
        _edge_strength3(src.slab(e0, e1), e0, z0, z1, w, valid, mask is not None)
    if mask is None:
        ref = edge_reference(w)
    elif mask.size > 4 * _SAMPLE:  # a sample of the voxels inside it, not a copy of them all
        idx = np.random.default_rng(0).integers(0, mask.size, 4 * _SAMPLE)
        idx = idx[mask.reshape(-1)[idx]]
        ref = edge_reference(w.reshape(-1)[idx] if idx.size >= _SAMPLE // 4 else w[mask])
    else:
        ref = edge_reference(w[mask])
    if ref <= 1e-12:
        w.fill(1.0)
        return w
    w *= np.float32(-1.0 / (ref * edge_scale))
    return np.exp(w, out=w)


@nb.njit(inline="always", **_jit)
def _seed_distance(f, il, i, j, k, s, seed_f, seed_p, sz, sy, sx, w, feat_w, best):
    """The distance of voxel ``(i, j, k)`` (plane ``il`` of the slab ``f``) to seed ``s``,
    or inf when its spatial part alone exceeds ``best`` (the features' part is >= 0, so it
    cannot win) or the seed is empty."""
    if seed_p[s, 0] < 0:  # an empty seed
        return np.inf
    pz = (i - seed_p[s, 0]) * sz
    py = (j - seed_p[s, 1]) * sy
    px = (k - seed_p[s, 2]) * sx
    ds = w * (pz * pz + py * py + px * px)
    if ds > best:
        return np.inf
    d = 0.0
    for ch in range(f.shape[3]):
        t = f[il, j, k, ch] - seed_f[s, ch]
        d += t * t
    return d * feat_w + ds


@parallel_kernel(**_jit)
def _assign3(f, z0, wmap, valid, masked, cells, seed_f, seed_p, spacing, spatial, feat_w, labels):
    """Each valid voxel of the planes ``z0 : z0 + len(f)`` (``f`` their features) -> the
    nearest seed among those of its grid cell and the 26 around it (seed ``(a, b, c)`` is
    number ``(a * ny + b) * nx + c``); of equal distances the lowest seed number. The
    voxel's own cell is tried first, so that most others are ruled out by their spatial
    part alone. ``valid`` is read only when ``masked``."""
    z, y, x = labels.shape
    nz, ny, nx = cells[0], cells[1], cells[2]
    sz, sy, sx = spacing[0], spacing[1], spacing[2]
    for r in nb.prange(f.shape[0] * y):  # rows, not planes: a slab of few large planes keeps every thread
        il = r // y
        j = r % y
        i = z0 + il
        cz = i * nz // z
        cy = j * ny // y
        for k in range(x):
            if masked and not valid[i, j, k]:
                labels[i, j, k] = -1
                continue
            cx = k * nx // x
            w = spatial * wmap[i, j, k]
            own = (cz * ny + cy) * nx + cx
            best = _seed_distance(f, il, i, j, k, own, seed_f, seed_p, sz, sy, sx, w, feat_w, np.inf)
            arg = own if best < np.inf else -1
            for a in range(max(0, cz - 1), min(nz, cz + 2)):
                for b in range(max(0, cy - 1), min(ny, cy + 2)):
                    for c in range(max(0, cx - 1), min(nx, cx + 2)):
                        s = (a * ny + b) * nx + c
                        if s == own:
                            continue
                        d = _seed_distance(f, il, i, j, k, s, seed_f, seed_p, sz, sy, sx, w, feat_w, best)
                        if d < best or (d == best and d < np.inf and s < arg):
                            best = d
                            arg = s
            labels[i, j, k] = arg


@nb.njit(**_jit)
def _accumulate3(f, z0, labels, by_cell, cells, valid, masked, sums, pos, cnt):
    """Add the features and positions of the planes ``z0 : z0 + len(f)`` to their seeds'
    sums, in raster order: each voxel's seed its label or, with ``by_cell`` (to start),
    the number of its cell of the grid ``cells`` (``labels`` then only gives the volume's
    shape; ``valid`` is read only when ``masked``)."""
    nch = f.shape[3]
    z, y, x = labels.shape
    for il in range(f.shape[0]):
        i = z0 + il
        for j in range(y):
            for k in range(x):
                if by_cell:
                    if masked and not valid[i, j, k]:
                        continue
                    s = ((i * cells[0] // z) * cells[1] + j * cells[1] // y) * cells[2] + k * cells[2] // x
                else:
                    s = labels[i, j, k]
                    if s < 0:
                        continue
                cnt[s] += 1
                pos[s, 0] += i
                pos[s, 1] += j
                pos[s, 2] += k
                for ch in range(nch):
                    sums[s, ch] += f[il, j, k, ch]


@nb.njit(**_jit)
def _finish3(sums, pos, cnt, seed_f, seed_p):
    """Seeds to the mean features and position of their voxels (an empty seed keeps its
    place); returns the number of non-empty seeds."""
    used = 0
    for s in range(cnt.shape[0]):
        if cnt[s] > 0:
            used += 1
            for ch in range(sums.shape[1]):
                seed_f[s, ch] = sums[s, ch] / cnt[s]
            for a in range(3):
                seed_p[s, a] = pos[s, a] / cnt[s]
    return used


def _cell_seeds(src, shape_of, cells, valid, masked, seed_f, seed_p) -> int:
    """Initial seeds: each grid cell's mean features and the mean position of its valid
    voxels (a cell without one: no seed, ``seed_p = -1``), slab by slab; the number of
    non-empty seeds. ``shape_of``: any array of the volume's shape (not read)."""
    sums = np.zeros(seed_f.shape, dtype=np.float64)
    pos = np.zeros((seed_f.shape[0], 3), dtype=np.float64)
    cnt = np.zeros(seed_f.shape[0], dtype=np.int64)
    for z0, z1 in src.bounds:
        _accumulate3(src.slab(z0, z1), z0, shape_of, True, cells, valid, masked, sums, pos, cnt)
    return _finish3(sums, pos, cnt, seed_f, seed_p)


@nb.njit(**_jit)
def _components3(labels):
    """6-connected pieces of equal label (label < 0: outside, piece -1), numbered in raster
    order of their first voxel, written over ``labels`` (int32); returns their count.
    Union-find on int32 parents (4 bytes a voxel); each root is its piece's first voxel."""
    z, y, x = labels.shape
    n = z * y * x
    parent = np.empty(n, dtype=np.int32)  # (np.arange(n) first would take 8 bytes a voxel more)
    for p in range(n):
        parent[p] = p
    flat = labels.reshape(n)
    for i in range(z):
        for j in range(y):
            for k in range(x):
                p = (i * y + j) * x + k
                v = flat[p]
                if v < 0:
                    continue
                for q in (p - 1 if k > 0 else -1, p - x if j > 0 else -1, p - x * y if i > 0 else -1):
                    if q >= 0 and flat[q] == v:
                        a, b = find_root(parent, p), find_root(parent, q)
                        if a != b:
                            if a < b:
                                parent[b] = a
                            else:
                                parent[a] = b
    m = 0
    for p in range(n):  # a root comes before its piece's other voxels: number them as they appear
        if flat[p] < 0:
            flat[p] = -1
            continue
        r = find_root(parent, p)
        if r == p:
            flat[p] = m
            m += 1
        else:
            flat[p] = flat[r]
    return m


@nb.njit(**_jit)
def _piece_sums(f, comp, size, mean):
    """Add the sizes and feature sums of the pieces of a slab (``comp`` its planes)."""
    nch = f.shape[3]
    for i in range(f.shape[0]):
        for j in range(f.shape[1]):
            for k in range(f.shape[2]):
                c = comp[i, j, k]
                if c >= 0:
                    size[c] += 1
                    for ch in range(nch):
                        mean[c, ch] += f[i, j, k, ch]


@nb.njit(**_jit)
def _merge_round(comp, k, size, mean, min_size, threshold, max_segments):
    """One round of :func:`_merge_small3` given the pieces' sizes and feature sums: every
    piece smaller than ``threshold`` (``min_size``, or more while the pieces outnumber
    ``max_segments``, -1: no cap) into the 6-adjacent piece with the closest mean features;
    returns the new piece count, or -1 when there was nothing to merge."""
    z, y, x = comp.shape
    n = z * y * x
    nch = mean.shape[1]
    flat = comp.reshape(n)
    for c in range(k):
        if size[c] > 0:
            for ch in range(nch):
                mean[c, ch] /= size[c]
    best = np.full(k, np.inf)
    dst = np.full(k, -1, dtype=np.int64)
    any_small = False
    for p in range(n):
        c = flat[p]
        if c < 0:
            continue
        i = p // (x * y)
        j = (p // x) % y
        kk = p % x
        for q in (p + 1 if kk + 1 < x else -1, p + x if j + 1 < y else -1, p + x * y if i + 1 < z else -1):
            if q < 0:
                continue
            d = flat[q]
            if d < 0 or d == c:
                continue
            cost = 0.0
            for ch in range(nch):
                t = mean[c, ch] - mean[d, ch]
                cost += t * t
            if size[c] < threshold:
                any_small = True
                if cost < best[c] or (cost == best[c] and d < dst[c]):
                    best[c] = cost
                    dst[c] = d
            if size[d] < threshold:
                any_small = True
                if cost < best[d] or (cost == best[d] and c < dst[d]):
                    best[d] = cost
                    dst[d] = c
    if not any_small:
        return -1
    # each small piece into its target, smallest first; a piece whose group has meanwhile
    # grown to the threshold (pieces merged into it) stays, and one small only by the cap
    # stays once the pieces are down to max_segments: the 2-D rounds' joins
    ids, m = _join(dst, size, np.full(1, threshold, dtype=np.int64), np.zeros(k, dtype=np.bool_),
                   np.zeros(k, dtype=np.int64), np.full(1, k, dtype=np.int64), max_segments, min_size)
    if m == k:
        return -1
    # merged pieces numbered in order of their lowest piece, which is raster order of their
    # first voxel (pieces are numbered so)
    for p in range(n):
        if flat[p] >= 0:
            flat[p] = ids[flat[p]]
    return m


@nb.njit(**_jit)
def _relabel_seeds(labels, n_seeds):
    """Seed numbers ``0 .. n_seeds - 1`` in ``labels`` to ``0 .. k - 1`` in their order
    (:func:`lnsnet.connectivity.relabel_consecutive` of the labels >= 0), in place; -1 stays."""
    flat = labels.reshape(labels.size)
    rank = np.zeros(n_seeds, dtype=np.int32)
    for p in range(flat.size):
        if flat[p] >= 0:
            rank[flat[p]] = 1
    k = 0
    for s in range(n_seeds):
        if rank[s]:
            rank[s] = k
            k += 1
    for p in range(flat.size):
        if flat[p] >= 0:
            flat[p] = rank[flat[p]]


def _merge_small3(comp, k, src, min_size, max_segments=None):
    """Merge every piece smaller than ``min_size`` voxels into the 6-adjacent piece with the
    closest mean features, smallest first, until none is left (or none can merge: a
    small piece with no neighbour stays); while the pieces outnumber ``max_segments``,
    each round also takes the smallest of the rest, as in 2-D. Returns the new piece count
    (``comp`` renumbered in place, raster order); the features read slab by slab from ``src``."""
    cap = -1 if max_segments is None else int(max_segments)
    for _round in range(64):
        size = np.zeros(k, dtype=np.int64)
        mean = np.zeros((k, src.nch), dtype=np.float64)
        for z0, z1 in src.bounds:
            _piece_sums(src.slab(z0, z1), comp[z0:z1], size, mean)
        threshold = min_size
        if 0 <= cap < k:  # too many pieces: the k - cap smallest are small too
            threshold = max(threshold, int(np.sort(size)[k - cap - 1]) + 1)
        m = _merge_round(comp, k, size, mean, min_size, threshold, cap)
        if m < 0:
            break
        k = m
    return k


def _rounds_torch(src, wmap, valid, cells, seed_f, seed_p, spacing, spatial, feat_w, iters, device,
                  max_chunk: int = 1 << 22, float64: bool | None = None) -> np.ndarray:
    """The seed rounds of :func:`segment_volume` (assignment among the 27 cells around a
    voxel's own, then seeds to their voxels' means) with torch on ``device``: the same
    distance, candidates in the same order and the same tie rule (the first smallest) as
    the CPU kernels. Float64 on the CPU (labels equal to the kernels'), float32 on a GPU
    (``float64`` overrides); the seeds' counts and sums are float64 everywhere. ``src``: the
    volume's :class:`_Features` (or a whole ``(Z, Y, X, C)`` array). Voxels are assigned in
    z-slabs of at most ``max_chunk`` voxels, each slab's features, edge weights and mask
    sent to the device for its turn and its labels brought back: the device holds one slab
    (about 100 bytes a voxel plus 16 per channel) and the seeds, not the volume (until
    2026-12-06, sixth session, it held the whole volume's features, weights and labels)."""
    import torch

    if not isinstance(src, _Features):
        src = _Features.stored(src)
    dev = torch.device(device)
    dt = torch.float64 if (dev.type == "cpu" if float64 is None else float64) else torch.float32
    z, y, x = src.shape
    nch = src.nch
    nz, ny, nx = cells
    n_seeds = nz * ny * nx
    sf = torch.from_numpy(seed_f).to(dev, dt)
    spos = torch.from_numpy(seed_p).to(dev, dt)
    cz = torch.arange(z, device=dev) * nz // z
    cy = torch.arange(y, device=dev) * ny // y
    cx = torch.arange(x, device=dev) * nx // x
    gz, gy, gx = (torch.arange(n, device=dev, dtype=dt) for n in (z, y, x))
    sz, sy, sx = (float(v) for v in spacing)
    slab = max(1, max_chunk // max(1, y * x))
    labels = np.empty((z, y, x), dtype=np.int32)
    offsets = [(a, b, c) for a in (-1, 0, 1) for b in (-1, 0, 1) for c in (-1, 0, 1)]
    f64 = torch.float64  # counts and sums: exact for any volume size, on every device
    for it in range(iters + 1):
        empty = spos[:, 0] < 0
        update = it < iters
        if update:  # the seeds' sums, slab by slab as the voxels are assigned (raster order)
            cnt = torch.zeros(n_seeds, dtype=f64, device=dev)
            fsum = torch.zeros((n_seeds, nch), dtype=f64, device=dev)
            psum = torch.zeros((n_seeds, 3), dtype=f64, device=dev)
        for z0 in range(0, z, slab):
            z1 = min(z, z0 + slab)
            fraw = torch.from_numpy(np.ascontiguousarray(src.slab(z0, z1))).to(dev)
            fz = fraw.to(dt)
            wz = torch.from_numpy(np.ascontiguousarray(wmap[z0:z1])).to(dev, dt) * spatial
            best = torch.full((z1 - z0, y, x), math.inf, dtype=dt, device=dev)
            arg = torch.full((z1 - z0, y, x), -1, dtype=torch.int64, device=dev)
            for a, b, c in offsets:
                ca, cb, cc = cz[z0:z1] + a, cy + b, cx + c
                ok = (((ca >= 0) & (ca < nz))[:, None, None] & ((cb >= 0) & (cb < ny))[None, :, None]
                      & ((cc >= 0) & (cc < nx))[None, None, :])
                s = ((ca.clamp(0, nz - 1)[:, None, None] * ny + cb.clamp(0, ny - 1)[None, :, None]) * nx
                     + cc.clamp(0, nx - 1)[None, None, :])
                ok = ok & ~empty[s]
                d = ((fz - sf[s]) ** 2).sum(-1) * feat_w
                sd = spos[s]
                d = d + wz * (((gz[z0:z1, None, None] - sd[..., 0]) * sz) ** 2
                              + ((gy[None, :, None] - sd[..., 1]) * sy) ** 2
                              + ((gx[None, None, :] - sd[..., 2]) * sx) ** 2)
                take = ok & (d < best)
                best = torch.where(take, d, best)
                arg = torch.where(take, s, arg)
            vz = torch.from_numpy(np.ascontiguousarray(valid[z0:z1])).to(dev)
            arg = torch.where(vz, arg, torch.full_like(arg, -1))
            labels[z0:z1] = arg.to(torch.int32).cpu().numpy()
            if update:
                inside = arg >= 0
                idx = arg[inside]
                cnt.index_add_(0, idx, torch.ones_like(idx, dtype=f64))
                fsum.index_add_(0, idx, fraw[inside].to(f64))
                where = inside.nonzero()  # (n, 3) voxel indices of the slab, raster order
                where[:, 0] += z0
                psum.index_add_(0, idx, where.to(f64))
        if update:
            used = cnt > 0
            m = cnt.clamp_min(1)[:, None]
            sf = torch.where(used[:, None], fsum / m, sf.to(f64)).to(dt)
            spos = torch.where(used[:, None], psum / m, spos.to(f64)).to(dt)
    return labels


def components_3d(labels: np.ndarray) -> tuple[np.ndarray, int]:
    """6-connected pieces of equal label of a ``(Z, Y, X)`` int map (negative: outside,
    piece -1), numbered 0.. in raster order of their first voxel, and their count."""
    comp = np.array(labels, dtype=np.int32, order="C", copy=True)
    return comp, int(_components3(comp))


def enforce_connectivity_3d(labels: np.ndarray, features, min_size: int) -> np.ndarray:
    """Every label one 6-connected region, pieces below ``min_size`` voxels merged into the
    most similar adjacent piece; labels 0..k-1 in raster order (outside: -1). ``features``
    the ``(Z, Y, X, C)`` features, whole or as made slab by slab (:class:`_Features`)."""
    comp, k = components_3d(labels)
    _connect(comp, k, features, min_size)
    return comp


def _connect(comp, k, features, min_size, max_segments=None):
    if (min_size > 1 or (max_segments is not None and k > max_segments)) and k > 1:
        src = features if isinstance(features, _Features) else _Features.stored(features)
        _merge_small3(comp, k, src, int(min_size), max_segments)


def _as_volume(volume, channel_axis) -> np.ndarray:
    if channel_axis is None:
        if volume.ndim != 3:
            raise ValueError(f"a gray volume is ZxYxX (channel_axis=None), got shape {volume.shape}")
        return volume[..., None]
    if volume.ndim != 4:
        raise ValueError(f"a volume with channels is 4-D (ZxYxXxC with channel_axis), got shape {volume.shape}")
    if isinstance(channel_axis, bool) or not isinstance(channel_axis, numbers.Integral) or not -4 <= channel_axis <= 3:
        raise bad_argument(channel_axis, numbers.Integral,
                           f"channel_axis must be None or an axis of the volume (-4..3), got {channel_axis!r}")
    return np.moveaxis(volume, channel_axis, -1)


def segment_volume(volume: np.ndarray, n_segments: int = 100, *, compactness: float | None = None,
                   max_num_iter: int | None = None, spacing=None, channel_axis: int | None = None,
                   mask=None, enforce_connectivity: bool = True, min_size_factor: float | None = None,
                   max_size_factor: float | None = None,
                   start_label: int = 1, edge_scale: float | None = None, model=None,
                   device=None, progress: bool = False) -> np.ndarray:
    """Supervoxels of a ``(Z, Y, X)`` gray volume (``channel_axis=None``) or a volume with
    channels on ``channel_axis``: int32 labels from ``start_label`` (outside ``mask``:
    ``start_label - 1``). See the module's docstring for the clustering; ``compactness``
    weighs the spatial distance in grid steps against the standardised features (default
    40, chosen on synthetic volumes under a shape bound: ``docs/volumes.md``),
    ``spacing`` is the voxel size (z, y, x). ``device`` (a torch device, e.g. ``"cuda"``)
    runs the seed rounds there (:func:`_rounds_torch`); ``None``: the CPU kernels.
    ``progress``: the passes over the volume (the features' statistics, the edge weights,
    the seed rounds, the connectivity) as a bar on stderr for a volume of at least
    :data:`SLAB_VOXELS` voxels (``True``), or as calls ``progress(done, total)`` after each
    pass (a callable, any volume)."""
    if not isinstance(volume, np.ndarray):
        raise ArgumentTypeError(f"volume must be a numpy array, got {type(volume).__name__}")
    if volume.dtype.kind not in "biuf":
        raise ArgumentTypeError(f"unsupported volume dtype {volume.dtype}; allowed: bool, integer or floating point")
    if isinstance(n_segments, bool) or not isinstance(n_segments, numbers.Integral):
        raise ArgumentTypeError(f"n_segments must be an integer, got {n_segments!r}")
    if n_segments < 1:
        raise ValueError(f"n_segments must be >= 1, got {n_segments}")
    if isinstance(start_label, (bool, np.bool_)) or start_label not in (0, 1):
        raise bad_argument(start_label, numbers.Integral, f"start_label must be 0 or 1, got {start_label!r}")
    for name, value, integral, positive in (("compactness", compactness, False, False),
                                            ("max_num_iter", max_num_iter, True, False),
                                            ("min_size_factor", min_size_factor, False, False),
                                            ("max_size_factor", max_size_factor, False, True)):
        kind = numbers.Integral if integral else numbers.Real  # as the 2-D options are read: no "40", no True
        if value is not None and (isinstance(value, (bool, np.bool_)) or not isinstance(value, kind)
                                  or not math.isfinite(value) or value < 0 or (positive and value == 0)):
            raise bad_argument(value, kind,
                               f"{name} must be a finite {'integer' if integral else 'number'} "
                               f"{'> 0' if positive else '>= 0'}{' or None' if name != 'compactness' else ''}, "
                               f"got {value!r}")
    vol = _as_volume(volume, channel_axis)
    if min(vol.shape) < 1:
        raise ValueError(f"volume is empty: shape {volume.shape}")
    spacing3 = read_spacing(spacing, 3)
    from .prepare import _check_finite, _check_mask

    m = None if mask is None else _check_mask(mask, vol.shape[:3])
    planes = max(1, SLAB_VOXELS // max(1, vol.shape[1] * vol.shape[2]))
    for z0 in range(0, vol.shape[0], planes):  # slab by slab: a masked check indexes (and copies) what it reads
        _check_finite(vol[z0:z0 + planes], None if m is None else m[z0:z0 + planes], "volume", channel_axis,
                      volume.ndim == 4)
    compactness = DEFAULTS["compactness"] if compactness is None else float(compactness)
    iters = DEFAULTS["max_num_iter"] if max_num_iter is None else int(max_num_iter)
    msf = DEFAULTS["min_size_factor"] if min_size_factor is None else float(min_size_factor)
    edge_scale = DEFAULTS["edge_scale"] if edge_scale is None else float(edge_scale)
    if not (math.isfinite(compactness) and compactness >= 0):
        raise ValueError(f"compactness must be a finite number >= 0, got {compactness}")
    if iters < 0:
        raise ValueError(f"max_num_iter must be >= 0, got {iters}")

    extra = None
    if model is not None:  # learned 3-D features (lnsnet.volume_model) join the input's, standardised
        from .volume_model import load_volume_model

        net = load_volume_model(model) if not hasattr(model, "embed") else model
        if net.config.in_channels != vol.shape[3]:
            raise ValueError(f"the 3-D model takes {net.config.in_channels} channel(s), the volume has {vol.shape[3]}")
        extra = _model_features(net, vol, m, spacing3)
    from .runtime import progress_bar

    bar = progress_bar(progress, iters + 4, "lnsnet {}x{}x{}".format(*vol.shape[:3]), "pass",
                       show=math.prod(vol.shape[:3]) >= SLAB_VOXELS)
    src = _Features(vol, m, extra)
    bar.update()
    # without a mask every voxel is valid: the kernels skip the check (no array)
    valid = np.ones((1, 1, 1), dtype=np.bool_) if m is None else m
    n_vox = int(m.sum()) if m is not None else math.prod(vol.shape[:3])
    if m is None:
        cells, step = volume_grid(vol.shape[:3], min(n_segments, n_vox), spacing3)
    else:  # about K seeds inside the mask: the grid whose cells holding masked voxels number closest to K
        cells, step = _mask_volume_grid(m, min(n_segments, n_vox), spacing3)
    n_seeds = cells[0] * cells[1] * cells[2]
    seed_f = np.zeros((n_seeds, src.nch), dtype=np.float64)
    seed_p = np.full((n_seeds, 3), -1.0, dtype=np.float64)
    cells_a = np.array(cells, dtype=np.int64)
    labels = np.empty(vol.shape[:3], dtype=np.int32)
    n_active = _cell_seeds(src, labels, cells_a, valid, m is not None, seed_f, seed_p)
    wmap = edge_weights_3d(src, edge_scale, m)
    bar.update()
    spatial = (compactness / step) ** 2
    feat_w = 1.0 / src.nch
    sp = np.array(spacing3, dtype=np.float64)
    if device is None:
        for it in range(iters + 1):
            sums = np.zeros(seed_f.shape, dtype=np.float64)
            pos = np.zeros((n_seeds, 3), dtype=np.float64)
            cnt = np.zeros(n_seeds, dtype=np.int64)
            for z0, z1 in src.bounds:  # each slab's features made once a round
                fs = src.slab(z0, z1)
                _assign3(fs, z0, wmap, valid, m is not None, cells_a, seed_f, seed_p, sp, spatial, feat_w, labels)
                if it < iters:
                    _accumulate3(fs, z0, labels, False, cells_a, valid, False, sums, pos, cnt)
            if it < iters:  # the seeds move once the whole volume is assigned
                _finish3(sums, pos, cnt, seed_f, seed_p)
            bar.update()
    else:
        labels = _rounds_torch(src, wmap, m if m is not None else np.ones(vol.shape[:3], bool),
                               cells, seed_f, seed_p, spacing3, spatial, feat_w, iters, device)
        bar.update(iters + 1)
    del wmap
    if enforce_connectivity:
        k = _components3(labels)
        min_size = int(msf * n_vox / max(1, n_segments))
        # at most 1.1 times the seeds, as in 2-D (a cluster across a strong edge is two large
        # pieces: a CT's body and air gave 1.4-1.6 K at K = 25-200)
        from .cluster.options import ClusterOptions

        cap = ClusterOptions().max_segments(n_active)  # 2-D's cap, on the seeds with voxels (inside a mask)
        _connect(labels, k, src, min_size, cap)
        if max_size_factor is not None:  # slic's cap, as in 2-D: larger ones cut in raster order, then connected
            from .connectivity import split_large

            labels[...] = split_large(labels, max(1, int(max_size_factor * n_vox / n_seeds)))
            _connect(labels, _components3(labels), src, min_size)
    else:
        _relabel_seeds(labels, n_seeds)
    bar.update()
    bar.close()
    out = labels if labels.dtype == np.int32 else labels.astype(np.int32)
    out += np.int32(start_label)
    if m is not None:
        out[~m] = start_label - 1
    return out
