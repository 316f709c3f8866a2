"""Reading images and writing label maps and overlays.

Every writer is atomic: it writes a temporary file in the destination folder and renames
it, so an output file appears whole or not at all.
"""

from __future__ import annotations

import contextlib
import errno
import io
import math
import os
import shutil
import sys
import tempfile
import threading
from pathlib import Path
from typing import Union

import numpy as np

from .errors import ArgumentTypeError

PathLike = Union[str, os.PathLike]

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".bmp", ".tif", ".tiff", ".ppm", ".pgm", ".pbm", ".pnm",
                  ".webp", ".gif")
#: image files of kinds lnsnet does not read: a folder's are named in a note rather than passed over in silence
UNREAD_IMAGE_SUFFIXES = (".heic", ".heif", ".avif", ".jxl", ".jp2", ".j2k", ".dng", ".cr2", ".cr3", ".nef", ".arw",
                         ".orf", ".rw2", ".raw", ".psd", ".svg", ".exr")


def to_float_rgb(image: np.ndarray) -> np.ndarray:
    """Validate an image array and convert it to float32 RGB in [0, 1].

    Parameters
    ----------
    image : ndarray
        ``HxW`` (gray), ``HxWx1``, ``HxWx3`` (RGB) or ``HxWx4`` (RGBA, alpha dropped);
        ``uint8`` (0..255) and ``uint16`` (0..65535) scaled by their range, floats in
        ``[0, 1]`` as they are; any other numeric type, and floats outside ``[0, 1]``,
        stretched from their minimum to their maximum (as :func:`lnsnet.segment` does).

    Returns
    -------
    ndarray, float32, shape ``(H, W, 3)``

    Raises
    ------
    TypeError
        If ``image`` is not a numpy array or has an unsupported dtype.
    ValueError
        If the shape or channel count is not supported, or for NaN or infinite values.
    """
    if not isinstance(image, np.ndarray):
        raise ArgumentTypeError(
            f"image must be a numpy array, got {type(image).__name__}; "
            "read files with lnsnet.io.read_image"
        )
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim == 2:
        image = image[:, :, None]
    elif image.ndim == 3:
        if image.shape[2] == 4:
            image = image[:, :, :3]
        elif image.shape[2] != 3:
            raise ValueError(
                f"image must have 1, 3 or 4 channels (gray, RGB, RGBA), got shape {image.shape}"
            )
    else:
        raise ValueError(
            f"image must be HxW, HxWx3 or HxWx4, got an array with {image.ndim} dimensions "
            f"(shape {image.shape})"
        )
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise ValueError(f"image is empty: shape {image.shape}")

    if image.dtype.kind not in "biuf":
        raise ArgumentTypeError(
            f"unsupported image dtype {image.dtype}; allowed: bool, integer or floating point"
        )
    if image.dtype.kind == "f" and not np.all(np.isfinite(image)):
        raise ValueError("image contains NaN or infinite values")
    out = unit_range(image)
    if out.shape[2] == 1:
        out = np.repeat(out, 3, axis=2)
    return np.ascontiguousarray(out)


