"""Segmenting files: one place that decides the outputs of an input file and writes them.

The local engine (``lnsnet segment``) and the Ray engine (:mod:`lnsnet.distributed`) both
call :func:`segment_files`, so they write the same files, byte for byte.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from .cluster import ClusterOptions

__all__ = ["SegmentOptions", "Outcome", "output_paths", "pending", "segment_files"]


@dataclass(frozen=True)
class SegmentOptions:
    """What ``lnsnet segment`` does to every file."""

    n_segments: int = 100
    clustering: ClusterOptions = field(default_factory=ClusterOptions)
    device: str | None = None
    overlay: bool = True
    overwrite: bool = False
    batch_size: int = 8
    adapt: int = 0
    progress: bool = False  # progress bar for large images run in bands


@dataclass
class Outcome:
    """Result for one input file: ``status`` is ``done``, ``skipped`` or ``failed``."""

    file: str
    status: str
    message: str = ""
    k: int = 0
    seconds: float = 0.0


def output_paths(file: Path, out_dir: Path, overlay: bool) -> list[Path]:
    """Label map (``.npy``, ``.png``) and, with ``overlay``, the overlay of ``file``."""
    stem = Path(out_dir) / f"{Path(file).stem}_labels"
    paths = [stem.with_name(stem.name + ".npy"), stem.with_name(stem.name + ".png")]
    if overlay:
        paths.append(Path(out_dir) / f"{Path(file).stem}_overlay.png")
    return paths


def pending(files: Iterable[Path], out_dir: Path, opts: SegmentOptions) -> tuple[list[Path], list[Outcome]]:
    """Files still to do, and outcomes for those skipped (outputs exist) or refused
    (an output would overwrite an input file)."""
    files = [Path(f) for f in files]
    inputs = {f.resolve() for f in files}
    todo, outcomes = [], []
    for f in files:
        targets = output_paths(f, out_dir, True)
        if any(t.resolve() in inputs for t in targets):
            outcomes.append(Outcome(str(f), "failed", "output would overwrite an input file; choose another -o"))
        elif not opts.overwrite and all(t.exists() for t in output_paths(f, out_dir, opts.overlay)):
            outcomes.append(Outcome(str(f), "skipped"))
        else:
            todo.append(f)
    return todo, outcomes


def _write(file: Path, image, labels, out_dir: Path, opts: SegmentOptions) -> None:
    from .io import overlay, save_labels, save_png

    paths = output_paths(file, out_dir, opts.overlay)
    save_labels(paths[0].with_suffix(""), labels)
    if opts.overlay:
        save_png(paths[2], overlay(image, labels))


def segment_files(files: Iterable[Path], out_dir: Path, model, opts: SegmentOptions,
                  data: dict | None = None) -> list[Outcome]:
    """Segment ``files`` into ``out_dir`` with ``model``: read, segment (same-shape images
    batched ``opts.batch_size`` at a time), write atomically. A file that cannot be read
    or segmented gets a ``failed`` outcome with the reason; the others go on.
    ``data`` maps a file to its bytes when they were read already (Ray engine)."""
    from .inference import segment
    from .io import read_image

    files = [Path(f) for f in files]
    outcomes: dict[str, Outcome] = {}
    images = {}
    for f in files:
        try:
            images[f] = read_image(f, None if data is None else data.get(f))
        except (ValueError, TypeError, OSError) as exc:
            outcomes[str(f)] = Outcome(str(f), "failed", _message(f, exc))
    ready = [f for f in files if f in images]
    kw = dict(model=model, device=opts.device, clustering=opts.clustering, adapt=opts.adapt, progress=opts.progress)
    for i in range(0, len(ready), opts.batch_size):
        chunk = ready[i : i + opts.batch_size]
        t0 = time.perf_counter()
        try:
            labels = segment([images[f] for f in chunk], opts.n_segments, batch_size=opts.batch_size, **kw)
            per = (time.perf_counter() - t0) / len(chunk)
            results = [(f, lab, per, None) for f, lab in zip(chunk, labels)]
        except (ValueError, TypeError) as exc:  # find the file(s) at fault one by one
            if len(chunk) == 1:
                results = [(chunk[0], None, 0.0, exc)]
            else:
                results = []
                for f in chunk:
                    t1 = time.perf_counter()
                    try:
                        results.append((f, segment(images[f], opts.n_segments, **kw), time.perf_counter() - t1, None))
                    except (ValueError, TypeError) as e:
                        results.append((f, None, 0.0, e))
        for f, lab, dt, exc in results:
            if exc is None:
                try:
                    _write(f, images[f], lab, out_dir, opts)
                except OSError as e:
                    exc = e
            if exc is not None:
                outcomes[str(f)] = Outcome(str(f), "failed", _message(f, exc))
            else:
                outcomes[str(f)] = Outcome(str(f), "done", k=int(lab.max()) + 1, seconds=dt)
            images.pop(f, None)
    return [outcomes[str(f)] for f in files]


def _message(f: Path, exc: Exception) -> str:
    msg = str(exc)
    return msg if str(f) in msg else f"{f}: {msg}"
