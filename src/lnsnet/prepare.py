"""From what a caller passes to what inference needs: scikit-image ``slic``'s keywords
(``channel_axis``, ``convert2lab``, ``mask``, ``sigma``, ``spacing``) read and checked,
the image scaled, smoothed, cropped to the mask and encoded (CIELAB or any channels).

=====================  ===============================================================
input                  how the network takes it
=====================  ===============================================================
gray (``HxW``)         as an RGB image of equal channels: CIELAB's L
RGB (3 channels)       CIELAB (``convert2lab=None`` or ``True``)
RGBA (4 channels)      CIELAB of the RGB, alpha ignored (``convert2lab=False``: four
                       channels)
any other count, or    each channel standardised, projected on the three principal
``convert2lab=False``  components when more than three (:func:`features.encode_channels`)
=====================  ===============================================================
"""

from __future__ import annotations

import numbers
import warnings
from dataclasses import dataclass

import numpy as np

from .errors import ArgumentTypeError, bad_argument

__all__ = ["Prepared", "prepare", "clustering_colour", "merge_colour", "read_spacing"]


@dataclass
class Prepared:
    """One image ready for the network.

    ``x`` ``(5, h, w)`` float32 the network's input; ``rgb`` ``(h, w, 3)`` float32 in
    [0, 1] when the input is colour or gray (else None: channels, no online adaptation);
    ``mask`` ``(h, w)`` bool or None; ``box`` the crop ``(r0, r1, c0, c1)`` of the full
    image ``shape`` that ``x`` covers (the mask's bounding box; the whole image without a
    mask); ``colour_scale`` ``(3,)`` float32: the clustering takes ``x``'s three colour
    channels times these factors (:func:`lnsnet.features.colour_scale_of`).
    """

    x: np.ndarray | None
    rgb: np.ndarray | None
    mask: np.ndarray | None
    box: tuple[int, int, int, int]
    shape: tuple[int, int]
    colour_scale: np.ndarray | None
    #: an image checked but not yet encoded (``prepare(..., defer=True)``): the image
    #: ``(h, w, c)`` as given (c 1 or 3) and the blur ``(rows, columns)`` in pixels;
    #: :meth:`on_device` encodes it there
    pending: tuple | None = None
    #: the image before the blur, ``(h, w, c)``: float32 as the network's input was made
    #: from it, or an 8- or 16-bit image's own values (a linear scale of those; None: not
    #: blurred); what the blur's slivers are checked against
    #: (:func:`lnsnet.connectivity.reassign_slivers`, whose test is scale-free)
    sharp: np.ndarray | None = None

    @property
    def hw(self) -> tuple[int, int]:
        """The height and width of what is segmented (the mask's bounding box)."""
        return tuple(self.pending[0].shape[:2]) if self.x is None else tuple(self.x.shape[1:])

    @property
    def area(self) -> int:
        """The number of pixels to segment."""
        return int(self.mask.sum()) if self.mask is not None else self.hw[0] * self.hw[1]

    def sharp_image(self) -> np.ndarray | None:
        """:attr:`sharp`, or for a deferred image that is blurred the image :attr:`pending` holds."""
        if self.pending is None or not any(self.pending[1]):
            return self.sharp
        return self.pending[0]  # 8 or 16 bits as given, or already in [0, 1]

    def on_device(self, device) -> "Prepared":
        """This image with ``x`` a tensor on ``device`` (:func:`encode_on`)."""
        x, scale = encode_on([self], device)
        return Prepared(x[0], self.rgb if self.pending is None else None, self.mask, self.box, self.shape, scale[0],
                        sharp=self.sharp_image())


