"""Probe (issue 18): can another unsupervised objective make the 11K-parameter embedder
beat its own input? Trains the FeatureEmbedder on BSDS500 train images (no labels) with

- ``region``: a discriminative loss on pseudo-regions of a classic graph segmentation
  (Felzenszwalb, scale set from the image size): features pulled to their region's mean,
  the means of adjacent regions pushed apart. The network must guess from 9 pixels of
  context which colour edges bound regions and which lie inside textures.
- ``invariance``: features of a photometrically jittered, noisy view equal to those of
  the clean view (stop-gradient), with the paper's reconstruction keeping them from
  collapsing.

and writes a model file that ``lnsnet benchmark -m FILE`` takes. Temporary: its finding
goes into docs/learning.md, then it is deleted (with objective_probe_score.py).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from skimage.segmentation import felzenszwalb

from lnsnet import checkpoint
from lnsnet.eval.datasets import BSDS500
from lnsnet.features import encode
from lnsnet.model.lnsnet import LNSNet, ModelConfig


class ContextEmbedder(torch.nn.Module):
    """The 11K FeatureEmbedder plus a context branch at 1/4 resolution (receptive field
    about 60 pixels), fused by a 1x1 convolution: does a wider view let the features know
    which region a pixel belongs to?"""

    def __init__(self, fem, width: int = 16):
        super().__init__()
        self.fem = fem
        nn = torch.nn
        self.ctx = nn.ModuleList([nn.Conv2d(5, width, 3, padding=1), nn.Conv2d(width, width, 3, padding=2, dilation=2),
                                  nn.Conv2d(width, width, 3, padding=4, dilation=4), nn.Conv2d(width, width, 3, padding=8, dilation=8)])
        self.fuse = nn.Conv2d(fem.out_channels + width, fem.out_channels, 1)
        self.norm = nn.InstanceNorm2d(fem.out_channels, affine=True)
        self.out_channels = fem.out_channels

    def forward(self, x):
        z = self.fem(x)
        c = F.avg_pool2d(x, 4, ceil_mode=True)
        for conv in self.ctx:
            c = F.relu(conv(c))
        c = F.interpolate(c, size=x.shape[2:], mode="bilinear", align_corners=False)
        return F.relu(self.norm(self.fuse(torch.cat([z, c], 1))))


def pseudo_regions(rgb: np.ndarray, scale_factor: float) -> np.ndarray:
    n = rgb.shape[0] * rgb.shape[1]
    return felzenszwalb(rgb, scale=scale_factor * np.sqrt(n), sigma=0.8, min_size=max(20, n // 2000))


def adjacent_pairs(lab: torch.Tensor) -> torch.Tensor:
    a = torch.cat([lab[:, 1:].reshape(-1), lab[1:, :].reshape(-1)])
    b = torch.cat([lab[:, :-1].reshape(-1), lab[:-1, :].reshape(-1)])
    m = a != b
    p = torch.stack([torch.minimum(a[m], b[m]), torch.maximum(a[m], b[m])], 1)
    return torch.unique(p, dim=0)


def region_loss(z: torch.Tensor, lab: torch.Tensor, pairs: torch.Tensor, dv: float, dd: float):
    c = z.shape[1]
    zf = z[0].reshape(c, -1).t()
    idx = lab.reshape(-1)
    n = int(idx.max()) + 1
    cnt = torch.zeros(n).index_add_(0, idx, torch.ones_like(idx, dtype=torch.float32))
    mu = torch.zeros(n, c).index_add_(0, idx, zf) / cnt.clamp_min(1)[:, None]
    dist = (zf - mu[idx]).norm(dim=1)
    var = torch.zeros(n).index_add_(0, idx, F.relu(dist - dv) ** 2) / cnt.clamp_min(1)
    l_var = var[cnt > 0].mean()
    dm = (mu[pairs[:, 0]] - mu[pairs[:, 1]]).norm(dim=1)
    l_dist = (F.relu(2 * dd - dm) ** 2).mean() if len(pairs) else z.sum() * 0
    return l_var + l_dist, float(l_var.detach()), float(l_dist.detach())


def jitter(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    g = rng.uniform(0.7, 1.3)
    gain = rng.uniform(0.85, 1.15, 3)
    out = np.clip(rgb, 0, 1) ** g * gain + rng.uniform(-0.08, 0.08)
    out = out + rng.normal(0, rng.uniform(0.0, 0.05), out.shape)
    return np.clip(out, 0, 1).astype(np.float32)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("objective", choices=["region", "invariance"])
    ap.add_argument("-o", "--output", required=True)
    ap.add_argument("--steps", type=int, default=800)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--images", type=int, default=200)
    ap.add_argument("--scale", type=float, default=1.0, help="Felzenszwalb scale / sqrt(pixels)")
    ap.add_argument("--dv", type=float, default=0.5)
    ap.add_argument("--dd", type=float, default=2.0)
    ap.add_argument("--init", default="", help="start from this model file (default: fresh)")
    ap.add_argument("--recon", type=float, default=1.0, help="invariance: weight of the reconstruction")
    ap.add_argument("--gt", action="store_true", help="region: BSDS500's human segments (upper bound)")
    ap.add_argument("--context", action="store_true", help="add a context branch at 1/4 resolution")
    ap.add_argument("--width", type=int, default=16, help="channels of the context branch")
    ap.add_argument("--c2", type=int, default=20)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    ds = BSDS500(split="train")
    imgs = []
    for i in range(min(args.images, len(ds))):
        rgb = ds[i].image.astype(np.float32) / 255.0
        if args.gt:  # the supervised upper bound of the same loss: a human's segments
            lab = [np.unique(g, return_inverse=True)[1].reshape(g.shape) for g in ds[i].ground_truths]
        else:
            lab = pseudo_regions(ds[i].image, args.scale) if args.objective == "region" else None
        imgs.append((rgb, lab))
    print(f"{len(imgs)} images; mean regions "
          f"{np.mean([np.max(l) + 1 for _, l in imgs]) if args.objective == 'region' else 0:.1f}", flush=True)
    if args.init:
        from lnsnet.hub import load_model
        model = load_model(args.init)
    else:
        model = LNSNet(ModelConfig(c_2=args.c2), generator=torch.Generator().manual_seed(0))
    if args.context:
        model.embedder = ContextEmbedder(model.embedder, args.width)
    params = list(model.embedder.parameters()) + list(model.reconstruction.parameters())
    opt = torch.optim.Adam(params, lr=args.lr)
    model.train()
    t0 = time.time()
    run = []
    for step in range(args.steps):
        rgb, lab = imgs[rng.integers(len(imgs))]
        if isinstance(lab, list):
            lab = lab[rng.integers(len(lab))]
        if rng.random() < 0.5:
            rgb = rgb[:, ::-1]
            lab = lab[:, ::-1] if lab is not None else None
        rgb = np.ascontiguousarray(rgb)
        x = encode(rgb)
        if args.objective == "region":
            lab_t = torch.from_numpy(np.ascontiguousarray(lab).astype(np.int64))
            z = model.embed(x)
            loss, a, b = region_loss(z, lab_t, adjacent_pairs(lab_t), args.dv, args.dd)
        else:
            z = model.embed(x)
            za = model.embed(encode(jitter(rgb, rng)))
            inv = F.mse_loss(za, z.detach())
            rec = F.mse_loss(model.reconstruct(z), x)
            loss = inv + args.recon * rec
            a, b = float(inv), float(rec)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        run.append((a, b))
        if (step + 1) % 50 == 0:
            m = np.mean(run[-50:], 0)
            print(f"step {step + 1} {m[0]:.4f} {m[1]:.4f} {time.time() - t0:.0f}s", flush=True)
    model.eval()
    if args.context:  # not an LNSNet architecture: the whole module, for the probe's own scoring
        torch.save(model.embedder, args.output)
    else:
        checkpoint.save(args.output, model)
    print("saved", args.output)


if __name__ == "__main__":
    main()
