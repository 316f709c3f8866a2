"""The compact clustering on the CPU: local assignment with an edge-aware spatial term,
SLIC-style seed rounds, and ICM sweeps of a contrast-sensitive Potts term.

Works on the whole image or band by band (the features of a band come from a callable),
so a large image never needs its pixel-to-seed distances in memory at once. The compiled
kernels are in :mod:`lnsnet.cluster.kernels`.
"""

from __future__ import annotations

import numpy as np

from ..grid import Grid
from . import kernels
from .options import ClusterOptions

__all__ = ["cluster_local", "edge_weights", "contrast_beta", "feature_weights", "keeps_dists",
           "feature_passes"]

# the distances of every pixel to its candidate seeds (the smoothing's data term) are kept
# when they take at most this many bytes (else they are recomputed for every ICM sweep)
DISTS_CACHE_BYTES = 1 << 30


def edge_weights(image: np.ndarray, edge_scale: float) -> np.ndarray:
    """``exp(-g / edge_scale)`` per pixel, ``g`` the largest squared difference of
    ``image`` ``(channels, H, W)`` to a 4-neighbour over the image's mean of it
    (``(H, W)`` float32; all ones for ``edge_scale = 0`` or a flat image)."""
    if edge_scale <= 0:
        return np.ones(np.shape(image)[1:], dtype=np.float32)
    g = kernels.edge_strength(image)
    mean = float(g.mean(dtype=np.float64))
    if mean <= 1e-12:
        return np.ones_like(g)
    g *= np.float32(-1.0 / (mean * edge_scale))
    return np.exp(g, out=g)


def _beta(total: float, pairs: int) -> float:
    mean = total / pairs if pairs else 0.0
    return 0.0 if mean <= 1e-12 else 1.0 / (2.0 * mean)


def contrast_beta(image: np.ndarray) -> float:
    """``1 / (2 <|dI|^2>)`` over the 4-neighbour pairs of ``image`` ``(channels, H, W)``
    (the usual contrast-sensitive Potts scale; 0 for a flat image)."""
    return _beta(*kernels.pair_steps(image))


def feature_weights(s1, s2, n: int, feature_contrast: float) -> np.ndarray:
    """The squared weight ``(feature_contrast / (sqrt(C) * std_c))^2`` of each feature
    channel in the smoothing's contrast, from its sum ``s1``, sum of squares ``s2`` over
    ``n`` pixels; float32 ``(C,)``. The std is floored at 1e-3 of the largest channel's
    (plus 1e-6), so a channel that is flat but for a few spikes does not dominate the
    contrast; the weights are capped at 1e30, so they stay finite."""
    std = np.sqrt(np.maximum(np.asarray(s2, np.float64) / n - (np.asarray(s1, np.float64) / n) ** 2, 0.0))
    floor = 1e-3 * float(std.max(initial=0.0))
    with np.errstate(over="ignore"):  # inf is capped below
        a2 = (feature_contrast / (np.sqrt(max(len(std), 1)) * (np.maximum(std, floor) + 1e-6))) ** 2
    return np.minimum(a2, 1e30).astype(np.float32)


def keeps_dists(h: int, w: int, options: ClusterOptions) -> bool:
    """Whether :func:`cluster_local` keeps the candidate distances of an ``h x w`` image
    for its ICM sweeps (else it recomputes them, from Z, for every sweep)."""
    return options.smoothing > 0 and h * w * options.window**2 * 4 <= DISTS_CACHE_BYTES


def feature_passes(h: int, w: int, options: ClusterOptions) -> int:
    """How many times :func:`cluster_local` reads the features of an ``h x w`` image: the
    seed rounds, the final assignment, a pass for the features' statistics when the
    smoothing's contrast uses them without seed rounds, and every ICM sweep when the
    distances are not kept."""
    stats_pass = options.uses_feature_contrast and not options.iterations
    sweeps = 2 * options.SMOOTHING_SWEEPS if options.smoothing > 0 and not keeps_dists(h, w, options) else 0
    return 1 + options.iterations + stats_pass + sweeps


