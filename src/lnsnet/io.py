"""Reading images and writing label maps and overlays.

Every writer is atomic: it writes a temporary file in the destination folder and renames
it, so an output file appears whole or not at all.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Union

import numpy as np

PathLike = Union[str, os.PathLike]

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".ppm", ".pgm", ".webp")


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
        raise TypeError(
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
        raise TypeError(
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
    if image.dtype == np.uint8:
        return image.astype(np.float32) / np.float32(255.0)
    if image.dtype == np.uint16:
        return image.astype(np.float32) / np.float32(65535.0)
    vals = image if valid is None else image[valid]
    lo, hi = float(vals.min()), float(vals.max())
    if image.dtype.kind == "f" and lo >= 0.0 and hi <= 1.0:
        return image.astype(np.float32)
    out = (image.astype(np.float64) - lo) / (hi - lo if hi > lo else 1.0)
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def decode_image(path: PathLike, data: bytes | None = None) -> np.ndarray:
    """Decode an image file into an array at its full bit depth: 16-bit images (gray, RGB,
    RGBA PNG and TIFF) -> uint16, 8-bit ones -> uint8, 32-bit integer ones -> int32, float
    ones -> float32; HxW or HxWxC as stored (gray + alpha -> gray, palette, 1-bit, CMYK
    and other modes -> RGB uint8). The package's one image decoder.

    Pillow reads 16-bit colour PNGs only as 8-bit, so those are decoded twice by its PNG
    decoder (high bytes, then low bytes) and put together; TIFF files are read with
    tifffile (a dependency of scikit-image), or with Pillow where tifffile lacks the codec
    and nothing is lost. With ``data`` (the file's bytes, e.g. read by a distributed
    engine), those are decoded and ``path`` only names the file in messages. Raises
    ``FileNotFoundError`` for a missing file and ``ValueError`` naming the file when it
    cannot be decoded (at its full bit depth).
    """
    import io as _io

    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if data is None and not path.is_file():
        raise FileNotFoundError(f"image file not found: {path}")

    def open_image():
        return Image.open(path if data is None else _io.BytesIO(data))

    if (data[:4] if data is not None else _head(path)) in _TIFF_MAGIC:
        arr = _decode_tiff(path if data is None else _io.BytesIO(data), path)
        if arr is not None:
            return arr
    try:
        with open_image() as im:
            if im.format == "PNG" and _png_rawmode(im) in _WIDE_PNG:
                return _decode_wide_png(im, open_image)
            im.load()
            mode = im.mode
            if mode in ("I;16", "I;16B", "I;16L", "I;16N"):
                return np.array(im, dtype=np.uint16)
            if mode == "I":
                return np.array(im, dtype=np.int32)
            if mode == "F":
                return np.array(im, dtype=np.float32)
            if mode in ("L", "RGB", "RGBA"):
                return np.array(im)
            return np.array(im.convert("L" if mode == "LA" else "RGB"))
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        reason = str(exc).replace(f"'{path}'", "").replace(str(path), "").strip(" :") or type(exc).__name__
        raise ValueError(f"cannot read image {path}: {reason}") from None


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
    return high << 8 | low


_TIFF_MAGIC = (b"II*\0", b"MM\0*", b"II+\0", b"MM\0+")  # TIFF, BigTIFF


def _head(path: Path) -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read(4)
    except OSError:
        return b""


def _decode_tiff(source, path: Path) -> np.ndarray | None:
    """A gray or RGB(A) TIFF's first image at its bit depth, read by tifffile; ``None``
    where Pillow reads it as well or says why it cannot (other colour spaces, palettes,
    8-bit samples in codecs tifffile needs imagecodecs for, files tifffile cannot parse).
    ``ValueError`` for a colour TIFF of more than 8 bits a sample whose codec only Pillow
    has: Pillow would keep 8 of them."""
    try:
        import tifffile
    except ImportError:  # pragma: no cover - scikit-image depends on it
        return None
    lost = None
    try:
        with tifffile.TiffFile(source) as tif:
            page = tif.pages[0]
            photometric = int(page.photometric)
            if photometric not in (1, 2):  # MINISBLACK, RGB; the rest: Pillow's conversions
                return None
            alpha = sum(int(e) in (1, 2) for e in page.extrasamples or ())  # ASSOCALPHA, UNASSALPHA
            try:
                arr, axes = page.asarray(), page.axes
            except Exception:  # a codec tifffile lacks (imagecodecs), or a damaged file
                if page.bitspersample <= 8 or page.samplesperpixel == 1:
                    return None  # Pillow reads these whole (or says what is wrong)
                lost = f"{page.bitspersample}-bit {getattr(page.compression, 'name', page.compression)}"
    except Exception:  # not a TIFF tifffile can parse: Pillow tries and says why
        return None
    if lost:
        raise ValueError(f"cannot read image {path} at its full bit depth ({lost} compressed TIFF): "
                         "pip install imagecodecs")
    if "S" in axes:
        arr, axes = np.moveaxis(arr, axes.index("S"), -1), axes.replace("S", "") + "S"
    keep = tuple(i for i, a in enumerate(axes) if a in "YXS" or arr.shape[i] != 1)
    arr = arr.reshape([arr.shape[i] for i in keep])
    if arr.ndim not in (2, 3):
        return None
    if photometric == 1 and alpha and arr.ndim == 3 and arr.shape[2] > alpha:  # gray + alpha -> gray
        arr = arr[:, :, : arr.shape[2] - alpha]
        arr = arr[:, :, 0] if arr.shape[2] == 1 else arr
    if arr.dtype == bool:
        return arr.astype(np.uint8) * np.uint8(255)
    if arr.dtype in (np.uint8, np.uint16):
        return np.ascontiguousarray(arr)
    if np.issubdtype(arr.dtype, np.integer):
        info = np.iinfo(np.int32)
        return np.clip(arr, info.min, info.max).astype(np.int32)
    if np.issubdtype(arr.dtype, np.floating):
        return arr.astype(np.float32)
    return None


def read_image(path: PathLike, data: bytes | None = None) -> np.ndarray:
    """Read an image file as a numpy array (HxW or HxWxC) for :func:`lnsnet.segment`, at its
    own type and values (:func:`decode_image`: uint8, uint16, int32 or float32; signed and
    float data such as CT or a float TIFF as they are, NaN included: ``segment`` stretches
    what is neither uint8, uint16 nor float in [0, 1], and refuses NaN outside a mask).

    Raises ``FileNotFoundError`` for a missing file and ``ValueError`` naming the file when
    it cannot be decoded (not an image, truncated, unsupported mode).
    """
    return decode_image(path, data)


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
        write(tmp)
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
        raise TypeError(f"save_png takes uint8 or uint16 arrays, got {array.dtype}")
    atomic_write(Path(path), lambda tmp: im.save(tmp, format="PNG"))


def save_labels(path_stem: PathLike, labels: np.ndarray, *, png: bool = True, npy: bool = True):
    """Write a label map as ``<stem>.npy`` (int32) and a label image: ``<stem>.png``
    (16-bit) or, when a label exceeds 65,535 (more than a 16-bit PNG holds),
    ``<stem>.tif`` (32-bit, deflate-compressed; read back by :func:`read_labels`, ImageJ,
    tifffile, Pillow). ``png=False``: no label image. Returns the paths written.
    """
    stem = Path(path_stem)
    labels = np.asarray(labels)
    written = []
    if npy:
        p = stem.with_name(stem.name + ".npy")
        atomic_write(p, lambda tmp: _np_save(tmp, labels.astype(np.int32)))
        written.append(p)
    if png:
        if labels.size and (labels.max() > 65535 or labels.min() < 0):
            p = stem.with_name(stem.name + ".tif")
            atomic_write(p, lambda tmp: _save_tiff(tmp, labels))
        else:
            p = stem.with_name(stem.name + ".png")
            save_png(p, labels.astype(np.uint16))
        written.append(p)
    return written


def _save_tiff(path: str, labels: np.ndarray) -> None:
    import tifffile

    dtype = np.int32 if labels.min() < 0 else np.uint32
    tifffile.imwrite(path, labels.astype(dtype), compression="zlib", metadata=None)


def _np_save(tmp: str, array: np.ndarray) -> None:
    with open(tmp, "wb") as fh:
        np.save(fh, array)


def read_labels(path: PathLike) -> np.ndarray:
    """Read a label map written by :func:`save_labels` (``.npy``, 16-bit ``.png`` or
    32-bit ``.tif``) as int32."""
    path = Path(path)
    if path.suffix == ".npy":
        return np.load(path, allow_pickle=False).astype(np.int32)
    return decode_image(path).astype(np.int32)


def boundary_mask(labels: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
    """Pixels whose label differs from the right or lower neighbour (HxW bool); with
    ``valid`` (HxW bool), only pairs of two valid pixels count."""
    right = labels[:, :-1] != labels[:, 1:]
    down = labels[:-1, :] != labels[1:, :]
    if valid is not None:
        right &= valid[:, :-1] & valid[:, 1:]
        down &= valid[:-1, :] & valid[1:, :]
    b = np.zeros(labels.shape, dtype=bool)
    b[:, :-1] |= right
    b[:-1, :] |= down
    return b


def overlay(image: np.ndarray, labels: np.ndarray, color=(255, 255, 0)) -> np.ndarray:
    """Draw superpixel boundaries over an image; returns HxWx3 uint8. Images with other
    than 1, 3 or 4 channels are shown by their first channel."""
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[2] not in (1, 3, 4):
        image = image[:, :, 0]
    if image.dtype.kind == "f" and not np.all(np.isfinite(image)):
        image = np.nan_to_num(image, nan=np.nanmin(image) if np.isfinite(image).any() else 0.0,
                              posinf=0.0, neginf=0.0)
    rgb = (to_float_rgb(image) * 255.0 + 0.5).astype(np.uint8)
    rgb[boundary_mask(labels)] = np.asarray(color, dtype=np.uint8)
    return rgb
