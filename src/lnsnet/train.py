"""The lifelong trainer (Algorithm 1, Sec. 4.1).

Images arrive one after another. Each is trained for ``iterations`` steps: the first
``feature_iterations`` train the feature embedder and the reconstruction head with the
seed layer frozen, the rest train the seed layer with the embedder frozen. One Adam
optimiser lives for the whole stream, and the GAL memory m carries across images. Every
``checkpoint_every`` images the model, the optimiser, m and the position in the stream
are written atomically; ``resume=True`` continues from there and ends with the same
weights as an uninterrupted run.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import numbers
import os
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence, Union

import numpy as np
import torch

from . import checkpoint
from .dictconfig import DictConfig
from .cluster.options import PRESETS
from .features import contour_prior, encode, halfdisc_contours
from .grid import make_grid
from .hub import as_device
from .io import IMAGE_SUFFIXES, MAX_PIXELS, VOLUME_ONLY_SUFFIXES, read_image, to_float_rgb
from .losses import clustering_loss, reconstruction_loss, topn_mask, total_loss
from .model import LNSNet, ModelConfig
from .model.contour import ContourHead
from .prepare import clustering_colour, prepare
from .runtime import locked_output
from .model.grm import gal, gbl, reconstruction_strength, update_memory

__all__ = ["TrainConfig", "train_stream", "train_image", "iter_images", "expand_sources", "new_model", "adapt_model",
           "ADAPT_LR"]

#: Adam learning rate of online adaptation (:func:`adapt_model`)
ADAPT_LR = 3e-4


def _real(v) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


def check_loss_settings(cfg) -> None:
    """The loss weights ``beta`` and ``phi`` finite and >= 0, the GBL threshold ``epsilon``
    and the GAL memory rate ``memory_rate`` in [0, 1] (2-D and 3-D training alike)."""
    for name in ("beta", "phi"):
        v = getattr(cfg, name)
        if not _real(v) or not math.isfinite(v) or v < 0:
            raise ValueError(f"{name} (a loss weight) must be a finite number >= 0, got {v!r}")
    for name in ("epsilon", "memory_rate"):
        v = getattr(cfg, name)
        if not _real(v) or not 0 <= v <= 1:
            raise ValueError(f"{name} must lie in [0, 1], got {v!r}")


@dataclass
class TrainConfig(DictConfig):
    """Training hyper-parameters; defaults follow Sec. 4.1 of the paper except the learning
    rate: 1e-4 instead of the paper's 3e-4, with which long streams drift after 50-150 images
    (``docs/training/drift-probe/``)."""

    iterations: int = 50
    feature_iterations: int | None = None  # None: the paper's share, 4/5 of iterations (40 of 50)
    lr: float = 1e-4  # the paper: 3e-4
    lr_decay_images: float = 0.0  # > 0: the lr for the i-th image of the stream is lr / (1 + i / lr_decay_images)
    beta: float = 10.0
    phi: float = 1.0
    n_neighbours: int = 9
    window: int = 5  # candidate cells per side for the loss (V_i is chosen among them)
    loss_pixels: int = 20000  # pixels sampled per iteration for the clustering loss (0: all)
    alpha: float = 1.0
    contour: str = "sobel"
    epsilon: float = 0.3
    gbl_mode: str = "attenuate"  # "reverse": Eq. 12 as printed (diverges, see docs/design.md)
    memory_rate: float = 0.5
    n_segments: Sequence[int] = field(default_factory=lambda: (100, 200, 400))
    use_gal: bool = True
    use_gbl: bool = True
    learn_seeds: bool = True
    seed: int = 0
    #: the contour head (:class:`~lnsnet.model.contour.ContourHead`), learned without labels
    #: from the half-disc detector (:func:`~lnsnet.features.halfdisc_contours`) of each image:
    #: steps per image (0: not trained), Adam's learning rate, the side of the random crop
    #: of each image it learns on (the detector runs on the crop), and whether only the head
    #: learns (the feature embedder and the seed layer unchanged: a head for a model that
    #: has none)
    contour_iterations: int = 20
    contour_lr: float = 1e-3
    contour_crop: int = 320
    contours_only: bool = False

    _list_fields = ("n_segments",)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        """As :meth:`DictConfig.from_dict`; a configuration saved before the contour head
        existed trains none (so a stream of then resumes as it began)."""
        return super().from_dict({"contour_iterations": 0, **d})

    def __post_init__(self):
        self.check_kinds()
        if isinstance(self.n_segments, int):
            self.n_segments = (self.n_segments,)
        self.n_segments = tuple(int(k) for k in self.n_segments)
        if not self.n_segments or min(self.n_segments) < 1:
            raise ValueError(f"n_segments must be positive integers, got {self.n_segments}")
        if self.feature_iterations is None:
            self.feature_iterations = round(0.8 * self.iterations) if _real(self.iterations) else self.iterations
        if self.iterations < 0 or not 0 <= self.feature_iterations <= self.iterations:
            raise ValueError(f"feature_iterations must lie in [0, iterations], got feature_iterations="
                             f"{self.feature_iterations} and iterations={self.iterations}")
        check_loss_settings(self)
        if not _real(self.alpha) or not math.isfinite(self.alpha) or self.alpha <= 0:
            raise ValueError(f"alpha (the Student-t degrees of freedom) must be a finite number > 0, got {self.alpha!r}")
        if self.gbl_mode not in ("reverse", "attenuate"):
            raise ValueError(f"gbl_mode must be 'reverse' or 'attenuate', got {self.gbl_mode!r}")
        if not isinstance(self.lr, (int, float)) or not math.isfinite(self.lr) or self.lr <= 0:
            raise ValueError(f"lr must be a finite number > 0, got {self.lr!r}")
        if (not isinstance(self.lr_decay_images, (int, float)) or not math.isfinite(self.lr_decay_images)
                or self.lr_decay_images < 0):
            raise ValueError(f"lr_decay_images must be a finite number >= 0, got {self.lr_decay_images!r}")
        if self.window < 3 or self.window % 2 == 0:
            raise ValueError(f"window must be an odd number >= 3, got {self.window}")
        if self.contour_iterations < 0:
            raise ValueError(f"contour_iterations must be >= 0, got {self.contour_iterations}")
        if self.contour_crop < 16:
            raise ValueError(f"contour_crop must be >= 16, got {self.contour_crop}")
        if not math.isfinite(self.contour_lr) or self.contour_lr <= 0:
            raise ValueError(f"contour_lr must be a finite number > 0, got {self.contour_lr!r}")
        if self.contours_only and not self.contour_iterations:
            raise ValueError("contours_only trains the contour head alone: it needs contour_iterations > 0")

    def lr_at(self, index: int) -> float:
        """The learning rate for the image at position ``index`` (0-based) of the stream."""
        if self.lr_decay_images > 0:
            return self.lr / (1.0 + index / self.lr_decay_images)
        return self.lr


# ----------------------------------------------------------------------------- streams

Source = Union[str, Path, np.ndarray, Iterable]


def expand_sources(sources: Sequence[Union[str, Path]], suffixes: Sequence[str] | None = None, *,
                   recursive: bool = False) -> list[Path]:
    """Expand image files, folders (their files with ``suffixes``, default
    :data:`lnsnet.io.IMAGE_SUFFIXES`, sorted; not their subfolders, unless ``recursive``:
    then the files of the whole tree, sorted by their path in it, hidden folders left out,
    links to folders not followed, folders that cannot be listed left out with a warning)
    and list files
    (``.txt``/``.lst``: one path a line, relative to the list's folder; a missing one fails
    when it is read, as any unreadable file) to image paths."""
    suffixes = tuple(suffixes or IMAGE_SUFFIXES)
    long_suffixes = tuple(x for x in suffixes if x.count(".") > 1)  # .nii.gz

    def counted(f: Path) -> bool:
        # a broken link (a share not mounted, a loop), or an entry that cannot be looked at (a
        # folder listed but not entered), is listed too: it fails by name in its turn, rather
        # than vanishing from the run or stopping it
        try:
            return f.is_file() or (f.is_symlink() and not f.exists())
        except OSError:
            return True

    def images_in(folder: Path) -> list[Path]:
        # hidden files (".x.png", macOS's "._x.jpg" forks) are not images of the collection
        return [f for f in folder.iterdir() if not f.name.startswith(".")
                and (f.suffix.lower() in suffixes or f.name.lower().endswith(long_suffixes)) and counted(f)]

    out: list[Path] = []
    for s in sources:
        p = Path(s)
        if p.is_dir():
            if recursive:
                files, unlisted = [], []
                for top, dirs, _ in os.walk(p, onerror=unlisted.append):  # links to folders not entered (no loops)
                    dirs[:] = [d for d in dirs if not d.startswith(".")]
                    files.extend(images_in(Path(top)))
                files.sort(key=lambda f: f.relative_to(p).parts)
                top_error = next((e for e in unlisted if e.filename == os.fspath(p)), None)
                if top_error is not None:  # the folder named itself: its error, by name
                    raise ValueError(f"cannot list folder {p}: {top_error.strerror or top_error}") from None
                if unlisted:  # a subfolder that cannot be listed (no permission): the rest is read, it is said
                    warnings.warn(f"{len(unlisted)} folder(s) of {p} could not be listed and are left out ("
                                  + "; ".join(f"{e.filename}: {e.strerror or e}" for e in unlisted[:3])
                                  + ("; ..." if len(unlisted) > 3 else "") + ")", stacklevel=2)
            else:
                try:
                    files = sorted(images_in(p))
                except OSError as exc:  # the folder named cannot be listed: its error, by name
                    raise ValueError(f"cannot list folder {p}: {exc.strerror or exc}") from None
            if not files:
                volumes = [f for top, dirs, names in (os.walk(p) if recursive else [(p, [], os.listdir(p))])
                           for f in (Path(top) / n for n in names) if f.name.lower().endswith(VOLUME_ONLY_SUFFIXES)]
                hint = f" (it holds volumes such as {volumes[0].name}: pass --volume)" if volumes and ".npy" not in suffixes else ""
                subs = sorted(f.name for f in p.iterdir() if f.is_dir() and not f.name.startswith("."))
                if subs and not hint and not recursive:  # folders are read flat
                    hint = (f" (folders are read flat: its subfolder(s) {', '.join(subs[:3])}"
                            f"{', ...' if len(subs) > 3 else ''} are not; name them as inputs or pass --recursive)")
                raise ValueError(f"no images ({', '.join(suffixes)}) in folder {p}{' or its subfolders' if recursive else ''}"
                                 f"{hint}")
            out.extend(files)
        elif p.suffix.lower() in (".txt", ".lst"):
            if not p.is_file():
                raise FileNotFoundError(f"list file not found: {p}")
            listed = []
            for line in p.read_text(errors="replace").splitlines():
                line = line.strip()
                if line and not line.startswith("#"):
                    q = Path(line)
                    listed.append(q if q.is_absolute() else p.parent / q)
            if listed and not any(q.exists() for q in listed):  # not a list of images (notes, a log)
                raise ValueError(f"list file {p}: none of its {len(listed)} entries is a file (the first: "
                                 f"{listed[0]}); a list file holds one image path a line, relative to its folder")
            out.extend(listed)
        elif p.is_file():
            out.append(p)
        else:
            raise FileNotFoundError(f"no such image, folder or list file: {p}")
    return out


def iter_images(source: Source, *, max_pixels: int | None = MAX_PIXELS, orientation: bool = True,
                errors: str = "raise") -> Iterator[tuple[str, Union[np.ndarray, Exception]]]:
    """Yield ``(name, image array)`` from a path/folder/list file, a list of them, or arrays.
    Files are read by :func:`lnsnet.io.read_image` (``max_pixels``, ``orientation``);
    ``errors="yield"``: a file that cannot be read yields ``(name, the exception)`` instead
    of raising, and the stream goes on."""
    for name, load in _stream_items(source):
        try:
            image = load(max_pixels, orientation)
        except (ValueError, OSError) as exc:
            if errors != "yield":
                raise
            image = exc
        yield name, image


def _stream_items(source: Source) -> Iterator[tuple[str, Callable]]:
    """``(name, load(max_pixels, orientation))`` of each image of a stream, not read yet:
    a resumed stream names the images it has passed without decoding them."""
    if isinstance(source, np.ndarray):
        source = [("image-0", source)]
    elif isinstance(source, (str, Path)):
        source = [source]

    def given(value):
        return lambda *_: value

    def failed(exc):
        def load(*_):
            raise exc
        return load

    for i, item in enumerate(source):
        if isinstance(item, (str, Path)):
            try:
                paths = expand_sources([item])
            except FileNotFoundError as exc:  # a listed file that is gone: skipped as an unreadable one
                yield Path(item).stem, failed(exc)
                continue
            for p in paths:
                yield p.stem, lambda max_pixels, orientation, p=p: read_image(p, max_pixels=max_pixels,
                                                                              orientation=orientation)
        elif isinstance(item, tuple) and len(item) == 2:
            yield str(item[0]), given(item[1])
        else:
            yield f"image-{i}", given(item)


# ---------------------------------------------------------------------------- training

def _contours(cfg: TrainConfig, name: str, rgb: np.ndarray, boundaries) -> np.ndarray:
    if boundaries is None:
        return contour_prior(rgb, cfg.contour)
    if callable(boundaries):
        b = boundaries(name, rgb)
    else:
        folder = Path(boundaries)
        cands = [folder / f"{name}.npy"] + [folder / f"{name}{s}" for s in (".png", ".jpg", ".tif")]
        path = next((c for c in cands if c.is_file()), None)
        if path is None:
            raise FileNotFoundError(f"no boundary map for image {name!r} in {folder}")
        b = np.load(path) if path.suffix == ".npy" else read_image(path)
        if b.ndim == 3:
            b = b[..., 0]
        if b.dtype == np.uint8:
            b = b / 255.0
        elif b.dtype == np.uint16:
            b = b / 65535.0
    b = np.asarray(b, dtype=np.float32)
    if b.shape != rgb.shape[:2]:
        raise ValueError(f"boundary map for {name!r} has shape {b.shape}, image has {rgb.shape[:2]}")
    return np.clip(b, 0.0, 1.0)


def train_image(
    model: LNSNet,
    optimizer: torch.optim.Optimizer,
    rgb: np.ndarray,
    contours: np.ndarray,
    n_segments: int,
    cfg: TrainConfig,
    device: torch.device | str = "cpu",
    sample_seed: int = 0,
) -> dict:
    """Train on one image for ``cfg.iterations`` steps; returns the mean losses.

    The clustering loss of each step is computed on ``cfg.loss_pixels`` pixels drawn
    without replacement (a generator seeded by ``sample_seed`` and the step), which keeps
    a step's cost bounded for any image size; the reconstruction loss uses every pixel.
    """
    model.train()
    x = encode(rgb).to(device)
    h, w = rgb.shape[:2]
    n_pix = h * w
    n_sample = n_pix if cfg.loss_pixels <= 0 else min(cfg.loss_pixels, n_pix)
    grid = make_grid(h, w, n_segments)
    b = torch.from_numpy(contours)[None].to(device)
    centres = grid.centres(device)[None]
    z_fixed = None
    sums: dict[str, float] = {}
    steps = 0
    for it in range(cfg.iterations):
        features_phase = it < cfg.feature_iterations
        if features_phase:
            z = model.embed(x)
            with torch.no_grad():
                pos = model.seed_positions(z, grid) if cfg.learn_seeds else centres
            zc = gal(z, reconstruction_strength(model.reconstruction.weight).detach(), model.memory) if cfg.use_gal else z
        else:
            if not cfg.learn_seeds:
                break
            if z_fixed is None:
                with torch.no_grad():
                    z_fixed = model.embed(x)
            z = zc = z_fixed
            pos = model.seed_positions(z, grid)
        if n_sample < n_pix:
            gen = torch.Generator().manual_seed(int(sample_seed) * 1000003 + it)
            pix = torch.randperm(n_pix, generator=gen)[:n_sample].to(device)
        else:
            pix = torch.arange(n_pix, device=device)
        index, valid = grid.pixel_candidates(pix, cfg.window)
        pixel_pos = torch.stack([pix // w, pix % w], dim=1)
        zf = zc[0].reshape(zc.shape[1], -1)[:, pix].t()  # (n, C)
        seeds = model.seed_features(zc, pos)[0]  # (K, C)
        # |z - s|^2 = |z|^2 + |s|^2 - 2 z.s, the dot products through one matmul
        dots = (zf @ seeds.t()).gather(1, index)
        d2 = ((zf * zf).sum(1, keepdim=True) + (seeds * seeds).sum(1)[index] - 2.0 * dots).clamp_min(0.0)
        d2 = torch.where(valid, d2, torch.full_like(d2, float("inf")))
        inside = topn_mask(pixel_pos, pos[0], index, valid, cfg.n_neighbours)
        l_c, parts = clustering_loss(d2, inside, index, grid.n_seeds, cfg.alpha)
        loss = l_c
        if features_phase:
            if cfg.use_gbl:
                xr = model.reconstruct(z, position_features=gbl(z, b, cfg.epsilon, cfg.gbl_mode))
            else:
                xr = model.reconstruct(z)
            l_r, rparts = reconstruction_loss(xr, x, cfg.phi)
            loss = total_loss(l_c, l_r, cfg.beta)
            parts.update(rparts)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if features_phase and cfg.use_gal:
            with torch.no_grad():
                update_memory(model.memory, reconstruction_strength(model.reconstruction.weight), cfg.memory_rate)
        parts["loss"] = loss.detach()
        steps += 1
        for k, v in parts.items():
            sums[k] = sums.get(k, 0.0) + float(v)
    return {k: v / max(steps, 1) for k, v in sums.items()} | {"n_segments": grid.n_seeds}


def train_contours(head: ContourHead, optimizer: torch.optim.Optimizer, rgb: np.ndarray, cfg: TrainConfig,
                   rng: np.random.Generator, device: torch.device | str = "cpu") -> dict:
    """Train the contour head on one image for ``cfg.contour_iterations`` steps, without
    labels: on a random crop (side at most ``cfg.contour_crop``), the head's map of the
    crop's colour, as :func:`lnsnet.segment` prepares it for the compact clustering, is
    drawn towards the half-disc detector's map of the crop
    (:func:`~lnsnet.features.halfdisc_contours`) by the mean squared error; each step
    flips the crop left-right with probability 1/2. Returns the mean loss."""
    h, w = rgb.shape[:2]
    ch, cw = min(h, cfg.contour_crop), min(w, cfg.contour_crop)
    r0, c0 = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
    crop = np.ascontiguousarray(rgb[r0:r0 + ch, c0:c0 + cw])
    target = torch.from_numpy(halfdisc_contours(crop))[None, None].to(device)
    prep = prepare(crop, blur=PRESETS["compact"]["blur"])
    colour = clustering_colour(torch.from_numpy(prep.x)[None], [prep.colour_scale]).to(device)
    head.train()
    total = 0.0
    for _ in range(cfg.contour_iterations):
        x, y = (colour.flip(-1), target.flip(-1)) if rng.random() < 0.5 else (colour, target)
        loss = torch.nn.functional.mse_loss(head(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        total += float(loss.detach())
    head.eval()
    return {"contour_loss": total / max(cfg.contour_iterations, 1)}


def new_model(seed: int, model_config: ModelConfig | None = None) -> LNSNet:
    """A freshly initialised model, its weights drawn from a generator seeded by ``seed``."""
    g = torch.Generator().manual_seed(int(seed))
    return LNSNet(model_config, generator=g)


def _truncate_log(log: Path, position: int) -> None:
    """Drop the records of images at or past ``position`` from a JSON-lines training log
    (they were written after the checkpoint a resumed run continues, and are trained again)."""
    keep = []
    for line in log.read_text().splitlines():
        try:
            rec = json.loads(line)
            index = int(rec["index"])
        except (ValueError, TypeError, KeyError):
            continue  # a line cut by the crash, or not a record of this stream
        if index < position:
            keep.append(line)
    tmp = log.with_name(log.name + ".tmp")
    tmp.write_text("".join(l + "\n" for l in keep))
    os.replace(tmp, log)


def refuse_existing(output, resume: bool, overwrite: bool) -> None:
    """A training stream's output: an existing file is refused (``FileExistsError``) unless
    the run continues it (``resume``) or starts over (``overwrite``)."""
    if output is not None and Path(output).exists() and not resume and not overwrite:
        raise FileExistsError(f"{output} exists; pass resume=True to continue it or overwrite=True to start over")


def has_checkpoint(output) -> bool:
    """Whether ``output`` or its previous checkpoint (``<output>.prev``) is there to resume:
    without either, a resume starts a new run."""
    output = Path(output)
    return output.is_file() or output.with_name(output.name + ".prev").is_file()


def head_never_trained(new_head: bool, history) -> bool:
    """Whether a model's contour head was never trained: it started new (``new_head``, a
    checkpoint's record) and no image of its ``history`` trained it."""
    return bool(new_head) and not any(isinstance(r, dict) and "contour_loss" in r for r in history)


