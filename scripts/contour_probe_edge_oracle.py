"""What would a better boundary map in the edge-aware spatial term add? (human boundaries = oracle)"""
import argparse, numpy as np, torch, lnsnet
from scipy.ndimage import gaussian_filter
import lnsnet.cluster.local as L
from lnsnet.eval.datasets import BSDS500
from lnsnet.eval.metrics import score

ap = argparse.ArgumentParser()
ap.add_argument("--mode", default="none")  # none | gt | gtmul
ap.add_argument("--s", type=float, default=3.0)
ap.add_argument("--spec", default="compact:compactness=20")
ap.add_argument("--images", type=int, default=50)
ap.add_argument("--blur", type=float, default=0.0)
ap.add_argument("--scales", default="")
a = ap.parse_args()
torch.set_num_threads(1)
orig = L.edge_weights
state = {}
def ew(image, edge_scale):
    w = orig(image, edge_scale)
    B = state["B"]
    if a.mode == "gt":
        return np.exp(-a.s * B).astype(np.float32)
    if a.mode == "gtmul":
        return (w * np.exp(-a.s * B)).astype(np.float32)
    return w
L.edge_weights = ew
ds = BSDS500(split="val"); res = {}
for i in range(a.images):
    s = ds[i]
    B = np.zeros(s.image.shape[:2], np.float32)
    for g in s.ground_truths:
        b = np.zeros_like(B, dtype=bool)
        d = g[:, 1:] != g[:, :-1]; b[:, 1:] |= d; b[:, :-1] |= d
        d = g[1:] != g[:-1]; b[1:] |= d; b[:-1] |= d
        B += b
    B /= len(s.ground_truths)
    if a.scales:  # unsupervised: how many of the graph segmentations at these scales put a boundary here
        from skimage.segmentation import felzenszwalb
        B = np.zeros(s.image.shape[:2], np.float32)
        sc = [float(v) for v in a.scales.split(",")]
        n = s.image.shape[0] * s.image.shape[1]
        for q in sc:
            g = felzenszwalb(s.image, scale=q * np.sqrt(n) / 400, sigma=0.8, min_size=int(q / 4) + 5)
            b = np.zeros_like(B, dtype=bool)
            d = g[:, 1:] != g[:, :-1]; b[:, 1:] |= d; b[:, :-1] |= d
            d = g[1:] != g[:-1]; b[1:] |= d; b[:-1] |= d
            B += b
        B /= len(sc)
    if a.blur > 0:
        B = gaussian_filter(B, a.blur); B /= max(B.max(), 1e-6)
    state["B"] = B
    for k in (100, 400, 1000):
        sc = score(lnsnet.segment(s.image, k, model="none", clustering=a.spec), s.ground_truths, s.image)
        res.setdefault(k, []).append([sc["n_segments"], sc["asa_best"], sc["br_best"], sc["ue_best"], sc["co"]])
for k, v in res.items():
    m = np.mean(v, 0)
    print(f"{a.mode} s={a.s} blur={a.blur} {a.spec} K={k} k={m[0]:.1f} ASA={m[1]:.4f} BR={m[2]:.4f} UE={m[3]:.4f} CO={m[4]:.3f}", flush=True)
