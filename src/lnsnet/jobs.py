"""Segmenting files: one place that decides the outputs of an input file and writes them.

The local engine (``lnsnet segment``) and the Ray engine (:mod:`lnsnet.distributed`) both
call :func:`segment_files`, so they write the same files, byte for byte.

Outputs of ``DIR/NAME.ext`` (``NAME``: the input's path relative to the common folder of
the inputs, see :func:`output_names`, so ``a/img.jpg`` and ``b/img.jpg`` do not collide):
``NAME_labels.npy`` (int32), ``NAME_labels.png`` (16-bit; ``NAME_labels.tif``, 32-bit,
instead when a label exceeds 65,535), ``NAME_overlay.png`` and, with ``features``,
``NAME_regions.csv`` (:func:`lnsnet.measure.regions`).
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping

from .cluster import ClusterOptions

__all__ = ["SegmentOptions", "Outcome", "output_names", "output_paths", "provenance", "pending", "segment_files",
           "load_segment_model"]

# the largest label a 16-bit PNG holds; above it the label image is a 32-bit TIFF
PNG_MAX_LABEL = 65535
# a delivered count below this fraction of K is reported
FEW_SEGMENTS = 0.8


@dataclass(frozen=True)
class SegmentOptions:
    """What ``lnsnet segment`` does to every file. ``names``: the output name of each
    input (its real path -> name, from :func:`output_names`); a file not in it is named
    by its stem."""

    n_segments: int = 100
    clustering: ClusterOptions = field(default_factory=ClusterOptions)
    device: str | None = None
    overlay: bool = True
    overwrite: bool = False
    batch_size: int = 8
    adapt: int = 0
    progress: bool = False  # progress bar for large images run in bands
    features: bool = False  # write NAME_regions.csv (lnsnet.measure.regions)
    names: Mapping[str, str] | None = None
    model_id: str | None = None  # the model's name or file, recorded with the outputs
    max_pixels: int | None = None  # refuse larger images before decoding (None: lnsnet.io.MAX_PIXELS; 0: none)
    orientation: bool = True  # apply the EXIF orientation tag (False: the pixels as stored)
    volume: bool = False  # every input is a 3-D stack: supervoxels (lnsnet.io.read_volume)
    spacing: tuple | None = None  # pixel size (y, x), or a volume's (z, y, x); None: 1, 1 / the file's, else 1, 1, 1
    sigma: float = 0.0  # a Gaussian blur first, in physical units (slic's sigma)
    compactness_given: bool = False  # volumes: --compactness was given (else the 3-D default)
    backend: str = "torch"  # what runs the network on the CPU (lnsnet.backends)
    boundaries: str | None = None  # "bright" / "dark": boundary images, flooded (lnsnet.flood); no model
    masks: str | None = None  # a mask file for every input, or a folder of masks named as the inputs


@dataclass
class Outcome:
    """Result for one input file: ``status`` is ``done``, ``skipped`` or ``failed``;
    ``message``: why it failed, or for a done file a notice (far fewer superpixels than K);
    ``k``: the number of superpixels (distinct labels) delivered; ``reused``: done with the
    labels an earlier run made with these settings (only the outputs asked for now written)."""

    file: str
    status: str
    message: str = ""
    k: int = 0
    seconds: float = 0.0
    trace: str = ""  # a failed file's traceback (``lnsnet segment --debug`` prints it)
    reused: bool = False  # done with the labels an earlier run made (an output added: --features)


def output_names(files: Iterable[Path], roots: Iterable[Path] = ()) -> dict[str, str]:
    """The output name of each input file: its path relative to the common folder of all
    the inputs (and of the folders ``roots``: the folders named, so that a tree read with
    its subfolders keeps its names as it grows), without its suffix (``a/img.jpg`` and
    ``b/img.jpg`` -> ``a/img`` and ``b/img``; the files of one folder -> their stems), keyed
    by the file's real path (a file given twice keeps its first name). ``ValueError`` when
    two files would still share a name (``img.jpg`` and ``img.png`` in one folder) or have
    no common folder."""
    from .io import file_stem

    files = [Path(f) for f in files]
    if not files:
        return {}
    absolute = [Path(os.path.abspath(f)) for f in files]
    # the common folder of the inputs whose folder exists: the layout follows the arguments
    # (a file gone from its folder keeps its place and its neighbours'), but an entry in a
    # folder that is not there (a list file's typo: it fails alone) does not move the rest
    placed = [a.parent.is_dir() and not a.is_dir() for a in absolute]  # (a folder given as a file fails too)
    if not any(placed):
        placed = [True] * len(absolute)
    try:
        common = os.path.commonpath([str(a.parent) for a, p in zip(absolute, placed) if p]
                                    + [os.path.abspath(r) for r in roots if os.path.isdir(r)])
    except ValueError:  # e.g. two drives
        raise ValueError("the inputs have no common folder whose tree -o could mirror; "
                         "segment them in separate runs") from None
    fold = sys.platform in ("darwin", "win32")  # file systems that ignore case
    names: dict[str, str] = {}
    owner: dict[str, Path] = {}
    clashes: list[str] = []
    for f, a, p in zip(files, absolute, placed):
        key = os.path.realpath(f)
        if key in names:
            continue
        if not p:  # its folder is not there (or it is one): it cannot be read; its name is no other's
            names[key] = f"(not a file)/{a.as_posix().lstrip('/')}"
            continue
        rel = a.relative_to(common)
        name = rel.with_name(file_stem(rel)).as_posix()
        seen = owner.setdefault(name.casefold() if fold else name, f)
        if seen is not f:
            clashes.append(f"{seen} and {f} ({name}_labels.*)")
        names[key] = name
    if clashes:  # all of them at once, not one a run
        raise ValueError(f"{'; '.join(clashes)}: would write the same outputs; rename one of each pair or "
                         "segment them in separate runs")
    return names


def output_paths(file: Path, out_dir: Path, opts: SegmentOptions | None = None) -> dict[str, Path]:
    """The outputs of ``file`` under ``out_dir``: ``npy`` (int32 labels), ``png``
    (16-bit labels) or, above 65,535 labels, ``tif`` (32-bit labels), ``overlay`` and
    ``regions`` (CSV), ``nii`` (a NIfTI input's labels with its affine); whether the
    overlay and regions are written is ``opts.overlay`` /
    ``opts.features``; ``meta`` (JSON, written last): which file and settings made them."""
    from .io import file_stem

    names = opts.names if opts is not None and opts.names else {}
    name = names.get(os.path.realpath(file)) or file_stem(file)
    base = Path(out_dir) / name
    labels = base.with_name(base.name + "_labels")
    return {
        "npy": labels.with_name(labels.name + ".npy"),
        "png": labels.with_name(labels.name + ".png"),
        "tif": labels.with_name(labels.name + ".tif"),
        "nii": labels.with_name(labels.name + ".nii.gz"),  # a NIfTI volume's labels, on its grid
        "overlay": base.with_name(base.name + "_overlay.png"),
        "regions": base.with_name(base.name + "_regions.csv"),
        "meta": labels.with_name(labels.name + ".json"),
    }


def _volume_spec(opts: SegmentOptions) -> str:
    """The 3-D clustering's settings as recorded: its version and the compactness used (the
    default's value, so outputs made under an earlier default are not taken as current)."""
    from .volume import CLUSTERING_VERSION, DEFAULTS

    c = opts.clustering.compactness if opts.compactness_given else DEFAULTS["compactness"]
    return f"3-D v{CLUSTERING_VERSION}:compactness={c:g}"


def _boundaries_spec(opts: SegmentOptions) -> str:
    """The boundary flood's settings as recorded (:mod:`lnsnet.flood`)."""
    from .flood import DEFAULTS, VERSION

    c = opts.clustering.compactness if opts.compactness_given else DEFAULTS["compactness"]
    return f"boundaries v{VERSION}:{opts.boundaries}:compactness={c:g}"


def _spec_2d(opts: SegmentOptions) -> str:
    """The 2-D clustering's settings as recorded: its version and its options."""
    from .cluster import CLUSTERING_VERSION

    return f"2-D v{CLUSTERING_VERSION}:{opts.clustering.spec()}"


#: what a mask of a folder may be named, for an input NAME.*: NAME + one of these
MASK_NAMES = tuple(f"{end}{ext}" for end in ("", "_mask")
                   for ext in (".png", ".tif", ".tiff", ".npy", ".bmp", ".nii.gz", ".nii"))


def mask_file(file: Path, masks) -> Path | None:
    """The mask of input ``file`` (``--mask``): ``masks`` itself when it is a file, else
    ``masks/NAME.png`` (or ``.tif``, ``.tiff``, ``.npy``, ``.bmp``, or ``NAME_mask.*``) for
    an input ``NAME.*``; None without ``masks``; ``FileNotFoundError`` naming what was
    looked for."""
    if masks is None:
        return None
    folder = Path(masks)
    if folder.is_file():
        return folder
    name = Path(file).name
    stem = name[:-7] if name.lower().endswith(".nii.gz") else Path(file).stem
    own = os.path.realpath(file)
    for end in MASK_NAMES:  # (in the input's own folder, NAME.png is the input: its mask is NAME_mask.*)
        if (folder / f"{stem}{end}").is_file() and os.path.realpath(folder / f"{stem}{end}") != own:
            return folder / f"{stem}{end}"
    raise FileNotFoundError(f"no mask for {Path(file).name} in {folder} (looked for {stem}.png, .tif, .npy, .bmp, "
                            f".nii.gz, .nii and {stem}_mask.*)")


def read_mask(path: Path, shape):
    """A mask file as a bool array of ``shape`` (an image's ``(H, W)`` or a volume's
    ``(Z, Y, X)``): nonzero inside (any channel of a colour file); ``ValueError`` for
    another shape or a mask with nothing inside."""
    import numpy as np

    from .io import read_image, read_volume

    path = Path(path)
    if path.suffix.lower() == ".npy":
        m = np.load(path, allow_pickle=False)
    elif len(shape) == 3:
        m = read_volume(path, max_voxels=None)[0]
    else:
        m = read_image(path, max_pixels=None, orientation=False)
    m = np.asarray(m) != 0
    if m.ndim == len(shape) + 1:  # channels (an RGB mask image, a volume read channels last)
        m = m.any(-1)
    if m.shape != tuple(shape):
        raise ValueError(f"mask {path} has shape {m.shape}, the input {tuple(shape)}")
    if not m.any():
        raise ValueError(f"mask {path} is 0 everywhere: nothing to segment")
    return m


def _with_mask(file: Path, opts: SegmentOptions, shape, finite):
    """The ``mask`` for ``file``: its ``--mask`` and the finite pixels together (None when
    neither leaves anything out)."""
    m = mask_file(file, opts.masks)
    if m is None:
        return finite
    mask = read_mask(m, shape)
    return mask if finite is None else mask & finite


def provenance(file: Path, opts: SegmentOptions) -> dict:
    """What made a file's outputs: the input (real path, size, modification time) and the
    settings that change the labels. A rerun skips a file only when its recorded
    provenance is this one."""
    return {**_file_record(file), "n_segments": int(opts.n_segments),
            "clustering": (_boundaries_spec(opts) if opts.boundaries else _volume_spec(opts) if opts.volume
                           else _spec_2d(opts)),
            "adapt": int(opts.adapt),
            "model": None if opts.model_id is None else str(opts.model_id),
            **({} if opts.backend == "torch" or opts.volume or opts.model_id == "none" else {"backend": opts.backend}),
            **({} if opts.orientation else {"orientation": "as stored"}),
            **({"sigma": float(opts.sigma)} if opts.sigma else {}),
            **({"spacing": list(opts.spacing)} if opts.spacing is not None and not opts.volume else {}),
            **({"volume": True, "spacing": None if opts.spacing is None else list(opts.spacing)} if opts.volume else {}),
            **({"mask": _mask_record(file, opts.masks)} if opts.masks else {})}


def _mask_record(file: Path, masks) -> dict | None:
    """The mask file of ``file`` as recorded: its real path, size and modification time
    (another or an edited mask redoes the outputs); None when there is none."""
    try:
        m = mask_file(file, masks)
    except FileNotFoundError:
        return None
    return _file_record(m)


def _file_record(path) -> dict:
    """A file as a record names it: its real path, size and modification time."""
    st = os.stat(path)
    return {"source": os.path.realpath(path), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _finished(file: Path, paths: dict[str, Path], opts: SegmentOptions):
    """Whether every output ``opts`` asks for is there (the label image as PNG or TIFF),
    made from this very file with these settings (``meta``): True (skip it), False (make
    them: missing, of an edited file or of other settings), or the recorded source when they
    were made from a file at another path (not to be overwritten in silence): another file
    of the same name, or this one before it was copied, or moved and edited. A file moved
    (its recorded path gone; its name, size and modification time as recorded) is this one."""
    from .io import is_nifti

    needed = [paths["npy"]] + ([paths["overlay"]] if opts.overlay else []) + ([paths["regions"]] if opts.features else [])
    needed += [paths["nii"]] if is_nifti(file) else []
    recorded = _read_record(paths)
    if recorded is None or "source" not in recorded:
        return False
    try:
        mine = provenance(file, opts)  # (a missing input: made, and failed there, alone)
    except (OSError, ValueError):
        return False
    source = recorded["source"]
    if source != mine["source"]:
        moved = not os.path.lexists(str(source)) and (Path(str(source)).name, recorded.get("size"),
                                                      recorded.get("mtime_ns")) == (
            Path(mine["source"]).name, mine["size"], mine["mtime_ns"])
        if not moved:
            return str(source)
        recorded["source"] = mine["source"]
    if not (all(p.exists() for p in needed) and (paths["png"].exists() or paths["tif"].exists())):
        return False
    return _same_settings(recorded, mine)


#: what a record holds beside the settings: what the run found and made, not what it was asked
_RECORD_ONLY = ("spacing_used", "spacing_unit", "labels_sha256")


def _read_record(paths: dict[str, Path]) -> dict | None:
    """The record (``meta``, JSON) beside a file's outputs, or None (none, unreadable)."""
    import json

    try:
        recorded = json.loads(paths["meta"].read_text())
    except (OSError, ValueError):
        return None
    return recorded if isinstance(recorded, dict) else None


def _same_settings(recorded: dict, mine: dict) -> bool:
    """Whether a record names this file and these settings (:func:`provenance`), what the run
    found and made (:data:`_RECORD_ONLY`: a volume's voxel size as its file said it, the
    labels' digest) aside."""
    return {k: v for k, v in recorded.items() if k not in _RECORD_ONLY} == mine


def _labels_digest(labels) -> str:
    """The sha256 of int32 labels in C order: the record's check that a label file read back
    is the one the run wrote (not edited, not another image's)."""
    import hashlib

    import numpy as np

    return hashlib.sha256(np.ascontiguousarray(labels, dtype=np.int32).data).hexdigest()


def _current_labels(file: Path, out_dir: Path, opts: SegmentOptions, shape):
    """The labels an earlier run made of ``file`` with these very settings (its record),
    when an output asked for now is missing beside them (``--features`` or the overlay
    added later): loaded, so that only the outputs are written again, not the labels
    computed again; None otherwise (and with ``overwrite``)."""
    import numpy as np

    if opts.overwrite:
        return None
    paths = output_paths(file, out_dir, opts)
    recorded = _read_record(paths)
    digest = None if recorded is None else recorded.get("labels_sha256")
    if not isinstance(digest, str):  # (none, or a record before 2026-12-06: no digest)
        return None
    try:
        if not _same_settings(recorded, provenance(file, opts)):
            return None
        head = np.load(paths["npy"], mmap_mode="r", allow_pickle=False)  # the header first: no size from it read
        if not isinstance(head, np.ndarray) or head.dtype != np.int32 or head.shape != tuple(shape):
            return None
        labels = np.array(head)
        del head
    except Exception:  # noqa: BLE001 - whatever is wrong with the file (truncated, another format): made again
        return None
    return labels if _labels_digest(labels) == digest else None  # edited, or another image's: made again


#: a temporary output file untouched this long is a killed writer's (a writer updates it as it writes)
STALE_SECONDS = 600


def remove_stale_temps(files: Iterable[Path], out_dir: Path, opts: SegmentOptions,
                       min_age: float = STALE_SECONDS) -> None:
    """Remove the temporary files (``.NAME.*.tmp``, :func:`lnsnet.io.atomic_write`) that a
    process killed mid-write (the OOM killer, a pre-empted node, ``kill -9``) left beside
    the outputs of ``files``, once they are ``min_age`` seconds old (default
    :data:`STALE_SECONDS`: another run writing into the same folder keeps its own; the Ray
    engine passes 0 for the files its own workers, all finished, wrote)."""
    now = time.time()
    names: dict[Path, set] = {}  # each output folder listed once (a listing per output was quadratic)
    for f in files:
        for path in output_paths(Path(f), Path(out_dir), opts).values():
            names.setdefault(path.parent, set()).add(path.name)
    for folder, outputs in names.items():
        try:
            temps = [e for e in os.scandir(folder) if e.name.startswith(".") and e.name.endswith(".tmp")]
        except OSError:
            continue
        for entry in temps:  # .NAME.XXXX.tmp of an output NAME of these files
            stem = entry.name[1:-4]
            if stem.rpartition(".")[0] not in outputs:
                continue
            try:
                if now - entry.stat().st_mtime >= min_age:
                    os.unlink(entry.path)
            except OSError:
                pass


def pending(files: Iterable[Path], out_dir: Path, opts: SegmentOptions) -> tuple[list[Path], list[Outcome]]:
    """Files still to do, and outcomes for those skipped (outputs exist) or refused
    (an output would overwrite an input file, or the outputs of another file of the same
    name, unless ``opts.overwrite``)."""
    files = [Path(f) for f in files]
    inputs = {os.path.realpath(f): f for f in files}  # realpath: a symlink loop is a name, not an error
    todo, outcomes = [], []
    for f in files:
        paths = output_paths(f, out_dir, opts)
        hit = next((inputs[r] for r in map(os.path.realpath, paths.values()) if r in inputs), None)
        if hit is not None:
            outcomes.append(Outcome(str(f), "failed", f"{f}: its output {Path(hit).name} would overwrite an input "
                                                      f"file, {hit}; choose another -o"))
            continue
        done = False if opts.overwrite else _finished(f, paths, opts)
        if isinstance(done, str):
            outcomes.append(Outcome(str(f), "failed", f"{f}: {paths['meta'].parent} holds outputs of this name made "
                                                      f"from {done} ({paths['meta'].name}): another file, or this "
                                                      "one before it was copied there; choose another -o, or pass "
                                                      "--overwrite to replace them"))
        elif done:
            outcomes.append(Outcome(str(f), "skipped"))
        else:
            todo.append(f)
    return todo, outcomes


def _write(file: Path, image, labels, out_dir: Path, opts: SegmentOptions, spacing=None, nifti=None) -> None:
    """The outputs of one file; the label image as 16-bit PNG or, above 65,535 or for a
    volume, TIFF (the other one, left by an earlier run, removed); the provenance last, so
    that a run stopped midway redoes the file."""
    from .io import overlay, save_labels, save_png

    paths = output_paths(file, out_dir, opts)
    paths["meta"].unlink(missing_ok=True)  # the record goes first: a run stopped midway redoes the file
    written = save_labels(paths["npy"].with_suffix(""), labels, spacing=spacing)
    if nifti is not None:  # a NIfTI volume or slice: its labels on its grid, with its affine, for its viewers
        from .io import save_nifti_labels

        save_nifti_labels(paths["nii"], labels, nifti)
        written.append(paths["nii"])
    # outputs of an earlier run that this one does not write (the other label format, an
    # overlay or a table not asked for now) would not match the labels beside them
    unwanted = [k for k in ("png", "tif", "nii") if paths[k] not in written]
    unwanted += [] if opts.features else ["regions"]
    unwanted += [] if opts.overlay else ["overlay"]
    for kind in unwanted:
        paths[kind].unlink(missing_ok=True)
    if opts.features:
        from .measure import regions, write_csv

        # label 0: the pixels left out (NaN or infinite); superpixels are numbered from 1
        # area and centroid in physical units wherever a pixel or voxel size is known (given, or a file's)
        write_csv(regions(image, labels, background=0 if labels.min() == 0 else None,
                          spacing=spacing if opts.volume else (spacing or opts.spacing)), paths["regions"])
    if opts.overlay:  # a volume: its middle slice
        z = labels.shape[0] // 2
        save_png(paths["overlay"], overlay(image[z], labels[z]) if labels.ndim == 3 else overlay(image, labels))
    import json

    from .io import atomic_write

    record = provenance(file, opts)
    record["labels_sha256"] = _labels_digest(labels)  # the labels file read back later is this one
    if spacing is not None and (opts.volume or opts.spacing is None):  # the voxel size used (given, the file's,
        # or 1, 1, 1); a one-slice NIfTI's own pixel size
        record["spacing_used"] = [float(s) for s in spacing]
        if getattr(spacing, "unit", ""):  # the file's unit (--spacing is taken in it)
            from .io import _OME_UNIT_NAMES

            record["spacing_unit"] = _OME_UNIT_NAMES.get(str(spacing.unit), str(spacing.unit))  # "micron": µm
    atomic_write(paths["meta"], json.dumps(record))  # last: a run stopped before it redoes the file


def model_id(model) -> str:
    """The model as recorded with the outputs: its name, or a file's real path and time."""
    if model and os.path.isfile(model):
        return f"{os.path.realpath(model)}@{os.stat(model).st_mtime_ns}"
    return str(model or "bsds500")


def load_segment_model(model, opts: SegmentOptions):
    """The model the engines segment with: for ``opts.volume`` a 3-D model file or None
    (the clustering on the input; the shipped models are 2-D and never applied slice by
    slice), else :func:`lnsnet.load_model` (a shipped name, a file or ``"none"``); none for
    ``opts.boundaries`` (the flood runs no network)."""
    if opts.boundaries:
        return None
    if opts.volume:
        if model is None or (isinstance(model, str) and model == "none"):
            return None
        if not isinstance(model, (str, os.PathLike)):
            return model  # a loaded 3-D model
        if not os.path.isfile(str(model)):
            raise ValueError(f"--model {model}: a volume takes a 3-D model file (lnsnet train --volume makes one; "
                             "the shipped models are 2-D and are not applied slice by slice)")
        from .volume_model import load_volume_model

        return load_volume_model(model)
    from .hub import load_model

    return load_model(model, opts.device)


def _count_labels(labels) -> int:
    """The number of distinct labels (superpixels) in a label map of non-negative ints."""
    import numpy as np

    flat = np.asarray(labels).reshape(-1)
    if flat.size == 0:
        return 0
    if flat.min() >= 0 and flat.max() <= 4 * flat.size:
        return int(np.count_nonzero(np.bincount(flat)))
    return int(np.unique(flat).size)


def _few_segments_notice(file: Path, shape: tuple, n_segments: int, k: int, spacing=None,
                         valid: int | None = None) -> str:
    """A one-line notice when ``k`` superpixels were delivered for far more asked
    (``k < 0.8 K``), naming why; ``""`` otherwise. A volume (``shape`` of three axes): its
    seed grid in physical units (``spacing``)."""
    if k >= FEW_SEGMENTS * n_segments:
        return ""
    if len(shape) == 3:
        import numpy as np

        from .volume import volume_grid

        size = tuple(float(s) for s in (spacing or (1.0, 1.0, 1.0)))
        cells = volume_grid(tuple(shape), n_segments, size)[0]
        n = cells[0] * cells[1] * cells[2]
        sp = ", ".join(f"{s:g}" for s in size)
        if valid is not None and valid < FEW_SEGMENTS * n_segments:  # NaN or infinite voxels left out
            why = f"only {valid} of its {int(np.prod(shape))} voxels are to segment (finite and inside any --mask)"
        elif n >= int(np.prod(shape)):
            why = f"the volume has {n} voxels, one supervoxel each"
        elif n < FEW_SEGMENTS * n_segments:
            why = (f"the seed grid on {'x'.join(map(str, shape))} voxels of {sp} holds {cells[0]}x{cells[1]}x{cells[2]} = "
                   f"{n} cell{'' if n == 1 else 's'}")
        else:
            why = f"{n - k} of the {n} seeds' supervoxels came out empty or merged"
        # a voxel size far from cubic may be a mistake (a z step in nm read as µm)
        hint = " (is the voxel size right? --spacing dz,dy,dx)" if max(size) >= 10 * min(size) else ""
        return f"notice: {file}: {k} supervoxels delivered for K={n_segments} asked: {why}{hint}"
    from .grid import make_grid

    h, w = shape[:2]
    cells = make_grid(h, w, n_segments).n_seeds
    noun = "superpixel" if k == 1 else "superpixels"
    if valid is not None and valid < FEW_SEGMENTS * n_segments:  # NaN or infinite pixels left out
        return (f"notice: {file}: {k} {noun} delivered for K={n_segments} asked: only {valid} of its {h * w} "
                "pixels are to segment (finite and inside any --mask; the others are left out)")
    if cells < FEW_SEGMENTS * n_segments:
        why = f"the seed grid on {w}x{h} pixels holds {cells} cell{'' if cells == 1 else 's'}"
    else:
        why = (f"{cells - k} of the {cells} seeds' superpixels came out empty or as fragments merged into "
               f"their neighbours by the connectivity step (about {h * w / cells:.1f} pixels per superpixel asked)")
    return f"notice: {file}: {k} {noun} delivered for K={n_segments} asked: {why}"


def segment_files(files: Iterable[Path], out_dir: Path, model, opts: SegmentOptions,
                  ) -> list[Outcome]:
    """Segment ``files`` into ``out_dir`` with ``model``: read, segment (same-shape images
    batched ``opts.batch_size`` at a time), write atomically. A file that cannot be read
    or segmented gets a ``failed`` outcome with the reason; the others go on.
    Files with arguments of their own (:func:`_file_arguments`) go in batches of their own.
    A file whose labels an earlier run made with these settings (an output asked for now
    missing: ``--features`` added) takes them back rather than computing them again."""
    import numpy as np

    from .bands import TILE_PIXELS
    from .inference import segment
    from .io import is_nifti, nifti_slice_grid, pixel_limit, read_image

    files = [Path(f) for f in files]
    if opts.volume:
        return [_segment_volume_file(f, out_dir, model, opts) for f in files]
    outcomes: dict[str, Outcome] = {}
    images = {}
    notices: dict[Path, str] = {}
    extras: dict[Path, dict] = {}
    limit = pixel_limit(opts.max_pixels)
    grids = {}  # a one-slice NIfTI's image: its labels are written on its grid too
    for f in files:
        try:
            images[f] = read_image(f, max_pixels=limit,
                                   orientation=opts.orientation)
            notices[f] = _stretch_notice(f, images[f])
            extras[f] = _file_arguments(images[f])
            if "mask" in extras[f]:
                left = int(extras[f]["mask"].size - np.count_nonzero(extras[f]["mask"]))
                notices[f] = "\n".join(n for n in (notices[f], f"notice: {f}: {left} pixel(s) NaN or infinite: "
                                                    "left out (label 0)") if n)
            if opts.masks:  # --mask: the file's own, with its finite pixels
                extras[f]["mask"] = _with_mask(f, opts, images[f].shape[:2], extras[f].get("mask"))
            if is_nifti(f):
                grids[f], pixel = nifti_slice_grid(f)
                if opts.spacing is None and pixel is not None:
                    extras[f]["spacing"] = pixel  # the file's pixel size, as a volume's voxel size is taken
        except Exception as exc:  # noqa: BLE001 - one bad file fails alone, whatever went wrong
            images.pop(f, None)
            outcomes[str(f)] = _failed(f, exc)
    # image files are read channels last (read_image): said, so that many channels are not warned about
    kw = dict(model=model, device=opts.device, clustering=opts.clustering, adapt=opts.adapt, progress=opts.progress,
              backend=opts.backend, channel_axis=-1, **({"sigma": opts.sigma} if opts.sigma else {}),
              **({"spacing": opts.spacing} if opts.spacing is not None else {}))
    if opts.boundaries:  # the flood: no network, its own compactness
        kw = dict(boundaries=opts.boundaries, channel_axis=-1,
                  compactness=opts.clustering.compactness if opts.compactness_given else None,
                  **({"sigma": opts.sigma} if opts.sigma else {}),
                  **({"spacing": opts.spacing} if opts.spacing is not None else {}))
    # files with the same arguments go in batches together; a mask is a file's own, and so is
    # an image that runs in bands (prepared with others, it only held their inputs too: 8 photos
    # of 3000x2000, K = 2000, one thread: 40.0 s and 2862 MiB, now 32.0 s and 1377 MiB, the same
    # labels; benchmarks/collection.py large, docs/performance/collection-2026-12-06.txt)
    reused = {}  # labels made before with these settings, an output asked for now missing: not computed again
    for f in files:
        lab = _current_labels(f, out_dir, opts, images[f].shape[:2]) if f in images else None
        if lab is not None:
            reused[f] = lab
    groups: dict[tuple, list[Path]] = {}
    for f in files:
        if f not in images or f in reused:
            continue
        extra = extras.get(f, {})
        alone = "mask" in extra or images[f].shape[0] * images[f].shape[1] > TILE_PIXELS
        groups.setdefault(("alone", str(f)) if alone else tuple(sorted(extra.items())), []).append(f)
    chunks = [([f], None) for f in reused]
    chunks += [(g[i : i + opts.batch_size], {**kw, **extras.get(g[0], {})}) for g in groups.values()
               for i in range(0, len(g), opts.batch_size)]
    try:  # each file's outcome goes in `outcomes` as it is done
        for chunk, args in chunks:
            t0 = time.perf_counter()
            try:
                if args is None:  # made before: read back
                    labels = [reused.pop(chunk[0])]
                elif len(chunk) == 1:
                    labels = [segment(images[chunk[0]], opts.n_segments, **args)]
                else:
                    labels = segment([images[f] for f in chunk], opts.n_segments, batch_size=opts.batch_size, **args)
                per = (time.perf_counter() - t0) / len(chunk)
                results = [(f, lab, per, None) for f, lab in zip(chunk, labels)]
            except Exception as exc:  # noqa: BLE001 - find the file(s) at fault one by one
                if len(chunk) == 1:
                    results = [(chunk[0], None, 0.0, exc)]
                else:
                    results = []
                    for f in chunk:
                        t1 = time.perf_counter()
                        try:
                            results.append((f, segment(images[f], opts.n_segments, **args), time.perf_counter() - t1, None))
                        except Exception as e:  # noqa: BLE001
                            results.append((f, None, 0.0, e))
            for f, lab, dt, exc in results:
                if exc is None:
                    try:
                        _write(f, images[f], lab, out_dir, opts, spacing=extras[f].get("spacing"), nifti=grids.get(f))
                    except KeyboardInterrupt:  # Ctrl-C or kill mid-write: no partial set of outputs without its record
                        _remove_outputs(f, out_dir, opts)
                        raise
                    except Exception as e:  # noqa: BLE001 - nothing of this file is left behind
                        _remove_outputs(f, out_dir, opts)
                        exc = e
                if exc is not None:
                    outcomes[str(f)] = _failed(f, exc)
                else:
                    k = _count_labels(lab[lab > 0] if "mask" in extras.get(f, {}) else lab)  # 0: pixels left out
                    valid = int(np.count_nonzero(lab > 0)) if "mask" in extras.get(f, {}) else None
                    notice = "\n".join(n for n in (notices.get(f, ""), _few_segments_notice(f, lab.shape, opts.n_segments,
                                                                                             k, valid=valid)) if n)
                    outcomes[str(f)] = Outcome(str(f), "done", notice, k=k, seconds=dt, reused=args is None)
                images.pop(f, None)
    except KeyboardInterrupt as exc:  # the outcomes so far go with it: the caller's tally counts them
        exc.outcomes = [outcomes[str(f)] for f in files if str(f) in outcomes]
        raise
    return [outcomes[str(f)] for f in files]


def _segment_volume_file(f: Path, out_dir: Path, model, opts: SegmentOptions) -> Outcome:
    """One 3-D stack: read, supervoxels, outputs (labels .npy and 3-D .tif, the middle
    slice's overlay, the provenance last); nothing of it is left after a failure."""
    import numpy as np

    from .inference import segment
    from .io import is_nifti, pixel_limit, read_nifti, read_volume

    try:
        nifti = None
        if is_nifti(f):
            vol, found, nifti = read_nifti(f, max_voxels=pixel_limit(opts.max_pixels, volume=True))
        else:
            vol, found = read_volume(f, max_voxels=pixel_limit(opts.max_pixels, volume=True))
        spacing = opts.spacing or found or (1.0, 1.0, 1.0)
        finite = _finite_mask(vol, None if vol.ndim == 3 else -1, "voxel of the volume")  # a scan's NaN padding: label 0
        nan_left = None if finite is None else int((~finite).sum())
        finite = _with_mask(f, opts, vol.shape[:3], finite)  # --mask: the file's own, with its finite voxels
        t0 = time.perf_counter()
        labels = _current_labels(f, out_dir, opts, vol.shape[:3])  # made before, an output asked for now missing
        reused = labels is not None
        if labels is None:
            labels = segment(vol, opts.n_segments, channel_axis=None if vol.ndim == 3 else -1, spacing=spacing,
                             model=model, compactness=opts.clustering.compactness if opts.compactness_given else None,
                             sigma=opts.sigma, **({} if finite is None else {"mask": finite}),
                             # the flood runs on the CPU whatever --device (or Ray's GPUs) say, as in 2-D
                             **({"boundaries": opts.boundaries} if opts.boundaries else
                                {"progress": opts.progress, "device": opts.device}))
        dt = time.perf_counter() - t0
        try:
            _write(f, vol, labels, out_dir, opts, spacing=spacing, nifti=nifti)
        except KeyboardInterrupt:  # Ctrl-C or kill mid-write: no partial set of outputs without its record
            _remove_outputs(f, out_dir, opts)
            raise
    except Exception as exc:  # noqa: BLE001 - one bad file fails alone
        _remove_outputs(f, out_dir, opts)
        return _failed(f, exc)
    k = _count_labels(labels[labels > 0] if finite is not None else labels)
    notice = "" if found or opts.spacing else (f"notice: {f}: no voxel size recorded in the file: spacing 1, 1, 1 "
                                               "(--spacing dz,dy,dx sets it)")
    if getattr(found, "note", "") and not opts.spacing:  # partly recorded: what was assumed
        notice = (f"notice: {f}: {found.note}: spacing {', '.join(f'{s:g}' for s in found)} (--spacing dz,dy,dx "
                  "sets it)")
    if nan_left:
        notice = "\n".join(n for n in (notice, f"notice: {f}: {nan_left} NaN or infinite voxel(s) left "
                                                 "out (label 0)") if n)
    few = _few_segments_notice(f, labels.shape, opts.n_segments, k, spacing,
                               valid=None if finite is None else int(np.count_nonzero(labels > 0)))
    if few:
        notice = "\n".join(n for n in (notice, few) if n)
    if opts.spacing and found and tuple(opts.spacing) == tuple(reversed(found)) != tuple(found):
        notice = "\n".join(n for n in (notice, f"notice: {f}: --spacing {','.join(f'{s:g}' for s in opts.spacing)} is the "
                                                 f"file's own voxel size in x, y, z order; --spacing takes dz,dy,dx "
                                                 f"({','.join(f'{s:g}' for s in found)} here)") if n)
    return Outcome(str(f), "done", notice, k=k, seconds=dt, reused=reused)


def _file_arguments(image) -> dict:
    """What one image file needs beyond the run's arguments: four channels (an alpha channel
    the file declares was dropped when it was read, so these are four channels, e.g. four
    fluorescence stains or RGB + NIR) taken as they are (``convert2lab=False``); NaN or
    infinite pixels (a registered or ratio image's padding) left out by a ``mask``."""
    extra: dict = {}
    if image.ndim == 3 and image.shape[2] == 4:
        extra["convert2lab"] = False
    finite = _finite_mask(image, -1 if image.ndim == 3 else None, "pixel of the image")
    if finite is not None:
        extra["mask"] = finite
    return extra


def _finite_mask(data, channel_axis, what: str):
    """:func:`lnsnet.prepare.finite_pixels` of a file's image or volume (None: all
    finite); ``ValueError`` when no ``what`` is finite."""
    from .prepare import finite_pixels

    finite = finite_pixels(data, channel_axis)
    if finite is not None and not finite.any():
        raise ValueError(f"no {what} is finite (all NaN or infinite): nothing to segment")
    return finite


def _failed(f: Path, exc: BaseException) -> Outcome:
    """The outcome of a file that failed: :func:`_message`'s line and the traceback."""
    import traceback

    return Outcome(str(f), "failed", _message(f, exc), trace="".join(traceback.format_exception(exc)))


def _message(f: Path, exc: Exception) -> str:
    """One line for a failed file: the reason, naming the file; an error of an unexpected
    kind (not a refusal of the input) also says what kind it was."""
    msg = " ".join(str(exc).split()) or type(exc).__name__  # one line, whatever the exception wrote
    if isinstance(exc, MemoryError):
        msg = "not enough memory to segment it (try --batch-size 1, or a smaller image)"
    elif not isinstance(exc, (ValueError, TypeError, OSError)):
        msg = f"{type(exc).__name__}: {msg} (rerun this file with --debug for the traceback)"
    return msg if str(f) in msg else f"{f}: {msg}"


def _stretch_notice(f: Path, image) -> str:
    """A notice when the image's values are stretched from their minimum to their maximum
    to reach [0, 1] (lnsnet's rule for any type but uint8, uint16 and floats in [0, 1], as
    slic's): the user sees it happen, with the range."""
    import numpy as np

    if image.dtype in (np.uint8, np.uint16, bool) or image.size == 0:
        return ""
    finite = np.isfinite(image) if image.dtype.kind == "f" else None
    vals = image[finite] if finite is not None else image
    if vals.size == 0:
        return ""
    lo, hi = vals.min(), vals.max()
    if image.dtype.kind == "f" and lo >= 0 and hi <= 1:
        return ""
    return (f"notice: {f}: {image.dtype} values in [{lo:.6g}, {hi:.6g}] stretched to [0, 1] for segmenting "
            "(lnsnet's rule for types other than uint8, uint16 and floats in [0, 1])")


def _remove_outputs(file: Path, out_dir: Path, opts: SegmentOptions) -> None:
    """Delete whatever outputs of ``file`` exist (after a failure while writing them)."""
    for p in output_paths(file, out_dir, opts).values():
        try:
            p.unlink()
        except OSError:
            pass
