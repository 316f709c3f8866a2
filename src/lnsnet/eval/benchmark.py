"""Benchmark runner: every method at every K on every image of a dataset, scored and timed.

:func:`run_benchmark` writes, into one output folder,

``rows.csv``
    One row per (method, K asked, image): the K delivered, the time of the method call
    and every value of :func:`lnsnet.eval.metrics.score` (columns :data:`ROW_COLUMNS`).
    Rows are appended (written and flushed to disk) as soon as the image that produced
    them is done, so a crash loses at most the images in flight, and a rerun into the same
    folder skips the rows already there (resume).
``summary.csv`` and ``summary.md``
    Per (method, K): means over images of ASA, BR, BP, F (beta=4), F1 and UE (all with
    the best annotator, the LNS-Net paper's choice; ASA, BR and UE also with the mean
    over annotators), CO, EV, the number of disconnected
    labels and the K delivered; the median time per image; the number of images
    (:func:`summarize`, :func:`summary_markdown`). The disconnected labels are counted in
    the map as scored: each classic method's pieces are made labels of their own inside
    its call (:func:`lnsnet.eval.baselines.finalize_labels`), so its fragments show in the
    K delivered and its count is 0; LNS-Net's is 0 unless run with
    ``enforce_connectivity=False``.
``meta.json``
    Machine, versions, the LNS-Net model's sha256 and the settings (:func:`machine_info`).

Conventions
-----------
* Time is ``time.perf_counter()`` around the method call only (not reading the image,
  not scoring). Each worker makes one untimed warm-up call per method before its first
  timed call (``warmup=True``), so every time is a warm one; every worker uses one CPU
  thread (torch, the numba kernels and OpenCV), so methods are compared thread for thread.
* K delivered is the number of distinct labels of the label map returned.
* Work runs in ``workers`` processes started with the ``spawn`` method (``workers=0``
  runs in the calling process, handy for debugging). Scripts that call
  :func:`run_benchmark` with workers must guard their entry point with
  ``if __name__ == "__main__":``, as every ``spawn`` user must.

The command line ``lnsnet benchmark`` (:mod:`lnsnet.cli`) runs it, draws the plots of
:mod:`lnsnet.eval.plots` and prints the Markdown summary. The methods and the runner that
scores them on one image are in :mod:`lnsnet.eval.methods`.
"""

from __future__ import annotations

import csv
import inspect
import io
import json
import math
import os
import platform
import statistics
import sys
import time
import warnings
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from ..hub import model_record
from ..io import atomic_write
from ..runtime import ProcessLock
from .methods import (MethodRunner, check_custom, check_methods, describe_custom, display_name, lnsnet_boundaries,
                      lnsnet_clustering, volume_methods)
from .metrics import SCORE_KEYS

__all__ = [
    "run_benchmark",
    "summarize",
    "summary_markdown",
    "write_summary",
    "machine_info",
    "open_dataset",
    "ROW_COLUMNS",
    "SUMMARY_COLUMNS",
    "DEFAULT_METHODS",
    "DEFAULT_KS",
    "VOLUME_METHODS",
    "VOLUME_KS",
]

#: Columns of ``rows.csv``, in order.
ROW_COLUMNS = ("method", "k_asked", "image", "k_delivered", "time_s") + tuple(SCORE_KEYS)

#: Columns of ``summary.csv``: per (method, K asked), means over images except
#: ``time_s_median``, ``n_images`` and the ``*_std`` columns (the sample standard deviation
#: over images, ddof 1, of k delivered, ASA, BR, UE and CO: mean +- std, or the standard
#: error std / sqrt(n_images), for a paper's table). Metrics that depend on the annotator are
#: the best annotator's, but ``asa_mean``, ``br_mean``, ``ue_mean``: the mean over annotators.
SUMMARY_COLUMNS = (
    "method", "k_asked", "n_images", "k_delivered",
    "asa", "br", "bp", "f", "f1", "ue", "co", "ev", "n_disconnected", "time_s_median",
    "asa_mean", "br_mean", "ue_mean",
    "k_delivered_std", "asa_std", "br_std", "ue_std", "co_std",
)  # fmt: skip
#: the columns whose spread over images ``summary.csv`` gives as ``<column>_std``
_STD_COLUMNS = ("k_delivered", "asa", "br", "ue", "co")

#: summary column -> rows.csv column it averages.
_SUMMARY_SOURCES = {
    "k_delivered": "k_delivered",
    "asa": "asa_best",
    "br": "br_best",
    "bp": "bp_best",
    "f": "f_best",
    "f1": "f1_best",
    "ue": "ue_best",
    "co": "co",
    "ev": "ev",
    "n_disconnected": "n_disconnected",
    "asa_mean": "asa_mean",
    "br_mean": "br_mean",
    "ue_mean": "ue_mean",
}

#: The methods and K values of the paper's comparison (issue 3).
DEFAULT_METHODS = ("lnsnet", "slic", "slico", "lsc", "seeds", "snic")
DEFAULT_KS = (100, 200, 400, 600, 800, 1000)
#: On volumes (``volume=True``): lnsnet's 3-D clustering and scikit-image's 3-D slic, and the
#: K values of ``docs/volumes.md``.
VOLUME_METHODS = ("lnsnet", "slic")
VOLUME_KS = (100, 200, 500, 1000, 2000)

ROWS_FILE = "rows.csv"
SUMMARY_CSV = "summary.csv"
SUMMARY_MD = "summary.md"
META_FILE = "meta.json"


# ------------------------------------------------------------------------------ options


