"""Per-superpixel (and per-supervoxel) measurements: area, centroid, bounding box and mean intensity per label.

:func:`regions` gives what ``skimage.measure.regionprops_table`` gives for these
properties, with the same column names (skimage 0.26: ``label``, ``area``,
``centroid-0``, ``centroid-1``, ``bbox-0`` .. ``bbox-3`` half-open, and
``intensity_mean`` for a gray image or ``intensity_mean-<c>`` per channel), one row per
label present in ascending order. It is vectorised numpy in O(H W): one pass finds the
horizontal runs of equal labels, one ``np.add.reduceat`` per channel sums the pixels of
each run, and the rest is computed per run (``np.bincount`` with weights, a scatter for
each label's first and last run, ``np.minimum.at``); no sort unless the label values are
far above the pixel count. :func:`write_csv` writes such a table atomically.

No torch and no compiled kernels here: importing this module costs only numpy.
"""

from __future__ import annotations

import csv
import io as _io
from collections.abc import Iterable, Mapping

import numpy as np

try:
    from .errors import ArgumentTypeError
except ImportError:  # this file loaded on its own (it needs numpy only)
    class ArgumentTypeError(TypeError, ValueError):
        """An argument of the wrong kind (as :class:`lnsnet.errors.ArgumentTypeError`)."""

__all__ = ["regions", "write_csv", "PROPERTIES"]

#: The properties :func:`regions` computes, in its default column order.
PROPERTIES = ("label", "area", "centroid", "bbox", "intensity_mean")