def encode_on(preps: list, device, kernels: bool | None = None):
    """The inputs of images of one shape as one tensor ``(B, 5, H, W)`` on ``device`` and
    their colour factors ``(B, 3)``: pending images (``prepare(..., defer=True)``) decoded to
    [0, 1], blurred and encoded there together, the others' ``x`` moved. ``kernels``: by
    the CUDA kernels (:func:`lnsnet.cluster.cuda.encode`: three launches) instead of torch
    operations (:func:`lnsnet.features.encode_torch`); None: on a CUDA device where they
    run. One host synchronisation a batch either way."""
    import torch

    from .features import encode_torch
    from .io import unit_range

    device = torch.device(device)
    if kernels is None:
        from .cluster.gpu import use_kernels

        kernels = device.type == "cuda" and use_kernels(device)
    xs: list = [None] * len(preps)
    scales: list = [None] * len(preps)
    groups: dict = {}  # pending images by their blur (and for the kernels, their kind)
    if kernels:
        from .cluster.cuda import fits

        kernels = fits(len(preps), preps[0].hw[0])  # CUDA's grid limits: else torch operations
    for i, p in enumerate(preps):
        if p.pending is None:
            xs[i], scales[i] = torch.from_numpy(p.x).to(device), p.colour_scale
        elif kernels:
            img = p.pending[0]
            groups.setdefault((p.pending[1], img.dtype == np.uint8, img.shape[2]), []).append(i)
        else:
            groups.setdefault(p.pending[1], []).append(i)
    if kernels:
        from .cluster import cuda as ck

        for ((py, px), _, _), idx in groups.items():
            raw = [preps[i].pending[0] for i in idx]
            raw = np.stack([r if r.dtype == np.uint8 else unit_range(r) for r in raw])  # uint16 decoded here
            x, sc = ck.encode(torch.from_numpy(raw).to(device), py, px)
            for j, i in enumerate(idx):
                xs[i], scales[i] = x[j], sc[j]
        return torch.stack(xs), np.stack(scales).astype(np.float32)
    for (py, px), idx in groups.items():
        rgb = []
        for i in idx:
            img = preps[i].pending[0]
            t = torch.from_numpy(np.ascontiguousarray(img)).to(device)
            if img.dtype == np.uint8:  # lnsnet.io.unit_range's rule, on the device
                t = t.float() / 255.0
            elif img.dtype == np.uint16:
                t = t.float() / 65535.0
            t = t.permute(2, 0, 1)
            rgb.append(t.expand(3, -1, -1) if t.shape[0] == 1 else t)
        x, sc = encode_torch(_gaussian_torch(torch.stack(rgb), py, px).contiguous(),
                             [preps[i].pending[0].shape[2] == 1 for i in idx])
        for j, i in enumerate(idx):
            xs[i], scales[i] = x[j], sc[j]
    return torch.stack(xs), np.stack(scales).astype(np.float32)


def _gaussian_torch(img, py: float, px: float):
    """scipy.ndimage.gaussian_filter(img, (py, px)) over the last two axes (rows, columns)
    of ``(..., H, W)`` float32 in torch (its kernel, truncated at 4 sigma, and its
    ``reflect`` borders; float32 between the axes)."""
    import torch

    for axis, sd in ((img.dim() - 2, py), (img.dim() - 1, px)):
        if sd <= 1e-15:
            continue
        n = img.shape[axis]
        k, idx = gaussian_taps(sd, n, img.device)
        padded = img.index_select(axis, idx)
        out = torch.zeros_like(img)
        for j in range(k.shape[0]):
            out += k[j] * padded.narrow(axis, j, n)
        img = out
    return img


def gaussian_taps(sd: float, n: int, device):
    """scipy's Gaussian kernel (truncated at 4 sigma) as float32 weights, and the index table
    of an axis of ``n`` pixels padded by its radius with scipy's ``reflect`` borders (tensors
    on ``device``); one tap of 1 for no blur."""
    import torch

    from .features import gaussian_kernel

    k, idx = gaussian_kernel(sd, n) if sd > 1e-15 else (np.ones(1), np.arange(n))
    return torch.from_numpy(k.astype(np.float32)).to(device), torch.from_numpy(idx).to(device)


def _spatial(value, name: str, positive: bool, n: int = 2) -> tuple[float, ...]:
    """A scalar or a sequence of ``n`` numbers for the spatial axes of a 2-D image
    (``n = 2``; slic's old 3-number form is accepted with a warning, its first dropped) or
    a volume (``n = 3``: z, y, x)."""
    if value is None:
        return (1.0 if positive else 0.0,) * n
    if isinstance(value, (numbers.Real, np.number)) and not isinstance(value, bool):
        vals = [float(value)] * n
    else:
        try:
            vals = [float(v) for v in np.asarray(value, dtype=float).ravel()]
        except (TypeError, ValueError):
            raise ArgumentTypeError(f"{name} must be a number or a sequence of numbers, got {value!r}") from None
        if n == 2 and len(vals) == 3:  # slic's old 3-axis form for 2-D images: the first axis is dropped
            from .runtime import user_stacklevel

            warnings.warn(f"Input image is 2D: {name} number of elements must be 2; the first of {vals} "
                          "is ignored (a (Z, Y, X) volume takes channel_axis=None, or is 2-D with its last axis "
                          "as channels)", UserWarning, stacklevel=user_stacklevel())
            vals = vals[1:]
        if len(vals) != n:
            raise ValueError(f"Input image is 2D, but {name} has {len(vals)} elements (expected 2)" if n == 2 else
                             f"a 3-D volume takes {name} as 3 numbers (z, y, x), got {len(vals)}: {value!r}")
    if not all(np.isfinite(v) and (v > 0 if positive else v >= 0) for v in vals):
        raise ValueError(f"{name} must be finite and {'> 0' if positive else '>= 0'}, got {value!r}")
    return tuple(vals)