def _check_ks(ks) -> list[int]:
    if isinstance(ks, str):
        parts = [t.strip() for t in ks.split(",") if t.strip()]
        try:
            ks = [int(t) for t in parts]
        except ValueError:
            raise ValueError(
                f"K values must be comma-separated positive integers, got {ks!r}"
            ) from None
    elif isinstance(ks, (int, np.integer)):
        ks = [ks]
    out = []
    for k in ks:
        if isinstance(k, (bool, np.bool_)) or not isinstance(k, (int, np.integer)) or k < 1:
            raise ValueError(f"K values must be positive integers, got {k!r}")
        out.append(int(k))
    if not out:
        raise ValueError("ks is empty: give at least one K, e.g. 100,200,400")
    if len(set(out)) != len(out):
        raise ValueError(f"K values named more than once: {out}")
    return sorted(out)


def _check_count(value, name: str, minimum: int, allow_none: bool = False):
    if value is None and allow_none:
        return None
    if (isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer))
            or value < minimum):  # fmt: skip
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def open_dataset(dataset="bsds500", split: str = "test", root=None, images_list=None, ignore_label=None,
                 volume: bool = False, spacing=None):
    """The dataset to run on.

    Parameters
    ----------
    dataset : "bsds500", str or os.PathLike, or a dataset object
        ``"bsds500"``: :class:`~lnsnet.eval.datasets.BSDS500` at ``root`` (else
        ``$LNSNET_BSDS500``) and ``split``. A folder path: a
        :class:`~lnsnet.eval.datasets.FolderDataset` of ``<folder>/images`` with label maps
        in ``<folder>/labels`` (or binary masks in ``<folder>/masks``, turned into region
        maps). A sequence of :class:`~lnsnet.eval.datasets.Sample` is used as it is (it
        must be picklable when run with workers).
    split : {"train", "val", "test"}
        BSDS500 only.
    engine : {"local", "ray"}
        ``ray`` spreads the images over a Ray cluster (``address``; default the running
        Ray session or a new local one), ``workers`` actors of one CPU each (default one
        per cluster CPU); the rows and summary are the same as with the local engine.
    root : str or os.PathLike, optional
        BSDS500 only.
    images_list : str or os.PathLike, optional
        Folder datasets: a text file of image stems, one per line (a split, e.g. SBD's
        ``splits/stutz_test_477.txt``); only those images, in that order.
    ignore_label : int, optional
        Folder datasets: the label that means "unknown" in the label maps (SBD's 0),
        left out of the scores.
    volume : bool, default False
        The folder holds volumes: ``<folder>/images`` (or ``<folder>/volumes``) and
        ``<folder>/labels``, a :class:`~lnsnet.eval.datasets.VolumeFolderDataset`.
    spacing : sequence of 3 float, optional
        With ``volume``: the voxel size ``(z, y, x)`` of every volume, overriding the files'.

    Returns
    -------
    Sequence of Sample

    Raises
    ------
    ValueError, FileNotFoundError
        For an unknown dataset name or a folder without ``images/`` and ``labels/`` or
        ``masks/``; the message says what was looked for.
    """
    from .datasets import BSDS500, FolderDataset

    if spacing is not None and not volume:
        raise ValueError("spacing (--spacing) is the voxel size of volumes: pass volume=True (--volume)")
    if not isinstance(dataset, (str, os.PathLike)):
        if isinstance(dataset, Sequence):
            return dataset
        raise ValueError(
            f"dataset must be 'bsds500', a folder path or a sequence of samples, got "
            f"{type(dataset).__name__}"
        )
    if str(dataset).lower() == "bsds500":
        if images_list is not None or ignore_label is not None:
            raise ValueError("images_list and ignore_label (--images-list, --ignore-label) are for folder datasets; "
                             "BSDS500 takes split (--split)")
        return BSDS500(root=root, split=split)
    folder = Path(dataset).expanduser()
    if not folder.is_dir():
        raise FileNotFoundError(
            f"dataset {str(dataset)!r} is neither 'bsds500' nor an existing folder"
        )
    if volume:
        return _open_volumes(folder, split, images_list, ignore_label, spacing)
    images, labels, masks = folder / "images", folder / "labels", folder / "masks"
    if not images.is_dir():
        raise FileNotFoundError(
            f"dataset folder {folder} has no images/ subfolder (expected {images} with "
            f"{labels} or {masks})"
        )
    if labels.is_dir() and masks.is_dir():
        raise ValueError(
            f"dataset folder {folder} has both labels/ and masks/; keep one"
        )
    if split not in (None, "test"):
        raise ValueError(f"split {split!r} (--split) chooses a part of BSDS500; a folder dataset is used whole "
                         "(choose its images with --images-list)")
    names = None
    if images_list is not None:
        from .datasets import IMAGE_EXTENSIONS

        names = [line.strip() for line in Path(images_list).read_text().splitlines() if line.strip()]
        names = [Path(n).stem if Path(n).suffix.lower() in IMAGE_EXTENSIONS else n for n in names]
        if not names:
            raise ValueError(f"images list {images_list} names no image")
    if labels.is_dir():
        return FolderDataset(images, labels, kind="labels", names=names, ignore_label=ignore_label)
    if masks.is_dir():
        if ignore_label is not None:
            raise ValueError(f"ignore_label (--ignore-label) is for label maps; {masks} holds binary masks")
        return FolderDataset(images, masks, kind="masks", names=names, ignore_label=ignore_label)
    raise FileNotFoundError(
        f"dataset folder {folder} has no labels/ (label maps) or masks/ (binary masks) "
        "subfolder"
    )


