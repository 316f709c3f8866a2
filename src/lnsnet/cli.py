"""Command line: ``lnsnet segment | train | info | benchmark``.

The CLI only parses arguments, calls the public API and prints. Errors in the input give
one line on stderr and exit code 2 (``--debug`` shows the traceback). Nothing heavy is
imported at module level: each command imports what it needs (torch, numba, ...), so
``lnsnet --help`` and usage errors take a fraction of a second.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
import warnings
from pathlib import Path

__all__ = ["main"]


class CLIError(Exception):
    """An error reported as one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    """Usage errors as one line on stderr (exit code 2), like every other CLI error; no
    abbreviated options (an old ``--mode`` must not be taken for ``--model``)."""

    def __init__(self, *args, setup=None, **kwargs):
        kwargs.setdefault("allow_abbrev", False)
        self._setup = setup  # adds the options on first use (parsing or help): see _ready
        super().__init__(*args, **kwargs)

    def _ready(self) -> None:
        """Add the options of a parser built with ``setup`` (a subcommand whose option help
        needs heavy imports), once, when it is first parsed or its help is shown: building
        the CLI, ``lnsnet --help`` and the other subcommands do not pay for them."""
        if self._setup is not None:
            setup, self._setup = self._setup, None
            setup(self)
            if getattr(self, "_suppressed", False):
                self._suppress_defaults()

    def _suppress_defaults(self) -> None:
        """Every option's default suppressed (now, and for options a setup adds later): a
        parse then holds only what the command line gave (:func:`_given_options`)."""
        self._suppressed = True
        for action in self._actions:
            action.default = argparse.SUPPRESS

    def parse_known_args(self, args=None, namespace=None):
        self._ready()
        return super().parse_known_args(args, namespace)

    def format_help(self):
        self._ready()
        return super().format_help()

    def format_usage(self):
        self._ready()
        return super().format_usage()

    def error(self, message):
        self.exit(2, f"error: {self.prog}: {message} (see '{self.prog} --help')\n")


def _positive_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {v}")
    return v


