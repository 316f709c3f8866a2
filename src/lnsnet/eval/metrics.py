"""Superpixel evaluation metrics, pure numpy/scipy.

Notation used in every docstring: ``S`` is the superpixel label map and ``s`` one of its
segments, ``G`` a ground-truth (human) label map and ``g`` one of its segments, ``N`` the
number of pixels, ``|.|`` a pixel count, ``B(L)`` the boundary pixels of a label map ``L``
(see :func:`lnsnet.eval.labels.boundary_map`: a pixel whose label differs from its right or
lower neighbour, as in the SEAL/SSN evaluation code).

Conventions of all the functions:

* Boundary tolerance: a boundary pixel is matched when a boundary pixel of the other map lies
  in the ``(2r+1) x (2r+1)`` square window centred on it (Chebyshev distance ``<= r``),
  default ``r = 1`` (a 3x3 window). ``r = 0`` asks for exact pixel coincidence.
* Empty boundary sets: recall with no ground-truth boundary pixel is 1.0 (nothing to miss);
  precision with no superpixel boundary pixel is 1.0 (nothing claimed wrongly). An image
  with both sets empty therefore scores BR = BP = F = 1. In :func:`score`, an annotation
  without a boundary pixel is left out of BR, BP and F when another annotation of the
  image has one (so it cannot be the best annotator by having nothing to find).
* With an ignore label, a superpixel boundary pixel counts as a claim (precision) only
  between two known pixels, as a ground-truth one does; any superpixel boundary pixel
  may find a ground-truth one (recall).
* Several annotators: :func:`score` reports the best annotator per metric (the LNS-Net
  paper's choice; the best of each metric is taken on its own, so ``br_best`` and
  ``bp_best`` may come from different annotators) and the mean over annotators.

Label maps, ``superpixels`` and ``ground_truth`` in every function, are array_like of int
of shape ``(H, W)``; they may use any integer values (they are relabelled internally) and
label maps passed together must have the same shape. The docstrings below list only the
other parameters.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import scipy.ndimage

from ..io import boundary_mask
from .labels import (
    as_label_map,
    boundary_map,
    count_disconnected,
    relabel_consecutive,
)

__all__ = [
    "boundary_map",
    "boundary_recall",
    "boundary_precision",
    "f_measure",
    "contingency",
    "asa",
    "undersegmentation_error",
    "compactness",
    "explained_variation",
    "n_segments",
    "n_disconnected",
    "score",
    "SCORE_KEYS",
]

#: Keys of the dict returned by :func:`score`, in a stable order (handy for CSV columns).
SCORE_KEYS = (
    "asa_best", "asa_mean",
    "ue_best", "ue_mean",
    "br_best", "br_mean",
    "bp_best", "bp_mean",
    "f_best", "f_mean",
    "f1_best", "f1_mean",
    "co", "ev",
    "n_segments", "n_disconnected", "n_annotations",
)  # fmt: skip


# --------------------------------------------------------------------------- validation


def _check_radius(r) -> int:
    if isinstance(r, (bool, np.bool_)) or not isinstance(r, (int, np.integer)) or r < 0:
        raise ValueError(f"tolerance radius r must be an integer >= 0, got {r!r}")
    return int(r)


def _check_pair(sp, gt) -> tuple[np.ndarray, np.ndarray]:
    sp = as_label_map(sp, "superpixels")
    gt = as_label_map(gt, "ground truth")
    if sp.shape != gt.shape:
        raise ValueError(
            f"superpixels and ground truth must have the same shape, got {sp.shape} "
            f"and {gt.shape}"
        )
    return sp, gt


# ------------------------------------------------------------------------------ boundary


def _dilate(mask: np.ndarray, r: int) -> np.ndarray:
    """Pixels within Chebyshev distance ``r`` of a True pixel of ``mask`` (bool, HxW)."""
    if r == 0:
        return mask
    # The square footprint is separable: maximum_filter runs two 1-D passes.
    return scipy.ndimage.maximum_filter(
        mask.view(np.uint8), size=2 * r + 1, mode="constant", cval=0
    ).view(bool)


def _hits(targets: np.ndarray, dilated_other: np.ndarray) -> tuple[int, int]:
    """(#target pixels matched, #target pixels) given the other map's dilated boundary."""
    total = int(np.count_nonzero(targets))
    return int(np.count_nonzero(targets & dilated_other)), total


def _ratio(hit: int, total: int) -> float:
    return 1.0 if total == 0 else hit / total


def boundary_recall(superpixels, ground_truth, r: int = 1) -> float:
    """Boundary recall (BR): share of ground-truth boundary pixels found by the superpixels.

    .. math::

        BR(S, G) = \\frac{|\\{p \\in B(G) : \\exists q \\in B(S),\\ \\|p - q\\|_\\infty \\le r\\}|}
                        {|B(G)|}

    Source: D. Martin, C. Fowlkes, J. Malik, "Learning to detect natural image boundaries
    using local brightness, color, and texture cues", TPAMI 2004; used for superpixels by
    Achanta et al., "SLIC superpixels", TPAMI 2012, and, with the square window and the
    right/lower-neighbour boundary used here, in the SEAL (Tu et al., CVPR 2018) and SSN
    (Jampani et al., ECCV 2018) evaluation code and in LNS-Net (Zhu et al., CVPR 2021).

    Parameters
    ----------
    r : int, default 1
        Tolerance radius: a ``(2r+1) x (2r+1)`` square window.

    Returns
    -------
    float
        In ``[0, 1]``; 1.0 when the ground truth has no boundary pixel.
    """
    sp, gt = _check_pair(superpixels, ground_truth)
    r = _check_radius(r)
    return _ratio(*_hits(boundary_map(gt), _dilate(boundary_map(sp), r)))


def boundary_precision(superpixels, ground_truth, r: int = 1) -> float:
    """Boundary precision (BP): share of superpixel boundary pixels near a true boundary.

    .. math::

        BP(S, G) = \\frac{|\\{q \\in B(S) : \\exists p \\in B(G),\\ \\|p - q\\|_\\infty \\le r\\}|}
                        {|B(S)|}

    Source: Martin, Fowlkes and Malik, TPAMI 2004 (precision of a boundary detector); for
    superpixels as in the SEAL/SSN evaluation code and LNS-Net (Zhu et al., CVPR 2021).

    Parameters
    ----------
    r : int, default 1
        As in :func:`boundary_recall`.

    Returns
    -------
    float
        In ``[0, 1]``; 1.0 when the superpixels have no boundary pixel (a single segment).
    """
    sp, gt = _check_pair(superpixels, ground_truth)
    r = _check_radius(r)
    return _ratio(*_hits(boundary_map(sp), _dilate(boundary_map(gt), r)))


def f_measure(precision: float, recall: float, beta: float = 4.0) -> float:
    """F-beta score of a precision and a recall.

    .. math::

        F_\\beta = \\frac{(1 + \\beta^2)\\, P\\, R}{\\beta^2 P + R}

    ``beta > 1`` weighs recall more than precision. LNS-Net (Zhu et al., CVPR 2021, Sec. 4)
    uses ``beta = 4`` because recall matters more than precision for superpixels;
    ``beta = 1`` gives the usual F1 (the harmonic mean). Source: C. J. van Rijsbergen,
    "Information Retrieval", 2nd ed., 1979.

    Parameters
    ----------
    precision, recall : float
        In ``[0, 1]``.
    beta : float, default 4.0
        Positive weight of recall.

    Returns
    -------
    float
        In ``[0, 1]``; 0.0 when ``P = R = 0``.
    """
    if not beta > 0:
        raise ValueError(f"beta must be > 0, got {beta!r}")
    for name, v in (("precision", precision), ("recall", recall)):
        if not 0.0 <= v <= 1.0:
            raise ValueError(f"{name} must be in [0, 1], got {v!r}")
    b2 = beta * beta
    den = b2 * precision + recall
    return 0.0 if den == 0 else (1.0 + b2) * precision * recall / den


# --------------------------------------------------------------------------- region based


def contingency(superpixels, ground_truth):
    """Non-zero cells of the contingency table ``n[s, g] = |s ∩ g|``.

    Returns
    -------
    rows : numpy.ndarray of intp, shape (M,)
        Superpixel index (after :func:`relabel_consecutive`) of each non-zero cell,
        non-decreasing.
    cols : numpy.ndarray of intp, shape (M,)
        Ground-truth segment index of each cell.
    counts : numpy.ndarray of int64, shape (M,)
        ``|s ∩ g| > 0``.
    sizes : numpy.ndarray of int64, shape (n_s,)
        ``|s|`` for every superpixel.
    """
    sp, gt = _check_pair(superpixels, ground_truth)
    return _contingency(relabel_consecutive(sp), relabel_consecutive(gt))


def _contingency(sp: np.ndarray, gt: np.ndarray):
    """As :func:`contingency` for label maps already relabelled to ``0..k-1``."""
    n_s = int(sp.max()) + 1
    n_g = int(gt.max()) + 1
    key = sp.ravel().astype(np.int64) * n_g + gt.ravel()
    if n_s * n_g <= 8 * key.size + 4096:
        # Dense table through bincount: O(N + n_s n_g), no sort.
        table = np.bincount(key, minlength=n_s * n_g)
        nz = np.flatnonzero(table)
        counts = table[nz]
    else:
        # Many labels on both sides (e.g. all pixels different): sort the joint keys.
        nz, counts = np.unique(key, return_counts=True)
    rows, cols = np.divmod(nz, n_g)
    sizes = np.bincount(rows, weights=counts, minlength=n_s).astype(np.int64)
    return rows, cols, counts.astype(np.int64), sizes


def _asa_from(rows, counts, n_pixels: int) -> float:
    starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
    return float(np.maximum.reduceat(counts, starts).sum()) / n_pixels


def _ue_from(rows, counts, sizes, n_pixels: int) -> float:
    return float(np.minimum(counts, sizes[rows] - counts).sum()) / n_pixels


def asa(superpixels, ground_truth) -> float:
    """Achievable segmentation accuracy (ASA).

    The accuracy of the best segmentation that can be built from the superpixels when each
    superpixel is given to the ground-truth segment it overlaps most:

    .. math::

        ASA(S, G) = \\frac{1}{N} \\sum_{s \\in S} \\max_{g \\in G} |s \\cap g|

    Source: M.-Y. Liu, O. Tuzel, S. Ramalingam, R. Chellappa, "Entropy rate superpixel
    segmentation", CVPR 2011.

    Returns
    -------
    float
        In ``(0, 1]``; 1.0 when every superpixel lies inside one ground-truth segment.
    """
    sp, gt = _check_pair(superpixels, ground_truth)
    rows, _, counts, _ = contingency(sp, gt)
    return _asa_from(rows, counts, sp.size)


def undersegmentation_error(superpixels, ground_truth) -> float:
    """Undersegmentation error (UE), the Neubert-Protzel formulation.

    Each superpixel that overlaps a ground-truth segment ``g`` leaks either its part inside
    ``g`` or its part outside, whichever is smaller:

    .. math::

        UE(S, G) = \\frac{1}{N} \\sum_{g \\in G} \\sum_{s : s \\cap g \\neq \\emptyset}
                   \\min(|s \\cap g|,\\ |s \\setminus g|)

    Source: P. Neubert, P. Protzel, "Superpixel benchmark and comparison", Forum
    Bildverarbeitung 2012 (the form also used by Stutz et al., "Superpixels: an evaluation
    of the state-of-the-art", CVIU 2018). Lower is better.

    Returns
    -------
    float
        In ``[0, 1]``; 0.0 when every superpixel lies inside one ground-truth segment, 1.0
        when every superpixel is split between ground-truth segments none of which holds
        more than half of it.
    """
    sp, gt = _check_pair(superpixels, ground_truth)
    rows, _, counts, sizes = contingency(sp, gt)
    return _ue_from(rows, counts, sizes, sp.size)


def _areas_perimeters(sp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Areas and edge-count perimeters of the labels of ``sp`` (relabelled 0..k-1)."""
    k = int(sp.max()) + 1
    area = np.bincount(sp.ravel(), minlength=k)
    dh = sp[:, :-1] != sp[:, 1:]
    dv = sp[:-1, :] != sp[1:, :]
    cut = np.concatenate(
        [sp[:, :-1][dh], sp[:, 1:][dh], sp[:-1, :][dv], sp[1:, :][dv],
         sp[0, :], sp[-1, :], sp[:, 0], sp[:, -1]]
    )  # fmt: skip
    perimeter = np.bincount(cut, minlength=k)
    return area, perimeter


def compactness(superpixels) -> float:
    """Compactness (CO): area-weighted mean isoperimetric quotient of the superpixels.

    .. math::

        CO(S) = \\sum_{s \\in S} \\frac{|s|}{N}\\, \\frac{4 \\pi A_s}{P_s^2}

    with ``A_s = |s|`` and ``P_s`` the perimeter of ``s`` measured as the number of unit
    pixel edges between a pixel of ``s`` and a pixel outside ``s``, the image border
    included (4-connected contour length). With this convention a single pixel has
    ``P = 4`` and any ``a x b`` rectangle ``P = 2(a + b)``, so a square scores
    ``pi / 4 ~= 0.785``, the largest value a digital shape reaches.

    Source: A. Schick, M. Fischer, R. Stiefelhagen, "Measuring and evaluating the
    compactness of superpixels", ICPR 2012. Higher is more compact.

    Returns
    -------
    float
        In ``(0, pi/4]``.
    """
    sp = relabel_consecutive(as_label_map(superpixels, "superpixels"))
    area, perimeter = _areas_perimeters(sp)
    q = 4.0 * math.pi * area / perimeter.astype(np.float64) ** 2
    return float(np.sum(area * q) / sp.size)


def explained_variation(superpixels, image) -> float:
    """Explained variation (EV): share of the image's colour variance kept by superpixel means.

    .. math::

        EV(S) = \\frac{\\sum_{s \\in S} |s|\\, \\|\\mu_s - \\mu\\|^2}
                     {\\sum_{p} \\|I_p - \\mu\\|^2}

    where ``mu_s`` is the mean colour of superpixel ``s``, ``mu`` the mean colour of the
    image and ``I_p`` the colour of pixel ``p``; the squared norms sum over the channels.
    Source: A. P. Moore, S. J. D. Prince, J. Warrell, U. Mohammed, G. Jones, "Superpixel
    lattices", CVPR 2008. Higher is better.

    Parameters
    ----------
    image : array_like, shape (H, W) or (H, W, C)
        Any real dtype; values are used as they are (no rescaling, no colour conversion).

    Returns
    -------
    float
        In ``[0, 1]``. A constant image (zero variance) scores 1.0: there is nothing to
        explain.
    """
    sp = relabel_consecutive(as_label_map(superpixels, "superpixels"))
    img = np.asarray(image)
    if img.ndim == 2:
        img = img[..., None]
    if img.ndim != 3 or img.shape[:2] != sp.shape:
        raise ValueError(
            f"image must have shape (H, W) or (H, W, C) with (H, W) = {sp.shape}, got "
            f"{np.asarray(image).shape}"
        )
    if not (img.dtype == bool or np.issubdtype(img.dtype, np.number)) or np.iscomplexobj(img):
        raise ValueError(f"image must have a real dtype, got {img.dtype}")
    flat = sp.ravel()
    area = np.bincount(flat).astype(np.float64)
    pix = img.reshape(-1, img.shape[2]).astype(np.float64)
    mu = pix.mean(axis=0)
    centred = pix - mu
    total = float(np.sum(centred * centred))
    if total == 0.0:
        return 1.0
    explained = 0.0
    for c in range(centred.shape[1]):
        seg_sum = np.bincount(flat, weights=centred[:, c])
        explained += float(np.sum(seg_sum * seg_sum / area))  # |s| (mu_s - mu)^2
    return min(1.0, explained / total)


def n_segments(superpixels) -> int:
    """Number of segments delivered: the number of distinct label values.

    Returns
    -------
    int
    """
    sp = relabel_consecutive(as_label_map(superpixels, "superpixels"))
    return int(sp.max()) + 1


def n_disconnected(superpixels) -> int:
    """Number of labels whose pixels form more than one 4-connected component.

    A method that honours the package's label convention scores 0. Nothing is corrected:
    the other metrics take the labels as given.

    Returns
    -------
    int
    """
    return count_disconnected(superpixels)


# ---------------------------------------------------------------------------------- score


def _as_annotations(ground_truths) -> list[np.ndarray]:
    if isinstance(ground_truths, np.ndarray):
        if ground_truths.ndim == 2:
            return [ground_truths]
        if ground_truths.ndim == 3:
            return list(ground_truths)
        raise ValueError(
            "ground_truths must be a list of (H, W) label maps, one (H, W) map or an "
            f"(A, H, W) stack, got an array of shape {ground_truths.shape}"
        )
    if not isinstance(ground_truths, Sequence) or len(ground_truths) == 0:
        raise ValueError("ground_truths must be a non-empty list of (H, W) label maps")
    return list(ground_truths)


def score(
    superpixels,
    ground_truths,
    image=None,
    r: int = 1,
    beta: float = 4.0,
    ignore: int | None = None,
) -> dict[str, float]:
    """Score one superpixel label map against one or several human annotations.

    For each annotation ``a`` it computes ASA, UE (Neubert-Protzel), BR and BP with
    tolerance ``r``, ``F_beta(BP_a, BR_a)`` and ``F_1(BP_a, BR_a)``; it then reports, per
    metric, the best annotator (max, or min for UE; each metric on its own, as in the
    LNS-Net paper) and the mean over annotators. Compactness, explained variation and the
    segment counts do not depend on the annotation.

    Parameters
    ----------
    ground_truths : list of array_like of int, each (H, W); or one (H, W) / (A, H, W) array
    image : array_like, shape (H, W) or (H, W, C), optional
        Needed for explained variation; ``ev`` is NaN without it.
    r : int, default 1
        Boundary tolerance radius, a ``(2r+1) x (2r+1)`` window.
    beta : float, default 4.0
        Weight of recall in the F-measure reported as ``f_*`` (``f1_*`` always uses 1).
    ignore : int, optional
        A ground-truth label that means "unknown" (SBD's 0): its pixels count in no
        region metric (ASA and UE are over the other pixels, superpixel sizes included), a
        ground-truth boundary needs known labels on both sides, and so does a superpixel
        boundary pixel in the precision (a step into the unknown cannot be judged).

    Returns
    -------
    dict of str to float
        Keys :data:`SCORE_KEYS`: ``asa_best, asa_mean, ue_best, ue_mean, br_best,
        br_mean, bp_best, bp_mean, f_best, f_mean, f1_best, f1_mean`` (per annotator,
        best and mean), ``co`` (compactness), ``ev`` (explained variation or NaN),
        ``n_segments``, ``n_disconnected`` and ``n_annotations``. All values are Python
        floats (the counts are whole numbers).

    Examples
    --------
    >>> sp = np.array([[0, 0, 1, 1]] * 4)
    >>> s = score(sp, [sp, np.zeros((4, 4), int)])
    >>> s["asa_best"], s["asa_mean"], s["br_mean"]
    (1.0, 1.0, 1.0)
    """
    r = _check_radius(r)
    sp = relabel_consecutive(as_label_map(superpixels, "superpixels"))
    annotations = _as_annotations(ground_truths)
    n = sp.size
    b_sp = boundary_map(sp)
    b_sp_dil = _dilate(b_sp, r)

    per: dict[str, list[float]] = {k: [] for k in ("asa", "ue", "br", "bp", "f", "f1")}
    has_boundary: list[bool] = []
    for i, g in enumerate(annotations):
        gt = as_label_map(g, f"ground_truths[{i}]")
        if gt.shape != sp.shape:
            raise ValueError(
                f"ground_truths[{i}] has shape {gt.shape}, superpixels have {sp.shape}"
            )
        if ignore is None:
            gt = relabel_consecutive(gt)
            rows, _, counts, sizes = _contingency(sp, gt)
            b_gt, b_claim, n_known = boundary_map(gt), b_sp, n
        else:
            valid = gt != ignore
            n_known = int(np.count_nonzero(valid))
            if n_known == 0:
                raise ValueError(f"ground_truths[{i}] is all {ignore} (the ignored label): nothing to score")
            rows, _, counts, sizes = _contingency(relabel_consecutive(sp[valid]), relabel_consecutive(gt[valid]))
            b_gt = boundary_mask(gt, valid)
            b_claim = boundary_mask(sp, valid)
        hit, total = _hits(b_gt, b_sp_dil)
        has_boundary.append(total > 0)
        br = _ratio(hit, total)
        bp = _ratio(*_hits(b_claim, _dilate(b_gt, r)))
        per["asa"].append(_asa_from(rows, counts, n_known))
        per["ue"].append(_ue_from(rows, counts, sizes, n_known))
        per["br"].append(br)
        per["bp"].append(bp)
        per["f"].append(f_measure(bp, br, beta))
        per["f1"].append(f_measure(bp, br, 1.0))

    out: dict[str, float] = {}
    if any(has_boundary) and not all(has_boundary):
        # an annotation without a boundary has nothing to recall (its BR is 1 by the
        # convention) and rejects every claim (BP 0): it may not win, lift or lower the
        # boundary scores of the annotations that have one
        for name in ("br", "bp", "f", "f1"):
            per[name] = [v for v, keep in zip(per[name], has_boundary) if keep]
    for name, values in per.items():
        best = min(values) if name == "ue" else max(values)
        out[f"{name}_best"] = float(best)
        out[f"{name}_mean"] = float(np.mean(values))
    out["co"] = compactness(sp)
    out["ev"] = float("nan") if image is None else explained_variation(sp, image)
    out["n_segments"] = float(int(sp.max()) + 1)
    out["n_disconnected"] = float(count_disconnected(sp))
    out["n_annotations"] = float(len(annotations))
    return {k: out[k] for k in SCORE_KEYS}
