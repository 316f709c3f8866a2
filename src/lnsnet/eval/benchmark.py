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
    the best annotator, the LNS-Net paper's choice), CO, EV, the number of disconnected
    labels and the K delivered; the median time per image; the number of images
    (:func:`summarize`, :func:`summary_markdown`).
``meta.json``
    Machine, versions, the LNS-Net model's sha256 and the settings (:func:`machine_info`).

Conventions
-----------
* Time is ``time.perf_counter()`` around the method call only (not reading the image,
  not scoring). Each worker makes one untimed warm-up call per method before its first
  timed call (``warmup=True``), so every time is a warm one; every worker uses one CPU
  thread (torch and OpenCV), so methods are compared thread for thread.
* K delivered is the number of distinct labels of the label map returned.
* Work runs in ``workers`` processes started with the ``spawn`` method (``workers=0``
  runs in the calling process, handy for debugging). Scripts that call
  :func:`run_benchmark` with workers must guard their entry point with
  ``if __name__ == "__main__":``, as every ``spawn`` user must.

The command line ``lnsnet benchmark`` (:func:`add_parser`) runs it, draws the plots of
:mod:`lnsnet.eval.plots` and prints the Markdown summary.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from .metrics import SCORE_KEYS

__all__ = [
    "run_benchmark",
    "summarize",
    "summary_markdown",
    "machine_info",
    "known_methods",
    "open_dataset",
    "add_parser",
    "ROW_COLUMNS",
    "SUMMARY_COLUMNS",
    "DEFAULT_METHODS",
    "DEFAULT_KS",
]

#: Columns of ``rows.csv``, in order.
ROW_COLUMNS = ("method", "k_asked", "image", "k_delivered", "time_s") + tuple(SCORE_KEYS)

#: Columns of ``summary.csv``: per (method, K asked), means over images except
#: ``time_s_median`` and ``n_images``. Metrics that depend on the annotator are the best
#: annotator's.
SUMMARY_COLUMNS = (
    "method", "k_asked", "n_images", "k_delivered",
    "asa", "br", "bp", "f", "f1", "ue", "co", "ev", "n_disconnected", "time_s_median",
)  # fmt: skip

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
}

#: The methods and K values of the paper's comparison (issue 3).
DEFAULT_METHODS = ("lnsnet", "slic", "slico", "lsc", "seeds", "snic")
DEFAULT_KS = (100, 200, 400, 600, 800, 1000)

ROWS_FILE = "rows.csv"
SUMMARY_CSV = "summary.csv"
SUMMARY_MD = "summary.md"
META_FILE = "meta.json"


# ------------------------------------------------------------------------------ options


def known_methods() -> list[str]:
    """Names accepted in ``methods``: ``"lnsnet"`` and every registered baseline.

    ``lnsnet`` also takes inference options of :func:`lnsnet.segment` after colons, e.g.
    ``lnsnet:seeds=learned``, ``lnsnet:mode=dense`` or ``lnsnet:compactness=0.3``; each
    such spelling is a method of its own in the rows (keys: :data:`LNSNET_OPTIONS`).
    ``lnsnet:clustering=compact`` is :data:`lnsnet.COMPACT_CLUSTERING` (local mode's
    default) spelt out, ``lnsnet:clustering=paper`` the paper's one-shot clustering
    (:data:`lnsnet.PAPER_CLUSTERING`); options given beside a preset win.
    """
    from .baselines import BASELINES

    return ["lnsnet"] + sorted(BASELINES)


#: options of :func:`lnsnet.segment` a benchmark method ``lnsnet:key=value`` may set
LNSNET_OPTIONS = {
    "seeds": ("grid", "learned"),
    "mode": ("local", "dense"),
    "compactness": float,
    "edge_scale": float,
    "iterations": int,
    "smoothing": float,
    "feature_contrast": float,
    "min_size_factor": float,
    "window": int,
    "clustering": ("default", "paper", "compact"),
}