def _int_list(text: str) -> list[int]:
    try:
        vals = [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not vals or min(vals) < 1:
        raise argparse.ArgumentTypeError(f"expected positive integers, got {text!r}")
    return vals


_CREATED: list[Path] = []  # output folders this command made: removed at the end if still empty


def _writable_dir(path: Path) -> Path:
    try:
        if not os.path.lexists(path):
            missing = path
            while not os.path.lexists(missing.parent) and missing.parent != missing:
                missing = missing.parent
            _CREATED.append(missing)
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CLIError(f"cannot create output folder {path}: {exc.strerror or exc}") from None
    probe = path / ".lnsnet-write-test"
    try:
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise CLIError(f"output folder {path} is not writable: {exc.strerror or exc}") from None
    return path


def _passed_on(args, *names: str) -> dict:
    """The options ``names`` of ``args`` as keyword arguments of the same names."""
    return {name: getattr(args, name) for name in names}


# ------------------------------------------------------------------------------ segment

#: the ends of the names of `lnsnet segment`'s own outputs (not inputs when found in -o)
OUTPUT_SUFFIXES = ("_labels.png", "_labels.tif", "_overlay.png", "_labels.npy", "_labels.nii.gz")


def _own_output(f: Path, tagged_only: list | None = None) -> bool:
    """Whether ``f`` is an output of ``lnsnet segment``: an output's ending and its record
    beside it, or (a killed run's outputs, whose record it had not written yet) lnsnet's tag
    in it or in the label image written before it; those found by the tag alone are added to
    ``tagged_only``."""
    end = next((e for e in OUTPUT_SUFFIXES if f.name.endswith(e)), None)
    if end is None:
        return False
    base = f.parent / f.name[: -len(end)]
    if base.with_name(base.name + "_labels.json").is_file():  # its record beside it
        return True
    from .io import written_by_lnsnet

    tagged = (written_by_lnsnet(f) if end in ("_labels.png", "_labels.tif", "_overlay.png") else
              any(written_by_lnsnet(base.with_name(base.name + e)) for e in ("_labels.tif", "_labels.png")))
    if tagged and tagged_only is not None:
        tagged_only.append(f)
    return tagged


def _input_files(args, volumes: bool = False) -> list[Path]:
    """Apply ``--threads`` and expand the image arguments (files, folders, list files;
    ``volumes``: folders give their .tif, .tiff, .npy, .nii and .nii.gz files)."""
    from .io import VOLUME_ONLY_SUFFIXES, VOLUME_SUFFIXES
    from .train import expand_sources

    if args.threads:
        from .runtime import set_threads

        set_threads(args.threads)
    out = getattr(args, "output", None)
    out = Path(out).resolve() if out else None
    try:
        files = expand_sources(args.images, suffixes=VOLUME_SUFFIXES if volumes else None, recursive=args.recursive)
    except (FileNotFoundError, ValueError) as exc:
        raise CLIError(str(exc)) from None
    # lnsnet's own outputs found in a folder are not inputs (a rerun with -o inside an input
    # folder, the outputs of an earlier run into it): a file with an output's ending and the
    # record lnsnet writes beside its outputs (NAME_labels.json) or lnsnet's Software tag in
    # it; a photo that only ends so is an input, and a file named on the command line always is
    explicit = {os.path.realpath(a) for a in args.images if os.path.isfile(a)}
    roots = tuple(os.path.join(os.path.realpath(a), "") for a in args.images if os.path.isdir(a))
    if out is not None and out.is_dir():  # and -o (a list file's entries there: an earlier run's outputs)
        roots += (os.path.join(str(out), ""),)
    tagged_only: list[Path] = []  # taken as lnsnet's outputs by their tag alone: named in a note
    files = [f for f in files if os.path.realpath(f) in explicit or not os.path.realpath(f).startswith(roots)
             or not _own_output(f, tagged_only)]
    if getattr(args, "quiet", False):
        return files
    if tagged_only:
        print(f"note: {len(tagged_only)} file(s) taken as lnsnet's outputs (written by it, without their record), "
              f"not read ({', '.join(f.name for f in tagged_only[:3])}{', ...' if len(tagged_only) > 3 else ''}): "
              "name a file to segment it", file=sys.stderr)
    named = {Path(a).resolve() for a in args.images if Path(a).is_dir()}  # folders the user named: read
    folders: list[Path] = []  # the folders read: each named one, and with --recursive its tree's
    tops, seen, links = [], set(), []
    for d in map(Path, args.images):
        if d.is_dir() and d.resolve() not in {f.resolve() for f in tops}:
            tops.append(d)
            for top, dirs, _ in (os.walk(d) if args.recursive else [(str(d), [], [])]):  # as expand_sources walks
                links += [Path(top) / x for x in dirs if not x.startswith(".") and os.path.islink(os.path.join(top, x))]
                dirs[:] = sorted(x for x in dirs if not x.startswith("."))
                if os.path.realpath(top) not in seen:  # (a folder named inside another named one: once)
                    seen.add(os.path.realpath(top))
                    folders.append(Path(top))
    from .io import UNREAD_IMAGE_SUFFIXES

    unread_kinds = (".hdr",) if volumes else UNREAD_IMAGE_SUFFIXES  # Analyze .hdr/.img pairs beside volumes
    subs, unread, vols = [], [], []
    for d in folders:
        entries = sorted(d.iterdir())  # (each folder listed once)
        if not args.recursive:  # folders are read flat: say so when they hold folders (not -o's)
            subs += [s for s in entries if s.is_dir() and not s.name.startswith(".")
                     and s.resolve() not in named
                     and not (out is not None and (out == s.resolve() or s.resolve() in out.parents))]
        # files of a kind lnsnet does not read: named, not passed over in silence
        unread += [f for f in entries if f.suffix.lower() in unread_kinds and f.is_file() and not f.name.startswith(".")]
        if not volumes:  # volume files beside the images are not images: say so rather than skip them in silence
            vols += [f for f in entries if f.is_file() and f.name.lower().endswith(VOLUME_ONLY_SUFFIXES)
                     and not _own_output(f)]
    where = (f"{tops[0]}{' and its subfolders' if len(folders) > 1 else ''}" if len(tops) == 1
             else "the folders read")

    def some(paths):  # a few names, with their folders in the tree when it was walked
        show = [os.path.relpath(p, tops[0]) if len(tops) == 1 else str(p) for p in paths[:3]] \
            if args.recursive else [p.name for p in paths[:3]]
        return f"{', '.join(show)}{', ...' if len(paths) > 3 else ''}"

    if subs:
        print(f"note: {len(subs)} subfolder(s) of {where} not read ({some(subs)}): name them as inputs or pass "
              "--recursive to include them", file=sys.stderr)
    if links:
        print(f"note: {len(links)} link(s) to folders in {where} not followed ({some(links)}): name them as inputs "
              "to include them", file=sys.stderr)
    if unread:
        what = ("Analyze .hdr/.img volume(s)", "save them as NIfTI (.nii.gz) with nibabel") if volumes else \
            ("image file(s)", "convert them to PNG, JPEG or TIFF")
        print(f"note: {len(unread)} {what[0]} of {where} of a kind lnsnet does not read ({some(unread)}): {what[1]}",
              file=sys.stderr)
    if vols:
        print(f"note: {len(vols)} volume file(s) of {where} not read ({some(vols)}): segment volumes with --volume",
              file=sys.stderr)
    return files


def _non_negative_int(text: str) -> int:
    try:
        v = int(text.replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}") from None
    if v < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {v}")
    return v


def _add_reading_options(p, volume_help: str) -> None:
    """How image files are read, the same for segment and train (docs/reliability.md),
    and ``--volume`` / ``--spacing`` for 3-D stacks."""
    p.add_argument("--volume", action="store_true", help=volume_help)
    p.add_argument("-r", "--recursive", action="store_true",
                   help="read folders with their subfolders (hidden ones and links to folders left out; lnsnet's "
                        "own outputs are never read; segment's outputs mirror the tree; default: a folder's own files)")
    p.add_argument("--spacing", default=None, metavar="[DZ,]DY,DX",
                   help="the pixel size dy,dx of 2-D images (segment: superpixels square in physical units; default "
                        "1,1), or with --volume the voxel size dz,dy,dx in the unit the files record (µm, nm, mm, "
                        "...): the numbers replace each file's voxel size and its unit stays (segment writes it to "
                        "the labels' TIFF and refuses files of different units in one run) (default: each file's "
                        "own voxel size: OME, ImageJ spacing and resolution, NIfTI zooms, else 1,1,1)")
    p.add_argument("--max-pixels", type=_non_negative_int, default=None, metavar="N",
                   help="refuse images of more than N pixels (volumes: voxels), checked from the file's header "
                        "before decoding (default: lnsnet.io.MAX_PIXELS, 268,435,456 = 16384 x 16384; volumes "
                        "lnsnet.io.MAX_VOXELS, 1,073,741,824; 0: no limit)")
    p.add_argument("--ignore-orientation", action="store_true",
                   help="segment the pixels as stored, ignoring the EXIF orientation tag (default: apply it, so "
                        "the outputs are upright as viewers show the image)")


def _spacing(text: str | None, n: int) -> tuple | None:
    """``--spacing`` as ``n`` floats > 0: a volume's dz,dy,dx (3) or an image's dy,dx (2);
    None when not given."""
    if text is None:
        return None
    try:
        vals = tuple(float(v) for v in text.split(","))
    except ValueError:
        vals = ()
    if len(vals) != n or not all(0 < v < float("inf") for v in vals):
        raise CLIError(f"--spacing takes three numbers > 0, dz,dy,dx: got {text!r}" if n == 3 else
                       f"--spacing of a 2-D image takes two numbers > 0, dy,dx (a volume's, with --volume: "
                       f"dz,dy,dx): got {text!r}")
    return vals


def _spacing_in_files_unit(spacing: tuple, text: str, files: list):
    """``--spacing`` of volumes in the unit the files record (their headers read alone), as
    a :class:`lnsnet.io.VoxelSize` whose unit the labels' TIFF is written with: the numbers
    replace the file's own voxel size, the unit stays (written without it, a stack in µm
    got labels in pixels). Files recording different units cannot share one voxel size:
    refused before any work."""
    from .io import VoxelSize, volume_unit

    units: dict[str, list] = {}
    for f in files:
        unit = volume_unit(f)
        if unit:
            units.setdefault(unit, []).append(f)
    if len(units) > 1:
        found = "; ".join(f"{u} in {fs[0]}" + (f" and {len(fs) - 1} more" if len(fs) > 1 else "")
                          for u, fs in units.items())
        raise CLIError(f"--spacing {text} is in the unit the files record, and these record different ones ({found}): "
                       "segment the files of each unit in a run of their own")
    return VoxelSize(spacing, unit=next(iter(units), ""))


COMPILING = "lnsnet: compiling the CPU kernels once (about 10-30 s); later calls reuse them"


def _cmd_segment(args) -> int:
    from dataclasses import replace

    from .cluster import ClusterOptions
    from .jobs import (SegmentOptions, load_segment_model, model_id, output_names, output_paths, pending,
                       remove_stale_temps, segment_files)

    if args.adapt < 0:
        raise CLIError(f"--adapt must be >= 0, got {args.adapt}")
    try:  # fail before any file is read, not once per file
        clustering = ClusterOptions.of(args.clustering)
    except (TypeError, ValueError) as exc:
        raise CLIError(f"--clustering {args.clustering}: {exc}") from None
    try:
        clustering = clustering.replace(compactness=args.compactness)
    except ValueError as exc:
        raise CLIError(f"--compactness: {exc}") from None
    spacing = _spacing(args.spacing, 3 if args.volume else 2)
    if not (args.sigma >= 0 and args.sigma < float("inf")):
        raise CLIError(f"--sigma must be a number >= 0, got {args.sigma:g}")
    if args.boundaries and (args.adapt or args.clustering or args.backend != "torch"
                            or (args.model is not None and args.model != "none")):
        raise CLIError("--boundaries floods the image itself: it takes no --model, --clustering, --adapt or "
                       "--backend")
    if args.volume and (args.adapt or args.clustering):
        raise CLIError("--volume takes neither --adapt nor --clustering (the 3-D clustering has its "
                       "own options: --compactness)")
    if args.backend != "torch":
        from .backends import check_backend

        try:
            check_backend(args.backend, device_type="cpu" if args.device is None else str(args.device).split(":")[0],
                          adapt=args.adapt, volume=args.volume, features=clustering.features)
        except ValueError as exc:
            raise CLIError(f"--backend {args.backend}: {exc}") from None
    files = _input_files(args, volumes=args.volume)
    from .io import NIBABEL_HINT, is_nifti

    if any(is_nifti(f) for f in files):
        try:
            import nibabel  # noqa: F401
        except ImportError:
            raise CLIError(f"NIfTI files need nibabel: {NIBABEL_HINT}") from None
    named = {os.path.realpath(a) for a in args.images if os.path.isfile(a)}
    if args.mask is not None:
        if not os.path.exists(args.mask):
            raise CLIError(f"--mask: no such file or folder: {args.mask}")
        # masks kept beside their images (NAME_mask.png, or a single mask file in an input
        # folder) are not inputs
        from .jobs import mask_file

        def mask_of(f):
            try:
                return os.path.realpath(mask_file(f, args.mask))
            except FileNotFoundError:
                return None

        masks = {mask_of(f) for f in files} - {None}
        files = [f for f in files if os.path.realpath(f) not in masks or os.path.realpath(f) in named]
    if not files:
        raise CLIError("no input image left: the only images found are lnsnet's own outputs")
    if spacing is not None and args.volume:
        spacing = _spacing_in_files_unit(spacing, args.spacing, files)
    try:  # the outputs mirror the input tree under -o: refuse names that would collide
        names = output_names(files, roots=[a for a in args.images if os.path.isdir(a)])
    except ValueError as exc:
        raise CLIError(str(exc)) from None

    unique: dict[str, Path] = {}  # a file given twice (by name and in its folder) is done once
    for f in files:
        first = unique.setdefault(os.path.realpath(f), f)
        if first is not f and not args.quiet and Path(first) != Path(f):
            print(f"note: {f} is the same file as {first}: segmented once", file=sys.stderr)
    files = list(unique.values())
    out = _writable_dir(Path(args.output))
    opts = SegmentOptions(n_segments=args.n_segments, clustering=clustering, device=args.device,
                          overlay=not args.no_overlay, overwrite=args.overwrite, batch_size=args.batch_size,
                          adapt=args.adapt,
                          # a large image's own bar (in bands) only on a terminal: in a log file its cursor moves
                          # are escapes
                          progress=not args.quiet and args.engine == "local" and sys.stderr.isatty(),
                          features=args.features, names=names,
                          model_id=model_id(args.model) if (args.model or not args.volume) and not args.boundaries else "none",
                          max_pixels=args.max_pixels, orientation=not args.ignore_orientation,
                          volume=args.volume, spacing=spacing, sigma=args.sigma,
                          compactness_given=args.compactness is not None,
                          backend=args.backend, boundaries=args.boundaries,
                          masks=None if args.mask is None else os.path.realpath(args.mask))
    if not args.num_gpus >= 0:
        raise CLIError(f"--num-gpus must be >= 0, got {args.num_gpus:g}")
    if args.engine != "ray" and (args.address or args.num_gpus or args.workers is not None):
        raise CLIError("--address, --num-gpus and --workers need --engine ray (the local engine uses --threads)")
    # the model, loaded once here (on the CPU for Ray, whose actors load it on their own
    # devices): a wrong one fails before any file is read or Ray starts
    try:
        model = load_segment_model(args.model, opts if args.engine == "local" else replace(opts, device=None))
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    if args.engine == "ray":
        from .distributed import ray_segment

        outcomes = ray_segment(files, out, opts, model=args.model, address=args.address, num_gpus=args.num_gpus,
                               num_workers=args.workers, threads=args.threads, progress=not args.quiet)
        _report(outcomes, args, None)
    else:
        todo, outcomes = pending(files, out, opts)
        if todo and not args.quiet:
            from .runtime import KERNEL_MODULES, kernels_cached

            if not kernels_cached(("lnsnet.flood",) if args.boundaries else ("lnsnet.volume",) if args.volume
                                  else KERNEL_MODULES):
                print(COMPILING, file=sys.stderr, flush=True)
        bar = None
        if not args.quiet and len(files) > 1:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(files), unit="img", desc="lnsnet segment", dynamic_ncols=True)
            bar.update(len(outcomes))
        _report(outcomes, args, bar)  # each file's error or notice as it comes, not after the last file
        step = max(1, opts.batch_size)
        try:
            for i in range(0, len(todo), step):
                res = segment_files(todo[i : i + step], out, model, opts)
                outcomes += res
                _report(res, args, bar)
                if bar is not None:
                    bar.update(len(res))
        except KeyboardInterrupt as exc:  # what this run did, before `interrupted`
            outcomes += getattr(exc, "outcomes", [])  # the files of the batch stopped midway that were done
            _report(getattr(exc, "outcomes", []), args, bar)
            if bar is not None:
                bar.close()
            listed = _record_failures(out, outcomes, len(files) > 1)
            if len(files) > 1:
                print(_tally(outcomes, out) + f", not reached: {len(files) - len(outcomes)}" + listed, file=sys.stderr)
            raise
        if bar is not None:
            bar.close()
        remove_stale_temps(files, out, opts)  # left by an earlier run killed mid-write (kill -9, the OOM killer)
    failed = [o for o in outcomes if o.status == "failed"]
    done = [o for o in outcomes if o.status == "done"]
    listed = _record_failures(out, outcomes, len(files) > 1)
    if not args.quiet and len(files) == 1 and done:
        o = done[0]
        paths = output_paths(Path(o.file), out, opts)
        written = [paths["npy"], paths["tif"] if paths["tif"].exists() and not paths["png"].exists() else paths["png"]]
        written += [paths["nii"]] if is_nifti(o.file) and paths["nii"].exists() else []
        written += [paths["overlay"]] if opts.overlay else []
        written += [paths["regions"]] if opts.features else []
        noun = ("supervoxel" if args.volume else "superpixel") + ("" if o.k == 1 else "s")
        how = "from the labels of an earlier run" if o.reused else f"in {o.seconds * 1000:.0f} ms"
        print(f"{o.file}: {o.k} {noun} (K={args.n_segments}) {how} -> " + ", ".join(map(str, written)))
    if len(files) == 1 and outcomes and outcomes[0].status == "skipped":
        print(f"{outcomes[0].file}: skipped: its outputs in {out} are from this file with these settings "
              "(--overwrite redoes it)", file=sys.stderr)
    if len(files) > 1:
        print(_tally(outcomes, out) + listed, file=sys.stderr)
    return 2 if failed else 0