def _open_volumes(folder: Path, split, images_list, ignore_label, spacing):
    from .datasets import VolumeFolderDataset, _volume_stem

    if split not in (None, "test"):
        raise ValueError(f"split {split!r} (--split) chooses a part of BSDS500; a folder of volumes is used whole "
                         "(choose its volumes with --images-list)")
    found = [folder / d for d in ("images", "volumes") if (folder / d).is_dir()]
    if len(found) != 1 or not (folder / "labels").is_dir():
        raise FileNotFoundError(f"a dataset of volumes is a folder with images/ (or volumes/) and labels/ (label "
                                f"volumes of the same stems); {folder} has "
                                + (", ".join(p.name + "/" for p in sorted(folder.iterdir()) if p.is_dir()) or
                                   "no subfolder"))
    names = None
    if images_list is not None:
        names = [line.strip() for line in Path(images_list).read_text().splitlines() if line.strip()]
        names = [_volume_stem(Path(n)) or n for n in names]
        if not names:
            raise ValueError(f"images list {images_list} names no volume")
    return VolumeFolderDataset(found[0], folder / "labels", names=names, ignore_label=ignore_label, spacing=spacing)


def _voxel_sizes(ds) -> dict:
    """Each volume's voxel size ``[dz, dy, dx]`` as its file records it (and its unit, if
    any), None where it records none (scored with 1, 1, 1)."""
    from ..io import unit_name, volume_voxel_size

    out = {}
    for name, path, _ in ds._items:
        size = volume_voxel_size(path)  # the header, read once
        unit = unit_name(size)
        out[name] = None if size is None else [float(v) for v in size] + ([unit] if unit else [])
    return out


def _describe_dataset(dataset, ds, split: str) -> dict:
    if isinstance(dataset, (str, os.PathLike)) and str(dataset).lower() == "bsds500":
        return {"name": "bsds500", "split": split}
    if isinstance(dataset, (str, os.PathLike)) and getattr(ds, "volume", False):
        return {
            "name": "volume folder",
            "root": str(Path(dataset).expanduser().resolve()),
            "n_volumes": len(ds),
            "ignore_label": ds.ignore_label,
            "spacing": list(ds.spacing) if ds.spacing is not None else "from the files",
            **({} if ds.spacing is not None else {"voxel_sizes": _voxel_sizes(ds)}),
        }
    if isinstance(dataset, (str, os.PathLike)):
        return {
            "name": "folder",
            "root": str(Path(dataset).expanduser().resolve()),
            "kind": getattr(ds, "kind", None),
            "n_images": len(ds),
            "ignore_label": getattr(ds, "ignore_label", None),
        }
    return {"name": type(ds).__name__, "repr": repr(ds)}


# ---------------------------------------------------------------------------- rows file


def _read_rows(path: Path) -> list[dict]:
    """The complete rows of ``rows.csv`` (values as strings); a torn last line is dropped
    and cut off the file so that appending starts on a fresh line."""
    if not path.is_file():
        return []
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        cut = data.rfind(b"\n") + 1
        with open(path, "r+b") as fh:
            fh.truncate(cut)
        data = data[:cut]
    if not data.strip():
        return []
    reader = csv.DictReader(io.StringIO(data.decode("utf-8"), newline=""))
    header = tuple(reader.fieldnames or ())
    if header != ROW_COLUMNS:
        raise ValueError(
            f"{path} has columns {list(header)}, expected {list(ROW_COLUMNS)}; it was "
            "written by another version: choose another output folder"
        )
    rows = []
    for row in reader:
        if None in row or any(row.get(c) in (None, "") for c in ROW_COLUMNS):
            continue  # incomplete line
        rows.append(row)
    return rows


def _row_key(row: dict) -> tuple[str, int, str]:
    return (str(row["method"]), int(row["k_asked"]), str(row["image"]))


class _RowWriter:
    """Appends rows to ``rows.csv``, flushed and synced after each batch."""

    def __init__(self, path: Path) -> None:
        new = not path.is_file() or path.stat().st_size == 0
        self._fh = open(path, "a", newline="", encoding="utf-8")
        self._writer = csv.DictWriter(self._fh, fieldnames=ROW_COLUMNS)
        if new:
            self._writer.writeheader()
            self._sync()

    def write(self, rows: list[dict]) -> None:
        self._writer.writerows(rows)
        self._sync()

    def _sync(self) -> None:
        self._fh.flush()
        try:
            os.fsync(self._fh.fileno())
        except OSError:  # pragma: no cover - e.g. some network file systems
            pass

    def close(self) -> None:
        self._fh.close()


# ------------------------------------------------------------------------------- worker

# The runner of a worker process of the local engine's pool (set by its initializer).
_RUNNER: MethodRunner | None = None


def _start_worker(ds, methods: list[str], model, r: int, warmup: bool, custom=None, formatwarning=None) -> None:
    """Initializer of a pool worker: one CPU thread, the methods set up once, warnings
    printed as the parent prints them (the command line's one line)."""
    global _RUNNER
    from ..runtime import set_threads

    if formatwarning is not None:
        warnings.formatwarning = formatwarning
    set_threads(1)
    _RUNNER = MethodRunner(ds, methods, model, r, warmup, custom)


def _run_in_worker(index: int, todo: list[tuple[str, int]]) -> list[dict]:
    return _RUNNER.run(index, todo)


# -------------------------------------------------------------------------------- meta