MIN_SIDE = 16  # a training image's shortest side: smaller ones (icons, thumbnails, 1-pixel lines) are skipped


def start_log(log, resume: bool, overwrite: bool, check_only: bool = False) -> Path | None:
    """A training run's JSON-lines ``log``, checked before any training: a folder, or one
    that cannot be written, is refused now rather than after the first image; a new run
    (not ``resume``) over a log that holds records is refused (``FileExistsError``: they
    would mix with another run's), or with ``overwrite`` starts it empty (not with
    ``check_only``: the checks alone, so that a run refused for another reason after them
    loses no log). A resumed run keeps it (the records past its checkpoint are dropped when
    it gets there)."""
    if log is None:
        return None
    log = Path(log)
    if log.is_dir():
        raise ValueError(f"log {log} is a folder: the log is one file (e.g. {log / 'train.jsonl'})")
    if not resume and log.is_file() and log.stat().st_size > 0:
        if not overwrite:
            raise FileExistsError(f"log {log} holds the records of another run; pass resume=True to continue that "
                                  "run (its checkpoint as the output), overwrite=True to start the log again, or "
                                  "another log file")
        if not check_only:
            log.write_text("")
    if check_only:  # writable, without leaving an empty file behind a run refused after this check
        where = log if log.exists() else log.parent
        if where is not log and not where.is_dir():
            raise FileNotFoundError(f"log {log}: no folder {where}")
        if not os.access(where, os.W_OK):
            raise PermissionError(f"log {log} cannot be written (permission denied on {where})")
        return log
    with open(log, "a"):  # created (or found writable) now
        pass
    return log