#: the failed inputs of the runs into an output folder, a line each: the file and its error
FAILURES = "failures.tsv"


def _record_failures(out: Path, outcomes, collection: bool) -> str:
    """Keep ``out/failures.tsv`` (tab-separated, quoted where a name holds a tab: the file's
    path, its folder's real path with its own name, and its error) as the list of the inputs whose last run into ``out`` failed:
    this run's failures (of a ``collection``, a run of several inputs: one file's error is
    its run's one line, and its line, if any, stays) replace the lines of the files it
    processed (done, skipped or failed), the lines of files it did not touch stay while
    those files exist, and no line left removes the file. Returns a note for the tally,
    naming the file when it lists this run's failures."""
    from .runtime import folder_lock

    with folder_lock(out):  # two runs into one folder: one updates the list after the other
        return _update_failures(out, outcomes, collection)


def _update_failures(out: Path, outcomes, collection: bool) -> str:
    import csv
    import io

    path = out / FAILURES
    rows: dict[str, str] = {}
    before = None
    try:  # names as the file system gives them (surrogateescape: any bytes)
        before = path.read_text(encoding="utf-8", errors="surrogateescape")
        for row in list(csv.reader(io.StringIO(before), dialect="excel-tab"))[1:]:
            if len(row) == 2 and os.path.lexists(row[0]):  # a file deleted since is no failure of the collection
                rows[row[0]] = row[1]
    except (OSError, csv.Error):
        pass  # none yet (or not ours to read): started afresh
    def key(f):  # its folder's real path (a link to a folder: one line) and its own name (a link's, not its target's)
        return os.path.join(os.path.realpath(os.path.dirname(f) or "."), os.path.basename(f))  # (`link/..` as the OS)

    for o in outcomes:
        if o.status in ("done", "skipped") or (o.status == "failed" and collection):
            rows.pop(key(o.file), None)
    failed = [o for o in outcomes if o.status == "failed"] if collection else []
    for o in failed:
        rows[key(o.file)] = " ".join(o.message.split())  # one line
    text = None
    if rows:
        buf = io.StringIO()
        writer = csv.writer(buf, dialect="excel-tab", lineterminator="\n")
        writer.writerow(["file", "error"])
        writer.writerows(sorted(rows.items()))
        text = buf.getvalue()
    if text == before or (text is None and not os.path.lexists(path)):  # unchanged: not written again
        return f"; failures listed in {path}" if failed else ""
    tmp = path.with_name(f".{FAILURES}.{os.getpid()}.tmp")
    try:
        if text is not None:
            tmp.write_text(text, encoding="utf-8", errors="surrogateescape")
            os.replace(tmp, path)
        else:
            path.unlink(missing_ok=True)
    except (OSError, UnicodeError) as exc:
        tmp.unlink(missing_ok=True)
        print(f"note: could not write {path}: {getattr(exc, 'strerror', None) or exc}", file=sys.stderr)
        return ""
    return f"; failures listed in {path}" if failed else ""


