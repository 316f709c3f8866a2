"""SSN: superpixel sampling networks (Jampani et al., ECCV 2018), written from the paper
for this package. The supervised CNN baseline of LNS-Net's Table 1.

A fully convolutional network turns the scaled CIELAB + XY input into per-pixel features;
a differentiable SLIC then clusters them: starting from the mean feature of each grid
cell, each pixel's soft association to the 9 superpixels around its cell is

    q_pj = softmax_j( -||f_p - c_j||^2 ),   c_j = sum_p q_pj f_p / sum_p q_pj

iterated ``iterations`` times (5 in training, 10 at test time). The hard labels are the
argmax associations, made connected.

Network (the paper's, 214,578 parameters): two 3x3 conv + BatchNorm + ReLU layers of 64
channels at full resolution, two more after a 3x3 stride-2 max pool, two more after a
second pool; the three stages, upsampled bilinearly, are concatenated with the input
(5 + 3 x 64 channels) and a last 3x3 conv + ReLU gives 15 channels; with the 5 input
channels these are the 20 features. Input: CIELAB times 0.26 and pixel (row, col) times
``2.5 * max(rows / H, cols / W)`` for a ``rows x cols`` superpixel grid.

Training (the paper's task loss for segmentation labels): with ``R`` the one-hot ground
truth of a crop, superpixel labels are the association-weighted means of ``R``
(``S = Q^T R`` column-normalised), reconstructed pixel labels are ``R~ = Q S``
(row-normalised ``Q``), and the loss is the cross-entropy of ``R~`` against ``R`` plus
``compactness`` (1e-5) times half the sum over pixels of the squared distance between each
pixel's scaled position and that of the superpixel it is assigned to (hard association;
the superpixel positions are recomputed from the final associations). 200x200 random
crops with left-right flips, 100 superpixels per crop, Adam at 1e-4, batch 8. The paper
trains for 500k iterations on BSDS500 train; what was run here (far fewer) is in the
model card ``src/lnsnet/weights/ssn_bsds500.md``; the command is ``python -m lnsnet.eval.ssn``.

Departures from the authors' code, known: crops of 200 (not 201) so that the 10x10 cells
are whole 20x20 blocks; no random rescaling of the images before cropping (they zoom by
0.75-3); position scale ``2.5 * cells / size`` (about 0.125 per pixel in training, theirs
0.25); convolutions without bias followed by affine BatchNorm (theirs: bias, BatchNorm
without scale and shift, Gaussian initialisation); cells of whole pixels
(:func:`ssn_grid`) instead of fractional cells; connectivity by this package's merge of
pieces under 1/4 of the mean size, as for LNS-Net (theirs: 6 %, and pieces above 3x the
mean are split), so that SSN delivers close to K.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..io import atomic_write

__all__ = ["SSNNet", "ssn_input", "soft_slic", "label_reconstruction_loss", "compactness_loss", "ssn",
           "load_ssn", "train_ssn", "load_training_set", "hard_labels", "DEFAULT_WEIGHTS"]  # fmt: skip

#: the shipped SSN baseline model (trained here on BSDS500 train; see its model card)
DEFAULT_WEIGHTS = Path(__file__).resolve().parent.parent / "weights" / "ssn_bsds500.pt"

COLOR_SCALE = 0.26
POS_SCALE = 2.5


def _conv_bn_relu(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class SSNNet(nn.Module):
    """The SSN feature network: ``(B, 5, H, W)`` scaled input -> ``(B, n_features, H, W)``
    (the last 5 channels are the input itself)."""

    def __init__(self, n_features: int = 20, width: int = 64):
        super().__init__()
        if n_features <= 5:
            raise ValueError(f"n_features must be > 5 (the 5 input channels are part of it), got {n_features}")
        self.stage1 = nn.Sequential(_conv_bn_relu(5, width), _conv_bn_relu(width, width))
        self.stage2 = nn.Sequential(_conv_bn_relu(width, width), _conv_bn_relu(width, width))
        self.stage3 = nn.Sequential(_conv_bn_relu(width, width), _conv_bn_relu(width, width))
        self.head = nn.Sequential(nn.Conv2d(5 + 3 * width, n_features - 5, 3, padding=1), nn.ReLU(inplace=True))
        self.n_features = n_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        s1 = self.stage1(x)
        s2 = self.stage2(F.max_pool2d(s1, 3, 2, 1))
        s3 = self.stage3(F.max_pool2d(s2, 3, 2, 1))
        up = dict(size=(h, w), mode="bilinear", align_corners=False)
        cat = torch.cat([x, s1, F.interpolate(s2, **up), F.interpolate(s3, **up)], 1)
        return torch.cat([self.head(cat), x], 1)


def pos_scale(h: int, w: int, rows: int, cols: int) -> float:
    """Scale of the pixel (row, col) input channels: ``2.5 * max(rows / H, cols / W)``,
    about 2.5 units per superpixel step."""
    return POS_SCALE * max(rows / h, cols / w)


def ssn_input(rgb: np.ndarray, rows: int, cols: int) -> torch.Tensor:
    """``(H, W, 3)`` float RGB in [0, 1] -> ``(1, 5, H, W)``: CIELAB times 0.26 and the
    pixel (row, col) times ``2.5 * max(rows / H, cols / W)`` (about 2.5 units per
    superpixel step)."""
    from skimage.color import rgb2lab

    h, w = rgb.shape[:2]
    lab = rgb2lab(rgb).astype(np.float32).transpose(2, 0, 1) * COLOR_SCALE
    s = pos_scale(h, w, rows, cols)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    return torch.from_numpy(np.concatenate([lab, ys[None] * s, xs[None] * s]))[None]


def cell_size(h: int, w: int, rows: int, cols: int) -> tuple[int, int]:
    """SSN's cells: ``ceil(H / rows) x ceil(W / cols)`` pixel blocks from the top-left corner
    (the last row and column of cells may be cut by the image border, or even empty)."""
    return -(-h // rows), -(-w // cols)


def ssn_grid(h: int, w: int, n_segments: int) -> tuple[int, int]:
    """``(rows, cols)`` for K superpixels whose :func:`cell_size` cells tile the image with
    no empty cell. Candidates per axis: counts near those of :func:`lnsnet.grid.make_grid`
    and the counts of whole cells near its cell side; the pair with the product closest to
    K wins, squarer cells breaking near-ties (make_grid's trade-off). For cells of a few
    pixels the count can be well off K (cell sides are whole pixels)."""
    from ..grid import ASPECT_WEIGHT, make_grid

    k = max(1, min(int(n_segments), h * w))
    g = make_grid(h, w, k)

    def counts(size: int, n0: int) -> list[int]:
        out = {n for n in range(max(1, n0 - 2), min(size, n0 + 2) + 1) if (n - 1) * -(-size // n) < size}
        side = size / n0
        out |= {-(-size // c) for c in range(max(1, math.floor(side) - 1), math.ceil(side) + 2)}  # never empty
        return sorted(out)

    best = None
    for rows in counts(h, g.rows):
        for cols in counts(w, g.cols):
            ch, cw = cell_size(h, w, rows, cols)
            cost = abs(math.log(rows * cols / k)) + ASPECT_WEIGHT * abs(math.log(ch / cw))
            if best is None or cost < best[0] - 1e-12:
                best = (cost, rows, cols)
    return best[1], best[2]


def _neighbours(h: int, w: int, rows: int, cols: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    """Each pixel's own cell ``(H*W,)`` and the 9 cells around it: index ``(9, H*W)``
    (clamped into the grid) and inside-the-grid ``(9, H*W)``, offsets in row-major order."""
    ch, cw = cell_size(h, w, rows, cols)
    r = (torch.arange(h, device=device) // ch)[:, None].expand(h, w).reshape(-1)
    c = (torch.arange(w, device=device) // cw)[None, :].expand(h, w).reshape(-1)
    idx, val = [], []
    for dr in (-1, 0, 1):
        for dc in (-1, 0, 1):
            rr, cc = r + dr, c + dc
            val.append((rr >= 0) & (rr < rows) & (cc >= 0) & (cc < cols))
            idx.append(rr.clamp(0, rows - 1) * cols + cc.clamp(0, cols - 1))
    return torch.stack(idx), torch.stack(val)


def soft_slic(features: torch.Tensor, rows: int, cols: int, iterations: int = 10):
    """Differentiable SLIC on ``(B, C, H, W)`` features with a ``rows x cols`` grid of
    :func:`cell_size` cells; ``iterations`` centroid updates (the first centroids are the
    cell means, so 1 means: associate to the cell means).

    Computed per cell: the image is padded (replicated, zero weight) to whole cells, the
    3x3 candidate centroids of each cell come from ``unfold``, distances and centroid
    sums are batched matrix products, and the sums over overlapping candidate windows
    are ``fold`` (the adjoint of ``unfold``). Same result as the pixel-by-pixel reference in the tests (``tests/reference.py``).

    Returns
    -------
    q : ``(B, 9, H*W)`` soft associations of each pixel to its 9 candidate superpixels
        (0 for candidates outside the grid or empty).
    index : ``(9, H*W)`` the candidates' superpixel indices (row-major offsets).
    centroids : ``(B, C, rows*cols)`` the superpixels of the final associations,
        ``sum_p q_pj f_p / sum_p q_pj`` (as the paper's compactness loss uses them).
    """
    b, c, h, w = features.shape
    k = rows * cols
    ch, cw = cell_size(h, w, rows, cols)
    hp, wp = rows * ch, cols * cw
    x = features
    weight = None
    if (hp, wp) != (h, w):
        x = F.pad(features, (0, wp - w, 0, hp - h), mode="replicate")
        weight = features.new_zeros(1, 1, hp, wp)
        weight[..., :h, :w] = 1
        weight = weight.reshape(1, rows, ch, cols, cw).permute(0, 1, 3, 2, 4).reshape(k, ch * cw, 1)
    # (B*K, P, C): the P = ch*cw pixels of each cell
    f = x.reshape(b, c, rows, ch, cols, cw).permute(0, 2, 4, 3, 5, 1).reshape(b * k, ch * cw, c)
    if weight is None:
        count = f.new_full((k,), float(ch * cw))
        cent = f.mean(1)
    else:
        weight = weight.repeat(b, 1, 1)
        count = weight[:k].sum((1, 2))
        cent = (f * weight).sum(1) / weight.sum(1).clamp_min(1)
    cent = cent.reshape(b, rows, cols, c).permute(0, 3, 1, 2)  # (B, C, rows, cols)
    ok = (count > 0).to(f.dtype).reshape(1, 1, rows, cols)
    valid = F.unfold(ok, 3, padding=1).bool().transpose(1, 2).expand(b, k, 9).reshape(b * k, 1, 9)
    fsq = (f * f).sum(-1, keepdim=True)  # (BK, P, 1)
    def update(q):
        qw = q if weight is None else q * weight
        num = (qw.transpose(1, 2) @ f).reshape(b, k, 9, c).permute(0, 3, 2, 1).reshape(b, c * 9, k)
        den = qw.sum(1).reshape(b, k, 9).transpose(1, 2)
        return F.fold(num, (rows, cols), 3, padding=1) / F.fold(den, (rows, cols), 3, padding=1).clamp_min(1e-12)

    q = None
    for _ in range(max(1, iterations)):
        if q is not None:
            cent = update(q)
        cand = F.unfold(cent, 3, padding=1).reshape(b, c, 9, k).permute(0, 3, 2, 1).reshape(b * k, 9, c)
        d = fsq - 2 * (f @ cand.transpose(1, 2)) + (cand * cand).sum(-1)[:, None, :]  # (BK, P, 9)
        q = torch.softmax(d.masked_fill(~valid, float("inf")).neg(), dim=-1)
    cent = update(q)  # the superpixels of the final associations
    q = q.reshape(b, rows, cols, ch, cw, 9).permute(0, 5, 1, 3, 2, 4).reshape(b, 9, hp, wp)
    q = q[..., :h, :w].reshape(b, 9, h * w)
    index = _neighbours(h, w, rows, cols, features.device)[0]
    return q, index, cent.reshape(b, c, k)


def _assigned(q: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """The superpixel of each pixel's largest association, ``(B, N)``:
    ``out[b, p] = index[argmax_j q[b, j, p], p]``."""
    return index.gather(0, q.argmax(1))


def hard_labels(q: torch.Tensor, index: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """Argmax associations as superpixel indices, ``(B, H, W)``."""
    return _assigned(q, index).reshape(-1, h, w)


def label_reconstruction_loss(q: torch.Tensor, index: torch.Tensor, labels: torch.Tensor, n_superpixels: int):
    """Cross-entropy between the ground truth and its reconstruction through the superpixels.

    ``q`` ``(B, 9, N)``, ``index`` ``(9, N)``, ``labels`` ``(B, N)`` int in ``0..L-1``.
    ``S[j, l] = sum_p q_pj [y_p = l] / sum_p q_pj``; ``R~[p, l] = sum_j q_pj S[j, l]``;
    the loss is the mean over pixels of ``-log R~[p, y_p]``.
    """
    b, m, n = q.shape
    n_labels = int(labels.max().item()) + 1
    k = n_superpixels
    # S[l, j] for every (label, superpixel) pair, as a flat (L*K) table: q scattered at y_p*K + j
    where = labels[:, None, :] * k + index[None]  # (B, 9, N)
    num = q.new_zeros(b, n_labels * k).scatter_add(1, where.reshape(b, -1), q.reshape(b, -1))
    den = q.new_zeros(b, k).index_add(1, index.reshape(-1), q.reshape(b, -1))
    table = (num.reshape(b, n_labels, k) / den.clamp_min(1e-12)[:, None]).reshape(b, -1)
    # S at (y_p, candidate j) for each pixel
    picked = table.gather(1, where.reshape(b, -1)).reshape(b, m, n)
    recon = (q * picked).sum(1)
    return -torch.log(recon.clamp_min(1e-8)).mean()


def compactness_loss(q: torch.Tensor, index: torch.Tensor, centroids: torch.Tensor, positions: torch.Tensor):
    """The paper's position reconstruction loss: half the sum over pixels of the squared
    distance between each pixel's position ``(B, 2, N)`` and the position (the last two
    centroid channels) of the superpixel it is assigned to by argmax, mean over the batch
    (Caffe's EuclideanLoss, as in the authors' code)."""
    sp = _assigned(q, index)
    cpos = centroids[:, -2:, :]
    assigned = cpos.gather(2, sp[:, None, :].expand(-1, 2, -1))
    return (positions - assigned).pow(2).sum((1, 2)).mean() / 2


# ------------------------------------------------------------------------------ inference

_CACHE: dict = {}


def load_ssn(model=None, device=None) -> SSNNet:
    """An :class:`SSNNet` in eval mode from a file written by :func:`train_ssn` (default:
    the shipped :data:`DEFAULT_WEIGHTS`), or ``model`` itself when it is an ``SSNNet``."""
    if isinstance(model, SSNNet):
        return (model if device is None else model.to(device)).eval()
    path = Path(model) if model is not None else DEFAULT_WEIGHTS
    if not path.is_file():
        raise FileNotFoundError(f"SSN weights not found: {path} (train them with `python -m lnsnet.eval.ssn OUT.pt`)")
    st = path.stat()
    key = (str(path.resolve()), st.st_mtime_ns, st.st_size, st.st_ino, str(device))
    if key not in _CACHE:
        blob = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(blob, dict) or blob.get("format") != "lnsnet-ssn":
            raise ValueError(f"{path} is not an SSN model file written by lnsnet.eval.ssn.train_ssn")
        net = SSNNet(int(blob.get("n_features", 20)))
        net.load_state_dict(blob["state_dict"])
        _CACHE.clear()
        _CACHE[key] = net.to(device or "cpu")
    return _CACHE[key].eval()  # eval again: a caller may have switched the shared module


def ssn(image, n_segments: int, *, model=None, iterations: int = 10, device=None) -> np.ndarray:
    """Superpixels of one image by SSN: ``(H, W)`` int labels, connected.

    Parameters
    ----------
    image : ``(H, W, 3)`` uint8 or float RGB in [0, 1].
    n_segments : K; the superpixel grid is :func:`ssn_grid` (cells of whole pixels that
        tile the image, their count close to K).
    model : path of a model file or an :class:`SSNNet` (default: the shipped model).
    iterations : differentiable-SLIC iterations (the paper uses 10 at test time).
    device : torch device (default: CUDA when available, else CPU).
    """
    from ..connectivity import enforce_connectivity
    from .rim import cnn_setup

    rgb, k, dev = cnn_setup(image, n_segments, device)
    if iterations < 1:
        raise ValueError(f"iterations must be >= 1, got {iterations!r}")
    net = load_ssn(model, dev)
    h, w = rgb.shape[:2]
    rows, cols = ssn_grid(h, w, k)
    with torch.no_grad():
        f = net(ssn_input(rgb, rows, cols).to(dev))
        q, index, _ = soft_slic(f, rows, cols, iterations)
        labels = hard_labels(q, index, h, w)[0].cpu().numpy()
    # pieces under 1/4 of the mean superpixel size are merged (as for LNS-Net here; the
    # authors' 6 % leaves many small pieces: 126 segments for K=100 on BSDS500 val)
    return enforce_connectivity(labels, rgb, n_segments=k)


# ------------------------------------------------------------------------------- training


def load_training_set(root=None, splits=("train",), limit: int | None = None, progress: bool = False) -> list:
    """BSDS500 images of ``splits`` as ``(lab (H, W, 3) float32 (times 0.26), [ground truths])``."""
    from skimage.color import rgb2lab

    from ..io import to_float_rgb
    from .datasets import BSDS500

    out = []
    for split in splits:
        ds = BSDS500(root, split=split)
        n = len(ds) if limit is None else min(limit, len(ds))
        it = range(n)
        if progress:
            from tqdm.auto import tqdm

            it = tqdm(it, desc=f"loading {split}", unit="img")
        for i in it:
            s = ds[i]
            lab = rgb2lab(to_float_rgb(s.image)).astype(np.float32) * COLOR_SCALE
            out.append((lab, [g.astype(np.int32) for g in s.ground_truths]))
    return out


def _to_device(data: list, device) -> list:
    """:func:`load_training_set` output as tensors on ``device``: ``(3, H, W)`` float and int32 maps."""
    return [(torch.from_numpy(np.ascontiguousarray(lab.transpose(2, 0, 1))).to(device),
             [torch.from_numpy(g.astype(np.int32)).to(device) for g in gts]) for lab, gts in data]  # fmt: skip


def _batch(data: list, rng: np.random.Generator, batch: int, crop: int, rows: int, cols: int):
    """A batch of random crops (random annotator, random left-right flip) from :func:`_to_device`
    data: input ``(B, 5, crop, crop)`` and labels ``(B, crop*crop)``. The labels keep the
    image's numbering (the loss does not need them consecutive)."""
    dev = data[0][0].device
    s = pos_scale(crop, crop, rows, cols)
    ys, xs = torch.meshgrid(torch.arange(crop, device=dev, dtype=torch.float32),
                            torch.arange(crop, device=dev, dtype=torch.float32), indexing="ij")  # fmt: skip
    pos = torch.stack([ys * s, xs * s])
    xs_, ls_ = [], []
    for _ in range(batch):
        lab, gts = data[rng.integers(len(data))]
        gt = gts[rng.integers(len(gts))]
        h, w = gt.shape
        ch, cw = min(crop, h), min(crop, w)
        y0 = int(rng.integers(h - ch + 1))
        x0 = int(rng.integers(w - cw + 1))
        img = lab[:, y0:y0 + ch, x0:x0 + cw]
        lbl = gt[y0:y0 + ch, x0:x0 + cw]
        if (ch, cw) != (crop, crop):  # images smaller than the crop: pad by replication
            img = F.pad(img[None], (0, crop - cw, 0, crop - ch), mode="replicate")[0]
            lbl = F.pad(lbl[None, None].float(), (0, crop - cw, 0, crop - ch), mode="replicate")[0, 0].to(lbl.dtype)
        if rng.random() < 0.5:  # left-right flip of image and labels (the authors' augmentation)
            img, lbl = img.flip(-1), lbl.flip(-1)
        xs_.append(torch.cat([img, pos]))
        ls_.append(lbl.reshape(-1))
    return torch.stack(xs_), torch.stack(ls_).long()


def _save(obj, path: Path) -> None:
    atomic_write(path, lambda tmp: torch.save(obj, tmp))


def train_ssn(out, data: list, *, steps: int = 500_000, batch: int = 8, crop: int = 200, n_superpixels: int = 100,
              iterations: int = 5, lr: float = 1e-4, compactness: float = 1e-5, seed: int = 0, device=None,
              checkpoint_every: int = 100, minutes: float | None = None, progress: bool = True,
              notes: dict | None = None) -> dict:  # fmt: skip
    """Train SSN on ``data`` (from :func:`load_training_set`) and write the model to ``out``.

    Resumable: the state (network, optimiser, step, random generators, elapsed time) is
    saved to ``out + ".ckpt"`` every ``checkpoint_every`` steps and when stopping; a
    second call with the same ``out`` goes on from there. Losses go to ``out + ".jsonl"``.
    ``minutes`` stops (and saves) after that much wall time in this call; the model file
    is written whenever the run stops. A resumed run may change the settings (e.g. the
    learning rate, which is set anew): each change is printed and kept, with the step it
    took effect at, in the model's ``meta["history"]``. Returns a summary dict.
    """
    import sys

    from .rim import default_device

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    ckpt = out.with_name(out.name + ".ckpt")
    logp = out.with_name(out.name + ".jsonl")
    dev = default_device(device)
    rows, cols = ssn_grid(crop, crop, n_superpixels)
    torch.manual_seed(seed)
    net = SSNNet().to(dev)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    rng = np.random.default_rng(seed)
    step, elapsed = 0, 0.0
    data = _to_device(data, dev)
    settings = dict(batch=batch, crop=crop, n_superpixels=n_superpixels, iterations=iterations, lr=lr,
                    compactness=compactness, seed=seed, n_images=len(data),
                    augmentation="left-right flips", compactness_loss="half the sum over pixels, batch mean")  # fmt: skip
    history: list = []
    if ckpt.is_file():
        state = torch.load(ckpt, map_location="cpu", weights_only=False)
        net.load_state_dict(state["net"])
        opt.load_state_dict(state["opt"])
        for group in opt.param_groups:
            group["lr"] = lr
        rng.bit_generator.state = state["rng"]
        torch.set_rng_state(state["torch_rng"])
        step, elapsed = int(state["step"]), float(state["elapsed_s"])
        history = list(state.get("history", []))
        old = state["settings"]
        changed = {k: (old.get(k), settings.get(k)) for k in {**old, **settings} if old.get(k) != settings.get(k)}
        if changed:
            history.append({"step": step, "changed": {k: list(v) for k, v in changed.items()}})
            print(f"SSN training resumed at step {step} with changed settings (old, new): {changed}", file=sys.stderr)
        if logp.is_file():  # drop the losses logged after the checkpoint (a crash in between)
            keep = [ln for ln in logp.read_text(encoding="utf-8").splitlines()
                    if ln.strip() and json.loads(ln)["step"] <= step]  # fmt: skip
            logp.write_text("".join(ln + "\n" for ln in keep), encoding="utf-8")

    def save_state():
        _save({"net": net.state_dict(), "opt": opt.state_dict(), "rng": rng.bit_generator.state,
                      "torch_rng": torch.get_rng_state(), "step": step, "elapsed_s": elapsed,
                      "settings": settings, "history": history}, ckpt)  # fmt: skip
        meta = dict(settings, steps=step, train_seconds=round(elapsed, 1), device=str(dev), history=history,
                    **(notes or {}))  # fmt: skip
        _save({"format": "lnsnet-ssn", "n_features": net.n_features,
                      "state_dict": {k: v.detach().cpu() for k, v in net.state_dict().items()}, "meta": meta}, out)

    t_call = time.perf_counter()
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=steps, initial=step, desc="SSN training", unit="step")
    net.train()
    stopped = "steps"
    last = None

    def write_log(log, entry):
        log.write(json.dumps(entry) + "\n")
        log.flush()

    with open(logp, "a", encoding="utf-8") as log:
        while step < steps:
            if minutes is not None and time.perf_counter() - t_call > 60 * minutes:
                stopped = "minutes"
                break
            t0 = time.perf_counter()
            x, y = _batch(data, rng, batch, crop, rows, cols)
            f = net(x)
            q, index, cent = soft_slic(f, rows, cols, iterations)
            rec = label_reconstruction_loss(q, index, y, rows * cols)
            comp = compactness_loss(q, index, cent, x[:, 3:].reshape(batch, 2, -1))
            loss = rec + compactness * comp
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            elapsed += time.perf_counter() - t0
            last = {"step": step, "loss": round(loss.item(), 5), "recon": round(rec.item(), 5),
                    "compact": round(comp.item(), 4), "elapsed_s": round(elapsed, 1)}  # fmt: skip
            if step % 10 == 0 or step == steps:
                write_log(log, last)
                last = None
            if bar is not None:
                bar.update(1)
                if step % 10 == 0:
                    bar.set_postfix(loss=f"{loss.item():.4f}")
            if step % checkpoint_every == 0:
                save_state()
        if last is not None:  # stopped between two logged steps: log where it stopped
            write_log(log, last)
    if bar is not None:
        bar.close()
    save_state()
    return dict(settings, steps=step, train_seconds=elapsed, stopped=stopped, model=str(out))


