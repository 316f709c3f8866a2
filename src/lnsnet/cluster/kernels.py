"""Compiled CPU kernels (numba) of the clustering.

===================  ==================================================  ==============================
kernel               computes                                            tested against
===================  ==================================================  ==============================
``local_assign``     argmin distance over the ``window x window`` cell   ``cluster.layer.local_labels``
                     neighbourhood (ties: first candidate)
``seed_sums``        per-seed feature / position sums, counts            numpy means (tests)
``potts_sweep``      one checkerboard ICM half-sweep of the              pixel-by-pixel python
                     contrast-sensitive Potts energy                     (``tests/test_refine.py``)
``contrast_weights`` the Potts term's weight of every 4-neighbour pair   numpy (tests)
``feature_stats``    the features' sums and squared neighbour steps      numpy (tests)
``edge_strength``    largest squared colour step to a 4-neighbour        numpy (tests)
``pair_steps``       sum of squared colour steps over 4-neighbour pairs  numpy (tests)
``interleave``       features (and extra channels) to the padded,        numpy (tests)
                     channels-last layout of ``local_assign``
``median``           ``np.median`` of non-negative float32 values, by a  ``np.median`` (tests)
                     histogram of their top 16 bits
===================  ==================================================  ==============================

Kernels are compiled on first use and cached on disk (``cache=True``), so only the first
call on a machine pays the compile time.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from ..runtime import parallel_kernel

__all__ = ["local_assign", "padded_channels", "interleave", "seed_tables", "seed_sums", "potts_sweep",
           "contrast_weights", "feature_stats", "edge_strength", "pair_steps", "median"]

_jit = dict(cache=True, nogil=True)
# The distance kernels may reassociate float sums (so that LLVM vectorises the sum over
# channels); no-NaN/no-inf flags are not given: seeds beyond the grid are inf.
_fast = dict(_jit, fastmath={"reassoc", "contract", "nsz"})
_GROUP = 9  # candidates whose distances accumulate together (a 3 x 3 window is one group)
_LANES = 16  # feature channels are padded with zeros to a multiple of this (see padded_channels)


def padded_channels(c: int) -> int:
    """The number of channels :func:`local_assign` runs fastest with for ``c`` features:
    ``c`` rounded up to a multiple of 16 above 8 (zero channels add nothing to a distance,
    and whole vectors leave the sum over channels without a scalar remainder: 20 or 23
    channels take about 1.4x the time of 32 on one thread), else ``c``."""
    return c if c <= 8 else -(-c // _LANES) * _LANES


@parallel_kernel(**_fast)
def _local_assign(zt, table, pr, pc, cols, ptable, wmap, spatial, y0, win, out, best_out, dist_out, keep_all, sy, sx):
    # channels last (a pixel's C features contiguous); the candidate seeds of a run of
    # pixels in one cell are copied once into a small contiguous block (padded with
    # zeros to whole groups), and the distances of a group of 9 candidates accumulate
    # in 9 registers over one pass through the pixel's channels
    h, w, c_n = zt.shape
    n_cand = win * win
    n_grp = (n_cand + _GROUP - 1) // _GROUP
    half = win // 2
    for y in nb.prange(h):
        r = pr[y]
        cand = np.zeros((n_grp * _GROUP, c_n), dtype=np.float32)
        cyy = np.zeros(n_grp * _GROUP, dtype=np.float32)
        cx = np.zeros(n_grp * _GROUP, dtype=np.float32)
        d = np.empty(n_grp * _GROUP, dtype=np.float32)
        fy = np.float32(y0 + y)
        offs = np.empty(n_cand, dtype=np.int64)  # a candidate's seed index from its cell's
        for m in range(n_cand):
            offs[m] = (m // win - half) * cols + m % win - half
        cur = -1
        base = 0
        for x in range(w):
            if pc[x] != cur:
                cur = pc[x]
                base = r * cols + cur
                for m in range(n_cand):
                    tr = r + m // win
                    tc = cur + m % win
                    for c in range(c_n):
                        cand[m, c] = table[tr, tc, c]
                    dy = (ptable[0, tr, tc] - fy) * sy
                    cyy[m] = dy * dy
                    cx[m] = ptable[1, tr, tc] * sx
            for g in range(n_grp):
                o = g * _GROUP
                d0 = d1 = d2 = d3 = d4 = d5 = d6 = d7 = d8 = np.float32(0.0)
                for c in range(c_n):
                    zc = zt[y, x, c]
                    t = cand[o, c] - zc
                    d0 += t * t
                    t = cand[o + 1, c] - zc
                    d1 += t * t
                    t = cand[o + 2, c] - zc
                    d2 += t * t
                    t = cand[o + 3, c] - zc
                    d3 += t * t
                    t = cand[o + 4, c] - zc
                    d4 += t * t
                    t = cand[o + 5, c] - zc
                    d5 += t * t
                    t = cand[o + 6, c] - zc
                    d6 += t * t
                    t = cand[o + 7, c] - zc
                    d7 += t * t
                    t = cand[o + 8, c] - zc
                    d8 += t * t
                if spatial:
                    wv = wmap[y, x]
                    fx = np.float32(x) * sx
                    t = cx[o] - fx
                    d0 += wv * (cyy[o] + t * t)
                    t = cx[o + 1] - fx
                    d1 += wv * (cyy[o + 1] + t * t)
                    t = cx[o + 2] - fx
                    d2 += wv * (cyy[o + 2] + t * t)
                    t = cx[o + 3] - fx
                    d3 += wv * (cyy[o + 3] + t * t)
                    t = cx[o + 4] - fx
                    d4 += wv * (cyy[o + 4] + t * t)
                    t = cx[o + 5] - fx
                    d5 += wv * (cyy[o + 5] + t * t)
                    t = cx[o + 6] - fx
                    d6 += wv * (cyy[o + 6] + t * t)
                    t = cx[o + 7] - fx
                    d7 += wv * (cyy[o + 7] + t * t)
                    t = cx[o + 8] - fx
                    d8 += wv * (cyy[o + 8] + t * t)
                d[o] = d0
                d[o + 1] = d1
                d[o + 2] = d2
                d[o + 3] = d3
                d[o + 4] = d4
                d[o + 5] = d5
                d[o + 6] = d6
                d[o + 7] = d7
                d[o + 8] = d8
            best = d[0]
            arg = 0
            for m in range(1, n_cand):
                if d[m] < best:
                    best = d[m]
                    arg = m
            out[y, x] = base + offs[arg]
            best_out[y, x] = best
            if keep_all:
                for m in range(n_cand):
                    dist_out[y, x, m] = d[m]


def seed_tables(seed_feats, rows, cols, window, seed_pos=None):
    """The seed features ``(C, rows + 2p, cols + 2p)`` (padding: inf, never chosen) and
    positions ``(2, rows + 2p, cols + 2p)`` (zeros without ``seed_pos``) laid out on the
    cell grid, ``p = window // 2``: seed ``s`` sits at ``(s // cols + p, s % cols + p)``."""
    if window < 1 or window % 2 == 0:
        raise ValueError(f"window must be a positive odd number, got {window}")
    seed_feats = np.asarray(seed_feats, dtype=np.float32)
    c = seed_feats.shape[1]
    p = window // 2
    table = np.full((c, rows + 2 * p, cols + 2 * p), np.inf, dtype=np.float32)
    table[:, p : p + rows, p : p + cols] = seed_feats.T.reshape(c, rows, cols)
    ptable = np.zeros((2, rows + 2 * p, cols + 2 * p), dtype=np.float32)
    if seed_pos is not None:
        ptable[:, p : p + rows, p : p + cols] = np.asarray(seed_pos, dtype=np.float32).T.reshape(2, rows, cols)
    return table, ptable


