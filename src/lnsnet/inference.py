"""Inference, one short path: image -> checks -> features (whole, or in bands above
``tile_pixels``) -> clustering -> connectivity -> labels."""

from __future__ import annotations

import numbers
from pathlib import Path
from typing import Sequence, Union

import numpy as np
import torch

from .bands import TILE_PIXELS, BandedFeatures
from .cluster import ClusterOptions, cluster_local, cluster_pixels
from .cluster.local import feature_passes
from .connectivity import enforce_connectivity
from .features import encode
from .grid import make_grid
from .hub import as_device, is_input_only, resolve_model
from .io import to_float_rgb
from .model import LNSNet
from .runtime import tune_malloc

__all__ = ["segment"]


def segment(
    image: Union[np.ndarray, Sequence[np.ndarray]],
    n_segments: int = 100,
    *,
    model: Union[str, Path, LNSNet, None] = None,
    device: Union[str, torch.device, None] = None,
    clustering: Union[str, ClusterOptions, None] = None,
    compactness: float | None = None,
    min_size_factor: float | None = None,
    batch_size: int = 8,
    tile_pixels: int = TILE_PIXELS,
    adapt: int = 0,
    progress: bool = False,
    **misplaced,
):
    """Segment an image into about ``n_segments`` superpixels with LNS-Net.

    Parameters
    ----------
    image : ndarray or list of ndarrays
        ``HxW`` (gray), ``HxWx3`` (RGB) or ``HxWx4`` (RGBA; alpha ignored), dtype uint8,
        uint16 or float in [0, 1]. A list gives a list of label maps; images of the same
        shape go through the network together, ``batch_size`` at a time.
    n_segments : int
        K, the number of superpixels asked for (1 <= K <= number of pixels). The number
        delivered is close to K, not exactly K (see ``labels.max() + 1``).
    model : str, path or LNSNet, optional
        Shipped model name, model file, or model; default: the shipped ``"bsds500"``.
        ``"none"`` clusters the standardised CIELAB input itself (no network) and
        ``"untrained"`` uses the network before training: what training adds is the
        difference.
    device : str or torch.device, optional
        ``"cpu"`` (default) or ``"cuda"``.
    clustering : str or ClusterOptions, optional
        How pixels are clustered around the seeds. A preset name: ``"compact"`` (the
        default): superpixels as compact as LSC's, with ASA and boundary recall at or
        above the classic methods' on BSDS500; ``"paper"``: the paper's one-shot
        clustering, the highest boundary recall, ragged shapes, about 35% less time.
        A spec such as ``"paper:window=5"`` or a :class:`lnsnet.ClusterOptions` sets any
        of its options (``docs/compactness.md`` says what each costs and buys).
    compactness : float, optional
        Weight of the spatial distance to the seed: larger gives more regular shapes and
        less boundary recall, 0 the paper's pure feature clustering. Default: the
        clustering's (compact: 4, paper: 0).
    min_size_factor : float, optional
        Pieces smaller than this fraction of the mean superpixel size are merged into
        their most similar neighbour. Default: the clustering's (0.25).
    batch_size : int
        Images of one shape per network call when a list is given.
    tile_pixels : int
        Images with more pixels run the network in bands of rows (with the context each
        band needs, and the normalisation statistics of the whole image), so memory
        stays bounded; the result is the same as in one piece up to float rounding (with
        the compact clustering, features above 512 MB are kept in float16 between its
        passes: a few pixels at near-ties may change).
    adapt : int
        Online adaptation: before clustering, a copy of the model is trained on this very
        image for ``adapt`` iterations (:func:`lnsnet.train.adapt_model`, which also takes
        a learning rate), then thrown away. 0 (default): off. Costs about 0.3 s per
        iteration for a 481x321 image on 2 CPU cores; ``docs/adaptation.md`` measures it.
    progress : bool
        Show a progress bar (stderr) while a large image runs band by band.
    **misplaced
        Refused with a ``TypeError`` that says where an option of an earlier version went
        (e.g. ``window=5`` is now ``clustering="window=5"``).

    Returns
    -------
    labels : ndarray, int32, ``(H, W)``
        Labels 0..k-1; every label is one 4-connected region.

    Examples
    --------
    >>> import numpy as np, lnsnet
    >>> img = np.random.default_rng(0).random((64, 96, 3))
    >>> labels = lnsnet.segment(img, n_segments=24)
    >>> labels.shape, labels.dtype
    ((64, 96), dtype('int32'))
    """
    if misplaced:  # say where the options of earlier versions went
        moved = sorted(set(misplaced) & set(ClusterOptions.field_names()))
        raise TypeError(f"segment() got unexpected keyword arguments {', '.join(sorted(misplaced))}"
                        + (f"; {', '.join(moved)} {'is a' if len(moved) == 1 else 'are'} clustering option"
                           f"{'' if len(moved) == 1 else 's'}: clustering='{moved[0]}=...' or "
                           "clustering=lnsnet.ClusterOptions.resolve(...)" if moved else ""))
    options = ClusterOptions.of(clustering, compactness=compactness, min_size_factor=min_size_factor)
    batch_size = _positive_int(batch_size, "batch_size")
    tile_pixels = _positive_int(tile_pixels, "tile_pixels")
    if isinstance(adapt, bool) or not isinstance(adapt, numbers.Integral) or adapt < 0:
        raise ValueError(f"adapt must be an integer >= 0 (iterations), got {adapt!r}")
    dev = as_device(device)
    tune_malloc()
    single = not isinstance(image, (list, tuple))
    # validate everything first: a bad image fails before any work is done
    rgbs = [to_float_rgb(im) for im in ([image] if single else image)]
    ks = [_check_k(n_segments, r.shape[0] * r.shape[1]) for r in rgbs]
    net = resolve_model(model, dev)
    if is_input_only(net) and (options.seeds == "learned" or adapt):
        raise ValueError("model='none' has no network: it takes seeds='grid' and no adapt")
    out: list = [None] * len(rgbs)
    if adapt:
        from .train import adapt_model

        for i, r in enumerate(rgbs):  # each image gets its own adapted copy: no batching
            out[i] = _segment_batch(adapt_model(net, r, ks[i], int(adapt), device=dev), [r], ks[i], dev, options,
                                    tile_pixels, progress)[0]
        return out[0] if single else out
    groups: dict = {}
    for i, r in enumerate(rgbs):
        big = r.shape[0] * r.shape[1] > tile_pixels
        groups.setdefault(("one", i) if big else r.shape[:2], []).append(i)
    for idx in groups.values():
        for j in range(0, len(idx), batch_size):
            chunk = idx[j : j + batch_size]
            labels = _segment_batch(net, [rgbs[i] for i in chunk], ks[0], dev, options, tile_pixels, progress)
            for i, lab in zip(chunk, labels):
                out[i] = lab
    return out[0] if single else out


