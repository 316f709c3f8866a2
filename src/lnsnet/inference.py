"""Inference, one short path: image -> checks and encoding (:mod:`lnsnet.prepare`) ->
features (whole, or in bands above ``tile_pixels``) -> clustering -> connectivity ->
labels."""

from __future__ import annotations

import math
import numbers
import os
import threading
from pathlib import Path
from typing import Callable, ParamSpec, Sequence, TypeVar, Union

import numpy as np
import torch

from .bands import TILE_PIXELS, BandedFeatures
from .cluster import ClusterOptions, cluster_local, cluster_pixels
from .cluster.gpu import cluster_batch
from .cluster.local import feature_passes
from . import connectivity
from .grid import Grid, fit_to_mask, make_grid
from .hub import as_device, input_features, is_input_only, resolve_model
from .model import LNSNet
from .model.contour import contour_factor
from .model.seeds import sample_features
from .prepare import Prepared, _check_mask, _spatial, clustering_colour, encode_on, merge_colour, prepare, read_spacing
from .runtime import check_progress, tune_malloc, user_stacklevel
from .errors import ArgumentTypeError, bad_argument

__all__ = ["segment"]


_P = ParamSpec("_P")
_R = TypeVar("_R")


def _as_a_pipeline_needs(fn: Callable[_P, _R]) -> Callable[_P, _R]:
    """``segment`` whatever the host program has set around it: no autocast (bfloat16 under
    an ambient ``torch.autocast`` changed labels), float32 as torch's default dtype, and
    the numba kernels on no more threads than torch's
    (:class:`lnsnet.runtime.numba_follows_torch`)."""
    import contextlib
    import functools

    @functools.wraps(fn)
    def guarded(*args, **kwargs):
        from .runtime import numba_follows_torch

        cuda_off = torch.autocast("cuda", enabled=False) if torch.cuda.is_available() else contextlib.nullcontext()
        with float32_default(), torch.autocast("cpu", enabled=False), cuda_off, numba_follows_torch():
            return fn(*args, **kwargs)

    return guarded


class float32_default:
    """float32 as torch's default dtype while any call is inside (a context manager).
    torch's default dtype is the process's: a host that set float64 made tensors the
    float32 network refused. The first call in sets float32 and the last one out sets the
    host's dtype back, under a lock: calls in several threads overlap (each setting its own
    back, one thread put float64 back while another was still inside, which then failed or
    gave other labels). A thread of the host that creates tensors without a dtype meanwhile
    gets float32."""

    _lock = threading.Lock()
    _inside = 0
    _host = torch.float32

    def __enter__(self):
        cls = type(self)
        with cls._lock:
            if cls._inside == 0:
                cls._host = torch.get_default_dtype()
                if cls._host != torch.float32:
                    torch.set_default_dtype(torch.float32)
            cls._inside += 1
        return self

    def __exit__(self, *exc):
        cls = type(self)
        with cls._lock:
            cls._inside -= 1
            if cls._inside == 0 and cls._host != torch.float32:
                torch.set_default_dtype(cls._host)
        return False


class _LastAxis(int):
    """-1, ``segment``'s default channel axis, told apart from a -1 the caller gives (a
    3-D array read as a 2-D image with many channels is warned about only when the axis
    was not given)."""

    def __repr__(self) -> str:
        return "-1"


_CHANNELS_LAST = _LastAxis(-1)


