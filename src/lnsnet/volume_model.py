"""LNS-Net in 3-D: a feature embedder of 3-D convolutions trained without labels, volume
after volume, with the paper's losses and its gradient rescaling module.

The input of a voxel: its channels, standardised over the volume (as the 3-D clustering
reads them), and its position in grid steps (z, y, x in physical units divided by the
step of a ``train_segments`` grid). The embedder maps it to ``out`` features; training
(per step, on a random crop) minimises the range-limited clustering loss of Sec. 3.3
(soft assignment of every voxel to the seeds of its 27 neighbouring grid cells, Student-t,
KL to the sharpened target plus the regular term on the ``n_neighbours`` nearest seeds)
plus ``beta`` times the reconstruction of the input from the features, with the GRM:
GAL (each feature channel's gradient scaled by ``g / (g + m)``, ``m`` the memory of the
reconstruction strength, for lifelong learning) and GBL (the gradient of the position
reconstruction attenuated on the volume's contours: the 3-D Sobel magnitude of the
smoothed channels). Seeds are the grid cells' mean features (no seed layer in 3-D).

For segmenting, the clustering of :mod:`lnsnet.volume` reads the standardised input
channels and the standardised learned features together.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .dictconfig import DictConfig
from .io import MAX_VOXELS
from .model.grm import _ScaleGradient, gbl_scale, update_memory
from .runtime import locked_output

__all__ = ["VolumeConfig", "VolumeNet", "VolumeTrainConfig", "train_volumes", "load_volume_model",
           "save_volume_model", "volume_features"]

FORMAT = "lnsnet-3d"


@dataclass
class VolumeConfig(DictConfig):
    in_channels: int = 1  # channels of the volume (the network adds 3 for the position)
    hidden: int = 12
    out: int = 6
    train_segments: int = 1000  # the grid whose step scales the position input


class VolumeNet(nn.Module):
    """``embed(x)``: ``(B, C + 3, Z, Y, X)`` -> ``(B, out, Z, Y, X)``; ``reconstruct``:
    back to the input (training only); ``memory``: the GAL memory (part of the state)."""

    def __init__(self, config: VolumeConfig | None = None, seed: int = 0):
        super().__init__()
        self.config = c = config or VolumeConfig()
        g = torch.Generator().manual_seed(seed)
        n_in = c.in_channels + 3
        self.conv1 = nn.Conv3d(n_in, c.hidden, 3, padding=1, bias=False)  # BN follows: a bias would only drift
        self.bn1 = nn.BatchNorm3d(c.hidden)
        self.conv2 = nn.Conv3d(c.hidden, c.hidden, 3, padding=2, dilation=2, bias=False)
        self.bn2 = nn.BatchNorm3d(c.hidden)
        self.conv3 = nn.Conv3d(c.hidden + n_in, c.out, 1)
        self.reconstruction = nn.Conv3d(c.out, n_in, 1, bias=False)
        self.register_buffer("memory", torch.ones(c.out))
        for m in (self.conv1, self.conv2, self.conv3, self.reconstruction):
            nn.init.kaiming_normal_(m.weight, generator=g)
            if m.bias is not None:
                nn.init.zeros_(m.bias)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.bn1(self.conv1(x)))
        h = F.relu(self.bn2(self.conv2(h)))
        return self.conv3(torch.cat([h, x], 1))

    def strength(self) -> torch.Tensor:
        """g(W^r) per feature channel: mean |W| to the channels times mean |W| to the position."""
        a = self.reconstruction.weight.reshape(self.reconstruction.weight.shape[0], -1).abs()
        c = self.config.in_channels
        return a[:c].mean(0) * a[c:].mean(0)


def _standardised(vol: np.ndarray) -> np.ndarray:
    """``(Z, Y, X, C)`` -> ``(C, Z, Y, X)`` float32, each channel in [0, 1] by lnsnet's rule,
    then to mean 0 and variance 1."""
    from .volume import _features

    return np.ascontiguousarray(np.moveaxis(_features(vol, None), -1, 0))


def _encode(vol: np.ndarray, spacing, n_segments: int) -> np.ndarray:
    """The network's input ``(C + 3, Z, Y, X)``: standardised channels and the position in
    grid steps of an ``n_segments`` grid (centred)."""
    grids = np.meshgrid(*_positions(vol.shape[:3], spacing, n_segments), indexing="ij")
    return np.concatenate([_standardised(vol), np.stack(grids)], 0)


def _contours(f: np.ndarray) -> np.ndarray:
    """3-D Sobel magnitude of the smoothed standardised channels ``f`` ``(C, Z, Y, X)`` (the
    first C rows of :func:`_encode`), scaled to [0, 1] by its 99th percentile (the GBL's
    contour prior)."""
    from scipy import ndimage

    mag = np.zeros(f.shape[1:], dtype=np.float32)
    for ch in f:
        s = ndimage.gaussian_filter(ch, 1.0)
        mag += sum(ndimage.sobel(s, axis=a) ** 2 for a in range(3))
    mag = np.sqrt(mag)
    top = float(np.percentile(mag, 99)) or 1.0
    return np.clip(mag / top, 0, 1).astype(np.float32)


@dataclass
class VolumeTrainConfig(DictConfig):
    steps: int = 60  # per volume
    crop: int = 32  # crop edge in voxels (each axis at most the volume's)
    cells: int = 4  # grid cells per crop edge: cells of crop/cells voxels
    lr: float = 1e-3
    beta: float = 10.0
    phi: float = 1.0
    n_neighbours: int = 8
    epsilon: float = 0.3
    memory_rate: float = 0.1
    seed: int = 0

    def __post_init__(self):
        self.check_kinds()
        from .train import check_loss_settings

        check_loss_settings(self)


def _crop_loss(net: VolumeNet, x: torch.Tensor, b: torch.Tensor, cfg: VolumeTrainConfig) -> tuple[torch.Tensor, dict]:
    """Clustering + beta * reconstruction loss on one crop ``x`` ``(1, C + 3, d, h, w)``."""
    c_in = net.config.in_channels
    z = net.embed(x)
    g = net.strength().detach()
    za = _ScaleGradient.apply(z, (g / (g + net.memory)).reshape(1, -1, 1, 1, 1))  # GAL
    d, h, w = x.shape[2:]
    n = [max(1, min(cfg.cells, s)) for s in (d, h, w)]
    D = za.shape[1]
    cz = (torch.arange(d) * n[0] // d)
    cy = (torch.arange(h) * n[1] // h)
    cx = (torch.arange(w) * n[2] // w)
    # seeds: each cell's mean feature, over the voxels of the same cells the candidates use
    cell = ((cz[:, None, None] * n[1] + cy[None, :, None]) * n[2] + cx[None, None, :]).reshape(-1)
    n_cells = n[0] * n[1] * n[2]
    sums = torch.zeros(n_cells, D, dtype=za.dtype).index_add(0, cell, za[0].reshape(D, -1).t())
    seeds_flat = sums / torch.bincount(cell, minlength=n_cells).clamp_min(1)[:, None].to(za.dtype)
    offs = torch.tensor([(a, bb, c) for a in (-1, 0, 1) for bb in (-1, 0, 1) for c in (-1, 0, 1)])
    vz = cz[:, None, None, None] + offs[:, 0]
    vy = cy[None, :, None, None] + offs[:, 1]
    vx = cx[None, None, :, None] + offs[:, 2]
    vz, vy, vx = torch.broadcast_tensors(vz, vy, vx)  # (d, h, w, 27)
    valid = (vz >= 0) & (vz < n[0]) & (vy >= 0) & (vy < n[1]) & (vx >= 0) & (vx < n[2])
    idx = (vz.clamp(0, n[0] - 1) * n[1] + vy.clamp(0, n[1] - 1)) * n[2] + vx.clamp(0, n[2] - 1)
    flat_seeds = seeds_flat  # (K, D)
    zf = za[0].reshape(D, -1).t()  # (N, D)
    idx = idx.reshape(-1, 27)
    valid = valid.reshape(-1, 27)
    d2 = ((zf[:, None, :] - flat_seeds[idx]) ** 2).sum(-1)
    q = 1.0 / (1.0 + d2)
    q = torch.where(valid, q, torch.zeros_like(q))
    p = q / q.sum(1, keepdim=True).clamp_min(1e-12)
    # V_i: the n nearest candidate cells (by the cell offset's l1 length; ties by order)
    near = offs.abs().sum(1).float()[None].expand_as(d2)
    near = torch.where(valid, near, torch.full_like(near, 1e9))
    top = near.topk(min(cfg.n_neighbours, 27), dim=1, largest=False).indices
    inside = torch.zeros_like(valid).scatter_(1, top, True) & valid
    p_in = torch.where(inside, p, torch.zeros_like(p))
    pt = p_in / p_in.sum(1, keepdim=True).clamp_min(1e-12)
    with torch.no_grad():
        f = torch.zeros(flat_seeds.shape[0]).index_add_(0, idx[inside], pt[inside])
        t = torch.where(inside, pt * pt / f[idx].clamp_min(1e-12), torch.zeros_like(pt))
        t = t / t.sum(1, keepdim=True).clamp_min(1e-12)
    kl = torch.where(t > 0, t * (torch.log(t.clamp_min(1e-12)) - torch.log(pt.clamp_min(1e-12))),
                     torch.zeros_like(pt)).sum(1).mean()
    reg = (torch.where(inside, torch.zeros_like(p), p).sum(1) / p_in.sum(1).clamp_min(1e-12)).mean()
    psi = gbl_scale(b, cfg.epsilon, "attenuate")  # (1, d, h, w)
    zb = _ScaleGradient.apply(za, psi[:, None])
    wr = net.reconstruction.weight
    xr_c = F.conv3d(za, wr[:c_in])
    xr_p = F.conv3d(zb, wr[c_in:])
    l_r = F.mse_loss(xr_c, x[:, :c_in]) + cfg.phi * F.mse_loss(xr_p, x[:, c_in:])
    loss = kl + reg + cfg.beta * l_r
    return loss, {"kl": kl.item(), "regular": reg.item(), "rec": l_r.item()}


@locked_output("output")
def train_volumes(volumes, output=None, *, spacings=None, net: VolumeNet | None = None,
                  config: VolumeTrainConfig | None = None, resume: bool = False, progress: bool = False, log=None,
                  on_skip=None, max_voxels: int | None = MAX_VOXELS, max_volumes: int | None = None,
                  overwrite: bool = False) -> VolumeNet:
    """Train (or continue training) a :class:`VolumeNet` on a stream of volumes, one after
    another with one optimiser (Algorithm 1 of the paper, volume by volume),
    ``config.steps`` random crops each.

    ``volumes``: ``(Z, Y, X)`` or ``(Z, Y, X, C)`` arrays, or files read by
    :func:`lnsnet.io.read_volume` (their recorded voxel size used unless ``spacings``
    gives one per volume). ``output``: the model file, rewritten atomically after every
    volume with the optimiser, the position in the stream and the history, so ``resume``
    continues an interrupted stream where its last checkpoint stopped (the crops of
    volume ``i`` are drawn from a generator seeded by ``(seed, i)``, so a resumed stream
    draws what an uninterrupted one would); ``max_volumes``: stop after training on this
    many in this call (resumable); ``max_voxels``: files with more voxels are refused before
    decoding (default :data:`lnsnet.io.MAX_VOXELS`; None or 0: no limit). A file that cannot be read, or a volume of
    another channel count, is skipped: ``on_skip(name, reason)`` (default: a warning), a
    history record says why, and the stream goes on. ``log``: a JSON-lines file, one record
    per volume; a new run refuses one that holds records unless ``overwrite``
    (:func:`lnsnet.train.start_log`). An existing ``output`` is refused without ``resume``
    or ``overwrite``, as :func:`lnsnet.train_stream` refuses it."""
    import warnings

    from .io import read_volume
    from .train import _Resumed, refuse_existing, start_log

    refuse_existing(output, resume, overwrite)
    continuing = resume and output is not None and Path(output).is_file()  # else a new run, for the log too
    start_log(log, continuing, overwrite, check_only=True)  # emptied below, once the run is sure to start
    cfg = config or VolumeTrainConfig()
    items = list(volumes)
    spacings = list(spacings) if spacings is not None else [None] * len(items)
    position, history, opt_state = 0, [], None
    if continuing:
        payload = _load_payload(Path(output))
        if "optimizer" not in payload:
            raise ValueError(f"{output} holds a 3-D model but no training state; train without --resume")
        net = _net_from(payload, output)
        saved = VolumeTrainConfig.from_dict(payload.get("train_config", cfg.to_dict()))
        if config is not None and config.to_dict() != saved.to_dict():
            new, old = config.to_dict(), saved.to_dict()
            diff = ", ".join(f"{k}={old.get(k)!r} (not {new[k]!r})" for k in new if new[k] != old.get(k))
            warnings.warn(f"resuming with the training configuration stored in the checkpoint: {diff}", stacklevel=2)
        cfg = saved
        opt_state, position = payload["optimizer"], int(payload.get("position", 0))
        history = list(payload.get("history", []))
    log = start_log(log, continuing, overwrite)
    # names as given (relative or absolute): their file names compared
    resumed = _Resumed(history, position, output, "volume", log if continuing else None,
                       key=lambda name: Path(str(name)).name)
    if on_skip is None:
        def on_skip(name, reason):
            warnings.warn(f"skipped volume {name}: {reason}", stacklevel=3)
    opt = None
    done = 0
    for i, (item, sp) in enumerate(zip(items, spacings)):
        name = str(item) if isinstance(item, (str, Path)) else f"volume-{i}"
        if resumed.passed(i, name):
            continue
        if max_volumes is not None and done >= max_volumes:
            break
        try:
            if isinstance(item, (str, Path)):
                vol, found = read_volume(item, max_voxels=max_voxels)
                sp = sp or found
            else:
                vol = np.asarray(item)
            vol = vol if vol.ndim == 4 else vol[..., None]
            if vol.ndim != 4 or vol.dtype.kind not in "biuf":
                raise ValueError(f"a volume is a numeric ZxYxX or ZxYxXxC array, got {vol.dtype} {vol.shape}")
            if vol.dtype.kind == "f" and not np.isfinite(vol).all():
                raise ValueError("the volume contains NaN or infinite values")
            if net is None:
                net = VolumeNet(VolumeConfig(in_channels=vol.shape[3]), seed=cfg.seed)
            if vol.shape[3] != net.config.in_channels:
                raise ValueError(f"{vol.shape[3]} channel(s), the model takes {net.config.in_channels}")
            sp = tuple(sp) if sp is not None else (1.0, 1.0, 1.0)
            x = _encode(vol, sp, net.config.train_segments)
            x_all, b_all = torch.from_numpy(x), torch.from_numpy(_contours(x[: vol.shape[3]]))
        except (ValueError, OSError) as exc:
            position = i + 1
            history.append({"index": i, "name": name, "skipped": str(exc)})
            on_skip(name, str(exc))
            continue
        if opt is None:
            opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
            if opt_state is not None:
                opt.load_state_dict(opt_state)
        rng = np.random.default_rng([cfg.seed, i])
        t0 = time.perf_counter()
        net.train()
        for _ in range(cfg.steps):
            lo = [int(rng.integers(0, max(0, s - cfg.crop) + 1)) for s in vol.shape[:3]]
            sl = tuple(slice(a, a + cfg.crop) for a in lo)
            loss, parts = _crop_loss(net, x_all[(slice(None),) + sl][None], b_all[sl][None], cfg)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            with torch.no_grad():
                update_memory(net.memory, net.strength(), cfg.memory_rate)
        position = i + 1
        done += 1
        rec = {"index": i, "name": name, "shape": list(vol.shape[:3]), "loss": loss.item(), **parts,
               "seconds": round(time.perf_counter() - t0, 2)}
        history.append(rec)
        if log is not None:
            with open(log, "a") as fh:
                fh.write(json.dumps(rec) + "\n")
        if progress:
            print(f"volume {i + 1}/{len(items)}: loss {rec['loss']:.4f} ({rec['seconds']} s)", flush=True)
        if output is not None:
            save_volume_model(output, net, history=history, train_config=cfg.to_dict(), position=position,
                              optimizer=opt.state_dict())
    if net is None:
        raise ValueError("no volume could be trained on")
    if output is not None and (not history or "skipped" in history[-1]):
        extra = {"optimizer": opt.state_dict()} if opt is not None else ({"optimizer": opt_state} if opt_state else {})
        save_volume_model(output, net, history=history, train_config=cfg.to_dict(), position=position, **extra)
    net.eval()
    return net


def save_volume_model(path, net: VolumeNet, **extra) -> None:
    from .io import atomic_write

    payload = {"format": FORMAT, "version": 1, "model_config": net.config.to_dict(),
               "state_dict": {k: v.detach().cpu() for k, v in net.state_dict().items()}, **extra}
    atomic_write(Path(path), lambda tmp: torch.save(payload, tmp))


def _load_payload(path: Path) -> dict:
    if not path.is_file():
        from .hub import available_models

        if str(path) in available_models():
            raise FileNotFoundError(f"{path} is a shipped 2-D model; no 3-D model is shipped: a 3-D model is a file "
                                    "that `lnsnet train --volume` wrote (docs/volumes.md)")
        raise FileNotFoundError(f"model file not found: {path}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - a file of another kind, or code: one message
        raise ValueError(f"{path} is not an lnsnet 3-D model file: {exc}") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ValueError(f"{path} is not an lnsnet 3-D model file (no 'format': '{FORMAT}' entry)")
    return payload


def _net_from(payload: dict, path=None) -> VolumeNet:
    try:
        net = VolumeNet(VolumeConfig.from_dict(payload["model_config"]))
        net.load_state_dict(payload["state_dict"])
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        first = " ".join(str(exc).split())[:200]
        raise ValueError(f"{path or 'the model file'} does not fit this version's 3-D network (made by another "
                         f"version of lnsnet?): {first}") from None
    return net


def load_volume_model(path) -> VolumeNet:
    """A 3-D model file (tensors and plain data only: ``weights_only`` loading)."""
    net = _net_from(_load_payload(Path(path)), path)
    net.eval()
    return net


def _positions(shape, spacing, n_segments: int) -> list[np.ndarray]:
    """Each axis' position in grid steps of an ``n_segments`` grid, centred (float32)."""
    from .volume import volume_grid

    _, step = volume_grid(tuple(shape), n_segments, spacing)
    return [((np.arange(n) - (n - 1) / 2) * s / step).astype(np.float32) for n, s in zip(shape, spacing)]