def _channels_last(z: np.ndarray, extra: np.ndarray | None) -> np.ndarray:
    """``z`` ``(C, h, W)`` and ``extra`` ``(E, h, W)`` (or None) as one contiguous
    ``(h, W, P)`` float32 array, in one pass: the ``C + E`` channels, then zeros up to
    ``P = kernels.padded_channels(C + E)`` (the assignment kernel's fastest layout)."""
    c, h, w = z.shape
    e = 0 if extra is None else extra.shape[0]
    out = np.empty((h, w, kernels.padded_channels(c + e)), dtype=np.float32)
    kernels.interleave(np.asarray(z, dtype=np.float32), None if extra is None else np.asarray(extra, np.float32), out)
    return out


def cluster_local(zband, bands, grid: Grid, image, seed_feats, seed_pos, options: ClusterOptions, *,
                  mask=None, spacing=(1.0, 1.0), extra=None, contour=None) -> np.ndarray:
    """Raw labels (seed indices) of one image by local clustering on the CPU.

    ``zband(r0, r1)`` gives the pixel features of rows ``r0 .. r1`` ``(C, r1 - r0, W)``
    float32 for each ``(r0, r1)`` in ``bands`` (the whole image: ``[(0, H)]``, else
    consecutive bands from the top);
    ``image`` ``(3, H, W)`` is the clustering's colour (the standardised CIELAB on one
    scale, :func:`lnsnet.features.colour_scale_of`) the edge weights and the Potts
    contrast are measured on; ``seed_feats`` ``(K, C)``, ``seed_pos`` ``(K, 2)`` pixels.
    Steps (``options``, a :class:`ClusterOptions`): ``iterations`` rounds of
    assign-and-move-seeds, the final assignment, then ``smoothing``'s ICM sweeps, their
    contrast on CIELAB and ``feature_contrast`` times the standardised features.
    ``mask`` ``(H, W)`` bool: only those pixels are clustered (the others come out -1), and
    only among the seeds of cells that hold some of them (the others never win).
    ``spacing`` ``(row, column)``: the physical pixel size of the spatial term.
    ``extra`` ``(E, H, W)``: channels appended to every pixel's features (the input beside
    the learned features, ``ClusterOptions.input_weight``; ``seed_feats`` then has
    ``C + E`` columns).
    ``contour`` ``(H, W)``: a factor of the spatial term at every pixel (the contour head's
    :func:`lnsnet.model.contour.contour_factor`; None: 1).
    """
    compactness, edge_scale, window = options.compactness, options.edge_scale, options.window
    iterations, smoothing, feature_contrast = options.iterations, options.smoothing, options.feature_contrast
    image = np.ascontiguousarray(image, dtype=np.float32)  # once, not per band
    h, w = image.shape[1:]
    pr, pc = (t.numpy() for t in grid.pixel_cells())
    sy, sx = float(spacing[0]), float(spacing[1])
    weight = compactness / (grid.cell_size[0] * sy * grid.cell_size[1] * sx)
    wmap = edge_weights(image, edge_scale) if weight > 0 and edge_scale > 0 else None
    if contour is not None and weight > 0:
        contour = np.asarray(contour, dtype=np.float32)
        wmap = contour.copy() if wmap is None else np.multiply(wmap, contour, out=wmap)
    feats = np.array(seed_feats, dtype=np.float32)
    if mask is not None:
        mask = np.asarray(mask, dtype=bool)
        feats[~grid.cells_in(mask)] = np.inf  # seeds of cells without a masked pixel never win
    pos = np.asarray(seed_pos, dtype=np.float32)
    raw = np.empty((h, w), dtype=np.int32)
    best = np.empty((h, w), dtype=np.float32)
    whole = len(bands) == 1
    zt_whole = []  # one piece: Z channels-last (the kernels' layout) once for every pass

    n_ch = feats.shape[1]  # the features' channels (the kernels' layout pads zeros after them)

    def zt(r0, r1):
        if not whole:
            return _channels_last(zband(r0, r1), None if extra is None else extra[:, r0:r1])
        if not zt_whole:
            zt_whole.append(_channels_last(zband(0, h), extra))
        return zt_whole[0][r0:r1]

    def assign_band(r0, r1, z=None, **kw):  # with the seeds (feats, pos) of the moment
        out = kernels.local_assign(zt(r0, r1) if z is None else z, feats, grid.rows, grid.cols, pr[r0:r1], pc, pos,
                                   weight, r0, window, None if wmap is None else wmap[r0:r1], channels_last=True,
                                   spacing=(sy, sx), **kw)
        if mask is not None:  # pixels outside the mask: -1 (left out of the seed sums and the smoothing)
            (out[0] if isinstance(out, tuple) else out)[~mask[r0:r1]] = -1
        return out

    by_features = options.uses_feature_contrast
    fstats, above = None, None  # the features' sums (see feature_stats), the last row read

    def take_stats(z):  # bands come in order, top to bottom
        nonlocal fstats, above
        fstats = kernels.feature_stats(z, above, fstats, channels=n_ch)
        above = z[-1].copy()

    for it in range(iterations):  # SLIC-style rounds
        sums = None
        for r0, r1 in bands:
            z = zt(r0, r1)  # once per band and round (without a Z cache it is the network's output)
            if by_features and it == 0:
                take_stats(z)
            sums = kernels.seed_sums(z, assign_band(r0, r1, z), grid.n_seeds, r0, sums, channels_last=True)
        fsum, psum, cnt = sums  # seeds move to their pixels' means (a seed without pixels stays)
        fsum = fsum[:, :n_ch]
        kept = cnt[:, None] > 0
        n = np.maximum(cnt, 1.0)[:, None]
        feats = np.where(kept, fsum / n, feats).astype(np.float32)
        pos = np.where(kept, psum / n, pos).astype(np.float32)
    if by_features and iterations == 0:  # one pass more for the features' statistics
        for r0, r1 in bands:
            take_stats(zt(r0, r1))
    beta, a2 = 0.0, np.empty(0, np.float32)
    if smoothing > 0:
        lab_sq, pairs = kernels.pair_steps(image)
        if by_features:
            a2 = feature_weights(fstats[0], fstats[1], h * w, feature_contrast)
            lab_sq += float(np.dot(a2, fstats[2]))
        beta = _beta(lab_sq, pairs)
        weights = (np.zeros((h, w), np.float32), np.zeros((h, w), np.float32))
    keep_dists = keeps_dists(h, w, options)
    dists = {}
    above = None
    for r0, r1 in bands:
        z = zt(r0, r1)
        if smoothing > 0:  # the contrast weights of the band's pairs and those with the row above
            zc = z if by_features else np.empty((r1 - r0, w, 0), np.float32)
            kernels.contrast_weights(image, beta, zc, a2, y0=r0, prev=above, out=weights)  # reads n_ch = len(a2)
            above = None if whole else zc[-1].copy()
        if keep_dists:
            raw[r0:r1], best[r0:r1], dists[r0] = assign_band(r0, r1, z, return_best=True, return_dists=True)
        else:
            raw[r0:r1], best[r0:r1] = assign_band(r0, r1, z, return_best=True)
    if smoothing > 0:
        lam = smoothing * max(kernels.median(best if mask is None else best[mask]), 1e-6)
        del best
        dirty = np.ones((h, w), np.uint8)  # the pixels to look at again (kernels.potts_sweep)
        for _ in range(options.SMOOTHING_SWEEPS):
            for colour in (0, 1):
                for r0, r1 in bands:
                    if not whole and not dirty[r0:r1].any():
                        continue  # nothing to look at again in this band: its distances not recomputed
                    d = dists[r0] if keep_dists else assign_band(r0, r1, return_dists=True)[1]
                    kernels.potts_sweep(d, grid.cols, raw, weights, pr[r0:r1], pc, lam=lam, colour=colour,
                                         y0=r0, window=window, dirty=dirty)
    return raw
