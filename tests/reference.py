"""Plain numpy definitions (test oracles) of what the compiled kernels compute.

The package runs compiled kernels (numba); these vectorised numpy versions define what
they must return, and the tests check both agree: the input encoding
(``standardise(lab_position(rgb))`` against ``lnsnet.features.encode_image``), the
4-connected components and the connectivity enforcement (against
``lnsnet.connectivity``), and SSN's differentiable SLIC pixel by pixel (against
``lnsnet.eval.ssn.soft_slic``).
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

import torch

from lnsnet.connectivity import _orphans, _size_bounds, relabel_consecutive
from lnsnet.eval.ssn import _neighbours


def lab_position(rgb: np.ndarray) -> np.ndarray:
    """Stack CIELAB colour and isotropic pixel position.

    Parameters
    ----------
    rgb : ndarray, float32, ``(H, W, 3)`` in ``[0, 1]``

    Returns
    -------
    ndarray, float32, ``(5, H, W)``: L, a, b, row, col. Positions are in units of
    ``sqrt(H * W)`` so that one pixel step is the same length along rows and columns
    (the official release scales rows by H and columns by W, which stretches portrait and
    landscape images differently).
    """
    from skimage.color import rgb2lab

    h, w = rgb.shape[:2]
    lab = rgb2lab(rgb).astype(np.float32)
    scale = float(np.sqrt(h * w))
    rows = (np.arange(h, dtype=np.float32) / scale)[:, None].repeat(w, axis=1)
    cols = (np.arange(w, dtype=np.float32) / scale)[None, :].repeat(h, axis=0)
    return np.concatenate([lab.transpose(2, 0, 1), rows[None], cols[None]], axis=0)


def standardise(x: np.ndarray) -> np.ndarray:
    """Standardise the 5 channels of :func:`lab_position` per image.

    Colour channels get mean 0 and standard deviation 1 each (a flat channel becomes 0). The two position channels share one scale, the standard deviation
    of the pair, so the encoding stays isotropic.

    ``x`` : ``(5, H, W)`` -> ``(5, H, W)`` float32.
    """
    out = np.empty_like(x, dtype=np.float32)
    sds = [float(x[c].astype(np.float64).std()) for c in range(3)]
    for c in range(3):
        ch = x[c].astype(np.float64)
        mean = float(ch.mean())
        # LAB spans ~0..100: below 1e-3, or 1e-3 of the largest channel's spread, the
        # channel is flat up to rounding noise (a gray image's a and b)
        out[c] = (ch - mean) / sds[c] if sds[c] > max(1e-3, 1e-3 * max(sds)) else 0.0
    pos = x[3:5]
    pos = pos - pos.mean(axis=(1, 2), keepdims=True)
    sd = float(np.sqrt((pos**2).mean()))
    out[3:5] = pos / (sd if sd > 1e-12 else 1.0)
    return out


def _edges(labels: np.ndarray, same: bool):
    """Flat indices of 4-neighbour pixel pairs whose labels are equal (same) or differ."""
    h, w = labels.shape
    idx = np.arange(h * w).reshape(h, w)
    eq_h = labels[:, :-1] == labels[:, 1:]
    eq_v = labels[:-1, :] == labels[1:, :]
    if not same:
        eq_h, eq_v = ~eq_h, ~eq_v
    a = np.concatenate([idx[:, :-1][eq_h], idx[:-1, :][eq_v]])
    b = np.concatenate([idx[:, 1:][eq_h], idx[1:, :][eq_v]])
    return a, b


def components_reference(labels: np.ndarray) -> tuple[np.ndarray, int]:
    """4-connected components of equal labels.

    Each row is cut into runs of equal labels (connected by construction); runs are the
    nodes of a sparse graph whose edges join vertically adjacent pixels of equal label,
    and ``scipy.sparse.csgraph.connected_components`` labels that graph. O(H W).

    Returns ``(comp, k)``: ``(H, W)`` int32 component ids ``0..k-1``, numbered in raster
    order of each component's first pixel, and their number.
    """
    arr = np.asarray(labels)
    h, w = arr.shape
    starts = np.ones((h, w), dtype=bool)
    starts[:, 1:] = arr[:, 1:] != arr[:, :-1]
    run_id = (np.cumsum(starts.ravel(), dtype=np.int64) - 1).reshape(h, w)
    n_runs = int(run_id[-1, -1]) + 1
    eq_v = arr[:-1, :] == arr[1:, :]
    src = run_id[:-1, :][eq_v]
    dst = run_id[1:, :][eq_v]
    graph = coo_matrix((np.ones(src.size, dtype=np.int8), (src, dst)), shape=(n_runs, n_runs)).tocsr()
    k, comp = connected_components(graph, directed=True, connection="weak")
    return comp.astype(np.int32)[run_id], int(k)



def enforce_connectivity_reference(labels, features=None, min_size=None, n_segments=None, min_size_factor=0.25,
                                   orphan_factor=0.0, max_segments=None) -> np.ndarray:
    """What :func:`lnsnet.connectivity.enforce_connectivity` returns (same parameters),
    in numpy and plain Python: rounds in which every small piece picks its adjacent region
    of closest mean feature (ties: the smallest id) and the pieces join their picks
    smallest first, as far as they still need to. Without ``features``, the neighbour
    sharing the longest border is taken instead."""
    labels, mean_size, min_size = _size_bounds(labels, n_segments, min_size, min_size_factor)
    n = labels.size
    comp, k = components_reference(labels)
    orphan = np.zeros(k, dtype=bool)
    if orphan_factor > 0:
        orphan = _orphans(labels, comp, k, orphan_factor, mean_size)
    if features is not None:
        feats = np.asarray(features, dtype=np.float64).reshape(n, -1)
    for _ in range(64):
        sizes = np.bincount(comp.ravel(), minlength=k)
        threshold = min_size
        if max_segments is not None and k > max_segments:
            # at least the (k - max_segments) smallest pieces fall below the threshold
            threshold = max(threshold, int(np.sort(sizes)[k - int(max_segments) - 1]) + 1)
        small = sizes < threshold
        orphan_now = np.zeros(k, dtype=bool) if orphan is None else orphan
        small |= orphan_now
        orphan = None
        if k <= 1 or not small.any():
            break
        a, b = _edges(comp, same=False)
        ca, cb = comp.ravel()[a], comp.ravel()[b]
        src = np.concatenate([ca, cb])
        dst = np.concatenate([cb, ca])
        keep = small[src]
        src, dst = src[keep], dst[keep]
        if src.size == 0:
            break
        if features is not None:
            means = np.stack(
                [np.bincount(comp.ravel(), weights=feats[:, j], minlength=k) for j in range(feats.shape[1])],
                axis=1,
            ) / np.maximum(sizes, 1)[:, None]
            cost = ((means[src] - means[dst]) ** 2).sum(1)
        else:
            # longest shared border: count pairs, prefer the most frequent
            pair = src.astype(np.int64) * k + dst
            uniq, counts = np.unique(pair, return_counts=True)
            src, dst = uniq // k, uniq % k
            cost = -counts.astype(np.float64)
        # for every small component its cheapest neighbour (ties: smallest id)
        order = np.lexsort((dst, cost, src))
        src, dst = src[order], dst[order]
        first = np.ones(src.size, dtype=bool)
        first[1:] = src[1:] != src[:-1]
        src, dst = src[first], dst[first]
        # joined smallest first (ties: the lower id); a piece whose group has meanwhile
        # grown to the threshold stays, and so does one small only by the cap once
        # max_segments pieces are left; an orphan always joins
        target = dict(zip(src.tolist(), dst.tolist()))
        root = list(range(k))

        def find(i):
            while root[i] != i:
                i = root[i]
            return i

        gsize = sizes.astype(np.int64).copy()
        remaining = k
        for s in sorted(target, key=lambda i: (sizes[i], i)):
            rs = find(s)
            if not orphan_now[s]:
                if gsize[rs] >= threshold:
                    continue
                if max_segments is not None and gsize[rs] >= min_size and remaining <= max_segments:
                    continue
            rd = find(target[s])
            if rs != rd:
                lo, hi = min(rs, rd), max(rs, rd)
                root[hi] = lo
                gsize[lo] += gsize[hi]
                remaining -= 1
        roots, group = np.unique([find(i) for i in range(k)], return_inverse=True)
        comp, k = group[comp], len(roots)  # numbered in order of each group's lowest piece
    return relabel_consecutive(comp)


def soft_slic_reference(features: torch.Tensor, rows: int, cols: int, iterations: int = 10):
    """``lnsnet.eval.ssn.soft_slic`` written pixel by pixel with gathers and scatters (slow)."""
    b, c, h, w = features.shape
    k = rows * cols
    f = features.reshape(b, c, h * w)
    index, valid = _neighbours(h, w, rows, cols, features.device)
    own = index[4]
    count = f.new_zeros(k).index_add_(0, own, f.new_ones(h * w))
    valid = valid & (count > 0)[index]  # empty cells are never candidates
    cent = f.new_zeros(b, c, k).index_add_(2, own, f) / count.clamp_min(1)[None, None]
    def update(q):
        num = f.new_zeros(b, c, k)
        den = f.new_zeros(b, k)
        for o in range(9):
            num = num.index_add(2, index[o], f * q[:, o, None])
            den = den.index_add(1, index[o], q[:, o])
        return num / den.clamp_min(1e-12)[:, None]

    q = None
    for _ in range(max(1, iterations)):
        if q is not None:
            cent = update(q)
        d = torch.stack([(f - cent.index_select(2, index[o])).pow(2).sum(1) for o in range(9)], 1)
        q = torch.softmax(d.masked_fill(~valid, float("inf")).neg(), dim=1)  # (B, 9, N)
    return q, index, update(q)
