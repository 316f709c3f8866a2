"""The clustering layer: pixels to seeds, by the paper's cluster layer or the compact
clustering, with one options object.

=====================  ===============================================================
module                 responsibility
=====================  ===============================================================
``options``            :class:`ClusterOptions`: the presets, every check and rule, text
                       specs (``"paper:compactness=1"``) for the CLI and benchmark names
``layer``              the paper's cluster layer (CL) in torch: Student-t similarity,
                       local (3x3 cells) or dense argmin; used in training and on GPUs
``local``              the compact clustering on the CPU (edge-aware spatial term, seed
                       rounds, Potts smoothing), whole or band by band
``kernels``            its compiled (numba) kernels
``gpu``                the compact clustering in torch on a GPU (whole image at once)
``cuda``               its two per-pixel steps as CUDA kernels (numba), one launch each
=====================  ===============================================================
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .options import DEFAULT_PRESET, PRESETS, ClusterOptions

if TYPE_CHECKING:
    import numpy as np
    import torch

    from ..grid import Grid
    from .local import cluster_local


def __getattr__(name: str):
    # torch and the numba kernels only when clustering runs: lnsnet.ClusterOptions and
    # lnsnet.PRESETS are options, read by a configuration layer without them (1.6 s)
    if name == "cluster_local":
        from .local import cluster_local

        return cluster_local
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = ["ClusterOptions", "PRESETS", "DEFAULT_PRESET", "cluster_pixels", "cluster_local", "CLUSTERING_VERSION"]

#: the 2-D clustering's version, in the provenance of ``lnsnet segment`` outputs (a rerun
#: redoes outputs of another version): 2 since 2026-12-03, when the clustering took the
#: colour channels on one common scale (:func:`lnsnet.features.colour_scale_of`); 3 since
#: 2026-12-04, when the compact preset took a 0.8 px blur and compactness 18; 4 since
#: 2026-12-04 (later), when it took the model's contour head (contour 4, compactness 24); 5
#: since 2026-12-05, when the blur's slivers were given back and the default became "fast";
#: 6 since 2026-12-06, when the connectivity's small pieces joined smallest first and only
#: as far as they need (:func:`lnsnet.connectivity._join`); 7 since 2026-12-06 (later), when
#: a piecewise-flat image lost the blur (:func:`lnsnet.prepare.piecewise_flat`) and a float
#: image darker than 0.04 was lifted before CIELAB (:func:`lnsnet.prepare.lift_dark`); the labels of
#: other images are unchanged
CLUSTERING_VERSION = 7


def cluster_pixels(z: torch.Tensor, image: np.ndarray, grid: Grid, seed_feats: torch.Tensor,
                   seed_pos: torch.Tensor, options: ClusterOptions, *, mask=None, spacing=(1.0, 1.0),
                   extra=None, contour=None, device_labels: bool = False):
    """Raw labels (the seed index of every pixel, ``(H, W)`` int) of one image.

    ``z`` ``(C, H, W)`` pixel features on any device, ``image`` ``(3, H, W)`` the
    clustering's colour (edge weights, Potts contrast; the standardised CIELAB on one
    scale, :func:`lnsnet.features.colour_scale_of`), ``seed_feats`` ``(K, C)`` and
    ``seed_pos`` ``(K, 2)`` pixels. The compiled CPU algorithm runs on the CPU and for a
    ``mask`` (pixels outside come out -1) or an anisotropic ``spacing`` anywhere
    (:func:`cluster_local`); on a GPU the compact clustering's steps run there
    (:mod:`lnsnet.cluster.gpu`, its per-pixel steps as CUDA kernels), the paper's one-shot clustering in
    :mod:`lnsnet.cluster.layer` on ``z``'s
    device. ``image`` and ``extra`` numpy arrays or tensors (on ``z``'s device, for a GPU).
    ``extra`` ``(E, H, W)`` float32: channels appended to ``z`` (the input
    beside the features; ``seed_feats`` has ``C + E`` columns). ``contour`` ``(H, W)``: the
    spatial term's factor at every pixel (:func:`lnsnet.model.contour.contour_factor`;
    the compact clustering only). ``device_labels``: labels
    clustered on a GPU as an int64 tensor there (numpy where the CPU algorithm ran).
    """
    import torch

    from .layer import assign
    from .local import cluster_local

    if isinstance(image, torch.Tensor) and (options.on_cpu(z.device.type) or mask is not None
                                            or tuple(spacing) != (1.0, 1.0)):
        image = image.cpu().numpy()  # the CPU algorithm takes numpy arrays
    if not isinstance(image, torch.Tensor):
        extra, contour = (t.cpu().numpy() if isinstance(t, torch.Tensor) else t for t in (extra, contour))
    special = mask is not None or tuple(spacing) != (1.0, 1.0)
    if special and options.mode != "local":
        raise ValueError("mask and spacing take the local clustering (mode='local')")
    if special or options.on_cpu(z.device.type):
        zn = z.cpu().numpy()
        return cluster_local(lambda r0, r1: zn[:, r0:r1], [(0, zn.shape[1])], grid, image,
                             seed_feats.cpu().numpy(), seed_pos.cpu().numpy(), options, mask=mask, spacing=spacing,
                             extra=extra, contour=contour)
    if options.mode == "local" and options.refines:
        from .gpu import cluster_local_torch  # the compact clustering on the GPU

        return cluster_local_torch(z, torch.as_tensor(image), grid, seed_feats, seed_pos,
                                   options, extra=None if extra is None else torch.as_tensor(extra),
                                   contour=None if contour is None else torch.as_tensor(contour),
                                   device_labels=device_labels)
    if extra is not None:
        z = torch.cat([z, torch.as_tensor(extra).to(z)], 0)
    lab = assign(z, seed_feats, grid, options.mode, seed_pos, options.compactness, options.window)
    return lab if device_labels else lab.cpu().numpy()