@_as_a_pipeline_needs
def segment(
    image: Union[np.ndarray, Sequence[np.ndarray]],
    n_segments: int = 100,
    compactness: float | None = None,
    max_num_iter: int | None = None,
    sigma=0,
    spacing=None,
    convert2lab: bool | None = None,
    enforce_connectivity: bool = True,
    min_size_factor: float | None = None,
    max_size_factor: float | None = None,
    slic_zero: bool = False,
    start_label: int = 1,
    mask=None,
    *,
    channel_axis: int | None = _CHANNELS_LAST,
    model: Union[str, Path, LNSNet, None] = None,
    device: Union[str, torch.device, None] = None,
    clustering: Union[str, ClusterOptions, None] = None,
    batch_size: int = 8,
    tile_pixels: int = TILE_PIXELS,
    adapt: int = 0,
    progress=False,
    backend: str = "torch",
    boundaries: str | None = None,
    **misplaced,
) -> Union[np.ndarray, list[np.ndarray]]:
    """Segment an image into about ``n_segments`` superpixels with LNS-Net.

    A drop-in for scikit-image's ``slic``: its parameters in its order, with its meaning,
    and its label conventions (labels from ``start_label``; outside a ``mask`` 0, or -1
    with ``start_label=0``); the README's "Coming from skimage's slic" lists where the two
    differ.

    Parameters
    ----------
    image : ndarray or list of ndarrays
        ``HxW`` (gray) or ``HxWxC`` with the channels on ``channel_axis``: RGB, RGBA (alpha
        ignored) or any number of channels (see ``convert2lab``); uint8 and uint16 are
        scaled by their range, floats in [0, 1] taken as they are, anything else stretched
        from its minimum and maximum. A list gives a list of label maps; images of the
        same shape go through the network together, ``batch_size`` at a time. A volume
        (``ZxYxX`` with ``channel_axis=None``, or 4-D with a channel axis) gives
        supervoxels (:mod:`lnsnet.volume`: the compact clustering in 3-D on its
        standardised channels, 6-connected; ``spacing`` then has 3 values; no 3-D network
        ships yet, and the 2-D one is never applied slice by slice).
    n_segments : int
        K, the number of superpixels asked for (inside ``mask`` when one is given; a real
        number is rounded, as ``pixels / 400``); at least the number of pixels, every pixel
        is one. The number delivered is close to K, not exactly K (and at least one per
        connected piece of a mask: a warning says when a mask of many pieces made far more).
    model : str, path or LNSNet, optional
        Shipped model name, model file, or model; default: the shipped ``"bsds500"``.
        ``"none"`` clusters the standardised CIELAB input itself (no network) and
        ``"untrained"`` uses the network before training: what training adds is the
        difference.
    device : str or torch.device, optional
        ``"cpu"`` (default) or ``"cuda"``. A volume's seed rounds run there too (its
        connectivity on the CPU).
    clustering : str or ClusterOptions, optional
        How pixels are clustered around the seeds. A preset name: ``"fast"`` (the
        default): superpixels as compact as LSC's from the input and the model's contour
        head; ``"compact"``: the same clustering on the feature embedder's output too, about
        twice the time; ``"paper"``: the paper's one-shot clustering, more boundary recall,
        ragged shapes. A spec such
        as ``"paper:window=5"`` or a :class:`lnsnet.ClusterOptions` sets any of its
        options (``docs/compactness.md`` says what each costs and buys).
    compactness : float, optional
        Weight of the spatial distance to the seed: larger gives more regular shapes and
        less boundary recall, 0 the paper's pure feature clustering. On lnsnet's scale
        (standardised features, distances in grid steps), not slic's. Default: the
        clustering's (fast: 32, compact: 24, paper: 0; a volume: 40, ``lnsnet.volume.DEFAULTS``).
    max_num_iter : int, optional
        SLIC-style rounds that move the seeds to their pixels' means before the final
        assignment (the clustering option ``iterations``; fast and compact: 5, paper: 0).
    sigma : float or (float, float)
        Width of a Gaussian smoothing of the image before segmenting, per spatial axis (a
        scalar is divided by ``spacing``). 0 (default): none beyond the clustering's own
        ``blur`` (0.8 px in the presets ``fast`` and ``compact``, 0 in ``paper``; at most 1/8 of the superpixels' side; the two
        combine as ``sqrt(sigma**2 + blur**2)`` in pixels).
    spacing : float or (float, float), optional
        The physical size of a pixel along rows and columns: the seed grid and the spatial
        distance are in those units (anisotropic pixels). Default: 1, 1. A volume takes
        ``(dz, dy, dx)`` (``lnsnet.io.read_volume`` returns a file's own).
    convert2lab : bool, optional
        The network reads CIELAB: ``None`` (default) converts gray, RGB and RGBA; ``False``
        takes the channels as they are (each standardised, projected on three principal
        components when more than three); ``True`` requires RGB.
    enforce_connectivity : bool
        Make every superpixel one 4-connected region and merge pieces below
        ``min_size_factor`` (default True). False: the clustering's labels as they are
        (and no ``max_size_factor`` cap, as with slic).
    min_size_factor : float, optional
        Pieces smaller than this fraction of the mean superpixel size are merged into
        their most similar neighbour. Default: the clustering's (0.25; slic: 0.5).
    max_size_factor : float, optional
        Superpixels larger than this multiple of the mean size are cut, in raster order,
        into pieces of that size; pieces below ``min_size_factor`` are then merged into a
        neighbour, so some superpixels can end above it (slic's cap is not strict either).
        Default: None, no cap (each superpixel stays within the 3x3 grid cells around its
        seed; slic: 3). Volumes alike.
    slic_zero : bool
        False only: SLIC-zero's per-superpixel compactness does not apply (``True`` raises
        a ``TypeError``); lnsnet's spatial weight adapts to the image's edges instead.
    start_label : {0, 1}
        The first label (default 1, as slic's). The pixels outside a ``mask`` are
        ``start_label - 1`` (0, or -1), as slic's.
    mask : ndarray of bool, optional
        Superpixels only where True (about ``n_segments`` of them there); outside: ``start_label - 1`` (0 by default).
    channel_axis : int or None
        The axis of the channels (default -1, the last); None: no channels. A 2-D array
        is a gray image either way (slic refuses ``channel_axis=-1`` for it). A 3-D array
        is a 2-D image with channels unless ``channel_axis=None`` (a volume), as in
        slic; left at its default on an array whose last axis holds more than 16 values,
        that is said in a ``UserWarning`` (give ``channel_axis=-1`` for many channels).
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
    progress : bool or callable
        Show a progress bar (stderr) while a large image runs band by band, or a large
        volume pass by pass; a callable ``progress(done, total)`` is called after each of
        those steps instead (for a GUI's own bar; every volume, banded images only; with
        ``boundaries=``, one pass: ``progress(1, 1)`` once the call's flood is done).
    backend : {"torch", "openvino", "openvino-bf16"}
        What runs the network on the CPU: torch (default); OpenVINO in fp32 (1.1-1.4x
        torch's time, labels equal on 99.3-100 % of pixels) or in bfloat16 (0.68-0.77x on
        CPUs with AMX; the same scores on BSDS500 val, but many labels differ). Needs
        ``pip install '.[openvino]'`` in the checkout; images run in bands keep torch
        (:mod:`lnsnet.backends`, ``docs/performance.md``).
    boundaries : {None, "bright", "dark"}
        The image shows boundaries, not regions: cell walls or membranes as bright (or
        dark) lines, a boundary probability map. Superpixels (or supervoxels) then grow
        from the seed grid by a compact watershed and meet on the lines' ridges
        (:mod:`lnsnet.flood`; ``compactness`` default 0.2, ``docs/volumes.md``, "Boundary
        images"); no network runs, on the CPU; ``max_num_iter``, ``min_size_factor`` and
        ``max_size_factor`` do not apply, and every superpixel is connected.
    **misplaced
        Refused with a ``TypeError`` that names the keyword and says where it went (e.g.
        ``window=5`` is now ``clustering="window=5"``; slic's ``slic_zero`` does not apply).

    Returns
    -------
    labels : ndarray, int32, ``(H, W)`` (a volume: ``(Z, Y, X)``; a list: a list)
        Labels ``start_label .. start_label + k - 1`` (``start_label - 1`` outside
        ``mask``); with ``enforce_connectivity`` every label is one 4-connected region
        (6-connected in a volume).

    Examples
    --------
    >>> import numpy as np, lnsnet
    >>> img = np.random.default_rng(0).random((64, 96, 3))
    >>> labels = lnsnet.segment(img, n_segments=24)
    >>> labels.shape, labels.dtype, labels.min()
    ((64, 96), dtype('int32'), np.int32(1))
    """
    if misplaced:
        raise ArgumentTypeError(_misplaced_message(misplaced))
    if slic_zero:  # slic's keyword, taken only as False (0, None too, as slic's `if slic_zero:`)
        raise ArgumentTypeError(_SLIC_ONLY["slic_zero"])
    check_progress(progress)
    # big-endian arrays (FITS, HDF5, np.frombuffer of network data) in the machine's order:
    # the type rules (uint8 / 255, uint16 / 65535) and the kernels read native types
    image = [_native(im) for im in image] if isinstance(image, (list, tuple)) else _native(image)
    if (channel_axis is _CHANNELS_LAST and isinstance(image, np.ndarray) and image.ndim in (3, 4)
            and image.shape[-1] > 16):  # a volume's x axis; images of up to 16 channels are common
        import warnings

        first = (f"; channels first ({'C, Y, X' if image.ndim == 3 else 'C, Z, Y, X'}): channel_axis=0"
                 if image.shape[0] <= 16 else "")
        what = ("one 2-D image" if image.ndim == 3 else f"a volume of shape {image.shape[:3]}")
        vol = "for a volume (Z, Y, X) pass channel_axis=None; " if image.ndim == 3 else ""
        warnings.warn(f"lnsnet.segment: an array of shape {image.shape} is read as {what} with "
                      f"{image.shape[-1]} channels (its last axis, channel_axis=-1 by default); {vol}for channels "
                      f"last, channel_axis=-1 says so and silences this{first}", UserWarning,
                      stacklevel=user_stacklevel())  # the caller's line
    if boundaries is not None:
        if backend != "torch":
            raise ValueError("boundaries= runs no network: it takes no backend")
        unused = [name for name, value in (("max_num_iter", max_num_iter), ("min_size_factor", min_size_factor),
                                           ("max_size_factor", max_size_factor)) if value is not None]
        unused += [] if enforce_connectivity else ["enforce_connectivity=False"]
        unused += [] if device is None or str(device).split(":")[0] == "cpu" else [f"device={device!r}"]
        if unused:  # said rather than ignored in silence
            raise ValueError(f"boundaries= floods from the seed grid once, on the CPU, every superpixel one connected "
                             f"region by construction: it takes none of {', '.join(unused)}")
        out = _segment_boundaries(image, n_segments, boundaries, compactness=compactness, sigma=sigma,
                                  spacing=spacing, convert2lab=convert2lab, start_label=start_label, mask=mask,
                                  channel_axis=channel_axis, model=model, clustering=clustering, adapt=adapt)
        if callable(progress):  # the flood is one pass: done
            progress(1, 1)
        return out
    if _is_volume(image, channel_axis):
        if backend != "torch":
            from .backends import check_backend

            check_backend(backend, volume=True)
        return _segment_volume(image, n_segments, compactness=compactness, max_num_iter=max_num_iter, sigma=sigma,
                               spacing=spacing, convert2lab=convert2lab, enforce_connectivity=enforce_connectivity,
                               min_size_factor=min_size_factor, max_size_factor=max_size_factor,
                               start_label=start_label, mask=mask, channel_axis=channel_axis, model=model,
                               clustering=clustering, adapt=adapt, device=device, progress=progress)
    overrides = dict(compactness=compactness, min_size_factor=min_size_factor)
    if max_num_iter is not None:
        if isinstance(max_num_iter, (bool, np.bool_)) or not isinstance(max_num_iter, numbers.Integral) \
                or max_num_iter < 0:  # named as the caller named it (the option behind it is `iterations`)
            raise bad_argument(max_num_iter, numbers.Integral,
                               f"max_num_iter must be an integer >= 0 or None, got {max_num_iter!r}")
        overrides["iterations"] = max_num_iter
    options = ClusterOptions.of(clustering, **overrides)
    batch_size = _positive_int(batch_size, "batch_size")
    tile_pixels = _positive_int(tile_pixels, "tile_pixels")
    if isinstance(adapt, bool) or not isinstance(adapt, numbers.Integral) or adapt < 0:
        raise bad_argument(adapt, numbers.Integral, f"adapt must be an integer >= 0 (iterations), got {adapt!r}")
    if isinstance(start_label, bool) or start_label not in (0, 1):
        raise bad_argument(start_label, numbers.Integral, f"start_label must be 0 or 1, got {start_label!r}")
    if not isinstance(enforce_connectivity, (bool, np.bool_, numbers.Integral)):
        raise ArgumentTypeError(f"enforce_connectivity must be True or False, got {enforce_connectivity!r}")
    _check_max_size_factor(max_size_factor)
    vol = None if not isinstance(image, (list, tuple)) else next(
        (im for im in image if _is_volume(im, channel_axis)), None)
    if vol is not None:  # said first: a volume's 3 spacing values were warned about as a 2-D image's before this
        raise ValueError(f"an array of shape {vol.shape} with channel_axis={channel_axis!r} is a 3-D volume; a list "
                         "takes 2-D images (HxW, or HxWxC with channel_axis): pass a volume on its own for supervoxels")
    spacing = read_spacing(spacing)
    dev = as_device(device)
    tune_malloc()
    single = not isinstance(image, (list, tuple))
    images = [image] if single else list(image)
    masks = _per_image(mask, len(images), single)
    # check everything first: a bad image fails before any work is done
    k = _check_k(n_segments)
    defer = dev.type == "cuda" and not adapt  # decoded, blurred and encoded on the GPU, batch by batch
    preps = [prepare(im, channel_axis=channel_axis, convert2lab=convert2lab, mask=m, sigma=sigma, spacing=spacing,
                     blur=options.blur, n_segments=k, defer=defer)
             for im, m in zip(images, masks)]
    preps = [prepare(im, channel_axis=channel_axis, convert2lab=convert2lab, sigma=sigma, spacing=spacing,
                     blur=options.blur, n_segments=k) if p.pending is not None and p.area > tile_pixels else p
             for im, p in zip(images, preps)]  # images in bands: encoded on the CPU
    special = any(m is not None for m in masks) or spacing != (1.0, 1.0)
    if special and options.mode == "dense":
        raise ValueError("mask and spacing take the local clustering (mode='local'), not mode='dense'")
    net = resolve_model(model, dev)
    if is_input_only(net) and (options.seeds == "learned" or adapt):
        raise ValueError("model='none' has no network: it takes seeds='grid' and no adapt")
    if options.features == "input":  # the embedder is not run: the clustering reads the input in its place
        if adapt and net.contour_head is None:
            raise ValueError("adapt with features='input' trains the model's contour head, and this model has "
                             "none (train one: lnsnet train --contour-iterations N)")
        net = input_features(net)
    if backend != "torch":
        from .backends import check_backend, with_backend

        check_backend(backend, device_type=dev.type, adapt=adapt, features=options.features)
        net = with_backend(net, backend)
    if special and options.seeds == "learned":
        raise ValueError("mask and spacing take seeds='grid'")
    if adapt and any(p.rgb is None for p in preps):
        raise ValueError("adapt takes gray, RGB or RGBA images (the network trains on CIELAB), "
                         "not convert2lab=False or other channel counts")
    if not adapt:  # the float RGB copy is for online adaptation only (12 bytes a pixel)
        for p in preps:
            p.rgb = None
    post = dict(connect=bool(enforce_connectivity), max_size_factor=max_size_factor if enforce_connectivity else None,
                start_label=int(start_label))
    spacing = _grid_spacing(spacing)  # the grid and the spatial term only need the ratio
    out: list = [None] * len(preps)
    for i, p in enumerate(preps):  # K at least the pixels: every pixel is a superpixel, as documented
        if k >= p.area:
            out[i] = _one_per_pixel(p, int(start_label))
    if adapt:
        from .train import adapt_model

        for i, p in enumerate(preps):  # each image gets its own adapted copy: no batching
            if out[i] is not None:
                continue
            tuned = adapt_model(net, p.rgb, min(k, p.area), int(adapt), device=dev,
                                contours=options.features == "input")
            out[i] = _segment_batch(tuned, [p], k, dev, options, spacing, tile_pixels, progress, post)[0]
    else:
        groups: dict = {}
        for i, p in enumerate(preps):
            if out[i] is not None:
                continue
            alone = p.area > tile_pixels or p.mask is not None
            groups.setdefault(("one", i) if alone else p.hw, []).append(i)
        for idx in groups.values():
            for j in range(0, len(idx), batch_size):
                chunk = idx[j : j + batch_size]
                labels = _segment_batch(net, [preps[i] for i in chunk], k, dev, options, spacing, tile_pixels,
                                        progress, post)
                for i, lab in zip(chunk, labels):
                    out[i] = lab
    if enforce_connectivity:
        for m, lab in zip(masks, out):
            _note_mask_pieces(m, lab, k, int(start_label))
    return out[0] if single else out


