"""Inference: image(s) in, connected superpixel labels out."""

from __future__ import annotations

import copy
import json
import numbers
import os
from functools import lru_cache
from pathlib import Path
from typing import Sequence, Union

import numpy as np
import torch

from . import checkpoint
from . import _kernels, _runtime
from .connectivity import enforce_connectivity
from .features import encode
from .grid import make_grid
from .io import to_float_rgb
from .model import LNSNet
from .model.cluster import assign
from .model.embedder import moments, stats_from_moments

__all__ = ["segment", "load_model", "available_models", "WEIGHTS_DIR", "PAPER_CLUSTERING", "COMPACT_CLUSTERING",
           "CLUSTERINGS"]

WEIGHTS_DIR = Path(__file__).parent / "weights"
DEFAULT_MODEL = "bsds500"
#: the paper's one-shot clustering (``clustering="paper"``; dense mode's default): the
#: highest boundary recall, ragged shapes
PAPER_CLUSTERING = dict(compactness=0.0, edge_scale=0.0, iterations=0, smoothing=0.0, feature_contrast=0.0)
#: shapes as compact as LSC's, boundary recall above SNIC's on BSDS500 (``clustering="compact"``,
#: local mode's default; chosen on BSDS500 val, ``docs/compactness.md``)
COMPACT_CLUSTERING = dict(compactness=4.0, edge_scale=2.0, iterations=5, smoothing=6.0, feature_contrast=4.0)
#: the clustering presets by name
CLUSTERINGS = {"compact": COMPACT_CLUSTERING, "paper": PAPER_CLUSTERING}
SMOOTHING_SWEEPS = 5
# banded inference keeps the pixel features Z of the whole image when they take at most
# this many bytes as float32, else as float16 when that takes at most Z_CACHE_HALF_BYTES
# (else each clustering pass runs the network again)
Z_CACHE_BYTES = 512 << 20
Z_CACHE_HALF_BYTES = 4 << 30
# ... and the distances of every pixel to its candidate seeds (the smoothing's data term)
# when they take at most this many bytes (else they are recomputed for every ICM sweep)
DISTS_CACHE_BYTES = 1 << 30
BETA_BLOCK_PIXELS = 1 << 20  # contrast_beta sums this many pixels at a time
ADAPT_LR = 3e-4
# above this many pixels the network runs in bands of rows (bounded memory) ...
TILE_PIXELS = 2_000_000
# ... of about this many pixels each (at least 64 rows): the convolutions' im2col
# workspace (~1.3 kB per pixel for the 35-channel layer) is what bounds the band
BAND_PIXELS = 256_000


def available_models() -> list[str]:
    """Names of the models shipped with the package."""
    return sorted(p.stem for p in WEIGHTS_DIR.glob("*.pt"))


@lru_cache(maxsize=8)
def _load_named(name: str, device: str = "cpu") -> LNSNet:
    """The shipped model ``name`` on ``device``, checksum-verified, cached (do not modify)."""
    path = WEIGHTS_DIR / f"{name}.pt"
    meta_path = WEIGHTS_DIR / f"{name}.json"
    if meta_path.is_file():
        expected = json.loads(meta_path.read_text()).get("sha256")
        actual = checkpoint.sha256(path)
        if expected and expected != actual:
            raise ValueError(
                f"shipped model {path} fails its checksum (sha256 {actual}, expected {expected}); "
                "reinstall lnsnet"
            )
    return checkpoint.model_from_payload(checkpoint.load(path)).eval().to(device)


def _resolve(name_or_path, device: torch.device) -> LNSNet:
    """A model for inference; shipped models come from a cache shared by all calls."""
    if isinstance(name_or_path, LNSNet):
        return name_or_path.eval().to(device)
    name = DEFAULT_MODEL if name_or_path is None else name_or_path
    if isinstance(name, str) and name in available_models():
        return _load_named(name, str(device))
    path = Path(name)
    if not path.exists():
        raise FileNotFoundError(
            f"no shipped model named {str(name)!r} (shipped: {', '.join(available_models()) or 'none'}) "
            f"and no file at {path}"
        )
    return checkpoint.model_from_payload(checkpoint.load(path)).eval().to(device)


