"""Evaluation of superpixel methods: metrics, datasets and classic baselines.

Submodules
----------
metrics
    Boundary recall/precision, F-measure, ASA, undersegmentation error, compactness,
    explained variation, segment counts, and :func:`~lnsnet.eval.metrics.score` for one
    label map against several annotations.
datasets
    BSDS500 and a generic folder dataset of images with label maps or binary masks.
baselines
    Classic superpixel methods behind one signature ``fn(image, n_segments, **kw)``
    (imported lazily: some need optional packages such as OpenCV contrib).
labels
    Label-map helpers: relabelling, connectivity, boundary maps.
"""

from .labels import (
    boundary_map,
    count_disconnected,
    relabel_consecutive,
    split_disconnected,
)
from .metrics import SCORE_KEYS, score

__all__ = [
    "score",
    "SCORE_KEYS",
    "boundary_map",
    "relabel_consecutive",
    "split_disconnected",
    "count_disconnected",
]