def lnsnet_options(name: str) -> dict | None:
    """``"lnsnet:seeds=learned:compactness=0.3"`` -> ``{"seeds": "learned", "compactness": 0.3}``;
    ``None`` when ``name`` is not an LNS-Net method. Raises ``ValueError`` for bad options."""
    head, *parts = name.split(":")
    if head != "lnsnet":
        return None
    opts: dict = {}
    for part in parts:
        key, eq, value = part.partition("=")
        if not eq or key not in LNSNET_OPTIONS:
            raise ValueError(
                f"bad lnsnet option {part!r} in method {name!r}: write lnsnet:key=value with key one of "
                f"{', '.join(LNSNET_OPTIONS)}"
            )
        if key in opts:
            raise ValueError(f"lnsnet option {key!r} given twice in method {name!r}")
        kind = LNSNET_OPTIONS[key]
        if kind is int:  # window, iterations: checked as segment checks them
            from ..segment import check_iterations, check_window

            try:
                opts[key] = int(value)
            except ValueError:
                raise ValueError(f"lnsnet option {key}={value!r} in method {name!r} is not an integer") from None
            try:
                (check_window if key == "window" else check_iterations)(opts[key])
            except ValueError as exc:
                raise ValueError(f"lnsnet option {key}={value!r} in method {name!r}: {exc}") from None
        elif kind is float:
            try:
                opts[key] = float(value)
            except ValueError:
                raise ValueError(f"lnsnet option {key}={value!r} in method {name!r} is not a number") from None
            if not opts[key] >= 0 or opts[key] == float("inf"):
                raise ValueError(f"lnsnet option {key}={value!r} in method {name!r} must be a finite number >= 0")
        else:
            if value not in kind:
                raise ValueError(f"lnsnet option {key}={value!r} in method {name!r}; allowed: {', '.join(kind)}")
            opts[key] = value
    preset = opts.pop("clustering", "default")
    from ..segment import COMPACT_CLUSTERING, check_feature_contrast_used, clustering_options

    try:  # the combination, as segment will check it (dense mode), and feature_contrast without smoothing
        resolved = clustering_options(opts.get("mode", "local"), **{k: opts.get(k) for k in COMPACT_CLUSTERING},
                                      clustering=None if preset == "default" else preset)
        check_feature_contrast_used(opts.get("feature_contrast"), resolved)
    except ValueError as exc:
        raise ValueError(f"method {name!r}: {exc}") from None
    if preset != "default":  # a clustering preset spelt out; options given beside it win
        opts.update(resolved)
    return opts


def _check_methods(methods) -> list[str]:
    if isinstance(methods, str):
        methods = [m for m in methods.split(",")]
    names = [str(m).strip().lower() for m in methods]
    names = [m for m in names if m]
    if not names:
        raise ValueError("methods is empty: name at least one method, e.g. 'lnsnet,slic'")
    known = known_methods()
    unknown = [m for m in names if m not in known and lnsnet_options(m) is None]
    if unknown:
        hint = ""
        if "fast_slic" in unknown:
            hint = " (fast_slic is not installed: pip install --no-build-isolation fast_slic)"
        raise ValueError(
            f"unknown method{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}"
            f"{hint}; known: {', '.join(known)}"
        )
    dup = sorted({m for m in names if names.count(m) > 1})
    if dup:
        raise ValueError(f"methods named more than once: {', '.join(dup)}")
    return names


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


def open_dataset(dataset="bsds500", split: str = "test", root=None):
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

    if not isinstance(dataset, (str, os.PathLike)):
        if isinstance(dataset, Sequence):
            return dataset
        raise ValueError(
            f"dataset must be 'bsds500', a folder path or a sequence of samples, got "
            f"{type(dataset).__name__}"
        )
    if str(dataset).lower() == "bsds500":
        return BSDS500(root=root, split=split)
    folder = Path(dataset).expanduser()
    if not folder.is_dir():
        raise FileNotFoundError(
            f"dataset {str(dataset)!r} is neither 'bsds500' nor an existing folder"
        )
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
    if labels.is_dir():
        return FolderDataset(images, labels, kind="labels")
    if masks.is_dir():
        return FolderDataset(images, masks, kind="masks")
    raise FileNotFoundError(
        f"dataset folder {folder} has no labels/ (label maps) or masks/ (binary masks) "
        "subfolder"
    )