def _note_mask_pieces(mask, labels: np.ndarray, k: int, start_label: int) -> None:
    """Warn when a ``mask`` of many separate pieces made far more superpixels than ``k``:
    every piece (4-connected in 2-D, 6-connected in 3-D) is at least one superpixel, since a
    superpixel is one connected region, so a speckled threshold mask or a diagonal line gives
    one superpixel per speck or pixel (slic's labels would straddle them)."""
    if mask is None:
        return
    got = int(labels.max()) - start_label + 1
    if got <= max(2 * k, k + 10):
        return
    import warnings

    from scipy import ndimage

    pieces = ndimage.label(np.asarray(mask, dtype=bool))[1]  # the default structure: 4 / 6 neighbours
    if pieces > k:
        warnings.warn(f"lnsnet.segment: the mask has {pieces} separate pieces ({'6' if labels.ndim == 3 else '4'}-"
                      f"connected), and each is at least one superpixel (one connected region): {got} superpixels for "
                      f"n_segments={k}. Remove small pieces first (skimage.morphology.remove_small_objects), or pass "
                      "enforce_connectivity=False", UserWarning, stacklevel=user_stacklevel())


def _is_volume(image, channel_axis) -> bool:
    """A ``(Z, Y, X)`` array with ``channel_axis=None`` or a 4-D one with channels."""
    return isinstance(image, np.ndarray) and (
        (image.ndim == 3 and channel_axis is None) or (image.ndim == 4 and channel_axis is not None))