def load_model(name_or_path: Union[str, Path, LNSNet, None] = None, device=None) -> LNSNet:
    """A model by shipped name (default ``"bsds500"``), by file path, or passed through.

    Model files are read with ``torch.load(weights_only=True)``: they can hold tensors and
    plain data only, never code. Shipped models are checked against their sha256. The
    model returned is the caller's own: training it does not change what ``segment``
    uses by default.
    """
    if isinstance(name_or_path, LNSNet):
        return name_or_path.eval().to(_device(device))
    return copy.deepcopy(_resolve(name_or_path, _device(device)))


def _check_k(n_segments, n_pixels: int) -> int:
    if isinstance(n_segments, bool) or not isinstance(n_segments, numbers.Integral):
        if isinstance(n_segments, numbers.Real) and float(n_segments).is_integer() and not isinstance(n_segments, bool):
            n_segments = int(n_segments)
        else:
            raise TypeError(f"n_segments must be an integer, got {n_segments!r}")
    k = int(n_segments)
    if k < 1:
        raise ValueError(f"n_segments must be >= 1, got {k}")
    if k > n_pixels:
        raise ValueError(f"n_segments={k} exceeds the number of pixels ({n_pixels})")
    return k


def _device(device) -> torch.device:
    if device is None:
        return torch.device("cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device='cuda' was asked for but no CUDA GPU is available")
    return dev