def _weight_rows(weight, weight_map, h, w):
    if weight_map is None:
        return np.full((h, w), weight, dtype=np.float32)
    return np.ascontiguousarray(weight * np.asarray(weight_map, dtype=np.float32), dtype=np.float32)


def local_assign(z, seed_feats, rows, cols, pr, pc, seed_pos=None, weight=0.0, y0=0, window=3,
                 weight_map=None, return_best=False, channels_last=False, return_dists=False, spacing=(1.0, 1.0)):
    """Seed index of every pixel among the seeds of its ``window x window`` neighbouring
    cells (odd ``window``; 3 by default).

    ``z`` ``(C, H, W)`` float32, ``seed_feats`` ``(K, C)`` with ``K = rows * cols`` in
    row-major cell order, ``pr`` ``(H,)`` / ``pc`` ``(W,)`` the cell row / column of each
    pixel row / column; with ``weight > 0``, ``weight * |p - seed_pos|^2`` (pixels) is
    added, times ``weight_map[y, x]`` where a per-pixel map ``(H, W)`` is given. ``z`` may
    be a band of rows starting at image row ``y0`` (``pr`` and ``weight_map`` then hold
    those rows). Returns ``(H, W)`` int32, and with ``return_best`` also the distance to
    the chosen seed ``(H, W)`` float32. ``channels_last``: ``z`` is ``(H, W, C)``, the
    kernel's layout (``(C, H, W)`` is transposed here); ``z`` may have more channels
    than ``seed_feats``, the extra ones zeros (:func:`padded_channels`). ``return_dists``:
    also the distances to every candidate
    ``(H, W, window**2)`` float32, candidate ``m`` being the seed ``m // window - p`` cell
    rows and ``m % window - p`` cell columns from the pixel's own cell (``p = window // 2``;
    inf beyond the grid), for :func:`potts_sweep`. ``spacing`` ``(row, column)``: the
    physical size of a pixel, by which the spatial offsets are multiplied (anisotropic
    pixels). Returns ``labels``, or the tuple ``(labels, best, dists)`` of those asked for.
    """
    z = np.asarray(z, dtype=np.float32)
    z = np.ascontiguousarray(z if channels_last else z.transpose(1, 2, 0))
    h, w = z.shape[:2]
    spatial = weight > 0 and seed_pos is not None
    seed_feats = np.asarray(seed_feats, dtype=np.float32)
    if seed_feats.ndim != 2 or seed_feats.shape[1] > z.shape[2]:
        raise ValueError(f"seed features {seed_feats.shape} have more channels than the pixels' {z.shape[2]}")
    if seed_feats.shape[1] < z.shape[2]:  # the pixels carry zero channels of padding: so do the seeds
        seed_feats = np.pad(seed_feats, ((0, 0), (0, z.shape[2] - seed_feats.shape[1])))
    tables = seed_tables(seed_feats, rows, cols, window, seed_pos if spatial else None)
    wmap = _weight_rows(weight, weight_map, h, w) if spatial else np.zeros((1, 1), dtype=np.float32)
    out = np.empty((h, w), dtype=np.int32)
    best = np.empty((h, w), dtype=np.float32)
    dists = np.empty((h, w, window * window) if return_dists else (1, 1, 1), dtype=np.float32)
    _local_assign(z, np.ascontiguousarray(tables[0].transpose(1, 2, 0)), np.asarray(pr, np.int64),
                  np.asarray(pc, np.int64), int(cols), tables[1], wmap, bool(spatial), int(y0), int(window), out, best,
                  dists, bool(return_dists), np.float32(spacing[0]), np.float32(spacing[1]))
    ret = (out,) + ((best,) if return_best else ()) + ((dists,) if return_dists else ())
    return ret if len(ret) > 1 else out


