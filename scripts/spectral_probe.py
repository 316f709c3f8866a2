"""Probe (issue 18): region features from a contour map. The oracle (docs/learning.md) says
sharp region features pay far more than any boundary map; the leading generalised
eigenvectors of an intervening-contour graph are the classic unsupervised region features
(normalised cuts). Here: at 1/`--down` resolution, each pixel joined to those within
radius 2 by w = exp(-max(B_p, B_mid, B_q) / kappa), (D - W) v = lambda D v, the `--n`
leading nontrivial v, each standardised, upsampled, times `--w` and appended to the
clustering's features (`fast`: the input's colour). The map B: the head's (learned,
`--map head`) or the clustering colour's gradient magnitude over its 99th percentile
(hand-made, `--map grad`, for model="none"). Scored as contour_grid_val.py, one line to --log."""
import argparse, json, sys, time
import numpy as np, torch
import scipy.sparse as sp
from scipy.sparse.linalg import eigsh
import torch.nn.functional as F
sys.path.insert(0, "scripts")
import lnsnet
import lnsnet.inference as inf
from lnsnet.eval.metrics import score
from contour_grid_val import dataset, KS

A = None
STATE = {}
_orig_cf = inf._contour_factors


def grad_map(colour):
    c = colour[0]
    gy = F.pad(c[:, 1:] - c[:, :-1], (0, 0, 0, 1))
    gx = F.pad(c[:, :, 1:] - c[:, :, :-1], (0, 1, 0, 0))
    g = (gy ** 2 + gx ** 2).sum(0).sqrt()
    return (g / max(float(torch.quantile(g.flatten()[::7], 0.99)), 1e-6)).clamp(0, 1)


def eigen_features(b, down, n, kappa):
    """(n, H, W) standardised eigenvectors of the contour graph of b (H, W)."""
    H, W = b.shape
    bt = b[None, None]
    bs = F.max_pool2d(bt, down, ceil_mode=True)[0, 0].numpy().astype(np.float64) if down > 1 else b.numpy().astype(np.float64)
    h, w = bs.shape
    idx = np.arange(h * w).reshape(h, w)
    rows, cols, vals = [], [], []
    for dy in range(0, 3):
        for dx in range(-2, 3):
            if (dy, dx) <= (0, 0) or dy * dy + dx * dx > 4:
                continue
            y0, y1 = 0, h - dy
            x0, x1 = max(0, -dx), min(w, w - dx)
            p = idx[y0:y1, x0:x1]
            q = idx[y0 + dy:y1 + dy, x0 + dx:x1 + dx]
            bp = bs[y0:y1, x0:x1]
            bq = bs[y0 + dy:y1 + dy, x0 + dx:x1 + dx]
            my, mx = dy // 2, (dx // 2 if dx >= 0 else -((-dx) // 2))
            bm = bs[y0 + my:y1 + my, x0 + mx:x1 + mx] if (abs(dy) == 2 or abs(dx) == 2) else bp
            m = np.maximum(np.maximum(bp, bq), bm)
            wv = np.exp(-m / kappa).ravel()
            rows += [p.ravel(), q.ravel()]
            cols += [q.ravel(), p.ravel()]
            vals += [wv, wv]
    Wm = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(h * w, h * w))
    d = np.asarray(Wm.sum(1)).ravel() + 1e-9
    Dm = sp.diags(d)
    L = (Dm - Wm).tocsc()
    vals_, vecs = eigsh(L, k=n + 1, M=Dm.tocsc(), sigma=-1e-3, which="LM")
    order = np.argsort(vals_)
    v = vecs[:, order[1:]].T.reshape(n, h, w)
    v = (v - v.mean((1, 2), keepdims=True)) / (v.std((1, 2), keepdims=True) + 1e-12)
    vt = torch.from_numpy(v.astype(np.float32))[None]
    if down > 1:
        vt = F.interpolate(vt, size=(H, W), mode="bilinear", align_corners=False)
    return vt[0]


def _cf(net, colour, options, mask, dev):
    key = STATE["key"]
    if A.w > 0 and STATE.get("cached") != key:
        if A.map == "head" and getattr(net, "contour_head", None) is not None:
            b = net.contours(colour)[0, 0].float()
        else:
            b = grad_map(colour.float())
        t0 = time.perf_counter()
        STATE["eig"] = eigen_features(b, A.down, A.n, A.kappa) * A.w
        STATE["t"].append(time.perf_counter() - t0)
        STATE["cached"] = key
    return _orig_cf(net, colour, options, mask, dev)


class Wrapped(torch.nn.Module):
    def __init__(self, net):
        super().__init__()
        self.net = net
        self.contour_head = getattr(net, "contour_head", None)

    def contours(self, colour):
        return self.net.contours(colour)

    def embed(self, x):
        z = self.net.embed(x)
        return torch.cat([z, STATE["eig"][None].to(z)], 1) if A.w > 0 else z

    def __getattr__(self, name):
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(self.net, name)


def main():
    global A
    ap = argparse.ArgumentParser()
    ap.add_argument("--set", default="bsds")
    ap.add_argument("--data", default="../shared/data")
    ap.add_argument("--model", default="bsds500")
    ap.add_argument("--spec", default="fast")
    ap.add_argument("--map", default="head", choices=("head", "grad"))
    ap.add_argument("--w", type=float, default=1.0)
    ap.add_argument("--n", type=int, default=8)
    ap.add_argument("--down", type=int, default=2)
    ap.add_argument("--kappa", type=float, default=0.1)
    ap.add_argument("--images", type=int, default=0)
    ap.add_argument("--log", required=True)
    A = ap.parse_args()
    torch.set_num_threads(1)
    inf._contour_factors = _cf
    real_input_features = inf.input_features
    inf.input_features = lambda net: Wrapped(real_input_features(net))
    inf.is_input_only = lambda net: False  # no folding of the input's copies: the features grow
    ds, n = dataset(A.set, A.data)
    n = A.images or n
    net = lnsnet.load_model(A.model) if A.model != "none" else "none"
    STATE["t"] = []
    res = {k: [] for k in KS}
    for i in range(n):
        s = ds[i]
        STATE["key"] = i
        for K in KS:
            lab = lnsnet.segment(s.image, K, model=net, clustering=A.spec)
            sc = score(lab, s.ground_truths, s.image, ignore=getattr(ds, "ignore_label", None))
            res[K].append([sc["br_best"], sc["asa_best"], sc["co"], sc["n_segments"]])
    rec = {"set": A.set, "model": A.model, "spec": A.spec, "map": A.map, "w": A.w, "n": A.n, "down": A.down,
           "kappa": A.kappa, "images": n, "eig_s": float(np.median(STATE["t"])) if STATE["t"] else 0.0,
           **{f"{m}{k}": float(np.mean(np.array(res[k])[:, j])) for k in KS for j, m in enumerate(("br", "asa", "co", "k"))}}
    with open(A.log, "a") as fh:
        fh.write(json.dumps(rec) + "\n")
    print(json.dumps(rec), flush=True)


if __name__ == "__main__":
    main()