def _tally(outcomes, out) -> str:
    count = {s: sum(o.status == s for o in outcomes) for s in ("done", "failed", "skipped")}
    reused = sum(o.status == "done" and o.reused for o in outcomes)
    return (f"done: {count['done']}{f' ({reused} with the labels of an earlier run)' if reused else ''}, "
            f"failed: {count['failed']}, skipped: {count['skipped']} (output in {out})")


def _report(outcomes, args, bar) -> None:
    """The error of each failed file (its traceback first with --debug) and the notices of
    each done one (far fewer superpixels than K and why, values stretched, pixels left
    out), on stderr above the progress bar."""
    for o in outcomes:
        lines = ([o.trace.rstrip()] if args.debug and o.status == "failed" and o.trace else []) + (
            [f"error: {o.message}"] if o.status == "failed" else [o.message] if o.status == "done" and o.message
            else [])
        for line in lines:
            if bar is not None:
                bar.write(line, file=sys.stderr)
            else:
                print(line, file=sys.stderr, flush=True)


# -------------------------------------------------------------------------------- train

def _cmd_train(args) -> int:
    from . import train_stream
    from .io import pixel_limit

    if args.resume and args.overwrite:
        raise CLIError("--resume continues the checkpoint in --output, --overwrite starts it again: pass one of them")
    if args.resume and args.init:
        raise CLIError("--init starts a new run from a model; --resume continues the checkpoint's own model: pass one "
                       "of them")
    output = Path(args.output)
    if args.output.endswith(("/", os.sep)) or output.is_dir():
        raise CLIError(f"-o {args.output} is a folder: the model is one file (e.g. -o {output / 'model.pt'})")
    files = _input_files(args, volumes=args.volume)
    _writable_dir(output.parent if str(output.parent) else Path("."))
    if output.exists() and not args.resume and not args.overwrite:
        raise CLIError(f"{output} exists; pass --resume to continue it or --overwrite to start over")
    if args.log is not None and Path(args.log).resolve() == Path(output).resolve():
        raise CLIError(f"--log {args.log} is the model's own file (-o): name another file for the log")
    if args.log is not None:
        from .train import has_checkpoint, start_log

        try:
            # checked only: emptied (--overwrite) when training starts
            start_log(args.log, args.resume and has_checkpoint(output), args.overwrite, check_only=True)
        except FileExistsError:
            if args.resume:  # a run whose model was never saved (killed before its first checkpoint)
                raise CLIError(f"--log {args.log} holds the records of a run that left no checkpoint at {output}: "
                               "nothing to resume; --overwrite starts the log (and the model) again, or pass "
                               "another --log file") from None
            raise CLIError(f"--log {args.log} holds the records of another run; pass --resume to continue that run, "
                           "--overwrite to start the log again, or another --log file") from None
        except OSError as exc:
            raise CLIError(f"--log {args.log} cannot be written: {exc.strerror or exc}") from None
    if args.volume:
        return _train_volumes(args, files, output)
    if args.spacing is not None:
        raise CLIError("--spacing is the voxel size of --volume inputs here (2-D training takes no pixel size)")
    try:
        cfg = _train_config(args)
    except ValueError as exc:
        raise CLIError(_as_flags(str(exc), _TRAIN_FLAGS + ("contour_iterations", "contours_only", "n_segments",
                                                           "lr"))) from None
    if args.boundaries is not None and not Path(args.boundaries).is_dir():
        raise CLIError(f"--boundaries: no such folder: {args.boundaries}")
    before, saved = _checkpoint_state(output) if args.resume else (0, {})
    if before is not None and args.resume:  # the run's own settings; a flag given with another value is named
        _warn_unused_on_resume(args, cfg.to_dict(), saved, _TRAIN_FIELDS)
        cfg = None
    if args.resume and before is None:
        print(f"note: --resume: no checkpoint at {output}; starting a new model", file=sys.stderr)
    start = args.init or None  # a name or file: train_stream loads it and records it in the checkpoint
    t0 = time.perf_counter()
    skipped: list[str] = []
    on_skip = _skip_reporter(args, skipped)
    train_stream(
        files,
        output,
        config=cfg,
        model=start,
        progress=not args.quiet,
        max_pixels=pixel_limit(args.max_pixels),
        orientation=not args.ignore_orientation,
        on_skip=on_skip,
        **_passed_on(args, "resume", "overwrite", "checkpoint_every", "boundaries", "max_images", "device", "log"),
    )
    if not args.quiet:
        trained = (_checkpoint_state(output)[0] or 0) - (before or 0) - len(skipped)
        if trained <= 0 and not skipped:
            print(f"nothing left to train: {output} has passed as many images as the stream holds "
                  f"(--overwrite starts again; --init {output} -o NEW.pt trains a copy on another stream)")
        else:
            print(f"trained on {trained} image(s) in {time.perf_counter() - t0:.1f} s -> {output}")
    return _skipped_summary(skipped, "image")


_TRAIN_FLAGS = ("iterations", "feature_iterations", "lr_decay_images", "beta", "phi", "epsilon", "seed")


def _train_config(args):
    """The training configuration of ``lnsnet train``'s flags, with their contour prior
    (maps when ``--boundaries`` is given)."""
    from .train import TrainConfig

    return TrainConfig(**_passed_on(args, *_TRAIN_FLAGS), **({} if args.lr is None else {"lr": args.lr}),
                       n_neighbours=args.neighbours, contour_iterations=args.contour_iterations,
                       contours_only=args.contours_only, contour=args.contour if args.boundaries is None else "user",
                       n_segments=tuple(args.n_segments))


#: ``lnsnet train``'s flags (their dests) that set a field of the training configuration
_TRAIN_FIELDS = {**{name: name for name in _TRAIN_FLAGS}, "lr": "lr", "neighbours": "n_neighbours",
                 "contour_iterations": "contour_iterations", "contours_only": "contours_only", "contour": "contour",
                 "n_segments": "n_segments"}
_VOLUME_TRAIN_FIELDS = {"iterations": "steps", "lr": "lr", "beta": "beta", "phi": "phi", "epsilon": "epsilon",
                        "seed": "seed"}


def _given(args, name: str) -> bool:
    """Whether option ``name`` (its dest) was on the command line (``main`` records them;
    ``args`` made otherwise: whether it differs from its default)."""
    if hasattr(args, "given"):
        return name in args.given
    defaults = build_parser().parse_args(["train", "x", "-o", "x.pt"])
    return getattr(args, name) != getattr(defaults, name, None)


