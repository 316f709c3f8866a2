"""Connectivity enforcement: every label one 4-connected region, tiny fragments merged.

The network's argmax can leave a cluster in several pieces and produce specks. Pieces
smaller than ``min_size`` pixels are merged into the adjacent region whose mean colour is
closest; larger pieces become labels of their own. Labels are then renumbered 0..k-1.
Rounds repeat until no small piece is left; within a round the pieces join smallest first
and stop once their group is large enough, so small pieces side by side (specks, the
stripes of a fine texture) do not chain into one large region.

:func:`components` and :func:`enforce_connectivity` run compiled kernels (numba,
union-find, O(H W)); the tests hold the vectorised numpy definitions they are checked
against, label for label (``tests/reference.py``).
"""

from __future__ import annotations

import numba as nb
import numpy as np

from .runtime import parallel_kernel

__all__ = ["components", "enforce_connectivity", "relabel_consecutive", "split_large", "find_root", "number_roots",
           "reassign_slivers", "reassign_slivers_torch", "SLIVER_MARGIN"]

_jit = dict(cache=True, nogil=True)


def relabel_consecutive(labels) -> np.ndarray:
    """Map the label values of ``labels`` to ``0..k-1`` keeping their sorted order.

    ``out[p]`` is the rank of ``labels[p]`` among the distinct values (int32, same shape;
    negative values allowed). The package's one relabelling.

    >>> relabel_consecutive(np.array([[5, 5], [-2, 9]])).tolist()
    [[1, 1], [0, 2]]
    """
    arr = np.asarray(labels)
    flat = arr.ravel()
    if flat.size == 0:
        return np.zeros(arr.shape, dtype=np.int32)
    lo = int(flat.min())
    hi = int(flat.max())
    # A lookup table through bincount is O(N + range); np.unique sorts, O(N log N).
    if hi - lo <= 4 * flat.size + 1024:
        shifted = flat.astype(np.intp) - lo  # widened first: int8 - (-100) must not wrap
        present = np.bincount(shifted, minlength=hi - lo + 1) > 0
        lut = (np.cumsum(present) - 1).astype(np.int32)
        out = lut[shifted]
    else:
        _, inv = np.unique(flat, return_inverse=True)
        out = inv.astype(np.int32)
    return out.reshape(arr.shape)


#: how many times nearer (in squared distance) a sliver pixel's unblurred value must be to
#: the mean of a label across it than to its own label's mean to move (:func:`reassign_slivers`;
#: chosen on val, ``docs/learning.md``, "The blur's ramps at sharp junctions")
SLIVER_MARGIN = 256.0


def reassign_slivers(labels, sharp, margin: float = SLIVER_MARGIN) -> np.ndarray:
    """Raw labels with the blur's slivers at sharp edges given back to the regions they belong to.

    A blur's ramp between two regions can take the colour of a third, and a one-pixel
    strip of that third region's label then runs along their border (scikit-image's
    four-quadrant test). A pixel is such a sliver when its label differs from both of its
    neighbours above and below (or left and right), which differ from each other. It moves
    to the one of those two labels whose mean its unblurred value is nearest, when that
    is ``margin`` times nearer (squared distances) than its own label's mean: so only
    where the image's own edge is sharp, not where the ramp is in the image (a soft edge,
    texture, noise). The means are the labels' means of ``sharp``; all decisions read the
    labels as given.

    ``labels`` ``(H, W)`` int (negative: outside a mask, left alone); ``sharp`` ``(H, W,
    C)`` the unblurred image, any channels, uint8, uint16 or float (the test is a ratio:
    any linear scale of the values gives the same labels). Returns a new array of
    ``labels``' dtype.
    """
    from .cluster.kernels import seed_sums  # the seed rounds' per-label sums (imports torch: not at start-up)

    lab = np.ascontiguousarray(labels)
    img = np.asarray(sharp)
    img = np.ascontiguousarray(img, dtype=img.dtype if img.dtype in (np.uint8, np.uint16) else np.float32)
    if img.ndim != 3 or img.shape[:2] != lab.shape:
        raise ValueError(f"sharp {img.shape} does not fit labels {lab.shape}: (H, W, C) expected")
    k = int(lab.max(initial=-1)) + 1
    out = lab.copy()
    if k > 0:
        sums, _, counts = seed_sums(img, lab, k, channels_last=True)
        _reassign_slivers(lab, img, sums / np.maximum(counts, 1.0)[:, None], np.float64(margin), out)
    return out


