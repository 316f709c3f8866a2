"""Supervoxel metrics: the 2-D definitions of :mod:`lnsnet.eval.metrics` in 3-D.

- Boundary voxels (SEAL/SSN convention, one more axis): a voxel whose label differs from
  that of its next neighbour along z, y or x (the volume's faces are no boundary).
- BR / BP: a boundary voxel is matched when a boundary voxel of the other map lies in
  the ``(2r+1)^3`` cube around it (Chebyshev distance ``<= r`` voxels, whatever the
  spacing), default ``r = 1``.
- ASA and UE (Neubert-Protzel) count voxels as the 2-D ones count pixels; voxels of the
  ground truth's ``ignore`` label are left out of every score.
- EV: explained variation of the intensity by the supervoxels' means.
- CO: compactness, the volume-weighted mean isoperimetric quotient ``36 pi V^2 / A^3`` of
  the supervoxels (1 for a ball; a cube scores pi / 6 = 0.52), ``A`` counted in voxel
  faces (the volume's own faces included) in physical units of ``spacing``: the 3-D form
  of the 2-D CO (Schick et al., ICPR 2012).
"""

from __future__ import annotations

import numpy as np
import scipy.ndimage

from ..connectivity import relabel_consecutive
from ..io import boundary_mask
from .metrics import _asa_from, _contingency, _ue_from

__all__ = ["boundary_voxels", "compactness_3d", "score_volume", "score_volume_row", "count_disconnected_3d",
           "slic_volume", "VOLUME_KEYS"]

VOLUME_KEYS = ("k", "asa", "br", "bp", "ue", "ev", "co")