def read_spacing(spacing, n: int = 2) -> tuple[float, ...]:
    """``spacing`` (None, a number, or one per axis: (row, column), or (z, y, x) with
    ``n = 3``) as floats > 0."""
    return _spatial(spacing, "spacing", positive=True, n=n)


def _as_channels_last(image, channel_axis) -> np.ndarray:
    if not isinstance(image, np.ndarray):
        kind = type(image).__module__.split(".")[0]
        hint = {"torch": "a tensor: pass tensor.cpu().numpy() (a CHW tensor with channel_axis=0)",
                "PIL": "a PIL image: pass np.asarray(image)"}.get(kind, "read files with lnsnet.io.read_image")
        raise ArgumentTypeError(f"image must be a numpy array, got {type(image).__name__}; {hint}")
    if image.dtype.kind not in "biuf":
        raise ArgumentTypeError(f"unsupported image dtype {image.dtype}; allowed: bool, integer or floating point")
    if image.ndim == 2:  # gray, whatever channel_axis says (slic raises for channel_axis=-1)
        return image[:, :, None]
    if image.ndim == 3 and channel_axis is not None:
        if (isinstance(channel_axis, (bool, np.bool_)) or not isinstance(channel_axis, numbers.Integral)
                or not -3 <= channel_axis <= 2):
            raise bad_argument(channel_axis, numbers.Integral,
                               f"channel_axis must be None or an axis of the image (-3..2), got {channel_axis!r}")
        return np.moveaxis(image, channel_axis, -1)
    if image.ndim == 4 and channel_axis is None:
        raise ValueError(f"a 4-D array (shape {image.shape}) is a volume with channels: pass channel_axis (-1 for "
                         "ZxYxXxC, 0 for CxZxYxX, 1 for ZxCxYxX as an ImageJ hyperstack); a batch of 2-D images "
                         "is a list")
    if image.ndim == 3 or image.ndim == 4:
        raise ValueError(f"an array of shape {image.shape} with channel_axis={channel_axis!r} is a 3-D volume; "
                         "a list takes 2-D images (HxW, or HxWxC with channel_axis): pass a volume on its own for "
                         "supervoxels")
    raise ValueError(f"image must be HxW or HxWxC (a volume: ZxYxX with channel_axis=None, or 4-D with a channel "
                     f"axis), got an array with {image.ndim} dimensions (shape {image.shape})")


def finite_pixels(image, channel_axis=-1) -> np.ndarray | None:
    """Where every channel of a float image is finite, as a mask (the pixels, or voxels,
    with data: a registered or ratio image's NaN padding left out); None when the image is
    not float or all of it is finite. The CLI and the napari widget segment with it."""
    image = np.asarray(image)
    if image.dtype.kind != "f":
        return None
    finite = np.isfinite(image)
    if finite.all():
        return None
    return finite if channel_axis is None else finite.all(axis=channel_axis)


def _check_finite(arr: np.ndarray, m, what: str, channel_axis, channels: bool) -> None:
    """Refuse NaN or infinite values of a float ``arr`` (inside ``m``), saying how to mask
    them out (``what``: "image" or "volume")."""
    if arr.dtype.kind == "f" and not np.isfinite(arr[m] if m is not None else arr).all():
        raise ValueError(f"{what} contains NaN or infinite values" + (" inside the mask" if m is not None else "")
                         + f"; mask them out (mask=np.isfinite({what})"
                         + (f".all(axis={channel_axis if channel_axis is not None else -1})" if channels else "") + ")")