def _segment_volume(volume, n_segments, *, compactness, max_num_iter, sigma, spacing, convert2lab,
                    enforce_connectivity, min_size_factor, max_size_factor, start_label, mask, channel_axis, model,
                    clustering, adapt, device=None, progress=False):
    """Supervoxels (:mod:`lnsnet.volume`): the compact clustering in 3-D on the volume's
    standardised channels. No 3-D network ships yet, and the 2-D one is not applied slice
    by slice: a volume takes ``model=None`` or ``"none"``."""
    from .volume import _as_volume, segment_volume

    from .volume_model import VolumeNet, load_volume_model

    if model is None or (isinstance(model, str) and model == "none"):
        model = None
    elif (isinstance(model, (str, Path)) and not Path(model).exists()
          and (str(model).endswith((".pt", ".pth")) or os.sep in str(model))):
        raise FileNotFoundError(f"model file not found: {model}")  # as the 2-D path says it
    elif not isinstance(model, VolumeNet):
        if isinstance(model, (str, Path)) and Path(model).is_file():
            try:
                model = load_volume_model(model)
            except ValueError:
                if not _is_2d_model_file(model):
                    raise  # neither kind of model: the 3-D loader's reason
        if not isinstance(model, VolumeNet):
            raise ValueError(f"model={model!r} is not a 3-D model: lnsnet does not apply a 2-D model slice by slice "
                             f"to a volume of shape {volume.shape}; pass a 3-D model (lnsnet.volume_model) or "
                             "model=None / 'none' (the clustering on the volume's standardised channels)")
    if clustering is not None or adapt:
        raise ValueError("a volume takes neither clustering= nor adapt= (the 3-D clustering has its own options: "
                         "compactness, max_num_iter, min_size_factor)")
    if convert2lab and not (channel_axis is None or np.ndim(volume) == 3):  # a gray volume: ignored, as by slic
        raise ValueError("convert2lab=True takes a 2-D RGB image, not a volume with channels (its channels are "
                         "standardised as they are; convert them first, e.g. skimage.color.rgb2lab)")
    if not isinstance(enforce_connectivity, (bool, np.bool_, numbers.Integral)):
        raise ArgumentTypeError(f"enforce_connectivity must be True or False, got {enforce_connectivity!r}")
    _check_max_size_factor(max_size_factor)  # checked even when connectivity is off (then unused), as 2-D
    spacing3 = read_spacing(spacing, 3)
    sig = np.asarray(_spatial(sigma, "sigma", positive=False, n=3))
    if sig.any():
        if np.ndim(sigma) == 0:  # a scalar sigma is in physical units
            sig = sig / np.asarray(spacing3)
        vol = _as_volume(volume, channel_axis)
        m = _check_mask(mask, vol.shape[:3]) if mask is not None and np.shape(mask) == vol.shape[:3] else None
        volume = _blur_volume(vol, tuple(sig), m)
        channel_axis = -1
    k = _check_k(n_segments)
    labels = segment_volume(volume, k, compactness=compactness, max_num_iter=max_num_iter,
                            spacing=spacing3, channel_axis=channel_axis, mask=mask,
                            enforce_connectivity=bool(enforce_connectivity), min_size_factor=min_size_factor,
                            max_size_factor=max_size_factor if enforce_connectivity else None,  # as slic, as in 2-D
                            start_label=start_label, model=model, device=_volume_device(device), progress=progress)
    if enforce_connectivity:
        _note_mask_pieces(mask, labels, k, int(start_label))
    return labels


