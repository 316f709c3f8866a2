"""Probe (docs/compactness.md): the 3-D edge reference in the 2-D default, on 50 BSDS500 val images.
    python scripts/edge_reference_2d_probe.py mean     # the default
    python scripts/edge_reference_2d_probe.py robust   # the volumes edge reference
"""
import sys, numpy as np, torch, lnsnet
import lnsnet.cluster.local as L
from lnsnet.eval.datasets import BSDS500
from lnsnet.eval.metrics import score
mode = sys.argv[1]; spec = sys.argv[2] if len(sys.argv) > 2 else "compact"
torch.set_num_threads(1)
orig = L.kernels.edge_strength
if mode == "robust":
    def ew(image, edge_scale):
        g = orig(image)
        flat = g.reshape(-1); nz = flat[flat > 0]
        ref = float(flat[flat <= 20 * np.median(nz)].mean()) if nz.size else 0.0
        if ref <= 1e-12: return np.ones_like(g)
        return np.exp(-g / (ref * edge_scale)).astype(np.float32)
    L.edge_weights = ew
ds = BSDS500(split="val"); res = {}
for i in range(50):
    s = ds[i]
    for k in (100, 400, 1000):
        sc = score(lnsnet.segment(s.image, k, clustering=spec), s.ground_truths, s.image)
        res.setdefault(k, []).append([sc["n_segments"], sc["asa_best"], sc["br_best"], sc["co"]])
for k, v in res.items():
    m = np.mean(v, 0); print(f"{mode} {spec} K={k} k={m[0]:.1f} ASA={m[1]:.4f} BR={m[2]:.4f} CO={m[3]:.3f}", flush=True)
