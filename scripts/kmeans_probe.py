"""Probe SLIC-style iterations in LNS-Net's feature space on BSDS500 *val* (compactness
target of the "reproduce and beat" issue; not part of the package).

    LNSNET_BSDS500=... python scripts/kmeans_probe.py 20 100,1000 0:0 1:3 3:3

Each spec ``c:iters``: grid seeds, feature distance + ``c`` x squared spatial distance in
grid steps, then ``iters`` rounds of moving every seed to the mean feature and mean
position of its pixels (local 3x3 candidates) before the final assignment. Also prints
the classic baselines named in --baselines on the same images.
"""
import os, sys, time, argparse, numpy as np, torch
import lnsnet
from lnsnet.segment import _resolve
from lnsnet.features import encode
from lnsnet.grid import make_grid
from lnsnet.model.cluster import local_distances
from lnsnet.connectivity import enforce_connectivity
from lnsnet.eval.datasets import BSDS500
from lnsnet.eval.metrics import score
from lnsnet.eval.baselines import get_method

ap = argparse.ArgumentParser()
ap.add_argument("n", type=int); ap.add_argument("ks"); ap.add_argument("specs", nargs="*")
ap.add_argument("--baselines", default=""); ap.add_argument("--split", default="val")
ap.add_argument("--offset", type=int, default=0)
a = ap.parse_args()
torch.set_num_threads(1)
ds = BSDS500(split=a.split)
samples = [ds[i] for i in range(a.offset, a.offset + a.n)]
net = _resolve(os.environ.get("LNSNET_MODEL"), torch.device("cpu"))


from probe_icm import icm  # noqa: E402 (scripts/ is on sys.path when run as a script)


def edge_map(t):
    """max squared difference to the 4-neighbours of ``t`` (C,H,W), / its mean."""
    g = torch.zeros(t.shape[1:], dtype=t.dtype)
    dy = ((t[:, 1:] - t[:, :-1]) ** 2).sum(0); dx = ((t[:, :, 1:] - t[:, :, :-1]) ** 2).sum(0)
    g[1:] = torch.maximum(g[1:], dy); g[:-1] = torch.maximum(g[:-1], dy)
    g[:, 1:] = torch.maximum(g[:, 1:], dx); g[:, :-1] = torch.maximum(g[:, :-1], dx)
    return g / g.mean().clamp(min=1e-12)


NORM = os.environ.get("PROBE_NORM", "l2")


def spatial_term(grid, pos, window, h, w, norm):
    """squared distance to every candidate seed (window^2, H, W) in the given norm, grid-step units."""
    out = []
    ys = torch.arange(h, dtype=pos.dtype)[:, None]; xs = torch.arange(w, dtype=pos.dtype)[None, :]
    for m in range(window * window):
        ids = _cand_ids(grid, torch.full((h, w), m), window)
        p = pos[ids.reshape(-1)].reshape(h, w, 2)
        dy = (p[..., 0] - ys).abs(); dx = (p[..., 1] - xs).abs()
        if norm == "l2": v = dy * dy + dx * dx
        elif norm == "linf": v = torch.maximum(dy, dx) ** 2 * 2
        else: v = (dy + dx) ** 2 / 1.0
        out.append(v / (grid.cell_size[0] * grid.cell_size[1]))
    return torch.stack(out)