def _segment_boundaries(image, n_segments, boundaries, *, compactness, sigma, spacing, convert2lab, start_label,
                        mask, channel_axis, model, clustering, adapt):
    """``segment(..., boundaries=)``: a compact watershed of a boundary image from the seed
    grid (:mod:`lnsnet.flood`), 2-D or 3-D, one image or a list."""
    from .flood import segment_boundaries
    from .prepare import _as_channels_last, _check_finite, _check_mask
    from .volume import _as_volume

    if boundaries not in ("bright", "dark"):
        raise ValueError(f"boundaries must be None, 'bright' or 'dark', got {boundaries!r}")
    if clustering is not None or adapt:
        raise ValueError("boundaries= floods the image itself: it takes neither clustering= nor adapt=")
    if not (model is None or (isinstance(model, str) and model == "none")):
        raise ValueError("boundaries= runs no network: it takes no model (leave model=None)")
    if isinstance(start_label, bool) or start_label not in (0, 1):
        raise bad_argument(start_label, numbers.Integral, f"start_label must be 0 or 1, got {start_label!r}")
    if compactness is not None and (isinstance(compactness, bool) or not isinstance(compactness, numbers.Real)):
        raise ArgumentTypeError(f"compactness must be a finite number >= 0, got {compactness!r}")  # as 2-D and volumes say
    k = _check_k(n_segments)
    if isinstance(image, (list, tuple)):
        if any(_is_volume(im, channel_axis) for im in image):
            raise ValueError("a list takes 2-D images (HxW, or HxWxC with channel_axis): pass a volume on its own "
                             "for supervoxels")
        masks = _per_image(mask, len(image), False)
        return [_segment_boundaries(im, k, boundaries, compactness=compactness, sigma=sigma, spacing=spacing,
                                    convert2lab=convert2lab, start_label=start_label, mask=m,
                                    channel_axis=channel_axis, model=model, clustering=None, adapt=0)
                for im, m in zip(image, masks)]
    volume = _is_volume(image, channel_axis)
    if volume:
        if image.dtype.kind not in "biuf":
            raise ArgumentTypeError(f"unsupported volume dtype {image.dtype}; allowed: bool, integer or floating point")
        vol = _as_volume(image, channel_axis)
        if min(vol.shape) < 1:
            raise ValueError(f"volume is empty: shape {image.shape}")
        sp = read_spacing(spacing, 3)
    else:
        arr = _as_channels_last(image, channel_axis)
        if arr.shape[2] == 4 and convert2lab is not False:  # RGBA: alpha ignored, as everywhere
            arr = arr[:, :, :3]
        vol = arr[None]
        sp = (1.0,) + read_spacing(spacing)
    m = None if mask is None else _check_mask(mask, vol.shape[:3] if volume else vol.shape[1:3])
    if m is not None and not volume:
        m = m[None]
    _check_finite(vol, m, "volume" if volume else "image", channel_axis, vol.shape[3] > 1)
    sig = np.asarray(_spatial(sigma, "sigma", positive=False, n=3 if volume else 2), dtype=float)
    if sig.any():  # slic's pre-smoothing: a scalar in physical units, a sequence in pixels per axis
        axes = sp if volume else sp[1:]
        if np.ndim(sigma) == 0:
            sig = sig / np.asarray(axes)
        vol = _blur_volume(vol, tuple(sig) if volume else (0.0,) + tuple(sig), m)
    lab = segment_boundaries(vol, k, boundaries=boundaries, compactness=compactness, spacing=sp, mask=m,
                             start_label=int(start_label))
    return lab if volume else lab[0]