def _main(argv=None) -> int:
    import argparse

    ap = argparse.ArgumentParser(prog="python -m lnsnet.eval.ssn",
                                 description="Train the SSN baseline on BSDS500 (resumable).")
    ap.add_argument("out", help="model file to write (state in OUT.ckpt, losses in OUT.jsonl)")
    ap.add_argument("--root", default=None, help="BSDS500 root (default: $LNSNET_BSDS500)")
    ap.add_argument("--splits", default="train", help="comma-separated splits to train on (default: train)")
    ap.add_argument("--limit", type=int, default=None, help="first N images of each split")
    ap.add_argument("--steps", type=int, default=500_000)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default=None)
    ap.add_argument("--minutes", type=float, default=None, help="stop (and save) after this much time")
    ap.add_argument("--checkpoint-every", type=int, default=100)
    args = ap.parse_args(argv)
    data = load_training_set(args.root, tuple(args.splits.split(",")), args.limit, progress=True)
    info = train_ssn(args.out, data, steps=args.steps, batch=args.batch, lr=args.lr, seed=args.seed,
                     device=args.device, minutes=args.minutes, checkpoint_every=args.checkpoint_every,
                     notes={"splits": args.splits, "limit": args.limit})  # fmt: skip
    print(json.dumps(info))
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