class _Resumed:
    """A resumed stream's check of the checkpoint it continues: the stream must start with
    the items the checkpoint passed (their names in its ``history``; ``key`` compares
    them), and, once past them, a ``log`` given here loses its records past the checkpoint
    (they are trained again). ``passed(i, name)``: whether item ``i`` is one of those."""

    def __init__(self, history: list, position: int, output, what: str, log=None, key=lambda name: name):
        self.seen = {int(r["index"]): r.get("name") for r in history if "index" in r}
        self.position, self.output, self.what, self.key = position, output, what, key
        self.log = Path(log) if log is not None and Path(log).is_file() else None

    def passed(self, i: int, name: str) -> bool:
        if i < self.position:
            if self.key(self.seen.get(i, name)) != self.key(name):
                raise ValueError(
                    f"the {self.what}s changed since the checkpoint {self.output}: {self.what} {i + 1} of the stream "
                    f"was {self.seen[i]!r}, now {name!r}. --resume continues the same {self.what}s in the same order "
                    f"(new ones after them); to train the model on other {self.what}s, start a run from it: "
                    f"--init {self.output} -o NEW.pt")
            return True
        if self.log is not None:
            _truncate_log(self.log, self.position)
            self.log = None
        return False


@locked_output("output")
def train_stream(
    source: Source,
    output: Union[str, Path],
    *,
    config: TrainConfig | None = None,
    model: LNSNet | str | Path | None = None,
    model_config: ModelConfig | None = None,
    resume: bool = False,
    overwrite: bool = False,
    checkpoint_every: int = 10,
    boundaries: Union[None, str, Path, Callable] = None,
    max_images: int | None = None,
    device: str | torch.device | None = None,
    progress: bool = True,
    log: Union[None, str, Path] = None,
    max_pixels: int | None = MAX_PIXELS,
    orientation: bool = True,
    on_skip: Callable[[str, str], None] | None = None,
) -> LNSNet:
    """Train LNS-Net on a stream of images, lifelong, without labels.

    Parameters
    ----------
    source : folder, list file, image path, list of those, or any iterable of image arrays
        (or ``(name, array)`` pairs). Images may have any size.
    output : path of the model/checkpoint file, rewritten atomically every
        ``checkpoint_every`` images and at the end.
    config : :class:`TrainConfig`; with ``resume`` the one stored in the checkpoint is used.
    model : start from this model (domain adaptation) instead of a new one: a model, or a
        shipped name or model file (then recorded in the checkpoint as ``started_from``,
        its name and sha256, which ``lnsnet info -m FILE`` shows).
    resume : continue from ``output`` if it exists: skip the images already trained and
        restore model, optimiser and GAL memory. A corrupt or truncated ``output`` is
        detected and the previous checkpoint (``<output>.prev``) is used, with a warning.
    overwrite : start a new model over an existing ``output``; without it (nor ``resume``)
        an existing ``output`` is refused (``FileExistsError``), as ``lnsnet train`` does.
    boundaries : user contour maps: a folder with ``<image stem>.npy/.png`` maps in
        [0, 1] (or 0..255), or a callable ``(name, rgb) -> (H, W)``; default: the contour
        prior named by ``config.contour`` ('sobel' or 'canny').
    max_images : stop after this many images in this call (the checkpoint stays resumable).
    log : optional JSON-lines file receiving one record per image.
    max_pixels, orientation : how image files are read (:func:`lnsnet.io.read_image`).
    on_skip : called ``(name, reason)`` for each image skipped because it cannot be read
        or used (a damaged file, a stack, an unsupported channel count); the default
        warns. A skipped image keeps its place in the stream (``--resume`` counts it) and
        its record in the checkpoint's history says why; the stream goes on.

    Returns
    -------
    The trained :class:`LNSNet` (also saved to ``output``).
    """
    if str(output).endswith(("/", os.sep)) or Path(output).is_dir():
        raise ValueError(f"output {output} is a folder: the model is one file (e.g. {Path(output) / 'model.pt'})")
    output = Path(output)
    if resume and overwrite:
        raise ValueError("resume continues the checkpoint in output, overwrite starts it again: pass one of them")
    refuse_existing(output, resume, overwrite)
    continuing = resume and has_checkpoint(output)  # a resume with no checkpoint starts a new run
    start_log(log, continuing, overwrite, check_only=True)  # emptied (overwrite) only once the run is sure to start
    device = as_device(device)
    if checkpoint_every < 1:
        raise ValueError(f"checkpoint_every must be >= 1, got {checkpoint_every}")
    position = 0
    history: list[dict] = []
    opt_state = contour_state = None
    started_from = None
    on_disk = None  # the position that ``output`` already holds (nothing to write for it)
    if continuing:
        payload, used = checkpoint.load_latest(output)
        if "optimizer" not in payload:
            raise ValueError(f"{output} holds a model but no training state; train without --resume")
        saved_cfg = TrainConfig.from_dict(payload.get("train_config", {}))
        if not saved_cfg.contours_only and (saved_cfg.contour == "user") != (boundaries is not None):
            raise ValueError(  # the stream's contour prior is part of the run: never mixed
                f"{output} was trained with boundary maps (boundaries=, --boundaries): pass the same folder to "
                "resume it" if saved_cfg.contour == "user" else
                f"{output} was trained with the contour prior {saved_cfg.contour!r}, not boundary maps: resume it "
                "without boundaries= (--boundaries), or start a new run (--overwrite, another output)")
        if config is not None and config.to_dict() != saved_cfg.to_dict():
            new, old = config.to_dict(), saved_cfg.to_dict()
            diff = ", ".join(f"{k}={old.get(k)!r} (not {new[k]!r})" for k in new if new[k] != old.get(k))
            warnings.warn(f"resuming with the training configuration stored in the checkpoint: {diff}", stacklevel=2)
        config = saved_cfg
        model = checkpoint.model_from_payload(payload)
        opt_state = payload["optimizer"]
        contour_state = payload.get("contour_optimizer")
        position = int(payload.get("position", 0))
        history = list(payload.get("history", []))
        started_from = payload.get("started_from")
        if used == output:  # (from .prev: output is rewritten, so the file is whole again)
            on_disk = position
    config = config or TrainConfig()
    # a head never trained: a new model, or a resumed run that started as one (recorded)
    fresh_head = model is None if not continuing else bool(payload.get("new_head", started_from is None))
    if not continuing and boundaries is not None and config.contour != "user":
        config = dataclasses.replace(config, contour="user")  # the run's prior is the maps: recorded so
    if not config.contours_only and config.contour == "user" and boundaries is None:
        raise ValueError("contour='user' trains towards boundary maps: pass boundaries= (a folder of maps or a "
                         "function), --boundaries DIR")
    if isinstance(boundaries, (str, Path)) and not Path(boundaries).is_dir():
        raise FileNotFoundError(f"boundaries: no such folder: {boundaries}")
    if isinstance(model, (str, Path)):  # (not on a resume: the checkpoint's model and record replaced it)
        from .hub import load_model, model_record

        started_from = model_record(model)
        model = load_model(model)
    if model is None:
        model = new_model(config.seed, model_config)
    if config.contour_iterations and model.contour_head is None:  # a model from before the head: add one
        model.contour_head = ContourHead(3, ModelConfig.contour_width)
        model.contour_head.reset_parameters(torch.Generator().manual_seed(int(config.seed)))
        model.config.contour_width = ModelConfig.contour_width
    model.to(device)
    head_params = model.parameter_groups()["contours"]
    in_head = {id(p) for p in head_params}  # the head has its own optimiser; the rest keep model order
    optimizer = torch.optim.Adam([p for p in model.parameters() if id(p) not in in_head], lr=config.lr)
    if opt_state is not None:
        optimizer.load_state_dict(opt_state)
    head_opt = torch.optim.Adam(head_params, lr=config.contour_lr) if head_params and config.contour_iterations else None
    if head_opt is not None and contour_state is not None:
        head_opt.load_state_dict(contour_state)

    # a resume with nothing left to train rewrites nothing (.prev stays); after a fall back to
    # .prev (output unreadable) the first save replaces output without keeping it as .prev
    saved = {"position": on_disk, "keep": not continuing or on_disk is not None}

    def save():
        if saved["position"] == position:
            return  # nothing new since the last checkpoint
        checkpoint.save(
            output,
            model,
            keep_previous=saved["keep"],
            optimizer=optimizer.state_dict(),
            **({} if head_opt is None else {"contour_optimizer": head_opt.state_dict()}),
            train_config=config.to_dict(),
            position=position,
            history=history,
            **({} if started_from is None else {"started_from": started_from}),
            new_head=fresh_head,
        )
        saved["position"], saved["keep"] = position, True  # after the write: a write cut short is done again

    bar = None
    if progress:
        from tqdm.auto import tqdm

        total = None
        try:
            total = len(source)  # type: ignore[arg-type]
        except TypeError:
            pass
        if isinstance(source, (str, Path)) or (
            isinstance(source, (list, tuple)) and all(isinstance(s, (str, Path)) for s in source)
        ):
            try:
                total = len(expand_sources([source] if isinstance(source, (str, Path)) else source))
            except (OSError, ValueError):  # a listed file that is gone: it is skipped in its turn
                total = len(source) if isinstance(source, (list, tuple)) else None
        bar = tqdm(total=total, initial=position, unit="img", desc="lnsnet train", dynamic_ncols=True)

    done = 0
    if on_skip is None:
        def on_skip(name, reason):
            warnings.warn(f"skipped image {name}: {reason}", stacklevel=3)
    resumed_from = position
    log = start_log(log, continuing, overwrite)
    resumed = _Resumed(history, position, output, "image", log if continuing else None)

    def boundary():  # the state after the last whole image, which an interruption saves
        return (position, copy.deepcopy(model.state_dict()), copy.deepcopy(optimizer.state_dict()),
                None if head_opt is None else copy.deepcopy(head_opt.state_dict()), len(history))

    last = boundary()
    try:
        for i, (name, load) in enumerate(_stream_items(source)):
            if resumed.passed(i, name):  # (not read: a resume does not decode what it has passed)
                continue
            if max_images is not None and done >= max_images:
                break
            try:
                rgb = to_float_rgb(load(max_pixels, orientation))
                if min(rgb.shape[:2]) < MIN_SIDE:
                    raise ValueError(f"too small to learn from: {rgb.shape[0]}x{rgb.shape[1]} pixels (a side under "
                                     f"{MIN_SIDE}: no room for the superpixels and contours the losses compare)")
                # a missing or ill-fitting boundary map skips its image as an unreadable one does
                b = None if config.contours_only else _contours(config, name, rgb, boundaries)
            except (ValueError, TypeError, OSError) as exc:
                position = i + 1
                history.append({"index": i, "name": name, "skipped": str(exc)})
                if log is not None:
                    with open(log, "a") as fh:
                        fh.write(json.dumps(history[-1]) + "\n")
                on_skip(name, str(exc))
                if bar is not None:
                    bar.update(1)
                last = boundary()
                continue
            rng = np.random.default_rng([config.seed, i])
            k = int(rng.choice(config.n_segments))
            for group in optimizer.param_groups:
                group["lr"] = config.lr_at(i)
            t0 = time.perf_counter()
            stats = {} if config.contours_only else train_image(model, optimizer, rgb, b, k, config, device,
                                                                 sample_seed=config.seed * 1000003 + i)
            if head_opt is not None:
                stats.update(train_contours(model.contour_head, head_opt, rgb, config, rng, device))
            stats["seconds"] = time.perf_counter() - t0
            position = i + 1
            done += 1
            rec = {"index": i, "name": name, "size": list(rgb.shape[:2]), "lr": optimizer.param_groups[0]["lr"],
                   **{k2: round(v, 6) for k2, v in stats.items()}}
            history.append(rec)
            if log is not None:
                with open(log, "a") as fh:
                    fh.write(json.dumps(rec) + "\n")
            if bar is not None:
                bar.update(1)
                bar.set_postfix({key: f"{stats[key]:.4f}" for key in ("loss", "contour_loss") if key in stats})
            last = boundary()
            # a checkpoint whenever the position has passed a multiple of checkpoint_every since the
            # last one (skipped images count: a multiple that fell on one is not missed)
            if position // checkpoint_every > (saved["position"] or resumed_from) // checkpoint_every:
                save()
    except BaseException as exc:  # keep every whole image: the state after the last one, saved
        if bar is not None:
            bar.close()
        position = last[0]
        model.load_state_dict(last[1])
        optimizer.load_state_dict(last[2])
        if head_opt is not None:
            head_opt.load_state_dict(last[3])
        del history[last[4]:]
        if position > resumed_from and any("skipped" not in r for r in history):
            save()
            what = "" if isinstance(exc, KeyboardInterrupt) else f" before the error ({type(exc).__name__})"
            print(f"saved: {output} holds the {position} image(s) passed so far{what}; --resume continues",
                  file=sys.stderr)
        raise
    if bar is not None:
        bar.close()
    if not any("skipped" not in r for r in history):
        if history:
            raise ValueError("no image could be trained (every one was skipped: see above); no model written")
        raise ValueError(f"no image was trained: the stream holds none (max_images={max_images}); no model written")
    save()
    if config.contour_iterations == 0 and head_never_trained(fresh_head, history):
        warnings.warn("the contour head was not trained (contour_iterations=0, --contour-iterations 0) and this model "
                      "started from none: the default clustering ('fast') reads only that head, so it segments as an "
                      "untrained model; use clustering='compact' or 'paper' (--clustering) for what was trained",
                      stacklevel=2)
    model.eval()
    return model