def _blur_volume(vol: np.ndarray, sigma3: tuple, m: np.ndarray | None) -> np.ndarray:
    """slic's ``sigma`` on a ``(Z, Y, X, C)`` volume: a Gaussian of ``sigma3`` voxels per
    spatial axis, as float32; with a mask ``m`` normalised inside it (the outside, NaN too,
    does not bleed in; 0 there)."""
    from scipy import ndimage

    vol = vol.astype(np.float32)
    sg = tuple(sigma3) + (0.0,)
    if m is None:
        return ndimage.gaussian_filter(vol, sg, mode="reflect")
    vol[~m] = 0.0  # (a NaN inside spreads inside only: the callers refuse it there)
    weight = ndimage.gaussian_filter(m.astype(np.float32), sg[:3], mode="reflect")[..., None]
    return np.where(m[..., None], ndimage.gaussian_filter(vol, sg, mode="reflect")
                    / np.maximum(weight, 1e-12), 0.0).astype(np.float32)


def _volume_device(device):
    """Where a volume's seed rounds run: ``None`` (the CPU kernels) for the CPU, else the
    torch device (:func:`lnsnet.volume._rounds_torch`)."""
    dev = as_device(device)
    return None if dev.type == "cpu" else dev


def _is_2d_model_file(path) -> bool:
    try:
        from .checkpoint import load

        load(path)
        return True
    except (ValueError, OSError):
        return False


def _segment_batch(net, preps: list[Prepared], k: int, dev, options: ClusterOptions, spacing, tile_pixels: int,
                   progress: bool, post: dict) -> list:
    """Labels for images of one shape (one network call)."""
    h, w = preps[0].hw
    mask = preps[0].mask  # a masked image is always alone in its batch
    grid = make_grid(h, w, k, spacing) if mask is None else _mask_grid(h, w, min(k, preps[0].area), mask, spacing)
    if any(p.pending is not None for p in preps):  # encoded on the device (a GPU), together
        x, scales = encode_on(preps, dev)
        preps = [Prepared(x[b], None, p.mask, p.box, p.shape, scales[b], sharp=p.sharp_image())
                 for b, p in enumerate(preps)]
    else:  # (one image: its input as it is, not a stacked copy)
        x = torch.from_numpy(preps[0].x[None] if len(preps) == 1 else np.stack([p.x for p in preps]))
    special = dict(mask=mask, spacing=spacing) if mask is not None or spacing != (1.0, 1.0) else None
    pos = grid.centres() if mask is None else torch.from_numpy(grid.mask_centres(mask))
    # the clustering's colour (its colour term, edge weights and contrast): the input's colour
    # channels on one common scale (Prepared.colour_scale); it joins the features as the
    # input (ClusterOptions.input_weight), once per batch
    scales = [p.colour_scale for p in preps]
    colour = clustering_colour(x, scales)
    extras = colour * options.input_weight if options.input_weight else None
    fold = None
    if extras is not None and is_input_only(net):
        # the features are the input's three colour channels and the extras the same
        # channels times input_weight * scale: one feature, the channels times
        # sqrt(1 + (input_weight * scale)^2), gives the same distances with half the
        # channels (and the same smoothing contrast, which standardises each channel),
        # up to float rounding; whole images only (bands keep the two). Not where the
        # contrast would floor a weighted copy's tiny spread (cluster.local.feature_weights)
        spreads = options.input_weight * np.stack(scales).astype(np.float32)
        if _foldable(spreads, options):
            fold = torch.sqrt(1 + torch.from_numpy(spreads) ** 2)[:, :, None, None]
    with torch.inference_mode():
        cfac = _contour_factors(net, colour, options, mask, dev)
        if h * w > tile_pixels:
            if options.seeds == "learned" or options.mode == "dense":
                raise ValueError(
                    f"a {h}x{w} image is above tile_pixels={tile_pixels}, which runs in bands; banded "
                    "inference supports seeds='grid' and mode='local' only (or raise tile_pixels)"
                )
            feats = BandedFeatures(net, x, grid, dev, tile_pixels, pos, feature_passes(h, w, options), progress)
            seed_feats = feats.seed_features
            if extras is not None:  # the input joins the features (ClusterOptions.input_weight)
                seed_feats = np.concatenate([seed_feats, sample_features(extras, pos[None])[0].numpy()], 1)
            try:
                raws = [cluster_local(feats.zband, feats.bands, grid, colour[0].numpy(), seed_feats, pos.numpy(),
                                      options, extra=None if extras is None else extras[0].numpy(),
                                      contour=None if cfac is None else cfac[0].cpu().numpy(), **(special or {}))]
            finally:
                feats.close()
        else:
            xd = x.to(dev)
            z = net.embed(xd)
            if fold is not None:
                z, extras = z * fold.to(z), None
            if options.seeds == "learned":
                pos = net.seed_positions(z, grid)
            else:
                pos = pos.to(dev, z.dtype)[None].expand(z.shape[0], -1, -1)
            seed_feats = net.seed_features(z, pos)
            if extras is not None:  # the input joins the features (ClusterOptions.input_weight)
                seed_feats = torch.cat([seed_feats, net.seed_features(extras.to(z), pos)], 2)
            if special is None and device_connectivity(dev, options, post, (z.shape[0], h)):
                # all on the GPU: the batch clustered together (the compact clustering's
                # kernels) or image by image (the paper's layer), then connected there
                if options.mode == "local" and options.refines:
                    raw = cluster_batch(z, colour, grid, seed_feats, pos, options, extras, cfac)
                else:
                    raw = torch.stack([cluster_pixels(z[b], colour[b], grid, seed_feats[b], pos[b], options,
                                                      extra=None if extras is None else extras[b],
                                                      contour=None if cfac is None else cfac[b],
                                                      device_labels=True) for b in range(z.shape[0])])
                # (one shape, one blur: the unblurred images of all or none of the batch)
                sharp = None if preps[0].sharp is None else np.stack([p.sharp for p in preps])
                return list(_finish_device(raw, merge_colour(xd).permute(0, 2, 3, 1), grid.n_seeds, options,
                                           post["start_label"], sharp=sharp))
            raws = [cluster_pixels(z[b], colour[b], grid, seed_feats[b], pos[b], options,
                                   extra=None if extras is None else extras[b],
                                   contour=None if cfac is None else cfac[b], **(special or {}))
                    for b in range(z.shape[0])]
    # what only the clustering read goes before the connectivity's arrays are made
    colour = extras = cfac = seed_feats = z = feats = None
    n_seeds = grid.n_seeds if mask is None else int(grid.cells_in(mask).sum())
    merge = merge_colour(x).permute(0, 2, 3, 1).cpu().numpy()  # what the connectivity's merges compare
    return [_finish(raw, merge[b], preps[b], n_seeds, options, **post) for b, raw in enumerate(raws)]