@nb.njit(**_jit, inline="always")
def _sq(img, y, x, means, q):
    d = 0.0
    for ch in range(img.shape[2]):
        t = img[y, x, ch] - means[q, ch]
        d += t * t
    return d


@parallel_kernel(**_jit)
def _reassign_slivers(lab, img, means, margin, out):
    h, w = lab.shape
    for y in nb.prange(h):
        for x in range(w):
            own = lab[y, x]
            if own < 0:
                continue
            d_own = -1.0
            best = np.inf
            for o in range(2):  # across the row (above / below), then across the column
                dy, dx = (1, 0) if o == 0 else (0, 1)
                if y - dy < 0 or y + dy >= h or x - dx < 0 or x + dx >= w:
                    continue
                a, b = lab[y - dy, x - dx], lab[y + dy, x + dx]
                if a < 0 or b < 0 or a == own or b == own or a == b:
                    continue
                if d_own < 0:
                    d_own = _sq(img, y, x, means, own)
                for m in (a, b):
                    r = _sq(img, y, x, means, m)
                    if r * margin < d_own and r < best:
                        best = r
                        out[y, x] = m


def components(labels: np.ndarray) -> tuple[np.ndarray, int]:
    """4-connected components of equal labels: ``((H, W) int32 ids 0..k-1, k)``, numbered
    in raster order of each component's first pixel."""
    arr = np.asarray(labels)
    if arr.ndim != 2:
        raise ValueError(f"labels must be 2-D, got shape {arr.shape}")
    if arr.size == 0:
        return np.zeros(arr.shape, dtype=np.int32), 0
    if arr.dtype.kind not in "iu" or arr.dtype not in (np.int32, np.int64):
        arr = arr.astype(np.int64)  # one compiled variant per dtype: keep them few
    arr = np.ascontiguousarray(arr)
    comp = np.empty(arr.shape, dtype=np.int32)
    k = _components(arr, comp)
    return comp, int(k)


def _orphans(labels: np.ndarray, comp: np.ndarray, k: int, orphan_factor: float, mean_size: float) -> np.ndarray:
    """Pieces that are not the largest piece of their label and smaller than
    ``orphan_factor * mean_size`` (ties between equal sizes: the later piece is the main one)."""
    sizes = np.bincount(comp.ravel(), minlength=k)
    owner = np.zeros(k, dtype=np.int64)
    owner[comp.ravel()] = np.unique(labels, return_inverse=True)[1].ravel()
    order = np.lexsort((sizes, owner))
    last = np.ones(k, dtype=bool)
    last[:-1] = owner[order][1:] != owner[order][:-1]
    is_main = np.zeros(k, dtype=bool)
    is_main[order[last]] = True
    return ~is_main & (sizes < orphan_factor * mean_size)


def _size_bounds(labels, n_segments, min_size, min_size_factor, area=None) -> tuple[np.ndarray, float, int]:
    """Checked 2-D labels, the mean superpixel size (``area``, default all pixels, over K
    or the number of labels) and the size under which a piece is merged."""
    labels = np.asarray(labels)
    if labels.ndim != 2:
        raise ValueError(f"labels must be 2-D, got shape {labels.shape}")
    k0 = n_segments if n_segments is not None else len(np.unique(labels))
    mean_size = (labels.size if area is None else area) / max(int(k0), 1)
    if min_size is None:
        min_size = int(min_size_factor * mean_size)
    return labels, mean_size, min_size