def boundary_voxels(labels: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
    """``(Z, Y, X)`` bool: voxels whose label differs from the next one along an axis; with
    ``valid`` (bool, same shape) only pairs of two valid voxels count
    (:func:`lnsnet.io.boundary_mask`, as in 2-D)."""
    lab = np.asarray(labels)
    if lab.ndim != 3:
        raise ValueError(f"a label volume is ZxYxX, got shape {lab.shape}")
    return boundary_mask(lab, valid)


def _dilate(mask: np.ndarray, r: int) -> np.ndarray:
    if r == 0:
        return mask
    return scipy.ndimage.maximum_filter(mask.view(np.uint8), size=2 * r + 1, mode="constant", cval=0).view(bool)


def compactness_3d(labels, spacing=(1.0, 1.0, 1.0)) -> float:
    """Volume-weighted mean of ``36 pi V^2 / A^3`` over the labels of a ``(Z, Y, X)`` map
    (see the module's docstring)."""
    lab = relabel_consecutive(np.asarray(labels))
    if lab.ndim != 3:
        raise ValueError(f"a label volume is ZxYxX, got shape {lab.shape}")
    k = int(lab.max()) + 1
    dz, dy, dx = (float(v) for v in spacing)
    face = {0: dy * dx, 1: dz * dx, 2: dz * dy}  # the area of a face normal to each axis
    area = np.zeros(k)
    for axis in range(3):
        a = np.moveaxis(lab, axis, 0)
        diff = a[1:] != a[:-1]
        both = np.concatenate([a[1:][diff], a[:-1][diff], a[0].ravel(), a[-1].ravel()])
        area += np.bincount(both, minlength=k) * face[axis]
    vol = np.bincount(lab.ravel(), minlength=k) * (dz * dy * dx)
    q = 36.0 * np.pi * vol**2 / np.maximum(area, 1e-12) ** 3
    return float((vol * q).sum() / vol.sum())


def score_volume(supervoxels, ground_truth, *, volume=None, r: int = 1, ignore: int | None = None,
                 spacing=(1.0, 1.0, 1.0)) -> dict:
    """k, ASA, BR, BP, UE, CO (and EV when ``volume`` is given) of one label volume against
    one ground truth of the same shape; ``ignore``: a ground-truth label whose voxels are
    left out of ASA and UE (not EV, which needs no ground truth: over every voxel, as in
    2-D), and a boundary between one and another voxel out of the
    boundaries to find (BR) and the claims judged (BP), as in 2-D (k still counts every
    label of ``supervoxels``); ``spacing``: the voxel size, for CO."""
    sp = np.asarray(supervoxels)
    gt = np.asarray(ground_truth)
    if sp.ndim != 3 or gt.ndim != 3:
        raise ValueError(f"supervoxels and ground truth must be (Z, Y, X) volumes, got shapes {sp.shape} and {gt.shape} "
                         "(2-D label maps: lnsnet.eval.metrics.score)")
    if sp.shape != gt.shape:
        raise ValueError(f"supervoxels and ground truth must be volumes of one shape, got {sp.shape} and {gt.shape}")
    if isinstance(r, bool) or not isinstance(r, (int, np.integer)) or r < 0:
        raise ValueError(f"tolerance radius r must be an integer >= 0, got {r!r}")
    valid = np.ones(gt.shape, dtype=bool) if ignore is None else gt != ignore
    if not valid.any():
        raise ValueError(f"the ground truth is all {ignore} (the ignored label): nothing to score")
    bs = boundary_voxels(sp)
    known = None if ignore is None else valid
    # as in 2-D: a ground-truth boundary, and a superpixel boundary claimed (precision),
    # only between two known voxels; any superpixel boundary may find a ground-truth one
    bg, claims = boundary_voxels(gt, known), boundary_voxels(sp, known)
    hit_r = int(np.count_nonzero(bg & _dilate(bs, r)))
    hit_p = int(np.count_nonzero(claims & _dilate(bg, r)))
    n_bg, n_bs = int(bg.sum()), int(claims.sum())
    s, g = relabel_consecutive(sp[valid]), relabel_consecutive(gt[valid])
    rows, _, counts, sizes = _contingency(s, g)
    k = int(s.max()) + 1 if ignore is None else int(np.unique(sp).size)  # every label the method returned
    out = {"k": k, "asa": _asa_from(rows, counts, s.size),
           "br": 1.0 if n_bg == 0 else hit_r / n_bg, "bp": 1.0 if n_bs == 0 else hit_p / n_bs,
           "ue": _ue_from(rows, counts, sizes, s.size), "co": compactness_3d(sp, spacing)}
    if volume is not None:
        s = relabel_consecutive(sp).ravel()
        v = np.asarray(volume, dtype=np.float64).reshape(s.size, -1)  # (n, channels)
        total = ((v - v.mean(0)) ** 2).sum()
        n = np.bincount(s).astype(np.float64)
        means = np.stack([np.bincount(s, weights=v[:, c], minlength=n.size) for c in range(v.shape[1])], 1)
        means /= np.maximum(n, 1)[:, None]
        between = (n[:, None] * (means - v.mean(0)) ** 2).sum()
        out["ev"] = 1.0 if total == 0 else float(between / total)
    return out


def count_disconnected_3d(labels) -> int:
    """Number of labels whose voxels form more than one 6-connected component."""
    import skimage.measure

    lab = relabel_consecutive(np.asarray(labels))
    if lab.ndim != 3:
        raise ValueError(f"a label volume is ZxYxX, got shape {lab.shape}")
    regions = skimage.measure.label(lab + 1, background=0, connectivity=1)
    region_label = np.zeros(int(regions.max()) + 1, dtype=np.int64)
    region_label[regions.ravel()] = lab.ravel()
    return int(np.count_nonzero(np.bincount(region_label[1:]) > 1))


def score_volume_row(supervoxels, ground_truth, *, volume=None, r: int = 1, ignore: int | None = None,
                     spacing=(1.0, 1.0, 1.0), beta: float = 4.0) -> dict:
    """:func:`score_volume` under the keys of :data:`lnsnet.eval.metrics.SCORE_KEYS`, so that a
    volume's row is a row of the benchmark: one annotation, so ``*_best`` and ``*_mean`` are
    the same value; F from BP and BR; the disconnected labels counted with 6-connectivity."""
    from .metrics import f_measure

    s = score_volume(supervoxels, ground_truth, volume=volume, r=r, ignore=ignore, spacing=spacing)
    out = {}
    for key in ("asa", "ue", "br", "bp"):
        out[f"{key}_best"] = out[f"{key}_mean"] = float(s[key])
    out["f_best"] = out["f_mean"] = f_measure(s["bp"], s["br"], beta)
    out["f1_best"] = out["f1_mean"] = f_measure(s["bp"], s["br"], 1.0)
    out["co"] = float(s["co"])
    out["ev"] = float(s.get("ev", float("nan")))
    out["n_segments"] = float(s["k"])
    out["n_disconnected"] = float(count_disconnected_3d(supervoxels))
    out["n_annotations"] = 1.0
    return out


def slic_volume(volume, n_segments, *, spacing=(1.0, 1.0, 1.0), channel_axis=None, compactness=10.0,
                max_num_iter=10, sigma=0.0, min_size_factor=0.5, max_size_factor=3.0, slic_zero=False):
    """scikit-image's 3-D ``slic`` with the voxel size, labels from 0 (its defaults; the
    benchmark's ``slic`` and ``slic:KEY=VALUE`` on volumes)."""
    from skimage.segmentation import slic

    return slic(volume, n_segments=int(n_segments), compactness=compactness, max_num_iter=max_num_iter, sigma=sigma,
                spacing=np.asarray(spacing, dtype=float), channel_axis=channel_axis, min_size_factor=min_size_factor,
                max_size_factor=max_size_factor, slic_zero=slic_zero, enforce_connectivity=True, start_label=0)