def adapt_model(net: LNSNet, rgb: np.ndarray, n_segments: int, iterations: int, lr: float | None = None,
                device=None, seed: int = 0, contours: bool = False) -> LNSNet:
    """Online adaptation: a copy of ``net`` trained on the one image ``rgb`` (any image
    :func:`lnsnet.segment` takes) for ``iterations`` feature-phase steps of the lifelong recipe at
    ``n_segments`` (FEM and reconstruction head, GAL and GBL, no labels); ``net`` itself
    is not changed; ``lr`` None: :data:`ADAPT_LR`. ``contours``: the contour head instead,
    ``iterations`` steps towards the image's own half-disc contours (:func:`train_contours`
    on the whole image; ``lr`` None: the training's ``contour_lr``), what
    ``features="input"`` clusters with.
    ``lnsnet.segment(..., adapt=N)`` calls it with the default ``lr``; what it gains is
    measured in ``docs/adaptation.md``."""
    if isinstance(iterations, bool) or not isinstance(iterations, numbers.Integral) or iterations < 0:
        raise ValueError(f"adapt iterations must be an integer >= 0, got {iterations!r}")
    rgb = to_float_rgb(rgb)
    dev = as_device(device)
    model = copy.deepcopy(net).to(dev)
    if contours:
        if model.contour_head is None:
            raise ValueError("this model has no contour head to adapt")
        cfg = TrainConfig(contour_iterations=int(iterations), contour_crop=max(16, *rgb.shape[:2]), seed=seed)
        opt = torch.optim.Adam(model.contour_head.parameters(), lr=cfg.contour_lr if lr is None else float(lr))
        with torch.inference_mode(False), torch.enable_grad():
            train_contours(model.contour_head, opt, rgb, cfg, np.random.default_rng(seed), dev)
        return model.eval()
    cfg = TrainConfig(iterations=int(iterations), feature_iterations=int(iterations),
                      lr=ADAPT_LR if lr is None else float(lr),
                      learn_seeds=False, seed=seed)
    opt = torch.optim.Adam(model.parameter_groups()["features"], lr=cfg.lr)
    with torch.inference_mode(False), torch.enable_grad():
        train_image(model, opt, rgb, contour_prior(rgb, cfg.contour), n_segments, cfg, dev, sample_seed=seed)
    return model.eval()