def enforce_connectivity(
    labels: np.ndarray,
    features: np.ndarray,
    min_size: int | None = None,
    n_segments: int | None = None,
    min_size_factor: float = 0.25,
    orphan_factor: float = 0.0,
    max_segments: int | None = None,
    mask: np.ndarray | None = None,
) -> np.ndarray:
    """Make every label one 4-connected region and merge regions below ``min_size``.

    Parameters
    ----------
    labels : ``(H, W)`` int array.
    features : ``(H, W, C)`` float array (any strided view; no copy) used to choose the
        merge target: the adjacent region with the closest mean feature (ties: the
        smallest region id).
    min_size : pieces smaller than this are merged. Default: ``min_size_factor * H*W / K``
        with ``K = n_segments`` (or the number of input labels).
    n_segments : the K that was asked for, for the default ``min_size``.
    orphan_factor : a piece that is not the largest piece of its label ("orphan") is also
        merged when smaller than ``orphan_factor * H*W / K``; this keeps the number of
        labels near K when clusters come out in several parts.
    max_segments : while the pieces outnumber this, each merging round also takes the
        ``pieces - max_segments`` smallest ones, so at most ``max_segments`` labels remain.
    mask : ``(H, W)`` bool, optional
        Only pixels where True are superpixels: the others come out as -1, are never merged
        and never receive a merge; the mean size is the mask's area over K.

    Returns
    -------
    ``(H, W)`` int32 labels 0..k-1 (-1 outside ``mask``), every label 4-connected.
    """
    area = None
    if mask is not None:
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != np.shape(labels):
            raise ValueError(f"mask must have the labels' shape {np.shape(labels)}, got {mask.shape}")
        labels = np.where(mask, labels, -1)
        area = int(mask.sum())
    labels, mean_size, min_size = _size_bounds(labels, n_segments, min_size, min_size_factor, area)
    feats = np.asarray(features)
    if feats.ndim == 2:
        feats = feats[:, :, None]
    if feats.shape[:2] != labels.shape:
        raise ValueError(f"features must be (H, W, C) with H, W = {labels.shape}, got shape {feats.shape}")
    comp, k = components(labels)
    fixed = None
    if mask is not None:
        fixed = np.zeros(k, dtype=bool)
        fixed[comp[~mask]] = True
    first = _orphans(labels, comp, k, orphan_factor, mean_size) if orphan_factor > 0 else None
    if first is not None and fixed is not None:
        first &= ~fixed
    comp, _ = merge_small(comp, k, feats, min_size, max_segments, first, fixed=fixed)
    if mask is None:
        return comp
    out = np.full(comp.shape, -1, dtype=np.int32)
    out[mask] = relabel_consecutive(comp[mask])
    return out