def _warn_unused_on_resume(args, new: dict, saved: dict, fields: dict) -> None:
    """--resume continues with the checkpoint's training settings: a flag given on the
    command line with another value is named (one not given is not)."""
    unused = [f"--{flag.replace('_', '-')} (the run's {field}={saved[field]!r}, not {new[field]!r})"
              for flag, field in fields.items()
              if _given(args, flag) and field in saved and new.get(field) != saved[field]]
    if unused:
        warnings.warn("--resume continues with the training settings stored in the checkpoint; not used: "
                      + ", ".join(unused), stacklevel=2)


def _as_flags(message: str, names, renamed=None) -> str:
    """A training configuration's error with its field names as the flags that set them."""
    renamed = dict(renamed or {})
    for name in sorted(set(names) | set(renamed), key=len, reverse=True):
        flag = "--" + renamed.get(name, name).replace("_", "-")
        message = re.sub(rf"(?<![\w-]){name}\b", flag, message)
    return message


def _checkpoint_state(output: Path, volume: bool = False) -> tuple[int | None, dict]:
    """How many images (volumes) of the stream the checkpoint at ``output`` has passed
    (trained or skipped; None when there is none, 0 when it cannot be read: the training
    falls back to ``.prev`` or says why) and the training configuration stored in it."""
    from . import checkpoint
    from .train import has_checkpoint

    if not (output.is_file() if volume else has_checkpoint(output)):
        return None, {}
    try:
        with warnings.catch_warnings():  # the training says it when it falls back to .prev
            warnings.simplefilter("ignore")
            if volume:
                from .volume_model import _load_payload

                payload = _load_payload(output)
            else:
                payload, _ = checkpoint.load_latest(output)
    except (OSError, ValueError):
        return 0, {}
    return int(payload.get("position", 0)), dict(payload.get("train_config") or {})


def _train_volumes(args, files, output) -> int:
    """``lnsnet train --volume``: the 3-D network (lnsnet.volume_model) on a stream of stacks."""
    from .io import pixel_limit
    from .volume_model import VolumeTrainConfig, load_volume_model, train_volumes

    if any(_given(args, name) for name in ("boundaries", "contour", "n_segments")):
        raise CLIError("--volume takes none of --boundaries, --contour, -k (the 3-D training draws crops; "
                       "docs/volumes.md)")
    given = [f"--{name.replace('_', '-')}" for name in ("checkpoint_every", "feature_iterations", "lr_decay_images",
                                                        "neighbours", "contour_iterations", "contours_only", "device")
             if _given(args, name)]
    if given:
        raise CLIError(f"--volume takes none of {', '.join(given)} (2-D training's options; the 3-D training runs "
                       "on the CPU with --iterations crops a volume: docs/volumes.md)")
    spacing = _spacing(args.spacing, 3)
    try:
        cfg = VolumeTrainConfig(steps=args.iterations, beta=args.beta, phi=args.phi, epsilon=args.epsilon,
                                seed=args.seed, **({} if args.lr is None else {"lr": args.lr}))
    except ValueError as exc:
        raise CLIError(_as_flags(str(exc), ("beta", "phi", "epsilon", "lr"), {"steps": "iterations"})) from None
    if args.resume and output.is_file():  # the run's own settings; a flag given with another value is named
        _warn_unused_on_resume(args, cfg.to_dict(), _checkpoint_state(output, volume=True)[1], _VOLUME_TRAIN_FIELDS)
        cfg = None
    skipped: list[str] = []
    on_skip = _skip_reporter(args, skipped)
    t0 = time.perf_counter()
    train_volumes(files, output, spacings=None if spacing is None else [spacing] * len(files),
                  net=load_volume_model(args.init) if args.init else None, config=cfg, resume=args.resume,
                  progress=not args.quiet, log=args.log, on_skip=on_skip, overwrite=args.overwrite,
                  max_voxels=pixel_limit(args.max_pixels, volume=True), max_volumes=args.max_images)
    if not args.quiet:
        print(f"done in {time.perf_counter() - t0:.1f} s -> {output}")
    return _skipped_summary(skipped, "volume")


def _skip_reporter(args, skipped: list):
    """A training stream's ``on_skip``: one ``skipped:`` line on stderr (above the progress
    bar), naming the file unless the reason does; the names collected in ``skipped``."""
    def on_skip(name: str, reason: str) -> None:
        skipped.append(name)
        line = f"skipped: {reason}" if name in reason else f"skipped: {name}: {reason}"
        if args.quiet:
            print(line, file=sys.stderr, flush=True)
        else:
            from tqdm.auto import tqdm

            tqdm.write(line, file=sys.stderr)

    return on_skip


def _skipped_summary(skipped: list, noun: str) -> int:
    """The exit code of a training stream (2 when something was skipped, said in one line)."""
    if not skipped:
        return 0
    print(f"{len(skipped)} {noun}(s) skipped, named above: they could not be read or used; the model was trained "
          "on the others", file=sys.stderr)
    return 2


# --------------------------------------------------------------------------------- info

def model_summary(model, height: int = 321, width: int = 481) -> dict:
    """Parameter counts and FLOPs (torch.utils.flop_counter) of the inference path."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from .grid import make_grid

    fem = sum(p.numel() for p in model.embedder.parameters())
    sel = sum(p.numel() for p in model.seed_layer.parameters())
    rec = sum(p.numel() for p in model.reconstruction.parameters())
    head = 0 if model.contour_head is None else sum(p.numel() for p in model.contour_head.parameters())
    x = torch.zeros(1, 5, height, width)
    with torch.inference_mode(), FlopCounterMode(display=False) as fc:
        model.embed(x)
    fem_flops = fc.get_total_flops()
    head_flops = 0
    if model.contour_head is not None:
        with torch.inference_mode(), FlopCounterMode(display=False) as fc3:
            model.contours(x[:, :3])
        head_flops = fc3.get_total_flops()
    with torch.inference_mode(), FlopCounterMode(display=False) as fc2:
        model(x, make_grid(height, width, 100))
    return {
        "params_fem": fem,
        "params_sel": sel,
        "params_reconstruction": rec,
        "params_contour": head,
        "params_total": fem + sel + rec + head,
        "flops_fem": fem_flops,
        "flops_contour": head_flops,
        "flops_inference_k100": fc2.get_total_flops(),
        "size": f"{width}x{height}",
    }


def _cmd_info(args) -> int:
    import platform

    import torch

    from . import __version__, available_models, load_model

    print(f"lnsnet {__version__}, torch {torch.__version__}, python {platform.python_version()}")
    print(f"model: {args.model or 'bsds500 (shipped)'}; shipped models: {', '.join(available_models()) or 'none'}")
    try:
        model = load_model(args.model, None)
    except ValueError:
        if not _info_volume_model(args.model):
            raise
        return 0
    s = model_summary(model)
    print(f"config: {model.config.to_dict()}")
    if args.model and Path(args.model).is_file():
        _info_training(args.model)
    print(
        f"parameters: {s['params_total']:,} (FEM {s['params_fem']:,}, SEL {s['params_sel']:,}, "
        f"reconstruction head {s['params_reconstruction']:,}, contour head {s['params_contour']:,}; inference "
        f"uses the contour head alone ({s['params_contour']:,}); "
        f"--clustering compact FEM+SEL+contour head = {s['params_fem'] + s['params_sel'] + s['params_contour']:,})"
    )
    print(
        f"FLOPs at {s['size']} (torch.utils.flop_counter, 1 multiply-add = 2 FLOPs): FEM "
        f"{s['flops_fem'] / 1e9:.3f} G ({s['flops_fem'] / 2e9:.3f} G multiply-adds); "
        f"FEM+SEL at K=100 {s['flops_inference_k100'] / 1e9:.3f} G; contour head {s['flops_contour'] / 1e9:.3f} G"
    )
    cuda = torch.cuda.is_available()
    print(f"devices: cpu ({torch.get_num_threads()} threads)" + (f", cuda: {torch.cuda.get_device_name(0)}" if cuda else ", no CUDA GPU"))
    return 0


def _info_training(path) -> None:
    """What a model file says of its training: images passed, the model it started from,
    its settings."""
    from .checkpoint import load

    payload = load(path)
    if "position" not in payload:
        print("training: none recorded (a model exported without its training state)")
        return
    start = payload.get("started_from")
    cfg = payload.get("train_config", {})
    what = "the contour head alone" if cfg.get("contours_only") else "the whole network"
    origin = "a new network" if start is None else f"{start['name']} (sha256 {str(start.get('sha256'))[:12]})"
    history = payload.get("history") or []
    skipped = sum(1 for r in history if isinstance(r, dict) and "skipped" in r)
    passed = f"{payload['position']} image(s) of a stream" + (f" ({skipped} of them skipped)" if skipped else "")
    from .train import head_never_trained

    never = head_never_trained(payload.get("new_head", start is None), history)
    head = ("; its contour head never trained (the default clustering reads only that head: use --clustering "
            "compact or paper)" if never and cfg.get("contour_iterations") == 0 else "")
    print(f"training: {passed}, {what}, from {origin}{head}; settings: {cfg}")


def _info_volume_model(path) -> bool:
    """Print a 3-D model file's summary; False when ``path`` is not one."""
    from .volume_model import load_volume_model

    try:
        net = load_volume_model(path)
    except (FileNotFoundError, ValueError):
        return False
    n = sum(p.numel() for p in net.parameters())
    print(f"a 3-D model (lnsnet train --volume; segment --volume -m FILE): config {net.config.to_dict()}, "
          f"{n:,} parameters")
    return True