def _check_labels(labels) -> np.ndarray:
    arr = np.asarray(labels)
    if arr.dtype.kind not in "iu":
        raise ArgumentTypeError(f"labels must be an integer array, got dtype {arr.dtype}")
    if arr.ndim not in (2, 3):
        raise ValueError(f"labels must be 2-D (H, W) or 3-D (Z, Y, X), got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"labels is empty, got shape {arr.shape}")
    if arr.dtype.kind == "i":
        lo = arr.min()
        if lo < 0:
            raise ValueError(f"labels must be >= 0, got minimum {int(lo)}"
                             + (" (segment's outside of a mask with start_label=0: pass background=-1)"
                                if lo == -1 else ""))
    return arr


def _check_image(image, shape) -> np.ndarray:
    img = np.asarray(image)
    if img.dtype.kind not in "biuf":
        raise ArgumentTypeError(f"image must be a numeric (bool, integer or float) array, got dtype {img.dtype}")
    if img.ndim not in (len(shape), len(shape) + 1) or img.shape[:len(shape)] != shape:
        what = "(H, W) or (H, W, C)" if len(shape) == 2 else "(Z, Y, X) or (Z, Y, X, C)"
        raise ValueError(f"image must be {what} with the labels' shape {shape} first, got shape {img.shape}")
    if img.size == 0:
        raise ValueError(f"image is empty, got shape {img.shape}")
    return img


def _check_properties(properties, has_image: bool) -> tuple[str, ...]:
    if properties is None:
        return PROPERTIES if has_image else PROPERTIES[:-1]
    if isinstance(properties, (str, bytes)) or not isinstance(properties, Iterable):
        raise ArgumentTypeError(f"properties must be a list of names from {PROPERTIES}, got {properties!r}")
    props = tuple(properties)
    for p in props:
        if p == "mean_intensity":
            raise ValueError("unknown property 'mean_intensity': use 'intensity_mean' (skimage's name since 0.19)")
        if p not in PROPERTIES:
            raise ValueError(f"unknown property {p!r}: choose from {PROPERTIES}")
    if len(set(props)) != len(props):
        raise ValueError(f"properties has a name twice: {props}")
    if "intensity_mean" in props and not has_image:
        raise ValueError("property 'intensity_mean' needs an image, got image=None")
    return props


def _runs(lab: np.ndarray):
    """Horizontal runs of equal labels, in raster order: ``(start, length)`` as flat pixel
    indices. Every image row starts a run; so does a pixel whose left neighbour differs."""
    h, w = lab.shape
    starts = np.empty((h, w), dtype=bool)
    starts[:, 0] = True
    np.not_equal(lab[:, 1:], lab[:, :-1], out=starts[:, 1:])
    s = np.flatnonzero(starts)
    return s, np.diff(s, append=lab.size)


def _index(run_val: np.ndarray, run_len: np.ndarray, n: int):
    """``(idx, size, counts, values)`` for runs of label values ``run_val`` covering ``n``
    pixels: an intp row per run into tables of ``size`` rows, the pixel count per row, and
    the label value of each row (``None`` when row r is label r)."""
    hi = int(run_val.max())
    if hi <= 4 * n + 1024:  # a lookup table: O(N + max label), no sort
        idx = run_val.astype(np.intp, copy=False)
        counts = np.bincount(idx, weights=run_len, minlength=hi + 1).astype(np.int64)
        present = np.flatnonzero(counts)
        if hi + 1 <= 2 * present.size + 1024:  # dense enough: the labels index the tables
            return idx, hi + 1, counts, None
        lut = np.zeros(hi + 1, dtype=np.intp)
        lut[present] = np.arange(present.size)
        return lut[idx], present.size, counts[present], present
    values, inv = np.unique(run_val, return_inverse=True)  # label values far above H*W: sort
    idx = inv.reshape(-1).astype(np.intp, copy=False)
    return idx, values.size, np.bincount(idx, weights=run_len, minlength=values.size).astype(np.int64), values


def regions(
    image,
    labels,
    *,
    properties: Iterable[str] | None = None,
    background: int | None = None,
    spacing=None,
) -> dict[str, np.ndarray]:
    """Area, centroid, bounding box and mean intensity of every label, as columns, for
    superpixels ``(H, W)`` or supervoxels ``(Z, Y, X)``.

    Parameters
    ----------
    image : ``(H, W)`` or ``(H, W, C)`` array of any numeric dtype, or None (no
        intensity columns). Means are float64 in the image's own units (no rescaling).
    labels : ``(H, W)`` or ``(Z, Y, X)`` integer array, values >= 0 (but ``background``). Every
        value present is a region, 0 included (labels may start at 0 or at 1; gaps are fine).
    properties : names from :data:`PROPERTIES` (``label``, ``area``, ``centroid``,
        ``bbox``, ``intensity_mean``), in the column order wanted. Default: all of them
        (``intensity_mean`` only with an image).
    background : a label value left out of the table, which may be negative (``0``, or
        ``-1`` with ``start_label=0``, for the pixels outside a mask). None (default): no
        label is left out.
    spacing : the pixel (voxel) size per axis (one number: the same on every axis), as
        skimage's ``regionprops_table(..., spacing=)``: ``area`` is then in physical units (float64: a supervoxel's volume in
        mm^3 for a scan in mm) and the centroid too (from the array's corner); the bounding
        box stays in indices. None: 1 on every axis (``area`` a pixel count, int64).

    Returns
    -------
    dict of 1-D arrays, one row per label present (ascending), columns named as
    ``skimage.measure.regionprops_table`` (0.26) names them:

    For a 3-D ``labels`` (Z, Y, X) the centroid has three columns and the bounding box six
    (``bbox-0`` .. ``bbox-2`` the minima, ``bbox-3`` .. ``bbox-5`` the maxima + 1), as
    skimage's; ``image`` is ``(Z, Y, X)`` or ``(Z, Y, X, C)``.

    - ``label`` int64 (uint64 for uint64 labels)
    - ``area`` int64: pixel count (skimage gives the same values as float64)
    - ``centroid-0``, ``centroid-1`` float64: mean row, mean column
    - ``bbox-0``, ``bbox-1``, ``bbox-2``, ``bbox-3`` int64: min row, min column,
      max row + 1, max column + 1 (half-open, as skimage)
    - ``intensity_mean`` float64 for an ``(H, W)`` image, else ``intensity_mean-0`` ..
      ``intensity_mean-<C-1>``, one per channel

    Raises
    ------
    TypeError
        Labels not integer (bool and float included), image not numeric, ``properties``
        not a list of names, ``background`` not an int.
    ValueError
        Labels not 2-D or 3-D, empty or negative; image shape not the labels' (with a
        channel axis last or not), or empty; unknown property; bad ``spacing``.

    >>> t = regions(np.array([[1., 2.], [3., 4.]]), np.array([[0, 0], [0, 5]]))
    >>> t["label"].tolist(), t["area"].tolist(), t["intensity_mean"].tolist()
    ([0, 5], [3, 1], [2.0, 4.0])
    """
    if (isinstance(background, (int, np.integer)) and not isinstance(background, (bool, np.bool_))
            and background < 0 and np.asarray(labels).dtype.kind == "i"):
        # slic's labels with start_label=0 and a mask: -1 outside; that value stands aside
        arr = np.asarray(labels)
        hole = arr == background
        if hole.any():
            sentinel = int(arr[~hole].max()) + 1 if not hole.all() else 0
            labels, background = np.where(hole, sentinel, arr.astype(np.int64)), sentinel
    lab = _check_labels(labels)
    img = None if image is None else _check_image(image, lab.shape)
    props = _check_properties(properties, img is not None)
    nd = lab.ndim
    if spacing is not None:
        sp = np.asarray(spacing, dtype=np.float64).reshape(-1)
        if sp.size == 1:  # one number: every axis (as skimage takes it)
            sp = np.repeat(sp, nd)
            spacing = tuple(sp)
        if sp.size != nd or not np.all(np.isfinite(sp)) or not np.all(sp > 0):
            raise ValueError(f"spacing must be {nd} positive numbers (one per axis), got {spacing!r}")
    w = lab.shape[-1]
    # Everything is read from the runs of equal labels along the last axis (one pass over
    # the pixels finds them); run r covers columns c0..c1-1 of row ``row`` (for a volume,
    # row = z * Y + y).
    flat = lab.reshape(-1, w)
    s, run_len = _runs(flat)
    run_lab, size, counts, values = _index(lab.reshape(-1)[s], run_len, lab.size)
    row = s // w
    c0 = s - row * w
    c1 = c0 + run_len
    lead = [row] if nd == 2 else [row // lab.shape[1], row % lab.shape[1]]  # each run's index on the axes before the last
    rows = np.flatnonzero(counts) if values is None else np.arange(size)
    if background is not None:
        if isinstance(background, (bool, np.bool_)) or not isinstance(background, (int, np.integer)):
            raise ArgumentTypeError(f"background must be an int label value or None, got {background!r}")
        bg = int(background)
        rows = rows[(rows if values is None else values[rows]) != bg]
    out: dict[str, np.ndarray] = {}
    for p in props:
        if p == "label":
            dtype = np.uint64 if lab.dtype == np.uint64 else np.int64
            out["label"] = (rows if values is None else values[rows]).astype(dtype)
        elif p == "area":
            out["area"] = (counts[rows].astype(np.int64) if spacing is None
                           else counts[rows].astype(np.float64) * float(np.prod(sp)))
        elif p == "centroid":
            area = counts[rows].astype(np.float64)
            sums = [np.bincount(run_lab, weights=run_len * a, minlength=size) for a in lead]
            # sum of c0..c1-1 = len * (c0 + c1 - 1) / 2, exact in float64
            sums.append(np.bincount(run_lab, weights=run_len * (c0 + c1 - 1) / 2, minlength=size))
            for d, total in enumerate(sums):
                out[f"centroid-{d}"] = total[rows] / area * (1.0 if spacing is None else sp[d])
        elif p == "bbox":
            # Runs are in raster order: a label's first run has its smallest index on the
            # first axis, its last run its largest (on repeated indices the last assignment
            # stays); the other axes by minimum and maximum.
            order = np.arange(s.size)
            first = np.empty(size, dtype=np.intp)
            first[run_lab[::-1]] = order[::-1]
            last = np.empty(size, dtype=np.intp)
            last[run_lab] = order
            lo = [lead[0][first[rows]]]
            hi = [lead[0][last[rows]] + 1]
            for a in lead[1:]:
                mn = np.full(size, lab.shape[1], dtype=np.intp)
                np.minimum.at(mn, run_lab, a)
                mx = np.zeros(size, dtype=np.intp)
                np.maximum.at(mx, run_lab, a + 1)
                lo.append(mn[rows])
                hi.append(mx[rows])
            min_x = np.full(size, w, dtype=np.intp)
            np.minimum.at(min_x, run_lab, c0)
            max_x = np.zeros(size, dtype=np.intp)
            np.maximum.at(max_x, run_lab, c1)
            lo.append(min_x[rows])
            hi.append(max_x[rows])
            for d, v in enumerate(lo + hi):
                out[f"bbox-{d}"] = v.astype(np.int64)
        elif p == "intensity_mean":
            area = counts[rows].astype(np.float64)
            if img.ndim == nd:
                chans = [("intensity_mean", img.reshape(-1))]
            else:
                chans = [(f"intensity_mean-{c}", img[..., c].reshape(-1)) for c in range(img.shape[-1])]
            for name, v in chans:
                run_sums = np.add.reduceat(v, s, dtype=np.float64)  # each run's sum, in order
                sums = np.bincount(run_lab, weights=run_sums, minlength=size)
                out[name] = sums[rows] / area
    return out


def _cells(col: np.ndarray) -> list[str]:
    if col.dtype.kind in "iu":
        return [str(v) for v in col.tolist()]
    if col.dtype == np.float64:
        return [repr(v) for v in col.tolist()]  # shortest text that reads back the same float
    if col.dtype.kind == "f":
        return [str(v) for v in col]  # numpy's shortest repr at the column's own precision
    return [str(v) for v in col.tolist()]


def write_csv(table: Mapping[str, np.ndarray], path) -> None:
    """Write a table of equal-length 1-D columns (as :func:`regions` returns) to ``path``
    as CSV: a header row with the column names, then one line per row; integers written
    as integers, floats as their shortest round-trip text (``repr``); ``\\n`` line ends.
    Atomic (:func:`lnsnet.io.atomic_write`): the file is whole or not there.

    Raises ``ValueError`` for a table with no columns, a column that is not 1-D, or
    columns of different lengths.
    """
    from .io import atomic_write

    if not isinstance(table, Mapping):
        raise ArgumentTypeError(f"table must be a mapping of column name to 1-D array, got {type(table).__name__}")
    if not table:
        raise ValueError("table has no columns")
    cols = {str(k): np.asarray(v) for k, v in table.items()}
    n = None
    for name, col in cols.items():
        if col.ndim != 1:
            raise ValueError(f"column {name!r} must be 1-D, got shape {col.shape}")
        if n is None:
            n = col.size
        elif col.size != n:
            raise ValueError(f"columns have different lengths: {name!r} has {col.size}, the first has {n}")
    buf = _io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(cols.keys())
    writer.writerows(zip(*(_cells(c) for c in cols.values())))
    atomic_write(path, buf.getvalue())
