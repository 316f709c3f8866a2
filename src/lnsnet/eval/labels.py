"""Helpers on integer label maps shared by the metrics, datasets and baselines.

Everything here is pure numpy/scipy and works on 2-D integer label maps of shape ``(H, W)``:
every function takes ``labels``, an array_like of int of shape ``(H, W)``, checked by
:func:`as_label_map` (but ``relabel_consecutive``, the package's one relabelling from
:mod:`lnsnet.connectivity`, re-exported here, which takes any integer array unchecked). Connectivity is always 4-connectivity (a pixel touches its left,
right, upper and lower neighbours), the convention of the whole package.
"""

from __future__ import annotations

import numpy as np

from ..connectivity import components, relabel_consecutive
from ..io import boundary_mask

__all__ = [
    "as_label_map",
    "relabel_consecutive",
    "connected_regions",
    "split_disconnected",
    "count_disconnected",
    "boundary_map",
]


def as_label_map(labels, name: str = "labels") -> np.ndarray:
    """Validate a label map and return it as a numpy array (no copy when possible).

    Parameters
    ----------
    labels : array_like, shape (H, W)
        Integer (or boolean) label map with at least one pixel.
    name : str
        Name used in error messages.

    Returns
    -------
    numpy.ndarray, shape (H, W)
        The same values; booleans are cast to int32.

    Raises
    ------
    ValueError
        If the array is not 2-D, is empty, or has a non-integer dtype.
    """
    arr = np.asarray(labels)
    if arr.ndim != 2:
        raise ValueError(
            f"{name} must be a 2-D (H, W) label map, got an array of shape {arr.shape}"
        )
    if arr.size == 0:
        raise ValueError(f"{name} must have at least one pixel, got shape {arr.shape}")
    if arr.dtype == bool:
        return arr.astype(np.int32)
    if not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(
            f"{name} must have an integer dtype, got {arr.dtype}; allowed: any signed or "
            "unsigned integer type, or bool"
        )
    return arr


def connected_regions(labels) -> tuple[np.ndarray, int]:
    """Label the 4-connected regions of equal value.

    Two pixels belong to the same region when a 4-connected path of pixels that all carry
    the same label joins them. The input is validated, then the package's own
    :func:`lnsnet.connectivity.components` does the work (row runs + sparse connected
    components, O(H W)).

    Returns
    -------
    regions : numpy.ndarray of int32, shape (H, W)
        Region index of each pixel, ``0..m-1``, numbered in raster order of each region's
        first pixel.
    m : int
        Number of regions.
    """
    return components(as_label_map(labels))


def split_disconnected(labels) -> np.ndarray:
    """Give every 4-connected piece of every label its own label, numbered ``0..k-1``.

    After this call every label is 4-connected, so the result satisfies the package's
    label convention (int32, consecutive from 0, each label connected). Labels that were
    already connected keep their pixels together; a label made of ``c`` pieces becomes
    ``c`` labels. Nothing is merged, so the number of labels can only grow.

    Returns
    -------
    numpy.ndarray of int32, shape (H, W)
        Labels ``0..k-1`` in raster order of each region's first pixel.
    """
    regions, _ = connected_regions(labels)
    return regions


def count_disconnected(labels) -> int:
    """Number of labels whose pixels form more than one 4-connected component.

    Returns
    -------
    int
        ``#{l : the pixels with label l form >= 2 four-connected components}``.
    """
    arr = relabel_consecutive(as_label_map(labels))
    regions, m = connected_regions(arr)
    # Each region carries exactly one label: take it from any of its pixels.
    region_label = np.empty(m, dtype=np.int32)
    region_label[regions.ravel()] = arr.ravel()
    pieces = np.bincount(region_label)
    return int(np.count_nonzero(pieces > 1))


def boundary_map(labels) -> np.ndarray:
    """Boundary pixels of a label map, SEAL/SSN convention.

    A pixel ``(i, j)`` is a boundary pixel when its label differs from that of its right
    neighbour ``(i, j+1)`` or of its lower neighbour ``(i+1, j)``; neighbours outside the
    image are ignored (so the image border is not a boundary). This marks one pixel at
    each label change, on its upper/left side (not both sides), as in the evaluation code
    of SEAL (Tu et al., CVPR 2018) and SSN (Jampani et al., ECCV 2018).

    Returns
    -------
    numpy.ndarray of bool, shape (H, W)

    Examples
    --------
    >>> boundary_map(np.array([[0, 0, 1], [0, 0, 1]])).astype(int).tolist()
    [[0, 1, 0], [0, 1, 0]]
    """
    return boundary_mask(as_label_map(labels))
