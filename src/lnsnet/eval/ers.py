"""Entropy rate superpixels (ERS; Liu, Tuzel, Ramalingam, Chellappa, CVPR 2011), our own
implementation (numba).

The image is a graph: pixels are vertices, 4- or 8-neighbours are joined by edges of
weight ``w_ij = exp(-d_ij^2 / (2 sigma^2))`` with ``d_ij`` the colour distance (0..255
scale). Every vertex keeps a self-loop so that its total weight ``w_i`` (the sum of all its
edge weights) stays fixed as edges are chosen. A random walk on the chosen edges ``A`` has
stationary distribution ``mu_i = w_i / w_T`` and transition probabilities ``w_ij / w_i``
(and ``s_i / w_i`` for the self-loop, ``s_i = w_i - sum of its chosen edges``); its entropy
rate is

    H(A) = -sum_i mu_i [ sum_{j in A(i)} p_ij log p_ij + p_ii log p_ii ].

The balancing term of the clustering ``Z_A`` (the connected components of ``A``) is
``B(A) = -sum_k p_k log p_k - N_A`` with ``p_k = |S_k| / N``. ERS adds edges greedily,
always the one with the largest gain of ``H + lambda B`` among those joining two different
components, until ``K`` components remain: exactly K connected segments. Both terms are
monotone submodular, so a gain never grows as ``A`` grows, and the lazy greedy (a max-heap
of possibly stale gains; the top is recomputed and taken if it still beats the next one)
picks the same edges as the plain greedy.

Parameters follow the authors' release: ``lambda' = 0.5`` and ``sigma = 5`` (intensities in
0..255), with ``lambda = lambda' * K / N`` (our reading; it keeps the balancing gain of a
merge of two half-size segments, ~``lambda' log 2 / N``, on the scale of the entropy-rate
gains, ~``1 / N``).
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from ..connectivity import find_root, number_roots

__all__ = ["ers", "edge_weights", "entropy_rate", "entropy_rate_gain", "balancing_gain"]

_jit = dict(cache=True, nogil=True)


def edge_weights(image: np.ndarray, sigma: float = 5.0, connectivity: int = 8):
    """Edges ``(a, b)`` (flat pixel indices) and weights of the pixel graph.

    ``image`` ``(H, W)`` or ``(H, W, C)`` in 0..255. Returns ``a, b`` int64 ``(E,)`` and
    ``w`` float64 ``(E,)``.
    """
    img = np.asarray(image, dtype=np.float64)
    if img.ndim == 2:
        img = img[:, :, None]
    h, w_ = img.shape[:2]
    idx = np.arange(h * w_).reshape(h, w_)
    offsets = [(0, 1), (1, 0)] + ([(1, 1), (1, -1)] if connectivity == 8 else [])
    a_list, b_list, w_list = [], [], []
    for dy, dx in offsets:
        x0, x1 = max(0, -dx), w_ - max(0, dx)  # source columns; targets are x + dx
        ys, xs = slice(0, h - dy), slice(x0, x1)
        ys2, xs2 = slice(dy, h), slice(x0 + dx, x1 + dx)
        p, q = img[ys, xs], img[ys2, xs2]
        d2 = ((p - q) ** 2).sum(-1)
        a_list.append(idx[ys, xs].ravel())
        b_list.append(idx[ys2, xs2].ravel())
        w_list.append(np.exp(-d2.ravel() / (2.0 * sigma * sigma)))
    return np.concatenate(a_list), np.concatenate(b_list), np.concatenate(w_list)


@nb.njit(**_jit, inline="always")
def _xlogx(x):
    return x * math.log(x) if x > 0.0 else 0.0


@nb.njit(**_jit, inline="always")
def _vertex_gain(w, s, wi):
    # change of -[sum p log p] at a vertex when an edge of weight w moves out of its
    # self-loop s (total weight wi), times wi:  -w log(w/wi) - (s-w) log((s-w)/wi) + s log(s/wi)
    if wi <= 0.0:
        return 0.0
    rest = s - w
    if rest < 0.0:
        rest = 0.0
    return (-_xlogx(w / wi) - _xlogx(rest / wi) + _xlogx(s / wi)) * wi


@nb.njit(**_jit, inline="always")
def _balance(na, nb_, n):
    # change of -sum p log p when components of sizes na and nb merge (the -N_A part adds a
    # constant 1 to every merge and does not change the choice)
    pa, pb = na / n, nb_ / n
    return -_xlogx(pa + pb) + _xlogx(pa) + _xlogx(pb)


@nb.njit(**_jit, inline="always")
def _gain(e, a, b, w, self_w, total_w, size, parent, w_t, lam, n):
    i, j = a[e], b[e]
    er = (_vertex_gain(w[e], self_w[i], total_w[i]) + _vertex_gain(w[e], self_w[j], total_w[j])) / w_t
    ri, rj = find_root(parent, i), find_root(parent, j)
    return er + lam * _balance(size[ri], size[rj], n)


@nb.njit(**_jit, inline="always")
def _swap(hg, he, i, j):
    # exchange heap entries i and j: gain and edge
    hg[i], hg[j] = hg[j], hg[i]
    he[i], he[j] = he[j], he[i]


@nb.njit(**_jit)
def _sift_up(hg, he, k):
    while k > 0:
        p = (k - 1) >> 1
        if hg[p] >= hg[k]:
            break
        _swap(hg, he, p, k)
        k = p


@nb.njit(**_jit)
def _sift_down(hg, he, k, m):
    while True:
        l = 2 * k + 1
        if l >= m:
            break
        c = l
        if l + 1 < m and hg[l + 1] > hg[l]:
            c = l + 1
        if hg[k] >= hg[c]:
            break
        _swap(hg, he, c, k)
        k = c


@nb.njit(**_jit)
def _ers(n, a, b, w, k_target, lam):
    m = a.shape[0]
    total_w = np.zeros(n)
    for e in range(m):
        total_w[a[e]] += w[e]
        total_w[b[e]] += w[e]
    self_w = total_w.copy()
    w_t = total_w.sum()
    if w_t <= 0.0:
        w_t = 1.0
    parent = np.arange(n)
    size = np.ones(n)
    hg = np.empty(m)
    he = np.empty(m, dtype=np.int64)
    for e in range(m):
        hg[e] = _gain(e, a, b, w, self_w, total_w, size, parent, w_t, lam, n)
        he[e] = e
    for k in range(m // 2 - 1, -1, -1):
        _sift_down(hg, he, k, m)
    size_h = m
    comps = n
    while comps > k_target and size_h > 0:
        e = he[0]
        size_h -= 1
        hg[0], he[0] = hg[size_h], he[size_h]
        _sift_down(hg, he, 0, size_h)
        ri, rj = find_root(parent, a[e]), find_root(parent, b[e])
        if ri == rj:
            continue  # would close a cycle: no change to the clustering
        g = _gain(e, a, b, w, self_w, total_w, size, parent, w_t, lam, n)
        if size_h > 0 and g < hg[0]:
            hg[size_h], he[size_h] = g, e  # stale: put back with its current gain
            _sift_up(hg, he, size_h)
            size_h += 1
            continue
        self_w[a[e]] -= w[e]
        self_w[b[e]] -= w[e]
        if ri < rj:
            parent[rj] = ri
            size[ri] += size[rj]
        else:
            parent[ri] = rj
            size[rj] += size[ri]
        comps -= 1
    labels = np.empty(n, dtype=np.int32)
    number_roots(parent, labels)
    return labels


def ers(image: np.ndarray, n_segments: int, *, lambda_prime: float = 0.5, sigma: float = 5.0,
        connectivity: int = 8) -> np.ndarray:
    """ERS superpixels: ``(H, W)`` int32 labels ``0..K-1`` (exactly ``K = n_segments``
    connected segments, fewer only if the image has fewer pixels).

    ``image``: ``(H, W)`` or ``(H, W, 3)``, uint8 or float in [0, 1] (scaled to 0..255).
    """
    img = np.asarray(image)
    if img.dtype.kind == "f":
        img = img * 255.0
    h, w = img.shape[:2]
    if connectivity not in (4, 8):
        raise ValueError(f"connectivity must be 4 or 8, got {connectivity!r}")
    if int(n_segments) < 1:
        raise ValueError(f"n_segments must be >= 1, got {n_segments!r}")
    n = h * w
    k = min(int(n_segments), n)
    a, b, wts = edge_weights(img, sigma, connectivity)
    lam = lambda_prime * k / n
    return _ers(n, a, b, wts, k, lam).reshape(h, w)


# ----------------------------------------------------------------- reference definitions
def entropy_rate(n: int, a, b, w, chosen) -> float:
    """H(A) from the definition (dense, for tests): the random walk on the chosen edges
    with self-loops that keep every vertex's total weight."""
    a, b, w = np.asarray(a), np.asarray(b), np.asarray(w, dtype=np.float64)
    total = np.zeros(n)
    np.add.at(total, a, w)
    np.add.at(total, b, w)
    p = np.zeros((n, n))
    for e in np.flatnonzero(chosen):
        p[a[e], b[e]] += w[e]
        p[b[e], a[e]] += w[e]
    p[np.arange(n), np.arange(n)] = total - p.sum(1)
    p = p / total[:, None]
    mu = total / total.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        plogp = np.where(p > 0, p * np.log(p), 0.0)
    return float(-(mu[:, None] * plogp).sum())


def entropy_rate_gain(n: int, a, b, w, chosen, e: int) -> float:
    """H(A + e) - H(A), by the incremental formula the greedy uses."""
    a, b, w = np.asarray(a), np.asarray(b), np.asarray(w, dtype=np.float64)
    total = np.zeros(n)
    np.add.at(total, a, w)
    np.add.at(total, b, w)
    self_w = total.copy()
    for f in np.flatnonzero(chosen):
        self_w[a[f]] -= w[f]
        self_w[b[f]] -= w[f]
    i, j = a[e], b[e]
    return (_vertex_gain(w[e], self_w[i], total[i]) + _vertex_gain(w[e], self_w[j], total[j])) / total.sum()


def balancing_gain(na: int, nb_: int, n: int) -> float:
    """Change of the cluster entropy ``-sum p log p`` when clusters of sizes na and nb merge."""
    return float(_balance(float(na), float(nb_), float(n)))