def _describe_dataset(dataset, ds, split: str) -> dict:
    if isinstance(dataset, (str, os.PathLike)) and str(dataset).lower() == "bsds500":
        return {"name": "bsds500", "split": split}
    if isinstance(dataset, (str, os.PathLike)):
        return {
            "name": "folder",
            "root": str(Path(dataset).expanduser().resolve()),
            "kind": getattr(ds, "kind", None),
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


def _atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with open(tmp, "w", encoding="utf-8", newline="") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


# ------------------------------------------------------------------------------- worker

# Per-process state of a worker: the dataset, the method callables, the warm set.
_STATE: dict = {}


def _init_worker(ds, methods: list[str], model, r: int, warmup: bool,
                 single_thread: bool = True) -> None:  # fmt: skip
    """Set up one worker process: one thread, the dataset, the methods, LNS-Net loaded
    once."""
    if single_thread:
        _set_threads(1)
    funcs = {}
    for name in methods:
        opts = lnsnet_options(name)
        if opts is not None:
            import lnsnet

            net = lnsnet.load_model(model)

            def _lns(image, k, _net=net, _opts=opts):
                return lnsnet.segment(image, k, model=_net, **_opts)

            funcs[name] = _lns
        else:
            from .baselines import get_method

            funcs[name] = get_method(name)
    _STATE.clear()
    _STATE.update(ds=ds, funcs=funcs, r=r, warmup=warmup, warm=set())


def _set_threads(n: int) -> tuple[int, int | None]:
    """Set torch's, numba's and OpenCV's thread counts; return the previous ones."""
    import numba
    import torch

    before = (torch.get_num_threads(), None, numba.get_num_threads())
    torch.set_num_threads(n)
    numba.set_num_threads(max(1, min(n, numba.config.NUMBA_NUM_THREADS)))
    try:
        import cv2

        before = (before[0], cv2.getNumThreads(), before[2])
        cv2.setNumThreads(n)
    except ImportError:  # pragma: no cover - OpenCV is optional
        pass
    return before


def _restore_threads(before: tuple) -> None:
    import numba
    import torch

    torch.set_num_threads(before[0])
    numba.set_num_threads(before[2])
    if before[1] is not None:
        import cv2

        cv2.setNumThreads(before[1])


def _run_image(index: int, todo: list[tuple[str, int]]) -> list[dict]:
    """Run the (method, K) pairs ``todo`` on image ``index``; one row each."""
    from .metrics import score

    ds, funcs, r = _STATE["ds"], _STATE["funcs"], _STATE["r"]
    sample = ds[index]
    rows = []
    for method, k in todo:
        fn = funcs[method]
        try:
            if _STATE["warmup"] and method not in _STATE["warm"]:
                fn(sample.image, k)
            t0 = time.perf_counter()
            labels = fn(sample.image, k)
            dt = time.perf_counter() - t0
            _STATE["warm"].add(method)
            s = score(labels, sample.ground_truths, image=sample.image, r=r)
        except Exception as exc:
            raise RuntimeError(
                f"{method} with K={k} on image {sample.name!r} ({sample.path}) failed: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        row = {"method": method, "k_asked": k, "image": sample.name,
               "k_delivered": int(s["n_segments"]), "time_s": dt}  # fmt: skip
        for key in SCORE_KEYS:
            v = s[key]
            row[key] = int(v) if key.startswith("n_") else v
        rows.append(row)
    return rows


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


def _model_info(model) -> dict:
    from .. import checkpoint
    from ..segment import DEFAULT_MODEL, WEIGHTS_DIR, available_models

    name = DEFAULT_MODEL if model is None else model
    if isinstance(name, str) and name in available_models():
        card = WEIGHTS_DIR / f"{name}.json"
        sha = None
        if card.is_file():
            sha = json.loads(card.read_text(encoding="utf-8")).get("sha256")
        if not sha:
            sha = checkpoint.sha256(WEIGHTS_DIR / f"{name}.pt")
        return {"name": name, "sha256": sha}
    from ..segment import load_model

    load_model(name)  # fails here, with a clear message, rather than in every worker
    path = Path(name)
    return {"name": str(path.resolve()), "sha256": checkpoint.sha256(path)}


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
        "rows_computed": old.get("rows_computed"),
    })
    return runs


def _check_resume_settings(path: Path, settings: dict, model_free: bool = False):
    """Refuse to add rows to a folder whose rows were made with another dataset, radius
    or LNS-Net model (``model_free``: no LNS-Net row is left, any model may follow);
    return the model record to keep (this run's, else the folder's)."""
    old = {}
    if path.is_file():
        try:
            old = json.loads(path.read_text(encoding="utf-8")).get("settings", {}) or {}
        except (OSError, ValueError):
            old = {}
    for key in ("dataset", "r") if model_free else ("dataset", "r", "model"):
        if old.get(key) is None or settings.get(key) is None:
            continue
        if old[key] != settings[key]:
            raise ValueError(
                f"{path.parent} holds rows made with {key}={old[key]!r}, this run has "
                f"{key}={settings[key]!r}; use another output folder"
            )
    return settings.get("model") or old.get("model")