def _segment_batch(net, rgbs, k, dev, options: ClusterOptions, tile_pixels: int, progress: bool) -> list:
    """Labels for images of one shape (one network call)."""
    h, w = rgbs[0].shape[:2]
    grid = make_grid(h, w, k)
    x = encode(rgbs[0]) if len(rgbs) == 1 else torch.cat([encode(r) for r in rgbs])
    with torch.inference_mode():
        if h * w > tile_pixels:
            if options.seeds == "learned" or options.mode == "dense":
                raise ValueError(
                    f"a {h}x{w} image is above tile_pixels={tile_pixels}, which runs in bands; banded "
                    "inference supports seeds='grid' and mode='local' only (or raise tile_pixels)"
                )
            pos = grid.centres()
            feats = BandedFeatures(net, x, grid, dev, tile_pixels, pos, feature_passes(h, w, options), progress)
            try:
                raws = [cluster_local(feats.zband, feats.bands, grid, x[0, :3].numpy(), feats.seed_features,
                                      pos.numpy(), options)]
            finally:
                feats.close()
        else:
            z = net.embed(x.to(dev))
            if options.seeds == "learned":
                pos = net.seed_positions(z, grid)
            else:
                pos = grid.centres(dev, z.dtype)[None].expand(z.shape[0], -1, -1)
            seed_feats = net.seed_features(z, pos)
            raws = [cluster_pixels(z[b], x[b, :3].numpy(), grid, seed_feats[b], pos[b], options)
                    for b in range(z.shape[0])]
    return [
        enforce_connectivity(raw, x[b, :3].permute(1, 2, 0).numpy(), n_segments=grid.n_seeds,
                             min_size_factor=options.min_size_factor, orphan_factor=options.orphan_factor,
                             max_segments=options.max_segments(grid.n_seeds))
        for b, raw in enumerate(raws)
    ]


def _positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _check_k(n_segments, n_pixels: int) -> int:
    if isinstance(n_segments, bool) or not isinstance(n_segments, numbers.Real):
        raise TypeError(f"n_segments must be an integer, got {n_segments!r}")
    if not isinstance(n_segments, numbers.Integral):
        if not float(n_segments).is_integer():
            raise TypeError(f"n_segments must be an integer, got {n_segments!r}")
    k = int(n_segments)
    if k < 1:
        raise ValueError(f"n_segments must be >= 1, got {k}")
    if k > n_pixels:
        raise ValueError(f"n_segments={k} exceeds the number of pixels ({n_pixels})")
    return k