def split_large(labels: np.ndarray, max_size: int) -> np.ndarray:
    """Cut every label with more than ``max_size`` pixels, in raster order, into pieces of
    ``max_size`` pixels (the last one smaller), as slic's ``max_size_factor`` caps a
    superpixel's size. ``labels`` ``(H, W)`` int, -1 (outside a mask) left as it is;
    returns int32 labels ``0..k-1`` in raster order of each piece's first pixel (a piece
    may be in several 4-connected parts: run :func:`enforce_connectivity` after).

    >>> split_large(np.array([[0, 0, 0], [0, 0, 1]]), 2).tolist()
    [[0, 0, 1], [1, 2, 3]]
    """
    arr = np.asarray(labels)
    if int(max_size) < 1:
        raise ValueError(f"max_size must be >= 1, got {max_size!r}")
    flat = arr.ravel()
    inside = flat >= 0
    lab = relabel_consecutive(flat[inside])
    order = np.argsort(lab, kind="stable")  # each label's pixels, in raster order
    sizes = np.bincount(lab)
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    rank = np.empty(lab.size, dtype=np.int64)
    rank[order] = np.arange(lab.size) - np.repeat(starts, sizes)
    piece = lab.astype(np.int64) * (int(sizes.max(initial=1)) // int(max_size) + 1) + rank // int(max_size)
    out = np.full(flat.shape, -1, dtype=np.int64)
    out[inside] = piece
    first = np.full(out.size, -1, dtype=np.int64)  # number the pieces by their first pixel
    idx = np.flatnonzero(inside)
    ids = relabel_consecutive(out[inside])
    first_pix = np.full(int(ids.max(initial=-1)) + 1, out.size, dtype=np.int64)
    np.minimum.at(first_pix, ids, idx)
    new_id = np.empty_like(first_pix)
    new_id[np.argsort(first_pix, kind="stable")] = np.arange(first_pix.size)
    first[inside] = new_id[ids]
    return first.reshape(arr.shape).astype(np.int32)


# ------------------------------------------------------------------------------ kernels
@nb.njit(**_jit, inline="always")
def find_root(parent, i):
    root = i
    while parent[root] != root:
        root = parent[root]
    while parent[i] != root:  # path compression
        nxt = parent[i]
        parent[i] = root
        i = nxt
    return root


@nb.njit(**_jit, inline="always")
def _union(parent, a, b):
    ra = find_root(parent, a)
    rb = find_root(parent, b)
    if ra != rb:
        if ra < rb:
            parent[rb] = ra
        else:
            parent[ra] = rb


@nb.njit(**_jit)
def number_roots(parent, out):
    """``out[i]`` = number of the set of ``i``, sets numbered in order of their first member;
    returns the number of sets."""
    ids = np.full(parent.shape[0], -1, dtype=np.int64)
    k = 0
    for i in range(parent.shape[0]):
        r = find_root(parent, i)
        if ids[r] < 0:
            ids[r] = k
            k += 1
        out[i] = ids[r]
    return k


@nb.njit(**_jit)
def _components(labels, comp):
    # runs of equal labels along each row, runs of the row above joined where they overlap
    # and carry the same label; components numbered in raster order of their first run
    # (= of their first pixel)
    h, w = labels.shape
    n = h * w
    x0 = np.empty(n, dtype=np.int32)
    x1 = np.empty(n, dtype=np.int32)
    first = np.empty(h + 1, dtype=np.int64)  # each row's first run
    nr = 0
    for y in range(h):
        first[y] = nr
        x = 0
        while x < w:
            v = labels[y, x]
            x0[nr] = x
            x += 1
            while x < w and labels[y, x] == v:
                x += 1
            x1[nr] = x
            nr += 1
    first[h] = nr
    parent = np.arange(nr)
    for y in range(1, h):
        i, ie = first[y - 1], first[y]
        j, je = first[y], first[y + 1]
        while i < ie and j < je:  # both rows' runs in order of x
            if x0[i] < x1[j] and x0[j] < x1[i] and labels[y - 1, x0[i]] == labels[y, x0[j]]:
                _union(parent, i, j)
            if x1[i] < x1[j]:
                i += 1
            elif x1[j] < x1[i]:
                j += 1
            else:
                i += 1
                j += 1
    ids = np.full(nr, -1, dtype=np.int64)
    k = 0
    for y in range(h):
        for r in range(first[y], first[y + 1]):
            root = find_root(parent, r)
            if ids[root] < 0:
                ids[root] = k
                k += 1
            c = ids[root]
            for x in range(x0[r], x1[r]):
                comp[y, x] = c
    return k


@nb.njit(**_jit, inline="always")
def _consider(s, d, means, best_cost, best_dst):
    cost = 0.0
    for j in range(means.shape[1]):
        diff = means[s, j] - means[d, j]
        cost += diff * diff
    if cost < best_cost[s] or (cost == best_cost[s] and d < best_dst[s]):
        best_cost[s] = cost
        best_dst[s] = d


@nb.njit(**_jit)
def _join(best_dst, sizes, small_below, orphan, owner, remaining, max_segments, min_size):
    """One merging round's joins (of :func:`_merge_small` and of
    :func:`enforce_connectivity_torch`): ``(group of each piece, number of groups)``, groups
    numbered in order of their first piece.

    The pieces offered a target (``best_dst[s] >= 0``) are taken smallest first (ties: the
    lower id); each joins its target's group unless its own group has meanwhile grown to
    ``small_below[owner[s]]`` pixels (pieces joined into it: it is no longer small), or it
    is small only because of the cap (its group has ``min_size`` pixels) and its image
    (``owner[s]``) is down to ``max_segments`` pieces (``remaining``, updated in place;
    ``max_segments < 0``: no cap). An ``orphan`` always joins. So small pieces that chose
    each other in a row (a grating's stripes, specks side by side) join as far as they
    need, not into one region of all of them."""
    k = best_dst.shape[0]
    parent = np.arange(k)
    gsize = sizes.astype(np.int64)
    cand = np.flatnonzero(best_dst >= 0)
    order = cand[np.argsort(sizes[cand].astype(np.int64) * k + cand)]
    for s in order:
        img = owner[s]
        rs = find_root(parent, s)
        if not orphan[s]:
            if gsize[rs] >= small_below[img]:
                continue
            if gsize[rs] >= min_size and 0 <= max_segments and remaining[img] <= max_segments:
                continue
        rd = find_root(parent, best_dst[s])
        if rs == rd:
            continue
        lo, hi = min(rs, rd), max(rs, rd)
        parent[hi] = lo
        gsize[lo] += gsize[hi]
        remaining[img] -= 1
    group = np.empty(k, dtype=np.int64)
    return group, number_roots(parent, group)


@nb.njit(**_jit)
def _merge_small(comp, k, feats, min_size, max_segments, first_small, fixed, max_rounds):
    # one pass over the pixels for the pieces' sizes, sums and the pairs of 4-neighbours in
    # different pieces; the rounds then work on the pieces (their sums added, float64) and
    # those pairs; one pass at the end writes the merged ids
    h, w = comp.shape
    n = h * w
    nf = feats.shape[2]
    flat = comp.reshape(n)
    k0 = k
    g = np.arange(k0)  # each piece's current id
    sizes = np.zeros(k, dtype=np.int64)
    sums = np.zeros((k, nf), dtype=np.float64)
    cap = min(2 * n, max(4096, n // 4))  # grown when full (a full 2n would be 16 bytes a pixel)
    pa = np.empty(cap, dtype=np.int32)
    pb = np.empty(cap, dtype=np.int32)
    ne = 0
    for y in range(h):
        if ne + 2 * w > cap:
            cap = min(2 * n, max(2 * cap, ne + 2 * w))
            pa2 = np.empty(cap, dtype=np.int32)
            pb2 = np.empty(cap, dtype=np.int32)
            pa2[:ne] = pa[:ne]
            pb2[:ne] = pb[:ne]
            pa, pb = pa2, pb2
        for x in range(w):
            c = comp[y, x]
            sizes[c] += 1
            for j in range(nf):
                sums[c, j] += feats[y, x, j]
            if x + 1 < w and comp[y, x + 1] != c:
                pa[ne] = c
                pb[ne] = comp[y, x + 1]
                ne += 1
            if y + 1 < h and comp[y + 1, x] != c:
                pa[ne] = c
                pb[ne] = comp[y + 1, x]
                ne += 1
    for rnd in range(max_rounds):
        threshold = min_size
        n_free = k - fixed.sum()
        if max_segments >= 0 and n_free > max_segments:
            srt = np.sort(sizes[~fixed])
            threshold = max(threshold, srt[n_free - max_segments - 1] + 1)
        small = sizes < threshold
        if rnd == 0:
            small |= first_small
        small &= ~fixed
        if n_free <= 1 or not small.any():
            break
        means = np.empty((k, nf), dtype=np.float64)
        for c in range(k):
            s = max(sizes[c], 1)
            for j in range(nf):
                means[c, j] = sums[c, j] / s
        best_cost = np.full(k, np.inf)
        best_dst = np.full(k, -1, dtype=np.int64)
        found = False  # each small piece offered its neighbours (the best kept: order-free)
        for e in range(ne):
            a = g[pa[e]]
            b = g[pb[e]]
            if a != b:
                if small[a] and not fixed[b]:
                    _consider(a, b, means, best_cost, best_dst)
                    found = True
                if small[b] and not fixed[a]:
                    _consider(b, a, means, best_cost, best_dst)
                    found = True
        if not found:
            break
        orphan = first_small if rnd == 0 else np.zeros(k, dtype=np.bool_)
        remaining = np.array([n_free], dtype=np.int64)
        group, new_k = _join(best_dst, sizes, np.array([threshold], dtype=np.int64), orphan,
                             np.zeros(k, dtype=np.int64), remaining, max_segments, min_size)
        new_fixed = np.zeros(new_k, dtype=np.bool_)
        new_sizes = np.zeros(new_k, dtype=np.int64)
        new_sums = np.zeros((new_k, nf), dtype=np.float64)
        for c in range(k):
            d = group[c]
            new_fixed[d] |= fixed[c]
            new_sizes[d] += sizes[c]
            for j in range(nf):
                new_sums[d, j] += sums[c, j]
        for i in range(k0):
            g[i] = group[g[i]]
        fixed, sizes, sums, k = new_fixed, new_sizes, new_sums, new_k
    if k < k0:
        for p in range(n):
            flat[p] = g[flat[p]]
    return k


def merge_small(comp, k, feats, min_size, max_segments=None, first_small=None, max_rounds=64, fixed=None):
    """Merge pieces below ``min_size`` (and, while there are more than ``max_segments``,
    the smallest ones) into the adjacent piece with the closest mean feature, in rounds
    (each round's joins: :func:`_join`).

    ``comp`` ``(H, W)`` int32 component ids ``0..k-1`` (modified in place and returned),
    ``feats`` ``(H, W, F)`` float (any strides; each piece's values summed in float64 in
    raster order, a merged piece's sum that of its parts), ``first_small`` ``(k,)`` bool pieces merged in the first
    round regardless of size, ``fixed`` ``(k,)`` bool pieces never merged nor merged into
    (``max_segments`` counts the others). Returns ``(comp, k)``, ids in raster order of
    first pixel.
    """
    comp = np.ascontiguousarray(comp, dtype=np.int32)
    feats = np.asarray(feats)
    if feats.dtype not in (np.float32, np.float64):
        feats = feats.astype(np.float64)
    if first_small is None:
        first_small = np.zeros(k, dtype=np.bool_)
    if fixed is None:
        fixed = np.zeros(k, dtype=np.bool_)
    k = _merge_small(comp, int(k), feats, int(min_size), -1 if max_segments is None else int(max_segments),
                     np.asarray(first_small, dtype=np.bool_), np.asarray(fixed, dtype=np.bool_), int(max_rounds))
    return comp, int(k)


def reassign_slivers_torch(labels, sharp, margin: float = SLIVER_MARGIN):
    """:func:`reassign_slivers` on tensors, where they are (a GPU), for one image or a batch:
    ``labels`` ``(H, W)`` or ``(B, H, W)`` int64 seed indices (no mask), ``sharp`` ``(H, W,
    C)`` or ``(B, H, W, C)``, any real dtype; new labels on the labels' device, the same
    decisions (the means in float64)."""
    import torch

    if labels.dim() == 2:
        return reassign_slivers_torch(labels[None], sharp[None], margin)[0]
    nb, h, w = labels.shape
    k = int(labels.max()) + 1 if labels.numel() else 0
    if k == 0:
        return labels.clone()
    img = sharp.double()
    off = torch.arange(nb, device=labels.device)[:, None, None] * k  # each image's labels among the batch's
    flat = (labels + off).reshape(-1)
    c = img.shape[-1]
    sums = torch.zeros(nb * k, c, dtype=torch.float64, device=labels.device).index_add_(0, flat, img.reshape(-1, c))
    counts = torch.bincount(flat, minlength=nb * k).clamp(min=1).to(torch.float64)
    means = sums / counts[:, None]

    def sq(q):  # squared distance of every pixel's value to the mean of label q (B, H, W)
        return (img - means[q + off]).square().sum(-1)

    d_own = sq(labels)
    best = torch.full(labels.shape, float("inf"), dtype=torch.float64, device=labels.device)
    out = labels.clone()
    pad = torch.nn.functional.pad(labels, (1, 1, 1, 1), value=-1)
    for a, b in ((pad[:, :-2, 1:-1], pad[:, 2:, 1:-1]), (pad[:, 1:-1, :-2], pad[:, 1:-1, 2:])):
        sliver = (a >= 0) & (b >= 0) & (a != labels) & (b != labels) & (a != b)
        for m in (a, b):
            r = sq(m.clamp(min=0))
            take = sliver & (r * margin < d_own) & (r < best)
            best = torch.where(take, r, best)
            out = torch.where(take, m, out)
    return out


def enforce_connectivity_torch(labels, features, n_segments: int, min_size_factor: float = 0.25,
                               max_segments: int | None = None, max_rounds: int = 64, kernels: bool | None = None):
    """:func:`enforce_connectivity` (no mask, no orphans) on tensors, where they are (a
    GPU), for one image or a batch: ``labels`` ``(H, W)`` or ``(B, H, W)`` int64,
    ``features`` ``(H, W, C)`` or ``(B, H, W, C)`` float. With ``kernels`` (None: on a
    CUDA device) the components and each round's offers by CUDA kernels
    (:func:`lnsnet.cluster.cuda.components`, :func:`lnsnet.cluster.cuda.offers`), else by
    :func:`components` and torch operations; the sizes and means by torch operations for the
    whole batch, the joining of the pieces on the host. Returns int64 labels
    ``0..k-1`` of each image on the labels' device, equal to :func:`enforce_connectivity`'s
    (up to the order of the float64 sums of the means, which a GPU's atomics do not keep)."""
    import torch

    if labels.dim() == 2:
        return enforce_connectivity_torch(labels[None], features[None], n_segments, min_size_factor, max_segments,
                                          max_rounds, kernels)[0]
    nb, h, w = labels.shape
    dev = labels.device
    kernels = labels.is_cuda if kernels is None else kernels
    if kernels:
        from .cluster import cuda as ck

        comp, counts = ck.components(labels.contiguous())
    else:
        parts = [components(lab) for lab in labels.cpu().numpy()]
        counts = torch.tensor([k for _, k in parts], dtype=torch.int64)
        offsets = np.concatenate([[0], np.cumsum([k for _, k in parts])[:-1]]).astype(np.int64)
        comp = torch.from_numpy(np.stack([c.astype(np.int64) + o for (c, _), o in zip(parts, offsets)])).to(dev)
    counts = counts.cpu().numpy().astype(np.int64)
    k = int(counts.sum())
    owner = torch.from_numpy(np.repeat(np.arange(nb), counts)).to(dev)  # the image of each piece
    min_size = int(min_size_factor * (h * w / max(int(n_segments), 1)))
    f64 = features.reshape(nb * h * w, -1).double()
    nf = f64.shape[1]
    pairs = [] if kernels else [(comp[:, :, :-1].reshape(-1), comp[:, :, 1:].reshape(-1)),  # left - right
                                (comp[:, :-1].reshape(-1), comp[:, 1:].reshape(-1))]  # up - down
    for _ in range(max_rounds):
        flat = comp.reshape(-1)
        sizes = torch.bincount(flat, minlength=k)
        threshold = torch.full((nb,), min_size, dtype=torch.int64, device=dev)
        if max_segments is not None and bool((torch.from_numpy(counts) > max_segments).any()):
            # the pieces beyond max_segments in each image: the smallest ones are merged too
            order = torch.argsort(owner * (h * w + 1) + sizes)  # by image, then size
            srt = sizes[order]
            start = torch.from_numpy(np.concatenate([[0], np.cumsum(counts)[:-1]])).to(dev)
            excess = torch.from_numpy(counts - max_segments).to(dev)
            pick = (start + excess - 1).clamp_min(0)
            cap = torch.where(excess > 0, srt[pick] + 1, threshold)
            threshold = torch.maximum(threshold, cap)
        small = sizes < threshold[owner]
        n_small = torch.zeros(nb, dtype=torch.int64, device=dev).index_add_(0, owner, small.long())
        active = (counts > 1) & (n_small.cpu().numpy() > 0)  # an image with no piece to merge is done
        if not active.any():
            break
        small &= torch.from_numpy(active).to(dev)[owner]
        means = torch.zeros((k, nf), dtype=torch.float64, device=dev).index_add_(0, flat, f64)
        means /= sizes.clamp_min(1).double()[:, None]
        dst = ck.offers(comp, small, means) if kernels else _offers_torch(pairs, small, means)
        if not bool((dst < k).any()):
            break  # no small piece has a neighbour
        dst = torch.where(dst < k, dst, torch.full_like(dst, -1))
        own = np.repeat(np.arange(nb), counts)  # the image of each piece, on the host
        group, k = _join(dst.cpu().numpy(), sizes.cpu().numpy(), threshold.cpu().numpy(), np.zeros(k, dtype=np.bool_),
                         own, counts.copy(), -1 if max_segments is None else int(max_segments), min_size)
        counts = np.bincount(own[np.unique(group, return_index=True)[1]], minlength=nb).astype(np.int64)
        owner = torch.from_numpy(np.repeat(np.arange(nb), counts)).to(dev)
        lut = torch.from_numpy(group).to(dev)
        comp = lut[comp]
        pairs = [(lut[p], lut[q]) for p, q in pairs]
    first = torch.from_numpy(np.concatenate([[0], np.cumsum(counts)[:-1]])).to(dev)
    return comp - first[:, None, None]


def _offers_torch(pairs, small, means):
    """:func:`lnsnet.cluster.cuda.offers` by torch operations, from the ``pairs`` of
    4-neighbours' piece ids (left-right, up-down)."""
    import torch

    k = means.shape[0]
    dev = means.device
    a = torch.cat([p[0] for p in pairs])
    b = torch.cat([p[1] for p in pairs])
    ne = a != b
    a, b = a[ne], b[ne]
    sa, sb = small[a], small[b]
    s = torch.cat([a[sa], b[sb]])  # a small piece and the neighbour offered to it
    d = torch.cat([b[sa], a[sb]])
    diff = means[s] - means[d]
    cost = torch.zeros(s.shape[0], dtype=torch.float64, device=dev)
    for j in range(means.shape[1]):  # in channel order, as the compiled kernel sums
        cost = cost + diff[:, j] * diff[:, j]
    best = torch.full((k,), float("inf"), dtype=torch.float64, device=dev).scatter_reduce_(0, s, cost, "amin")
    tie = cost == best[s]
    return torch.full((k,), k, dtype=torch.int64, device=dev).scatter_reduce_(0, s[tie], d[tie], "amin")
