"""Probe (2026-12-04): the shipped FEM run at half resolution (2x2 average pooling in, bilinear upsampling out) against full resolution in the default clustering, BSDS500 val first 50, K=100/400/1000; usage: python scripts/probe_fem_halfres.py half|full [SPEC]. Appends to /tmp/s3/results.txt."""
import sys, numpy as np, torch, torch.nn.functional as F, lnsnet
from lnsnet.hub import load_model
from lnsnet.eval.datasets import BSDS500
from lnsnet.eval.metrics import score
torch.set_num_threads(1)
net = load_model("bsds500")
mode = sys.argv[1]; spec = sys.argv[2] if len(sys.argv) > 2 else "compact"
emb = net.embedder
orig = emb.forward
def half(x):
    H, W = x.shape[-2:]
    z = orig(F.avg_pool2d(x, 2, ceil_mode=True))
    return F.interpolate(z, size=(H, W), mode="bilinear", align_corners=False)
if mode == "half": emb.forward = half
ds = BSDS500(split="val"); res = {}
for i in range(50):
    s = ds[i]
    for k in (100, 400, 1000):
        sc = score(lnsnet.segment(s.image, k, model=net, clustering=spec), s.ground_truths, s.image)
        res.setdefault(k, []).append([sc["n_segments"], sc["asa_best"], sc["br_best"], sc["ue_best"], sc["co"]])
line = f"{mode} {spec} | " + " | ".join(f"K={k} k={np.mean(v,0)[0]:.0f} ASA={np.mean(v,0)[1]:.4f} BR={np.mean(v,0)[2]:.4f} CO={np.mean(v,0)[4]:.3f}" for k, v in res.items())
print(line); open("probe_results.txt", "a").write(line + "\n")
