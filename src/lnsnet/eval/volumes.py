"""Supervoxel metrics: the 2-D definitions of :mod:`lnsnet.eval.metrics` in 3-D.

- Boundary voxels (SEAL/SSN convention, one more axis): a voxel whose label differs from
  that of its next neighbour along z, y or x (the volume's faces are no boundary).
- BR / BP: a boundary voxel is matched when a boundary voxel of the other map lies in
  the ``(2r+1)^3`` cube around it (Chebyshev distance ``<= r`` voxels, whatever the
  spacing), default ``r = 1``.
- ASA and UE (Neubert-Protzel) count voxels as the 2-D ones count pixels; voxels of the
  ground truth's ``ignore`` label are left out of every score.
- EV: explained variation of the intensity by the supervoxels' means.
"""

from __future__ import annotations

import numpy as np
import scipy.ndimage

from ..connectivity import relabel_consecutive
from .metrics import _asa_from, _contingency, _ue_from

__all__ = ["boundary_voxels", "score_volume", "VOLUME_KEYS"]

VOLUME_KEYS = ("k", "asa", "br", "bp", "ue", "ev")


def boundary_voxels(labels: np.ndarray) -> np.ndarray:
    """``(Z, Y, X)`` bool: voxels whose label differs from the next one along an axis."""
    lab = np.asarray(labels)
    if lab.ndim != 3:
        raise ValueError(f"a label volume is ZxYxX, got shape {lab.shape}")
    b = np.zeros(lab.shape, dtype=bool)
    b[:-1] |= lab[:-1] != lab[1:]
    b[:, :-1] |= lab[:, :-1] != lab[:, 1:]
    b[:, :, :-1] |= lab[:, :, :-1] != lab[:, :, 1:]
    return b


def _dilate(mask: np.ndarray, r: int) -> np.ndarray:
    if r == 0:
        return mask
    return scipy.ndimage.maximum_filter(mask.view(np.uint8), size=2 * r + 1, mode="constant", cval=0).view(bool)


def score_volume(supervoxels, ground_truth, *, volume=None, r: int = 1, ignore: int | None = None) -> dict:
    """k, ASA, BR, BP, UE (and EV when ``volume`` is given) of one label volume against one
    ground truth of the same shape; ``ignore``: a ground-truth label left out."""
    sp = np.asarray(supervoxels)
    gt = np.asarray(ground_truth)
    if sp.shape != gt.shape or sp.ndim != 3:
        raise ValueError(f"supervoxels and ground truth must be volumes of one shape, got {sp.shape} and {gt.shape}")
    if isinstance(r, bool) or not isinstance(r, (int, np.integer)) or r < 0:
        raise ValueError(f"tolerance radius r must be an integer >= 0, got {r!r}")
    valid = np.ones(gt.shape, dtype=bool) if ignore is None else gt != ignore
    bs, bg = boundary_voxels(sp), boundary_voxels(gt)
    if ignore is not None:  # a boundary with an ignored voxel is no boundary
        bad = ~valid
        near = bad.copy()
        near[:-1] |= bad[1:]
        near[:, :-1] |= bad[:, 1:]
        near[:, :, :-1] |= bad[:, :, 1:]
        bg &= ~near & valid
        bs &= valid
    hit_r = int(np.count_nonzero(bg & _dilate(bs, r)))
    hit_p = int(np.count_nonzero(bs & _dilate(bg, r)))
    n_bg, n_bs = int(bg.sum()), int(bs.sum())
    s, g = relabel_consecutive(sp[valid]), relabel_consecutive(gt[valid])
    rows, _, counts, sizes = _contingency(s, g)
    out = {"k": int(s.max()) + 1, "asa": _asa_from(rows, counts, s.size),
           "br": 1.0 if n_bg == 0 else hit_r / n_bg, "bp": 1.0 if n_bs == 0 else hit_p / n_bs,
           "ue": _ue_from(rows, counts, sizes, s.size)}
    if volume is not None:
        v = np.asarray(volume, dtype=np.float64)[valid]  # (n,) or (n, channels)
        v = v.reshape(v.shape[0], -1)
        total = ((v - v.mean(0)) ** 2).sum()
        n = np.bincount(s, minlength=out["k"]).astype(np.float64)
        means = np.stack([np.bincount(s, weights=v[:, c], minlength=out["k"]) for c in range(v.shape[1])], 1)
        means /= np.maximum(n, 1)[:, None]
        between = (n[:, None] * (means - v.mean(0)) ** 2).sum()
        out["ev"] = 1.0 if total == 0 else float(between / total)
    return out