def _foldable(spreads: np.ndarray, options: ClusterOptions) -> bool:
    """Whether the input and its weighted copy (standard deviations 1 and ``spreads``
    ``(B, 3)``) can be one feature: always without the smoothing's feature contrast; with
    it, when no copy's spread is under the floor :func:`lnsnet.cluster.local.feature_weights`
    puts at 1e-3 of the largest (the folded channels are never under it)."""
    if not options.uses_feature_contrast:
        return True
    for s in spreads:
        live = s[s > 0]
        if live.size and live.min() < 1e-3 * max(1.0, float(s.max())):
            return False
    return True


def _contour_factors(net, colour: torch.Tensor, options: ClusterOptions, mask, dev):
    """The spatial term's factor ``(B, H, W)`` on ``dev`` from the model's contour head
    (:func:`lnsnet.model.contour.contour_factor`, its mean 1 inside ``mask``), or None: no
    head, ``contour`` 0, or no spatial term."""
    if options.contour <= 0 or options.compactness <= 0 or getattr(net, "contour_head", None) is None:
        return None
    b = net.contours(colour.to(dev))[:, 0]
    return contour_factor(b, options.contour, None if mask is None else torch.from_numpy(mask).to(dev))


def device_connectivity(dev, options: ClusterOptions, post: dict, shape=(1, 1)) -> bool:
    """Whether a batch of ``shape`` ``(images, rows)`` is clustered and connected all on
    ``dev``: a CUDA device where the CUDA kernels run and the batch fits their grid, no size
    cap, no orphans."""
    if dev.type != "cuda" or not post["connect"] or post["max_size_factor"] is not None or options.orphan_factor:
        return False
    from .cluster.cuda import fits
    from .cluster.gpu import use_kernels

    return fits(*shape) and use_kernels(dev)


def _finish_device(raw, feats, n_seeds: int, options: ClusterOptions, start_label: int, *,
                   sharp=None) -> np.ndarray:
    """:func:`_finish` on the labels' device for whole images without a mask: ``raw``
    ``(H, W)`` or a batch ``(B, H, W)`` (int64), ``feats`` ``(H, W, 3)`` or ``(B, H, W, 3)``,
    ``sharp`` the unblurred image(s) ``(..., H, W, C)`` (numpy) or None (not blurred); int32
    labels of the same shape (numpy)."""
    if sharp is not None:
        raw = connectivity.reassign_slivers_torch(raw, torch.from_numpy(sharp).to(raw.device))
    labels = connectivity.enforce_connectivity_torch(raw, feats, n_seeds, options.min_size_factor,
                                                     options.max_segments(n_seeds))
    return (labels + start_label).to(torch.int32).cpu().numpy()


