"""Datasets for evaluation: BSDS500 and a generic folder of images with label maps or masks.

Every dataset is a read-only sequence (``len``, ``ds[i]``, iteration) of :class:`Sample`:
the image name (file stem), the image as an ``(H, W, 3)`` uint8 RGB array and a list of
ground-truth label maps, each ``(H, W)`` int32 with labels ``0..k-1`` (one map per human
annotation). Files are read when a sample is asked for; the file lists are built, and
checked for missing partners, when the dataset is made. Any missing or unreadable file
raises an error whose message names the file.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.io
from PIL import Image

from ..io import VOLUME_SUFFIXES, decode_image, file_stem
from .labels import relabel_consecutive, split_disconnected
from ..errors import ArgumentTypeError

__all__ = [
    "Sample",
    "BSDS500",
    "FolderDataset",
    "VolumeFolderDataset",
    "BSDS500_ENV",
    "SPLITS",
    "IMAGE_EXTENSIONS",
    "VOLUME_EXTENSIONS",
    "resolve_bsds500_root",
    "read_rgb8",
    "read_bsds500_ground_truth",
    "read_label_file",
]

#: Environment variable that names the BSDS500 root when no root is passed.
BSDS500_ENV = "LNSNET_BSDS500"
#: The splits of BSDS500.
SPLITS = ("train", "val", "test")
#: Image file extensions the folder dataset picks up (case-insensitive).
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".ppm")
#: Volume and label-volume file extensions of :class:`VolumeFolderDataset`.
VOLUME_EXTENSIONS = (".ome.tif", ".ome.tiff") + VOLUME_SUFFIXES
#: Label file extensions of the folder dataset, in the order they are looked for.
LABEL_EXTENSIONS = (".npy", ".png", ".tif", ".tiff", ".mat")


@dataclass(frozen=True)
class Sample:
    """One evaluation sample.

    Attributes
    ----------
    name : str
        Image file stem, e.g. ``"100007"``.
    image : numpy.ndarray of uint8, shape (H, W, 3)
        RGB image.
    ground_truths : list of numpy.ndarray of int32, each (H, W)
        One label map per annotation, labels ``0..k-1``.
    path : pathlib.Path
        The image file.
    spacing : tuple of 3 float, optional
        A volume's voxel size ``(z, y, x)`` (:class:`VolumeFolderDataset`); None for images.
    """

    name: str
    image: np.ndarray = field(repr=False)
    ground_truths: list[np.ndarray] = field(repr=False)
    path: Path | None = None
    spacing: tuple[float, float, float] | None = None


# ------------------------------------------------------------------------------ readers

_STRETCHED = False  # read_rgb8 has said it stretches images that are not 8-bit


def read_rgb8(path) -> np.ndarray:
    """An image file as an ``(H, W, 3)`` uint8 RGB array, the input every benchmark
    method takes: decoded by :func:`lnsnet.io.decode_image` as stored (no EXIF
    orientation applied, as the label maps beside it are read), then gray repeated over three
    channels, alpha dropped; integer images whose values all fit 8 bits kept as they are,
    float images in [0, 1] times 255 (rounded); any other image (16-bit, 32-bit, floats
    outside [0, 1]) stretched from its own minimum and maximum to 0..255, with a warning
    once per process: a dim 12-bit microscopy image keeps its contrast (``v // 257`` left it
    a few gray levels, and every method saw those).

    Raises ``FileNotFoundError`` if the file does not exist, ``ValueError`` naming the
    file when it cannot be decoded.
    """
    arr = decode_image(path, orientation=False)
    if arr.dtype != np.uint8:
        v = np.nan_to_num(arr.astype(np.float64))
        lo, hi = (float(v.min()), float(v.max())) if v.size else (0.0, 0.0)
        if arr.dtype.kind in "iub" and lo >= 0 and hi <= 255:
            arr = v.astype(np.uint8)
        elif arr.dtype.kind == "f" and lo >= 0 and hi <= 1:
            arr = np.clip(v * 255.0 + 0.5, 0, 255).astype(np.uint8)
        else:
            global _STRETCHED
            if not _STRETCHED:
                _STRETCHED = True
                warnings.warn(f"{path}: a {arr.dtype} image (values {lo:g}..{hi:g}) is stretched from its own range "
                              "to 8 bits for every method (the benchmark's methods take 8-bit RGB); so are other "
                              "images like it", stacklevel=2)
            arr = np.clip((v - lo) * (255.0 / (hi - lo) if hi > lo else 0.0) + 0.5, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(_rgb_channels(arr, path))


def _rgb_channels(arr: np.ndarray, path) -> np.ndarray:
    """A decoded image as three channels: gray repeated, RGB as it is; any other channel count
    refused (``ValueError`` naming ``path``: an alpha the file declares is dropped by
    decode_image, anything else is content the methods cannot take)."""
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.shape[2] == 1:
        arr = np.repeat(arr, 3, axis=2)
    if arr.shape[2] != 3:
        raise ValueError(f"{path}: {arr.shape[2]} channels; the benchmark's methods take gray or RGB images "
                         "(convert it, or score your method on it alone with custom= / --precomputed)")
    return arr


def read_bsds500_ground_truth(path) -> list[np.ndarray]:
    """Read the human segmentations of a BSDS500 ``groundTruth/*.mat`` file.

    The file holds a ``1 x A`` cell array ``groundTruth``; entry ``k`` is a struct whose
    ``Segmentation`` field is a uint16 label map (labels from 1). A ``1 x A`` struct array
    with the same field is accepted too. The ``Boundaries`` field is not used: boundaries
    are derived from the label maps by the metrics.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    list of numpy.ndarray of int32, each (H, W)
        One map per annotation, relabelled to ``0..k-1``.

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        If the file is not a readable .mat file or lacks the expected content; the
        message names the file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"ground-truth file not found: {path}")
    try:
        mat = scipy.io.loadmat(str(path))
    except Exception as exc:
        raise ValueError(f"cannot read MATLAB file {path}: {exc}") from exc
    if "groundTruth" not in mat:
        keys = sorted(k for k in mat if not k.startswith("__"))
        raise ValueError(f"{path} has no variable 'groundTruth' (variables: {keys})")
    gt = np.asarray(mat["groundTruth"])
    try:
        if gt.dtype.names:  # struct array
            segs = list(np.asarray(gt["Segmentation"]).ravel())
        else:  # cell array of 1x1 structs
            segs = [np.asarray(entry["Segmentation"]).ravel()[0] for entry in gt.ravel()]
    except (KeyError, ValueError, IndexError, TypeError) as exc:
        raise ValueError(
            f"{path}: 'groundTruth' entries must be structs with a 'Segmentation' field "
            f"({exc})"
        ) from exc
    out = []
    for k, seg in enumerate(segs):
        seg = np.asarray(seg)
        if seg.ndim != 2 or seg.size == 0 or not np.issubdtype(seg.dtype, np.integer):
            raise ValueError(
                f"{path}: groundTruth{{{k + 1}}}.Segmentation must be a non-empty 2-D "
                f"integer array, got shape {seg.shape} and dtype {seg.dtype}"
            )
        out.append(relabel_consecutive(seg))
    if not out:
        raise ValueError(f"{path}: 'groundTruth' holds no annotation")
    return out


def read_label_file(path, kind: str = "labels", ignore: int | None = None) -> list[np.ndarray]:
    """Read ground-truth label maps from a ``.npy``, ``.png``, ``.tif`` or BSDS-style ``.mat`` file.

    Parameters
    ----------
    path : str or os.PathLike
        ``.npy``: an integer or bool array of shape ``(H, W)`` (one annotation) or
        ``(A, H, W)`` (``A`` annotations). ``.png``: gray, 16-bit or palette values are the
        labels; in an RGB(A) PNG every distinct colour is one label (alpha ignored).
        ``.tif``/``.tiff``: one integer plane (cellpose's and StarDist's label masks).
        ``.mat``: as :func:`read_bsds500_ground_truth`.
    kind : {"labels", "masks"}
        ``"labels"``: the values are region labels. ``"masks"``: each annotation is a
        binary mask (at most two distinct values; non-zero is foreground) and becomes a
        region map whose regions are the 4-connected components of foreground and
        background.
    ignore : int, optional
        With ``kind="labels"``: a value of the file that means "unknown" (SBD's 0). Its
        pixels keep that value and the other values are numbered around it, so scoring
        with ``ignore`` leaves out exactly the file's unknown pixels (whether or not the
        map has any).

    Returns
    -------
    list of numpy.ndarray of int32, each (H, W)
        Labels ``0..k-1`` (with ``ignore``: ``ignore`` where the file has it, the other
        regions numbered ``0..k-1`` skipping ``ignore``).

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        If the file cannot be read, has an unsupported extension, shape or dtype, or (for
        ``kind="masks"``) is not binary; the message names the file.
    """
    if kind not in ("labels", "masks"):
        raise ValueError(f"kind must be 'labels' or 'masks', got {kind!r}")
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"label file not found: {path}")
    ext = path.suffix.lower()
    if ext == ".mat":
        maps = read_bsds500_ground_truth(path)
    elif ext == ".npy":
        try:
            arr = np.load(path, allow_pickle=False)
        except Exception as exc:
            raise ValueError(f"cannot read NPY label file {path}: {exc}") from exc
        if arr.dtype != bool and not np.issubdtype(arr.dtype, np.integer):
            raise ValueError(
                f"{path}: label maps must be integer or bool, got dtype {arr.dtype}"
            )
        if arr.ndim == 2:
            maps = [arr]
        elif arr.ndim == 3 and arr.shape[0] > 0:
            maps = list(arr)
        else:
            raise ValueError(
                f"{path}: expected an (H, W) or (A, H, W) array, got shape {arr.shape}"
            )
        if arr.size == 0:
            raise ValueError(f"{path}: label map is empty (shape {arr.shape})")
    elif ext == ".png":
        maps = [_read_png_labels(path)]
    elif ext in (".tif", ".tiff"):  # cellpose's and StarDist's masks: one integer plane
        import tifffile

        try:
            arr = np.squeeze(tifffile.imread(path))
        except Exception as exc:
            raise ValueError(f"cannot read TIFF label file {path}: {exc}") from exc
        if arr.ndim != 2 or (arr.dtype != bool and not np.issubdtype(arr.dtype, np.integer)):
            raise ValueError(f"{path}: a TIFF label map must be one integer plane, got shape {arr.shape}, "
                             f"dtype {arr.dtype}")
        maps = [arr]
    else:
        raise ValueError(
            f"unsupported label file {path}: extension must be one of {LABEL_EXTENSIONS}"
        )
    out = []
    for k, m in enumerate(maps):
        m = np.asarray(m)
        if kind == "masks":
            values = np.unique(m)
            if values.size > 2:
                raise ValueError(
                    f"{path}: annotation {k} is not a binary mask: {values.size} distinct "
                    f"values (first ones: {values[:5].tolist()})"
                )
            out.append(split_disconnected(m != 0))
        elif ignore is None:
            out.append(relabel_consecutive(m.astype(np.int64, copy=False)))
        else:
            m = m.astype(np.int64, copy=False)
            unknown = m == ignore
            ranks = relabel_consecutive(m[~unknown])
            lab = np.full(m.shape, ignore, dtype=np.int32)
            lab[~unknown] = np.where(ranks >= ignore, ranks + 1, ranks) if ignore >= 0 else ranks
            out.append(lab)
    return out


def _read_png_labels(path: Path) -> np.ndarray:
    try:
        with Image.open(path) as im:
            im.load()
            if im.mode in ("RGB", "RGBA", "RGBX", "CMYK", "YCbCr", "LAB", "HSV"):
                rgb = np.asarray(im.convert("RGB")).astype(np.int64)
                return (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]
            if im.mode == "LA":
                return np.asarray(im)[..., 0].astype(np.int64)
            if im.mode == "PA":
                return np.asarray(im.convert("P")).astype(np.int64)
            arr = np.asarray(im)
    except Exception as exc:
        raise ValueError(f"cannot read PNG label file {path}: {exc}") from exc
    if arr.ndim != 2 or not (arr.dtype == bool or np.issubdtype(arr.dtype, np.integer)):
        raise ValueError(
            f"{path}: PNG label map must be a single-channel integer image, got shape "
            f"{arr.shape} and dtype {arr.dtype}"
        )
    return arr.astype(np.int64)


def _check_shapes(image: np.ndarray, maps: list[np.ndarray], label_path: Path,
                  image_path: Path) -> None:  # fmt: skip
    for k, m in enumerate(maps):
        if m.shape != image.shape[:2]:
            raise ValueError(
                f"{label_path}: annotation {k} has shape {m.shape} but image "
                f"{image_path} is {image.shape[0]}x{image.shape[1]}"
            )


class _SampleSequence(Sequence):
    """Indexable, iterable list of lazily read samples."""

    def __init__(self) -> None:
        self._items: list[tuple[str, Path, Path]] = []  # (name, image, labels)

    @property
    def names(self) -> list[str]:
        """Names (file stems) of the samples, in order."""
        return [name for name, _, _ in self._items]

    def __len__(self) -> int:
        return len(self._items)

    def _item(self, index: int) -> tuple[str, Path, Path]:
        if isinstance(index, (bool, np.bool_)) or not isinstance(index, (int, np.integer)):
            raise ArgumentTypeError(f"dataset index must be an int, got {type(index).__name__}")
        n = len(self._items)
        if not -n <= index < n:
            raise IndexError(f"index {index} out of range for a dataset of {n} samples")
        return self._items[int(index)]

    def __getitem__(self, index: int) -> Sample:
        name, image_path, label_path = self._item(index)
        image = read_rgb8(image_path)
        maps = self._read_labels(label_path)
        _check_shapes(image, maps, label_path, image_path)
        return Sample(name=name, image=image, ground_truths=maps, path=image_path)

    def _read_labels(self, path: Path) -> list[np.ndarray]:  # pragma: no cover
        raise NotImplementedError


# ------------------------------------------------------------------------------ BSDS500


def resolve_bsds500_root(root=None) -> Path:
    """Find the BSDS500 data folder.

    Parameters
    ----------
    root : str or os.PathLike, optional
        Folder that holds ``images/`` and ``groundTruth/`` (or the release's
        ``BSR/BSDS500/data`` or ``BSDS500/data`` below it). Without it the environment
        variable ``LNSNET_BSDS500`` is used.

    Returns
    -------
    pathlib.Path
        The folder that holds ``images/`` and ``groundTruth/``.

    Raises
    ------
    FileNotFoundError
        If no root is given and ``LNSNET_BSDS500`` is unset, or the folder has no
        ``images/`` and ``groundTruth/`` subfolders.
    """
    if root is None:
        env = os.environ.get(BSDS500_ENV)
        if not env:
            raise FileNotFoundError(
                "BSDS500 location unknown: pass root=... (on the command line --root DIR; --dataset FOLDER for your own "
                "images and labels), the folder that holds images/ and "
                f"groundTruth/) or set the environment variable {BSDS500_ENV}, e.g. "
                f"`export {BSDS500_ENV}=/data/BSR/BSDS500/data`"
            )
        root = env
    base = Path(root).expanduser()
    for cand in (base, base / "BSDS500" / "data", base / "BSR" / "BSDS500" / "data",
                 base / "data"):  # fmt: skip
        if (cand / "images").is_dir() and (cand / "groundTruth").is_dir():
            return cand
    raise FileNotFoundError(
        f"no BSDS500 data under {base}: expected {base}/images/<split>/*.jpg and "
        f"{base}/groundTruth/<split>/*.mat (or the same below BSR/BSDS500/data)"
    )


class BSDS500(_SampleSequence):
    """The Berkeley Segmentation Data Set 500 (Arbelaez et al., TPAMI 2011).

    Samples are the ``images/<split>/*.jpg`` files in name order; their ground truths are
    the ``Segmentation`` maps of ``groundTruth/<split>/<name>.mat`` (usually 5 annotators,
    4 to 9), relabelled to ``0..k-1``.

    Parameters
    ----------
    root : str or os.PathLike, optional
        See :func:`resolve_bsds500_root`; defaults to ``$LNSNET_BSDS500``.
    split : {"train", "val", "test"}, default "test"

    Raises
    ------
    ValueError
        For an unknown split.
    FileNotFoundError
        If the root cannot be found, the split has no image, or an image has no
        ground-truth file (the message names the missing file).

    Examples
    --------
    >>> ds = BSDS500(split="test")           # doctest: +SKIP
    >>> len(ds), ds[0].name, len(ds[0].ground_truths)  # doctest: +SKIP
    (200, '100007', 5)
    """

    def __init__(self, root=None, split: str = "test") -> None:
        super().__init__()
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        self.root = resolve_bsds500_root(root)
        self.split = split
        image_dir = self.root / "images" / split
        gt_dir = self.root / "groundTruth" / split
        images = sorted(
            p for p in image_dir.glob("*") if p.suffix.lower() in (".jpg", ".jpeg")
        ) if image_dir.is_dir() else []  # fmt: skip
        if not images:
            raise FileNotFoundError(f"no .jpg image in {image_dir}")
        for p in images:
            mat = gt_dir / f"{p.stem}.mat"
            if not mat.is_file():
                raise FileNotFoundError(
                    f"ground-truth file missing for image {p}: expected {mat}"
                )
            self._items.append((p.stem, p, mat))

    def _read_labels(self, path: Path) -> list[np.ndarray]:
        return read_bsds500_ground_truth(path)

    def __repr__(self) -> str:
        return f"BSDS500(root={str(self.root)!r}, split={self.split!r}, n={len(self)})"


# ------------------------------------------------------------------------------- folder


class FolderDataset(_SampleSequence):
    """Images in one folder, their ground truth in another, matched by file stem.

    For an image ``images/<stem>.<ext>`` (``ext`` in :data:`IMAGE_EXTENSIONS`) the labels
    are ``labels/<stem>.npy``, ``labels/<stem>.png`` or ``labels/<stem>.mat`` (exactly one
    of them); see :func:`read_label_file` for their formats. With ``kind="masks"`` each
    label file is a binary mask turned into a region map (the 4-connected components of
    foreground and background), so a segmentation benchmark of foreground/background
    masks can be scored with the same metrics.

    Parameters
    ----------
    images : str or os.PathLike
        Folder of images.
    labels : str or os.PathLike
        Folder of label files; must differ from ``images``.
    kind : {"labels", "masks"}, default "labels"
    names : sequence of str, optional
        Only the images with these stems (a split, e.g. SBD's ``splits/*.txt``), in the
        order given; each must exist.
    ignore_label : int, optional
        A label of the label maps that means "unknown" (SBD's 0): the benchmark scores
        without those pixels (:func:`lnsnet.eval.metrics.score`'s ``ignore``).

    Raises
    ------
    FileNotFoundError
        If a folder is missing, an image has no label file or a name has no image (the
        message names what was looked for).
    ValueError
        If the folders are the same, the image folder holds no image, ``kind`` is
        unknown, or an image has several label files.
    """

    def __init__(self, images, labels, kind: str = "labels", names=None, ignore_label: int | None = None) -> None:
        super().__init__()
        self.ignore_label = None if ignore_label is None else int(ignore_label)
        if kind not in ("labels", "masks"):
            raise ValueError(f"kind must be 'labels' or 'masks', got {kind!r}")
        self.images_dir = Path(images)
        self.labels_dir = Path(labels)
        self.kind = kind
        for what, d in (("image", self.images_dir), ("label", self.labels_dir)):
            if not d.is_dir():
                raise FileNotFoundError(f"{what} folder not found: {d}")
        if self.images_dir.resolve() == self.labels_dir.resolve():
            raise ValueError(
                f"images and labels must be in different folders, both are {self.images_dir}"
            )
        images_found = sorted(  # hidden files left out: macOS's ._NAME forks beside copied images
            p for p in self.images_dir.iterdir()
            if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS and not p.name.startswith(".")
        )  # fmt: skip
        if not images_found:
            raise ValueError(
                f"no image in {self.images_dir} (extensions {IMAGE_EXTENSIONS})"
            )
        stems = [p.stem for p in images_found]
        if len(set(stems)) != len(stems):
            dup = sorted({s for s in stems if stems.count(s) > 1})
            raise ValueError(f"{self.images_dir}: several images share the stems {dup}")
        if names is not None:
            by_stem = dict(zip(stems, images_found))
            missing = [n for n in names if n not in by_stem]
            if missing:
                raise FileNotFoundError(f"{len(missing)} listed image(s) not in {self.images_dir}, e.g. {missing[:3]}")
            images_found = [by_stem[n] for n in names]
        on_disk: dict[tuple[str, str], Path] = {}  # (stem, extension in lower case): a.PNG is a.png's
        for q in self.labels_dir.iterdir():
            if q.is_file() and not q.name.startswith("."):
                on_disk.setdefault((q.stem, q.suffix.lower()), q)
        for p in images_found:
            cands = [self.labels_dir / f"{p.stem}{ext}" for ext in LABEL_EXTENSIONS]
            found = [on_disk[(p.stem, ext)] for ext in LABEL_EXTENSIONS if (p.stem, ext) in on_disk]
            if not found:
                raise FileNotFoundError(
                    f"no label file for image {p}: looked for "
                    + ", ".join(str(c) for c in cands)
                )
            if len(found) > 1:
                raise ValueError(
                    f"several label files for image {p}: "
                    + ", ".join(str(c) for c in found) + "; keep one"
                )
            self._items.append((p.stem, p, found[0]))

    def _read_labels(self, path: Path) -> list[np.ndarray]:
        return read_label_file(path, self.kind, ignore=self.ignore_label if self.kind == "labels" else None)

    def check(self, n: int | None = None) -> None:
        """Read the first ``n`` images (all by default) and their label maps once, before any
        work, and raise one ``ValueError`` listing every problem: a file that cannot be read,
        an image of a channel count the benchmark's methods do not take, a label map of
        another size than its image, an annotation that is all the ignore label. (A long run
        stopped at such a file only when its turn came.)"""
        problems = []
        for name, image_path, label_path in self._items[:n]:
            try:
                arr = decode_image(image_path, orientation=False)
                h, w = arr.shape[:2]
                try:
                    _rgb_channels(arr[:1, :1], image_path)  # read_rgb8's channel rule, on one pixel
                except ValueError as exc:
                    problems.append(str(exc))
                for a, m in enumerate(self._read_labels(label_path)):
                    if m.shape != (h, w):
                        problems.append(f"{label_path}: annotation {a} has shape {m.shape} but image {image_path} "
                                        f"is {h}x{w}")
                    elif self.ignore_label is not None and self.kind == "labels" and (m == self.ignore_label).all():
                        problems.append(f"{label_path}: annotation {a} is all the ignore label "
                                        f"{self.ignore_label}: nothing to score")
            except (OSError, ValueError) as exc:
                problems.append(" ".join(str(exc).split()))
        if problems:
            more = f"\n  ... and {len(problems) - 10} more" if len(problems) > 10 else ""
            raise ValueError(f"{len(problems)} problem(s) in {self.images_dir.parent}, found before any work:\n  "
                             + "\n  ".join(problems[:10]) + more)

    def __repr__(self) -> str:
        return (
            f"FolderDataset(images={str(self.images_dir)!r}, "
            f"labels={str(self.labels_dir)!r}, kind={self.kind!r}, n={len(self)})"
        )


# ------------------------------------------------------------------------------ volumes


def _volume_stem(path: Path) -> str | None:
    """The stem of a volume file (``a.nii.gz`` -> ``a``), None for other files."""
    name = path.name
    if name.startswith(".") or not name.lower().endswith(VOLUME_SUFFIXES):  # hidden files: macOS's ._NAME forks
        return None
    return file_stem(path)  # .nii.gz, .ome.tif as one suffix


def _read_label_volume(path: Path) -> np.ndarray:
    """A label volume: an integer (or bool, or whole-valued float, as NIfTI label maps often
    are) ``(Z, Y, X)`` array; ``ValueError`` naming the file otherwise."""
    from ..io import read_volume

    if path.name.lower().endswith(".npy"):
        try:
            labels = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise ValueError(f"cannot read label volume {path}: {exc}") from None
    else:
        labels, _ = read_volume(path, max_voxels=None)
    if labels.ndim != 3:
        raise ValueError(f"label volume {path} must be one (Z, Y, X) array of labels, got shape {labels.shape}")
    if labels.dtype.kind == "f":
        if not (np.isfinite(labels).all() and (labels == np.round(labels)).all()):
            raise ValueError(f"label volume {path} holds values that are not whole numbers ({labels.dtype}): "
                             "labels are integers")
        return labels.astype(np.int64)
    if labels.dtype.kind not in "biu":
        raise ValueError(f"label volume {path} must hold integer labels, got {labels.dtype}")
    return labels.astype(np.int64, copy=False)


class VolumeFolderDataset(_SampleSequence):
    """Volumes in one folder, their label volumes in another, matched by file stem
    (``lnsnet benchmark --volume``).

    Volumes and labels are ``.tif``/``.tiff`` stacks, ``.npy`` arrays or NIfTI files, read
    by :func:`lnsnet.io.read_volume` (``(Z, Y, X)`` or channels last); a label volume is an
    integer ``(Z, Y, X)`` array of the volume's shape, one region per value (one annotation).
    Each sample's ``spacing`` is ``spacing`` when given, else the voxel size the volume's
    file records, else ``(1, 1, 1)`` (with one warning naming the files).

    Parameters
    ----------
    images, labels : str or os.PathLike
        Folders of volumes and of label volumes.
    names : sequence of str, optional
        Only these stems, in this order.
    ignore_label : int, optional
        A label value meaning "unknown", left out of the scores.
    spacing : sequence of 3 float, optional
        The voxel size of every volume, overriding the files'.
    """

    volume = True
    kind = "labels"

    def __init__(self, images, labels, names=None, ignore_label: int | None = None, spacing=None) -> None:
        super().__init__()
        from ..prepare import read_spacing

        self.ignore_label = None if ignore_label is None else int(ignore_label)
        self.spacing = None if spacing is None else tuple(float(v) for v in read_spacing(spacing, 3))
        self.images_dir, self.labels_dir = Path(images), Path(labels)
        for what, d in (("volume", self.images_dir), ("label", self.labels_dir)):
            if not d.is_dir():
                raise FileNotFoundError(f"{what} folder not found: {d}")
        if self.images_dir.resolve() == self.labels_dir.resolve():
            raise ValueError(f"volumes and labels must be in different folders, both are {self.images_dir}")
        found = sorted((p for p in self.images_dir.iterdir() if p.is_file() and _volume_stem(p)),
                       key=lambda p: p.name)
        if not found:
            raise ValueError(f"no volume in {self.images_dir} (extensions {VOLUME_EXTENSIONS})")
        stems = [_volume_stem(p) for p in found]
        dup = sorted({s for s in stems if stems.count(s) > 1})
        if dup:
            raise ValueError(f"{self.images_dir}: several volumes share the stems {dup}")
        by_stem = dict(zip(stems, found))
        if names is not None:
            twice = sorted({n for n in names if list(names).count(n) > 1})
            if twice:
                raise ValueError(f"the list names these volumes more than once: {twice[:5]}")
            missing = [n for n in names if n not in by_stem]
            if missing:
                raise FileNotFoundError(f"{len(missing)} listed volume(s) not in {self.images_dir}, e.g. {missing[:3]}")
            stems = list(names)
        labels_by_stem: dict = {}
        for p in self.labels_dir.iterdir():
            if p.is_file() and _volume_stem(p):
                labels_by_stem.setdefault(_volume_stem(p), []).append(p)
        for stem in stems:
            cands = labels_by_stem.get(stem, [])
            if not cands:
                raise FileNotFoundError(f"no label volume for {by_stem[stem]}: looked for {self.labels_dir}/{stem}"
                                        f"{{{','.join(VOLUME_EXTENSIONS)}}}")
            if len(cands) > 1:
                raise ValueError(f"several label volumes for {by_stem[stem]}: "
                                 + ", ".join(str(c) for c in sorted(cands)) + "; keep one")
            self._items.append((stem, by_stem[stem], cands[0]))

    def __getitem__(self, index: int) -> Sample:
        from ..io import read_volume

        name, volume_path, label_path = self._item(index)
        volume, spacing = read_volume(volume_path, max_voxels=None)
        labels = _read_label_volume(label_path)
        if labels.shape != volume.shape[:3]:
            raise ValueError(f"label volume {label_path} has shape {labels.shape}, its volume {volume_path} "
                             f"{volume.shape[:3]}")
        if self.ignore_label is not None and not (labels != self.ignore_label).any():
            raise ValueError(f"label volume {label_path} is all {self.ignore_label} (the ignored label): nothing "
                             "to score; leave it out (--images-list)")
        if self.spacing is not None:
            spacing = self.spacing
        elif spacing is None:
            warnings.warn(f"{volume_path} records no voxel size: 1, 1, 1 is used (set it with spacing=, "
                          "--spacing dz,dy,dx)", stacklevel=2)
            spacing = (1.0, 1.0, 1.0)
        elif getattr(spacing, "note", ""):
            warnings.warn(f"{volume_path}: {spacing.note}", stacklevel=2)
        return Sample(name=name, image=volume, ground_truths=[labels],
                      path=volume_path, spacing=tuple(float(v) for v in spacing))

    def __repr__(self) -> str:
        return (f"VolumeFolderDataset(images={str(self.images_dir)!r}, labels={str(self.labels_dir)!r}, "
                f"n={len(self)}, spacing={self.spacing})")