@parallel_kernel(**_jit)
def _interleave(z, extra, e_n, out):
    c_n, h, w = z.shape
    p = out.shape[2]
    pixel_major = z.strides[0] < z.strides[2]  # channels-last memory (the CPU network's output)
    for y in nb.prange(h):
        if pixel_major:
            for x in range(w):
                for c in range(c_n):
                    out[y, x, c] = z[c, y, x]
        else:
            for c in range(c_n):
                for x in range(w):
                    out[y, x, c] = z[c, y, x]
        for e in range(e_n):
            for x in range(w):
                out[y, x, c_n + e] = extra[e, y, x]
        for x in range(w):
            for c in range(c_n + e_n, p):
                out[y, x, c] = 0.0


def interleave(z, extra, out):
    """Write ``z`` ``(C, h, W)`` and ``extra`` ``(E, h, W)`` (or None) channels last into
    ``out`` ``(h, W, P)``, ``P >= C + E``, the channels beyond them zeros (row-parallel,
    no temporaries; any strides). Returns ``out``."""
    e_n = 0 if extra is None else extra.shape[0]
    if extra is None:
        extra = np.empty((0, 1, 1), np.float32)
    c_n, h, w = z.shape
    if out.shape[:2] != (h, w) or out.shape[2] < c_n + e_n or (e_n and extra.shape[1:] != (h, w)):
        raise ValueError(f"features {z.shape} and extra {extra.shape} do not fit out {out.shape}")
    _interleave(z, extra, e_n, out)
    return out