def _finite_nonneg(value, name: str, note: str = "") -> float:
    """``value`` as a float; ``ValueError`` naming ``name`` unless a finite real >= 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0{note}, got {value!r}")
    return float(value)


def check_compactness(compactness) -> float:
    """``compactness`` as a float; ``ValueError`` unless it is a finite number >= 0."""
    return _finite_nonneg(compactness, "compactness")


def check_edge_scale(edge_scale) -> float:
    """``edge_scale`` as a float; ``ValueError`` unless a finite number >= 0 (0: off)."""
    return _finite_nonneg(edge_scale, "edge_scale", " (0: off)")


def check_iterations(iterations) -> int:
    """``iterations`` as an int; ``ValueError`` unless an integer >= 0."""
    if isinstance(iterations, bool) or not isinstance(iterations, numbers.Integral) or iterations < 0:
        raise ValueError(f"iterations must be an integer >= 0, got {iterations!r}")
    return int(iterations)


def check_smoothing(smoothing) -> float:
    """``smoothing`` as a float; ``ValueError`` unless a finite number >= 0."""
    return _finite_nonneg(smoothing, "smoothing")


def check_feature_contrast(feature_contrast) -> float:
    """``feature_contrast`` as a float; ``ValueError`` unless a finite number >= 0."""
    return _finite_nonneg(feature_contrast, "feature_contrast")


def clustering_options(mode="local", compactness=None, edge_scale=None, iterations=None, smoothing=None,
                       clustering=None, feature_contrast=None) -> dict:
    """The clustering settings ``segment`` uses: those of the preset ``clustering``
    (``"compact"`` or ``"paper"``; None: ``"compact"`` in local mode, ``"paper"`` in dense
    mode) for the options left out (``None``), each value checked. Dense mode supports
    ``compactness`` only."""
    if mode not in ("local", "dense"):
        raise ValueError(f"unknown mode {mode!r}; allowed: 'local', 'dense'")
    if clustering is None:
        clustering = "compact" if mode == "local" else "paper"
    if clustering not in CLUSTERINGS:
        raise ValueError(f"unknown clustering {clustering!r}; allowed: {', '.join(map(repr, CLUSTERINGS))}")
    base = dict(CLUSTERINGS[clustering])
    given = dict(compactness=compactness, edge_scale=edge_scale, iterations=iterations, smoothing=smoothing,
                 feature_contrast=feature_contrast)
    out = {key: base[key] if value is None else value for key, value in given.items()}
    out["compactness"] = check_compactness(out["compactness"])
    out["edge_scale"] = check_edge_scale(out["edge_scale"])
    out["iterations"] = check_iterations(out["iterations"])
    out["smoothing"] = check_smoothing(out["smoothing"])
    out["feature_contrast"] = check_feature_contrast(out["feature_contrast"])
    if mode == "dense" and (out["edge_scale"] or out["iterations"] or out["smoothing"] or out["feature_contrast"]):
        raise ValueError("edge_scale, iterations, smoothing, feature_contrast and clustering='compact' need "
                         "mode='local' (dense mode is the paper's one-shot clustering; it takes compactness only)")
    return out


def check_feature_contrast_used(feature_contrast, options: dict) -> None:
    """``ValueError`` when ``feature_contrast`` was asked for (> 0) but the resolved
    ``options`` (of :func:`clustering_options`) have no smoothing for it to weigh."""
    if feature_contrast is not None and feature_contrast > 0 and options["smoothing"] == 0:
        raise ValueError("feature_contrast weighs the smoothing's contrast: it needs smoothing > 0 (the "
                         "compact preset's 6, or a smoothing value)")


def check_window(window) -> int:
    """``window`` as an int; ``ValueError`` unless it is a positive odd integer (cells)."""
    if isinstance(window, bool) or not isinstance(window, numbers.Integral) or window < 1 or window % 2 == 0:
        raise ValueError(f"window must be a positive odd integer (cells), got {window!r}")
    return int(window)


def segment(
    image: Union[np.ndarray, Sequence[np.ndarray]],
    n_segments: int = 100,
    *,
    model: Union[str, Path, LNSNet, None] = None,
    device: Union[str, torch.device, None] = None,
    mode: str = "local",
    seeds: str = "grid",
    clustering: str | None = None,
    compactness: float | None = None,
    edge_scale: float | None = None,
    iterations: int | None = None,
    smoothing: float | None = None,
    feature_contrast: float | None = None,
    window: int = 3,
    min_size_factor: float = 0.25,
    orphan_factor: float = 0.0,
    max_excess: float = 0.1,
    batch_size: int = 8,
    tile_pixels: int = TILE_PIXELS,
    adapt: int = 0,
    adapt_lr: float = ADAPT_LR,
    progress: bool = False,
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
    device : str or torch.device, optional
        ``"cpu"`` (default) or ``"cuda"``.
    mode : {"local", "dense"}
        ``local`` compares each pixel with the seeds of the 3x3 neighbouring grid cells
        (O(N)); ``dense`` with all K seeds (O(NK)), as in the paper.
    seeds : {"grid", "learned"}
        ``grid`` (default) clusters around the cell centres; ``learned`` moves each seed by
        the seed estimation layer (SEL). The shipped model's SEL pushes seeds to the cell
        borders, which scored lower on BSDS500 val (ASA 0.9463 vs 0.9502 at K=100), so the
        grid is the default until a better-trained SEL ships.
    clustering : {"compact", "paper"}, optional
        The preset the five options below start from. ``"compact"`` (local mode's
        default, :data:`COMPACT_CLUSTERING`: compactness 4, edge_scale 2, 5 iterations,
        smoothing 6, feature_contrast 4): superpixels as compact as LSC's, with ASA and boundary recall at or
        above the classic methods' on BSDS500. ``"paper"`` (dense mode's default,
        :data:`PAPER_CLUSTERING`, all five 0): the paper's one-shot clustering, the
        highest boundary recall, ragged shapes, about 35% less time per image. Dense mode
        takes ``compactness`` only. What each costs and buys: ``docs/compactness.md``.
    compactness : float, optional
        Weight of the spatial distance to the seed (in grid steps, squared) added to the
        feature distance: larger gives more regular shapes and less boundary recall, 0 the
        paper's pure feature clustering. Default: the preset's.
    edge_scale : float, optional
        Local mode: the spatial weight at a pixel is ``compactness * exp(-g / edge_scale)``,
        with ``g`` the pixel's largest squared colour (CIELAB) difference to its
        4-neighbours over the image's mean of it: regular shapes in flat regions, borders
        free to follow colour edges. 0: one weight everywhere. Default: the preset's.
    iterations : int, optional
        Local mode: SLIC-style rounds before the final assignment, each moving every seed
        to the mean feature and mean position of its pixels. 0: the paper's one-shot
        (non-iterative) clustering. Default: the preset's.
    smoothing : float, optional
        Local mode: weight of a contrast-sensitive Potts term (boundary length, cheaper
        across colour edges) minimised by 5 sweeps of ICM after the assignment, in units
        of the image's median pixel-to-seed distance; straightens ragged borders. 0: off.
        Default: the preset's.
    feature_contrast : float, optional
        Local mode, with ``smoothing``: the Potts term's contrast is measured on CIELAB
        plus the learned pixel features, each feature channel over its standard deviation
        on the image and all of them together weighted by ``feature_contrast`` (each by
        ``feature_contrast / sqrt(channels)``): borders are cheaper where the network sees
        an edge, not only where the colour changes. 0: CIELAB only; no effect without
        ``smoothing`` (the command line and benchmark method names refuse it then).
        Default: the preset's.
    window : int
        ``local`` mode: each pixel is compared with the seeds of the ``window x window``
        grid cells around its own (odd; default 3). 5 gets most of ``dense`` mode's gain
        in boundary recall at a fraction of its cost (``docs/ablation.md``).
    min_size_factor : float
        Fragments smaller than this fraction of the mean superpixel size are merged into
        their most similar neighbour.
    orphan_factor : float
        Pieces of a cluster other than its largest, smaller than this fraction of the mean
        size, are merged too (0: off).
    max_excess : float or None
        At most about ``(1 + max_excess) * seeds`` superpixels are delivered: when the
        clusters fall apart into more pieces, the smallest pieces are merged (None: no cap).
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
        image for ``adapt`` iterations (the feature phase of the lifelong training: FEM
        and reconstruction head, GAL and GBL, no labels), then thrown away. 0 (default):
        off. Costs about 0.3 s per iteration for a 481x321 image on 2 CPU cores; what it
        gains is measured in ``docs/adaptation.md``.
    adapt_lr : float
        Adam learning rate of the adaptation.
    progress : bool
        Show a progress bar (stderr) while a large image runs band by band.

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
    clustering = clustering_options(mode, compactness, edge_scale, iterations, smoothing, clustering,
                                    feature_contrast)
    window = check_window(window)
    if seeds not in ("grid", "learned"):
        raise ValueError(f"unknown seeds {seeds!r}; allowed: 'grid', 'learned'")
    if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    if isinstance(tile_pixels, bool) or not isinstance(tile_pixels, numbers.Integral) or tile_pixels < 1:
        raise ValueError(f"tile_pixels must be a positive integer, got {tile_pixels!r}")
    if isinstance(adapt, bool) or not isinstance(adapt, numbers.Integral) or adapt < 0:
        raise ValueError(f"adapt must be an integer >= 0 (iterations), got {adapt!r}")
    if not np.isfinite(adapt_lr) or adapt_lr <= 0:
        raise ValueError(f"adapt_lr must be a finite number > 0, got {adapt_lr!r}")
    dev = _device(device)
    _runtime.tune_malloc()
    opts = dict(mode=mode, seeds=seeds, **clustering, window=window, min_size_factor=min_size_factor,
                orphan_factor=orphan_factor, max_excess=max_excess, tile_pixels=int(tile_pixels), progress=bool(progress))
    single = not isinstance(image, (list, tuple))
    images = [image] if single else list(image)
    # validate everything first: a bad image fails before any work is done
    rgbs = [to_float_rgb(im) for im in images]
    ks = [_check_k(n_segments, r.shape[0] * r.shape[1]) for r in rgbs]
    net = _resolve(model, dev)
    out: list = [None] * len(rgbs)
    groups: dict = {}
    for i, r in enumerate(rgbs):
        big = r.shape[0] * r.shape[1] > tile_pixels
        groups.setdefault(("one", i) if big else r.shape[:2], []).append(i)
    if adapt:
        for i, r in enumerate(rgbs):  # each image gets its own adapted copy: no batching
            tuned = adapted_model(net, r, ks[i], adapt, adapt_lr, dev)
            out[i] = _segment_batch(tuned, [r], ks[i], dev, **opts)[0]
        return out[0] if single else out
    for idx in groups.values():
        for j in range(0, len(idx), batch_size):
            chunk = idx[j : j + batch_size]
            for i, lab in zip(chunk, _segment_batch(net, [rgbs[i] for i in chunk], ks[0], dev, **opts)):
                out[i] = lab
    return out[0] if single else out


def _segment_batch(net, rgbs, k, dev, *, mode, seeds, compactness, min_size_factor, orphan_factor, max_excess,
                   tile_pixels, progress=False, window=3, edge_scale=0.0, iterations=0, smoothing=0.0,
                   feature_contrast=0.0):
    """Labels for images of one shape (one network call)."""
    h, w = rgbs[0].shape[:2]
    grid = make_grid(h, w, k)
    x = encode(rgbs[0]) if len(rgbs) == 1 else torch.cat([encode(r) for r in rgbs])
    refine = dict(compactness=compactness, edge_scale=edge_scale, iterations=iterations, smoothing=smoothing,
                  feature_contrast=feature_contrast, window=window)
    # the compiled kernels cluster on the CPU; on a GPU torch does the paper's one-shot
    # clustering, and the compact one runs on the CPU (Z copied over)
    on_cpu = mode == "local" and (dev.type == "cpu" or edge_scale > 0 or iterations > 0 or smoothing > 0)
    with torch.inference_mode():
        if h * w > tile_pixels:
            if seeds == "learned" or mode == "dense":
                raise ValueError(
                    f"a {h}x{w} image is above tile_pixels={tile_pixels}, which runs in bands; banded "
                    "inference supports seeds='grid' and mode='local' only (or raise tile_pixels)"
                )
            raws = [_banded_labels(net, x, grid, dev, tile_pixels, progress, refine)]
        else:
            z = net.embed(x.to(dev))
            if seeds == "learned":
                pos = net.seed_positions(z, grid)
            else:
                pos = grid.centres(dev, z.dtype)[None].expand(z.shape[0], -1, -1)
            feats = net.seed_features(z, pos)
            if on_cpu:
                raws = []
                for b in range(z.shape[0]):
                    zb = z[b].cpu().numpy()
                    raws.append(cluster_local(lambda r0, r1, zb=zb: zb[:, r0:r1], [(0, h)], grid,
                                              x[b, :3].numpy(), feats[b].cpu().numpy(), pos[b].cpu().numpy(),
                                              **refine))
            else:
                raws = [assign(z[b], feats[b], grid, mode, pos[b], compactness, window).cpu().numpy()
                        for b in range(z.shape[0])]
    cap = max(1, int(round(grid.n_seeds * (1.0 + max_excess)))) if max_excess is not None else None
    return [
        enforce_connectivity(raw, x[b, :3].permute(1, 2, 0).numpy(), n_segments=grid.n_seeds,
                             min_size_factor=min_size_factor, orphan_factor=orphan_factor, max_segments=cap)
        for b, raw in enumerate(raws)
    ]


def edge_weights(image: np.ndarray, edge_scale: float) -> np.ndarray:
    """``exp(-g / edge_scale)`` per pixel, ``g`` the largest squared difference of
    ``image`` ``(channels, H, W)`` to a 4-neighbour over the image's mean of it
    (``(H, W)`` float32; all ones for ``edge_scale = 0`` or a flat image)."""
    if edge_scale <= 0:
        return np.ones(np.shape(image)[1:], dtype=np.float32)
    g = _kernels.edge_strength(image)
    mean = float(g.mean(dtype=np.float64))
    if mean <= 1e-12:
        return np.ones_like(g)
    g *= np.float32(-1.0 / (mean * edge_scale))
    return np.exp(g, out=g)


def pair_differences(image: np.ndarray) -> tuple[float, int]:
    """The sum over the 4-neighbour pairs of ``image`` ``(channels, H, W)`` of
    ``|I_p - I_q|^2``, and the number of pairs. Summed in float64, block of rows by
    block, so a large image needs no image-sized float64 copies."""
    c, h, w = image.shape
    total, pairs = 0.0, 0
    step = max(1, BETA_BLOCK_PIXELS // max(w, 1))
    for r0 in range(0, h, step):
        r1 = min(h, r0 + step)
        blk = np.asarray(image[:, r0 : min(h, r1 + 1)], dtype=np.float64)  # one row more: the pairs down
        if blk.shape[1] > 1:
            d = blk[:, 1:] - blk[:, :-1]
            total += float(np.einsum("ijk,ijk->", d, d))
            pairs += d.shape[1] * d.shape[2]
        if w > 1:
            d = blk[:, : r1 - r0, 1:] - blk[:, : r1 - r0, :-1]
            total += float(np.einsum("ijk,ijk->", d, d))
            pairs += d.shape[1] * d.shape[2]
    return total, pairs


def _beta(total: float, pairs: int) -> float:
    mean = total / pairs if pairs else 0.0
    return 0.0 if mean <= 1e-12 else 1.0 / (2.0 * mean)


def contrast_beta(image: np.ndarray) -> float:
    """``1 / (2 <|dI|^2>)`` over the 4-neighbour pairs of ``image`` ``(channels, H, W)``
    (the usual contrast-sensitive Potts scale; 0 for a flat image)."""
    return _beta(*pair_differences(image))


def feature_weights(s1, s2, n: int, feature_contrast: float) -> np.ndarray:
    """The squared weight ``(feature_contrast / (sqrt(C) * std_c))^2`` of each feature
    channel in the smoothing's contrast, from its sum ``s1``, sum of squares ``s2`` over
    ``n`` pixels; float32 ``(C,)``. The std is floored at 1e-3 of the largest channel's
    (plus 1e-6), so a channel that is flat but for a few spikes does not dominate the
    contrast; the weights are capped at 1e30, so they stay finite."""
    std = np.sqrt(np.maximum(np.asarray(s2, np.float64) / n - (np.asarray(s1, np.float64) / n) ** 2, 0.0))
    floor = 1e-3 * float(std.max(initial=0.0))
    a2 = (feature_contrast / (np.sqrt(max(len(std), 1)) * (np.maximum(std, floor) + 1e-6))) ** 2
    return np.minimum(a2, 1e30).astype(np.float32)


def _uses_feature_contrast(smoothing: float, feature_contrast: float) -> bool:
    """Whether :func:`cluster_local` reads the features' statistics for the smoothing's
    contrast (in its first seed round, or in a pass of its own without seed rounds)."""
    return smoothing > 0 and feature_contrast > 0


def _keeps_dists(h: int, w: int, window: int, smoothing: float) -> bool:
    """Whether :func:`cluster_local` keeps the candidate distances of an ``h x w`` image
    for its ICM sweeps (else it recomputes them, from Z, for every sweep)."""
    return smoothing > 0 and h * w * window * window * 4 <= DISTS_CACHE_BYTES


def cluster_local(zband, bands, grid, image, seed_feats, seed_pos, *, compactness=0.0, edge_scale=0.0,
                  iterations=0, smoothing=0.0, feature_contrast=0.0, window=3) -> np.ndarray:
    """Raw labels (seed indices) of one image by local clustering on the CPU.

    ``zband(r0, r1)`` gives the pixel features of rows ``r0 .. r1`` ``(C, r1 - r0, W)``
    float32 for each ``(r0, r1)`` in ``bands`` (the whole image: ``[(0, H)]``, else
    consecutive bands from the top);
    ``image`` ``(3, H, W)`` is the standardised CIELAB the edge weights and the Potts
    contrast are measured on; ``seed_feats`` ``(K, C)``, ``seed_pos`` ``(K, 2)`` pixels.
    Steps: ``iterations`` rounds of assign-and-move-seeds, the final assignment, then
    ``smoothing``'s ICM sweeps, their contrast on CIELAB and ``feature_contrast`` times
    the standardised features (see :func:`segment`).
    """
    image = np.ascontiguousarray(image, dtype=np.float32)  # once, not per band
    h, w = image.shape[1:]
    pr, pc = (t.numpy() for t in grid.pixel_cells())
    weight = compactness / (grid.cell_size[0] * grid.cell_size[1])
    wmap = edge_weights(image, edge_scale) if weight > 0 and edge_scale > 0 else None
    feats = np.asarray(seed_feats, dtype=np.float32)
    pos = np.asarray(seed_pos, dtype=np.float32)
    raw = np.empty((h, w), dtype=np.int32)
    best = np.empty((h, w), dtype=np.float32)
    whole = len(bands) == 1
    zt_whole = []  # one piece: Z channels-last (the kernels' layout) once for every pass

    def zt(r0, r1):
        if not whole:
            return np.ascontiguousarray(zband(r0, r1).transpose(1, 2, 0))
        if not zt_whole:
            zt_whole.append(np.ascontiguousarray(zband(0, h).transpose(1, 2, 0)))
        return zt_whole[0][r0:r1]

    def assign_band(r0, r1, z=None, **kw):  # with the seeds (feats, pos) of the moment
        return _kernels.local_assign(zt(r0, r1) if z is None else z, feats, grid.rows, grid.cols, pr[r0:r1], pc, pos,
                                     weight, r0, window, None if wmap is None else wmap[r0:r1], channels_last=True,
                                     **kw)

    by_features = _uses_feature_contrast(smoothing, feature_contrast)
    fstats, above = None, None  # the features' sums (see feature_stats), the last row read

    def take_stats(z):  # bands come in order, top to bottom
        nonlocal fstats, above
        fstats = _kernels.feature_stats(z, above, fstats)
        above = z[-1].copy()

    for it in range(iterations):  # SLIC-style rounds
        sums = None
        for r0, r1 in bands:
            z = zt(r0, r1)  # once per band and round (without a Z cache it is the network's output)
            if by_features and it == 0:
                take_stats(z)
            sums = _kernels.seed_sums(z, assign_band(r0, r1, z), grid.n_seeds, r0, sums, channels_last=True)
        fsum, psum, cnt = sums  # seeds move to their pixels' means (a seed without pixels stays)
        kept = cnt[:, None] > 0
        n = np.maximum(cnt, 1.0)[:, None]
        feats = np.where(kept, fsum / n, feats).astype(np.float32)
        pos = np.where(kept, psum / n, pos).astype(np.float32)
    if by_features and iterations == 0:  # one pass more for the features' statistics
        for r0, r1 in bands:
            take_stats(zt(r0, r1))
    beta, a2 = 0.0, np.empty(0, np.float32)
    if smoothing > 0:
        lab_sq, pairs = pair_differences(image)
        if by_features:
            a2 = feature_weights(fstats[0], fstats[1], h * w, feature_contrast)
            lab_sq += float(np.dot(a2, fstats[2]))
        beta = _beta(lab_sq, pairs)
        weights = (np.zeros((h, w), np.float32), np.zeros((h, w), np.float32))
    keep_dists = _keeps_dists(h, w, window, smoothing)
    dists = {}
    above = None
    for r0, r1 in bands:
        z = zt(r0, r1)
        if smoothing > 0:  # the contrast weights of the band's pairs and those with the row above
            zc = z if by_features else np.empty((r1 - r0, w, 0), np.float32)
            _kernels.contrast_weights(image, beta, zc, a2, y0=r0, prev=above, out=weights)
            above = None if whole else zc[-1].copy()
        if keep_dists:
            raw[r0:r1], best[r0:r1], dists[r0] = assign_band(r0, r1, z, return_best=True, return_dists=True)
        else:
            raw[r0:r1], best[r0:r1] = assign_band(r0, r1, z, return_best=True)
    if smoothing > 0:
        lam = smoothing * max(float(np.median(best)), 1e-6)
        del best
        for _ in range(SMOOTHING_SWEEPS):
            for colour in (0, 1):
                for r0, r1 in bands:
                    d = dists[r0] if keep_dists else assign_band(r0, r1, return_dists=True)[1]
                    _kernels.potts_sweep(d, grid.cols, raw, weights, pr[r0:r1], pc, lam=lam, colour=colour,
                                         y0=r0, window=window)
    return raw


def adapted_model(net: LNSNet, rgb: np.ndarray, n_segments: int, iterations: int, lr: float = None,
                  device=None, seed: int = 0) -> LNSNet:
    """A copy of ``net`` trained on ``rgb`` (float RGB) for ``iterations`` feature-phase
    steps of the lifelong recipe at ``n_segments``; ``net`` itself is not changed."""
    from .features import contour_prior
    from .train import TrainConfig, train_image

    lr = ADAPT_LR if lr is None else lr
    dev = _device(device)
    model = copy.deepcopy(net).to(dev)
    cfg = TrainConfig(iterations=int(iterations), feature_iterations=int(iterations), lr=float(lr),
                      learn_seeds=False, seed=seed)
    params = list(model.embedder.parameters()) + list(model.reconstruction.parameters())
    opt = torch.optim.Adam(params, lr=cfg.lr)
    with torch.inference_mode(False), torch.enable_grad():
        train_image(model, opt, rgb, contour_prior(rgb, cfg.contour), n_segments, cfg, dev, sample_seed=seed)
    return model.eval()


def _banded_labels(net, x, grid, dev, tile_pixels, progress=False, refine=None) -> np.ndarray:
    """Raw labels of one large image, the network run in bands of full-width rows.

    Passes 1-3 gather the InstanceNorm statistics of the whole image layer by layer,
    pass 4 samples the seed features at the grid centres, then :func:`cluster_local`
    assigns the pixels band by band. Each band is computed with ``halo`` rows of context,
    so Z is the same as in one piece. Z of the whole image is kept after its first
    computation when it takes at most ``Z_CACHE_BYTES`` (float32), else in float16 when
    that takes at most ``Z_CACHE_HALF_BYTES`` and a quarter of the machine's memory
    (about 1e-3 relative rounding of the features); else every clustering pass runs
    the network again.
    """
    fem = net.embedder
    _, _, h, w = x.shape
    rows = max(8, min(tile_pixels // max(w, 1), max(64, BAND_PIXELS // max(w, 1))))
    bands = [(r0, min(h, r0 + rows)) for r0 in range(0, h, rows)]
    halo = fem.halo
    from tqdm.auto import tqdm

    refine = refine or {}
    # clustering passes that read Z: the seed rounds, the final assignment, and the ICM
    # sweeps when the distances they need are not kept (see cluster_local), and one for
    # the features' statistics when feature_contrast is on without seed rounds
    smoothing = refine.get("smoothing", 0)
    sweeps_need_z = smoothing > 0 and not _keeps_dists(h, w, refine.get("window", 3), smoothing)
    stats_pass = _uses_feature_contrast(smoothing, refine.get("feature_contrast", 0)) and not refine.get("iterations", 0)
    passes = 1 + refine.get("iterations", 0) + stats_pass + 2 * SMOOTHING_SWEEPS * sweeps_need_z
    z_bytes = fem.out_channels * h * w * 4
    if passes == 1:  # Z is read once: nothing to keep
        keep = None
    elif z_bytes <= Z_CACHE_BYTES:
        keep = np.float32
    elif z_bytes // 2 <= min(Z_CACHE_HALF_BYTES, _memory_bytes() // 4):
        keep = np.float16
    else:
        keep = None
    bar = tqdm(total=(4 + (1 if keep else passes)) * len(bands), unit="band", desc=f"lnsnet {h}x{w} in bands", disable=not progress,
               dynamic_ncols=True, leave=False)

    def band(r0, r1, stats, stage):
        bar.update(1)
        a, b = max(0, r0 - halo), min(h, r1 + halo)
        out = fem.forward_band(x[:, :, a:b].to(dev), a == 0, b == h, stats, stage)
        start = a + (fem.halo_of(stage) if a > 0 else 0)
        return out[:, :, r0 - start : r1 - start]

    stats = [None, None, None]
    for stage in range(3):
        s1 = s2 = 0.0
        for r0, r1 in bands:
            m1, m2, _ = moments(band(r0, r1, stats, stage))
            s1, s2 = s1 + m1, s2 + m2
        stats[stage] = stats_from_moments(s1, s2, h * w)
    pos = grid.centres()
    y_lo, y_hi, ty = _bilinear_index(pos[:, 0], h)
    x_lo, x_hi, tx = _bilinear_index(pos[:, 1], w)
    need = set(y_lo.tolist()) | set(y_hi.tolist())
    zrows = {}
    for r0, r1 in bands:
        if any(r0 <= r < r1 for r in need):
            z = band(r0, r1, stats, 3)[0].cpu()
            for r in need:
                if r0 <= r < r1:
                    zrows[r] = z[:, r - r0].clone()  # a view would keep the whole band alive
    order = sorted(zrows)
    table = torch.stack([zrows[r] for r in order])  # (rows needed, C, W)
    where = {r: i for i, r in enumerate(order)}
    lo = torch.tensor([where[r] for r in y_lo.tolist()])
    hi = torch.tensor([where[r] for r in y_hi.tolist()])
    ty, tx = ty[:, None], tx[:, None]
    seed_feats = ((1 - ty) * ((1 - tx) * table[lo, :, x_lo] + tx * table[lo, :, x_hi])
                  + ty * ((1 - tx) * table[hi, :, x_lo] + tx * table[hi, :, x_hi]))  # (K, C)
    cache: dict = {}

    def zband(r0, r1):
        if (r0, r1) in cache:
            z = cache[(r0, r1)]
            return z if z.dtype == np.float32 else z.astype(np.float32)
        z = band(r0, r1, stats, 3)[0].cpu().numpy()
        if keep is not None:
            if keep is np.float16:  # features are InstanceNorm outputs, far below 65504; never inf
                np.clip(z, -65504.0, 65504.0, out=z)
            cache[(r0, r1)] = z = z.astype(keep, copy=False)
        return z.astype(np.float32, copy=False)  # float16: the same rounding on every pass

    raw = cluster_local(zband, bands, grid, x[0, :3].numpy(), seed_feats.numpy(), pos.numpy(), **refine)
    bar.close()
    return raw


def _memory_bytes() -> int:
    """Memory this process may use: the machine's physical memory, or the container's
    cgroup limit where that is lower (bytes; 8 GiB where neither can be read)."""
    try:
        total = int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        total = 8 << 30
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            limit = Path(path).read_text().strip()
        except OSError:
            continue
        if limit.isdigit() and 0 < int(limit) < total:
            total = int(limit)
    return total


def _bilinear_index(p: torch.Tensor, size: int):
    """Lower and upper sample index and weight of positions ``p`` (pixels) on ``size`` samples."""
    lo = p.floor().clamp(0, size - 1)
    t = (p - lo).clamp(0, 1)
    hi = (lo + 1).clamp(max=size - 1)
    return lo.long(), hi.long(), t