# ---------------------------------------------------------------------------- benchmark

def _add_benchmark_parser(sub) -> None:
    sub.add_parser(
        "benchmark",
        help="score and time superpixel methods on a dataset (CSV, Markdown, plots)",
        description="Run every method at every K on every image (or volume, with --volume), score it (ASA, BR, "
                    "BP, F, UE, CO, EV against the best annotator) and time it. Writes "
                    "rows.csv (one row per method, K and image), summary.csv, summary.md, "
                    "meta.json (machine, versions, settings) and one PNG per metric "
                    "against the delivered K into -o DIR. A rerun skips the rows already "
                    "in DIR.",
        setup=_benchmark_arguments,
    )  # fmt: skip


def _benchmark_arguments(b) -> None:
    """The benchmark's options; their help names the methods, which imports the evaluation
    modules, so they are added only when ``benchmark`` is parsed (see ``_Parser._ready``)."""
    from .eval.benchmark import DEFAULT_KS, DEFAULT_METHODS, VOLUME_KS, VOLUME_METHODS
    from .eval.methods import known_methods

    b.add_argument("--dataset", default="bsds500",
                   help="'bsds500' (default) or a folder with images/ and labels/ (label maps of the "
                        "same stems: .png, .tif, .npy or .mat) or masks/ (binary masks); README, 'Evaluation'")
    b.add_argument("--split", default="test", help="BSDS500 split: train, val or test "
                                                   "(default test)")
    b.add_argument("--root", default=None,
                   help="BSDS500 folder (default: $LNSNET_BSDS500)")
    b.add_argument("--methods", default=None,
                   help=f"comma-separated methods (default {','.join(DEFAULT_METHODS)}; with --volume "
                        f"{','.join(VOLUME_METHODS)}); known: "
                        + ", ".join(known_methods())
                        + "; lnsnet takes a clustering spec after colons (as segment --clustering) and "
                          "model=NAME (e.g. model=none: the clustering on the CIELAB input), or "
                          "boundaries=bright|dark[:compactness=C] for boundary images (as segment --boundaries); "
                          "a baseline takes "
                          "its keyword arguments after colons (slic:compactness=20); e.g. "
                          "lnsnet:clustering=paper, lnsnet:compactness=1, lnsnet:seeds=learned (docs/compactness.md); "
                          "with --volume: lnsnet[:compactness=C], lnsnet:model=none, lnsnet:boundaries=bright|dark, "
                          "slic[:KEY=VALUE] (scikit-image's 3-D slic)")
    b.add_argument("-k", "--k", dest="ks", default=None,
                   help=f"comma-separated K values (default {','.join(map(str, DEFAULT_KS))}; with --volume "
                        f"{','.join(map(str, VOLUME_KS))})")
    b.add_argument("--precomputed", action="append", default=None, metavar="NAME=DIR",
                   help="score label maps made elsewhere (your method, another tool) as method NAME: "
                        "DIR/<K>/<stem>.npy, .png, .tif or .csv for every image (or volume) and K, checked before any "
                        "work; time not measured; repeatable; alone unless --methods names others")
    b.add_argument("--volume", action="store_true",
                   help="the --dataset folder holds volumes: images/ (or volumes/) with .tif, .npy or NIfTI stacks "
                        "and labels/ with label volumes of the same stems; scored in 3-D (docs/volumes.md)")
    b.add_argument("--spacing", default=None, metavar="DZ,DY,DX",
                   help="with --volume: the voxel size of every volume (default: each file's, else 1,1,1)")
    b.add_argument("-o", "--output", required=True, help="output folder (created; resumed "
                                                          "if it holds rows)")
    b.add_argument("-m", "--model", default=None,
                   help="LNS-Net model: shipped name or file (default: bsds500); with --volume a 3-D model file "
                        "(lnsnet train --volume; default none: the clustering on the input)")
    b.add_argument("--workers", type=int, default=None,
                   help="worker processes, one CPU thread each (default 2; 0 = in this "
                        "process)")
    b.add_argument("--engine", choices=("local", "ray"), default="local",
                   help="'local' (default): worker processes here; 'ray': actors on a Ray cluster "
                        "(pip install '.[ray]' in the checkout); --workers then counts actors (default: one per CPU)")
    b.add_argument("--address", default=None, help="Ray cluster address (with --engine ray)")
    b.add_argument("--limit", type=int, default=None, help="use only the first N images")
    b.add_argument("--images-list", default=None, metavar="FILE",
                   help="folder datasets: only the images whose stems this file lists, one per line "
                        "(a split, e.g. sbd/splits/stutz_test_477.txt)")
    b.add_argument("--ignore-label", type=int, default=None, metavar="N",
                   help="folder datasets: label N means 'unknown' (SBD's 0): those pixels are left out "
                        "of the scores")
    b.add_argument("--radius", type=int, default=1,
                   help="boundary tolerance radius r of BR/BP/F (default 1: a 3x3 window)")
    b.add_argument("--redo", default=None, metavar="METHODS",
                   help="comma-separated methods whose rows in -o are deleted and computed again "
                        "(e.g. lnsnet after changing the model); each must be in --methods, spelled the same; "
                        "other rows are kept")
    b.add_argument("--no-plots", action="store_true", help="do not draw the PNG plots")
    b.add_argument("-q", "--quiet", action="store_true",
                   help="no progress bar and no table")
    b.add_argument("--debug", action="store_true", help="show the full traceback on errors")
    b.set_defaults(func=_cmd_benchmark)