def _cpu_model() -> str | None:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.lower().startswith(("model name", "hardware", "cpu model")):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def _version(dist: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def machine_info() -> dict:
    """Machine and library versions: platform, CPU count and model, Python, torch, numpy,
    scipy, OpenCV, scikit-image, pysnic, fast_slic, matplotlib, lnsnet."""
    import torch

    import lnsnet

    try:
        import cv2

        cv_version = cv2.__version__
    except ImportError:  # pragma: no cover
        cv_version = None
    return {
        "machine": {
            "platform": platform.platform(),
            "machine": platform.machine(),
            "cpu_count": os.cpu_count(),
            "cpu_model": _cpu_model(),
            "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        },
        "versions": {
            "python": platform.python_version(),
            "lnsnet": lnsnet.__version__,
            "torch": torch.__version__,
            "numpy": np.__version__,
            "scipy": _version("scipy"),
            "opencv": cv_version,
            "scikit-image": _version("scikit-image"),
            "pysnic": _version("pysnic"),
            "fast_slic": _version("fast_slic") or _version("fast-slic"),
            "matplotlib": _version("matplotlib"),
        },
    }


def _previous_runs(path: Path) -> list[dict]:
    """The earlier runs into the same folder, as recorded in its ``meta.json`` (date,
    versions, methods, K values, rows computed), oldest first."""
    if not path.is_file():
        return []
    try:
        old = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    runs = list(old.get("previous_runs") or [])
    settings = old.get("settings") or {}
    runs.append({
        "date": old.get("date"),
        "versions": old.get("versions"),
        "methods": settings.get("methods"),
        "ks": settings.get("ks"),
        "limit": settings.get("limit"),
        "workers": settings.get("workers"),
        "rows_computed": old.get("rows_computed"),
    })
    return runs


def _uses_model(method: str) -> bool:
    """Whether a method's rows depend on the run's LNS-Net model (``-m``): ``lnsnet`` with
    clustering options, not ``lnsnet:model=...`` (its own) nor ``lnsnet:boundaries=...``
    (no network)."""
    head, _, rest = method.partition(":")
    return head == "lnsnet" and not any(p.startswith(("model=", "boundaries=")) for p in rest.split(":") if p)


def _resume_keys(methods) -> tuple:
    """The settings the rows of ``methods`` (those kept in a folder) depend on beside the
    dataset, the radius and the kind: the model for rows made with ``-m``, the clustering's
    version for lnsnet's rows, the flood's for its rows."""
    lns = [m for m in methods if m.partition(":")[0] == "lnsnet"]
    flood = [m for m in lns if lnsnet_boundaries(m) is not None]
    return (("model",) if any(_uses_model(m) for m in lns) else ()) \
        + (("clustering_version", "volume_clustering_version") if len(flood) < len(lns) else ()) \
        + (("boundaries_version",) if flood else ())


def _same_dataset(a, b) -> bool:
    """Two datasets' records alike but for their size (images added to a folder, a longer
    --images-list: the rows made before stand)."""
    if isinstance(a, dict) and isinstance(b, dict):
        drop = ("n_images", "n_volumes", "voxel_sizes")
        if {k: v for k, v in a.items() if k not in drop} != {k: v for k, v in b.items() if k not in drop}:
            return False
        va, vb = a.get("voxel_sizes") or {}, b.get("voxel_sizes") or {}  # per volume: the shared ones agree
        return all(va[n] == vb[n] for n in set(va) & set(vb))
    return a == b


def _check_resume_settings(path: Path, settings: dict, kept_methods=()):
    """Refuse to add rows to a folder whose rows (those of ``kept_methods`` it keeps) were
    made with another dataset, radius, LNS-Net model or version of lnsnet's clustering
    (:func:`_resume_keys`); return the model record to keep (this run's, else the folder's)."""
    old = {}
    if path.is_file():
        try:
            old = json.loads(path.read_text(encoding="utf-8")).get("settings", {}) or {}
        except (OSError, ValueError):
            old = {}
    keys = ("dataset", "r", "volume") + _resume_keys(kept_methods)
    for key in keys:
        if old.get(key) is None or settings.get(key) is None:
            continue
        if (not _same_dataset(old[key], settings[key])) if key == "dataset" else old[key] != settings[key]:
            raise ValueError(
                f"{path.parent} holds rows made with {key}={old[key]!r}, this run has "
                f"{key}={settings[key]!r}; use another output folder"
            )
    return settings.get("model") or old.get("model")


# -------------------------------------------------------------------------------- main

LOCK_FILE = ".lock"


def run_benchmark(*args, **kwargs) -> list[dict]:
    bound = inspect.signature(_run_benchmark).bind(*args, **kwargs)
    bound.apply_defaults()
    out = Path(bound.arguments["out_dir"]).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    with ProcessLock(out / LOCK_FILE, f"{out} is being written by another run"):
        return _run_benchmark(*bound.args, **bound.kwargs)


def _run_benchmark(
    dataset="bsds500",
    split: str = "test",
    methods=None,
    ks=None,
    out_dir="benchmark",
    root=None,
    workers: int = 2,
    limit: int | None = None,
    progress: bool = True,
    r: int = 1,
    *,
    model=None,
    warmup: bool = True,
    engine: str = "local",
    address: str | None = None,
    redo=None,
    images_list=None,
    ignore_label: int | None = None,
    volume: bool = False,
    spacing=None,
    custom: dict | None = None,
) -> list[dict]:
    """Run, score and time every method at every K on every image; write the reports.
    One run at a time writes to an output folder: ``.lock`` in it holds the process id, and
    a second run into it is refused while the first lives (the summary also counts each
    image once, should rows of one image come twice).

    Parameters
    ----------
    dataset : "bsds500", folder path, or sequence of Sample
        See :func:`open_dataset`.
    split : {"train", "val", "test"}, default "test"
        BSDS500 split.
    methods : sequence of str or comma-separated str, optional
        Default :data:`DEFAULT_METHODS` (volumes: :data:`VOLUME_METHODS`).
        ``"lnsnet"`` and any of :data:`lnsnet.eval.baselines.BASELINES` (names
        case-insensitive), each optionally with options after colons
        (``lnsnet:clustering=paper``, ``lnsnet:model=none``, ``slic:compactness=20``); see
        :mod:`lnsnet.eval.methods`. Two spellings of one setting are refused.
    ks : sequence of int or comma-separated str, optional
        The numbers of superpixels asked for; default :data:`DEFAULT_KS` (volumes:
        :data:`VOLUME_KS`).
    out_dir : str or os.PathLike
        Output folder (created): ``rows.csv``, ``summary.csv``, ``summary.md``,
        ``meta.json``. Rows already in ``rows.csv`` are not computed again. The summary
        files cover this run's methods and ``ks``, and every other method and K of
        ``rows.csv`` that has rows for all of this run's images, so a run that adds a
        method keeps the others in the summary; the return value covers this run's
        methods and ``ks`` only.
    root : str or os.PathLike, optional
        BSDS500 folder; default ``$LNSNET_BSDS500``.
    images_list, ignore_label : optional
        Folder datasets: a split (a file of image stems) and the label meaning "unknown";
        see :func:`open_dataset`.
    workers : int, default 2
        Worker processes (``spawn``), each with one CPU thread. ``0`` runs in this
        process (one thread during the run).
    limit : int, optional
        Use only the first ``limit`` images.
    progress : bool, default True
        Show a tqdm progress bar (one step per row).
    r : int, default 1
        Boundary tolerance radius of BR/BP/F.
    model : str or os.PathLike, optional
        LNS-Net model for ``"lnsnet"``: shipped name or file; default the shipped
        ``"bsds500"``. Loaded once per worker.
    warmup : bool, default True
        Make one untimed call per method in each worker before timing it.
    volume, spacing : optional
        ``volume=True``: ``dataset`` is a folder of volumes and label volumes (see
        :func:`open_dataset`); each is scored in 3-D (:func:`lnsnet.eval.volumes.score_volume`:
        ASA, UE, BR and BP on the label surfaces within the ``(2r+1)^3`` cube, CO in
        physical units; one annotation, so ``*_mean`` equals ``*_best``) with the methods
        of :func:`lnsnet.eval.methods.volume_methods`, each given the volume's voxel size
        (``spacing``, else the file's). ``model`` is then a 3-D model file (``lnsnet train
        --volume``) or None (the clustering on the input).
    custom : dict, optional
        Methods of your own, scored beside ``methods``: ``{name: fn}`` with ``fn(image, k)
        -> labels`` (on volumes ``fn(volume, k, spacing=...)``), timed as the others
        (defined at the top level of a module or script when run in workers), or ``{name:
        folder}``: label maps made elsewhere, ``folder/<K>/<stem>.{npy,png,tif,csv,...}``
        (:class:`~lnsnet.eval.methods.Precomputed`; time not measured). On images each
        4-connected piece of a label becomes a label of its own, as for the classic
        methods. Rows carry ``name``; a function or folder changed under the same name
        needs ``redo`` (a run that gives a name another function or folder than its rows
        were made with is refused). Without ``methods`` they are scored alone.
    redo : sequence of str or comma-separated str, optional
        Methods whose rows already in ``out_dir`` are deleted first and computed again,
        e.g. ``"lnsnet"`` after the model changed (once no LNS-Net row is left, a
        different ``model`` is accepted); the other methods' rows are kept. Each must be
        one of ``methods``, spelled the same (``lnsnet`` is not ``lnsnet:clustering=paper``).

    Returns
    -------
    list of dict
        The summary rows (:data:`SUMMARY_COLUMNS`) of the requested methods, K values and
        images, also written to ``summary.csv`` and ``summary.md``.

    Raises
    ------
    ValueError
        For bad options (the message says what is allowed), or when ``out_dir`` holds
        rows made with another dataset, radius or model.
    FileNotFoundError
        When the dataset cannot be found.
    RuntimeError
        When a method fails on an image (the message names method, K and image); the
        rows finished before it are kept.

    Examples
    --------
    >>> run_benchmark("bsds500", methods="lnsnet,slic", ks=[100, 200],
    ...               out_dir="bench", limit=10)  # doctest: +SKIP
    """
    volume = bool(volume)
    if volume and isinstance(model, str) and model == "none":
        model = None
    if volume and model is not None:  # checked here, not in each worker
        from ..volume_model import load_volume_model

        if not Path(model).is_file():
            raise ValueError(f"model {str(model)!r}: on volumes the model is a 3-D model file (lnsnet train "
                             "--volume), or none (the clustering on the input)")
        try:
            load_volume_model(model)
        except Exception as exc:  # noqa: BLE001 - any failure to load is the file's
            raise ValueError(f"model {str(model)!r} is not a 3-D model (lnsnet train --volume): {exc}") from None

    def check(names):
        return volume_methods(names, has_model=model is not None) if volume else check_methods(names)

    if custom and (methods is None or (not isinstance(methods, str) and len(methods) == 0)):
        methods = []  # your methods alone (name others in methods to compare)
    else:
        methods = check((VOLUME_METHODS if volume else DEFAULT_METHODS) if methods is None else methods)
    if engine not in ("local", "ray"):
        raise ValueError(f"unknown engine {engine!r}; allowed: 'local', 'ray'")
    workers = _check_count(workers, "workers", 0, allow_none=engine == "ray")
    custom = check_custom(custom, methods, picklable=engine == "ray" or workers > 0)
    methods = methods + list(custom)
    ks = _check_ks((VOLUME_KS if volume else DEFAULT_KS) if ks is None else ks)
    redo = [str(m).strip() for m in (redo.split(",") if isinstance(redo, str) else (redo or [])) if str(m).strip()]
    yours = {m.lower(): m for m in custom}
    theirs = [m for m in redo if m.lower() not in yours]
    redo = [yours[m.lower()] for m in redo if m.lower() in yours] + (check(theirs) if theirs else [])
    missing = [m for m in redo if m not in methods]
    if missing:  # its rows would be deleted and not computed again
        raise ValueError(f"redo names {', '.join(map(repr, missing))}, which is not among the methods of this run "
                         f"({', '.join(methods)}): its rows would be deleted and not made again; add it to methods")
    if engine == "ray":
        from ..distributed import require_ray

        require_ray()
    limit = _check_count(limit, "limit", 1, allow_none=True)
    if isinstance(r, (bool, np.bool_)) or not isinstance(r, (int, np.integer)) or r < 0:
        raise ValueError(f"tolerance radius r must be an integer >= 0, got {r!r}")
    r = int(r)
    ds = open_dataset(dataset, split=split, root=root, images_list=images_list, ignore_label=ignore_label,
                      volume=volume, spacing=spacing)
    n_images = len(ds) if limit is None else min(limit, len(ds))
    if n_images == 0:
        raise ValueError("the dataset holds no image")
    if hasattr(ds, "names"):
        names = list(ds.names[:n_images])
    else:
        names = [ds[i].name for i in range(n_images)]
    from .datasets import FolderDataset

    if isinstance(ds, FolderDataset):  # every image and label map read once: a bad one stops the run now
        ds.check(n_images)

    from .methods import Precomputed

    for cname, fn in custom.items():  # every file there before any work (a long run does not stop on a missing one)
        if isinstance(fn, Precomputed):
            for k in ks:
                for name in names:
                    fn.path(name, k)
    out = Path(out_dir).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    rows_path, meta_path = out / ROWS_FILE, out / META_FILE
    settings = {
        "dataset": _describe_dataset(dataset, ds, split),
        "split": split,
        "methods": methods,
        "ks": ks,
        "r": r,
        "beta": 4.0,
        "annotator": "best (means of the per-image best annotator; asa_mean, br_mean, ue_mean "
                     "and rows.csv's *_mean: the per-image mean over annotators)",
        "workers": workers,
        "engine": engine,
        "limit": limit,
        "n_images": n_images,
        "warmup": warmup,
        "threads_per_worker": 1,
        "timing": "time.perf_counter() around the method call only",
        "model": _model_setting(model, [m for m in methods if m not in custom], volume),
    }
    if custom:
        settings["custom"] = describe_custom(custom)
    if volume:
        from ..volume import CLUSTERING_VERSION as VOLUME_VERSION

        settings["volume"] = True
        settings["annotator"] = "one label volume per volume (asa_mean, br_mean, ue_mean equal asa, br, ue)"
        settings["volume_clustering_version"] = VOLUME_VERSION
    if any(lnsnet_boundaries(m) is not None for m in methods):  # rows of another version of the flood not mixed in
        from ..flood import VERSION

        settings["boundaries_version"] = VERSION
    if settings["model"] is not None and not volume:  # rows of another version of lnsnet's clustering are not mixed in
        from ..cluster import CLUSTERING_VERSION

        settings["clustering_version"] = CLUSTERING_VERSION
    if isinstance(dataset, (str, os.PathLike)) and str(dataset).lower() == "bsds500":
        settings["dataset_root"] = str(ds.root)
    existing = _read_rows(rows_path)
    try:  # the custom methods of earlier runs into this folder
        before = (json.loads(meta_path.read_text(encoding="utf-8")).get("settings") or {}).get("custom") or {}
    except (OSError, ValueError, AttributeError):
        before = {}
    redone = set(redo)
    left = {row["method"] for row in existing  # what the redo below leaves (checked before it deletes anything)
            if not (row["method"] in redone and int(row["k_asked"]) in ks and row["image"] in set(names))}
    for cname, what in settings.get("custom", {}).items():
        if cname in before and before[cname] != what and cname in left:  # another function or folder
            raise ValueError(f"{out} holds rows of {cname!r} made with {before[cname]}; this run gives it {what}: "
                             f"recompute all of them with redo (--redo {cname}, over every image and K they cover) or "
                             "choose another name")
        other = sorted(m for m in left if m.lower() == cname.lower() and m != cname)
        if other:  # names are compared without case
            raise ValueError(f"{out} holds rows of {other[0]!r}; name this method {other[0]!r} too, or another name")
    # the settings checked against the rows the redo leaves, before it deletes anything (a refused
    # run changes nothing); a folder without rows (a first run that failed before any) takes any
    if left:
        settings["model"] = _check_resume_settings(meta_path, settings, left)
    if redo:
        unmatched = sorted(set(redo) - {row["method"] for row in existing})
        if unmatched and existing:  # a name spelled otherwise than its rows' (lnsnet vs lnsnet:clustering=...)
            held = sorted({row["method"] for row in existing})
            warnings.warn(f"redo: no rows of {', '.join(map(repr, unmatched))} in {out} (its methods: "
                          f"{', '.join(held)}); nothing of it was deleted", stacklevel=2)
        existing = _drop_rows(rows_path, existing, set(redo), set(ks), set(names))
    held = {row["method"] for row in existing}
    if before or custom:  # kept for the rows still in the folder
        settings["custom"] = {**{n: w for n, w in before.items() if n in held}, **settings.get("custom", {})}
    files, old_files = _file_signatures(ds), _old_files(meta_path)  # kept in meta.json, not settings
    changed = {name for name, sig in files.items() if name in old_files and list(old_files[name]) != list(sig)}
    if changed and existing:  # an image or its labels edited since the rows were made: made again
        keep = [row for row in existing if row["image"] not in changed]
        if len(keep) != len(existing):
            warnings.warn(f"{len(changed)} image(s) or their labels changed since the last run in {out} (e.g. "
                          f"{sorted(changed)[0]}): their rows are computed again", stacklevel=2)
            _write_rows(rows_path, keep)
            existing = keep
    started = time.time()
    meta = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        **machine_info(),
        "settings": settings,
        "command": sys.argv if sys.argv and sys.argv[0] else None,
        "previous_runs": _previous_runs(meta_path),
        "files": {**old_files, **files},
    }
    atomic_write(meta_path, json.dumps(meta, indent=2) + "\n")

    done = {_row_key(row) for row in existing}
    tasks = []  # (image index, [(method, k), ...])
    for i, name in enumerate(names):
        todo = [(m, k) for m in methods for k in ks if (m, k, name) not in done]
        if todo:
            tasks.append((i, todo))
    n_todo = sum(len(t) for _, t in tasks)
    if tasks:
        _run_tasks(ds, tasks, n_todo, rows_path, methods, model, r, workers, warmup,
                   progress, engine, address, custom)  # fmt: skip
        existing = _read_rows(rows_path)

    wanted_names = set(names)
    selected = [
        row for row in existing
        if row["method"] in methods and int(row["k_asked"]) in ks
        and row["image"] in wanted_names
    ]  # fmt: skip
    summary = summarize(selected, methods=methods)
    # the folder's files: this run's methods, and every other (method, K) of rows.csv that
    # covers all of this run's images (so every mean in the files is over the same images)
    seen: dict = {}
    for row in existing:
        if row["image"] in wanted_names and not (row["method"] in methods and int(row["k_asked"]) in ks):
            seen.setdefault((row["method"], int(row["k_asked"])), set()).add(row["image"])
    others = {key for key, imgs in seen.items() if imgs == wanted_names}
    in_files = selected + [row for row in existing if (row["method"], int(row["k_asked"])) in others
                           and row["image"] in wanted_names]
    write_summary(summarize(in_files, methods=methods), out, volume)
    meta["finished"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    meta["elapsed_s"] = round(time.time() - started, 3)
    meta["rows_computed"] = n_todo
    meta["rows_total"] = len(selected)
    meta["rows_in_summary"] = len(in_files)
    atomic_write(meta_path, json.dumps(meta, indent=2) + "\n")
    return summary


run_benchmark.__doc__ = _run_benchmark.__doc__
run_benchmark.__signature__ = inspect.signature(_run_benchmark)


def _model_setting(model, methods: list[str], volume: bool):
    """The model record of the run's settings: the 2-D model when an LNS-Net method uses
    it; on volumes the 3-D model file, or None."""
    if volume:
        if not any(m.partition(":")[0] == "lnsnet" and lnsnet_boundaries(m) is None and "model=none" not in m
                   for m in methods):
            return None
        if model is None:  # said, so that rows with and without a model are not mixed in one folder
            return {"name": "none", "sha256": None, "kind": "3-D", "what": "the 3-D clustering on the input"}
        from ..checkpoint import sha256

        return {"name": str(Path(model).resolve()), "sha256": sha256(Path(model)), "kind": "3-D"}
    if any(lnsnet_clustering(m) is not None and lnsnet_boundaries(m) is None for m in methods):
        return model_record(model)
    if model is not None:  # a misspelt -m would otherwise go unseen
        raise ValueError(f"model {str(model)!r}: no method of this run uses a model (the lnsnet methods do, not "
                         "lnsnet:boundaries= nor the classic ones); leave it out, or add lnsnet to the methods")
    return None


def _drop_rows(rows_path: Path, rows: list[dict], methods: set[str], ks: set[int] | None = None,
               images: set[str] | None = None) -> list[dict]:
    """Rewrite ``rows.csv`` (atomically) without the rows of ``methods`` (at ``ks`` on
    ``images``: the rows this run makes again; None: all); return the rest."""
    keep = [row for row in rows if not (row["method"] in methods and (ks is None or int(row["k_asked"]) in ks)
                                        and (images is None or row["image"] in images))]
    if len(keep) != len(rows):
        _write_rows(rows_path, keep)
    return keep


def _write_rows(rows_path: Path, rows: list[dict]) -> None:
    buf = io.StringIO(newline="")
    writer = csv.DictWriter(buf, fieldnames=ROW_COLUMNS)
    writer.writeheader()
    writer.writerows(rows)
    atomic_write(rows_path, buf.getvalue())


def _file_signatures(ds) -> dict:
    """``{image name: [image file's digest, label file's digest]}`` (BLAKE2b of the
    contents, so a copied dataset is the same one) of a dataset read from files (empty for
    a sequence of samples)."""
    import hashlib

    out = {}
    for item in getattr(ds, "_items", ()):
        name, *paths = item
        try:
            out[name] = [hashlib.blake2b(Path(p).read_bytes(), digest_size=12).hexdigest() for p in paths]
        except OSError:
            continue
    return out


def _old_files(meta_path: Path) -> dict:
    """The file digests the last run in the folder recorded in its meta.json (none: {})."""
    try:
        old = json.loads(meta_path.read_text()).get("files")
    except (OSError, ValueError, AttributeError):
        return {}
    return old if isinstance(old, dict) else {}


def _run_tasks(ds, tasks, n_todo, rows_path, methods, model, r, workers, warmup,
               progress, engine="local", address=None, custom=None) -> None:  # fmt: skip
    from tqdm.auto import tqdm

    used = sorted({m for _, todo in tasks for m, _ in todo}, key=methods.index)
    writer = _RowWriter(rows_path)
    bar = tqdm(total=n_todo, unit="row", desc="benchmark", dynamic_ncols=True,
               disable=not progress)  # fmt: skip
    try:
        if engine == "ray":
            from ..distributed import ray_benchmark_tasks

            def on_rows(rows):
                writer.write(rows)
                bar.update(len(rows))

            ray_benchmark_tasks(ds, tasks, used, model, r, warmup, on_rows, address=address,
                                workers=workers or None, custom=custom)
            return
        if workers == 0:
            from ..runtime import restore_threads, set_threads

            before = set_threads(1)
            try:
                runner = MethodRunner(ds, used, model, r, warmup, custom)
                for index, todo in tasks:
                    rows = runner.run(index, todo)
                    writer.write(rows)
                    bar.update(len(rows))
            finally:
                restore_threads(before)
            return
        import multiprocessing as mp
        from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

        ctx = mp.get_context("spawn")
        with ProcessPoolExecutor(
            max_workers=min(workers, len(tasks)),
            mp_context=ctx,
            initializer=_start_worker,
            initargs=(ds, used, model, r, warmup, custom, warnings.formatwarning),
        ) as pool:
            pending = {pool.submit(_run_in_worker, index, todo) for index, todo in tasks}
            try:
                while pending:
                    finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for fut in finished:
                        rows = fut.result()
                        writer.write(rows)
                        bar.update(len(rows))
            except BaseException:
                for fut in pending:
                    fut.cancel()
                raise
    finally:
        bar.close()
        writer.close()


# ----------------------------------------------------------------------------- summary


def _float(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def summarize(rows, methods=None) -> list[dict]:
    """Per (method, K asked): means over images, median time, number of images.

    Parameters
    ----------
    rows : iterable of dict
        Rows with the columns :data:`ROW_COLUMNS` (values may be strings, as read from
        ``rows.csv``).
    methods : sequence of str, optional
        Order of the methods in the result; default: order of first appearance.

    Returns
    -------
    list of dict
        Keys :data:`SUMMARY_COLUMNS`; ``asa, br, bp, f, f1, ue`` are means of the
        per-image best annotator; ``ev`` is NaN when no row has it; sorted by method,
        then K.
    """
    groups: dict[tuple[str, int], dict[str, dict]] = {}
    order: list[str] = list(methods) if methods is not None else []
    for row in rows:
        key = (str(row["method"]), int(row["k_asked"]))
        groups.setdefault(key, {})[str(row["image"])] = row  # one row an image (the last: no double count)
        if key[0] not in order:
            order.append(key[0])
    groups = {key: list(by_image.values()) for key, by_image in groups.items()}
    out = []
    for key in sorted(groups, key=lambda mk: (order.index(mk[0]), mk[1])):
        # image order fixed, so the means do not depend on the order rows arrived in
        group = sorted(groups[key], key=lambda row: str(row["image"]))
        entry = {"method": key[0], "k_asked": key[1], "n_images": len(group)}
        for col, src in _SUMMARY_SOURCES.items():
            vals = np.array([_float(row[src]) for row in group], dtype=float)
            ok = vals[~np.isnan(vals)]
            entry[col] = float(ok.mean()) if ok.size else math.nan
            if col in _STD_COLUMNS:
                entry[f"{col}_std"] = float(ok.std(ddof=1)) if ok.size > 1 else math.nan
        entry["time_s_median"] = float(statistics.median(_float(row["time_s"]) for row in group))
        out.append({c: entry[c] for c in SUMMARY_COLUMNS})
    return out


def _fmt(value, digits: int) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.{digits}f}"


def summary_markdown(summary: list[dict], volume: bool = False) -> str:
    """The summary as one Markdown table (ASA, BR, BP, F, F1, UE: best annotator, means
    over images; the last three columns: ASA, BR, UE with the mean over annotators; time:
    median per image); ``volume``: the note below it says how volumes were scored."""
    # a volume has one label volume: its mean-annotator columns repeat ASA, BR, UE (left out)
    header = ("| Method | K | K delivered | ASA | BR | BP | F (β=4) | F1 | UE | CO | EV | Time (ms) | "
              + ("Volumes |" if volume else "Images | ASA (mean ann.) | BR (mean ann.) | UE (mean ann.) |")
              + " as --methods |")
    lines = [header, "|" + "|".join(["---"] + ["---:"] * (12 if volume else 15) + ["---"]) + "|"]
    for s in summary:
        cells = [
            display_name(s["method"]), str(s["k_asked"]), _fmt(s["k_delivered"], 1),
            _fmt(s["asa"], 4), _fmt(s["br"], 4), _fmt(s["bp"], 4), _fmt(s["f"], 4),
            _fmt(s["f1"], 4), _fmt(s["ue"], 4), _fmt(s["co"], 4), _fmt(s["ev"], 4),
            _fmt(s["time_s_median"] * 1000.0, 1), str(s["n_images"]),
        ] + ([] if volume else [_fmt(s["asa_mean"], 4), _fmt(s["br_mean"], 4), _fmt(s["ue_mean"], 4)])  # fmt: skip
        cells.append(f"`{s['method']}`")
        lines.append("| " + " | ".join(cells) + " |")
    if volume:
        lines += ["", "Means over volumes, each scored in 3-D against its one label volume (so the mean-annotator "
                      "columns repeat ASA, BR and UE). A boundary voxel is the voxel before a label change along z, "
                      "y or x, matched within the (2r+1)^3 cube (r in meta.json); CO is the 3-D compactness "
                      "36 pi V^2 / A^3 in physical units (a cube 0.52); each method was given the volume's voxel "
                      "size. Rows share a K asked, not a k delivered: compare methods at the k they deliver (the "
                      "plots do). Time: one warm call per volume, one thread, the median over volumes "
                      "(docs/volumes.md); '-': not measured (--precomputed)."]
        return "\n".join(lines) + "\n"
    lines += ["", "Means over images. ASA, BR, BP, F, F1, UE: each image's best annotator, each metric on its "
                  "own (BR and BP may come from different annotators, so F is not F of the BR and BP shown); "
                  "the last three columns: the mean over annotators. A boundary pixel is the pixel before a "
                  "label change (right or below), within the tolerance r (meta.json); Stutz et al.'s tool marks "
                  "both sides, which gives a higher BR. Rows share a K asked, not a k delivered: compare methods "
                  "at the k they deliver (the plots do); summary.csv also holds the standard deviations over "
                  "images (*_std). Time: one warm call per image, the median over images, as the "
                  "run's workers shared the machine (meta.json); benchmarks/speed.py times methods in turns. '-': no "
                  "value (the time of label maps made elsewhere, --precomputed, is not measured)."]
    return "\n".join(lines) + "\n"


def write_summary(summary: list[dict], out: Path, volume: bool = False) -> None:
    buf = io.StringIO(newline="")
    writer = csv.DictWriter(buf, fieldnames=SUMMARY_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(summary)
    atomic_write(out / SUMMARY_CSV, buf.getvalue())
    atomic_write(out / SUMMARY_MD, summary_markdown(summary, volume))
