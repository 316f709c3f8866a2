"""Unsupervised boundary strength from the image's own colour co-occurrence (PMI, Isola et al. 2014)
in the edge-aware spatial term, against the colour steps (the input)."""
import argparse, numpy as np, torch, lnsnet
import lnsnet.cluster.local as L
from scipy.cluster.vq import kmeans2
from skimage.color import rgb2lab
from lnsnet.eval.datasets import BSDS500
from lnsnet.eval.metrics import score

ap = argparse.ArgumentParser()
ap.add_argument("--mode", default="pmi")  # none | pmi | mul
ap.add_argument("--ncol", type=int, default=64)
ap.add_argument("--rho", type=float, default=1.25)
ap.add_argument("--dist", type=int, default=3)
ap.add_argument("--spec", default="compact:compactness=20")
ap.add_argument("--images", type=int, default=50)
ap.add_argument("--s", type=float, default=1.0)
a = ap.parse_args()
torch.set_num_threads(1)
orig_strength = L.kernels.edge_strength
state = {}

def pmi_map(rgb):
    lab = rgb2lab(rgb).reshape(-1, 3).astype(np.float32)
    rng = np.random.default_rng(0)
    sub = lab[rng.choice(len(lab), min(len(lab), 8000), replace=False)]
    cent, _ = kmeans2(sub, a.ncol, minit="++", seed=1)
    d = ((lab[:, None, :] - cent[None]) ** 2).sum(-1)
    c = d.argmin(1).reshape(rgb.shape[:2])
    n = a.ncol
    C = np.zeros((n, n))
    for dy in range(0, a.dist + 1):
        for dx in range(-a.dist, a.dist + 1):
            if (dy == 0 and dx <= 0) or dy * dy + dx * dx > a.dist * a.dist:
                continue
            A = c[dy:, max(dx, 0): c.shape[1] + min(dx, 0)]
            B = c[: c.shape[0] - dy, max(-dx, 0): c.shape[1] - max(dx, 0)]
            np.add.at(C, (A.ravel(), B.ravel()), 1)
    C = C + C.T + 1.0
    P = C / C.sum(); p = P.sum(1)
    pmi = a.rho * np.log(P) - np.log(p[:, None]) - np.log(p[None])
    # boundary strength between neighbours: how much less they co-occur than a colour with itself
    return c, pmi

def strength(image):
    g0 = orig_strength(image)
    if a.mode == "none":
        return g0
    c, pmi = state["c"], state["pmi"]
    ref = np.diag(pmi)
    # b(a,b) = relu(min(pmi_aa, pmi_bb) - pmi_ab): 0 for a colour pair as common as the colours themselves
    bm = np.maximum(np.minimum(ref[:, None], ref[None]) - pmi, 0).astype(np.float32)
    g = np.zeros(c.shape, np.float32)
    e = bm[c[:, 1:], c[:, :-1]]; g[:, 1:] = np.maximum(g[:, 1:], e); g[:, :-1] = np.maximum(g[:, :-1], e)
    e = bm[c[1:], c[:-1]]; g[1:] = np.maximum(g[1:], e); g[:-1] = np.maximum(g[:-1], e)
    if a.mode == "pmi":
        return g
    # mul: colour step scaled by the pair's rarity
    return (g0 * (1 + a.s * g / max(g.mean(), 1e-6))).astype(np.float32)

L.kernels.edge_strength = strength
ds = BSDS500(split="val"); res = {}
for i in range(a.images):
    s = ds[i]
    state["c"], state["pmi"] = pmi_map(s.image)
    for k in (100, 400, 1000):
        sc = score(lnsnet.segment(s.image, k, model="none", clustering=a.spec), s.ground_truths, s.image)
        res.setdefault(k, []).append([sc["n_segments"], sc["asa_best"], sc["br_best"], sc["ue_best"], sc["co"]])
for k, v in res.items():
    m = np.mean(v, 0)
    print(f"{a.mode} ncol={a.ncol} rho={a.rho} dist={a.dist} s={a.s} {a.spec} K={k} k={m[0]:.1f} ASA={m[1]:.4f} BR={m[2]:.4f} UE={m[3]:.4f} CO={m[4]:.3f}", flush=True)