def _check_mask(mask, shape) -> np.ndarray:
    m = np.asarray(mask)
    if m.shape != shape:
        what = "volume" if len(shape) == 3 else "image"
        raise ValueError(f"mask must have the {what}'s spatial shape {shape}, got shape {m.shape}")
    if m.dtype.kind not in "biuf":
        raise ArgumentTypeError(f"mask must be a boolean (or 0/1) array, got dtype {m.dtype}")
    if m.dtype.kind == "f" and not np.isfinite(m).all():
        raise ValueError("mask has NaN or infinite values; pass a boolean mask")
    m = m.astype(bool)
    if not m.any():
        raise ValueError("mask selects no " + ("voxel" if m.ndim == 3 else "pixel"))
    return m


#: the clustering's ``blur`` is at most this fraction of the superpixels' side along each
#: axis (``sqrt(area / n_segments)`` in physical units, over the pixel's size on that axis):
#: 0.8 px down to 6.4 px superpixels (K about 3,800 on a 481x321 image), less below; the
#: presets' blur was chosen on val at sides of 12 px and more
BLUR_PER_SIDE = 0.125


#: the share of exactly equal 4-neighbour pairs from which an image is piecewise flat (drawn
#: graphics, label-like and binary images); photos and micrographs stay well below it
#: (BSDS500 at most 0.34, SBD 0.77, DSB2018's nuclei 0.73)
FLAT_PAIRS = 0.9


def piecewise_flat(img: np.ndarray, mask: np.ndarray | None = None) -> bool:
    """Whether at least :data:`FLAT_PAIRS` of the ``(H, W, C)`` image's 4-neighbour pairs
    (both pixels inside ``mask`` when given: a photo on a plain canvas is not flat) are
    exactly equal in every channel: a noise-free image of flat regions, whose edges the
    clustering's blur (there for noise and compression artefacts) would only widen into
    ramps (on flat synthetic scenes the blur tripled the superpixels that cross a border:
    ``docs/compactness.md``, "Flat graphics"). Counted on every ``s``-th row and column of
    a large image (``s`` about its side over 500), channel by channel: a photo, whose first
    channel already has too few equal pairs, is told in one pass over one channel."""
    h, w = img.shape[:2]
    if h * w < 2:
        return False
    s = max(1, int(round(np.sqrt(h * w) / 500.0)))
    rows, cols = img[::s], img[:, ::s]
    if mask is None:
        across, down = np.ones((rows.shape[0], w - 1), bool), np.ones((h - 1, cols.shape[1]), bool)
    else:
        mr, mc = mask[::s], mask[:, ::s]
        across, down = mr[:, 1:] & mr[:, :-1], mc[1:] & mc[:-1]  # pairs with both pixels inside
    pairs = int(np.count_nonzero(across)) + int(np.count_nonzero(down))
    if pairs == 0:
        return False
    for c in range(img.shape[2]):  # equal in every channel: narrowed channel by channel
        across &= rows[:, 1:, c] == rows[:, :-1, c]
        down &= cols[1:, :, c] == cols[:-1, :, c]
        if int(np.count_nonzero(across)) + int(np.count_nonzero(down)) < FLAT_PAIRS * pairs:
            return False
    return True


def _blur_px(sigma, blur: float, n_segments, spacing, area: float) -> tuple[float, float]:
    """The Gaussian's standard deviation in pixels along rows and columns: ``sigma`` (in
    physical units when a scalar) and the clustering's ``blur`` combined in quadrature, the
    blur at most :data:`BLUR_PER_SIDE` of the superpixels' side (``area`` pixels over
    ``n_segments``)."""
    sy, sx = _spatial(sigma, "sigma", positive=False)
    by = bx = float(blur)
    if blur > 0 and n_segments:  # tiny superpixels: a blur that keeps what they should follow
        # the superpixels' side (physical) over each axis' pixel size, from the ratio alone
        side = float(np.sqrt(area / n_segments))
        ratio = float(np.sqrt(float(spacing[1]) / float(spacing[0])))
        by, bx = min(by, BLUR_PER_SIDE * side * ratio), min(bx, BLUR_PER_SIDE * side / ratio)
    scale = spacing if np.ndim(sigma) == 0 else (1.0, 1.0)  # a scalar sigma is in physical units
    return float(np.hypot(sy / scale[0], by)), float(np.hypot(sx / scale[1], bx))  # in pixels


#: the side of the blocks whose means tell a channel's structure from its pixel noise
MERGE_BLOCK = 8