def seg(rgb, k, c, iters, window=3, emode="const", tau=1.0, lam=0.0, sweeps=0, conn8=False, norm=None):
    norm = norm or NORM
    h, w = rgb.shape[:2]; grid = make_grid(h, w, k)
    x = encode(lnsnet.io.to_float_rgb(rgb))
    with torch.inference_mode():
        z = net.embed(x)[0]
        pos = grid.centres("cpu", z.dtype)
        feats = net.seed_features(z[None], pos[None])[0]
        C = z.shape[0]; zf = z.reshape(C, -1)
        yy, xx = torch.meshgrid(torch.arange(h, dtype=z.dtype), torch.arange(w, dtype=z.dtype), indexing="ij")
        pf = torch.stack([yy.reshape(-1), xx.reshape(-1)])
        if emode == "const":
            wmap = None
        else:
            g = edge_map(z if emode == "feat" else x[0, :3])
            wmap = c * torch.exp(-g / tau)
        if emode == "const" and NORM != "l2":
            wmap = torch.full((h, w), c, dtype=z.dtype)
        for it in range(iters + 1):
            if wmap is None:
                d = local_distances(z, feats, grid, window, pos, c)
            else:
                d = local_distances(z, feats, grid, window) + wmap * spatial_term(grid, pos, window, h, w, norm)
            m = d.argmin(0)
            lab = _cand_ids(grid, m, window)
            if it == iters:
                break
            K = grid.n_seeds; l = lab.reshape(-1)
            cnt = torch.zeros(K, dtype=z.dtype).index_add_(0, l, torch.ones_like(l, dtype=z.dtype))
            fs = torch.zeros(K, C, dtype=z.dtype).index_add_(0, l, zf.t())
            ps = torch.zeros(K, 2, dtype=z.dtype).index_add_(0, l, pf.t())
            ok = cnt > 0
            feats = torch.where(ok[:, None], fs / cnt.clamp(min=1)[:, None], feats)
            pos = torch.where(ok[:, None], ps / cnt.clamp(min=1)[:, None], pos)
    lab = lab.numpy().astype(np.int64)
    if lam > 0:
        dd = d.numpy().astype(np.float64)
        ms = np.arange(window * window); half = window // 2
        pr, pc = grid.pixel_cells(); pr = pr.numpy(); pc = pc.numpy()
        r = pr[None, :, None] + (ms // window - half)[:, None, None]; cc = pc[None, None, :] + (ms % window - half)[:, None, None]
        valid = (r >= 0) & (r < grid.rows) & (cc >= 0) & (cc < grid.cols)
        cand = np.where(valid, r * grid.cols + cc, -1).astype(np.int64)
        dd = np.where(np.isfinite(dd), dd, 1e9)
        dd = dd / max(np.median(dd.min(0)), 1e-9)
        lab_img = x[0, :3].numpy().astype(np.float64)
        dif = (np.diff(lab_img, axis=1) ** 2).sum(0).mean() * 0.5 + (np.diff(lab_img, axis=2) ** 2).sum(0).mean() * 0.5
        lab = icm(dd, cand, lab.copy(), lab_img, lam, 1.0 / (2 * dif), sweeps, conn8)
    lab = lab.astype(np.int32)
    return enforce_connectivity(lab, x[0, :3].permute(1, 2, 0).numpy(), n_segments=grid.n_seeds,
                                min_size_factor=0.25, max_segments=int(round(grid.n_seeds * 1.1)))


def _cand_ids(grid, m, window):
    half = window // 2
    pr, pc = grid.pixel_cells()
    r = (pr[:, None] + (m // window - half)).clamp(0, grid.rows - 1)
    cc = (pc[None, :] + (m % window - half)).clamp(0, grid.cols - 1)
    return r * grid.cols + cc


def report(name, k, fn):
    acc = []; t0 = time.time()
    for s in samples:
        lab = fn(s.image); sc = score(lab, s.ground_truths)
        acc.append((lab.max() + 1, sc["asa_best"], sc["br_best"], sc["ue_best"], sc["co"]))
    v = np.mean(acc, 0)
    print(f"{name:14s} K={k:5d}: k {v[0]:7.1f} ASA {v[1]:.4f} BR {v[2]:.4f} UE {v[3]:.4f} CO {v[4]:.4f}  {(time.time()-t0)/len(samples):.2f}s", flush=True)


for k in [int(v) for v in a.ks.split(",")]:
    for b in [b for b in a.baselines.split(",") if b]:
        f = get_method(b)
        report(b, k, lambda im: f(im, k))
    for spec in a.specs:
        c, it, *rest = spec.split(":")
        em = rest[0] if rest else "const"; tau = float(rest[1]) if len(rest) > 1 else 1.0
        lam = float(rest[2]) if len(rest) > 2 else 0.0; sw = int(rest[3]) if len(rest) > 3 else 3
        win = int(rest[4]) if len(rest) > 4 else 3
        report(spec, k, lambda im: seg(im, k, float(c), int(it), window=win, emode=em, tau=tau, lam=lam, sweeps=sw))