def _finish(raw, feats, prep: Prepared, n_seeds: int, options: ClusterOptions, *, connect: bool,
            max_size_factor, start_label: int) -> np.ndarray:
    """The blur's slivers, connectivity, the size cap and the label numbering of one image,
    in the full frame."""
    mask = prep.mask
    if prep.sharp is not None:
        raw = connectivity.reassign_slivers(raw, prep.sharp)
    if connect:
        kw = dict(n_segments=n_seeds, min_size_factor=options.min_size_factor, mask=mask)
        labels = connectivity.enforce_connectivity(raw, feats, orphan_factor=options.orphan_factor,
                                                   max_segments=options.max_segments(n_seeds), **kw)
        if max_size_factor is not None:  # (slic caps sizes only with connectivity: segment() passes None)
            cut = connectivity.split_large(labels, max(1, int(max_size_factor * prep.area / n_seeds)))
            labels = connectivity.enforce_connectivity(cut, feats, **kw)
    else:
        labels = np.full(raw.shape, -1, np.int32)
        inside = slice(None) if mask is None else mask
        labels[inside] = connectivity.relabel_consecutive(raw[inside])
    return _in_frame(labels, prep, start_label)


def _in_frame(labels: np.ndarray, prep: Prepared, start_label: int) -> np.ndarray:
    """Labels ``0..k-1`` of the segmented box (-1 outside the mask) numbered from
    ``start_label`` in the full frame."""
    r0, r1, c0, c1 = prep.box
    if prep.mask is None and (r0, r1, c0, c1) == (0, prep.shape[0], 0, prep.shape[1]):
        return (labels + start_label).astype(np.int32, copy=False)
    full = np.full(prep.shape, start_label - 1, dtype=np.int32)  # outside the mask: 0, or -1 (as slic)
    full[r0:r1, c0:c1] = np.where(labels >= 0, labels + start_label, start_label - 1)
    return full


def _one_per_pixel(prep: Prepared, start_label: int) -> np.ndarray:
    """Every pixel (inside the mask) its own label, in raster order, in the full frame."""
    inside = np.ones(prep.hw, bool) if prep.mask is None else prep.mask
    labels = np.full(prep.hw, -1, np.int32)
    labels[inside] = np.arange(int(inside.sum()), dtype=np.int32)
    return _in_frame(labels, prep, start_label)


def _check_max_size_factor(value) -> None:
    """slic's ``max_size_factor``: None or a finite number > 0 (``ValueError`` naming it)."""
    if value is not None and (isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real)
                              or not 0 < value < float("inf")):
        raise bad_argument(value, numbers.Real, f"max_size_factor must be a finite number > 0 or None, got {value!r}")


def _native(image):
    """``image`` as a plain ndarray (a subclass such as ``np.matrix``, which cannot take a
    third axis, viewed as one) with its values in the machine's byte order (a copy only
    when it is not)."""
    if isinstance(image, np.ndarray) and type(image) is not np.ndarray:
        image = np.asarray(image)
    if isinstance(image, np.ndarray) and not image.dtype.isnative:
        return image.astype(image.dtype.newbyteorder("="))
    return image


def _grid_spacing(spacing) -> tuple[float, float]:
    """The spacing over its largest value: the grid and the spatial term depend on the
    ratio only, and tiny or huge physical units cannot under- or overflow there."""
    top = max(spacing)
    return spacing[0] / top, spacing[1] / top


def _mask_grid(h: int, w: int, k: int, mask: np.ndarray, spacing) -> Grid:
    """The grid whose cells holding masked pixels number closest to ``k``."""
    return fit_to_mask(k, h * w, int(mask.sum()), lambda target: make_grid(h, w, target, spacing),
                       lambda grid: int(grid.cells_in(mask).sum()))


def _per_image(mask, n: int, single: bool) -> list:
    if mask is None:
        return [None] * n
    if single:
        return [mask]
    if not isinstance(mask, (list, tuple)) or len(mask) != n:
        raise ValueError(f"with a list of {n} images, mask must be a list of {n} masks (or None)")
    return list(mask)


_SLIC_ONLY = {
    "slic_zero": "slic_zero (SLIC-zero's per-superpixel compactness) does not apply: lnsnet's spatial weight "
                 "already adapts to the image (the clustering option edge_scale); set compactness instead",
    "multichannel": "multichannel was removed from skimage's slic too: use channel_axis (None for no channels)",
    "max_iter": "max_iter is slic's max_num_iter (renamed in scikit-image 0.19): use max_num_iter",
}


def _misplaced_message(misplaced: dict) -> str:
    """Say where the options of earlier versions went, and why slic's others do not apply."""
    msg = f"segment() got unexpected keyword arguments {', '.join(sorted(misplaced))}"
    notes = [_SLIC_ONLY[name] for name in sorted(misplaced) if name in _SLIC_ONLY]
    moved = sorted(set(misplaced) & set(ClusterOptions.field_names()))
    if moved:
        notes.append(f"{', '.join(moved)} {'is a' if len(moved) == 1 else 'are'} clustering option"
                     f"{'' if len(moved) == 1 else 's'}: clustering='{moved[0]}=...' or "
                     "clustering=lnsnet.ClusterOptions.resolve(...)")
    return "; ".join([msg] + notes)


def _positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise bad_argument(value, numbers.Integral, f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _check_k(n_segments) -> int:
    """``n_segments`` as an int: an integer, or a real number rounded to the nearest one (slic
    takes ``pixels / 400`` as it is; its grid is set by the ratio)."""
    if isinstance(n_segments, bool) or not isinstance(n_segments, numbers.Real):
        raise ArgumentTypeError(f"n_segments must be a number, got {n_segments!r}")
    given = n_segments
    if not isinstance(n_segments, numbers.Integral):
        if not math.isfinite(float(n_segments)):
            raise ValueError(f"n_segments must be a finite number, got {n_segments!r}")
        n_segments = round(float(n_segments))
    k = int(n_segments)
    if k < 1:
        raise ValueError(f"n_segments must be >= 1, got {given!r}" + (f" (rounded: {k})" if given != k else ""))
    return k