DARK = 0.04  # below sRGB's linear limit, 0.04045: there CIELAB is linear in the values


def lift_dark(img: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """A float32 image in [0, 1] whose largest value is below :data:`DARK`, times
    ``DARK / max``. Every value of such an image lies on the linear parts of sRGB (v / 12.92)
    and of CIELAB's ``f`` (X / Xn <= 0.0031 < 0.008856), so its CIELAB is its lifted
    copy's divided by the factor, and the encoding's standardisation takes that factor out:
    the same features, without float32's rounding of ``116 f - 16`` (``f`` near 4/29), which
    made an image whose values are all below about 1e-7 flat, or its edges steps of
    rounding. Others (and an all-zero image) are returned as they are."""
    inside = img if mask is None else img[mask]  # the pixels that count (outside: NaN nodata, a canvas)
    top = float(np.nanmax(inside)) if inside.size and not np.isnan(inside).all() else 0.0
    if not 0.0 < top < DARK:
        return img
    factor = DARK / top
    with np.errstate(over="ignore", invalid="ignore"):  # values outside the mask: replaced after
        if factor > 1e30:  # subnormal values: a factor float32 cannot hold, in two steps
            img, factor = img * np.float32(1e30), factor / 1e30
        return (img * np.float32(factor)).astype(np.float32, copy=False)


def merge_colour(x):
    """What the connectivity's merges compare (the closest neighbour's mean): the network
    input's standardised colour channels of a batch ``x`` ``(B, 5, H, W)``, each times its
    share of structure, ``sqrt(var(means of 8x8 blocks) / var)`` (at most 1) -> ``(B, 3, H,
    W)`` on ``x``'s device. A channel whose variance is pixel noise (the chroma of a noisy
    gray image, blown up to sd 1 by the standardisation) weighs little, one with regions
    and edges keeps its weight (photos: 0.86-1.0). Chosen on val (``docs/learning.md``, "The
    connectivity's merges, not the blur, break the noisy step"): the same scores as the
    standardised channels on BSDS500, SBD and DSB2018 val, where the merges on the noisy
    synthetic steps no longer chain fragments across them. Images below one block: weight 1."""
    import torch

    c = x[:, :3]
    b = MERGE_BLOCK
    h, w = c.shape[2] // b * b, c.shape[3] // b * b
    if h == 0 or w == 0:
        return c
    # the statistics in float64 from float32 sums (no float64 copy of the image: memory)
    means = torch.nn.functional.avg_pool2d(c[:, :, :h, :w], b).double()
    flat = c.flatten(2)  # the variance from float64 sums of the values and their squares: torch's
    n = flat.shape[-1]  # float32 var is 4x slower here and 100x less exact on standardised values
    var = (flat.square().sum(-1, dtype=torch.float64) / n - (flat.sum(-1, dtype=torch.float64) / n) ** 2).clamp(min=0)
    share = means.var((2, 3), unbiased=False) / torch.where(var > 0, var, torch.ones_like(var))
    weight = torch.where(var > 0, share.clamp(max=1.0).sqrt(), torch.zeros_like(var))
    return c * weight.to(c.dtype)[:, :, None, None]


def clustering_colour(x, scales):
    """The clustering's colour of a batch of network inputs ``x`` ``(B, 5, H, W)``: the
    colour channels times each image's :attr:`Prepared.colour_scale` (``scales``, ``B``
    arrays of 3), on one common scale (:func:`lnsnet.features.colour_scale_of`). What the
    colour term, the edge weights, the Potts contrast and the contour head read, in
    inference and in the head's training alike."""
    import torch

    return x[:, :3] * torch.from_numpy(np.stack(scales)).to(x.device)[:, :, None, None]


def prepare(image, *, channel_axis=-1, convert2lab=None, mask=None, sigma=0, spacing=(1.0, 1.0),
            blur: float = 0.0, n_segments: int | None = None, defer: bool = False) -> Prepared:
    """Check and encode one image (see the module's table). ``blur``: a Gaussian in pixels
    on top of ``sigma`` (:attr:`lnsnet.ClusterOptions.blur`; the two combine as the root of
    the sum of squares), at most :data:`BLUR_PER_SIDE` of the superpixels' side when
    ``n_segments`` is given. ``defer``: a gray or colour image without a mask is checked
    only, its decoding, blur and encoding left to :meth:`Prepared.on_device` (a GPU's
    path). Raises ``TypeError`` or ``ValueError`` naming what was received."""
    from .features import encode_channels, encode_image, gaussian_hw
    from .io import unit_range

    img = _as_channels_last(image, channel_axis)
    h, w, c = img.shape
    if h < 1 or w < 1 or c < 1:
        raise ValueError(f"image is empty: shape {np.shape(image)}")
    m = None if mask is None else _check_mask(mask, (h, w))
    if convert2lab not in (None, True, False):
        raise ArgumentTypeError(f"convert2lab must be None, True or False, got {convert2lab!r}")
    if convert2lab and c not in (3, 4) and not (c == 1 and channel_axis is None):  # a gray image is its L
        # already (slic ignores it there); a channel axis given with one channel, as slic, refused
        gray = ("; a gray HxW image takes it with channel_axis=None (slic refuses it with channel_axis=-1 too)"
                if np.ndim(image) == 2 else "")
        raise ValueError(f"Lab colorspace conversion requires a RGB image (3 channels), got {c} channel(s){gray}")
    lab = c in (1, 3, 4) if convert2lab is None else bool(convert2lab)
    if c == 4 and lab:
        alpha = img[:, :, 3]
        if convert2lab is None and alpha.size and alpha.min() != alpha.max():
            import warnings

            from .runtime import user_stacklevel

            warnings.warn("lnsnet.segment: a 4-channel image is read as RGBA and its 4th channel, which varies "
                          "here, is ignored as alpha; if it is image content (near infrared, a fourth stain), "
                          "pass convert2lab=False to cluster all four channels", UserWarning,
                          stacklevel=user_stacklevel())
        img = img[:, :, :3]
    _check_finite(img, m, "image", channel_axis, c > 1 or np.ndim(image) == 3)
    if blur and piecewise_flat(img, m):  # no noise to smooth: the blur would only make ramps at its edges
        blur = 0.0
    if defer and lab and m is None:
        raw = img if img.dtype in (np.uint8, np.uint16) else lift_dark(unit_range(img))
        py, px = _blur_px(sigma, blur, n_segments, spacing, float(h * w))
        return Prepared(None, None, None, (0, h, 0, w), (h, w), None, pending=(raw, (py, px)))
    coded = img if lab and m is None and img.dtype in (np.uint8, np.uint16) else None  # as given: no copy
    if lab:  # floats only: 8 and 16 bits are far from float32's rounding there (1/65535 is a step of 9e-6 in f)
        img = lift_dark(unit_range(img, m), m) if img.dtype.kind == "f" else unit_range(img, m)
    else:
        img = img.astype(np.float32)
    box = (0, h, 0, w)
    if m is not None:
        rows, cols = np.nonzero(m.any(1))[0], np.nonzero(m.any(0))[0]
        box = (int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1)
        img, m = img[box[0]:box[1], box[2]:box[3]], m[box[0]:box[1], box[2]:box[3]]
        # outside the mask: the mean inside, so it adds no edge and no statistic of its own
        img = np.where(m[:, :, None], img, img[m].mean(0, dtype=np.float64)).astype(np.float32)
    py, px = _blur_px(sigma, blur, n_segments, spacing, float(m.sum() if m is not None else h * w))
    blurred = py > 0 or px > 0
    # the unblurred image for the sliver step, whose test is a ratio of squared distances: an
    # 8- or 16-bit image as given (a quarter or half the memory of its float copy)
    sharp = (img if coded is None else coded) if blurred else None
    if blurred and m is None:
        img = gaussian_hw(img, py, px)
    elif blurred:  # a normalised blur: the mean outside the mask does not leak in
        mf = m.astype(np.float32)
        num = gaussian_hw(img * mf[:, :, None], py, px)
        den = gaussian_hw(mf[:, :, None], py, px)[:, :, 0]
        img = np.where(m[:, :, None], num / np.maximum(den, 1e-6)[:, :, None], img).astype(np.float32)
    if lab:
        rgb = np.ascontiguousarray(np.repeat(img, 3, axis=2) if img.shape[2] == 1 else img, dtype=np.float32)
        x, scale = encode_image(rgb, colour_scale=True, gray=img.shape[2] == 1)
        return Prepared(x, rgb, m, box, (h, w), scale, sharp=sharp)
    x, scale = encode_channels(img, colour_scale=True)
    return Prepared(x, None, m, box, (h, w), scale, sharp=sharp)