# --------------------------------------------------------------------------- refinement
@parallel_kernel(**_jit)
def _seed_sums(zt, lab, y0, fsum, psum, cnt, n_chunks):
    # rows in n_chunks chunks summed in parallel, each into its own partial sums
    h, w, c_n = zt.shape
    k_n = cnt.shape[0]
    pf = np.zeros((n_chunks, k_n, c_n))
    pp = np.zeros((n_chunks, k_n, 2))
    pn = np.zeros((n_chunks, k_n))
    step = (h + n_chunks - 1) // n_chunks
    for k in nb.prange(n_chunks):
        for y in range(k * step, min(h, (k + 1) * step)):
            for x in range(w):
                s = lab[y, x]
                if s < 0:  # not clustered (outside a mask)
                    continue
                pn[k, s] += 1.0
                pp[k, s, 0] += y0 + y
                pp[k, s, 1] += x
                for c in range(c_n):
                    pf[k, s, c] += zt[y, x, c]
    for k in range(n_chunks):
        for s in range(k_n):
            cnt[s] += pn[k, s]
            psum[s, 0] += pp[k, s, 0]
            psum[s, 1] += pp[k, s, 1]
            for c in range(c_n):
                fsum[s, c] += pf[k, s, c]


def seed_sums(z, labels, n_seeds, y0=0, sums=None, channels_last=False):
    """Per-seed sums of the features ``z`` ``(C, h, W)`` (a band from image row ``y0``),
    of the pixel positions (row, column) and pixel counts over ``labels`` ``(h, W)`` (pixels
    labelled -1 are left out);
    ``sums`` (a previous return value) is added to in place for band-by-band use.
    ``channels_last``: ``z`` is ``(h, W, C)``. Float features are read as float32; 8- and
    16-bit values as they are (an image, :func:`lnsnet.connectivity.reassign_slivers`)."""
    zt = np.asarray(z)
    zt = zt if zt.dtype in (np.uint8, np.uint16) else zt.astype(np.float32, copy=False)
    zt = np.ascontiguousarray(zt if channels_last else zt.transpose(1, 2, 0))
    if sums is None:
        sums = (np.zeros((n_seeds, zt.shape[2])), np.zeros((n_seeds, 2)), np.zeros(n_seeds))
    labels = np.ascontiguousarray(labels, dtype=np.int32)
    if labels.shape != zt.shape[:2]:
        raise ValueError(f"labels {labels.shape} do not match the features' {zt.shape[:2]}")
    # up to 8 chunks of rows, fewer where the partial sums would outweigh the rows (large K,
    # small bands); the count depends on the shapes only, so the sums do not depend on the
    # number of threads
    n_chunks = int(max(1, min(8, labels.size // (8 * max(int(n_seeds), 1)))))
    _seed_sums(zt, labels, int(y0), *sums, n_chunks)
    return sums


@parallel_kernel(**_jit)
def _potts_sweep(dists, lab, wright, wdown, pr, pc, cols, win, y0, lam, colour, dirty, tracked):
    # with ``tracked``, only pixels whose flag in ``dirty`` is set are looked at; a pixel that
    # changes sets its 4 neighbours' flags (of the other colour: no two threads write a
    # flag the sweep reads). A pixel whose neighbours kept their labels since it was last
    # looked at would keep its own: the same labels as looking at every pixel
    h, w = dists.shape[0], dists.shape[1]
    H, W = lab.shape
    half = win // 2
    for yb in nb.prange(h):
        y = y0 + yb
        r = pr[yb]
        nl = np.empty(4, dtype=np.int32)
        nw = np.empty(4, dtype=np.float32)
        for x in range((colour + y) % 2, w, 2):
            if tracked:
                if dirty[y, x] == 0:
                    continue
                dirty[y, x] = 0
            own = lab[y, x]
            if own < 0:  # not clustered (outside a mask)
                continue
            if ((y == 0 or lab[y - 1, x] == own) and (y + 1 == H or lab[y + 1, x] == own)
                    and (x == 0 or lab[y, x - 1] == own) and (x + 1 == W or lab[y, x + 1] == own)):
                continue  # inside a region: its own label is the only candidate
            n_nb = 0
            if y > 0:
                nl[n_nb] = lab[y - 1, x]
                nw[n_nb] = wdown[y - 1, x]
                n_nb += 1
            if y + 1 < H:
                nl[n_nb] = lab[y + 1, x]
                nw[n_nb] = wdown[y, x]
                n_nb += 1
            if x > 0:
                nl[n_nb] = lab[y, x - 1]
                nw[n_nb] = wright[y, x - 1]
                n_nb += 1
            if x + 1 < W:
                nl[n_nb] = lab[y, x + 1]
                nw[n_nb] = wright[y, x]
                n_nb += 1
            best_e = np.inf
            best_s = own
            for k in range(-1, n_nb):
                s = own if k < 0 else nl[k]
                if k >= 0:
                    if s == own or s < 0:
                        continue
                    seen = False
                    for j in range(k):
                        if nl[j] == s:
                            seen = True
                    if seen:
                        continue
                dr = s // cols - r + half
                dc = s % cols - pc[x] + half
                if dr < 0 or dr >= win or dc < 0 or dc >= win:
                    continue
                e = dists[yb, x, dr * win + dc]
                for j in range(n_nb):
                    if nl[j] != s:
                        e += lam * nw[j]
                if e < best_e:
                    best_e = e
                    best_s = s
            if best_s != own:
                lab[y, x] = best_s
                if tracked:
                    if y > 0:
                        dirty[y - 1, x] = 1
                    if y + 1 < H:
                        dirty[y + 1, x] = 1
                    if x > 0:
                        dirty[y, x - 1] = 1
                    if x + 1 < W:
                        dirty[y, x + 1] = 1


@parallel_kernel(**_fast)
def _contrast_weights(image, zt, a2, prev, has_prev, y0, beta, right, down):
    # image (c, H, W) whole; zt (h, W, F) its rows y0 .. y0 + h; right / down (H, W) whole;
    # a2 (F,) (zeros for padding channels: whole vectors, the sums over f reassociated)
    c_n, _, w = image.shape
    h = zt.shape[0]
    f_n = a2.shape[0]
    for i in nb.prange(h):
        y = y0 + i
        for x in range(w):
            if x + 1 < w:
                s = np.float32(0.0)
                for c in range(c_n):
                    t = image[c, y, x + 1] - image[c, y, x]
                    s += t * t
                for f in range(f_n):
                    t = zt[i, x + 1, f] - zt[i, x, f]
                    s += a2[f] * t * t
                right[y, x] = np.exp(-beta * s)
            if i + 1 < h:
                s = np.float32(0.0)
                for c in range(c_n):
                    t = image[c, y + 1, x] - image[c, y, x]
                    s += t * t
                for f in range(f_n):
                    t = zt[i + 1, x, f] - zt[i, x, f]
                    s += a2[f] * t * t
                down[y, x] = np.exp(-beta * s)
    if has_prev and h > 0:  # the pairs between the band's first row and the row above it
        for x in nb.prange(w):
            s = np.float32(0.0)
            for c in range(c_n):
                t = image[c, y0, x] - image[c, y0 - 1, x]
                s += t * t
            for f in range(f_n):
                t = zt[0, x, f] - prev[x, f]
                s += a2[f] * t * t
            down[y0 - 1, x] = np.exp(-beta * s)


def contrast_weights(image, beta, zt=None, a2=None, *, y0=0, prev=None, out=None):
    """``exp(-beta d(p, q))`` of every 4-neighbour pair of ``image`` ``(channels, H, W)``,
    ``d = |I_p - I_q|^2 + sum_f a2[f] (Z_f,p - Z_f,q)^2``: ``right`` ``(H, W)`` for
    ``(y, x)``-``(y, x + 1)`` and ``down`` ``(H, W)`` for ``(y, x)``-``(y + 1, x)`` (the
    last column / row unused: 0), float32. One pass, no image-sized temporaries.

    Without ``zt`` the distance is the image's alone. ``zt`` ``(h, W, F)`` are extra
    features of the image rows ``y0 .. y0 + h`` (channels last), weighted by ``a2``
    ``(F,)`` (``zt`` may have more than ``F`` channels: the first ``F`` are read); then
    only the pairs of those rows are written, into ``out = (right, down)``
    (allocated when None), plus the pairs with the row above when ``prev`` ``(W, F)``
    (the features of row ``y0 - 1``) is given, so a band-by-band call fills every pair."""
    image = np.ascontiguousarray(image, dtype=np.float32)
    c_n, h, w = image.shape
    if zt is None:
        if a2 is not None or y0 or prev is not None or out is not None:
            raise ValueError("a2, y0, prev and out go with extra features zt")
        zt, a2 = np.empty((h, w, 0), np.float32), np.empty(0, np.float32)
    zt = np.ascontiguousarray(zt, dtype=np.float32)
    a2 = np.ascontiguousarray(a2, dtype=np.float32)
    if zt.ndim != 3 or zt.shape[1] != w or not 0 <= y0 <= h - zt.shape[0] or a2.ndim != 1 or a2.size > zt.shape[2]:
        raise ValueError(f"features {zt.shape} from row {y0} and weights {a2.shape} do not fit an image of "
                         f"{h}x{w}")
    has_prev = prev is not None
    if has_prev:
        if y0 < 1:
            raise ValueError("prev (the row above) needs y0 >= 1")
        prev = np.ascontiguousarray(prev, dtype=np.float32)
        if prev.shape[0] != w or prev.ndim != 2 or prev.shape[1] < a2.size:
            raise ValueError(f"prev {prev.shape} does not match the features' rows {zt.shape[1:]}")
    else:
        prev = np.empty((w, a2.size), np.float32)
    if out is None:
        out = (np.zeros((h, w), dtype=np.float32), np.zeros((h, w), dtype=np.float32))
    right, down = out
    if right.shape != (h, w) or down.shape != (h, w) or right.dtype != np.float32 or down.dtype != np.float32:
        raise ValueError(f"out must be two float32 arrays of {(h, w)}")
    if a2.size < zt.shape[2]:  # the channels beyond a2's weigh 0 (padding)
        a2 = np.pad(a2, (0, zt.shape[2] - a2.size))
        if prev.shape[1] < zt.shape[2]:
            prev = np.pad(prev, ((0, 0), (0, zt.shape[2] - prev.shape[1])))
    _contrast_weights(image, zt, a2, prev, has_prev, int(y0), np.float32(beta), right, down)
    return right, down


@parallel_kernel(**_jit)
def _feature_stats(zt, prev, has_prev, s1, s2, dsq):
    # per-row partial sums in parallel, then added row by row in image order: the sums of
    # an image taken in bands equal those taken in one piece bit for bit (each vertical
    # pair belongs to its lower row, the pair across a band border to the band's first)
    h, w = zt.shape[:2]
    c_n = s1.shape[0]  # zt may carry more channels (padding): those are not read
    r1 = np.zeros((h, c_n))
    r2 = np.zeros((h, c_n))
    rd = np.zeros((h, c_n))
    for y in nb.prange(h):
        for x in range(w):
            for c in range(c_n):
                v = np.float64(zt[y, x, c])
                r1[y, c] += v
                r2[y, c] += v * v
                if x + 1 < w:
                    t = np.float64(zt[y, x + 1, c]) - v
                    rd[y, c] += t * t
                if y > 0:
                    t = v - np.float64(zt[y - 1, x, c])
                    rd[y, c] += t * t
                elif has_prev:
                    t = v - np.float64(prev[x, c])
                    rd[y, c] += t * t
    for y in range(h):
        for c in range(c_n):
            s1[c] += r1[y, c]
            s2[c] += r2[y, c]
            dsq[c] += rd[y, c]


def feature_stats(zt, prev=None, sums=None, channels=None):
    """Per channel of ``zt`` ``(h, W, F)`` (features, channels last): the sum, the sum of
    squares, and the sum over 4-neighbour pairs of the squared difference, float64
    ``(F,)`` each; ``sums`` (a previous return value) is added to in place and ``prev``
    ``(W, F)``, the row above ``zt``'s first, adds the pairs across, for band-by-band use.
    ``channels``: only the first so many channels of ``zt`` (and ``prev``) are features
    (the rest padding); all by default, or as many as ``sums`` has."""
    zt = np.ascontiguousarray(zt, dtype=np.float32)
    if zt.ndim != 3:
        raise ValueError(f"features must be (h, W, F), got {zt.shape}")
    if channels is None:
        channels = zt.shape[2] if sums is None else len(sums[0])
    if sums is None:
        sums = tuple(np.zeros(channels) for _ in range(3))
    if not 0 <= channels <= zt.shape[2] or any(len(t) != channels for t in sums):
        raise ValueError(f"{channels} channels do not fit features {zt.shape} and sums of {len(sums[0])}")
    has_prev = prev is not None
    prev = np.ascontiguousarray(prev if has_prev else np.zeros((zt.shape[1], channels)), dtype=np.float32)
    if prev.ndim != 2 or prev.shape[0] != zt.shape[1] or prev.shape[1] < channels:
        raise ValueError(f"prev {prev.shape} does not match the features' rows {zt.shape[1:]}")
    _feature_stats(zt, prev, has_prev, *sums)
    return sums


@parallel_kernel(**_jit)
def _pair_steps(image, rows):
    # per-row partial sums (the pairs to the right and down) in float64, added in row order
    c_n, h, w = image.shape
    for y in nb.prange(h):
        s = 0.0
        for c in range(c_n):
            for x in range(w - 1):
                t = np.float64(image[c, y, x + 1]) - np.float64(image[c, y, x])
                s += t * t
            if y + 1 < h:
                for x in range(w):
                    t = np.float64(image[c, y + 1, x]) - np.float64(image[c, y, x])
                    s += t * t
        rows[y] = s
    total = 0.0
    for y in range(h):
        total += rows[y]
    return total


def pair_steps(image) -> tuple[float, int]:
    """The sum over the 4-neighbour pairs of ``image`` ``(channels, H, W)`` (float32) of
    ``|I_p - I_q|^2``, summed in float64, and the number of pairs."""
    image = np.ascontiguousarray(image, dtype=np.float32)
    _, h, w = image.shape
    return float(_pair_steps(image, np.empty(h))), (h - 1) * w + h * (w - 1)


@parallel_kernel(**_jit)
def _edge_strength(image, g):
    # per row: the squared steps to the right, to the row above and to the row below, each
    # summed over the channels in channel order (as a pixel-by-pixel loop would), then the
    # largest of a pixel's four; loops over x so that they vectorise
    c_n, h, w = image.shape
    for y in nb.prange(h):
        right = np.zeros(w, dtype=np.float32)
        up = np.zeros(w, dtype=np.float32)
        down = np.zeros(w, dtype=np.float32)
        for c in range(c_n):
            for x in range(w - 1):
                t = image[c, y, x + 1] - image[c, y, x]
                right[x] += t * t
            if y > 0:
                for x in range(w):
                    t = image[c, y - 1, x] - image[c, y, x]
                    up[x] += t * t
            if y + 1 < h:
                for x in range(w):
                    t = image[c, y + 1, x] - image[c, y, x]
                    down[x] += t * t
        for x in range(w):
            m = max(up[x], down[x])
            if x + 1 < w:
                m = max(m, right[x])
            if x > 0:
                m = max(m, right[x - 1])
            g[y, x] = m


def edge_strength(image):
    """``g`` ``(H, W)`` float32: each pixel's largest squared difference of ``image``
    ``(channels, H, W)`` to a 4-neighbour (one pass, no image-sized temporaries)."""
    image = np.ascontiguousarray(image, dtype=np.float32)
    g = np.empty(image.shape[1:], dtype=np.float32)
    _edge_strength(image, g)
    return g


def potts_sweep(dists, cols, labels, weights, pr, pc, *, lam, colour, y0=0, window=3, dirty=None):
    """One half-sweep of ICM on a contrast-sensitive Potts energy, in place on ``labels``.

    Every pixel of the given checkerboard ``colour`` (``(y + x) % 2``) in the band of rows
    ``y0 .. y0 + h`` takes, among its own label and its 4-neighbours' labels that are seeds
    of its ``window x window`` cells, the one with the least ``distance + lam * sum over
    4-neighbours q with another label of w_pq``. ``dists`` ``(h, W, window**2)`` are the
    band's distances to its candidate seeds, from ``local_assign(..., return_dists=True)``
    (so the data term is exactly the one the assignment minimised); ``cols`` is the grid's
    number of cell columns, ``w_pq`` comes from ``weights = contrast_weights(image, beta)``.
    Pixels of one colour only have neighbours of the other, so the update is order-free.
    ``labels`` ``(H, W)`` int32 covers the whole image; ``pr`` holds the band's cell rows,
    ``pc`` the cell column of every image column. Ties keep the current label. Pixels
    labelled -1 (outside a mask) are neither changed nor taken as a label. ``dirty``
    ``(H, W)`` uint8 (all ones before the first sweep, then kept between sweeps): only the
    pixels flagged are looked at, and a pixel that changes flags its neighbours; the same
    labels as without it (None: every pixel), in a fraction of the time once few change.
    """
    dists = np.ascontiguousarray(dists, dtype=np.float32)
    if dists.ndim != 3 or dists.shape[2] != window * window:
        raise ValueError(f"dists must be (h, W, window**2 = {window * window}), got {dists.shape}")
    h, w = dists.shape[:2]
    if w != labels.shape[1] or len(pr) != h or len(pc) != w or not 0 <= y0 <= labels.shape[0] - h:
        raise ValueError(f"dists {dists.shape[:2]} at row {y0} do not fit labels {labels.shape}, "
                         f"pr ({len(pr)},) and pc ({len(pc)},)")
    if dirty is not None and (dirty.shape != labels.shape or dirty.dtype != np.uint8):
        raise ValueError(f"dirty must be uint8 of the labels' shape {labels.shape}, got {dirty.dtype} {dirty.shape}")
    _potts_sweep(dists, labels, weights[0], weights[1], np.asarray(pr, np.int64), np.asarray(pc, np.int64),
                 int(cols), int(window), int(y0), np.float32(lam), int(colour),
                 np.ones((1, 1), np.uint8) if dirty is None else dirty, dirty is not None)
    return labels



# --------------------------------------------------------------------------- median
def median(values) -> float:
    """``float(np.median(values))`` of float32 values, the same number, in two passes: a
    histogram of the top 16 bits (non-negative floats order as their bits), then a sort of
    the one or two buckets that hold the middle (``np.median`` partitions a copy, about
    three times the time on 2 threads). Other dtypes, negative values and NaN:
    ``np.median`` itself."""
    a = np.asarray(values)
    if a.dtype != np.float32 or a.size == 0:
        return float(np.median(a))
    a = np.ascontiguousarray(a).reshape(-1)
    if not _all_nonneg(a):
        return float(np.median(a))
    bits = a.view(np.uint32)
    hist = _top16_histogram(bits, nb.get_num_threads())
    n = a.size
    if n % 2:
        return float(_ranked(a, bits, hist, np.array([n // 2], dtype=np.int64))[0])
    mid = _ranked(a, bits, hist, np.array([n // 2 - 1, n // 2], dtype=np.int64))
    return float(np.mean(mid))  # np.median's mean of the two middle values, in float32


@parallel_kernel(**_jit)
def _all_nonneg(a):
    bad = 0
    for i in nb.prange(a.shape[0]):
        if not a[i] >= 0:  # NaN too
            bad += 1
    return bad == 0


@parallel_kernel(**_jit)
def _top16_histogram(bits, nchunk):
    n = bits.shape[0]
    hs = np.zeros((nchunk, 65536), dtype=np.int64)
    for c in nb.prange(nchunk):
        for i in range(c * n // nchunk, (c + 1) * n // nchunk):
            hs[c, bits[i] >> 16] += 1
    return hs.sum(0)


@nb.njit(**_jit)
def _ranked(vals, bits, hist, ranks):
    # the values at the given ranks of the sorted values (ranks ascending)
    out = np.empty(ranks.shape[0], dtype=np.float32)
    for q in range(ranks.shape[0]):
        r = ranks[q]
        acc = 0
        b = 0
        while acc + hist[b] <= r:
            acc += hist[b]
            b += 1
        sel = np.empty(hist[b], dtype=np.float32)
        m = 0
        for i in range(bits.shape[0]):
            if (bits[i] >> 16) == b:
                sel[m] = vals[i]
                m += 1
        sel.sort()
        out[q] = sel[r - acc]
    return out