# -------------------------------------------------------------------------------- main


def run_benchmark(
    dataset="bsds500",
    split: str = "test",
    methods=DEFAULT_METHODS,
    ks=DEFAULT_KS,
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
) -> list[dict]:
    """Run, score and time every method at every K on every image; write the reports.

    Parameters
    ----------
    dataset : "bsds500", folder path, or sequence of Sample
        See :func:`open_dataset`.
    split : {"train", "val", "test"}, default "test"
        BSDS500 split.
    methods : sequence of str or comma-separated str
        ``"lnsnet"`` and any of :data:`lnsnet.eval.baselines.BASELINES`
        (case-insensitive); see :func:`known_methods`.
    ks : sequence of int or comma-separated str
        The numbers of superpixels asked for.
    out_dir : str or os.PathLike
        Output folder (created): ``rows.csv``, ``summary.csv``, ``summary.md``,
        ``meta.json``. Rows already in ``rows.csv`` are not computed again. The summary
        files cover this run's methods and ``ks``, and every other method and K of
        ``rows.csv`` that has rows for all of this run's images, so a run that adds a
        method keeps the others in the summary; the return value covers this run's
        methods and ``ks`` only.
    root : str or os.PathLike, optional
        BSDS500 folder; default ``$LNSNET_BSDS500``.
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
    redo : sequence of str or comma-separated str, optional
        Methods whose rows already in ``out_dir`` are deleted first and computed again,
        e.g. ``"lnsnet"`` after the model changed (once no LNS-Net row is left, a
        different ``model`` is accepted); the other methods' rows are kept.

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
    methods = _check_methods(methods)
    ks = _check_ks(ks)
    redo = _check_methods(redo) if redo else []
    if engine not in ("local", "ray"):
        raise ValueError(f"unknown engine {engine!r}; allowed: 'local', 'ray'")
    if engine == "ray":
        from ..distributed import require_ray

        require_ray()
    workers = _check_count(workers, "workers", 0, allow_none=engine == "ray")
    limit = _check_count(limit, "limit", 1, allow_none=True)
    if isinstance(r, (bool, np.bool_)) or not isinstance(r, (int, np.integer)) or r < 0:
        raise ValueError(f"tolerance radius r must be an integer >= 0, got {r!r}")
    r = int(r)
    ds = open_dataset(dataset, split=split, root=root)
    n_images = len(ds) if limit is None else min(limit, len(ds))
    if n_images == 0:
        raise ValueError("the dataset holds no image")
    if hasattr(ds, "names"):
        names = list(ds.names[:n_images])
    else:
        names = [ds[i].name for i in range(n_images)]

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
        "annotator": "best (means of the per-image best annotator; rows.csv also has the "
                     "per-image mean over annotators)",
        "workers": workers,
        "engine": engine,
        "limit": limit,
        "n_images": n_images,
        "warmup": warmup,
        "threads_per_worker": 1,
        "timing": "time.perf_counter() around the method call only",
        "model": _model_info(model) if any(lnsnet_options(m) is not None for m in methods) else None,
    }
    if isinstance(dataset, (str, os.PathLike)) and str(dataset).lower() == "bsds500":
        settings["dataset_root"] = str(ds.root)
    existing = _read_rows(rows_path)
    if redo:
        existing = _drop_rows(rows_path, existing, set(redo))
    model_free = not any(lnsnet_options(row["method"]) is not None for row in existing)
    settings["model"] = _check_resume_settings(meta_path, settings, model_free)
    started = time.time()
    meta = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        **machine_info(),
        "settings": settings,
        "command": sys.argv if sys.argv and sys.argv[0] else None,
        "previous_runs": _previous_runs(meta_path),
    }
    _atomic_write_text(meta_path, json.dumps(meta, indent=2) + "\n")

    done = {_row_key(row) for row in existing}
    tasks = []  # (image index, [(method, k), ...])
    for i, name in enumerate(names):
        todo = [(m, k) for m in methods for k in ks if (m, k, name) not in done]
        if todo:
            tasks.append((i, todo))
    n_todo = sum(len(t) for _, t in tasks)
    if tasks:
        _run_tasks(ds, tasks, n_todo, rows_path, methods, model, r, workers, warmup,
                   progress, engine, address)  # fmt: skip
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
    _write_summary(summarize(in_files, methods=methods), out)
    meta["finished"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    meta["elapsed_s"] = round(time.time() - started, 3)
    meta["rows_computed"] = n_todo
    meta["rows_total"] = len(selected)
    meta["rows_in_summary"] = len(in_files)
    _atomic_write_text(meta_path, json.dumps(meta, indent=2) + "\n")
    return summary


def _drop_rows(rows_path: Path, rows: list[dict], methods: set[str]) -> list[dict]:
    """Rewrite ``rows.csv`` (atomically) without the rows of ``methods``; return the rest."""
    keep = [row for row in rows if row["method"] not in methods]
    if len(keep) != len(rows):
        buf = io.StringIO(newline="")
        writer = csv.DictWriter(buf, fieldnames=ROW_COLUMNS)
        writer.writeheader()
        writer.writerows(keep)
        _atomic_write_text(rows_path, buf.getvalue())
    return keep


def _run_tasks(ds, tasks, n_todo, rows_path, methods, model, r, workers, warmup,
               progress, engine="local", address=None) -> None:  # fmt: skip
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
                                workers=workers or None)
            return
        if workers == 0:
            before = _set_threads(1)
            try:
                _init_worker(ds, used, model, r, warmup, single_thread=False)
                for index, todo in tasks:
                    rows = _run_image(index, todo)
                    writer.write(rows)
                    bar.update(len(rows))
            finally:
                _STATE.clear()
                _restore_threads(before)
            return
        import multiprocessing as mp
        from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

        ctx = mp.get_context("spawn")
        with ProcessPoolExecutor(
            max_workers=min(workers, len(tasks)),
            mp_context=ctx,
            initializer=_init_worker,
            initargs=(ds, used, model, r, warmup),
        ) as pool:
            pending = {pool.submit(_run_image, index, todo) for index, todo in tasks}
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
    groups: dict[tuple[str, int], list[dict]] = {}
    order: list[str] = list(methods) if methods is not None else []
    for row in rows:
        key = (str(row["method"]), int(row["k_asked"]))
        groups.setdefault(key, []).append(row)
        if key[0] not in order:
            order.append(key[0])
    out = []
    for key in sorted(groups, key=lambda mk: (order.index(mk[0]), mk[1])):
        # image order fixed, so the means do not depend on the order rows arrived in
        group = sorted(groups[key], key=lambda row: str(row["image"]))
        entry = {"method": key[0], "k_asked": key[1], "n_images": len(group)}
        for col, src in _SUMMARY_SOURCES.items():
            vals = np.array([_float(row[src]) for row in group], dtype=float)
            ok = vals[~np.isnan(vals)]
            entry[col] = float(ok.mean()) if ok.size else math.nan
        entry["time_s_median"] = float(statistics.median(_float(row["time_s"]) for row in group))
        out.append({c: entry[c] for c in SUMMARY_COLUMNS})
    return out


def _fmt(value, digits: int) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.{digits}f}"


def summary_markdown(summary: list[dict]) -> str:
    """The summary as one Markdown table (ASA, BR, BP, F, F1, UE: best annotator, means
    over images; time: median per image)."""
    header = ("| Method | K | K delivered | ASA | BR | BP | F (β=4) | F1 | UE | CO | EV | "
              "Time (ms) | Images |")  # fmt: skip
    lines = [header, "|" + "|".join(["---"] + ["---:"] * 12) + "|"]
    for s in summary:
        cells = [
            s["method"], str(s["k_asked"]), _fmt(s["k_delivered"], 1),
            _fmt(s["asa"], 4), _fmt(s["br"], 4), _fmt(s["bp"], 4), _fmt(s["f"], 4),
            _fmt(s["f1"], 4), _fmt(s["ue"], 4), _fmt(s["co"], 4), _fmt(s["ev"], 4),
            _fmt(s["time_s_median"] * 1000.0, 1), str(s["n_images"]),
        ]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _write_summary(summary: list[dict], out: Path) -> None:
    buf = io.StringIO(newline="")
    writer = csv.DictWriter(buf, fieldnames=SUMMARY_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(summary)
    _atomic_write_text(out / SUMMARY_CSV, buf.getvalue())
    _atomic_write_text(out / SUMMARY_MD, summary_markdown(summary))


# --------------------------------------------------------------------------------- CLI


def add_parser(subparsers):
    """Register the ``benchmark`` subcommand on ``subparsers`` (from
    ``ArgumentParser.add_subparsers``); its handler is ``args.func(args) -> int``."""
    b = subparsers.add_parser(
        "benchmark",
        help="score and time superpixel methods on a dataset (CSV, Markdown, plots)",
        description="Run every method at every K on every image, score it (ASA, BR, BP, "
                    "F, UE, CO, EV against the best annotator) and time it. Writes "
                    "rows.csv (one row per method, K and image), summary.csv, summary.md, "
                    "meta.json (machine, versions, settings) and one PNG per metric "
                    "against the delivered K into -o DIR. A rerun skips the rows already "
                    "in DIR.",
    )  # fmt: skip
    b.add_argument("--dataset", default="bsds500",
                   help="'bsds500' (default) or a folder with images/ and labels/ "
                        "(label maps) or masks/ (binary masks)")
    b.add_argument("--split", default="test", help="BSDS500 split: train, val or test "
                                                   "(default test)")
    b.add_argument("--root", default=None,
                   help="BSDS500 folder (default: $LNSNET_BSDS500)")
    b.add_argument("--methods", default=",".join(DEFAULT_METHODS),
                   help="comma-separated methods (default %(default)s); known: "
                        + ", ".join(known_methods())
                        + "; lnsnet takes segment options after colons, e.g. lnsnet:seeds=learned, "
                          "lnsnet:mode=dense, lnsnet:compactness=1, lnsnet:clustering=paper (the paper's one-shot clustering; "
                          "the default is the compact one, docs/compactness.md)")
    b.add_argument("-k", "--k", dest="ks", default=",".join(map(str, DEFAULT_KS)),
                   help="comma-separated K values (default %(default)s)")
    b.add_argument("-o", "--output", required=True, help="output folder (created; resumed "
                                                          "if it holds rows)")
    b.add_argument("-m", "--model", default=None,
                   help="LNS-Net model: shipped name or file (default: bsds500)")
    b.add_argument("--workers", type=int, default=None,
                   help="worker processes, one CPU thread each (default 2; 0 = in this "
                        "process)")
    b.add_argument("--engine", choices=("local", "ray"), default="local",
                   help="'local' (default): worker processes here; 'ray': actors on a Ray cluster "
                        "(pip install lnsnet[ray]); --workers then counts actors (default: one per CPU)")
    b.add_argument("--address", default=None, help="Ray cluster address (with --engine ray)")
    b.add_argument("--limit", type=int, default=None, help="use only the first N images")
    b.add_argument("--radius", type=int, default=1,
                   help="boundary tolerance radius r of BR/BP/F (default 1: a 3x3 window)")
    b.add_argument("--redo", default=None, metavar="METHODS",
                   help="comma-separated methods whose rows in -o are deleted and computed again "
                        "(e.g. lnsnet after changing the model); other rows are kept")
    b.add_argument("--no-plots", action="store_true", help="do not draw the PNG plots")
    b.add_argument("-q", "--quiet", action="store_true",
                   help="no progress bar and no table")
    b.add_argument("--debug", action="store_true", help="show the full traceback on errors")
    b.set_defaults(func=_cmd_benchmark)
    return b


def _cmd_benchmark(args) -> int:
    summary = run_benchmark(
        dataset=args.dataset,
        split=args.split,
        methods=args.methods,
        ks=args.ks,
        out_dir=args.output,
        root=args.root,
        workers=(2 if args.engine == "local" else None) if args.workers is None else args.workers,
        limit=args.limit,
        engine=args.engine,
        address=args.address,
        progress=not args.quiet,
        r=args.radius,
        model=args.model,
        redo=args.redo,
    )
    out = Path(args.output)
    plots = []
    if not args.no_plots:
        from .plots import plot_summary

        plots = plot_summary(out / SUMMARY_CSV, out)
    if not args.quiet:
        print(summary_markdown(summary), end="")
        print(f"\nwrote {out / ROWS_FILE}, {out / SUMMARY_CSV}, {out / SUMMARY_MD}, "
              f"{out / META_FILE}" + (f" and {len(plots)} plots" if plots else ""))  # fmt: skip
    return 0
