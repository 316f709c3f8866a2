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
        dtype ``uint8`` (0..255), ``uint16`` (0..65535) or floating point in ``[0, 1]``.

    Returns
    -------
    ndarray, float32, shape ``(H, W, 3)``

    Raises
    ------
    TypeError
        If ``image`` is not a numpy array or has an unsupported dtype.
    ValueError
        If the shape, channel count or value range is not supported.
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

    if image.dtype == np.uint8:
        out = image.astype(np.float32) / 255.0
    elif image.dtype == np.uint16:
        out = image.astype(np.float32) / 65535.0
    elif np.issubdtype(image.dtype, np.floating):
        out = image.astype(np.float32)
        if not np.all(np.isfinite(out)):
            raise ValueError("image contains NaN or infinite values")
        lo, hi = float(out.min()), float(out.max())
        if lo < 0.0 or hi > 1.0:
            raise ValueError(
                f"float images must lie in [0, 1], got values in [{lo:.4g}, {hi:.4g}]; "
                "scale the image or pass it as uint8/uint16"
            )
    else:
        raise TypeError(
            f"unsupported image dtype {image.dtype}; allowed: uint8, uint16, float16/32/64 "
            "in [0, 1]"
        )
    if out.shape[2] == 1:
        out = np.repeat(out, 3, axis=2)
    return np.ascontiguousarray(out)


def decode_image(path: PathLike, data: bytes | None = None) -> np.ndarray:
    """Decode an image file into the array of its own mode: ``I;16`` -> uint16, ``I`` ->
    int32, ``F`` -> float32, ``L``/``RGB``/``RGBA`` as stored, ``LA`` -> ``L``, any other
    mode (palette, 1-bit, CMYK, ...) -> RGB uint8. The package's one image decoder.

    With ``data`` (the file's bytes, e.g. read by a distributed engine), those are decoded
    and ``path`` only names the file in messages. Raises ``FileNotFoundError`` for a missing
    file and ``ValueError`` naming the file when it cannot be decoded.
    """
    import io as _io

    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if data is None and not path.is_file():
        raise FileNotFoundError(f"image file not found: {path}")
    try:
        with Image.open(path if data is None else _io.BytesIO(data)) as im:
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


def read_image(path: PathLike, data: bytes | None = None) -> np.ndarray:
    """Read an image file as a numpy array (uint8 or uint16, HxW or HxWxC) for
    :func:`lnsnet.segment`: :func:`decode_image`, then 32-bit integer images clipped to
    uint16 and float images stretched from their minimum to their maximum.

    Raises ``FileNotFoundError`` for a missing file and ``ValueError`` naming the file when
    it cannot be decoded (not an image, truncated, unsupported mode).
    """
    arr = decode_image(path, data)
    if arr.dtype == np.int32:
        return np.clip(arr, 0, 65535).astype(np.uint16)
    if arr.dtype == np.float32:
        lo, hi = float(arr.min()), float(arr.max())
        return (arr - lo) / (hi - lo) if hi > lo else np.zeros_like(arr)
    return arr


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
    """Write a label map as ``<stem>.png`` (16-bit) and/or ``<stem>.npy`` (int32).

    Returns the list of paths written. A 16-bit PNG holds at most 65536 labels; with more
    only the ``.npy`` file is written.
    """
    stem = Path(path_stem)
    written = []
    if npy:
        p = stem.with_name(stem.name + ".npy")
        atomic_write(p, lambda tmp: _np_save(tmp, labels.astype(np.int32)))
        written.append(p)
    if png:
        if labels.max(initial=0) > 65535:
            raise ValueError("more than 65536 labels do not fit a 16-bit PNG; use the .npy file")
        p = stem.with_name(stem.name + ".png")
        save_png(p, labels.astype(np.uint16))
        written.append(p)
    return written


def _np_save(tmp: str, array: np.ndarray) -> None:
    with open(tmp, "wb") as fh:
        np.save(fh, array)


def read_labels(path: PathLike) -> np.ndarray:
    """Read a label map written by :func:`save_labels` (``.npy`` or 16-bit ``.png``)."""
    path = Path(path)
    if path.suffix == ".npy":
        return np.load(path, allow_pickle=False).astype(np.int32)
    return read_image(path).astype(np.int32)


def boundary_mask(labels: np.ndarray) -> np.ndarray:
    """Pixels whose label differs from the right or lower neighbour (HxW bool)."""
    b = np.zeros(labels.shape, dtype=bool)
    b[:, :-1] |= labels[:, :-1] != labels[:, 1:]
    b[:-1, :] |= labels[:-1, :] != labels[1:, :]
    return b


def overlay(image: np.ndarray, labels: np.ndarray, color=(255, 255, 0)) -> np.ndarray:
    """Draw superpixel boundaries over an image; returns HxWx3 uint8."""
    rgb = (to_float_rgb(image) * 255.0 + 0.5).astype(np.uint8)
    rgb[boundary_mask(labels)] = np.asarray(color, dtype=np.uint8)
    return rgb
