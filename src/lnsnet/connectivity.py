"""Connectivity enforcement: every label one 4-connected region, tiny fragments merged.

The network's argmax can leave a cluster in several pieces and produce specks. Pieces
smaller than ``min_size`` pixels are merged into the adjacent region whose mean colour is
closest; larger pieces become labels of their own. Labels are then renumbered 0..k-1.
Rounds repeat until no small piece is left.

:func:`components` and :func:`enforce_connectivity` run compiled kernels
(:mod:`lnsnet._kernels`, union-find, O(H W)); the ``*_reference`` functions are the
vectorised numpy definitions they are tested against (same output, label for label).
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

__all__ = ["components", "enforce_connectivity", "relabel_sequential", "components_reference",
           "enforce_connectivity_reference"]


def relabel_sequential(labels: np.ndarray) -> np.ndarray:
    """Renumber labels to 0..k-1 in order of first appearance value; returns int32."""
    _, inv = np.unique(labels, return_inverse=True)
    return inv.reshape(labels.shape).astype(np.int32)


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


def components(labels: np.ndarray) -> tuple[np.ndarray, int]:
    """4-connected components of equal labels: ``((H, W) int32 ids 0..k-1, k)``, numbered
    in raster order of each component's first pixel. Same as :func:`components_reference`."""
    from . import _kernels

    arr = np.asarray(labels)
    if arr.ndim != 2:
        raise ValueError(f"labels must be 2-D, got shape {arr.shape}")
    if arr.size == 0:
        return np.zeros(arr.shape, dtype=np.int32), 0
    return _kernels.components(arr)


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


def _size_bounds(labels, n_segments, min_size, min_size_factor) -> tuple[np.ndarray, float, int]:
    """Checked 2-D labels, the mean superpixel size (from K or the number of labels) and
    the size under which a piece is merged."""
    labels = np.asarray(labels)
    if labels.ndim != 2:
        raise ValueError(f"labels must be 2-D, got shape {labels.shape}")
    k0 = n_segments if n_segments is not None else len(np.unique(labels))
    mean_size = labels.size / max(int(k0), 1)
    if min_size is None:
        min_size = int(min_size_factor * mean_size)
    return labels, mean_size, min_size


def enforce_connectivity(
    labels: np.ndarray,
    features: np.ndarray | None = None,
    min_size: int | None = None,
    n_segments: int | None = None,
    min_size_factor: float = 0.25,
    orphan_factor: float = 0.0,
    max_segments: int | None = None,
) -> np.ndarray:
    """Make every label one 4-connected region and merge regions below ``min_size``.

    Compiled implementation of :func:`enforce_connectivity_reference` (same parameters,
    same output); ``features`` may be any strided ``(H, W, C)`` float view (no copy).
    Without ``features`` the reference runs.
    """
    if features is None:
        return enforce_connectivity_reference(labels, None, min_size, n_segments, min_size_factor,
                                              orphan_factor, max_segments)
    from . import _kernels

    labels, mean_size, min_size = _size_bounds(labels, n_segments, min_size, min_size_factor)
    feats = np.asarray(features)
    if feats.ndim == 2:
        feats = feats[:, :, None]
    if feats.shape[:2] != labels.shape:
        raise ValueError(f"features must be (H, W, C) with H, W = {labels.shape}, got shape {feats.shape}")
    comp, k = components(labels)
    first = _orphans(labels, comp, k, orphan_factor, mean_size) if orphan_factor > 0 else None
    comp, _ = _kernels.merge_small(comp, k, feats, min_size, max_segments, first)
    return comp


def enforce_connectivity_reference(
    labels: np.ndarray,
    features: np.ndarray | None = None,
    min_size: int | None = None,
    n_segments: int | None = None,
    min_size_factor: float = 0.25,
    orphan_factor: float = 0.0,
    max_segments: int | None = None,
) -> np.ndarray:
    """Make every label one 4-connected region and merge regions below ``min_size``.

    Parameters
    ----------
    labels : ``(H, W)`` int array.
    features : ``(H, W, C)`` float array used to choose the merge target (the adjacent
        region with the closest mean feature); without it, the neighbour sharing the
        longest border is taken.
    min_size : pieces smaller than this are merged. Default: ``min_size_factor * H*W / K``
        with ``K = n_segments`` (or the number of input labels).
    n_segments : the K that was asked for, for the default ``min_size``.
    orphan_factor : a piece that is not the largest piece of its label ("orphan") is also
        merged when smaller than ``orphan_factor * H*W / K``; this keeps the number of
        labels near K when clusters come out in several parts.
    max_segments : while the pieces outnumber this, each merging round also takes the
        ``pieces - max_segments`` smallest ones, so at most ``max_segments`` labels remain.

    Returns
    -------
    ``(H, W)`` int32 labels 0..k-1, every label 4-connected.
    """
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
        if orphan is not None:
            small |= orphan
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
        g = coo_matrix((np.ones(src.size, dtype=np.int8), (src, dst)), shape=(k, k))
        k, group = connected_components(g, directed=False)
        comp = group[comp]
    return relabel_sequential(comp)