def _precomputed(items) -> dict | None:
    """``--precomputed NAME=DIR`` options as ``{NAME: DIR}``."""
    if not items:
        return None
    out = {}
    for item in items:
        name, eq, folder = item.partition("=")
        if not eq or not name.strip() or not folder.strip():
            raise CLIError(f"--precomputed takes NAME=DIR, got {item!r}")
        if name.strip() in out:
            raise CLIError(f"--precomputed names {name.strip()!r} twice")
        out[name.strip()] = folder.strip()
    return out


def _cmd_benchmark(args) -> int:
    from .eval.benchmark import META_FILE, ROWS_FILE, SUMMARY_CSV, SUMMARY_MD, run_benchmark, summary_markdown

    if args.address and args.engine != "ray":
        raise CLIError("--address needs --engine ray")
    summary = run_benchmark(
        out_dir=args.output,
        workers=(2 if args.engine == "local" else None) if args.workers is None else args.workers,
        progress=not args.quiet,
        r=args.radius,
        volume=args.volume,
        spacing=_spacing(args.spacing, 3),
        custom=_precomputed(args.precomputed),
        **_passed_on(args, "dataset", "split", "methods", "ks", "root", "limit", "engine", "address", "model", "redo",
                     "images_list", "ignore_label"),
    )
    out = Path(args.output)
    plots = []
    if not args.no_plots:
        from .eval.plots import plot_summary

        plots = plot_summary(out / SUMMARY_CSV, out)
    if not args.quiet:
        print(summary_markdown(summary, args.volume), end="")
        print(f"\nwrote {out / ROWS_FILE}, {out / SUMMARY_CSV}, {out / SUMMARY_MD}, "
              f"{out / META_FILE}" + (f" and {len(plots)} plots" if plots else ""))  # fmt: skip
    return 0


# --------------------------------------------------------------------------------- main

def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="lnsnet",
        description="Superpixels with LNS-Net: segment images, train without labels, inspect models.",
    )
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    s = sub.add_parser("segment", help="segment images into superpixels",
                       description="Segment image files (or folders / list files of them) into about K "
                                   "superpixels. Writes <name>_labels.npy (int32), <name>_labels.png "
                                   "(16-bit; <name>_labels.tif, 32-bit, above 65,535 labels), "
                                   "<name>_overlay.png (boundaries drawn on the image) and, with --features, "
                                   "<name>_regions.csv, and <name>_labels.json (the file and settings that made them: a rerun "
                                   "skips a file whose record matches, --overwrite redoes it). <name> is the image's "
                                   "path relative to the common folder of the inputs (a/img.jpg, b/img.jpg -> "
                                   "OUT/a/img_*, OUT/b/img_*), without its suffix.")
    s.add_argument("images", nargs="+", help="image files, folders of images, or .txt list files")
    s.add_argument("-k", "--n-segments", type=_positive_int, default=100, help="number of superpixels K (default 100)")
    s.add_argument("-o", "--output", required=True, help="output folder (created if missing)")
    s.add_argument("-m", "--model", default=None,
                   help="shipped model name or model file (default: bsds500); 'none' (the clustering on the CIELAB "
                        "input, no network) and 'untrained' are the baselines of what training adds")
    s.add_argument("--clustering", default=None, metavar="SPEC",
                   help="'fast' (default): superpixels as compact as LSC's from the input and the model's "
                        "contour head; 'compact': the same on the feature embedder's output too, about twice "
                        "the time; 'paper': the paper's one-shot clustering, the highest boundary recall, "
                        "ragged shapes. Options of lnsnet.ClusterOptions may follow "
                        "after colons, e.g. 'paper:window=5' (docs/compactness.md)")
    s.add_argument("--sigma", type=float, default=0.0,
                   help="a Gaussian blur first, in physical units (--spacing), as slic's sigma (default 0: only the "
                        "clustering's own blur: 0.8 px with fast and compact, none with paper)")
    s.add_argument("--compactness", type=float, default=None,
                   help="weight of the spatial distance to the seed: more regular shapes, less boundary "
                        "recall (default: the clustering's; fast 32, compact 24, paper 0; --volume 40)")
    s.add_argument("--boundaries", choices=("bright", "dark"), default=None,
                   help="the images show boundaries, not regions: cell walls or membranes as bright (or dark) "
                        "lines, a boundary probability map; superpixels grow from the seed grid by a compact "
                        "watershed and meet on the lines' ridges (no network; --compactness default 0.2; "
                        "docs/volumes.md, 'Boundary images')")
    s.add_argument("--mask", default=None, metavar="PATH",
                   help="segment only where a mask is nonzero (label 0 elsewhere): PATH a mask image for every "
                        "input, or a folder of masks named as the inputs (NAME.png, .tif, .npy, .bmp or "
                        "NAME_mask.*); for an image with a large uniform surround (a fundus photo) the colour is "
                        "then measured inside it, and faint edges there are followed")
    s.add_argument("--device", default=None, help="'cpu' (default) or 'cuda'")
    s.add_argument("--backend", default="torch", choices=["torch", "openvino", "openvino-bf16"],
                   help="what runs the feature embedder on the CPU, with --clustering compact (the default fast does not "
                        "run it): torch (default), OpenVINO fp32 (slower than torch "
                        "since 2026-12-03, labels equal on 99.3-100%% of pixels) or bf16 (0.7-0.8x the network's "
                        "time on CPUs with AMX, many labels differ); pip install '.[openvino]' in the checkout "
                        "(docs/performance.md)")
    s.add_argument("--no-overlay", action="store_true", help="do not write the overlay PNG")
    s.add_argument("--features", action="store_true",
                   help="also write <name>_regions.csv: one row per superpixel with its label, area, centroid, "
                        "bounding box and mean of each channel (lnsnet.regions; regionprops_table's columns; "
                        "with --volume per supervoxel; area and centroid in the units of the pixel or voxel size when "
                        "one is known, --spacing or the file's (a volume's, a NIfTI's), e.g. mm^3, mm; else pixels)")
    s.add_argument("--overwrite", action="store_true",
                   help="recompute images whose outputs already exist (default: skip them)")
    s.add_argument("--threads", type=_positive_int, default=None, help="CPU threads (torch and kernels)")
    s.add_argument("--adapt", type=int, default=0, metavar="N",
                   help="online adaptation: fine-tune a copy of the model on each image for N iterations "
                        "before clustering (default 0: off; with the default clustering it trains the contour head: "
                        "N=20 took about 1-1.3 s per 481x321 image on one thread; docs/adaptation.md)")
    s.add_argument("--batch-size", type=_positive_int, default=8,
                   help="images of the same size per network call (default 8)")
    s.add_argument("--engine", choices=("local", "ray"), default="local",
                   help="'local' (default) or 'ray': a Ray Data pipeline over a Ray cluster (pip install '.[ray]' in the checkout)")
    s.add_argument("--address", default=None, help="Ray cluster address (default: start Ray on this machine)")
    s.add_argument("--num-gpus", type=float, default=0.0, help="GPUs per Ray segmentation actor (default 0: CPU)")
    s.add_argument("--workers", type=_positive_int, default=None,
                   help="Ray segmentation actors (default: one per 2 CPUs of the cluster, or per GPU)")
    _add_reading_options(s, "every input is a 3-D stack (TIFF: ImageJ, OME or plain pages as z slices; .npy; NIfTI "
                            ".nii/.nii.gz with nibabel: pip install '.[medical]'): supervoxels, written as NAME_labels.npy and a 3-D "
                            "NAME_labels.tif (and NAME_labels.nii.gz for NIfTI), with the middle slice's overlay "
                            "(docs/volumes.md)")
    s.add_argument("-q", "--quiet", action="store_true",
                   help="no progress bar, notes or summary line of one file: only errors, notices (warnings about "
                        "a file's result) and, for several files, the closing count")
    s.add_argument("--debug", action="store_true", help="show the full traceback on errors")
    s.set_defaults(func=_cmd_segment)

    t = sub.add_parser("train", help="train LNS-Net lifelong on a stream of images, without labels",
                       description="Lifelong training (Algorithm 1 of the paper): each image is trained for "
                                   "--iterations steps, the first --feature-iterations on the feature embedder "
                                   "(seed layer frozen), the rest on the seed layer (embedder frozen), with one "
                                   "Adam optimiser for the whole stream. The model file is a resumable "
                                   "checkpoint, rewritten atomically every --checkpoint-every images.")
    t.add_argument("images", nargs="+", help="image files, folders of images, or .txt list files, in stream order")
    t.add_argument("-o", "--output", required=True, help="model/checkpoint file to write (e.g. my_model.pt)")
    t.add_argument("--resume", action="store_true", help="continue the stream from the checkpoint in --output, with "
                   "the settings stored in it (a training flag given with another value is named as not used)")
    t.add_argument("--overwrite", action="store_true", help="start over even if --output exists")
    t.add_argument("--init", default=None, help="start from this model (name or file) to adapt it to new images")
    t.add_argument("--checkpoint-every", type=_positive_int, default=10, help="images between checkpoints (default 10)")
    t.add_argument("--iterations", type=_positive_int, default=50, help="steps per image (default 50)")
    t.add_argument("--feature-iterations", type=int, default=None,
                   help="of which on the features, SEL frozen (default 4/5 of --iterations: 40 of 50)")
    t.add_argument("--lr", type=float, default=None, help="Adam learning rate (default 1e-4; the paper: 3e-4, which drifts on long streams)")
    t.add_argument("--lr-decay-images", type=float, default=0.0, metavar="T",
                   help="lower the learning rate along the stream: lr / (1 + i / T) for image i of the stream (0-based, counted on across --resume, from 0 again with --init; default 0: constant)")
    t.add_argument("--beta", type=float, default=10.0, help="weight of the reconstruction loss (default 10)")
    t.add_argument("--phi", type=float, default=1.0, help="weight of the position reconstruction (default 1)")
    t.add_argument("--neighbours", type=_positive_int, default=9, help="n of the top-n range-limited mask (default 9)")
    t.add_argument("-k", "--n-segments", type=_int_list, default=[100, 200, 400],
                   help="K values; each image draws one (seeded) (default 100,200,400)")
    t.add_argument("--contour", choices=("sobel", "canny"), default="sobel", help="contour prior for GBL (default sobel)")
    t.add_argument("--boundaries", default=None, help="folder of user boundary maps <image stem>.png/.npy in [0,1]")
    t.add_argument("--contour-iterations", type=int, default=20, metavar="N",
                   help="steps per image for the contour head, learned from the half-disc contour detector of "
                        "each image, no labels (default 20; 0: the head is not trained; a model without a head, "
                        "such as one from before heads existed, gets one)")
    t.add_argument("--contours-only", action="store_true",
                   help="train the contour head alone: the feature embedder and the seed layer stay as they are")
    t.add_argument("--epsilon", type=float, default=0.3, help="GBL contour threshold (default 0.3)")
    t.add_argument("--seed", type=int, default=0, help="random seed (initialisation, K draws, pixel samples)")
    t.add_argument("--max-images", type=_positive_int, default=None, help="stop after this many images (resumable)")
    t.add_argument("--log", default=None, help="write one JSON line per image to this file (a new run refuses a "
                                               "log that holds records, unless --overwrite; --resume continues it)")
    t.add_argument("--device", default=None, help="'cpu' (default) or 'cuda'")
    t.add_argument("--threads", type=_positive_int, default=None, help="torch CPU threads")
    _add_reading_options(t, "the inputs are 3-D stacks (TIFF, .npy, NIfTI): train the 3-D network (lnsnet.volume_model; "
                            "--iterations random crops per volume; the model file is a resumable checkpoint, "
                            "written after every volume; docs/volumes.md)")
    t.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    t.add_argument("--debug", action="store_true", help="show the full traceback on errors")
    t.set_defaults(func=_cmd_train)

    i = sub.add_parser("info", help="model, parameters, FLOPs and devices",
                       description="Print the model's configuration, parameter count, FLOPs at 481x321 and the devices.")
    i.add_argument("-m", "--model", default=None, help="shipped model name or model file (default: bsds500)")
    i.add_argument("--debug", action="store_true", help="show the full traceback on errors")
    i.set_defaults(func=_cmd_info)

    _add_benchmark_parser(sub)
    return p