def unit_range(image: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
    """An image's values as float32 in [0, 1], the package's one rule: uint8 / 255, uint16
    / 65535, floats already in [0, 1] as they are; any other integer type, bool, and floats
    outside [0, 1] stretched from their minimum to their maximum (over the ``valid``
    pixels, ``(H, W)`` bool, when given; the others clipped), as slic stretches. A flat
    image that needs stretching comes out 0."""
    return unit_range_rule(image, valid)(image)


def _value_range(image: np.ndarray, valid: np.ndarray | None) -> tuple[float, float]:
    """The minimum and maximum of ``image`` (inside ``valid``, which covers its first axes),
    taken in blocks along the first axis: ``image[valid]`` at once would copy every value
    it selects (a volume's worth)."""
    if valid is None:
        return float(image.min()), float(image.max())
    step = max(1, (1 << 21) // max(1, image[0].size))
    lo, hi = math.inf, -math.inf
    for a in range(0, image.shape[0], step):
        part = image[a:a + step][valid[a:a + step]]
        if part.size:
            lo, hi = min(lo, float(part.min())), max(hi, float(part.max()))
    if lo > hi:
        raise ValueError("no value to scale: the mask selects none")
    return lo, hi


def unit_range_rule(image: np.ndarray, valid: np.ndarray | None = None) -> "UnitRule":
    """:func:`unit_range` of ``image`` as a function that applies it to any part of the
    image (``rule(image[a:b])`` equals ``unit_range(image)[a:b]``), for reading a large
    volume slab by slab."""
    native = image.dtype.newbyteorder("=")  # a big-endian uint16 is a uint16
    if native == np.uint8:
        return UnitRule(UnitRule.DIVIDE, 0.0, 255.0)
    if native == np.uint16:
        return UnitRule(UnitRule.DIVIDE, 0.0, 65535.0)
    lo, hi = _value_range(image, valid)
    if image.dtype.kind == "f" and lo >= 0.0 and hi <= 1.0:
        return UnitRule(UnitRule.AS_IS, 0.0, 1.0)
    if hi > lo and not math.isfinite(hi - lo):  # +-1e308: the span overflows float64, halved it does not
        return UnitRule(UnitRule.STRETCH_HALF, lo / 2, hi / 2 - lo / 2)
    return UnitRule(UnitRule.STRETCH, lo, hi - lo if hi > lo else 1.0)


class UnitRule:
    """One image's :func:`unit_range`: ``DIVIDE`` (float32 values / ``span``: 8 and 16
    bits), ``AS_IS`` (float32 values: floats already in [0, 1]), ``STRETCH`` (``(value -
    lo) / span`` in float64, clipped to [0, 1], then float32) or ``STRETCH_HALF`` (the same
    of the values halved, ``lo`` and ``span`` of the halves: values near float64's limits,
    +-1e308, whose span overflows)."""

    DIVIDE, AS_IS, STRETCH, STRETCH_HALF = 0, 1, 2, 3

    def __init__(self, kind: int, lo: float, span: float):
        self.kind, self.lo, self.span = kind, float(lo), float(span)

    def __call__(self, part: np.ndarray) -> np.ndarray:
        if self.kind == self.DIVIDE:
            return part.astype(np.float32) / np.float32(self.span)
        if self.kind == self.AS_IS:
            return part.astype(np.float32)
        values = part.astype(np.float64) / 2 if self.kind == self.STRETCH_HALF else part.astype(np.float64)
        return np.clip((values - self.lo) / self.span, 0.0, 1.0).astype(np.float32)


# Images larger than this many pixels are refused before decoding (a decompression bomb: a
# small file whose header claims a huge image); raise it with ``max_pixels`` (the API) or
# ``--max-pixels`` (the CLI); 0 or None: no limit
MAX_PIXELS = 2**28  # 268,435,456 pixels: 16,384 x 16,384
# a volume's limit: 1,073,741,824 voxels (a whole-body CT of 512 x 512 x 1,100 slices is 288 M)
MAX_VOXELS = 2**30


def pixel_limit(option: int | None, volume: bool = False) -> int | None:
    """The readers' ``max_pixels`` for an option as the CLI and :class:`SegmentOptions` take
    it: None -> :data:`MAX_PIXELS` (:data:`MAX_VOXELS` for a ``volume``), 0 -> no limit (None)."""
    return (MAX_VOXELS if volume else MAX_PIXELS) if option is None else (option or None)

# EXIF orientation -> the numpy operation that shows the stored pixels as a viewer does
# (Pillow's ImageOps.exif_transpose: 2 FLIP_LEFT_RIGHT, 3 ROTATE_180, 4 FLIP_TOP_BOTTOM,
# 5 TRANSPOSE, 6 ROTATE_270, 7 TRANSVERSE, 8 ROTATE_90)
_ORIENT = {
    2: lambda a: a[:, ::-1],
    3: lambda a: a[::-1, ::-1],
    4: lambda a: a[::-1],
    5: lambda a: a.swapaxes(0, 1),
    6: lambda a: np.rot90(a, -1),
    7: lambda a: a.swapaxes(0, 1)[::-1, ::-1],
    8: lambda a: np.rot90(a, 1),
}
_ORIENTATIONS = range(1, 9)  # valid EXIF orientation values; others are ignored


class ImageFileError(ValueError):
    """An image file lnsnet refuses or cannot decode; the message names the file and why."""


def decode_image(path: PathLike, data: bytes | None = None, *, max_pixels: int | None = MAX_PIXELS,
                 orientation: bool = True) -> np.ndarray:
    """Decode an image file into an array at its full bit depth and type: 8-bit images ->
    uint8, 16-bit ones (gray, RGB, RGBA PNG and TIFF) -> uint16, other integer TIFFs as
    stored (int16, uint32, ...), float16/32 -> float32, float64 kept; HxW or HxWxC as
    stored (an alpha channel the file declares is dropped: RGBA -> RGB, gray + alpha and
    1-bit -> gray; in a TIFF an RGB's alpha sample only when it is 8-bit or holds only
    transparent and opaque values, as tifffile tags any fourth channel as alpha; palette,
    CMYK and other modes -> RGB uint8; planar TIFF channels, and ImageJ's or OME's
    channels, -> the last axis, so four of them are four channels, not RGBA). The package's
    one image decoder; the rules, kind by kind, are in docs/reliability.md.

    - The size is checked from the header, before any pixel is decoded: more than
      ``max_pixels`` pixels (default :data:`MAX_PIXELS`; None or 0: no limit) is refused.
    - ``orientation``: apply the EXIF orientation tag (JPEG, PNG, TIFF, WebP), so the
      array is the image as viewers show it (as OpenCV's ``imread`` does; scikit-image's
      ``imread`` does not). False: the pixels as stored.
    - Files of several images are refused, never cut to their first: animated GIF, PNG
      and WebP, multi-page TIFF (a 3-D stack, a time series or pages of different sizes).
      A camera JPEG's extra pictures (MPO: previews, depth maps) are not images of their
      own: the primary picture is read.
    - Pixel values are never rescaled here; an embedded ICC profile is not applied.

    Pillow reads 16-bit colour PNGs only as 8-bit, so those are decoded twice by its PNG
    decoder (high bytes, then low bytes) and put together; TIFF files are read with
    tifffile (a dependency of scikit-image), or with Pillow where tifffile lacks the codec
    and nothing is lost. With ``data`` (the file's bytes, e.g. read by a distributed
    engine), those are decoded and ``path`` only names the file in messages. Raises
    ``FileNotFoundError`` for a missing file and :class:`ImageFileError` (a ``ValueError``)
    naming the file and why for everything else.
    """
    path = Path(path)
    if data is None:
        if path.is_dir():  # a list file's entry, a folder given where an image is read
            raise ImageFileError(f"{path} is a folder, not an image file (name its images, or pass the folder "
                                 "itself to lnsnet segment)")
        if not path.is_file():
            if path.is_symlink():  # a link to nothing (a share not mounted) or to itself
                raise FileNotFoundError(f"image file not found: {path} is a broken link (to {os.readlink(path)}, "
                                        "missing or a link loop)")
            raise FileNotFoundError(f"image file not found: {path}")
        try:
            size = path.stat().st_size
        except OSError as exc:
            raise ImageFileError(f"cannot read image {path}: {exc.strerror or exc}") from None
    else:
        size = len(data)
    if size == 0:
        raise ImageFileError(f"cannot read image {path}: the file is empty (0 bytes)")
    if is_nifti(path):  # one slice is an image (Y, X) = (j, i); a volume is not
        if data is None:
            arr = _nifti_slice(path, max_pixels)
            if arr is not None:
                return arr
        raise ImageFileError(f"{path} is a NIfTI volume: segment it with --volume (lnsnet.io.read_volume in Python)")
    if max_pixels is not None and (not isinstance(max_pixels, (int, np.integer)) or max_pixels < 0):
        raise ValueError(f"max_pixels must be a non-negative integer or None, got {max_pixels!r}")
    try:
        with _decoding(max_pixels):
            out = None
            head = data[:4] if data is not None else _head(path)
            if head == b"\x93NUM":  # a numpy .npy file
                raise ImageFileError(
                    f"cannot read image {path}: a numpy array file, read as a 3-D stack only (lnsnet segment "
                    "--volume); a 2-D image: lnsnet.segment(np.load(file)), or save it as TIFF (tifffile.imwrite)")
            if head[:2] in (b"P2", b"P3", b"P5", b"P6"):
                out = _decode_netpbm(path, data, max_pixels)
            elif head in _TIFF_MAGIC:
                out = _decode_tiff(path if data is None else io.BytesIO(data), path, max_pixels, orientation)
            if out is None:
                out = _decode_pillow(path, data, max_pixels, orientation)
        if out.size == 0 or out.ndim not in (2, 3):
            raise ImageFileError(f"cannot read image {path}: its pixel array has shape {out.shape}")
        return out
    except ImageFileError:
        raise
    except MemoryError:
        raise ImageFileError(f"cannot read image {path}: not enough memory to decode it") from None
    except _bomb_error() as exc:  # Pillow's guard, set to lnsnet's limit, fired inside Image.open
        import re

        found = re.search(r"\((\d+) pixels\)", str(exc))
        raise _refuse_size(path, f"{int(found.group(1)):,} pixels" if found else "a size", max_pixels) from None
    except Exception as exc:  # a decoder's complaint about a damaged or unsupported file, whatever its type
        reason = str(exc).replace(f"'{path}'", "").replace(str(path), "").strip(" :") or type(exc).__name__
        raise ImageFileError(f"cannot read image {path}: {reason}") from None


def _decode_netpbm(path: Path, data: bytes | None, max_pixels: int | None) -> np.ndarray:
    """A PGM or PPM (P2/P5 gray, P3/P6 RGB) with its samples as stored: uint8 up to a
    maxval of 255, uint16 above (Pillow would rescale other maxvals to 8 or 16 bits and
    read 16-bit colour as 8-bit). The size is checked from the header."""
    whole = data is not None
    if not whole:
        with open(path, "rb") as fh:
            data = fh.read(4096)  # the header: the file itself is read once its size is known
    magic = data[:2]
    tokens, pos = [], 2
    while len(tokens) < 3:  # width, height, maxval; '#' comments run to the end of a line
        while pos < len(data) and data[pos : pos + 1].isspace():
            pos += 1
        if data[pos : pos + 1] == b"#":
            while pos < len(data) and data[pos : pos + 1] not in (b"\n", b"\r"):
                pos += 1
            continue
        start = pos
        while pos < len(data) and not data[pos : pos + 1].isspace() and data[pos : pos + 1] != b"#":
            pos += 1
        if start == pos:
            raise ImageFileError(f"cannot read image {path}: a truncated PGM/PPM header")
        tokens.append(data[start:pos])
    try:
        width, height, maxval = (int(t) for t in tokens)
    except ValueError:
        raise ImageFileError(f"cannot read image {path}: a PGM/PPM header that is not three numbers") from None
    if width < 1 or height < 1 or not 1 <= maxval <= 65535:
        raise ImageFileError(f"cannot read image {path}: PGM/PPM size {width} x {height}, maxval {maxval}")
    _too_large(path, width, height, max_pixels)
    if not whole:
        with open(path, "rb") as fh:
            data = fh.read()
    ch = 3 if magic in (b"P3", b"P6") else 1
    n = width * height * ch
    dtype = np.uint8 if maxval < 256 else np.dtype(">u2")
    if magic in (b"P5", b"P6"):
        raw = data[pos + 1 : pos + 1 + n * np.dtype(dtype).itemsize]
        if len(raw) < n * np.dtype(dtype).itemsize:
            raise ImageFileError(f"cannot read image {path}: image file is truncated")
        arr = np.frombuffer(raw, dtype=dtype)
    else:
        vals = data[pos:].split()[:n]
        if len(vals) < n:
            raise ImageFileError(f"cannot read image {path}: image file is truncated")
        arr = np.array([int(v) for v in vals], dtype=np.int64)
    if arr.max(initial=0) > maxval:
        raise ImageFileError(f"cannot read image {path}: samples above the PGM/PPM maxval {maxval}")
    arr = arr.astype(np.uint8 if maxval < 256 else np.uint16).reshape((height, width) + ((3,) if ch == 3 else ()))
    return np.ascontiguousarray(arr)


def _bomb_error():
    from PIL import Image

    return Image.DecompressionBombError


def _refuse_size(path: Path, size: str, max_pixels: int) -> ImageFileError:
    """The refusal of an image whose header says ``size``, over ``max_pixels``."""
    return ImageFileError(f"refused image {path}: its header says {size}, more than the limit of {max_pixels:,} "
                          "(a decompression bomb, or a really large image: raise the limit with --max-pixels / "
                          "max_pixels=)")


def _too_large(path: Path, width: int, height: int, max_pixels: int | None) -> None:
    if max_pixels and width * height > max_pixels:
        raise _refuse_size(path, f"{width} x {height} pixels ({width * height:,})", max_pixels)


_DECODING = threading.Lock()


@contextlib.contextmanager
def _decoding(max_pixels: int | None = None):
    """While lnsnet decodes a file: Pillow's own decompression-bomb limit (a global: a
    warning above 89 M pixels, an error above 179 M) set to lnsnet's raisable one, which
    lnsnet also checks itself from every header; and the decoders' warnings and log lines (Pillow's "Corrupt EXIF data",
    tifffile's complaints) kept off stderr: a file is read or refused with one message.
    Restored after; a lock keeps lnsnet's threads from racing on these globals."""
    import logging
    import warnings

    from PIL import Image

    log = logging.getLogger("tifffile")
    with _DECODING, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        saved, disabled = Image.MAX_IMAGE_PIXELS, log.disabled
        # Pillow refuses above twice its limit: half of lnsnet's keeps its guard on for the
        # formats it decodes inside Image.open (ICO, ICNS), at lnsnet's limit
        Image.MAX_IMAGE_PIXELS, log.disabled = (max_pixels // 2 + 1 if max_pixels else None), True
        try:
            yield
        finally:
            Image.MAX_IMAGE_PIXELS, log.disabled = saved, disabled


@contextlib.contextmanager
def _c_stderr_silenced(on: bool):
    """The C libraries under Pillow (libtiff) print their complaints straight to file
    descriptor 2, past Python: while ``on``, that descriptor points to the null device (the
    complaint reaches the user as the one-line error Pillow raises)."""
    if not on:
        yield
        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, AttributeError, ValueError):
        yield
        return
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(null, 2)
        finally:
            os.close(null)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _decode_pillow(path: Path, data: bytes | None, max_pixels: int | None, orientation: bool) -> np.ndarray:
    from PIL import Image

    def open_image():
        return Image.open(path if data is None else io.BytesIO(data))

    with open_image() as im, _c_stderr_silenced(im.format == "TIFF"):
        fmt = im.format or "?"
        _too_large(path, im.size[0], im.size[1], max_pixels)
        frames = getattr(im, "n_frames", 1)
        if frames > 1 and fmt != "MPO":
            kind = {"GIF": "an animated GIF", "PNG": "an animated PNG", "WEBP": "an animated WebP",
                    "TIFF": "a multi-page TIFF"}.get(fmt, f"a {fmt} file")
            raise ImageFileError(
                f"refused image {path}: {kind} of {frames} frames; lnsnet segments single images, and "
                "does not pick one frame for you: save the frame(s) you want as image files")
        if fmt == "PNG" and _png_rawmode(im) in _WIDE_PNG:
            arr = _decode_wide_png(im, open_image)
        else:
            im.load()
            mode = im.mode
            if mode in ("I;16", "I;16B", "I;16L", "I;16N"):
                arr = np.array(im, dtype=np.uint16)
            elif mode == "I":
                arr = np.array(im, dtype=np.int32)
            elif mode == "F":
                arr = np.array(im, dtype=np.float32)
            elif mode in ("L", "RGB"):
                arr = np.array(im)
            elif mode == "RGBA":  # the alpha channel is not image content: dropped
                arr = np.array(im)[:, :, :3]
            else:  # gray + alpha and 1-bit -> gray; palette, CMYK, YCbCr, LAB, ... -> RGB
                arr = np.array(im.convert("L" if mode in ("LA", "La", "1") else "RGB"))
        turn = _exif_orientation(im) if orientation else 1  # after the pixels: a PNG's eXIf may follow them
    return _oriented(arr, turn)


def _exif_orientation(im) -> int:
    """The EXIF orientation tag (274) of an opened image, 1 when absent or not 1-8."""
    try:
        value = im.getexif().get(274, 1)
        value = int(value[0] if isinstance(value, (tuple, list)) else value)
    except Exception:  # a damaged EXIF block: the pixels as stored
        return 1
    return value if value in _ORIENTATIONS else 1


def _oriented(arr: np.ndarray, orientation: int) -> np.ndarray:
    return np.ascontiguousarray(_ORIENT[orientation](arr)) if orientation in _ORIENT else arr


# Pillow's raw mode of a 16-bit colour PNG -> (raw mode of its high bytes, of its low
# bytes); a gray + alpha PNG (two 16-bit samples, 4 bytes a pixel like 8-bit RGBA) is
# read as 8-bit RGBA: its bytes, in order
_WIDE_PNG = {"RGB;16B": ("RGB;16B", "RGB;16L"), "RGBA;16B": ("RGBA;16B", "RGBA;16L"), "LA;16B": ("RGBA",)}


def _png_rawmode(im) -> str | None:
    tile = getattr(im, "tile", None)
    if not tile or len(tile) != 1:
        return None
    args = tile[0][3]
    return args if isinstance(args, str) else args[0] if isinstance(args, tuple) and args else None


def _with_rawmode(im, rawmode: str):
    """``im`` (opened, not loaded) decoding its pixels in ``rawmode``."""
    t = im.tile[0]
    args = rawmode if isinstance(t[3], str) else (rawmode,) + tuple(t[3][1:])
    im.tile = [t._replace(args=args) if hasattr(t, "_replace") else (t[0], t[1], t[2], args)]
    return im


def _decode_wide_png(im, reopen) -> np.ndarray:
    """A 16-bit RGB, RGBA or gray + alpha PNG as uint16, by Pillow's own PNG decoder
    (unfiltering, interlacing): RGB(A) decoded twice, with the raw mode that keeps the high
    byte of each sample, then with the one that keeps the low byte; gray + alpha once, as
    the bytes of 8-bit RGBA pixels (same row length and pixel size)."""
    modes = _WIDE_PNG[_png_rawmode(im)]
    if len(modes) == 1:
        raw = np.array(_with_rawmode(im, modes[0])).astype(np.uint16)
        return raw[..., 0] << 8 | raw[..., 1]
    high = np.array(_with_rawmode(im, modes[0])).astype(np.uint16)
    with reopen() as again:
        low = np.array(_with_rawmode(again, modes[1]))
    return (high << 8 | low)[:, :, :3]  # RGBA: the alpha dropped


_TIFF_MAGIC = (b"II*\0", b"MM\0*", b"II+\0", b"MM\0+")  # TIFF, BigTIFF


def _head(path: Path) -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read(4)
    except OSError:
        return b""


def _full_series(tif) -> list:
    """A TIFF's image series but its reduced-resolution levels and thumbnails (all of them
    when every one is reduced)."""
    return [s for s in tif.series if not getattr(s.keyframe, "is_reduced", False)] or list(tif.series)


_STACKS = {"Z": "a 3-D stack of {n} slices (Z)", "T": "a time series of {n} frames (T)"}


def _decode_tiff(source, path: Path, max_pixels: int | None, orientation: bool) -> np.ndarray | None:
    """A TIFF's image at its bit depth, read by tifffile: gray, RGB(A) or channels (planar
    or interleaved, moved to the last axis); ``None`` where Pillow reads it as well or says
    why it cannot (other colour spaces, palettes, 8-bit samples in codecs tifffile needs
    imagecodecs for, files tifffile cannot parse). :class:`ImageFileError` for a size over
    ``max_pixels``, for a stack of several images (Z, T, pages, series of other sizes) and
    for a colour TIFF of more than 8 bits a sample whose codec only Pillow has (Pillow
    would keep 8 of them)."""
    try:
        import tifffile
    except ImportError:  # pragma: no cover - scikit-image depends on it
        return None
    try:
        tif = tifffile.TiffFile(source)
    except Exception:  # not a TIFF tifffile can parse: Pillow tries and says why
        return None
    with tif:
        try:
            series = _full_series(tif)
            main = series[0]
            page = main.keyframe  # the page decoded, not a thumbnail or reduced level before it
            shape, axes = tuple(main.shape), main.axes
            width, height = int(page.imagewidth), int(page.imagelength)
            photometric = int(page.photometric)
            extras = tuple(page.extrasamples or ())
            turn = 1
            if orientation:
                tag = page.tags.get(274)
                turn = int(tag.value) if tag is not None and int(tag.value) in _ORIENTATIONS else 1
        except Exception:  # a damaged structure: Pillow tries and says why
            return None
        _too_large(path, width, height, max_pixels)
        colour = dict(zip(axes, shape)).get("S", 1) > 1
        # what is neither a pixel (YX) nor a sample of one (S; C: channels stored as pages, unless
        # the pages are colour images themselves) makes a stack of several images
        stacked = [(a, n) for a, n in zip(axes, shape) if n > 1 and a not in "YXS" and (a != "C" or colour)]
        if stacked or len(series) > 1:
            a, n = stacked[0] if stacked else ("", len(series))
            what = (_STACKS[a].format(n=n) if a in _STACKS else f"a multi-page TIFF of {n} pages ({a})" if a
                    else f"a TIFF of {n} images of different sizes or kinds")
            hint = ("; for supervoxels: --volume (lnsnet segment, lnsnet benchmark), or lnsnet.segment(volume, K, "
                    "channel_axis=None, "
                    "spacing=(dz, dy, dx))" if a in ("Z", "I", "Q") else "")  # I, Q: pages of no known kind
            if a in ("I", "Q") and len(shape) == 3 and 2 <= shape[0] <= 16 and not colour:
                # a few pages of one size: perhaps the channels of one image, stored as pages
                hint += (f"; if the {shape[0]} pages are the channels of one image: lnsnet.segment("
                         "tifffile.imread(file), K, channel_axis=0), or save it with metadata={'axes': 'CYX'}")
            if a in ("I", "Q") and len(shape) == 3 and 2 <= shape[-1] <= 16 and shape[-1] < shape[-2] and not colour:
                # tifffile.imwrite of an (H, W, C) array of 2 or 5+ channels: H pages of W x C
                hint += (f"; if it is one image of {shape[-1]} channels written by tifffile.imwrite, write it with "
                         "photometric='minisblack', planarconfig='contig' and metadata={'axes': 'YXC'}")
            raise ImageFileError(
                f"refused image {path}: {what}; lnsnet reads single 2-D images here, and does not pick one "
                f"for you: save the page(s) you want as image files (tifffile.imread(file, key=i)){hint}")
        if photometric not in (1, 2):  # MINISBLACK, RGB; the rest: Pillow's conversions
            return None
        lost = None
        try:
            arr = main.asarray()
        except MemoryError:
            raise
        except Exception:  # a codec tifffile lacks (imagecodecs), or a damaged file
            if page.bitspersample <= 8 or page.samplesperpixel == 1:
                return None  # Pillow reads these whole (or says what is wrong)
            lost = f"{page.bitspersample}-bit {getattr(page.compression, 'name', page.compression)}"
    if lost:
        raise ImageFileError(f"cannot read image {path} at its full bit depth ({lost} compressed TIFF): "
                             "pip install imagecodecs")
    for a in "SC":  # channels last
        if a in axes:
            arr, axes = np.moveaxis(arr, axes.index(a), -1), axes.replace(a, "") + a
    keep = tuple(i for i, a in enumerate(axes) if a in "YXSC" or arr.shape[i] != 1)
    arr = arr.reshape([arr.shape[i] for i in keep])
    if arr.ndim not in (2, 3):
        return None
    alpha = sum(int(e) in (1, 2) for e in extras)  # ASSOCALPHA, UNASSALPHA
    if photometric in (1, 2) and alpha and arr.ndim == 3 and arr.shape[2] > alpha and (
            photometric == 1 or _looks_like_alpha(arr[:, :, arr.shape[2] - alpha:])):  # gray / RGB + alpha
        arr = arr[:, :, : arr.shape[2] - alpha]
        arr = arr[:, :, 0] if arr.shape[2] == 1 else arr
    if arr.dtype == bool:
        arr = arr.astype(np.uint8) * np.uint8(255)
    elif np.issubdtype(arr.dtype, np.floating) and arr.dtype != np.float64:
        arr = arr.astype(np.float32)  # float16 widened; float64 kept
    elif not (np.issubdtype(arr.dtype, np.integer) or arr.dtype == np.float64):
        return None  # complex: Pillow says why
    return _oriented(np.ascontiguousarray(arr), turn)


def _looks_like_alpha(samples: np.ndarray) -> bool:
    """Whether a TIFF's extra samples tagged as alpha are one: 8-bit (an image editor's
    RGBA), or only fully transparent and fully opaque values. tifffile tags the fourth
    channel of any four-channel array it writes as alpha, so four stains of 16 bits or
    floats written by a plain ``tifffile.imwrite`` keep their fourth channel."""
    if samples.dtype == np.uint8:
        return True
    top = np.iinfo(samples.dtype).max if samples.dtype.kind in "ui" else 1.0
    return bool(np.isin(samples, (0, top)).all())


def read_image(path: PathLike, data: bytes | None = None, *, max_pixels: int | None = MAX_PIXELS,
               orientation: bool = True) -> np.ndarray:
    """Read an image file as a numpy array (HxW or HxWxC) for :func:`lnsnet.segment`, at its
    own type and values (:func:`decode_image`: uint8, uint16, other integers, float32 or 64; signed and
    float data such as CT or a float TIFF as they are, NaN included: ``segment`` stretches
    what is neither uint8, uint16 nor float in [0, 1], and refuses NaN outside a mask).
    ``max_pixels``: refuse larger images before decoding (default :data:`MAX_PIXELS`; None:
    no limit); ``orientation``: apply the EXIF orientation tag (default; False: the pixels
    as stored).

    Raises ``FileNotFoundError`` for a missing file and a ``ValueError``
    (:class:`ImageFileError`) naming the file and why when it is refused or cannot be
    decoded (not an image, truncated, too large, several frames, unsupported mode).
    """
    return decode_image(path, data, max_pixels=max_pixels, orientation=orientation)


NIFTI_SUFFIXES = (".nii", ".nii.gz")
#: Files only a volume can be (``.npy``, NIfTI), and every file ``--volume`` reads from a folder
VOLUME_ONLY_SUFFIXES = (".npy",) + NIFTI_SUFFIXES
VOLUME_SUFFIXES = (".tif", ".tiff") + VOLUME_ONLY_SUFFIXES
#: what to install for NIfTI files
NIBABEL_HINT = "pip install 'nibabel>=4' (in lnsnet's checkout: pip install '.[medical]')"


def is_nifti(path: PathLike) -> bool:
    return str(path).lower().endswith(NIFTI_SUFFIXES)


def file_stem(path: PathLike) -> str:
    """A file's name without its suffix, ``.nii.gz``, ``.ome.tif`` and ``.ome.tiff`` as one
    suffix (``brain.nii.gz`` -> ``brain``, ``cells.ome.tif`` -> ``cells``)."""
    name = Path(path).name
    for double in (".nii.gz", ".ome.tif", ".ome.tiff"):
        if name.lower().endswith(double) and len(name) > len(double):
            return name[: -len(double)]
    return Path(path).stem


def _open_nifti(path, dims: int):
    """A NIfTI file's image (its data not read) and its shape, trailing axes of 1 dropped
    down to ``dims`` axes; ``ImportError`` without nibabel, :class:`ImageFileError` for a
    damaged file."""
    try:
        import nibabel
    except ImportError:
        raise ImportError(f"reading {path} needs nibabel: {NIBABEL_HINT}") from None
    try:
        img = nibabel.load(str(path))
        shape = tuple(int(n) for n in img.header.get_data_shape())
    except Exception as exc:  # noqa: BLE001 - a damaged or foreign file: one message
        raise ImageFileError(f"cannot read volume {path}: {exc}") from None
    while len(shape) > dims and shape[-1] == 1:
        shape = shape[:-1]
    return img, shape


def _nifti_slice(path, max_pixels=MAX_PIXELS) -> np.ndarray | None:
    """A NIfTI file of one slice ((X, Y) or (X, Y, 1)) as an image ``(Y, X)``; None for
    anything else (a volume, a series, no nibabel, a damaged file)."""
    try:
        img, shape = _open_nifti(path, 2)
    except (ImportError, ImageFileError):  # read_volume says what is wrong
        return None
    if len(shape) != 2:
        return None
    _too_many_voxels(path, int(np.prod(shape)), max_pixels)
    return np.ascontiguousarray(_nifti_values(img, shape).T)


def nifti_slice_grid(path: PathLike):
    """A one-slice NIfTI's image (its header and affine, for :func:`save_nifti_labels`; the
    data not read) and its pixel size ``(dy, dx)`` from the header (None without valid zooms)."""
    img, _ = _open_nifti(path, 2)
    zooms = [float(z) for z in img.header.get_zooms()[:2]]
    if len(zooms) < 2 or not all(z > 0 and np.isfinite(z) for z in zooms):
        return img, None
    return img, tuple(float(str(np.float32(z))) for z in reversed(zooms))  # the header's float32s as written


def _nifti_values(img, shape) -> np.ndarray:
    """A NIfTI image's values in ``shape``: as stored, or, when the header scales them
    (``scl_slope``, ``scl_inter``), scaled as float32 (integers such as Hounsfield units
    exact; float64 took twice the memory)."""
    proxy = img.dataobj
    scaled = getattr(proxy, "slope", 1.0) != 1.0 or getattr(proxy, "inter", 0.0) != 0.0
    return (img.get_fdata(dtype=np.float32) if scaled else np.asanyarray(proxy)).reshape(shape)


def read_nifti(path: PathLike, *, max_voxels: int | None = MAX_VOXELS):
    """A NIfTI volume (``.nii``/``.nii.gz``; needs ``nibabel``: ``pip install
    ".[medical]"`` in the checkout) as lnsnet's ``(Z, Y, X)`` array, its voxel size ``(dz, dy, dx)``
    and the image itself (for :func:`save_nifti_labels`). NIfTI stores ``(i, j, k)`` with
    ``k`` the slice axis: the array is ``data.transpose(2, 1, 0)`` and the voxel size the
    header's zooms reversed; the values are the scaled ones (``scl_slope``,
    ``scl_inter``: Hounsfield units of a CT). A 4-D file with more than one volume (time,
    diffusion directions) is refused, as TIFF time series are, and so is a 5-D file (a
    vector or colour per voxel): each refusal says how to save the 3-D volumes in it. A
    file of one slice, ``(X, Y)`` or ``(X, Y, 1)``, is refused as a single TIFF page is:
    it is an image (:func:`read_image` reads it)."""
    img, shape = _open_nifti(path, 3)
    full = tuple(int(n) for n in img.header.get_data_shape())  # as the file says, axes of 1 too
    if len(shape) == 2 or (len(shape) == 3 and shape[2] == 1):
        raise ImageFileError(f"refused volume {path}: a NIfTI of one slice (shape {full}), not a volume: segment it "
                             "as an image, without --volume")
    if len(shape) != 3:
        raise ImageFileError(f"refused volume {path}: {_nifti_not_3d(full)}")
    _too_many_voxels(path, int(np.prod(shape)), max_voxels)
    try:
        arr = _nifti_values(img, shape)
    except Exception as exc:  # noqa: BLE001
        raise ImageFileError(f"cannot read volume {path}: {exc}") from None
    return np.ascontiguousarray(arr.transpose(2, 1, 0)), _nifti_spacing(img), img


def _nifti_spacing(img) -> VoxelSize | None:
    """A NIfTI header's voxel size (z, y, x) in its own unit; None without valid zooms."""
    zooms = [float(z) for z in img.header.get_zooms()[:3]]
    if len(zooms) < 3 or not all(z > 0 and np.isfinite(z) for z in zooms):
        return None
    unit = {"meter": "m", "mm": "mm", "micron": "µm"}.get(str(img.header.get_xyzt_units()[0]), "")
    # the header's float32s as written (0.7, not 0.699999988)
    return VoxelSize(tuple(float(str(np.float32(z))) for z in reversed(zooms)), unit=unit)


def _nifti_not_3d(shape: tuple) -> str:
    """Why a NIfTI of ``shape`` (4-D or more) is not a volume for lnsnet, and how to save the
    3-D volumes in it: one line for the refusal."""
    extra = shape[3:]
    if len(extra) == 1:
        what = f"{extra[0]} volumes (time points or diffusion directions, its 4th axis)"
    elif len(extra) == 2 and extra[0] == 1:
        what = f"{extra[1]} values a voxel (a vector or colour, its 5th axis)"
    else:
        what = f"{int(np.prod(extra))} volumes on its axes after the third"
    index = ["0" if n == 1 else name for n, name in zip(extra, "tcuvw")]  # NIfTI's 4th axis time, 5th components
    ranges = ", ".join(f"{i} = 0 .. {n - 1}" for i, n in zip(index, extra) if n > 1)
    return (f"a NIfTI of shape {shape} holds {what}; lnsnet reads one 3-D volume (X, Y, Z) from a NIfTI file "
            "(channels only from a 4-D TIFF or .npy, Z, Y, X, C): save the volumes you want each as its own file, "
            f"e.g. nibabel.load(FILE).slicer[:, :, :, {', '.join(index)}] for {ranges}")


def volume_unit(path: PathLike) -> str:
    """The length unit a volume file records with its voxel size (an OME or ImageJ TIFF's,
    a NIfTI header's), as OME names it (``"µm"`` for ImageJ's ``"micron"``), read from the
    header alone; ``""`` when it records none (or ImageJ's ``"pixel"``), or cannot be read
    (reading it to segment says why). ``--spacing`` is taken in this unit, so that the
    labels' TIFF keeps it."""
    return unit_name(volume_voxel_size(path))


def unit_name(size) -> str:
    """The length unit of a voxel size read from a file (:func:`volume_voxel_size`), as OME
    names it; ``""`` for none or ImageJ's ``"pixel"``."""
    unit = str(getattr(size, "unit", "") or "")
    return "" if unit == "pixel" else _OME_UNIT_NAMES.get(unit, unit)


def volume_voxel_size(path: PathLike) -> VoxelSize | None:
    """The voxel size ``(dz, dy, dx)`` a volume file records (as :func:`read_volume` reads
    it), from the header alone; None when it records none or cannot be read (a ``.npy``)."""
    try:
        if is_nifti(path):
            import nibabel

            return _nifti_spacing(nibabel.load(str(path)))
        if _head(Path(path))[:4] in _TIFF_MAGIC:
            import tifffile

            with _decoding(), tifffile.TiffFile(path) as tif:
                return _voxel_size(tif)
    except Exception:  # noqa: BLE001 - none known here; the reading says what is wrong
        return None
    return None


def save_nifti_labels(path: PathLike, labels: np.ndarray, like) -> None:
    """Write a ``(Z, Y, X)`` label volume as NIfTI with the affine and header of ``like``
    (the image :func:`read_nifti` returned), so it overlays its image in a viewer (3D Slicer,
    ITK-SNAP, FSLeyes, napari): int32 (uint16 up to 65,535 labels), no scaling. A one-slice
    file's ``(Y, X)`` superpixels (:func:`nifti_slice_grid` gives its image) are written in
    its ``(X, Y)`` or ``(X, Y, 1)`` shape."""
    import nibabel

    labels = np.asarray(labels)
    shape = tuple(int(n) for n in like.shape[:3])
    if labels.ndim == 2 and (len(shape) == 2 or shape[2] == 1):  # a slice's superpixels (Y, X) = (j, i)
        if labels.shape != shape[1::-1]:
            raise ValueError(f"labels of shape {labels.shape} do not lie on this slice's grid: its (i, j) shape is "
                             f"{shape[:2]}, so lnsnet's (Y, X) labels are {shape[1::-1]} (pass lnsnet's labels, not transposed)")
        lab = labels.T.reshape(shape)
    elif labels.shape != shape[::-1]:
        raise ValueError(f"labels of shape {labels.shape} do not lie on this scan's grid: its (i, j, k) shape is {shape}, "
                         f"so lnsnet's (Z, Y, X) labels are {shape[::-1]} (pass lnsnet's labels, not transposed)")
    else:
        lab = labels.transpose(2, 1, 0)
    dtype = np.uint16 if lab.size and lab.min() >= 0 and lab.max() <= 65535 else np.int32
    header = like.header.copy()
    header.set_data_dtype(dtype)
    header.set_slope_inter(1.0, 0.0)
    header.set_intent("label")  # NIfTI's label intent: viewers colour it as a segmentation
    header["cal_min"], header["cal_max"] = 0, float(lab.max()) if lab.size else 0
    header["descrip"] = b"lnsnet supervoxels"
    kind = nibabel.Nifti2Image if isinstance(like, nibabel.Nifti2Image) else nibabel.Nifti1Image  # as the scan
    out = kind(lab.astype(dtype), like.affine, header)
    out.set_qform(*like.get_qform(coded=True))
    out.set_sform(*like.get_sform(coded=True))
    data = out.to_bytes()
    if str(path).lower().endswith(".gz"):
        import gzip

        data = gzip.compress(data, compresslevel=6)
    atomic_write(Path(path), data)


def read_volume(path: PathLike, data: bytes | None = None, *, max_voxels: int | None = MAX_VOXELS
                ) -> tuple[np.ndarray, tuple[float, float, float] | None]:
    """Read a 3-D stack for supervoxels: ``(Z, Y, X)`` gray or ``(Z, Y, X, C)`` (channels
    last) at its own type, and the voxel size ``(z, y, x)`` when the file records it
    (OME's PhysicalSize, or ImageJ's z ``spacing`` and the X/Y resolution tags; an ImageJ
    stack calibrated in x and y only: z 1, ImageJ's voxel depth, as a :class:`VoxelSize`
    whose ``note`` says so), else None.

    TIFF (an ImageJ hyperstack, OME or a plain multi-page TIFF whose pages are taken as z
    slices), ``.npy`` (a 3-D or 4-D array, channels last) or NIfTI (``.nii``, ``.nii.gz``,
    with ``nibabel``: :func:`read_nifti`). A time series (T > 1) is
    refused, as is a single 2-D image; the size is checked before decoding against
    ``max_voxels`` (None or 0: no limit). ``ValueError`` naming the file otherwise.
    """
    path = Path(path)
    if data is None and not path.is_file():
        raise FileNotFoundError(f"volume file not found: {path}")
    if is_nifti(path):
        if data is not None:
            raise ImageFileError(f"cannot read volume {path}: a NIfTI file is read from disk")
        vol, spacing, _ = read_nifti(path, max_voxels=max_voxels)
        return vol, spacing
    head = data[:4] if data is not None else _head(path)
    if path.suffix.lower() == ".npy" or head == b"\x93NUM":
        try:
            fh = open(path, "rb") if data is None else io.BytesIO(data)
            with fh:
                version = np.lib.format.read_magic(fh)
                fmt = np.lib.format
                read_header = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
                shape, _, dtype = read_header(fh)  # the header only
                if len(shape) not in (3, 4) or dtype.kind not in "biuf":
                    raise ImageFileError(f"cannot read volume {path}: expected a 3-D or 4-D numeric array, got "
                                         f"{dtype} of shape {shape}")
                if len(shape) == 3 and shape[2] in (3, 4) and min(shape[:2]) >= 16:
                    raise ImageFileError(f"refused volume {path}: shape {shape} looks like one 2-D image with "
                                         f"{shape[2]} colour channels (H, W, C), not slices {shape[2]} voxels wide: "
                                         "segment it as an image (without --volume)")
                if len(shape) == 4 and shape[0] <= 16 < shape[3] and shape[3] > min(shape[:3]):
                    raise ImageFileError(f"refused volume {path}: a 4-D .npy is read as Z, Y, X, channels, and this "
                                         f"one's shape {shape} looks like channels first; save "
                                         "np.moveaxis(array, 0, -1)")
                _too_many_voxels(path, int(np.prod(shape[:3])), max_voxels)
                fh.seek(0)
                arr = np.load(fh, allow_pickle=False)
        except ImageFileError:
            raise
        except Exception as exc:  # noqa: BLE001 - a damaged or foreign file: one message
            raise ImageFileError(f"cannot read volume {path}: {exc}") from None
        return arr, None
    if head[:4] not in _TIFF_MAGIC:
        hint = ""
        if Path(path).suffix.lower() in (".hdr", ".img"):  # Analyze 7.5, NIfTI's predecessor
            hint = (f"; an Analyze .hdr/.img pair is not read: save it as NIfTI first, nibabel.save(nibabel.load("
                    f"'{Path(path).with_suffix('.hdr').name}'), '{Path(path).stem}.nii.gz')")
        raise ImageFileError(f"cannot read volume {path}: not a TIFF, .npy or NIfTI (.nii, .nii.gz) file{hint}")
    import tifffile

    try:
        with _decoding(), tifffile.TiffFile(path if data is None else io.BytesIO(data)) as tif:
            full = _full_series(tif)
            # pages written one by one (tifffile's TiffWriter.write per slice): a series each, all
            # one page of one shape and type: z slices, as plain pages are
            slices = (len(full) > 1 and not getattr(tif, "is_ome", False)  # OME's images: stage positions
                      and all(len(x.pages) == 1 and x.shape == full[0].shape and x.dtype == full[0].dtype
                              and "Z" not in x.axes and "T" not in x.axes for x in full))
            if len(full) > 1 and not slices:
                raise ImageFileError(f"refused volume {path}: a TIFF of {len(full)} stacks (series: stage positions, "
                                     "or stacks of different sizes or kinds); save the one you want on its own")
            series = full[0]
            shape, axes = tuple(series.shape), series.axes
            if slices:
                shape, axes = (len(full),) + shape, "Z" + axes
            sizes = dict(zip(axes, shape))
            if sizes.get("S", 1) > 1 and sizes.get("C", 1) > 1:
                raise ImageFileError(f"refused volume {path}: axes {axes} of shape {shape}: channels of colour "
                                     "images; save one kind of channel")
            if sizes.get("T", 1) > 1:
                raise ImageFileError(f"refused volume {path}: a time series of {sizes['T']} frames (T); "
                                     "save one time point as its own stack")
            spatial = [a for a in axes if a not in "YXSC" and sizes[a] > 1]
            if len(spatial) > 1:
                small = [i for i, a in enumerate(axes) if a in spatial and sizes[a] <= 16]
                hint = ""
                if len(spatial) == 2 and small:  # a short axis: perhaps channels, unnamed in the file
                    i = min(small, key=lambda j: (shape[j], -j))  # the shorter (of equals, the later)
                    named = "".join("C" if j == i else "Z" if a in spatial else a for j, a in enumerate(axes))
                    hint = (f"; if axis {i} ({shape[i]}) holds channels: lnsnet.segment(tifffile.imread(file), K, "
                            f"channel_axis={i}, spacing=(dz, dy, dx)), or save it with metadata={{'axes': "
                            f"'{named}'}} (tifffile.imwrite)")
                raise ImageFileError(f"refused volume {path}: axes {axes} of shape {shape}: more than one "
                                     f"axis of slices{hint}")
            _too_many_voxels(path, int(np.prod([n for a, n in zip(axes, shape) if a not in "SC"])), max_voxels)
            try:
                arr = np.stack([x.asarray() for x in full]) if slices else series.asarray()
            except Exception as exc:  # noqa: BLE001 - a codec tifffile lacks without imagecodecs (LZW, JPEG)
                if "imagecodecs" not in str(exc):
                    raise
                arr = _pillow_pages(path if data is None else io.BytesIO(data), shape, exc)
            spacing = _voxel_size(tif)
            if arr.size == 0 or arr.ndim != len(axes):
                raise ImageFileError(f"cannot read volume {path}: its pixel array has shape {arr.shape}")
    except ImageFileError:
        raise
    except IndexError:  # tifffile on a file with a TIFF header and no readable page
        raise ImageFileError(f"cannot read volume {path}: not a readable TIFF (no image pages)") from None
    except Exception as exc:  # noqa: BLE001 - a damaged file, a codec tifffile lacks: one message
        raise ImageFileError(f"cannot read volume {path}: {exc}") from None
    for a in "SC":  # channels last
        if a in axes and sizes[a] > 1:
            arr, axes = np.moveaxis(arr, axes.index(a), -1), axes.replace(a, "") + a
    keep = [i for i, a in enumerate(axes) if a in "YX" or arr.shape[i] > 1]
    arr = arr.reshape([arr.shape[i] for i in keep])
    if arr.ndim == 3 and axes[-1] in "SC" and sizes.get(axes[-1], 1) > 1:
        raise ImageFileError(f"refused volume {path}: a single 2-D image with channels (shape {arr.shape}), "
                             "not a stack: segment it as an image, without --volume")
    if arr.ndim == 2:
        raise ImageFileError(f"refused volume {path}: a single 2-D image (shape {arr.shape}), not a stack: segment "
                             "it as an image, without --volume")
    if arr.dtype == np.float16:
        arr = arr.astype(np.float32)
    return np.ascontiguousarray(arr), spacing


def _pillow_pages(source, shape: tuple, why: Exception) -> np.ndarray:
    """Every page of a TIFF decoded by Pillow (which reads LZW, JPEG and PackBits without
    imagecodecs), as tifffile's series of ``shape`` (pages in file order); ``why`` raised
    when Pillow cannot do it either."""
    from PIL import Image, ImageSequence

    try:
        with Image.open(source) as im:
            pages = [np.asarray(frame) for frame in ImageSequence.Iterator(im)]
        arr = np.stack(pages)
        return arr.reshape(shape)
    except Exception:  # noqa: BLE001 - Pillow could not either: tifffile's reason
        raise why from None


def _too_many_voxels(path: Path, voxels: int, max_voxels: int | None) -> None:
    if max_voxels and voxels > max_voxels:
        raise ImageFileError(f"refused volume {path}: {voxels:,} voxels, more than the limit of {max_voxels:,} "
                             "(raise it with max_voxels=, on the command line --max-pixels; 0: no limit)")


#: ImageJ's spellings of a unit -> OME's
_OME_UNIT_NAMES = {"um": "µm", "micron": "µm", "microns": "µm", "\\u00B5m": "µm",
                   # the Greek mu, and NIfTI's and other tools' spelled-out names
                   "\u03bcm": "µm", "micrometer": "µm", "meter": "m", "nanometer": "nm", "millimeter": "mm"}
#: OME's length units in micrometres (the ones microscopes write)
_OME_UNITS = {"Å": 1e-4, "pm": 1e-6, "nm": 1e-3, "µm": 1.0, "um": 1.0, "\u03bcm": 1.0, "mm": 1e3, "cm": 1e4,
              "m": 1e6}


def _voxel_size(tif) -> tuple[float, float, float] | None:
    """(z, y, x) from an OME-TIFF's PhysicalSize{Z,Y,X} (each in its own PhysicalSize*Unit,
    micrometres by OME's default: converted to micrometres when the units differ; None when
    one is unknown), or from an ImageJ file's z spacing and the first page's resolution
    tags."""
    if getattr(tif, "is_ome", False) and tif.ome_metadata:
        import xml.etree.ElementTree as ET

        note = ""
        try:
            pixels = next(e for e in ET.fromstring(tif.ome_metadata).iter() if e.tag.rsplit("}", 1)[-1] == "Pixels")
            attrib = dict(pixels.attrib)
            if "PhysicalSizeZ" not in attrib and "PhysicalSizeX" in attrib and "PhysicalSizeY" in attrib:
                # x and y calibrated, no z step: 1 in x's unit, as ImageJ reads such a stack
                attrib["PhysicalSizeZ"] = "1"
                attrib["PhysicalSizeZUnit"] = attrib.get("PhysicalSizeXUnit", "µm")
                note = "no PhysicalSizeZ recorded: z 1 (in x's unit), x and y as recorded"
            size = tuple(float(attrib[f"PhysicalSize{a}"]) for a in "ZYX")
            units = [attrib.get(f"PhysicalSize{a}Unit", "µm") for a in "ZYX"]
            if len(set(units)) > 1:  # one axis in nm, another in µm: all in µm
                size = tuple(v * _OME_UNITS[u] for v, u in zip(size, units))
                units = ["µm"]
        except (ET.ParseError, StopIteration, KeyError, ValueError):
            size = None
        if size is not None and all(np.isfinite(v) and v > 0 for v in size):
            return VoxelSize(size, note=note, unit=units[0])
    meta = tif.imagej_metadata or {}
    dz = meta.get("spacing")
    page = tif.pages[0]
    try:
        xr, yr = page.tags["XResolution"].value, page.tags["YResolution"].value
        dx, dy = xr[1] / xr[0], yr[1] / yr[0]
    except (KeyError, ZeroDivisionError, TypeError, IndexError):
        return None
    if not all(np.isfinite(v) and v > 0 for v in (dy, dx)):
        return None
    if dz is None and getattr(tif, "is_imagej", False) and meta.get("unit") not in (None, "", "pixel"):
        # x and y calibrated, no z step: ImageJ's own reading (voxel depth 1 in the unit)
        return VoxelSize((1.0, float(dy), float(dx)), note="no z spacing recorded: 1 (ImageJ's voxel depth), "
                                                             "x and y as recorded", unit=meta["unit"])
    if dz is None or not (np.isfinite(float(dz)) and float(dz) > 0):
        return None
    unit = meta.get("unit") or ""
    dz, dy, dx = float(dz), float(dy), float(dx)
    yunit, zunit = meta.get("yunit") or unit, meta.get("zunit") or unit
    note = ""
    if yunit != unit or zunit != unit:  # Fiji writes these when an axis has its own unit
        fx, fy, fz = (_micrometres(u) for u in (unit, yunit, zunit))
        if None in (fx, fy, fz):
            note = f"units x {unit!r}, y {yunit!r}, z {zunit!r}: not converted (unknown to lnsnet)"
        else:
            dy, dz = dy * fy / fx, dz * fz / fx
            note = f"y in {yunit}, z in {zunit}: converted to x's unit, {unit}"
    return VoxelSize((dz, dy, dx), note=note, unit=unit)


def _micrometres(unit: str) -> float | None:
    """A length unit's size in micrometres (its OME, ImageJ or NIfTI spelling); None if
    unknown."""
    return _OME_UNITS.get(_OME_UNIT_NAMES.get(unit, unit))


class VoxelSize(tuple):
    """A voxel size ``(z, y, x)`` read from a file: ``unit`` its length unit as the file
    names it (``""`` unknown; written into the labels' TIFF), ``note`` what was assumed."""

    def __new__(cls, values, note: str = "", unit: str = ""):
        obj = super().__new__(cls, values)
        obj.note = note
        obj.unit = unit
        return obj


def atomic_write(path: PathLike, content, keep_previous: bool = False) -> None:
    """Write ``path`` atomically: ``content`` (text, bytes, or a callable ``write(tmp_path)``)
    goes to a temporary file in the same folder, which is fsynced and renamed onto
    ``path``. The file at ``path`` is therefore always whole: the old one or the new one.
    With ``keep_previous`` the old file is first renamed to ``<path>.prev``. The package's
    one writer of files.
    """
    if isinstance(content, str):
        text = content
        content = lambda tmp: Path(tmp).write_text(text, encoding="utf-8", newline="")  # noqa: E731
    elif isinstance(content, (bytes, bytearray)):
        data = bytes(content)
        content = lambda tmp: Path(tmp).write_bytes(data)  # noqa: E731
    write = content
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        try:
            write(tmp)
        except Exception as exc:  # a full disk, whatever the writer (torch.save) calls it
            if not (isinstance(exc, OSError) and exc.errno == errno.ENOSPC) and _disk_full(path.parent):
                raise OSError(errno.ENOSPC, f"no space left on the device of {path.parent} to write {path.name} "
                                            f"({type(exc).__name__}: {' '.join(str(exc).split())[:120]})") from exc
            raise
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        if keep_previous and path.exists():
            os.replace(path, path.with_name(path.name + ".prev"))
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _disk_full(folder: Path, reserve: int = 1 << 20) -> bool:
    """Whether the file system of ``folder`` has less than ``reserve`` bytes free."""
    try:
        return shutil.disk_usage(folder).free < reserve
    except OSError:
        return False


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync_dir(folder: Path) -> None:
    """Flush the directory entry after a rename, where the platform allows it."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def save_png(path: PathLike, array: np.ndarray) -> None:
    """Write a uint8 (gray or RGB) or uint16 (gray) array as PNG, atomically."""
    from PIL import Image

    array = np.ascontiguousarray(array)
    if array.dtype == np.uint16:
        im = Image.fromarray(array, mode=None) if array.ndim == 2 else None
        if im is None:
            raise ValueError("16-bit PNGs must be single-channel")
    elif array.dtype == np.uint8:
        im = Image.fromarray(array)
    else:
        raise ArgumentTypeError(f"save_png takes uint8 or uint16 arrays, got {array.dtype}")
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("Software", SOFTWARE)  # lnsnet's own output (written_by_lnsnet), whatever its name
    atomic_write(Path(path), lambda tmp: im.save(tmp, format="PNG", pnginfo=info))


#: the Software tag (PNG text, TIFF tag 305) of the images lnsnet writes
SOFTWARE = "lnsnet"


def written_by_lnsnet(path: PathLike) -> bool:
    """Whether the PNG or TIFF at ``path`` carries lnsnet's Software tag (:data:`SOFTWARE`):
    a label image or overlay that lnsnet wrote, told from a user's image of the same name
    even where its record (``NAME_labels.json``) is missing, as after a run killed mid-write."""
    path = Path(path)
    try:
        if path.suffix.lower() == ".png":
            from PIL import Image

            with _decoding(None), Image.open(path) as im:  # no size limit: the header only (written before the pixels)
                return im.info.get("Software") == SOFTWARE
        if path.suffix.lower() in (".tif", ".tiff"):
            import tifffile

            with tifffile.TiffFile(path) as tif:
                return tif.pages[0].software == SOFTWARE
    except Exception:  # noqa: BLE001 - unreadable: not ours
        return False
    return False


def save_labels(path_stem: PathLike, labels: np.ndarray, *, png: bool = True, npy: bool = True, spacing=None):
    """Write a label map as ``<stem>.npy`` (int32) and a label image: ``<stem>.png``
    (16-bit) or, when a label exceeds 65,535 (more than a 16-bit PNG holds),
    ``<stem>.tif`` (32-bit, deflate-compressed; read back by :func:`read_labels`, ImageJ,
    tifffile, Pillow). A 3-D label volume's image is always ``<stem>.tif``: a 16-bit ImageJ
    stack (ZYX) up to 65,535 labels, else a 32-bit OME-TIFF (ImageJ has no 32-bit integers;
    Fiji opens it with Bio-Formats); ``spacing`` ``(dz, dy, dx)``, the voxel size, is
    written in it (ImageJ's z spacing and the X/Y resolution, or OME's PhysicalSize), so
    that it overlays its stack at the same scale. ``png=False``: no label image. Returns the paths written.
    """
    stem = Path(path_stem)
    labels = np.asarray(labels)
    written = []
    if png:
        if labels.ndim == 3:
            p = stem.with_name(stem.name + ".tif")
            atomic_write(p, lambda tmp: _save_tiff(tmp, labels, spacing))
        elif labels.size and (labels.max() > 65535 or labels.min() < 0):
            p = stem.with_name(stem.name + ".tif")
            atomic_write(p, lambda tmp: _save_tiff(tmp, labels))
        else:
            p = stem.with_name(stem.name + ".png")
            save_png(p, labels.astype(np.uint16))
        written.append(p)
    if npy:  # after the label image, which carries lnsnet's tag: an .npy found without its record
        p = stem.with_name(stem.name + ".npy")  # (a run killed mid-write) has a tagged image beside it
        atomic_write(p, lambda tmp: _np_save(tmp, labels.astype(np.int32)))
        written.insert(0, p)
    return written


def _ome_unit(unit: str) -> str:
    """``unit`` as OME's UnitsLength names it (micrometres as "µm", the micro sign); a unit
    OME's list lacks, or none: "pixel" (a size without a unit would read as µm)."""
    unit = _OME_UNIT_NAMES.get(unit, unit)
    return unit if unit in ("Å", "pm", "nm", "µm", "mm", "cm", "m", "km", "in", "ft") else "pixel"


def _imagej_unit(unit: str) -> str:
    """``unit`` as ImageJ's metadata can hold it (ASCII: micrometres as ImageJ writes them,
    "micron"; another unit that is not ASCII: none)."""
    if unit in ("µm", "\u03bcm", "um", "\\u00B5m"):
        return "micron"
    return unit if unit.isascii() else ""


def _save_tiff(path: str, labels: np.ndarray, spacing=None) -> None:
    import tifffile

    scale = {}
    if spacing is not None and labels.ndim == 3:
        dz, dy, dx = (float(s) for s in spacing)
        scale = {"resolution": (1.0 / dx, 1.0 / dy)}
    unit = getattr(spacing, "unit", "") if scale else ""
    if labels.ndim == 3 and labels.size and labels.min() >= 0 and labels.max() <= 65535:
        ij_unit = _imagej_unit(unit)
        meta = {"axes": "ZYX", **({"spacing": float(spacing[0])} if scale else {}),
                **({"unit": ij_unit} if ij_unit else {})}
        tifffile.imwrite(path, labels.astype(np.uint16), imagej=True, metadata=meta, compression="zlib",
                         software=SOFTWARE, **scale)
        return
    dtype = np.int32 if labels.min() < 0 else np.uint32
    if labels.ndim == 3:  # above ImageJ's 16 bits: an OME-TIFF, which keeps the axes and the voxel size
        ome_unit = _ome_unit(unit)
        meta = {"axes": "ZYX", **({f"PhysicalSize{a}": float(s) for a, s in zip("ZYX", spacing)} if scale else {}),
                **({f"PhysicalSize{a}Unit": ome_unit for a in "ZYX"} if scale else {})}
        tifffile.imwrite(path, labels.astype(dtype), ome=True, metadata=meta, compression="zlib", software=SOFTWARE)
        return
    tifffile.imwrite(path, labels.astype(dtype), compression="zlib", metadata=None, software=SOFTWARE, **scale)


def _np_save(tmp: str, array: np.ndarray) -> None:
    with open(tmp, "wb") as fh:
        np.save(fh, array)


def read_labels(path: PathLike) -> np.ndarray:
    """Read a label map written by :func:`save_labels` (``.npy``, 16-bit ``.png`` or
    32-bit ``.tif``) as int32."""
    path = Path(path)
    if path.suffix == ".npy":
        return np.load(path, allow_pickle=False).astype(np.int32)
    return decode_image(path, orientation=False).astype(np.int32)


def boundary_mask(labels: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
    """Pixels whose label differs from the next one along an axis (the right or lower
    neighbour of an HxW map; of a ZxYxX volume's voxel, the next along z, y or x), bool of
    the labels' shape; with ``valid`` (bool, the same shape), only pairs of two valid
    pixels count."""
    b = np.zeros(labels.shape, dtype=bool)
    for axis in range(labels.ndim):
        lo = (slice(None),) * axis + (slice(None, -1),)
        hi = (slice(None),) * axis + (slice(1, None),)
        step = labels[lo] != labels[hi]
        if valid is not None:
            step &= valid[lo] & valid[hi]
        b[lo] |= step
    return b


def overlay(image: np.ndarray, labels: np.ndarray, color=(255, 255, 0)) -> np.ndarray:
    """Draw superpixel boundaries over an image; returns HxWx3 uint8. Images with other
    than 1, 3 or 4 channels are shown by their first channel; any type but uint8 (a 12-bit
    camera's uint16, a dim float image) stretched between its 0.5 and 99.5 percentiles, so
    that it is seen under the boundaries."""
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[2] not in (1, 3, 4):
        image = image[:, :, 0]
    if image.dtype.kind == "f" and not np.all(np.isfinite(image)):
        image = np.nan_to_num(image, nan=np.nanmin(image) if np.isfinite(image).any() else 0.0,
                              posinf=0.0, neginf=0.0)
    rgb = to_float_rgb(image)
    if image.dtype != np.uint8:  # 12-bit data in uint16, a dim float image: shown stretched
        step = max(1, int((rgb.shape[0] * rgb.shape[1] / 1e6) ** 0.5))  # percentiles of about a million pixels
        lo, hi = np.percentile(rgb[::step, ::step], (0.5, 99.5))
        if hi > lo:
            rgb = np.clip((rgb - lo) / (hi - lo), 0.0, 1.0)
    rgb = (rgb * 255.0 + 0.5).astype(np.uint8)
    rgb[boundary_mask(labels)] = np.asarray(color, dtype=np.uint8)
    return rgb