@torch.no_grad()
def volume_features(net: VolumeNet, vol: np.ndarray, spacing, slab: int | None = None,
                    each=None, mask: np.ndarray | None = None) -> np.ndarray | None:
    """The learned features of a ``(Z, Y, X, C)`` volume, ``(Z, Y, X, out)`` float32,
    computed in slabs of ``slab`` slices (default: about :data:`lnsnet.volume.SLAB_VOXELS`
    voxels, at least 16 planes: the 3-slice context on each side costs less) with the
    3-slice context the convolutions need; ``mask``: the channels standardised inside it
    and 0 outside (NaN padding outside it reaches no feature):
    the network's input (:func:`_encode`) is made slab by slab as well, so beside the output
    the memory is that of one slab; BatchNorm in eval mode, so slabs equal the whole.
    ``each(z0, z1, f)``: called with each slab's features instead of gathering them (None
    returned)."""
    from .volume import SLAB_VOXELS, _Features

    net.eval()
    z, y, x = vol.shape[:3]
    slab = max(16, SLAB_VOXELS // max(1, y * x)) if slab is None else int(slab)
    src = _Features(vol, mask)  # the standardised channels, made slab by slab
    pz, py, px = _positions((z, y, x), spacing, net.config.train_segments)
    ctx = 3
    out = None
    if each is None:  # gathered whole
        out = np.empty(vol.shape[:3] + (net.config.out,), dtype=np.float32)

        def each(z0, z1, f):
            out[z0:z1] = f

    for a in range(0, z, slab):
        lo, hi = max(0, a - ctx), min(z, a + slab + ctx)
        inp = np.empty((src.nch + 3, hi - lo, y, x), dtype=np.float32)
        inp[: src.nch] = np.moveaxis(src.slab(lo, hi), -1, 0)
        inp[src.nch], inp[src.nch + 1], inp[src.nch + 2] = np.meshgrid(pz[lo:hi], py, px, indexing="ij")
        f = net.embed(torch.from_numpy(inp)[None])[0]
        each(a, min(z, a + slab), np.moveaxis(f[:, a - lo : a - lo + min(slab, z - a)].numpy(), 0, -1))
    return out