def _remove_empty(folder: Path) -> None:
    """Remove ``folder`` and the folders under it if no file was written there."""
    if not folder.is_dir():
        return
    for sub in sorted((p for p in folder.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
        try:
            sub.rmdir()
        except OSError:
            pass
    try:
        folder.rmdir()
    except OSError:
        pass


def _given_options(argv) -> frozenset:
    """The dests of the options on the command line ``argv`` (not those left at their
    defaults): the same parse with every default suppressed."""
    parser = build_parser()
    parsers = [parser]
    while parsers:
        current = parsers.pop()
        current._suppress_defaults()
        for action in current._actions:
            if isinstance(action, argparse._SubParsersAction):
                parsers.extend(action.choices.values())
    return frozenset(vars(parser.parse_args(argv)))


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.given = _given_options(argv)
    _CREATED.clear()
    for stream in (sys.stdout, sys.stderr):  # a file name of bytes that are not UTF-8 is printed escaped
        try:
            stream.reconfigure(errors="backslashreplace")
        except (AttributeError, ValueError, OSError):
            pass
    try:
        return _run(args)
    finally:
        for folder in _CREATED:
            _remove_empty(folder)


def _one_line_warning(message, category, filename, lineno, line=None) -> str:
    """A warning as the command line prints its notices: one line, no source path or code."""
    return f"warning: {' '.join(str(message).split())}\n"


def _run(args) -> int:
    import warnings

    import signal
    import threading

    before = warnings.formatwarning
    if not args.debug:  # with --debug, Python's own form (where it was raised)
        warnings.formatwarning = _one_line_warning
    term = None
    if threading.current_thread() is threading.main_thread():  # `kill PID` stops as Ctrl-C does: the
        term = signal.signal(signal.SIGTERM, _interrupt)  # benchmark's workers shut, training saved
    _TERMINATED.clear()
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 143 if _TERMINATED else 130  # the shells' codes: 128 + SIGTERM's 15, or + SIGINT's 2
    except (CLIError, ValueError, TypeError, FileNotFoundError, OSError, ModuleNotFoundError) as exc:
        if args.debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except MemoryError:
        if args.debug:
            raise
        print("error: not enough memory (lower --batch-size, or --max-pixels to refuse such images)", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - a bug of ours: one line, the traceback with --debug
        if args.debug:
            raise
        print(f"error: internal error {type(exc).__name__}: {' '.join(str(exc).split())} (rerun with --debug for "
              "the traceback, and please report it)", file=sys.stderr)
        return 1
    finally:
        warnings.formatwarning = before
        if term is not None:
            signal.signal(signal.SIGTERM, term)


_TERMINATED: list = []  # not empty once SIGTERM arrived: the exit code says which signal stopped the run


def _interrupt(signum, frame):
    _TERMINATED.append(signum)
    raise KeyboardInterrupt


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
